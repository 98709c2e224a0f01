// Participant rows (REQ-002's meeting_participants): the media host only
// sets left_at, once, and only on a participant the control plane created.
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { keys, type ParticipantItem, type TableNames } from '../../shared/tables.js';
import {
  defaultThrottleRetry,
  isConditionalCheckFailed,
  type RetryOptions,
  retryOnThrottling,
} from './dynamo-client.js';

export type MarkLeftResult = 'updated' | 'unchanged';

export class ParticipantStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tables: TableNames;
  readonly #retry: RetryOptions;

  constructor(client: DynamoDBDocumentClient, tables: TableNames, retry: RetryOptions = defaultThrottleRetry) {
    this.#client = client;
    this.#tables = tables;
    this.#retry = retry;
  }

  /**
   * `UPDATE ... SET left_at = ? WHERE ... AND left_at IS NULL AND joined_at <= ?`:
   * a no-op ('unchanged') when the row is missing, left_at is already set, or
   * the user (re)joined after `leftAt` (a late or retried write must not mark
   * a rejoin as left; ISO-8601 UTC strings compare in time order).
   * Throttling is retried with backoff.
   */
  async markLeft(meetingId: string, userId: string, leftAt: string): Promise<MarkLeftResult> {
    try {
      await retryOnThrottling(
        () =>
          this.#client.send(
            new UpdateCommand({
              TableName: this.#tables.meetings,
              Key: keys.participant(meetingId, userId),
              UpdateExpression: 'SET #leftAt = :leftAt',
              ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#leftAt) AND #joinedAt <= :leftAt',
              ExpressionAttributeNames: { '#leftAt': 'left_at', '#joinedAt': 'joined_at' },
              ExpressionAttributeValues: { ':leftAt': leftAt },
            }),
          ),
        this.#retry,
      );
      return 'updated';
    } catch (error) {
      if (isConditionalCheckFailed(error)) return 'unchanged';
      throw error;
    }
  }

  async get(meetingId: string, userId: string): Promise<ParticipantItem | undefined> {
    const result = await this.#client.send(
      new GetCommand({
        TableName: this.#tables.meetings,
        Key: keys.participant(meetingId, userId),
        ConsistentRead: true,
      }),
    );
    return result.Item as ParticipantItem | undefined;
  }
}
