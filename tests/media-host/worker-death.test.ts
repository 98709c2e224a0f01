// A mediasoup worker killed with SIGKILL: its rooms close, their peers are
// told (rtc:error 50001, then close 4003), other workers' rooms carry on, a
// replacement worker starts and the process keeps serving.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { CloseCode } from '../../shared/protocol/signalling.js';
import { type Harness, startHarness } from './support/harness.js';
import { tableItems, until } from './support/items.js';
import { type Capabilities, opusRtpParameters } from './support/media.js';

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({ settings: { numWorkers: 2 } });
});

afterAll(async () => {
  await harness?.close();
});

it('closes the dead worker rooms, tells their peers, replaces the worker and keeps serving', async () => {
  const items = tableItems(harness.tables);
  const doomedMeeting = randomUUID();
  const safeMeeting = randomUUID();
  await items.putParticipant(doomedMeeting, 'alice');

  const alice = await harness.join({ userId: 'alice', meetingId: doomedMeeting });
  const bob = await harness.join({ userId: 'bob', meetingId: doomedMeeting });
  const carol = await harness.join({ userId: 'carol', meetingId: safeMeeting });
  const { rtpCapabilities } = await alice.client.ok('rtc:getRouterRtpCapabilities', { meetingId: doomedMeeting });
  const send = await alice.client.ok('rtc:createTransport', { meetingId: doomedMeeting, direction: 'send' });
  await alice.client.ok('rtc:produce', {
    meetingId: doomedMeeting,
    transportId: send.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(rtpCapabilities as Capabilities),
  });

  const doomedRoom = harness.host.rooms.get(doomedMeeting);
  const safeRoom = harness.host.rooms.get(safeMeeting);
  expect(doomedRoom?.worker.index).not.toBe(safeRoom?.worker.index);
  const pid = doomedRoom?.worker.worker.pid ?? 0;
  const replaced = new Promise<{ index: number; pid: number }>((resolve) =>
    harness.host.pool.once('workerreplaced', resolve),
  );

  process.kill(pid, 'SIGKILL');

  for (const peer of [alice, bob]) {
    const closed = await peer.client.closed;
    expect(closed.code).toBe(CloseCode.WorkerDied);
    const errors = peer.client.ofType('rtc:error');
    expect(errors).toEqual([expect.objectContaining({ code: ErrorCode.Internal })]);
    expect(peer.client.ofType('rtc:peerLeft')).toEqual([]);
  }
  expect(harness.host.rooms.get(doomedMeeting)).toBeUndefined();
  expect(doomedRoom?.closed).toBe(true);

  // the other worker's room never noticed
  expect(carol.client.ofType('rtc:error')).toEqual([]);
  expect((await carol.client.request('rtc:createTransport', { meetingId: safeMeeting, direction: 'recv' })).type).toBe(
    'rtc:transportCreated',
  );

  const replacement = await replaced;
  expect(replacement.pid).not.toBe(pid);
  expect(harness.host.pool.aliveCount).toBe(2);
  expect((await fetch(`${harness.httpUrl}/readyz`)).status).toBe(200);
  const metrics = await (await fetch(`${harness.httpUrl}/metrics`)).text();
  expect(metrics).toMatch(/^rtc_worker_deaths_total 1$/m);

  // the meeting can be joined again, on a live worker
  const again = await harness.join({ userId: 'alice', meetingId: doomedMeeting });
  expect(harness.host.rooms.get(doomedMeeting)?.router.closed).toBe(false);
  expect(
    (await again.client.request('rtc:createTransport', { meetingId: doomedMeeting, direction: 'send' })).type,
  ).toBe('rtc:transportCreated');

  // alice's socket dropped with the worker: left_at recorded (she rejoined later through the control plane)
  await harness.host.leaveRecorder.settled();
  await until(async () => (await items.participant(doomedMeeting, 'alice'))?.left_at !== undefined, 'left_at');
  items.destroy();
});
