// The DynamoDB tables, created from the same definitions the store code and
// the DynamoDB Local tests use (shared/tables.ts), so key schemas exist once.
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, type CfnTable, type ITable, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { type TableDefinition, type TableName, tableDefinitions } from '../../../shared/tables.js';

export type TableSet = Record<TableName, ITable>;

export class Tables extends Construct {
  readonly tables: Record<TableName, Table>;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const entries = (Object.keys(tableDefinitions) as TableName[]).map(
      (name) => [name, this.createTable(tableDefinitions[name])] as const,
    );
    this.tables = Object.fromEntries(entries) as Record<TableName, Table>;
  }

  get meetings(): Table {
    return this.tables.meetings;
  }

  get hosts(): Table {
    return this.tables.hosts;
  }

  private createTable(definition: TableDefinition): Table {
    const table = new Table(this, definition.constructId, {
      partitionKey: { name: definition.partitionKey.name, type: AttributeType.STRING },
      sortKey: { name: definition.sortKey.name, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: definition.timeToLiveAttribute,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // The logical id is the definition's constructId whatever the construct
    // tree looks like, so moving this construct never replaces a table.
    (table.node.defaultChild as CfnTable).overrideLogicalId(definition.constructId);
    return table;
  }
}
