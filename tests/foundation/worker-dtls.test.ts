// The crash this guards against: a worker linked to Debian's libssl3 dies in
// SSL_read -> do_dtls1_write on the first real DTLS handshake with Chromium.
// Synthetic RTP tests pass with that build, so this test uses a real browser:
// ICE + DTLS + SRTP from Chromium through a WebRtcServer, and back out.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import type { types } from 'mediasoup';
import * as mediasoup from 'mediasoup';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { launchChromium } from '../support/chromium.js';

describe('worker DTLS handshake with real Chromium', () => {
  let worker: types.Worker;
  let workerDied: Error | undefined;
  let server: http.Server;
  let browser: Browser;
  let pageScript: string;
  const producers: types.Producer[] = [];
  const consumers: types.Consumer[] = [];

  beforeAll(async () => {
    const bundle = await esbuild.build({
      entryPoints: [fileURLToPath(new URL('./fixtures/dtls-page.ts', import.meta.url))],
      bundle: true,
      write: false,
      format: 'iife',
      platform: 'browser',
      logLevel: 'silent',
    });
    pageScript = bundle.outputFiles[0]!.text;

    worker = await mediasoup.createWorker({ logLevel: 'warn' });
    worker.on('died', (error) => {
      workerDied = error;
    });
    const webRtcServer = await worker.createWebRtcServer({
      listenInfos: [
        { protocol: 'udp', ip: '127.0.0.1', port: 0 },
        { protocol: 'tcp', ip: '127.0.0.1', port: 0 },
      ],
    });
    const router = await worker.createRouter({
      mediaCodecs: [
        { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
        { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
      ],
    });
    const transports = new Map<string, types.WebRtcTransport>();

    server = http.createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><html><body><script>${pageScript}</script></body></html>`);
    });
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws: WebSocket) =>
      ws.on('message', async (raw) => {
        const { type, data, requestId } = JSON.parse(String(raw));
        try {
          let out: unknown = {};
          if (type === 'caps') out = { rtpCapabilities: router.rtpCapabilities };
          if (type === 'createTransport') {
            const t = await router.createWebRtcTransport({ webRtcServer });
            transports.set(t.id, t);
            out = {
              id: t.id,
              iceParameters: t.iceParameters,
              iceCandidates: t.iceCandidates,
              dtlsParameters: t.dtlsParameters,
            };
          }
          if (type === 'connect')
            await transports.get(data.transportId)!.connect({ dtlsParameters: data.dtlsParameters });
          if (type === 'produce') {
            const p = await transports
              .get(data.transportId)!
              .produce({ kind: data.kind, rtpParameters: data.rtpParameters });
            producers.push(p);
            out = { id: p.id };
          }
          if (type === 'consume') {
            while (!producers.some((p) => p.kind === 'video')) await new Promise((r) => setTimeout(r, 20));
            const video = producers.find((p) => p.kind === 'video')!;
            const c = await transports.get(data.transportId)!.consume({
              producerId: video.id,
              rtpCapabilities: data.rtpCapabilities,
              paused: true,
            });
            consumers.push(c);
            out = { id: c.id, producerId: video.id, kind: c.kind, rtpParameters: c.rtpParameters };
          }
          if (type === 'resume') await consumers.find((c) => c.id === data.consumerId)!.resume();
          ws.send(JSON.stringify({ requestId, data: out }));
        } catch (error) {
          ws.send(JSON.stringify({ requestId, error: String(error) }));
        }
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    server?.close();
    worker?.close();
  });

  it('completes ICE + DTLS with SRTP, carries video both ways, and the worker survives', async () => {
    const port = (server.address() as AddressInfo).port;
    const url = `http://127.0.0.1:${port}/`;
    const wsUrl = `ws://127.0.0.1:${port}/`;
    const sender = await (await browser.newContext()).newPage();
    const receiver = await (await browser.newContext()).newPage();
    await sender.goto(url);
    await receiver.goto(url);

    const [sent, received] = await Promise.all([
      sender.evaluate((u) => window.runDtlsCheck('send', u), wsUrl),
      receiver.evaluate((u) => window.runDtlsCheck('recv', u), wsUrl),
    ]);

    expect(sent.dtlsState).toBe('connected');
    expect(received.dtlsState).toBe('connected');
    expect(String(sent.srtpCipher)).toMatch(/AES|AEAD/);
    expect(received.width).toBeGreaterThan(0);
    const consumerStats = await consumers[0]!.getStats();
    expect(consumerStats.some((s) => s.type === 'outbound-rtp' && s.packetCount > 0)).toBe(true);
    expect(workerDied).toBeUndefined();
    expect(worker.died).toBe(false);
  }, 60_000);
});
