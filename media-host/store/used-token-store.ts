// One-time join tokens: a jti is recorded with a conditional put and kept
// (TTL expiresAt) until the token would have expired anyway.
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { keys, type TableNames, type UsedTokenItem } from '../../shared/tables.js';
import { isConditionalCheckFailed } from './dynamo-client.js';

export class UsedTokenStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tables: TableNames;

  constructor(client: DynamoDBDocumentClient, tables: TableNames) {
    this.#client = client;
    this.#tables = tables;
  }

  /** Records the jti; false when it was used before (a replay). */
  async markUsed(jti: string, expiresAtSeconds: number): Promise<boolean> {
    const item: UsedTokenItem = { ...keys.usedToken(jti), expiresAt: expiresAtSeconds };
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tables.hosts,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }
}
