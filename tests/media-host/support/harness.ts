// A real media host for one test file: one mediasoup worker on ephemeral
// ports, DynamoDB Local tables, an ES256 key pair standing in for the
// control plane, and real `ws` clients.
import { randomUUID } from 'node:crypto';
import { type CryptoKey, generateKeyPair } from 'jose';
import type { RateLimitSettings } from '../../../media-host/rate-limit.js';
import { createMediaHost, type MediaHost, type MediaHostSettings } from '../../../media-host/server.js';
import { createMediaHostStores, type MediaHostStores } from '../../../media-host/store/index.js';
import type { Clock } from '../../../shared/clock.js';
import { createLogger, type Logger, silentLogger } from '../../../shared/logger.js';
import { SIGNALLING_PATH, SIGNALLING_TOKEN_PARAM } from '../../../shared/protocol/http.js';
import { type SignOptions, signToken, type TokenBody, type TokenKind } from '../../../shared/tokens.js';
import { createTestTables, type TestTables } from '../../support/dynamo.js';
import { TestClient, type TestClientOptions } from './client.js';

export const CONTROL_ISSUER = 'rtc-control-plane';

/** A clock tests can stop and move. */
export class ManualClock implements Clock {
  #now: number;
  constructor(start = Date.now()) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}

export interface HarnessOptions {
  settings?: Partial<MediaHostSettings>;
  rateLimit?: RateLimitSettings;
  clock?: Clock;
  logger?: Logger;
  joinTimeoutMs?: number;
}

export interface Harness {
  host: MediaHost;
  hostId: string;
  port: number;
  httpUrl: string;
  wsUrl: string;
  tables: TestTables;
  stores: MediaHostStores;
  clock: Clock;
  /** the clock's time just before the host was created (tokens issued earlier are refused) */
  startedAtMs: number;
  keys: { privateKey: CryptoKey; publicKey: CryptoKey };
  sign<K extends TokenKind>(kind: K, body: TokenBody<K>, options?: Partial<SignOptions>): Promise<string>;
  joinToken(identity: JoinIdentity, options?: Partial<SignOptions>): Promise<string>;
  serviceToken(options?: Partial<SignOptions>, claims?: { meetingId?: string; jti?: string }): Promise<string>;
  /** opens a socket with a fresh join token */
  connect(identity: JoinIdentity, options?: TestClientOptions): Promise<TestClient>;
  /** connect + rtc:join */
  join(identity: JoinIdentity): Promise<{ client: TestClient; peerId: string; peers: unknown[] }>;
  close(): Promise<void>;
}

export interface JoinIdentity {
  userId: string;
  meetingId: string;
  nickname?: string;
}

export function logLevelFromEnv(): Logger {
  return process.env.TEST_LOG ? createLogger('media-host', { level: 'debug' }) : silentLogger;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const tables = await createTestTables();
  const keys = await generateKeyPair('ES256');
  const clock = options.clock ?? { now: () => Date.now() };
  const hostId = `host-${randomUUID().slice(0, 8)}`;
  const stores = createMediaHostStores({ region: tables.region, endpoint: tables.endpoint }, tables.names);
  const startedAtMs = clock.now();
  const settings: MediaHostSettings = {
    hostId,
    listenHost: '127.0.0.1',
    port: 0,
    publicSignalingUrl: 'ws://127.0.0.1:0',
    adminUrl: 'http://127.0.0.1:0',
    rtc: { listenIp: '127.0.0.1', announcedAddress: '127.0.0.1', portBase: 0 },
    numWorkers: 1,
    controlIssuer: CONTROL_ISSUER,
    allowedOrigins: ['https://app.example.com'],
    capacityMeetings: 10,
    hostRegion: 'local',
    hostZone: 'local-a',
    drainDeadlineMs: 5_000,
    heartbeatIntervalMs: 5_000,
    releaseGraceMs: 30_000,
    ...options.settings,
  };
  const host = await createMediaHost({
    settings,
    controlPublicKey: keys.publicKey,
    stores,
    clock,
    logger: options.logger ?? logLevelFromEnv(),
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    ...(options.joinTimeoutMs !== undefined ? { joinTimeoutMs: options.joinTimeoutMs } : {}),
  });
  const { port } = await host.start();
  const httpUrl = `http://127.0.0.1:${port}`;
  const wsUrl = `ws://127.0.0.1:${port}${SIGNALLING_PATH}`;
  const clients: TestClient[] = [];

  const sign: Harness['sign'] = (kind, body, signOptions) =>
    signToken(kind, body, {
      key: keys.privateKey,
      alg: 'ES256',
      issuer: CONTROL_ISSUER,
      audience: hostId,
      expiresInSeconds: 60,
      nowMs: clock.now(),
      ...signOptions,
    });

  const joinToken: Harness['joinToken'] = (identity, signOptions) =>
    sign(
      'media-join',
      {
        sub: identity.userId,
        nickname: identity.nickname ?? `nick-${identity.userId}`,
        meetingId: identity.meetingId,
        jti: randomUUID(),
      },
      signOptions,
    );

  const harness: Harness = {
    host,
    hostId,
    port,
    httpUrl,
    wsUrl,
    tables,
    stores,
    clock,
    startedAtMs,
    keys,
    sign,
    joinToken,
    serviceToken: (signOptions, claims) =>
      sign(
        'service',
        {
          sub: 'control-plane',
          scope: 'meetings:end',
          jti: claims?.jti ?? randomUUID(),
          ...(claims?.meetingId ? { meetingId: claims.meetingId } : {}),
        },
        {
          expiresInSeconds: 30,
          ...signOptions,
        },
      ),
    async connect(identity, clientOptions) {
      const token = await joinToken(identity);
      const client = await TestClient.connect(`${wsUrl}?${SIGNALLING_TOKEN_PARAM}=${token}`, clientOptions);
      clients.push(client);
      return client;
    },
    async join(identity) {
      const client = await harness.connect(identity);
      const joined = await client.ok('rtc:join', { meetingId: identity.meetingId });
      return { client, peerId: joined.peerId as string, peers: joined.peers as unknown[] };
    },
    async close() {
      for (const client of clients) client.terminate();
      await host.close();
      stores.destroy();
    },
  };
  return harness;
}
