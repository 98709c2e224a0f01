// Shared setup for the control-plane tests: real DynamoDB Local tables, a
// real ES256 key pair, HS256 access tokens and a clock the test can move.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type ControlDeps, createApp } from '../../control/app.js';
import { createAccessTokenVerifier, createDevTokenIssuer } from '../../control/auth.js';
import { createMediaHostNotifier, type MediaHostNotifier } from '../../control/host-notifier.js';
import { type ControlStore, createDynamoControlStore } from '../../control/store/control-store.js';
import { createDocumentClient } from '../../control/store/dynamo-client.js';
import type { Clock } from '../../shared/clock.js';
import { createLogger, type Logger, silentLogger } from '../../shared/logger.js';
import type { Envelope } from '../../shared/protocol/http.js';
import type { HostItem, HostStatus } from '../../shared/tables.js';
import { keys } from '../../shared/tables.js';
import { signToken } from '../../shared/tokens.js';
import { createTestTables, type TestTables } from '../support/dynamo.js';

export const ACCESS_SECRET = 'test-access-secret-0123456789abcdef0123';
export const ACCESS_ISSUER = 'rtc-dev-auth';
export const ACCESS_AUDIENCE = 'rtc-api';
export const CONTROL_ISSUER = 'rtc-control-plane';
export const TURN_SECRET = 'test-turn-secret';

export interface MovableClock extends Clock {
  offsetMs: number;
  /** set by freeze(): time no longer passes by itself */
  frozenAtMs?: number;
  advance(ms: number): void;
  /**
   * Stops the clock at the current time (advance() still moves it), so
   * heartbeat ages and token lifetimes no longer depend on how loaded the
   * machine is. Not for tests that meet coturn, which checks real time.
   */
  freeze(): void;
}

/** Real time plus an offset the test controls (coturn checks real time). */
export function movableClock(): MovableClock {
  const clock: MovableClock = {
    offsetMs: 0,
    now: () => (clock.frozenAtMs ?? Date.now()) + clock.offsetMs,
    advance: (ms) => {
      clock.offsetMs += ms;
    },
    freeze: () => {
      clock.frozenAtMs ??= Date.now();
    },
  };
  return clock;
}

export function generateMediaKeys(): {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
  privateKeyPem: string;
} {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export interface ControlHarness {
  app: ReturnType<typeof createApp>;
  store: ControlStore;
  client: DynamoDBDocumentClient;
  tables: TestTables;
  clock: MovableClock;
  mediaKeys: ReturnType<typeof generateMediaKeys>;
  accessToken(userId: string, name?: string): Promise<string>;
  /** fetch-like call through app.request with a bearer token and JSON body */
  call<T = unknown>(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: Envelope<T>; headers: Headers }>;
  registerHost(host: Partial<HostItem> & { hostId: string }): Promise<HostItem>;
  close(): void;
}

export interface HarnessOptions {
  tables?: TestTables;
  devMode?: boolean;
  turnUrls?: string[];
  stunUrls?: string[];
  turnTtlSeconds?: number;
  hostNotifier?: MediaHostNotifier;
  notifierFetch?: typeof fetch;
  webOrigins?: string[];
  logger?: Logger;
  overrides?: Partial<ControlDeps>;
}

export async function createHarness(options: HarnessOptions = {}): Promise<ControlHarness> {
  const tables = options.tables ?? (await createTestTables());
  const client = createDocumentClient({ region: tables.region, endpoint: tables.endpoint });
  const store = createDynamoControlStore({ client, tables: tables.names });
  const clock = movableClock();
  const mediaKeys = generateMediaKeys();
  const deps: ControlDeps = {
    store,
    clock,
    logger: options.logger ?? (process.env.TEST_LOG ? createLogger('control', { level: 'debug' }) : silentLogger),
    auth: createAccessTokenVerifier({
      key: { kind: 'hs256', secret: ACCESS_SECRET },
      issuer: ACCESS_ISSUER,
      audience: ACCESS_AUDIENCE,
      clock,
    }),
    mediaTokens: { signingKey: mediaKeys.privateKey, issuer: CONTROL_ISSUER },
    turn: {
      secret: TURN_SECRET,
      urls: options.turnUrls ?? [
        'turn:turn.test:3478?transport=udp',
        'turn:turn.test:3478?transport=tcp',
        'turns:turn.test:443?transport=tcp',
      ],
      stunUrls: options.stunUrls ?? ['stun:stun.test:3478'],
      ttlSeconds: options.turnTtlSeconds ?? 3600,
    },
    hostNotifier:
      options.hostNotifier ??
      createMediaHostNotifier({
        signingKey: mediaKeys.privateKey,
        issuer: CONTROL_ISSUER,
        clock,
        logger: silentLogger,
        backoffMs: 10,
        ...(options.notifierFetch ? { fetch: options.notifierFetch } : {}),
      }),
    devMode: options.devMode ?? true,
    devTokenIssuer: createDevTokenIssuer({
      secret: ACCESS_SECRET,
      issuer: ACCESS_ISSUER,
      audience: ACCESS_AUDIENCE,
      clock,
    }),
    webOrigins: options.webOrigins ?? [],
    hostStaleAfterMs: 15_000,
    ...options.overrides,
  };
  const app = createApp(deps);
  const accessKey = new TextEncoder().encode(ACCESS_SECRET);

  return {
    app,
    store,
    client,
    tables,
    clock,
    mediaKeys,
    accessToken: (userId, name) =>
      signToken(
        'access',
        { sub: userId, ...(name ? { name } : {}) },
        {
          key: accessKey,
          alg: 'HS256',
          issuer: ACCESS_ISSUER,
          audience: ACCESS_AUDIENCE,
          expiresInSeconds: 3600,
          nowMs: clock.now(),
        },
      ),
    call: async (method, path, callOptions = {}) => {
      const headers: Record<string, string> = { ...callOptions.headers };
      if (callOptions.token) headers.authorization = `Bearer ${callOptions.token}`;
      let body: string | undefined = callOptions.rawBody;
      if (callOptions.body !== undefined) {
        body = JSON.stringify(callOptions.body);
        headers['content-type'] = 'application/json';
      }
      const response = await app.request(path, { method, headers, body });
      return { status: response.status, body: (await response.json()) as never, headers: response.headers };
    },
    registerHost: async (host) => {
      const item: HostItem = {
        ...keys.host(host.hostId),
        signalingUrl: `wss://${host.hostId}.media.test`,
        adminUrl: `http://${host.hostId}.admin.test:8090`,
        region: 'local',
        zone: 'local-a',
        status: 'ACTIVE' as HostStatus,
        capacity: 100,
        assigned: 0,
        load: { rooms: 0, peers: 0, producers: 0, consumers: 0, workerCpu: 0 },
        heartbeatAt: clock.now(),
        startedAt: new Date(clock.now()).toISOString(),
        expiresAt: Math.floor(clock.now() / 1000) + 60,
        ...host,
      };
      await store.putHost(item);
      return item;
    },
    close: () => client.destroy(),
  };
}

/** Creates a meeting as `hostUserId` and joins the given users; returns the meeting id. */
export async function meetingWith(
  h: ControlHarness,
  hostUserId: string,
  joiners: string[] = [hostUserId],
): Promise<string> {
  const created = await h.call<{ meetingId: string }>('POST', '/api/meetings', {
    token: await h.accessToken(hostUserId),
    body: { title: 'standup' },
  });
  if (created.status !== 201 || !created.body.data) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
  const meetingId = created.body.data.meetingId;
  for (const userId of joiners) {
    const joined = await h.call('POST', `/api/meetings/${meetingId}/join`, {
      token: await h.accessToken(userId),
      body: { nickname: `nick-${userId}` },
    });
    if (joined.status !== 200) throw new Error(`join failed: ${JSON.stringify(joined.body)}`);
  }
  return meetingId;
}
