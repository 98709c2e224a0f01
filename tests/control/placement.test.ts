// Placement against DynamoDB Local: concurrent first requests, spreading by
// free capacity, and failover from stale or draining hosts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chooseHost, chooseHostUnderContention, createPlacementService } from '../../control/placement.js';
import type { ControlStore } from '../../control/store/control-store.js';
import { createLogger, silentLogger } from '../../shared/logger.js';
import type { MediaSession } from '../../shared/protocol/http.js';
import type { HostItem } from '../../shared/tables.js';
import { type ControlHarness, createHarness, meetingWith } from './helpers.js';

let h: ControlHarness;

beforeEach(async () => {
  h = await createHarness(); // fresh tables: host counts start from zero
  // hosts are registered once per test: on a loaded machine real time would
  // age their heartbeats past HOST_STALE_AFTER_MS mid-test; only advance() moves it
  h.clock.freeze();
});
afterEach(() => h.close());

async function mediaSession(meetingId: string, userId: string) {
  return h.call<MediaSession>('POST', `/api/meetings/${meetingId}/media-session`, {
    token: await h.accessToken(userId),
  });
}

async function hostsById(): Promise<Record<string, HostItem>> {
  return Object.fromEntries((await h.store.listHosts()).map((host) => [host.hostId, host]));
}

describe('placement', () => {
  it('50 concurrent first media-session requests: one assignment, one host, one reservation', async () => {
    await h.registerHost({ hostId: 'h1', capacity: 100 });
    await h.registerHost({ hostId: 'h2', capacity: 100 });
    await h.registerHost({ hostId: 'h3', capacity: 100 });
    const users = Array.from({ length: 50 }, (_, i) => `user-${i}`);
    const meetingId = await meetingWith(h, 'user-0', users);
    const tokens = await Promise.all(users.map((userId) => h.accessToken(userId)));

    const replies = await Promise.all(
      tokens.map((token) => h.call<MediaSession>('POST', `/api/meetings/${meetingId}/media-session`, { token })),
    );
    expect(replies.map((reply) => reply.status)).toEqual(users.map(() => 200));
    const hostIds = new Set(replies.map((reply) => reply.body.data!.hostId));
    expect(hostIds.size).toBe(1);

    const meeting = await h.store.getMeeting(meetingId, { consistent: true });
    expect(meeting?.mediaHostId).toBe([...hostIds][0]);
    const hosts = Object.values(await hostsById());
    expect(hosts.reduce((sum, host) => sum + host.assigned, 0)).toBe(1);
    expect(hosts.find((host) => host.hostId === meeting?.mediaHostId)?.assigned).toBe(1);

    // later requests reuse the host without reserving again
    const later = await mediaSession(meetingId, 'user-7');
    expect(later.body.data!.hostId).toBe(meeting?.mediaHostId);
    expect((await hostsById())[meeting!.mediaHostId!]!.assigned).toBe(1);
  });

  it('20 new meetings spread across 3 hosts in proportion to free capacity', async () => {
    const capacities = { small: 5, medium: 10, large: 25 };
    for (const [hostId, capacity] of Object.entries(capacities)) await h.registerHost({ hostId, capacity });
    const meetingIds = await Promise.all(Array.from({ length: 20 }, (_, i) => meetingWith(h, `owner-${i}`)));

    const replies = await Promise.all(meetingIds.map((meetingId, i) => mediaSession(meetingId, `owner-${i}`)));
    expect(replies.every((reply) => reply.status === 200)).toBe(true);
    const counts: Record<string, number> = { small: 0, medium: 0, large: 0 };
    for (const reply of replies) counts[reply.body.data!.hostId]! += 1;

    const totalCapacity = 40;
    for (const [hostId, capacity] of Object.entries(capacities)) {
      const expected = (20 * capacity) / totalCapacity; // 2.5, 5, 12.5
      expect(Math.abs(counts[hostId]! - expected), `${hostId}: ${JSON.stringify(counts)}`).toBeLessThanOrEqual(1);
    }
    const hosts = await hostsById();
    for (const hostId of Object.keys(capacities)) expect(hosts[hostId]!.assigned).toBe(counts[hostId]);
  });

  it('spreads by the free share when hosts already carry meetings', () => {
    const now = Date.now();
    const host = (hostId: string, capacity: number, assigned: number) =>
      ({ hostId, capacity, assigned, status: 'ACTIVE', heartbeatAt: now }) as HostItem;
    expect(chooseHost([host('a', 10, 5), host('b', 10, 2)], now, 15_000)?.hostId).toBe('b');
    expect(chooseHost([host('a', 10, 5), host('b', 40, 20)], now, 15_000)?.hostId).toBe('b');
    expect(chooseHost([host('a', 10, 10), host('b', 40, 40)], now, 15_000)).toBeUndefined();
  });

  it('a burst of 60 new meetings is placed in full, no host more than one meeting ahead', async () => {
    for (const hostId of ['p', 'q', 'r']) await h.registerHost({ hostId, capacity: 1000 });
    const meetingIds = await Promise.all(Array.from({ length: 60 }, (_, i) => meetingWith(h, `burst-${i}`)));
    const replies = await Promise.all(meetingIds.map((meetingId, i) => mediaSession(meetingId, `burst-${i}`)));
    expect(replies.filter((reply) => reply.status !== 200)).toEqual([]);
    const hosts = await hostsById();
    const assigned = ['p', 'q', 'r'].map((hostId) => hosts[hostId]!.assigned);
    expect(assigned.reduce((sum, n) => sum + n, 0)).toBe(60);
    expect(Math.max(...assigned) - Math.min(...assigned)).toBeLessThanOrEqual(1);
  });

  it('under contention, picks only hosts within half a slot of the lowest ratio, weighted by free slots', () => {
    const now = Date.now();
    const host = (hostId: string, capacity: number, assigned: number) =>
      ({ hostId, capacity, assigned, status: 'ACTIVE', heartbeatAt: now }) as HostItem;
    const hosts = [host('large', 25, 11), host('medium', 10, 5), host('small', 5, 3)];
    // large is at 0.44; medium (0.5) and small (0.6) are more than half a slot above
    for (const r of [0, 0.3, 0.6, 0.99]) {
      expect(chooseHostUnderContention(hosts, now, 15_000, () => r)?.hostId).toBe('large');
    }
    const even = [host('a', 100, 10), host('b', 100, 10), host('c', 300, 200)];
    expect(chooseHostUnderContention(even, now, 15_000, () => 0.1)?.hostId).toBe('a');
    expect(chooseHostUnderContention(even, now, 15_000, () => 0.9)?.hostId).toBe('b');
  });

  it('reassigns a meeting whose host stopped heartbeating, and gives the old slot back', async () => {
    await h.registerHost({ hostId: 'old', capacity: 10 });
    const meetingId = await meetingWith(h, 'kim');
    expect((await mediaSession(meetingId, 'kim')).body.data!.hostId).toBe('old');
    await h.registerHost({ hostId: 'new', capacity: 10 });

    // 'new' keeps heartbeating, 'old' does not
    h.clock.advance(20_000);
    await h.registerHost({ hostId: 'new', capacity: 10 });

    const replies = await Promise.all(Array.from({ length: 10 }, () => mediaSession(meetingId, 'kim')));
    expect(new Set(replies.map((reply) => reply.body.data?.hostId))).toEqual(new Set(['new']));
    expect((await h.store.getMeeting(meetingId, { consistent: true }))?.mediaHostId).toBe('new');
    const hosts = await hostsById();
    expect(hosts.new!.assigned).toBe(1);
    expect(hosts.old!.assigned).toBe(0);
  });

  it('reassigns a meeting whose host is DRAINING', async () => {
    await h.registerHost({ hostId: 'a', capacity: 10 });
    const meetingId = await meetingWith(h, 'lee');
    expect((await mediaSession(meetingId, 'lee')).body.data!.hostId).toBe('a');
    const a = (await hostsById()).a!;
    await h.registerHost({ ...a, status: 'DRAINING' });
    await h.registerHost({ hostId: 'b', capacity: 10 });

    const reply = await mediaSession(meetingId, 'lee');
    expect(reply.body.data!.hostId).toBe('b');
    const token = new URL(reply.body.data!.signalingUrl).searchParams.get('token');
    expect(token).toBeTruthy();
    expect((await h.store.getMeeting(meetingId, { consistent: true }))?.mediaHostId).toBe('b');
  });

  it('a meeting stays on its live host even when another is emptier', async () => {
    await h.registerHost({ hostId: 'busy', capacity: 10, assigned: 5 });
    const meetingId = await meetingWith(h, 'max');
    expect((await mediaSession(meetingId, 'max')).body.data!.hostId).toBe('busy');
    await h.registerHost({ hostId: 'empty', capacity: 100 });
    expect((await mediaSession(meetingId, 'max')).body.data!.hostId).toBe('busy');
  });
});

describe('reservations when the store fails', () => {
  const throttled = () =>
    Object.assign(new Error('Rate of requests exceeds the allowed throughput'), {
      name: 'ThrottlingException',
    });

  function placementOn(store: ControlStore, logger = silentLogger) {
    return createPlacementService({ store, clock: h.clock, logger, hostStaleAfterMs: 15_000 });
  }

  it('a meeting assignment that throws gives the reservation back and fails the placement', async () => {
    await h.registerHost({ hostId: 'solo', capacity: 10, assigned: 3 });
    const meetingId = await meetingWith(h, 'olga');
    let failures = 1;
    const store: ControlStore = {
      ...h.store,
      assignMeeting: async (...args) => {
        if (failures-- > 0) throw throttled();
        return h.store.assignMeeting(...args);
      },
    };
    const placement = placementOn(store);

    await expect(placement.placeMeeting(meetingId)).rejects.toThrow(/allowed throughput/);
    expect((await hostsById()).solo!.assigned).toBe(3);
    expect((await h.store.getMeeting(meetingId, { consistent: true }))?.mediaHostId).toBeUndefined();

    // the next attempt places it, with exactly one reservation
    expect((await placement.placeMeeting(meetingId)).host.hostId).toBe('solo');
    expect((await hostsById()).solo!.assigned).toBe(4);
  });

  it("after a reassignment, failing to give back the old host's slot is logged, not fatal", async () => {
    await h.registerHost({ hostId: 'old', capacity: 10 });
    const meetingId = await meetingWith(h, 'pavel');
    expect((await placementOn(h.store).placeMeeting(meetingId)).host.hostId).toBe('old');
    h.clock.advance(20_000); // 'old' stops heartbeating
    await h.registerHost({ hostId: 'new', capacity: 10 });

    const store: ControlStore = {
      ...h.store,
      releaseHostReservation: async (hostId) => {
        if (hostId === 'old') throw throttled();
        return h.store.releaseHostReservation(hostId);
      },
    };
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger('placement', { write: (line) => lines.push(JSON.parse(line)) });

    const placed = await placementOn(store, logger).placeMeeting(meetingId);
    expect(placed).toMatchObject({ host: { hostId: 'new' }, assigned: true });
    expect((await h.store.getMeeting(meetingId, { consistent: true }))?.mediaHostId).toBe('new');
    const hosts = await hostsById();
    expect(hosts.new!.assigned).toBe(1);
    expect(hosts.old!.assigned).toBe(1); // the slot we could not give back
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'error', msg: 'could not give back a host reservation', hostId: 'old' }),
    );
  });
});

describe('store conditions', () => {
  it('reserveHost refuses a stale seen value, a full, draining or stale host', async () => {
    const now = h.clock.now();
    await h.registerHost({ hostId: 'x', capacity: 1 });
    expect(await h.store.reserveHost('x', 1, now - 15_000)).toEqual({ ok: false, reason: 'conflict' });
    expect(await h.store.reserveHost('x', 0, now + 1)).toEqual({ ok: false, reason: 'conflict' });
    expect(await h.store.reserveHost('x', 0, now - 15_000)).toEqual({ ok: true });
    expect(await h.store.reserveHost('x', 1, now - 15_000)).toEqual({ ok: false, reason: 'conflict' }); // full
    await h.registerHost({ hostId: 'y', status: 'DRAINING' });
    expect(await h.store.reserveHost('y', 0, now - 15_000)).toEqual({ ok: false, reason: 'conflict' });
    expect(await h.store.reserveHost('missing', 0, now - 15_000)).toEqual({ ok: false, reason: 'conflict' });
  });

  it('assignMeeting is guarded by the previous assignment; releases never go below zero', async () => {
    const meetingId = await meetingWith(h, 'ned');
    const at = new Date().toISOString();
    expect(await h.store.assignMeeting(meetingId, 'h1', undefined, at)).toEqual({ ok: true });
    expect(await h.store.assignMeeting(meetingId, 'h2', undefined, at)).toEqual({ ok: false, reason: 'conflict' });
    expect(await h.store.assignMeeting(meetingId, 'h2', 'wrong', at)).toEqual({ ok: false, reason: 'conflict' });
    expect(await h.store.assignMeeting(meetingId, 'h2', 'h1', at)).toEqual({ ok: true });
    expect(await h.store.assignMeeting(meetingId, 'h3', 'h1', at)).toEqual({ ok: false, reason: 'conflict' });

    await h.registerHost({ hostId: 'z', assigned: 0 });
    expect(await h.store.releaseHostReservation('z')).toEqual({ ok: false, reason: 'conflict' });
    expect((await h.store.getHost('z', { consistent: true }))?.assigned).toBe(0);
    expect(await h.store.releaseHostReservation('gone')).toEqual({ ok: false, reason: 'conflict' });
    expect(await h.store.getHost('gone', { consistent: true })).toBeUndefined();
  });
});
