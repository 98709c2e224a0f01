// 200 join/produce/consume/leave cycles, half of them ending in a dropped
// socket instead of rtc:leave: afterwards the worker, router and WebRtcServer
// dumps hold nothing and the room map is empty.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Harness, startHarness } from './support/harness.js';
import { until } from './support/items.js';
import {
  type Capabilities,
  clientDtlsParameters,
  opusRtpParameters,
  vp8SimulcastRtpParameters,
} from './support/media.js';

let harness: Harness;

beforeAll(async () => {
  // the resident peer sends one consume per cycle: far above 10/s, and not what this test is about
  harness = await startHarness({
    rateLimit: { ratePerSecond: 10_000, burst: 10_000, maxCredit: 0, abuseDrops: 100, abuseWindowMs: 10_000 },
  });
});

afterAll(async () => {
  await harness?.close();
});

const CYCLES = 200;

it(`leaves nothing behind after ${CYCLES} cycles`, { timeout: 90_000 }, async () => {
  const meetingId = randomUUID();
  // a resident peer keeps one router alive, so leftovers would show in its dump
  const resident = await harness.join({ userId: 'resident', meetingId });
  const caps = harness.host.pool.routerRtpCapabilities as unknown as Capabilities;
  const residentSend = await resident.client.ok('rtc:createTransport', { meetingId, direction: 'send' });
  const residentAudio = await resident.client.ok('rtc:produce', {
    meetingId,
    transportId: residentSend.transportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(caps),
  });
  await resident.client.ok('rtc:createTransport', { meetingId, direction: 'recv' });
  const router = harness.host.rooms.get(meetingId)?.router;
  const handle = harness.host.pool.handles[0];
  if (!router || !handle) throw new Error('no room');

  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const { client } = await harness.join({ userId: `cycler-${cycle}`, meetingId });
    const send = await client.ok('rtc:createTransport', { meetingId, direction: 'send' });
    await client.ok('rtc:createTransport', { meetingId, direction: 'recv' });
    await client.ok('rtc:connectTransport', {
      meetingId,
      transportId: send.transportId,
      dtlsParameters: clientDtlsParameters,
    });
    const video = await client.ok('rtc:produce', {
      meetingId,
      transportId: send.transportId,
      kind: 'video',
      rtpParameters: vp8SimulcastRtpParameters(caps),
    });
    const consumed = await client.ok('rtc:consume', {
      meetingId,
      producerId: residentAudio.producerId,
      rtpCapabilities: caps,
    });
    await client.ok('rtc:resumeConsumer', { meetingId, consumerId: consumed.consumerId });
    // the resident consumes the cycler's video too, so the cycler's leave must close it
    await resident.client.ok('rtc:consume', { meetingId, producerId: video.producerId, rtpCapabilities: caps });
    if (cycle % 2 === 0) {
      await client.ok('rtc:leave', { meetingId });
      client.close();
    } else {
      client.terminate();
    }
    await until(() => (harness.host.rooms.get(meetingId)?.peers.size ?? 0) === 1, 'cycler gone');
  }

  await until(() => harness.host.connections.size === 1, 'cycler sockets closed');
  const room = harness.host.rooms.get(meetingId);
  const residentPeer = room?.peers.get(resident.peerId);
  // resident: its send + recv transports, its audio producer, and no consumer survived its producer
  await until(() => residentPeer?.consumers.size === 0, 'resident consumers closed');
  expect(room?.transports.size).toBe(2);

  const routerDump = await router.dump();
  expect(routerDump.transportIds).toHaveLength(2);
  expect(routerDump.mapProducerIdConsumerIds).toEqual([{ key: residentAudio.producerId, values: [] }]);
  expect(routerDump.mapConsumerIdProducerId).toEqual([]);
  const serverDump = await handle.webRtcServer.dump();
  expect(serverDump.webRtcTransportIds).toHaveLength(2);

  await resident.client.ok('rtc:leave', { meetingId });
  expect(harness.host.rooms.rooms.size).toBe(0);
  const workerDump = await handle.worker.dump();
  expect(workerDump.routerIds).toEqual([]);
  expect((await handle.webRtcServer.dump()).webRtcTransportIds).toEqual([]);
  expect((await handle.webRtcServer.dump()).localIceUsernameFragments).toEqual([]);
  expect(harness.host.rooms.counts()).toEqual({ rooms: 0, peers: 0, transports: 0, producers: 0, consumers: 0 });
});
