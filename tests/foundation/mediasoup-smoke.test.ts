// The installed worker runs: a WebRtcServer, a router with the codecs the
// media host uses, and a WebRtcTransport on that server.

import type { types } from 'mediasoup';
import * as mediasoup from 'mediasoup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mediaCodecs } from '../../media-host/media-settings.js';

describe('mediasoup worker install', () => {
  let worker: types.Worker;

  beforeAll(async () => {
    worker = await mediasoup.createWorker({ logLevel: 'warn' });
  });
  afterAll(() => worker?.close());

  it('runs the pinned mediasoup version', () => {
    expect(mediasoup.version).toBe('3.19.3');
    expect(worker.pid).toBeGreaterThan(0);
  });

  it('creates a WebRtcServer, a router with the media-host codecs (opus, VP8, VP9, H264) and a WebRtcTransport', async () => {
    const webRtcServer = await worker.createWebRtcServer({
      listenInfos: [
        { protocol: 'udp', ip: '127.0.0.1', port: 0 },
        { protocol: 'tcp', ip: '127.0.0.1', port: 0 },
      ],
    });
    const router = await worker.createRouter({ mediaCodecs });
    const mimeTypes = router.rtpCapabilities.codecs?.map((codec) => codec.mimeType) ?? [];
    expect(mimeTypes).toEqual(expect.arrayContaining(['audio/opus', 'video/VP8', 'video/VP9', 'video/H264']));
    const h264ProfileLevelIds = router.rtpCapabilities.codecs
      ?.filter((codec) => codec.mimeType === 'video/H264')
      .map((codec) => codec.parameters?.['profile-level-id']);
    expect(h264ProfileLevelIds).toEqual(expect.arrayContaining(['42e01f', '4d001f']));

    const transport = await router.createWebRtcTransport({ webRtcServer });
    expect(transport.iceCandidates.map((c) => c.protocol).sort()).toEqual(['tcp', 'udp']);
    expect(transport.dtlsParameters.fingerprints.some((f) => f.algorithm === 'sha-256')).toBe(true);

    const serverDump = await webRtcServer.dump();
    expect(serverDump.webRtcTransportIds).toContain(transport.id);

    router.close();
    expect(transport.closed).toBe(true);
    expect((await webRtcServer.dump()).webRtcTransportIds).toEqual([]);
    webRtcServer.close();
  });
});
