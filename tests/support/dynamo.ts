// Fresh, uniquely named tables on DynamoDB Local for one test file.
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { createDocumentClient } from '../../control/store/dynamo-client.js';
import { ensureTables } from '../../control/store/table-admin.js';
import { assertLocalEndpoint } from '../../scripts/dynamodb-local.js';
import type { TableNames } from '../../shared/tables.js';

export interface TestTables {
  endpoint: string;
  region: string;
  names: TableNames;
}

export async function createTestTables(): Promise<TestTables> {
  const endpoint = inject('dynamoEndpoint');
  assertLocalEndpoint(endpoint);
  const suffix = randomUUID().slice(0, 8);
  const names: TableNames = { meetings: `meetings-${suffix}`, hosts: `hosts-${suffix}` };
  const client = createDocumentClient({ region: 'local', endpoint });
  await ensureTables(client, names);
  client.destroy();
  return { endpoint, region: 'local', names };
}
