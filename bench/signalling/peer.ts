// The benchmark's signalling peer: a minimal client that times every
// request, and the contract's join sequence with RTP parameters derived from
// the router's capabilities. Runs in the client worker thread.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

export interface Reply {
  type: string;
  requestId?: string;
  data?: Record<string, unknown>;
  code?: number;
  error?: string;
}

type Caps = { codecs?: Record<string, unknown>[]; headerExtensions?: Record<string, unknown>[] };

// ---- a minimal signalling client ----

export class BenchClient {
  readonly latencies = new Map<string, number[]>();
  rateLimited = 0;
  #next = 0;
  #pending = new Map<string, (reply: Reply) => void>();
  #onBroadcast: (message: Reply) => void = () => {};

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Reply;
      const resolve = message.requestId ? this.#pending.get(message.requestId) : undefined;
      if (resolve && message.requestId) {
        this.#pending.delete(message.requestId);
        resolve(message);
      } else {
        this.#onBroadcast(message);
      }
    });
  }

  static open(url: string): Promise<BenchClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(new BenchClient(ws)));
      ws.once('error', reject);
    });
  }

  onBroadcast(listener: (message: Reply) => void): void {
    this.#onBroadcast = listener;
  }

  /**
   * One request; 42901 answers are counted and retried after a pause (what an SDK would do).
   * `encodedData`: `data` already as JSON, so the client thread (which shares this machine's
   * two cores with the host) does not serialise the same 4.5 KB capabilities for every consume.
   */
  async call(type: string, data: Record<string, unknown>, encodedData?: string): Promise<Record<string, unknown>> {
    for (;;) {
      const requestId = `q${this.#next++}`;
      const frame =
        encodedData === undefined
          ? JSON.stringify({ type, data, requestId })
          : `{"type":${JSON.stringify(type)},"requestId":${JSON.stringify(requestId)},"data":${encodedData}}`;
      const started = performance.now();
      const reply = await new Promise<Reply>((resolve) => {
        this.#pending.set(requestId, resolve);
        this.ws.send(frame);
      });
      const elapsed = performance.now() - started;
      if (reply.type === 'rtc:error' && reply.code === 42901) {
        this.rateLimited++;
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      record(this.latencies, type, elapsed);
      if (reply.type === 'rtc:error') throw new Error(`${type}: ${reply.code} ${reply.error}`);
      return reply.data ?? {};
    }
  }

  close(): void {
    this.ws.close();
  }
}

export function record(map: Map<string, number[]>, key: string, value: number): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

// ---- RTP parameters from the router's capabilities ----

function codec(caps: Caps, mimeType: string) {
  const found = caps.codecs?.find((c) => c.mimeType === mimeType) as Record<string, unknown> | undefined;
  if (!found) throw new Error(`no ${mimeType}`);
  return {
    mimeType,
    payloadType: found.preferredPayloadType,
    clockRate: found.clockRate,
    ...(found.channels ? { channels: found.channels } : {}),
    parameters: found.parameters ?? {},
    rtcpFeedback: found.rtcpFeedback ?? [],
  };
}

function extension(caps: Caps, kind: string, uri: string) {
  const found = caps.headerExtensions?.find((h) => h.uri === uri && h.kind === kind);
  return { uri, id: found?.preferredId };
}

let ssrc = 1000;
function audioParameters(caps: Caps) {
  return {
    mid: '0',
    codecs: [codec(caps, 'audio/opus')],
    headerExtensions: [extension(caps, 'audio', 'urn:ietf:params:rtp-hdrext:sdes:mid')],
    encodings: [{ ssrc: ssrc++ }],
    rtcp: { cname: randomUUID().slice(0, 8), reducedSize: true },
  };
}

function videoParameters(caps: Caps) {
  return {
    mid: '1',
    codecs: [codec(caps, 'video/VP8')],
    headerExtensions: [
      extension(caps, 'video', 'urn:ietf:params:rtp-hdrext:sdes:mid'),
      extension(caps, 'video', 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id'),
    ],
    encodings: ['r0', 'r1', 'r2'].map((rid, i) => ({ rid, scalabilityMode: 'S1T3', maxBitrate: [1e5, 3e5, 1.5e6][i] })),
    rtcp: { cname: randomUUID().slice(0, 8), reducedSize: true },
  };
}

const dtlsParameters = {
  role: 'client',
  fingerprints: [{ algorithm: 'sha-256', value: Array.from({ length: 32 }, () => 'AB').join(':') }],
};

// ---- one peer's session ----

export interface PeerResult {
  client: BenchClient;
  connectMs: number;
  /** join -> produce video */
  ownSequenceMs: number;
  /** connect -> last resume of everyone's producers */
  fullMeshMs: number;
}

export async function runPeer(
  wsUrl: string,
  token: string,
  meetingId: string,
  expectedProducers: number,
  pipelineConsumes = false,
): Promise<PeerResult> {
  const started = performance.now();
  const client = await BenchClient.open(`${wsUrl}?token=${token}`);
  const connectMs = performance.now() - started;
  const known: string[] = [];
  const wake: (() => void)[] = [];
  client.onBroadcast((message) => {
    if (message.type === 'rtc:newProducer') {
      known.push(message.data?.producerId as string);
      for (const resolve of wake.splice(0)) resolve();
    }
  });
  const sequenceStart = performance.now();
  const joined = await client.call('rtc:join', { meetingId });
  for (const peer of joined.peers as { producers: { id: string }[] }[]) {
    for (const producer of peer.producers) known.push(producer.id);
  }
  const { rtpCapabilities } = await client.call('rtc:getRouterRtpCapabilities', { meetingId });
  const caps = rtpCapabilities as Caps;
  const send = await client.call('rtc:createTransport', { meetingId, direction: 'send' });
  const recv = await client.call('rtc:createTransport', { meetingId, direction: 'recv' });
  await client.call('rtc:connectTransport', { meetingId, transportId: send.transportId, dtlsParameters });
  await client.call('rtc:connectTransport', { meetingId, transportId: recv.transportId, dtlsParameters });
  await client.call('rtc:produce', {
    meetingId,
    transportId: send.transportId,
    kind: 'audio',
    rtpParameters: audioParameters(caps),
  });
  await client.call('rtc:produce', {
    meetingId,
    transportId: send.transportId,
    kind: 'video',
    rtpParameters: videoParameters(caps),
  });
  const ownSequenceMs = performance.now() - sequenceStart;

  const capabilitiesJson = JSON.stringify(rtpCapabilities);
  const consumeOne = async (producerId: string) => {
    const data = { meetingId, producerId, rtpCapabilities };
    const encoded = `{"meetingId":${JSON.stringify(meetingId)},"producerId":${JSON.stringify(producerId)},"rtpCapabilities":${capabilitiesJson}}`;
    const consumed = await client.call('rtc:consume', data, encoded);
    await client.call('rtc:resumeConsumer', { meetingId, consumerId: consumed.consumerId });
  };
  let done = 0;
  while (done < expectedProducers) {
    if (done === known.length) {
      await new Promise<void>((resolve) => wake.push(resolve));
      continue;
    }
    const batch = known.slice(done);
    done = known.length;
    if (pipelineConsumes) await Promise.all(batch.map(consumeOne));
    else for (const producerId of batch) await consumeOne(producerId);
  }
  return { client, connectMs, ownSequenceMs, fullMeshMs: performance.now() - started };
}
