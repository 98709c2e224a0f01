// The control plane's DynamoDB access: meetings, participants and the
// media-host registry. Conditional-check failures come back as typed results
// ({ok:false, reason:'conflict'}) so callers decide what a lost race means.
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type HostItem, keys, type MeetingItem, type ParticipantItem, type TableNames } from '../../shared/tables.js';

export type WriteResult = { ok: true } | { ok: false; reason: 'conflict' };

export interface NewMeeting {
  meetingId: string;
  title: string;
  hostUserId: string;
  createdAt: string;
}

export interface ParticipantJoin {
  meetingId: string;
  userId: string;
  nickname: string;
  joinedAt: string;
}

export interface ReadOptions {
  /** strongly consistent read (placement decisions) */
  consistent?: boolean;
}

export interface ControlStore {
  /** conflict: the meeting id is taken */
  createMeeting(meeting: NewMeeting): Promise<WriteResult>;
  getMeeting(meetingId: string, options?: ReadOptions): Promise<MeetingItem | undefined>;
  /**
   * Marks the meeting ENDED and returns it as written (its current media host
   * included, atomically). conflict: the meeting does not exist or is not ACTIVE.
   */
  endMeeting(
    meetingId: string,
    endedBy: string,
    endedAt: string,
  ): Promise<{ ok: true; meeting: MeetingItem } | { ok: false; reason: 'conflict' }>;
  /** creates or overwrites the participant and clears left_at; conflict: the meeting does not exist or has ended */
  joinMeeting(join: ParticipantJoin): Promise<WriteResult>;
  getParticipant(meetingId: string, userId: string, options?: ReadOptions): Promise<ParticipantItem | undefined>;
  /** conflict: no such participant, or left_at already set */
  markParticipantLeft(meetingId: string, userId: string, leftAt: string): Promise<WriteResult>;

  listHosts(): Promise<HostItem[]>;
  getHost(hostId: string, options?: ReadOptions): Promise<HostItem | undefined>;
  /** writes a whole host item (tests, benchmarks, tooling; media hosts register themselves) */
  putHost(host: HostItem): Promise<void>;
  /**
   * Reserves one meeting slot on a host, optimistically: only if it is still
   * live and ACTIVE, has room, and `assigned` is still what the caller saw.
   */
  reserveHost(hostId: string, seenAssigned: number, heartbeatCutoffMs: number): Promise<WriteResult>;
  /** gives a reserved slot back; conflict: nothing to give back */
  releaseHostReservation(hostId: string): Promise<WriteResult>;
  /**
   * Points the meeting at a host: the first time (`previousHostId` undefined)
   * only if it has no host, otherwise only if it still points at the previous
   * one. conflict: someone else assigned it, or it ended.
   */
  assignMeeting(
    meetingId: string,
    hostId: string,
    previousHostId: string | undefined,
    assignedAt: string,
  ): Promise<WriteResult>;
}

export interface DynamoControlStoreOptions {
  client: DynamoDBDocumentClient;
  tables: TableNames;
}

function isConditionFailure(error: unknown): boolean {
  if (error instanceof ConditionalCheckFailedException) return true;
  if (error instanceof TransactionCanceledException) {
    return (error.CancellationReasons ?? []).some((reason) => reason.Code === 'ConditionalCheckFailed');
  }
  return false;
}

async function conditional(write: () => Promise<unknown>): Promise<WriteResult> {
  try {
    await write();
    return { ok: true };
  } catch (error) {
    if (isConditionFailure(error)) return { ok: false, reason: 'conflict' };
    throw error;
  }
}

export function createDynamoControlStore({ client, tables }: DynamoControlStoreOptions): ControlStore {
  return {
    createMeeting: (meeting) => {
      const item: MeetingItem = { ...keys.meeting(meeting.meetingId), ...meeting, status: 'ACTIVE' };
      return conditional(() =>
        client.send(
          new PutCommand({ TableName: tables.meetings, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }),
        ),
      );
    },

    getMeeting: async (meetingId, options) => {
      const result = await client.send(
        new GetCommand({
          TableName: tables.meetings,
          Key: keys.meeting(meetingId),
          ConsistentRead: options?.consistent,
        }),
      );
      return result.Item as MeetingItem | undefined;
    },

    endMeeting: async (meetingId, endedBy, endedAt) => {
      try {
        const result = await client.send(
          new UpdateCommand({
            TableName: tables.meetings,
            Key: keys.meeting(meetingId),
            UpdateExpression: 'SET #status = :ended, endedAt = :endedAt, endedBy = :endedBy',
            ConditionExpression: 'attribute_exists(pk) AND #status = :active',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: {
              ':ended': 'ENDED',
              ':active': 'ACTIVE',
              ':endedAt': endedAt,
              ':endedBy': endedBy,
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return { ok: true, meeting: result.Attributes as MeetingItem };
      } catch (error) {
        if (isConditionFailure(error)) return { ok: false, reason: 'conflict' };
        throw error;
      }
    },

    joinMeeting: (join) =>
      // one transaction, so a join cannot slip in after the meeting ended
      conditional(() =>
        client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                ConditionCheck: {
                  TableName: tables.meetings,
                  Key: keys.meeting(join.meetingId),
                  ConditionExpression: 'attribute_exists(pk) AND #status = :active',
                  ExpressionAttributeNames: { '#status': 'status' },
                  ExpressionAttributeValues: { ':active': 'ACTIVE' },
                },
              },
              {
                Update: {
                  TableName: tables.meetings,
                  Key: keys.participant(join.meetingId, join.userId),
                  UpdateExpression:
                    'SET meeting_id = :meetingId, user_id = :userId, nickname = :nickname, joined_at = :joinedAt REMOVE left_at',
                  ExpressionAttributeValues: {
                    ':meetingId': join.meetingId,
                    ':userId': join.userId,
                    ':nickname': join.nickname,
                    ':joinedAt': join.joinedAt,
                  },
                },
              },
            ],
          }),
        ),
      ),

    getParticipant: async (meetingId, userId, options) => {
      const result = await client.send(
        new GetCommand({
          TableName: tables.meetings,
          Key: keys.participant(meetingId, userId),
          ConsistentRead: options?.consistent,
        }),
      );
      return result.Item as ParticipantItem | undefined;
    },

    markParticipantLeft: (meetingId, userId, leftAt) =>
      conditional(() =>
        client.send(
          new UpdateCommand({
            TableName: tables.meetings,
            Key: keys.participant(meetingId, userId),
            UpdateExpression: 'SET left_at = :leftAt',
            ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(left_at)',
            ExpressionAttributeValues: { ':leftAt': leftAt },
          }),
        ),
      ),

    listHosts: async () => {
      const hosts: HostItem[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await client.send(
          new QueryCommand({
            TableName: tables.hosts,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': keys.hostPartition },
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        );
        hosts.push(...((page.Items ?? []) as HostItem[]));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return hosts;
    },

    getHost: async (hostId, options) => {
      const result = await client.send(
        new GetCommand({ TableName: tables.hosts, Key: keys.host(hostId), ConsistentRead: options?.consistent }),
      );
      return result.Item as HostItem | undefined;
    },

    putHost: async (host) => {
      await client.send(new PutCommand({ TableName: tables.hosts, Item: { ...host, ...keys.host(host.hostId) } }));
    },

    reserveHost: (hostId, seenAssigned, heartbeatCutoffMs) =>
      conditional(() =>
        client.send(
          new UpdateCommand({
            TableName: tables.hosts,
            Key: keys.host(hostId),
            // capacity and status are DynamoDB reserved words
            UpdateExpression: 'ADD #assigned :one',
            ConditionExpression:
              '#assigned < #capacity AND #status = :active AND #heartbeatAt >= :cutoff AND #assigned = :seenAssigned',
            ExpressionAttributeNames: {
              '#assigned': 'assigned',
              '#capacity': 'capacity',
              '#status': 'status',
              '#heartbeatAt': 'heartbeatAt',
            },
            ExpressionAttributeValues: {
              ':one': 1,
              ':active': 'ACTIVE',
              ':cutoff': heartbeatCutoffMs,
              ':seenAssigned': seenAssigned,
            },
          }),
        ),
      ),

    releaseHostReservation: (hostId) =>
      conditional(() =>
        client.send(
          new UpdateCommand({
            TableName: tables.hosts,
            Key: keys.host(hostId),
            UpdateExpression: 'ADD #assigned :minusOne',
            ConditionExpression: '#assigned > :zero',
            ExpressionAttributeNames: { '#assigned': 'assigned' },
            ExpressionAttributeValues: { ':minusOne': -1, ':zero': 0 },
          }),
        ),
      ),

    assignMeeting: (meetingId, hostId, previousHostId, assignedAt) =>
      conditional(() =>
        client.send(
          new UpdateCommand({
            TableName: tables.meetings,
            Key: keys.meeting(meetingId),
            UpdateExpression: 'SET mediaHostId = :hostId, assignedAt = :assignedAt',
            ConditionExpression:
              previousHostId === undefined
                ? 'attribute_exists(pk) AND #status = :active AND attribute_not_exists(mediaHostId)'
                : 'attribute_exists(pk) AND #status = :active AND mediaHostId = :previousHostId',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: {
              ':hostId': hostId,
              ':assignedAt': assignedAt,
              ':active': 'ACTIVE',
              ...(previousHostId === undefined ? {} : { ':previousHostId': previousHostId }),
            },
          }),
        ),
      ),
  };
}
