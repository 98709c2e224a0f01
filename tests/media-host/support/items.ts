// Direct DynamoDB Local access for test setup and checks (items the control
// plane would write: meetings, participants, host reservations).
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createMediaHostDocumentClient } from '../../../media-host/store/dynamo-client.js';
import { type HostItem, keys, type MeetingItem, type ParticipantItem } from '../../../shared/tables.js';
import type { TestTables } from '../../support/dynamo.js';

export function tableItems(tables: TestTables) {
  const client = createMediaHostDocumentClient({ region: tables.region, endpoint: tables.endpoint });
  return {
    async putParticipant(meetingId: string, userId: string, extra: Partial<ParticipantItem> = {}) {
      const item: ParticipantItem = {
        ...keys.participant(meetingId, userId),
        meeting_id: meetingId,
        user_id: userId,
        nickname: `nick-${userId}`,
        joined_at: new Date().toISOString(),
        ...extra,
      };
      await client.send(new PutCommand({ TableName: tables.names.meetings, Item: item }));
    },
    async participant(meetingId: string, userId: string) {
      const result = await client.send(
        new GetCommand({
          TableName: tables.names.meetings,
          Key: keys.participant(meetingId, userId),
          ConsistentRead: true,
        }),
      );
      return result.Item as ParticipantItem | undefined;
    },
    async putMeeting(meetingId: string, extra: Partial<MeetingItem> = {}) {
      const item: MeetingItem = {
        ...keys.meeting(meetingId),
        meetingId,
        title: 't',
        status: 'ACTIVE',
        hostUserId: 'owner',
        createdAt: new Date().toISOString(),
        ...extra,
      };
      await client.send(new PutCommand({ TableName: tables.names.meetings, Item: item }));
    },
    async meeting(meetingId: string) {
      const result = await client.send(
        new GetCommand({ TableName: tables.names.meetings, Key: keys.meeting(meetingId), ConsistentRead: true }),
      );
      return result.Item as MeetingItem | undefined;
    },
    async host(hostId: string) {
      const result = await client.send(
        new GetCommand({ TableName: tables.names.hosts, Key: keys.host(hostId), ConsistentRead: true }),
      );
      return result.Item as HostItem | undefined;
    },
    async setHostCounters(hostId: string, assigned: number, capacity: number) {
      await client.send(
        new UpdateCommand({
          TableName: tables.names.hosts,
          Key: keys.host(hostId),
          UpdateExpression: 'SET #assigned = :a, #capacity = :c',
          ExpressionAttributeNames: { '#assigned': 'assigned', '#capacity': 'capacity' },
          ExpressionAttributeValues: { ':a': assigned, ':c': capacity },
        }),
      );
    },
    async deleteHost(hostId: string) {
      await client.send(new DeleteCommand({ TableName: tables.names.hosts, Key: keys.host(hostId) }));
    },
    destroy: () => client.destroy(),
  };
}

/** Waits until `condition` holds (an event the test cannot await directly), failing after a limit. */
export async function until(condition: () => boolean | Promise<boolean>, what = 'condition'): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
