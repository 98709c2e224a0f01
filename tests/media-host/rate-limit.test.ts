// The per-user token bucket, first on its own with a manual clock, then
// through real sockets with the host's clock stopped (no refill), so the
// counts are exact.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRateLimitSettings, UserRateLimiter } from '../../media-host/rate-limit.js';
import { ErrorCode } from '../../shared/errors.js';
import { CloseCode } from '../../shared/protocol/signalling.js';
import type { ReceivedMessage, TestClient } from './support/client.js';
import { type Harness, ManualClock, startHarness } from './support/harness.js';
import { until } from './support/items.js';
import {
  type Capabilities,
  clientDtlsParameters,
  opusRtpParameters,
  vp8SimulcastRtpParameters,
} from './support/media.js';

describe('UserRateLimiter', () => {
  it('allows the burst, refills at 10/s, and calls > 100 drops in 10 s abuse', () => {
    const clock = new ManualClock(0);
    const limiter = new UserRateLimiter(defaultRateLimitSettings, clock);
    const take = (n: number) => Array.from({ length: n }, () => limiter.take('u'));
    expect(take(50).every((d) => d === 'allow')).toBe(true);
    expect(limiter.take('u')).toBe('drop');
    expect(limiter.take('other')).toBe('allow');
    clock.advance(1000);
    expect(take(10).every((d) => d === 'allow')).toBe(true);
    expect(limiter.take('u')).toBe('drop');
    // 2 drops so far; 99 more stay under the threshold, the 102nd is abuse
    expect(take(98).every((d) => d === 'drop')).toBe(true);
    expect(limiter.take('u')).toBe('abuse');
    // drops older than the window no longer count
    clock.advance(10_001);
    expect(limiter.take('u')).toBe('allow');
  });

  it('pays answers to announced producers from credit first, never anything else, and caps the credit', () => {
    const clock = new ManualClock(0);
    const limiter = new UserRateLimiter({ ...defaultRateLimitSettings, maxCredit: 100 }, clock);
    const take = (n: number, answer = false) => Array.from({ length: n }, () => limiter.take('u', answer));
    limiter.credit('u', 30);
    // answers use the credit and leave the burst alone
    expect(take(30, true).every((d) => d === 'allow')).toBe(true);
    expect(take(50).every((d) => d === 'allow')).toBe(true);
    expect(limiter.take('u')).toBe('drop');
    // with tokens gone, credit still pays answers but not other requests
    limiter.credit('u', 10);
    expect(limiter.take('u')).toBe('drop');
    expect(take(10, true).every((d) => d === 'allow')).toBe(true);
    expect(limiter.take('u', true)).toBe('drop');
    // capped at maxCredit
    limiter.credit('u', 1_000);
    expect(take(100, true).every((d) => d === 'allow')).toBe(true);
    expect(limiter.take('u', true)).toBe('drop');
  });

  it('keeps a bucket that holds fresh credit through a sweep, and forgets it once idle', () => {
    const clock = new ManualClock(0);
    const limiter = new UserRateLimiter(defaultRateLimitSettings, clock);
    limiter.take('u');
    clock.advance(59_000);
    limiter.credit('u', 20);
    clock.advance(2_000);
    limiter.take('other'); // sweeps: 'u' was active 2 s ago
    expect(limiter.trackedUsers).toBe(2);
    expect(limiter.take('u', true)).toBe('allow');
    clock.advance(61_000);
    limiter.take('other');
    expect(limiter.trackedUsers).toBe(1);
  });

  it('forgets idle users once their bucket is full again', () => {
    const clock = new ManualClock(0);
    const limiter = new UserRateLimiter(defaultRateLimitSettings, clock);
    limiter.take('a');
    limiter.take('b');
    expect(limiter.trackedUsers).toBe(2);
    clock.advance(61_000);
    limiter.take('c');
    expect(limiter.trackedUsers).toBe(1);
  });
});

describe('through the host (clock stopped)', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ clock: new ManualClock() });
  });

  afterAll(async () => {
    await harness?.close();
  });

  /** Sends n requests back to back and collects every reply. */
  function flood(client: TestClient, meetingId: string, n: number, prefix: string): Promise<ReceivedMessage[]> {
    const replies = Array.from({ length: n }, (_, i) => client.waitFor((m) => m.requestId === `${prefix}${i}`, false));
    for (let i = 0; i < n; i++) {
      client.sendRaw(
        JSON.stringify({ type: 'rtc:getRouterRtpCapabilities', data: { meetingId }, requestId: `${prefix}${i}` }),
      );
    }
    return Promise.all(replies);
  }

  /** `count` members join one after another, each producing audio + simulcast video. */
  async function producingMembers(meetingId: string, count: number, prefix: string): Promise<TestClient[]> {
    const caps = harness.host.pool.routerRtpCapabilities as unknown as Capabilities;
    const members: TestClient[] = [];
    for (let i = 0; i < count; i++) {
      const { client } = await harness.join({ userId: `${prefix}-${i}`, meetingId });
      const send = await client.ok('rtc:createTransport', { meetingId, direction: 'send' });
      for (const [kind, rtpParameters] of [
        ['audio', opusRtpParameters(caps)],
        ['video', vp8SimulcastRtpParameters(caps)],
      ] as const) {
        await client.ok('rtc:produce', { meetingId, transportId: send.transportId, kind, rtpParameters });
      }
      members.push(client);
    }
    return members;
  }

  type Call = (type: string, data: Record<string, unknown>) => Promise<Record<string, unknown>>;

  /** Requests in one meeting on behalf of `client`, keeping every reply (errors included). */
  function recordingCaller(client: TestClient, meetingId: string): { replies: ReceivedMessage[]; call: Call } {
    const replies: ReceivedMessage[] = [];
    const call: Call = async (type, data) => {
      const reply = await client.request(type, { meetingId, ...data });
      replies.push(reply);
      return reply.data ?? {};
    };
    return { replies, call };
  }

  /** rtc:consume then rtc:resumeConsumer for every producer, all producers at once. */
  async function consumeAndResume(call: Call, producerIds: string[], rtpCapabilities: unknown): Promise<void> {
    await Promise.all(
      producerIds.map(async (producerId) => {
        const consumed = await call('rtc:consume', { producerId, rtpCapabilities });
        await call('rtc:resumeConsumer', { consumerId: consumed.consumerId });
      }),
    );
  }

  it('throttles a flood with 42901 while another user is still served, and closes abuse with 1008', async () => {
    const meetingId = randomUUID();
    const flooder = await harness.connect({ userId: 'flooder', meetingId });
    const bystander = await harness.connect({ userId: 'bystander', meetingId });

    const replies = await flood(flooder, meetingId, 80, 'f');
    const ok = replies.filter((r) => r.type === 'rtc:routerRtpCapabilities');
    const limited = replies.filter((r) => r.type === 'rtc:error');
    expect(ok).toHaveLength(50);
    expect(limited).toHaveLength(30);
    expect(limited[0]).toMatchObject({ code: ErrorCode.RateLimited, requestType: 'rtc:getRouterRtpCapabilities' });

    expect((await bystander.request('rtc:join', { meetingId })).type).toBe('rtc:joined');

    // 30 drops so far; 71 more exceed 100 within the window: closed with 1008
    for (let i = 0; i < 71; i++) {
      flooder.sendRaw(JSON.stringify({ type: 'rtc:getRouterRtpCapabilities', data: { meetingId } }));
    }
    expect((await flooder.closed).code).toBe(CloseCode.PolicyViolation);
    expect((await bystander.request('rtc:getRouterRtpCapabilities', { meetingId })).type).toBe(
      'rtc:routerRtpCapabilities',
    );
    const metrics = await (await fetch(`${harness.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^rtc_rate_limit_drops_total 101$/m);
  });

  it('sums a user across connections', async () => {
    const meetingId = randomUUID();
    const tab1 = await harness.connect({ userId: 'two-sockets', meetingId });
    const tab2 = await harness.connect({ userId: 'two-sockets', meetingId });
    const [first, second] = await Promise.all([flood(tab1, meetingId, 30, 'a'), flood(tab2, meetingId, 30, 'b')]);
    const okCount = [...(first ?? []), ...(second ?? [])].filter((r) => r.type !== 'rtc:error').length;
    expect(okCount).toBe(50);
  });

  it('never limits a peer joining a meeting of 10 (about 44 messages in its first second)', async () => {
    const meetingId = randomUUID();
    await producingMembers(meetingId, 9, 'member');
    const newcomer = await harness.connect({ userId: 'newcomer', meetingId });
    const { replies, call } = recordingCaller(newcomer, meetingId);
    const joined = await call('rtc:join', {});
    const { rtpCapabilities } = await call('rtc:getRouterRtpCapabilities', {});
    const send = await call('rtc:createTransport', { direction: 'send' });
    const recv = await call('rtc:createTransport', { direction: 'recv' });
    await call('rtc:connectTransport', { transportId: send.transportId, dtlsParameters: clientDtlsParameters });
    await call('rtc:connectTransport', { transportId: recv.transportId, dtlsParameters: clientDtlsParameters });
    await call('rtc:produce', {
      transportId: send.transportId,
      kind: 'audio',
      rtpParameters: opusRtpParameters(rtpCapabilities as Capabilities),
    });
    await call('rtc:produce', {
      transportId: send.transportId,
      kind: 'video',
      rtpParameters: vp8SimulcastRtpParameters(rtpCapabilities as Capabilities),
    });
    const producers = (joined.peers as { producers: { id: string }[] }[]).flatMap((peer) => peer.producers);
    expect(producers).toHaveLength(18);
    await consumeAndResume(
      call,
      producers.map((producer) => producer.id),
      rtpCapabilities,
    );
    expect(replies).toHaveLength(44);
    expect(replies.filter((r) => r.type === 'rtc:error')).toEqual([]);
  });

  it('never limits a peer joining a meeting of 30 either (124 messages): announced producers bring their tokens', async () => {
    const meetingId = randomUUID();
    const members = await producingMembers(meetingId, 29, 'big-member');
    const newcomer = await harness.connect({ userId: 'big-newcomer', meetingId });
    const { replies, call } = recordingCaller(newcomer, meetingId);
    const joined = await call('rtc:join', {});
    const { rtpCapabilities } = await call('rtc:getRouterRtpCapabilities', {});
    const recv = await call('rtc:createTransport', { direction: 'recv' });
    await call('rtc:connectTransport', { transportId: recv.transportId, dtlsParameters: clientDtlsParameters });
    const producers = (joined.peers as { producers: { id: string }[] }[]).flatMap((peer) => peer.producers);
    expect(producers).toHaveLength(58);
    await consumeAndResume(
      call,
      producers.map((producer) => producer.id),
      rtpCapabilities,
    );
    expect(replies).toHaveLength(4 + 116);
    expect(replies.filter((r) => r.type === 'rtc:error')).toEqual([]);
    // the answers were paid from credit: the burst is untouched but for the 4 own requests
    const extra = await flood(newcomer, meetingId, 50, 'x');
    expect(extra.filter((r) => r.type === 'rtc:error')).toHaveLength(4);
    for (const member of members) member.close();
  });

  it('credits rtc:newProducer too: a peer already in the room consumes 29 newcomers without 42901', async () => {
    const meetingId = randomUUID();
    const { client: resident } = await harness.join({ userId: 'resident', meetingId });
    const { replies, call } = recordingCaller(resident, meetingId);
    const { rtpCapabilities } = await call('rtc:getRouterRtpCapabilities', {});
    const recv = await call('rtc:createTransport', { direction: 'recv' });
    await call('rtc:connectTransport', { transportId: recv.transportId, dtlsParameters: clientDtlsParameters });
    const members = await producingMembers(meetingId, 29, 'arriving');
    await until(async () => resident.ofType('rtc:newProducer').length === 58, 'announcements');
    await consumeAndResume(
      call,
      resident.ofType('rtc:newProducer').map((announcement) => announcement.data?.producerId as string),
      rtpCapabilities,
    );
    expect(replies).toHaveLength(3 + 116);
    expect(replies.filter((r) => r.type === 'rtc:error')).toEqual([]);
    for (const member of members) member.close();
  });
});
