// Creates the tables of shared/tables.ts on DynamoDB Local (local stack and
// tests). In AWS the CDK app creates them from the same definitions.
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { type TableDefinition, type TableNames, tableDefinitions } from '../../shared/tables.js';

function createTableInput(name: string, table: TableDefinition): CreateTableCommandInput {
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: table.partitionKey.name, AttributeType: table.partitionKey.type },
      { AttributeName: table.sortKey.name, AttributeType: table.sortKey.type },
    ],
    KeySchema: [
      { AttributeName: table.partitionKey.name, KeyType: 'HASH' },
      { AttributeName: table.sortKey.name, KeyType: 'RANGE' },
    ],
  };
}

/** Creates every table that does not exist yet (idempotent). */
export async function ensureTables(client: DynamoDBClient, names: TableNames): Promise<void> {
  for (const [logical, table] of Object.entries(tableDefinitions) as [keyof TableNames, TableDefinition][]) {
    const name = names[logical];
    try {
      await client.send(new CreateTableCommand(createTableInput(name, table)));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    await client.send(new DescribeTableCommand({ TableName: name }));
    if (table.timeToLiveAttribute) {
      try {
        await client.send(
          new UpdateTimeToLiveCommand({
            TableName: name,
            TimeToLiveSpecification: { AttributeName: table.timeToLiveAttribute, Enabled: true },
          }),
        );
      } catch {
        // already enabled (DynamoDB Local answers ValidationException)
      }
    }
  }
}
