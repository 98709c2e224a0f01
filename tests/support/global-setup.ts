// Starts one DynamoDB Local for the whole run and hands its endpoint to the
// test files (inject('dynamoEndpoint')). Each file creates its own tables.
import type { TestProject } from 'vitest/node';
import { assertLocalEndpoint, type DynamoDbLocal, startDynamoDbLocal } from '../../scripts/dynamodb-local.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

let dynamo: DynamoDbLocal | undefined;

export async function setup(project: TestProject): Promise<void> {
  const external = process.env.TEST_DYNAMODB_ENDPOINT;
  if (external) {
    assertLocalEndpoint(external);
    project.provide('dynamoEndpoint', external);
    return;
  }
  dynamo = await startDynamoDbLocal();
  assertLocalEndpoint(dynamo.endpoint);
  project.provide('dynamoEndpoint', dynamo.endpoint);
}

export async function teardown(): Promise<void> {
  await dynamo?.stop();
}
