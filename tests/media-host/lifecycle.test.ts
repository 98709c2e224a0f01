// Room lifecycle against DynamoDB Local: two tabs, left_at, join timeout,
// meeting ended, placement release and reclaim, heartbeat and draining.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drain } from '../../media-host/drain.js';
import { HostHeartbeat } from '../../media-host/registry.js';
import { createMediaHostStores } from '../../media-host/store/index.js';
import { ErrorCode } from '../../shared/errors.js';
import { silentLogger } from '../../shared/logger.js';
import { endMeetingPath } from '../../shared/protocol/http.js';
import { CloseCode } from '../../shared/protocol/signalling.js';
import { type Harness, startHarness } from './support/harness.js';
import { tableItems, until } from './support/items.js';
import { type Capabilities, opusRtpParameters } from './support/media.js';

let harness: Harness;
let items: ReturnType<typeof tableItems>;

beforeAll(async () => {
  harness = await startHarness({ settings: { releaseGraceMs: 50 } });
  items = tableItems(harness.tables);
});

afterAll(async () => {
  await harness?.close();
  items?.destroy();
});

async function produceAudio(client: Awaited<ReturnType<Harness['join']>>['client'], meetingId: string) {
  const { rtpCapabilities } = await client.ok('rtc:getRouterRtpCapabilities', { meetingId });
  const send = await client.ok('rtc:createTransport', { meetingId, direction: 'send' });
  const produced = await client.ok('rtc:produce', {
    meetingId,
    transportId: send.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(rtpCapabilities as Capabilities),
  });
  return produced.producerId as string;
}

async function endMeeting(meetingId: string, endedBy = 'owner', endedAt = '2026-02-26T16:30:00.000Z') {
  return fetch(`${harness.httpUrl}${endMeetingPath(meetingId)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await harness.serviceToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ endedBy, endedAt }),
  });
}

describe('two tabs', () => {
  it('lets the newer connection win: old closed with 4001, others see peerLeft then peerJoined', async () => {
    const meetingId = randomUUID();
    await items.putParticipant(meetingId, 'alice');
    const tab1 = await harness.join({ userId: 'alice', meetingId });
    const oldProducerId = await produceAudio(tab1.client, meetingId);
    const bob = await harness.join({ userId: 'bob', meetingId });

    const tab2 = await harness.join({ userId: 'alice', meetingId });
    expect(await tab1.client.closed).toMatchObject({ code: CloseCode.ReplacedByNewConnection });
    expect(tab2.peers).toEqual([expect.objectContaining({ peerId: bob.peerId, userId: 'bob' })]);

    await bob.client.waitFor((m) => m.type === 'rtc:peerJoined' && m.data?.peerId === tab2.peerId);
    const seen = bob.client.received.filter((m) => m.type !== 'rtc:joined').map((m) => [m.type, m.data?.peerId]);
    expect(seen).toEqual([
      ['rtc:producerClosed', tab1.peerId],
      ['rtc:peerLeft', tab1.peerId],
      ['rtc:peerJoined', tab2.peerId],
    ]);
    expect(bob.client.ofType('rtc:producerClosed')[0]?.data?.producerId).toBe(oldProducerId);
    const room = harness.host.rooms.get(meetingId);
    expect([...(room?.peers.keys() ?? [])].sort()).toEqual([bob.peerId, tab2.peerId].sort());
    expect(room?.transports.size).toBe(0);

    // the user never left: no left_at
    await harness.host.leaveRecorder.settled();
    expect((await items.participant(meetingId, 'alice'))?.left_at).toBeUndefined();
  });
});

describe('left_at', () => {
  it('is set on rtc:leave and on a dropped socket, only once, and never for unknown participants', async () => {
    const meetingId = randomUUID();
    await items.putParticipant(meetingId, 'leaver');
    await items.putParticipant(meetingId, 'dropper');
    const earlier = '2020-01-01T00:00:00.000Z';
    await items.putParticipant(meetingId, 'already-left', { left_at: earlier });

    const leaver = await harness.join({ userId: 'leaver', meetingId });
    const dropper = await harness.join({ userId: 'dropper', meetingId });
    const alreadyLeft = await harness.join({ userId: 'already-left', meetingId });
    const stranger = await harness.join({ userId: 'stranger', meetingId });

    const before = Date.now();
    await leaver.client.ok('rtc:leave', { meetingId });
    dropper.client.terminate();
    alreadyLeft.client.close();
    stranger.client.close();
    await until(() => harness.host.rooms.get(meetingId) === undefined, 'room to empty');
    await harness.host.leaveRecorder.settled();

    for (const userId of ['leaver', 'dropper']) {
      const leftAt = (await items.participant(meetingId, userId))?.left_at;
      expect(leftAt, userId).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(Date.parse(leftAt ?? '')).toBeGreaterThanOrEqual(before - 1000);
    }
    expect((await items.participant(meetingId, 'already-left'))?.left_at).toBe(earlier);
    expect(await items.participant(meetingId, 'stranger')).toBeUndefined();
  });

  it('is set when the last connection never joined: tab A joined, tab B waiting, A goes, then B closes', async () => {
    const meetingId = randomUUID();
    for (const [userId, how] of [
      ['two-tabs-leave', 'leave'],
      ['two-tabs-drop', 'drop'],
    ] as const) {
      await items.putParticipant(meetingId, userId);
      const tabA = await harness.join({ userId, meetingId });
      const tabB = await harness.connect({ userId, meetingId });
      if (how === 'leave') await tabA.client.ok('rtc:leave', { meetingId });
      else tabA.client.terminate();
      await until(() => !harness.host.rooms.get(meetingId)?.peers.has(tabA.peerId), 'tab A gone');
      await harness.host.leaveRecorder.settled();
      // tab B may still join: not left yet
      expect((await items.participant(meetingId, userId))?.left_at, how).toBeUndefined();

      tabB.close();
      await until(
        () => harness.host.connections.forMeeting(meetingId).every((c) => c.userId !== userId || !c.live),
        'tab B closed',
      );
      await harness.host.leaveRecorder.settled();
      expect((await items.participant(meetingId, userId))?.left_at, how).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
  });

  it('refuses to rejoin on a connection that left', async () => {
    const meetingId = randomUUID();
    const { client } = await harness.join({ userId: 'once', meetingId });
    await client.ok('rtc:leave', { meetingId });
    expect((await client.request('rtc:join', { meetingId })).code).toBe(ErrorCode.BadRequest);
  });
});

describe('meeting ended', () => {
  it('tells every peer, closes sockets with 4002, releases the placement and refuses later sockets', async () => {
    const meetingId = randomUUID();
    await items.putMeeting(meetingId, { mediaHostId: harness.hostId, assignedAt: new Date().toISOString() });
    await items.setHostCounters(harness.hostId, 1, 10);
    await items.putParticipant(meetingId, 'a');
    const alice = await harness.join({ userId: 'a', meetingId });
    const producerId = await produceAudio(alice.client, meetingId);
    const bob = await harness.join({ userId: 'b', meetingId });
    const { rtpCapabilities } = await bob.client.ok('rtc:getRouterRtpCapabilities', { meetingId });
    await bob.client.ok('rtc:createTransport', { meetingId, direction: 'recv' });
    await bob.client.ok('rtc:consume', { meetingId, producerId, rtpCapabilities });
    const waiting = await harness.connect({ userId: 'c', meetingId });

    const response = await endMeeting(meetingId, 'a', '2026-02-26T16:30:00.000Z');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ code: 0, message: 'success', data: { peersNotified: 2 } });

    for (const client of [alice.client, bob.client, waiting]) {
      const ended = await client.waitFor('rtc:meetingEnded');
      expect(ended.data).toEqual({ meetingId, endedBy: 'a', endedAt: '2026-02-26T16:30:00.000Z' });
      expect((await client.closed).code).toBe(CloseCode.MeetingEnded);
    }
    // no producerClosed/peerLeft noise while the room shuts down
    expect(bob.client.ofType('rtc:peerLeft')).toEqual([]);
    expect(harness.host.rooms.get(meetingId)).toBeUndefined();

    // a token issued before the end still opens a socket, but joining answers 40901 and hangs up
    const late = await harness.connect({ userId: 'd', meetingId });
    expect(await late.request('rtc:join', { meetingId })).toMatchObject({ code: ErrorCode.MeetingEnded });
    expect((await late.closed).code).toBe(CloseCode.MeetingEnded);
    expect(harness.host.rooms.get(meetingId)).toBeUndefined();

    await harness.host.rooms.settled();
    const meeting = await items.meeting(meetingId);
    expect(meeting?.mediaHostId).toBeUndefined();
    expect(meeting?.assignedAt).toBeUndefined();
    expect((await items.host(harness.hostId))?.assigned).toBe(0);
    // REQ-002 records the end itself: the host leaves left_at alone
    await harness.host.leaveRecorder.settled();
    expect((await items.participant(meetingId, 'a'))?.left_at).toBeUndefined();
  });
});

describe('placement release', () => {
  const graceExpiry = (meetingId: string) =>
    new Promise<string>((resolve) => {
      const listener = (id: string, outcome: string) => {
        if (id !== meetingId) return;
        harness.host.rooms.off('graceexpired', listener);
        resolve(outcome);
      };
      harness.host.rooms.on('graceexpired', listener);
    });

  it('releases an empty meeting after the grace period', async () => {
    const meetingId = randomUUID();
    await items.putMeeting(meetingId, { mediaHostId: harness.hostId, assignedAt: new Date().toISOString() });
    await items.setHostCounters(harness.hostId, 1, 10);
    const { client } = await harness.join({ userId: 'u-release', meetingId });
    await client.ok('rtc:leave', { meetingId });
    await until(async () => (await items.meeting(meetingId))?.mediaHostId === undefined, 'release');
    await harness.host.rooms.settled();
    expect((await items.host(harness.hostId))?.assigned).toBe(0);
  });

  it('keeps the placement while a connection that has not joined is open, and releases it after', async () => {
    const meetingId = randomUUID();
    const assignedAt = '2026-01-01T00:00:00.000Z';
    await items.putMeeting(meetingId, { mediaHostId: harness.hostId, assignedAt });
    await items.setHostCounters(harness.hostId, 1, 10);
    const waiting = await harness.connect({ userId: 'waiter', meetingId });
    const expired = graceExpiry(meetingId);
    const { client } = await harness.join({ userId: 'first', meetingId });
    await client.ok('rtc:leave', { meetingId });
    expect(await expired).toBe('kept');
    expect(await items.meeting(meetingId)).toMatchObject({ mediaHostId: harness.hostId, assignedAt });

    // the waiting tab joins on the placement it was given: nothing moved, nothing reclaimed
    await waiting.ok('rtc:join', { meetingId });
    expect(await items.meeting(meetingId)).toMatchObject({ mediaHostId: harness.hostId, assignedAt });
    expect((await items.host(harness.hostId))?.assigned).toBe(1);

    const released = graceExpiry(meetingId);
    waiting.close();
    expect(await released).toBe('released');
    await harness.host.rooms.settled();
    expect((await items.meeting(meetingId))?.mediaHostId).toBeUndefined();
    expect((await items.host(harness.hostId))?.assigned).toBe(0);
  });

  it('releases a meeting whose only connections never joined, once they are gone', async () => {
    const meetingId = randomUUID();
    await items.putMeeting(meetingId, { mediaHostId: harness.hostId, assignedAt: new Date().toISOString() });
    await items.setHostCounters(harness.hostId, 1, 10);
    const released = graceExpiry(meetingId);
    const client = await harness.connect({ userId: 'never-joins', meetingId });
    client.close();
    expect(await released).toBe('released');
    await harness.host.rooms.settled();
    expect((await items.meeting(meetingId))?.mediaHostId).toBeUndefined();
    expect((await items.host(harness.hostId))?.assigned).toBe(0);
  });

  it('takes a released placement back when the room is created again', async () => {
    const meetingId = randomUUID();
    await items.putMeeting(meetingId);
    await items.setHostCounters(harness.hostId, 0, 10);
    const before = Date.now();
    const { client } = await harness.join({ userId: 'returner', meetingId });
    await harness.host.rooms.settled();
    const meeting = await items.meeting(meetingId);
    expect(meeting?.mediaHostId).toBe(harness.hostId);
    expect(Date.parse(meeting?.assignedAt ?? '')).toBeGreaterThanOrEqual(before - 1000);
    expect((await items.host(harness.hostId))?.assigned).toBe(1);
    // a second room later finds the placement held: no double count
    await client.ok('rtc:leave', { meetingId });
    const { client: again } = await harness.join({ userId: 'returner-2', meetingId });
    await harness.host.rooms.settled();
    expect((await items.host(harness.hostId))?.assigned).toBe(1);
    const released = graceExpiry(meetingId);
    await again.ok('rtc:leave', { meetingId });
    expect(await released).toBe('released');
    await harness.host.rooms.settled();
    expect((await items.host(harness.hostId))?.assigned).toBe(0);
  });

  it('closes a room whose meeting another host serves (50001, then 4005) and refuses it for a while', async () => {
    const meetingId = randomUUID();
    await items.putMeeting(meetingId, { mediaHostId: 'another-host', assignedAt: new Date().toISOString() });
    await items.setHostCounters(harness.hostId, 0, 10);
    const client = await harness.connect({ userId: 'misdirected', meetingId });
    // the join does not wait for the placement claim: it may be answered before the room closes
    void client.request('rtc:join', { meetingId });
    const notice = await client.waitFor((m) => m.type === 'rtc:error' && m.code === ErrorCode.Internal);
    expect(notice.error).toBe('meeting is served by another host; request a new media session');
    expect((await client.closed).code).toBe(CloseCode.MeetingMoved);
    expect(harness.host.rooms.get(meetingId)).toBeUndefined();
    await harness.host.rooms.settled();
    expect((await items.meeting(meetingId))?.mediaHostId).toBe('another-host');
    expect((await items.host(harness.hostId))?.assigned).toBe(0);

    // the next join is refused outright, without a room
    const again = await harness.connect({ userId: 'misdirected-2', meetingId });
    expect(await again.request('rtc:join', { meetingId })).toMatchObject({
      type: 'rtc:error',
      requestType: 'rtc:join',
      code: ErrorCode.Internal,
      error: 'meeting is served by another host; request a new media session',
    });
    expect((await again.closed).code).toBe(CloseCode.MeetingMoved);
    expect(harness.host.rooms.get(meetingId)).toBeUndefined();
  });

  it('lets a late claim result for a room that already closed not touch the newer room', async () => {
    const meetingId = randomUUID();
    await items.putMeeting(meetingId, { mediaHostId: harness.hostId, assignedAt: new Date().toISOString() });
    const hosts = harness.stores.hosts;
    const realClaim = hosts.claimMeeting.bind(hosts);
    const answers: ((claim: Awaited<ReturnType<typeof realClaim>>) => void)[] = [];
    hosts.claimMeeting = () => new Promise((resolve) => answers.push(resolve));
    try {
      // room 1: joined and left while its claim is still out
      const first = await harness.join({ userId: 'first-room', meetingId });
      await first.client.ok('rtc:leave', { meetingId });
      await until(async () => harness.host.rooms.get(meetingId) === undefined, 'room 1 closed');
      // room 2 is created and serves; then room 1's claim comes back "moved"
      const second = await harness.join({ userId: 'second-room', meetingId });
      expect(answers).toHaveLength(2);
      answers[0]?.({ outcome: 'moved', mediaHostId: 'another-host' });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const room = harness.host.rooms.get(meetingId);
      expect(room?.closed).toBe(false);
      // a newcomer still joins room 2: room 2's own claim decides
      const third = await harness.join({ userId: 'third', meetingId });
      expect(third.peers).toHaveLength(1);
      answers[1]?.({ outcome: 'held' });
      await harness.host.rooms.settled();
      expect(harness.host.rooms.get(meetingId)).toBe(room);
      second.client.close();
      third.client.close();
    } finally {
      hosts.claimMeeting = realClaim;
    }
  });

  it('ends a room whose meeting the control plane already ended (rtc:meetingEnded, 4002) and refuses later joins', async () => {
    const ended = randomUUID();
    const endedAt = '2026-01-02T03:04:05.000Z';
    await items.putMeeting(ended, { status: 'ENDED', endedBy: 'owner-x', endedAt });
    const late = await harness.connect({ userId: 'too-late', meetingId: ended });
    void late.request('rtc:join', { meetingId: ended });
    // the join may be answered first (it does not wait for the claim) or refused with 40901
    const notice = await late.waitFor((m) => m.type === 'rtc:meetingEnded' || m.code === ErrorCode.MeetingEnded);
    if (notice.type === 'rtc:meetingEnded') {
      expect(notice.data).toEqual({ meetingId: ended, endedBy: 'owner-x', endedAt });
    }
    expect((await late.closed).code).toBe(CloseCode.MeetingEnded);
    expect(harness.host.rooms.get(ended)).toBeUndefined();
    await harness.host.rooms.settled();
    expect((await items.meeting(ended))?.mediaHostId).toBeUndefined();

    // remembered as ended: the next join is refused without a room
    const later = await harness.connect({ userId: 'later', meetingId: ended });
    expect(await later.request('rtc:join', { meetingId: ended })).toMatchObject({
      type: 'rtc:error',
      requestType: 'rtc:join',
      code: ErrorCode.MeetingEnded,
    });
    expect((await later.closed).code).toBe(CloseCode.MeetingEnded);
    expect(harness.host.rooms.get(ended)).toBeUndefined();
  });
});

describe('join timeout', () => {
  it('closes connections that never join, or stay after leaving, with 4006 and records left_at', async () => {
    const local = await startHarness({ joinTimeoutMs: 300 });
    const localItems = tableItems(local.tables);
    const meetingId = randomUUID();
    await localItems.putParticipant(meetingId, 'idle');
    const joined = await local.join({ userId: 'stayer', meetingId });
    const idle = await local.connect({ userId: 'idle', meetingId });
    const leaver = await local.join({ userId: 'leaver', meetingId });
    await leaver.client.ok('rtc:leave', { meetingId });

    expect(await idle.closed).toMatchObject({ code: CloseCode.JoinTimeout });
    expect(await leaver.client.closed).toMatchObject({ code: CloseCode.JoinTimeout });
    // joined earlier than both: a joined connection is never timed out
    expect(joined.client.ws.readyState).toBe(joined.client.ws.OPEN);
    await until(() => local.host.connections.size === 1, 'idle connections gone');
    await local.host.leaveRecorder.settled();
    expect((await localItems.participant(meetingId, 'idle'))?.left_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    localItems.destroy();
    await local.close();
  });
});

describe('heartbeat', () => {
  it('refreshes heartbeatAt, load and TTL without touching assigned or capacity, and re-registers', async () => {
    const stores = createMediaHostStores(
      { region: harness.tables.region, endpoint: harness.tables.endpoint },
      harness.tables.names,
    );
    let now = 1_800_000_000_000;
    const hostId = `hb-${randomUUID()}`;
    const heartbeat = new HostHeartbeat({
      store: stores.hosts,
      registration: {
        hostId,
        signalingUrl: 'wss://h',
        adminUrl: 'https://h',
        region: 'r',
        zone: 'z',
        capacity: 5,
        startedAt: 'x',
      },
      status: () => 'ACTIVE',
      load: async () => ({ rooms: 1, peers: 2, producers: 3, consumers: 4, workerCpu: 0.5 }),
      intervalMs: 60_000,
      clock: { now: () => now },
      logger: silentLogger,
    });
    await heartbeat.start();
    await items.setHostCounters(hostId, 3, 99);
    now += 5_000;
    await heartbeat.beat();
    const item = await items.host(hostId);
    expect(item).toMatchObject({
      assigned: 3,
      capacity: 99,
      heartbeatAt: now,
      expiresAt: Math.floor(now / 1000) + 60,
      status: 'ACTIVE',
      load: { rooms: 1, peers: 2, producers: 3, consumers: 4, workerCpu: 0.5 },
    });
    await items.deleteHost(hostId);
    await heartbeat.beat();
    expect(await items.host(hostId)).toMatchObject({ assigned: 0, signalingUrl: 'wss://h', heartbeatAt: now });
    await heartbeat.stop();
    stores.destroy();
  });
});

describe('drain', () => {
  it('marks the host DRAINING, waits for rooms to empty, then closes', async () => {
    const local = await startHarness();
    const meetingId = randomUUID();
    const { client } = await local.join({ userId: 'stayer', meetingId });
    const draining = drain(local.host, 60_000);
    await until(() => local.host.draining, 'draining');
    expect((await fetch(`${local.httpUrl}/readyz`)).status).toBe(503);
    await until(async () => (await local.stores.hosts.get(local.hostId))?.status === 'DRAINING', 'DRAINING');
    await client.ok('rtc:leave', { meetingId });
    expect(await draining).toBe('empty');
    await local.close();
  });

  it('closes the remaining peers with 4004 at the deadline', async () => {
    const local = await startHarness();
    const meetingId = randomUUID();
    const { client } = await local.join({ userId: 'stayer', meetingId });
    expect(await drain(local.host, 10)).toBe('deadline');
    expect((await client.closed).code).toBe(CloseCode.HostShutdown);
    expect(local.host.rooms.rooms.size).toBe(0);
    await local.close();
  });
});
