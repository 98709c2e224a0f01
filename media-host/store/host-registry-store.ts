// The host registry item (hosts table) and the host's side of meeting
// placement (release, reclaim). Heartbeats only SET the host's own fields:
// `assigned` and `capacity` belong to the placement protocol and are never
// overwritten after registration.
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  type HostItem,
  type HostLoad,
  type HostStatus,
  keys,
  type MeetingItem,
  type TableNames,
} from '../../shared/tables.js';
import { isConditionalCheckFailed } from './dynamo-client.js';

export interface HostRegistration {
  hostId: string;
  signalingUrl: string;
  adminUrl: string;
  region: string;
  zone: string;
  capacity: number;
  status: HostStatus;
  load: HostLoad;
  startedAt: string;
}

/**
 * What a placement claim found: `held` (already ours), `reclaimed` (was
 * unplaced, now ours), `moved` (another host serves it), `ended` (with who
 * ended it and when, as REQ-002 recorded), or `unknown` (no meeting item:
 * nothing to claim).
 */
export type MeetingClaim =
  | { outcome: 'held' | 'reclaimed' | 'unknown' }
  | { outcome: 'moved'; mediaHostId: string }
  | { outcome: 'ended'; endedBy: string | undefined; endedAt: string | undefined };

/** Conditional-check races (control plane writing at the same moment) retried this often. */
const CLAIM_ATTEMPTS = 3;

/** A host item expires (TTL) this long after its last heartbeat. */
export const HOST_TTL_SECONDS = 60;

export class HostRegistryStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tables: TableNames;

  constructor(client: DynamoDBDocumentClient, tables: TableNames) {
    this.#client = client;
    this.#tables = tables;
  }

  /** Creates or refreshes the host item; `assigned` starts at 0 and is kept if present. */
  async register(registration: HostRegistration, nowMs: number): Promise<void> {
    await this.#client.send(
      new UpdateCommand({
        TableName: this.#tables.hosts,
        Key: keys.host(registration.hostId),
        UpdateExpression:
          'SET #hostId = :hostId, #signalingUrl = :signalingUrl, #adminUrl = :adminUrl, #region = :region, ' +
          '#zone = :zone, #capacity = :capacity, #status = :status, #load = :load, #startedAt = :startedAt, ' +
          '#heartbeatAt = :now, #expiresAt = :expiresAt, #assigned = if_not_exists(#assigned, :zero)',
        ExpressionAttributeNames: {
          '#hostId': 'hostId',
          '#signalingUrl': 'signalingUrl',
          '#adminUrl': 'adminUrl',
          '#region': 'region',
          '#zone': 'zone',
          '#capacity': 'capacity',
          '#status': 'status',
          '#load': 'load',
          '#startedAt': 'startedAt',
          '#heartbeatAt': 'heartbeatAt',
          '#expiresAt': 'expiresAt',
          '#assigned': 'assigned',
        },
        ExpressionAttributeValues: {
          ':hostId': registration.hostId,
          ':signalingUrl': registration.signalingUrl,
          ':adminUrl': registration.adminUrl,
          ':region': registration.region,
          ':zone': registration.zone,
          ':capacity': registration.capacity,
          ':status': registration.status,
          ':load': registration.load,
          ':startedAt': registration.startedAt,
          ':now': nowMs,
          ':expiresAt': expiresAtSeconds(nowMs),
          ':zero': 0,
        },
      }),
    );
  }

  /**
   * Refreshes heartbeatAt/expiresAt/load/status. Answers 'missing' when the
   * item is gone (expired while the host was stalled): the caller re-registers.
   */
  async heartbeat(hostId: string, update: { status: HostStatus; load: HostLoad }, nowMs: number) {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tables.hosts,
          Key: keys.host(hostId),
          UpdateExpression: 'SET #heartbeatAt = :now, #expiresAt = :expiresAt, #load = :load, #status = :status',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: {
            '#heartbeatAt': 'heartbeatAt',
            '#expiresAt': 'expiresAt',
            '#load': 'load',
            '#status': 'status',
          },
          ExpressionAttributeValues: {
            ':now': nowMs,
            ':expiresAt': expiresAtSeconds(nowMs),
            ':load': update.load,
            ':status': update.status,
          },
        }),
      );
      return 'ok' as const;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return 'missing' as const;
      throw error;
    }
  }

  async setStatus(hostId: string, status: HostStatus): Promise<void> {
    await this.#client.send(
      new UpdateCommand({
        TableName: this.#tables.hosts,
        Key: keys.host(hostId),
        UpdateExpression: 'SET #status = :status',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':status': status },
      }),
    );
  }

  /**
   * Gives a meeting's placement back: removes mediaHostId/assignedAt from the
   * meeting if it still points at this host, and only then returns the
   * reservation (`assigned - 1`, never below zero). True when released.
   */
  async releaseMeeting(meetingId: string, hostId: string): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tables.meetings,
          Key: keys.meeting(meetingId),
          UpdateExpression: 'REMOVE #mediaHostId, #assignedAt',
          ConditionExpression: '#mediaHostId = :me',
          ExpressionAttributeNames: { '#mediaHostId': 'mediaHostId', '#assignedAt': 'assignedAt' },
          ExpressionAttributeValues: { ':me': hostId },
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tables.hosts,
          Key: keys.host(hostId),
          UpdateExpression: 'ADD #assigned :minusOne',
          ConditionExpression: '#assigned > :zero',
          ExpressionAttributeNames: { '#assigned': 'assigned' },
          ExpressionAttributeValues: { ':minusOne': -1, ':zero': 0 },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    return true;
  }

  /**
   * Makes sure the meeting's placement points at this host, whose room is
   * being created: takes it back if it was released (then `assigned + 1` on
   * the host item), keeps it if already ours, and never takes it from another
   * host or from an ended meeting.
   */
  async claimMeeting(meetingId: string, hostId: string, assignedAt: string): Promise<MeetingClaim> {
    for (let attempt = 1; ; attempt++) {
      let previousHostId: unknown;
      try {
        const result = await this.#client.send(
          new UpdateCommand({
            TableName: this.#tables.meetings,
            Key: keys.meeting(meetingId),
            UpdateExpression: 'SET #mediaHostId = :me, #assignedAt = if_not_exists(#assignedAt, :assignedAt)',
            ConditionExpression:
              'attribute_exists(pk) AND #status = :active AND ' +
              '(attribute_not_exists(#mediaHostId) OR #mediaHostId = :me)',
            ExpressionAttributeNames: {
              '#mediaHostId': 'mediaHostId',
              '#assignedAt': 'assignedAt',
              '#status': 'status',
            },
            ExpressionAttributeValues: { ':me': hostId, ':assignedAt': assignedAt, ':active': 'ACTIVE' },
            ReturnValues: 'UPDATED_OLD',
          }),
        );
        previousHostId = result.Attributes?.mediaHostId;
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        const meeting = await this.#meeting(meetingId);
        if (!meeting) return { outcome: 'unknown' };
        if (meeting.status !== 'ACTIVE') {
          return { outcome: 'ended', endedBy: meeting.endedBy, endedAt: meeting.endedAt };
        }
        if (meeting.mediaHostId && meeting.mediaHostId !== hostId) {
          return { outcome: 'moved', mediaHostId: meeting.mediaHostId };
        }
        // the item changed between the update and the read: try again
        if (attempt >= CLAIM_ATTEMPTS) throw error;
        continue;
      }
      if (previousHostId === hostId) return { outcome: 'held' };
      try {
        await this.#client.send(
          new UpdateCommand({
            TableName: this.#tables.hosts,
            Key: keys.host(hostId),
            UpdateExpression: 'ADD #assigned :one',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: { '#assigned': 'assigned' },
            ExpressionAttributeValues: { ':one': 1 },
          }),
        );
      } catch (error) {
        // the host item expired (stalled host): re-registration starts it afresh
        if (!isConditionalCheckFailed(error)) throw error;
      }
      return { outcome: 'reclaimed' };
    }
  }

  async #meeting(meetingId: string): Promise<MeetingItem | undefined> {
    const result = await this.#client.send(
      new GetCommand({ TableName: this.#tables.meetings, Key: keys.meeting(meetingId), ConsistentRead: true }),
    );
    return result.Item as MeetingItem | undefined;
  }

  async get(hostId: string): Promise<HostItem | undefined> {
    const result = await this.#client.send(new GetCommand({ TableName: this.#tables.hosts, Key: keys.host(hostId) }));
    return result.Item as HostItem | undefined;
  }
}

function expiresAtSeconds(nowMs: number): number {
  return Math.floor(nowMs / 1000) + HOST_TTL_SECONDS;
}
