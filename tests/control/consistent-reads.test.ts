// The access checks behind media-config / media-session and placement's fast
// path must read strongly consistently: a client calls them right after POST
// /join, and a stale meeting could name a host it has moved off. DynamoDB Local
// is always consistent, so staleness cannot be provoked here; instead the
// requests DynamoDB receives are recorded on the wire (an SDK build-step
// middleware on the app's own client) and their ConsistentRead is checked.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { keys } from '../../shared/tables.js';
import { type ControlHarness, createHarness, meetingWith } from './helpers.js';

interface WireRead {
  operation: 'GetItem' | 'Query';
  /** "pk|sk" of a GetItem, the partition of a Query */
  key: string;
  consistentRead: boolean;
}

function recordReads(client: DynamoDBDocumentClient): WireRead[] {
  const reads: WireRead[] = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      // serialized by now: the body is the JSON DynamoDB receives
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      const operation = request.headers?.['x-amz-target']?.split('.').at(-1);
      const body = request.body instanceof Uint8Array ? new TextDecoder().decode(request.body) : request.body;
      if (operation === 'GetItem' || operation === 'Query') {
        if (typeof body !== 'string') throw new Error(`cannot read the ${operation} body`);
        const input = JSON.parse(body) as {
          Key?: { pk: { S: string }; sk: { S: string } };
          ExpressionAttributeValues?: Record<string, { S?: string }>;
          ConsistentRead?: boolean;
        };
        reads.push({
          operation,
          key: input.Key ? `${input.Key.pk.S}|${input.Key.sk.S}` : (input.ExpressionAttributeValues?.[':pk']?.S ?? '?'),
          consistentRead: input.ConsistentRead === true,
        });
      }
      return next(args);
    },
    { step: 'build', name: 'recordReadsForTest' },
  );
  return reads;
}

const keyOf = (key: { pk: string; sk: string }) => `${key.pk}|${key.sk}`;

let h: ControlHarness;
let reads: WireRead[];

beforeAll(async () => {
  h = await createHarness();
  reads = recordReads(h.client);
  await h.registerHost({ hostId: 'consistent-host', heartbeatAt: h.clock.now() + 3_600_000 });
});
afterAll(() => h.close());
beforeEach(() => {
  reads.length = 0;
});

describe('strongly consistent reads on the media path', () => {
  it('the recorder sees what goes on the wire (an eventually consistent read is reported as such)', async () => {
    await h.store.getMeeting('probe');
    await h.store.getMeeting('probe', { consistent: true });
    expect(reads).toEqual([
      { operation: 'GetItem', key: keyOf(keys.meeting('probe')), consistentRead: false },
      { operation: 'GetItem', key: keyOf(keys.meeting('probe')), consistentRead: true },
    ]);
  });

  it('media-config right after join reads the meeting and the participant consistently', async () => {
    const meetingId = await meetingWith(h, 'ora');
    reads.length = 0;
    const reply = await h.call('GET', `/api/meetings/${meetingId}/media-config`, {
      token: await h.accessToken('ora'),
    });
    expect(reply.status).toBe(200);
    expect(reads.map((read) => read.key).sort()).toEqual(
      [keyOf(keys.meeting(meetingId)), keyOf(keys.participant(meetingId, 'ora'))].sort(),
    );
    expect(reads.filter((read) => !read.consistentRead)).toEqual([]);
  });

  it('media-session (first placement, then the fast path) reads only consistently', async () => {
    const meetingId = await meetingWith(h, 'pia');
    const token = await h.accessToken('pia');
    const path = `/api/meetings/${meetingId}/media-session`;

    reads.length = 0;
    expect((await h.call('POST', path, { token })).status).toBe(200);
    expect(reads.map((read) => read.key)).toEqual(
      expect.arrayContaining([
        keyOf(keys.meeting(meetingId)),
        keyOf(keys.participant(meetingId, 'pia')),
        keys.hostPartition,
      ]),
    );
    expect(reads.filter((read) => !read.consistentRead)).toEqual([]);

    // the meeting now names its host: the fast path checks that host is live
    reads.length = 0;
    expect((await h.call('POST', path, { token })).status).toBe(200);
    expect(reads.map((read) => read.key).sort()).toEqual(
      [
        keyOf(keys.meeting(meetingId)),
        keyOf(keys.participant(meetingId, 'pia')),
        keyOf(keys.host('consistent-host')),
      ].sort(),
    );
    expect(reads.filter((read) => !read.consistentRead)).toEqual([]);
  });
});
