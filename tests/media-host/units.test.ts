// Small pieces on their own: configuration, throttling retry, store results
// against DynamoDB Local.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadMediaHostConfig } from '../../media-host/config.js';
import { LeaveRecorder } from '../../media-host/leave-recorder.js';
import { retryOnThrottling } from '../../media-host/store/dynamo-client.js';
import { createMediaHostStores, type MediaHostStores } from '../../media-host/store/index.js';
import { UsedTokens } from '../../media-host/used-tokens.js';
import { silentLogger } from '../../shared/logger.js';
import { announcedProducers } from '../../shared/protocol/rate-limit.js';
import {
  appDataSchema,
  JsonTooDeepError,
  MAX_APP_DATA_BYTES,
  MAX_JSON_DEPTH,
  parseJsonSafely,
  rtpCapabilitiesSchema,
} from '../../shared/protocol/signalling.js';
import { createTestTables, type TestTables } from '../support/dynamo.js';
import { tableItems } from './support/items.js';

const PEM = '-----BEGIN PUBLIC KEY-----\\nMFkw\\n-----END PUBLIC KEY-----';

describe('loadMediaHostConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadMediaHostConfig({ CONTROL_PUBLIC_KEY: PEM, AWS_REGION: 'eu-west-1' });
    expect(config).toMatchObject({
      listenHost: '0.0.0.0',
      port: 8090,
      publicSignalingUrl: 'ws://127.0.0.1:8090',
      adminUrl: 'http://127.0.0.1:8090',
      rtc: { listenIp: '0.0.0.0', announcedAddress: '127.0.0.1', portBase: 40000 },
      controlIssuer: 'rtc-control-plane',
      allowedOrigins: [],
      aws: { region: 'eu-west-1' },
      capacityMeetings: 100,
      hostRegion: 'eu-west-1',
      drainDeadlineMs: 600_000,
      heartbeatIntervalMs: 5_000,
    });
    expect(config.controlPublicKeyPem).toBe('-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----');
    expect(config.numWorkers).toBeGreaterThanOrEqual(1);
  });

  it('reads every variable and rejects bad values', () => {
    const config = loadMediaHostConfig({
      CONTROL_PUBLIC_KEY: PEM,
      HOST_ID: 'h1',
      PORT: '9000',
      RTC_PORT_BASE: '50000',
      NUM_WORKERS: '3',
      ALLOWED_ORIGINS: 'https://a.example, https://b.example',
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
      TABLE_MEETINGS: 'm',
      TABLE_HOSTS: 'h',
      HOST_ZONE: 'z1',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      hostId: 'h1',
      port: 9000,
      rtc: { portBase: 50000 },
      numWorkers: 3,
      allowedOrigins: ['https://a.example', 'https://b.example'],
      aws: { endpoint: 'http://127.0.0.1:8000' },
      tables: { meetings: 'm', hosts: 'h' },
      hostZone: 'z1',
      logLevel: 'debug',
    });
    expect(() => loadMediaHostConfig({})).toThrow(ConfigError);
    expect(() => loadMediaHostConfig({ CONTROL_PUBLIC_KEY: PEM, NUM_WORKERS: '0' })).toThrow(ConfigError);
    expect(() => loadMediaHostConfig({ CONTROL_PUBLIC_KEY: PEM, PORT: 'x' })).toThrow(ConfigError);
    expect(() => loadMediaHostConfig({ CONTROL_PUBLIC_KEY: PEM, LOG_LEVEL: 'loud' })).toThrow(ConfigError);
  });
});

describe('parseJsonSafely', () => {
  it('drops prototype keys, spelled plainly, spaced or \\u-escaped, and keeps look-alike values', () => {
    const parse = (text: string) => parseJsonSafely(text) as Record<string, unknown>;
    expect(parse('{"__proto__":{"a":1},"b":2}')).toEqual({ b: 2 });
    expect(parse('{"\\u005f_proto__":{"a":1},"c":3}')).toEqual({ c: 3 });
    expect(parse('{"x":{"constructor" :{"prototype":{"p":1}}}}')).toEqual({ x: {} });
    expect(parse('{"s":"constructor","t":"\\"prototype\\":"}')).toEqual({ s: 'constructor', t: '"prototype":' });
    expect(({} as Record<string, unknown>).a).toBeUndefined();
  });

  it(`refuses JSON nested deeper than ${MAX_JSON_DEPTH} levels without recursing, and counts only structure`, () => {
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    expect(parseJsonSafely(nested(MAX_JSON_DEPTH))).toBeInstanceOf(Array);
    expect(() => parseJsonSafely(nested(MAX_JSON_DEPTH + 1))).toThrow(JsonTooDeepError);
    // far deeper than any recursion could go; objects count like arrays
    expect(() => parseJsonSafely(nested(200_000))).toThrow(JsonTooDeepError);
    expect(() => parseJsonSafely(`${'{"a":'.repeat(MAX_JSON_DEPTH + 1)}1${'}'.repeat(MAX_JSON_DEPTH + 1)}`)).toThrow(
      JsonTooDeepError,
    );
    // brackets inside strings (escaped quotes included) are not nesting; the reviver path is guarded too
    const inString = String.raw`{"s":"\"${'['.repeat(100)}","t":"\u005f"}`;
    expect(parseJsonSafely(inString)).toEqual({ s: `"${'['.repeat(100)}`, t: '_' });
    expect(() => parseJsonSafely(String.raw`{"\u005f":${nested(MAX_JSON_DEPTH)}}`)).toThrow(JsonTooDeepError);
    // an escaped backslash before a quote ends the string: what follows is structure again
    expect(() => parseJsonSafely(String.raw`{"s":"\\","t":${nested(MAX_JSON_DEPTH)}}`)).toThrow(JsonTooDeepError);
    expect(parseJsonSafely(String.raw`{"s":"\\\"${'['.repeat(40)}"}`)).toEqual({ s: `\\"${'['.repeat(40)}` });
  });
});

describe('announcedProducers (rate-limit credit)', () => {
  it('counts the producers rtc:joined lists and one per rtc:newProducer, nothing else', () => {
    const peers = [{ producers: [{ id: 'a' }, { id: 'b' }] }, { producers: [] }, { producers: [{ id: 'c' }] }];
    expect(announcedProducers({ type: 'rtc:joined', data: { peerId: 'p', peers } })).toBe(3);
    expect(announcedProducers({ type: 'rtc:newProducer', data: {} })).toBe(1);
    expect(announcedProducers({ type: 'rtc:peerJoined', data: {} })).toBe(0);
    expect(announcedProducers({ type: 'rtc:joined', data: { peers: 'not a list' } })).toBe(0);
    expect(announcedProducers({ type: 'rtc:joined' })).toBe(0);
  });
});

describe('rtpCapabilitiesSchema', () => {
  const withParameters = (parameters: unknown) => ({
    codecs: [{ kind: 'video', mimeType: 'video/H264', clockRate: 90000, parameters }],
  });

  it('takes codec parameters only as a flat map of strings and numbers', () => {
    expect(
      rtpCapabilitiesSchema.safeParse(withParameters({ 'packetization-mode': 1, 'profile-level-id': '42e01f' }))
        .success,
    ).toBe(true);
    expect(rtpCapabilitiesSchema.safeParse(withParameters(undefined)).success).toBe(true);
    for (const bad of [null, [], 'x', { apt: [96] }, { nested: { a: 1 } }, { flag: true }]) {
      expect(rtpCapabilitiesSchema.safeParse(withParameters(bad)).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('appDataSchema', () => {
  it(`limits appData to ${MAX_APP_DATA_BYTES} bytes of UTF-8 JSON, not UTF-16 units`, () => {
    // 400 euro signs: ~410 UTF-16 units but ~1210 bytes on the wire
    expect(appDataSchema.safeParse({ label: '€'.repeat(400) }).success).toBe(false);
    expect(appDataSchema.safeParse({ label: '😀'.repeat(300) }).success).toBe(false);
    expect(appDataSchema.safeParse({ label: '€'.repeat(330) }).success).toBe(true);
    expect(appDataSchema.safeParse({ label: 'x'.repeat(MAX_APP_DATA_BYTES - 12) }).success).toBe(true);
    expect(appDataSchema.safeParse({ label: 'x'.repeat(MAX_APP_DATA_BYTES) }).success).toBe(false);
  });
});

describe('retryOnThrottling', () => {
  const throttle = () => Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' });

  it('retries throttling with growing delays, then succeeds', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await retryOnThrottling(
      async () => {
        calls++;
        if (calls < 4) throw throttle();
        return 'done';
      },
      { attempts: 6, baseDelayMs: 100, maxDelayMs: 250, sleep: async (ms) => void delays.push(ms), random: () => 1 },
    );
    expect(result).toBe('done');
    expect(delays).toEqual([100, 200, 250]);
  });

  it('gives up after the attempts and never retries other errors', async () => {
    let calls = 0;
    const options = { attempts: 3, baseDelayMs: 1, maxDelayMs: 1, sleep: async () => {} };
    await expect(
      retryOnThrottling(async () => {
        calls++;
        throw throttle();
      }, options),
    ).rejects.toThrow('slow down');
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      retryOnThrottling(async () => {
        calls++;
        throw new Error('boom');
      }, options),
    ).rejects.toThrow('boom');
    expect(calls).toBe(1);
  });
});

describe('used tokens (single use)', () => {
  const startMs = 1_800_000_000_000;
  const startSeconds = startMs / 1000;

  it('accepts a jti once, until it may be forgotten', () => {
    let nowMs = startMs;
    const used = new UsedTokens({ clock: { now: () => nowMs } });
    const token = { jti: randomUUID(), iat: startSeconds };
    expect(used.use(token, startSeconds + 65)).toBe('fresh');
    expect(used.use(token, startSeconds + 65)).toBe('replayed');
    nowMs += 64_000;
    expect(used.use(token, startSeconds + 65)).toBe('replayed');
    // past exp + tolerance the token can no longer verify, so the entry goes
    nowMs += 2_000;
    expect(used.use({ jti: randomUUID(), iat: startSeconds + 66 }, startSeconds + 131)).toBe('fresh');
    expect(used.size).toBe(1);
  });

  it('refuses tokens issued before the process started, or without iat', () => {
    const used = new UsedTokens({ clock: { now: () => startMs + 500 } });
    expect(used.use({ jti: randomUUID(), iat: startSeconds - 1 }, startSeconds + 60)).toBe('issued-before-start');
    expect(used.use({ jti: randomUUID() }, startSeconds + 60)).toBe('issued-before-start');
    expect(used.use({ jti: randomUUID(), iat: startSeconds }, startSeconds + 60)).toBe('fresh');
  });

  it('refuses a token whose entry would already be forgotten (checked just before exp, used just after)', () => {
    let nowMs = startMs;
    const used = new UsedTokens({ clock: { now: () => nowMs } });
    const token = { jti: randomUUID(), iat: startSeconds + 1 };
    nowMs = startMs + 19_900;
    expect(used.use(token, startSeconds + 20)).toBe('fresh');
    nowMs = startMs + 20_000;
    expect(used.use(token, startSeconds + 20)).toBe('expired');
    nowMs = startMs + 25_000;
    expect(used.use(token, startSeconds + 20)).toBe('expired');
  });

  it('fails closed when full of unexpired tokens', () => {
    const used = new UsedTokens({ clock: { now: () => startMs }, maxEntries: 2 });
    expect(used.use({ jti: 'a', iat: startSeconds }, startSeconds + 60)).toBe('fresh');
    expect(used.use({ jti: 'b', iat: startSeconds }, startSeconds + 60)).toBe('fresh');
    expect(used.use({ jti: 'c', iat: startSeconds }, startSeconds + 60)).toBe('full');
    expect(used.use({ jti: 'a', iat: startSeconds }, startSeconds + 60)).toBe('replayed');
  });
});

describe('stores on DynamoDB Local', () => {
  let tables: TestTables;
  let stores: MediaHostStores;

  beforeAll(async () => {
    tables = await createTestTables();
    stores = createMediaHostStores({ region: tables.region, endpoint: tables.endpoint }, tables.names);
  });

  afterAll(() => stores?.destroy());

  it('sets left_at only on an existing participant without one, off the caller path', async () => {
    const items = tableItems(tables);
    const meetingId = randomUUID();
    await items.putParticipant(meetingId, 'p', { joined_at: '2025-12-31T23:00:00.000Z' });
    expect(await stores.participants.markLeft(meetingId, 'p', '2026-01-01T00:00:00.000Z')).toBe('updated');
    expect(await stores.participants.markLeft(meetingId, 'p', '2026-02-02T00:00:00.000Z')).toBe('unchanged');
    expect(await stores.participants.markLeft(meetingId, 'ghost', '2026-01-01T00:00:00.000Z')).toBe('unchanged');
    expect((await items.participant(meetingId, 'p'))?.left_at).toBe('2026-01-01T00:00:00.000Z');
    expect(await items.participant(meetingId, 'ghost')).toBeUndefined();

    // the recorder never throws into the caller, even when the store fails
    const failing = new LeaveRecorder(
      { markLeft: () => Promise.reject(new Error('dynamo down')) },
      { now: () => 0 },
      silentLogger,
    );
    expect(() => failing.record(meetingId, 'p')).not.toThrow();
    await failing.settled();
    items.destroy();
  });

  it('never marks a participant left before they (re)joined: a late write loses to the rejoin', async () => {
    const items = tableItems(tables);
    const meetingId = randomUUID();
    // the control plane's rejoin REMOVEd left_at and set a joined_at later than the delayed leave
    await items.putParticipant(meetingId, 'rejoined', { joined_at: '2026-03-01T10:00:05.000Z' });
    expect(await stores.participants.markLeft(meetingId, 'rejoined', '2026-03-01T10:00:04.999Z')).toBe('unchanged');
    expect((await items.participant(meetingId, 'rejoined'))?.left_at).toBeUndefined();
    // a leave at or after the join still sticks
    expect(await stores.participants.markLeft(meetingId, 'rejoined', '2026-03-01T10:00:05.000Z')).toBe('updated');
    expect((await items.participant(meetingId, 'rejoined'))?.left_at).toBe('2026-03-01T10:00:05.000Z');
    items.destroy();
  });
});
