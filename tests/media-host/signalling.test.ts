// Every request's happy path and every error code, through real sockets to a
// real mediasoup worker.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTransportSettings } from '../../media-host/media-settings.js';
import { message } from '../../media-host/peer.js';
import { ErrorCode } from '../../shared/errors.js';
import { CloseCode, MAX_FRAME_BYTES, MAX_JSON_DEPTH, responseDataSchemas } from '../../shared/protocol/signalling.js';
import type { TestClient } from './support/client.js';
import { type Harness, startHarness } from './support/harness.js';
import {
  type Capabilities,
  clientDtlsParameters,
  h264RtpParameters,
  onlyCodecs,
  opusRtpParameters,
  vp8SimulcastRtpParameters,
} from './support/media.js';

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness();
});

afterAll(async () => {
  await harness?.close();
});

interface JoinedPeer {
  client: TestClient;
  peerId: string;
  meetingId: string;
  caps: Capabilities;
  sendTransportId: string;
  recvTransportId: string;
}

/** join -> caps -> send + recv transports -> connect both. */
async function joinWithTransports(meetingId: string, userId = `user-${randomUUID()}`): Promise<JoinedPeer> {
  const { client, peerId } = await harness.join({ userId, meetingId });
  const { rtpCapabilities } = await client.ok('rtc:getRouterRtpCapabilities', { meetingId });
  const send = await client.ok('rtc:createTransport', { meetingId, direction: 'send' });
  const recv = await client.ok('rtc:createTransport', { meetingId, direction: 'recv' });
  for (const transportId of [send.transportId, recv.transportId]) {
    await client.ok('rtc:connectTransport', { meetingId, transportId, dtlsParameters: clientDtlsParameters });
  }
  return {
    client,
    peerId,
    meetingId,
    caps: rtpCapabilities as Capabilities,
    sendTransportId: send.transportId as string,
    recvTransportId: recv.transportId as string,
  };
}

async function produceAudioAndVideo(peer: JoinedPeer) {
  const audio = await peer.client.ok('rtc:produce', {
    meetingId: peer.meetingId,
    transportId: peer.sendTransportId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(peer.caps),
    appData: { source: 'mic' },
  });
  const video = await peer.client.ok('rtc:produce', {
    meetingId: peer.meetingId,
    transportId: peer.sendTransportId,
    kind: 'video',
    rtpParameters: vp8SimulcastRtpParameters(peer.caps),
    appData: { source: 'camera' },
  });
  return { audioId: audio.producerId as string, videoId: video.producerId as string };
}

describe('happy paths', () => {
  it('runs the whole contract sequence between two peers, with the contract shapes', async () => {
    const meetingId = randomUUID();
    const alice = await joinWithTransports(meetingId, 'alice');
    const aliceProducers = await produceAudioAndVideo(alice);

    const bobJoin = await harness.join({ userId: 'bob', meetingId, nickname: '李四' });
    const bob = bobJoin.client;
    // rtc:joined lists alice with her producers
    expect(bobJoin.peers).toEqual([
      {
        peerId: alice.peerId,
        userId: 'alice',
        nickname: 'nick-alice',
        producers: expect.arrayContaining([
          { id: aliceProducers.audioId, kind: 'audio', paused: false, appData: { source: 'mic' } },
          { id: aliceProducers.videoId, kind: 'video', paused: false, appData: { source: 'camera' } },
        ]),
      },
    ]);
    const peerJoined = await alice.client.waitFor('rtc:peerJoined');
    expect(peerJoined.data).toEqual({ peerId: bobJoin.peerId, userId: 'bob', nickname: '李四' });

    const { rtpCapabilities } = await bob.ok('rtc:getRouterRtpCapabilities', { meetingId });
    const caps = rtpCapabilities as Capabilities;
    expect(responseDataSchemas['rtc:routerRtpCapabilities'].safeParse({ rtpCapabilities }).success).toBe(true);
    const mimeTypes = caps.codecs?.map((c) => `${c.mimeType}${c.parameters?.['profile-level-id'] ?? ''}`);
    expect(mimeTypes).toEqual(
      expect.arrayContaining(['audio/opus', 'video/VP8', 'video/VP9', 'video/H26442e01f', 'video/H2644d001f']),
    );
    const opus = caps.codecs?.find((c) => c.mimeType === 'audio/opus');
    expect(opus?.parameters).toMatchObject({ useinbandfec: 1, usedtx: 1 });
    expect(opus?.rtcpFeedback).toContainEqual({ type: 'nack', parameter: '' });

    const recv = await bob.request('rtc:createTransport', { meetingId, direction: 'recv' });
    expect(recv.type).toBe('rtc:transportCreated');
    expect(responseDataSchemas['rtc:transportCreated'].safeParse(recv.data).success).toBe(true);
    const recvData = recv.data as { transportId: string; iceCandidates: { protocol: string; ip: string }[] };
    expect(recvData.iceCandidates.map((c) => c.protocol).sort()).toEqual(['tcp', 'udp']);
    expect(recvData.iceCandidates[0]?.ip).toBe('127.0.0.1');

    const connected = await bob.request('rtc:connectTransport', {
      meetingId,
      transportId: recvData.transportId,
      dtlsParameters: clientDtlsParameters,
    });
    expect(connected).toMatchObject({ type: 'rtc:transportConnected', data: { transportId: recvData.transportId } });

    // audio consumer: simple, paused until resumed
    const audio = await bob.request('rtc:consume', { meetingId, producerId: aliceProducers.audioId, rtpCapabilities });
    expect(audio.type).toBe('rtc:consumed');
    expect(responseDataSchemas['rtc:consumed'].safeParse(audio.data).success).toBe(true);
    expect(audio.data).toMatchObject({
      producerId: aliceProducers.audioId,
      peerId: alice.peerId,
      kind: 'audio',
      type: 'simple',
      producerPaused: false,
      appData: { source: 'mic' },
    });
    // simulcast video consumer
    const video = await bob.request('rtc:consume', { meetingId, producerId: aliceProducers.videoId, rtpCapabilities });
    expect(video.data).toMatchObject({ kind: 'video', type: 'simulcast', producerPaused: false });
    const videoConsumerId = (video.data as { consumerId: string }).consumerId;
    // the host trims the capabilities to what the producer can use: RTX for VP8 must survive
    const videoParameters = (
      video.data as { rtpParameters: { codecs: Record<string, unknown>[]; encodings: unknown[] } }
    ).rtpParameters;
    const [vp8, rtx] = videoParameters.codecs;
    expect(vp8).toMatchObject({ mimeType: 'video/VP8' });
    expect(rtx).toMatchObject({ mimeType: 'video/rtx', parameters: { apt: vp8?.payloadType } });
    expect(videoParameters.encodings[0]).toHaveProperty('rtx.ssrc');

    const consumers = [...(harness.host.rooms.get(meetingId)?.peers.get(bobJoin.peerId)?.consumers.values() ?? [])];
    expect(consumers.map((c) => c.paused)).toEqual([true, true]);
    const simulcast = consumers.find((c) => c.id === videoConsumerId);
    expect(simulcast?.preferredLayers).toEqual({ spatialLayer: 2, temporalLayer: 2 });
    expect(audio.data?.rtpParameters).toMatchObject({ codecs: [{ mimeType: 'audio/opus' }] });
    const audioConsumer = consumers.find((c) => c.kind === 'audio');
    expect(audioConsumer?.rtpParameters.codecs[0]?.rtcpFeedback).toContainEqual({ type: 'nack', parameter: '' });

    const resumed = await bob.request('rtc:resumeConsumer', { meetingId, consumerId: videoConsumerId });
    expect(resumed).toMatchObject({ type: 'rtc:consumerResumed', data: { consumerId: videoConsumerId } });
    expect(simulcast?.paused).toBe(false);

    const layers = await bob.request('rtc:setPreferredLayers', {
      meetingId,
      consumerId: videoConsumerId,
      spatialLayer: 0,
      temporalLayer: 1,
    });
    expect(layers).toMatchObject({ type: 'rtc:preferredLayersSet', data: { consumerId: videoConsumerId } });
    expect(simulcast?.preferredLayers).toEqual({ spatialLayer: 0, temporalLayer: 1 });

    // pause / resume / close producer: replies to the owner, broadcasts to the others
    const paused = await alice.client.request('rtc:pauseProducer', { meetingId, producerId: aliceProducers.videoId });
    expect(paused).toMatchObject({ type: 'rtc:producerPaused', data: { producerId: aliceProducers.videoId } });
    expect(await bob.waitFor('rtc:producerPaused')).toMatchObject({
      data: { producerId: aliceProducers.videoId, peerId: alice.peerId },
    });
    const again = await bob.request('rtc:consume', { meetingId, producerId: aliceProducers.videoId, rtpCapabilities });
    expect(again.data).toMatchObject({ producerPaused: true });
    const unpaused = await alice.client.request('rtc:resumeProducer', {
      meetingId,
      producerId: aliceProducers.videoId,
    });
    expect(unpaused).toMatchObject({ type: 'rtc:producerResumed', data: { producerId: aliceProducers.videoId } });
    expect(await bob.waitFor('rtc:producerResumed')).toMatchObject({ data: { peerId: alice.peerId } });

    const closed = await alice.client.request('rtc:closeProducer', { meetingId, producerId: aliceProducers.videoId });
    expect(closed).toMatchObject({ type: 'rtc:producerClosedByPeer', data: { producerId: aliceProducers.videoId } });
    expect(await bob.waitFor('rtc:producerClosed')).toMatchObject({
      data: { producerId: aliceProducers.videoId, peerId: alice.peerId },
    });
    // both of bob's consumers of that producer close and he is told
    const consumerClosed = await bob.waitFor(
      (m) => m.type === 'rtc:consumerClosed' && m.data?.consumerId === videoConsumerId,
    );
    expect(consumerClosed.data).toEqual({ consumerId: videoConsumerId, producerId: aliceProducers.videoId });

    // leave: reply, the other side hears producerClosed (audio) then peerLeft
    const left = await alice.client.request('rtc:leave', { meetingId });
    expect(left).toMatchObject({ type: 'rtc:left', data: { peerId: alice.peerId } });
    const peerLeft = await bob.waitFor('rtc:peerLeft');
    expect(peerLeft.data).toEqual({ peerId: alice.peerId, userId: 'alice' });
    const order = bob.received.map((m) => m.type);
    expect(order.lastIndexOf('rtc:producerClosed')).toBeLessThan(order.indexOf('rtc:peerLeft'));
    expect(harness.host.rooms.get(meetingId)?.peers.size).toBe(1);

    await bob.ok('rtc:leave', { meetingId });
    expect(harness.host.rooms.get(meetingId)).toBeUndefined();
  });

  it('announces a new producer to the others with rtc:newProducer', async () => {
    const meetingId = randomUUID();
    const alice = await joinWithTransports(meetingId);
    const bob = await harness.join({ userId: `bob-${randomUUID()}`, meetingId });
    const { audioId } = await produceAudioAndVideo(alice);
    const announced = await bob.client.waitFor((m) => m.type === 'rtc:newProducer' && m.data?.producerId === audioId);
    expect(announced.data).toEqual({
      producerId: audioId,
      peerId: alice.peerId,
      kind: 'audio',
      paused: false,
      appData: { source: 'mic' },
    });
    expect(alice.client.ofType('rtc:newProducer')).toEqual([]);
  });

  it('accepts H264 producers with both Safari profiles and gives caps before join', async () => {
    const meetingId = randomUUID();
    const client = await harness.connect({ userId: `u-${randomUUID()}`, meetingId });
    const early = await client.ok('rtc:getRouterRtpCapabilities', { meetingId });
    await client.ok('rtc:join', { meetingId });
    const late = await client.ok('rtc:getRouterRtpCapabilities', { meetingId });
    expect(early).toEqual(late);
    const caps = late.rtpCapabilities as Capabilities;
    const send = await client.ok('rtc:createTransport', { meetingId, direction: 'send' });
    for (const [index, profile] of ['42e01f', '4d001f'].entries()) {
      const produced = await client.request('rtc:produce', {
        meetingId,
        transportId: send.transportId,
        kind: 'video',
        rtpParameters: h264RtpParameters(caps, profile, String(index + 2)),
      });
      expect(produced.type).toBe('rtc:produced');
    }
  });

  it('delivers a batched broadcast before a later direct message, and one broadcast to each other peer', async () => {
    const meetingId = randomUUID();
    const alice = await harness.join({ userId: 'order-alice', meetingId });
    const bob = await harness.join({ userId: 'order-bob', meetingId });
    const room = harness.host.rooms.get(meetingId);
    const bobPeer = room?.peers.get(bob.peerId);
    // same tick: the broadcast waits for the end of the turn, the direct message must not overtake it
    room?.broadcast(message('rtc:producerPaused', { producerId: 'p-1', peerId: alice.peerId }), alice.peerId);
    bobPeer?.send(message('rtc:consumerClosed', { consumerId: 'c-1', producerId: 'p-1' }));
    await bob.client.waitFor('rtc:consumerClosed');
    const types = bob.client.received.map((m) => m.type);
    expect(types.indexOf('rtc:producerPaused')).toBeGreaterThan(-1);
    expect(types.indexOf('rtc:producerPaused')).toBeLessThan(types.indexOf('rtc:consumerClosed'));
    // the sender is left out
    await new Promise((resolve) => setImmediate(resolve));
    expect(alice.client.ofType('rtc:producerPaused')).toHaveLength(0);
  });

  it('caps the incoming bitrate of send transports (maxIncomingBitrate)', async () => {
    const meetingId = randomUUID();
    const { client } = await harness.join({ userId: `u-${randomUUID()}`, meetingId });
    const send = await client.ok('rtc:createTransport', { meetingId, direction: 'send' });
    // a later request on the same transport is handled after the cap (the worker keeps order)
    await client.ok('rtc:connectTransport', {
      meetingId,
      transportId: send.transportId,
      dtlsParameters: clientDtlsParameters,
    });
    const transport = harness.host.rooms.get(meetingId)?.transports.get(send.transportId as string);
    const [stats] = (await transport?.getStats()) ?? [];
    expect(stats?.maxIncomingBitrate).toBe(defaultTransportSettings.maxIncomingBitrate);
  });
});

describe('errors', () => {
  it('answers malformed JSON, unknown types, wrong fields and binary frames with 40001, socket open', async () => {
    const meetingId = randomUUID();
    const client = await harness.connect({ userId: `u-${randomUUID()}`, meetingId });

    client.sendRaw('{not json');
    const malformed = await client.waitFor((m) => m.type === 'rtc:error' && m.error === 'Malformed JSON');
    expect(malformed).toMatchObject({ code: ErrorCode.BadRequest });
    expect(malformed.requestId).toBeUndefined();

    const unknown = await client.request('rtc:teleport', { meetingId });
    expect(unknown).toMatchObject({
      type: 'rtc:error',
      code: ErrorCode.BadRequest,
      requestType: 'rtc:teleport',
      error: 'Unknown message type "rtc:teleport"',
    });

    const missing = await client.request('rtc:createTransport', { meetingId });
    expect(missing).toMatchObject({ code: ErrorCode.BadRequest, requestType: 'rtc:createTransport' });
    expect(missing.error).toContain('direction');

    const mistyped = await client.request('rtc:join', { meetingId: 42 });
    expect(mistyped).toMatchObject({ code: ErrorCode.BadRequest, requestId: mistyped.requestId });

    client.sendRaw(JSON.stringify([1, 2, 3]));
    await client.waitFor((m) => m.type === 'rtc:error' && (m.error ?? '').includes('JSON object'));
    client.sendRaw(Buffer.from([1, 2, 3]));
    await client.waitFor((m) => m.type === 'rtc:error' && m.error === 'Frames must be JSON text');

    const tooBigAppData = await client.request('rtc:produce', {
      meetingId,
      transportId: 'x',
      kind: 'audio',
      rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000 }] },
      appData: { blob: 'x'.repeat(2000) },
    });
    expect(tooBigAppData.code).toBe(ErrorCode.BadRequest);
    expect(tooBigAppData.error).toContain('appData');
    // 300 emoji: 612 UTF-16 units, but 1212 bytes of JSON
    const multibyteAppData = await client.request('rtc:produce', {
      meetingId,
      transportId: 'x',
      kind: 'audio',
      rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000 }] },
      appData: { label: '😀'.repeat(300) },
    });
    expect(multibyteAppData.code).toBe(ErrorCode.BadRequest);
    expect(multibyteAppData.error).toContain('appData');

    // still serving
    expect((await client.request('rtc:join', { meetingId })).type).toBe('rtc:joined');
  });

  it('refuses another meeting with 40301', async () => {
    const meetingId = randomUUID();
    const client = await harness.connect({ userId: `u-${randomUUID()}`, meetingId });
    const reply = await client.request('rtc:join', { meetingId: randomUUID() });
    expect(reply).toMatchObject({ type: 'rtc:error', code: ErrorCode.Forbidden, requestType: 'rtc:join' });
    expect(harness.host.rooms.rooms.size).toBeGreaterThanOrEqual(0);
    expect((await client.request('rtc:join', { meetingId })).type).toBe('rtc:joined');
  });

  it('answers calls out of order and unknown ids with their codes', async () => {
    const meetingId = randomUUID();
    const client = await harness.connect({ userId: `u-${randomUUID()}`, meetingId });
    const { rtpCapabilities } = await client.ok('rtc:getRouterRtpCapabilities', { meetingId });
    const caps = rtpCapabilities as Capabilities;

    const produceBeforeJoin = await client.request('rtc:produce', {
      meetingId,
      transportId: 'nope',
      kind: 'audio',
      rtpParameters: opusRtpParameters(caps),
    });
    expect(produceBeforeJoin).toMatchObject({ code: ErrorCode.BadRequest, error: 'Join the meeting first (rtc:join)' });
    expect((await client.request('rtc:leave', { meetingId })).code).toBe(ErrorCode.BadRequest);

    await client.ok('rtc:join', { meetingId });
    expect((await client.request('rtc:join', { meetingId })).code).toBe(ErrorCode.BadRequest);

    const consumeWithoutRecv = await client.request('rtc:consume', {
      meetingId,
      producerId: randomUUID(),
      rtpCapabilities,
    });
    expect(consumeWithoutRecv.code).toBe(ErrorCode.BadRequest);
    expect(consumeWithoutRecv.error).toContain('recv transport');

    const send = await client.ok('rtc:createTransport', { meetingId, direction: 'send' });
    expect((await client.request('rtc:createTransport', { meetingId, direction: 'send' })).code).toBe(
      ErrorCode.BadRequest,
    );
    const recv = await client.ok('rtc:createTransport', { meetingId, direction: 'recv' });

    const unknownTransport = await client.request('rtc:connectTransport', {
      meetingId,
      transportId: randomUUID(),
      dtlsParameters: clientDtlsParameters,
    });
    expect(unknownTransport.code).toBe(ErrorCode.TransportNotFound);
    await client.ok('rtc:connectTransport', {
      meetingId,
      transportId: send.transportId,
      dtlsParameters: clientDtlsParameters,
    });
    const twice = await client.request('rtc:connectTransport', {
      meetingId,
      transportId: send.transportId,
      dtlsParameters: clientDtlsParameters,
    });
    expect(twice).toMatchObject({ code: ErrorCode.BadRequest, error: 'Transport is already connected' });

    const produceOnRecv = await client.request('rtc:produce', {
      meetingId,
      transportId: recv.transportId,
      kind: 'audio',
      rtpParameters: opusRtpParameters(caps),
    });
    expect(produceOnRecv.code).toBe(ErrorCode.BadRequest);
    const produceUnknown = await client.request('rtc:produce', {
      meetingId,
      transportId: randomUUID(),
      kind: 'audio',
      rtpParameters: opusRtpParameters(caps),
    });
    expect(produceUnknown.code).toBe(ErrorCode.TransportNotFound);
    const kindMismatch = await client.request('rtc:produce', {
      meetingId,
      transportId: send.transportId,
      kind: 'video',
      rtpParameters: opusRtpParameters(caps),
    });
    expect(kindMismatch.code).toBe(ErrorCode.BadRequest);
    const unsupportedCodec = await client.request('rtc:produce', {
      meetingId,
      transportId: send.transportId,
      kind: 'audio',
      rtpParameters: {
        codecs: [{ mimeType: 'audio/ISAC', payloadType: 103, clockRate: 16000 }],
        encodings: [{ ssrc: 1111 }],
      },
    });
    expect(unsupportedCodec.code).toBe(ErrorCode.BadRequest);
    expect(unsupportedCodec.error).toContain('rtpParameters rejected');

    const consumeUnknown = await client.request('rtc:consume', {
      meetingId,
      producerId: randomUUID(),
      rtpCapabilities,
    });
    expect(consumeUnknown.code).toBe(ErrorCode.ProducerNotFound);
    const resumeUnknown = await client.request('rtc:resumeConsumer', { meetingId, consumerId: randomUUID() });
    expect(resumeUnknown.code).toBe(ErrorCode.ConsumerNotFound);
    const layersUnknown = await client.request('rtc:setPreferredLayers', {
      meetingId,
      consumerId: randomUUID(),
      spatialLayer: 1,
    });
    expect(layersUnknown.code).toBe(ErrorCode.ConsumerNotFound);
    for (const type of ['rtc:pauseProducer', 'rtc:resumeProducer', 'rtc:closeProducer']) {
      expect((await client.request(type, { meetingId, producerId: randomUUID() })).code).toBe(
        ErrorCode.ProducerNotFound,
      );
    }
  });

  it('does not let a peer touch another peer transport or producer', async () => {
    const meetingId = randomUUID();
    const alice = await joinWithTransports(meetingId);
    const { audioId } = await produceAudioAndVideo(alice);
    const bob = await joinWithTransports(meetingId);
    const foreignTransport = await bob.client.request('rtc:produce', {
      meetingId,
      transportId: alice.sendTransportId,
      kind: 'audio',
      rtpParameters: opusRtpParameters(bob.caps),
    });
    expect(foreignTransport.code).toBe(ErrorCode.TransportNotFound);
    const foreignProducer = await bob.client.request('rtc:closeProducer', { meetingId, producerId: audioId });
    expect(foreignProducer.code).toBe(ErrorCode.ProducerNotFound);
    // setPreferredLayers on a simple (audio) consumer
    const audio = await bob.client.ok('rtc:consume', { meetingId, producerId: audioId, rtpCapabilities: bob.caps });
    const notSimulcast = await bob.client.request('rtc:setPreferredLayers', {
      meetingId,
      consumerId: audio.consumerId,
      spatialLayer: 1,
    });
    expect(notSimulcast.code).toBe(ErrorCode.BadRequest);
  });

  it('answers consume with incompatible capabilities with 40001 naming the codec', async () => {
    const meetingId = randomUUID();
    const alice = await joinWithTransports(meetingId);
    const { videoId } = await produceAudioAndVideo(alice);
    const bob = await joinWithTransports(meetingId);
    const reply = await bob.client.request('rtc:consume', {
      meetingId,
      producerId: videoId,
      rtpCapabilities: onlyCodecs(bob.caps, ['audio/opus', 'video/H264']),
    });
    expect(reply).toMatchObject({ type: 'rtc:error', code: ErrorCode.BadRequest, requestType: 'rtc:consume' });
    expect(reply.error).toContain('video/VP8');
  });

  it('answers a frame nested thousands deep with 40001, keeps the socket and keeps serving everyone', async () => {
    const meetingId = randomUUID();
    const other = await harness.join({ userId: `u-${randomUUID()}`, meetingId });
    const client = await harness.connect({ userId: `u-${randomUUID()}`, meetingId });
    const depth = 5000;
    const rtpParameters = '{"codecs":[{"mimeType":"audio/opus","payloadType":100,"clockRate":48000}]}';
    const frame =
      `{"type":"rtc:produce","requestId":"deep","data":{"meetingId":"${meetingId}","transportId":"t",` +
      `"kind":"audio","rtpParameters":${rtpParameters},"appData":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}}`;
    expect(frame.length).toBeLessThan(MAX_FRAME_BYTES);
    client.sendRaw(frame);
    // the same, nested through objects
    client.sendRaw(`{"type":"rtc:join","data":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`);
    const tooDeep = (m: { type: string; code?: number; error?: string }) =>
      m.type === 'rtc:error' && m.code === ErrorCode.BadRequest && (m.error ?? '').includes('nested');
    await client.waitFor((m) => tooDeep(m) && client.received.filter(tooDeep).length === 2);
    expect(client.received.filter(tooDeep)[0]?.error).toContain(String(MAX_JSON_DEPTH));
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    // the same socket, another peer and a new client are all still served
    expect((await client.request('rtc:join', { meetingId })).type).toBe('rtc:joined');
    expect((await other.client.request('rtc:getRouterRtpCapabilities', { meetingId })).type).toBe(
      'rtc:routerRtpCapabilities',
    );
    const fresh = await harness.join({ userId: `u-${randomUUID()}`, meetingId });
    expect(fresh.peers).toHaveLength(2);
  });

  it('turns an unexpected throw while handling a frame into 50001, socket and process alive', async () => {
    const meetingId = randomUUID();
    const client = await harness.connect({ userId: `u-${randomUUID()}`, meetingId });
    const metrics = harness.host.metrics;
    const countMessage = metrics.message;
    let injected = 0;
    // a fault inside the frame handler, where nothing used to catch it
    metrics.message = (type) => {
      if (injected++ === 0) throw new Error('injected fault');
      countMessage(type);
    };
    try {
      client.sendRaw(JSON.stringify({ type: 'rtc:getRouterRtpCapabilities', data: { meetingId }, requestId: 'f1' }));
      const failed = await client.waitFor((m) => m.type === 'rtc:error');
      expect(failed).toMatchObject({ code: ErrorCode.Internal });
      expect(injected).toBe(1);
    } finally {
      metrics.message = countMessage;
    }
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    expect((await client.request('rtc:join', { meetingId })).type).toBe('rtc:joined');
  });

  it('answers rtc:consume racing the producer close with 40403 and keeps no consumer', async () => {
    const meetingId = randomUUID();
    const alice = await joinWithTransports(meetingId);
    const { audioId, videoId } = await produceAudioAndVideo(alice);
    const bob = await joinWithTransports(meetingId);
    const room = harness.host.rooms.get(meetingId);
    const bobPeer = room?.peers.get(bob.peerId);
    const transport = bobPeer?.transports.get(bob.recvTransportId);
    if (!room || !bobPeer || !transport) throw new Error('no room state');
    const consume = transport.consume.bind(transport);
    const race = async (producerId: string, when: 'before' | 'during') => {
      const producer = room.findProducer(producerId)?.producer;
      if (!producer) throw new Error('no producer');
      transport.consume = (options) => {
        if (when === 'before') producer.close();
        const creating = consume(options);
        // the worker is already creating the consumer when the producer goes
        if (when === 'during') producer.close();
        return creating;
      };
      try {
        return await bob.client.request('rtc:consume', { meetingId, producerId, rtpCapabilities: bob.caps });
      } finally {
        transport.consume = consume;
      }
    };
    for (const [producerId, when] of [
      [audioId, 'during'],
      [videoId, 'before'],
    ] as const) {
      const reply = await race(producerId, when);
      expect(reply, when).toMatchObject({
        type: 'rtc:error',
        code: ErrorCode.ProducerNotFound,
        requestType: 'rtc:consume',
      });
      expect(bobPeer.consumers.size, when).toBe(0);
    }
    expect((await bob.client.request('rtc:getRouterRtpCapabilities', { meetingId })).type).toBe(
      'rtc:routerRtpCapabilities',
    );
  });

  it('answers rtc:resumeConsumer racing the producer close with 40404, not 50001', async () => {
    const meetingId = randomUUID();
    const alice = await joinWithTransports(meetingId);
    const { videoId } = await produceAudioAndVideo(alice);
    const bob = await joinWithTransports(meetingId);
    const consumed = await bob.client.ok('rtc:consume', { meetingId, producerId: videoId, rtpCapabilities: bob.caps });
    const room = harness.host.rooms.get(meetingId);
    const consumerId = String(consumed.consumerId);
    const consumer = room?.peers.get(bob.peerId)?.consumers.get(consumerId);
    const producer = room?.findProducer(videoId)?.producer;
    if (!consumer || !producer) throw new Error('no room state');
    const resume = consumer.resume.bind(consumer);
    // the producer goes just before the worker gets the resume (its close reaches Node later)
    consumer.resume = () => {
      producer.close();
      return resume();
    };
    const reply = await bob.client.request('rtc:resumeConsumer', { meetingId, consumerId });
    expect(reply).toMatchObject({
      type: 'rtc:error',
      code: ErrorCode.ConsumerNotFound,
      requestType: 'rtc:resumeConsumer',
    });
  });

  it('closes the socket with 1009 on an oversized frame, other peers unaffected', async () => {
    const meetingId = randomUUID();
    const other = await harness.join({ userId: `u-${randomUUID()}`, meetingId });
    const client = await harness.connect({ userId: `u-${randomUUID()}`, meetingId });
    client.sendRaw(JSON.stringify({ type: 'rtc:join', data: { meetingId, pad: 'x'.repeat(MAX_FRAME_BYTES) } }));
    const closed = await client.closed;
    expect(closed.code).toBe(CloseCode.MessageTooBig);
    expect((await other.client.request('rtc:getRouterRtpCapabilities', { meetingId })).type).toBe(
      'rtc:routerRtpCapabilities',
    );
  });

  it('lets __proto__ in appData pollute nothing', async () => {
    const meetingId = randomUUID();
    const alice = await joinWithTransports(meetingId);
    const bob = await harness.join({ userId: `bob-${randomUUID()}`, meetingId });
    const rtpParameters = opusRtpParameters(alice.caps);
    const frame =
      '{"type":"rtc:produce","requestId":"p1","data":{"meetingId":"' +
      meetingId +
      '","transportId":"' +
      alice.sendTransportId +
      '","kind":"audio","rtpParameters":' +
      JSON.stringify(rtpParameters) +
      ',"appData":{"source":"mic","__proto__":{"polluted":"yes","isAdmin":true},' +
      '"constructor":{"prototype":{"polluted":"yes"}},"nested":{"__proto__":{"polluted":"yes"}}}},' +
      '"__proto__":{"polluted":"yes"}}';
    alice.client.sendRaw(frame);
    const reply = await alice.client.waitFor((m) => m.requestId === 'p1');
    expect(reply.type).toBe('rtc:produced');
    const announced = await bob.client.waitFor('rtc:newProducer');
    expect(announced.data?.appData).toEqual({ source: 'mic', nested: {} });
    const probe: Record<string, unknown> = {};
    expect(probe.polluted).toBeUndefined();
    expect(probe.isAdmin).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    const producer = harness.host.rooms.get(meetingId)?.findProducer(reply.data?.producerId as string)?.producer;
    expect(Object.getPrototypeOf(producer?.appData)).toBe(Object.prototype);
    expect(Object.keys(producer?.appData ?? {})).toEqual(['source', 'nested']);
  });

  it('turns mediasoup worker failures into 50001 and keeps serving', async () => {
    const meetingId = randomUUID();
    const alice = await joinWithTransports(meetingId);
    const rtpParameters = opusRtpParameters(alice.caps);
    await alice.client.ok('rtc:produce', {
      meetingId,
      transportId: alice.sendTransportId,
      kind: 'audio',
      rtpParameters,
    });
    // The worker refuses a second stream with the same SSRC on one transport.
    const reply = await alice.client.request('rtc:produce', {
      meetingId,
      transportId: alice.sendTransportId,
      kind: 'audio',
      rtpParameters: { ...rtpParameters, mid: '7' },
    });
    expect(reply).toMatchObject({ type: 'rtc:error', code: ErrorCode.Internal, error: 'Internal server error' });
    expect((await alice.client.request('rtc:getRouterRtpCapabilities', { meetingId })).type).toBe(
      'rtc:routerRtpCapabilities',
    );
  });
});
