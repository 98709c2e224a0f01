// Who gets a socket: token checks during the HTTP upgrade, origin allow-list,
// single use; and the host's HTTP routes.
import { randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import { endMeetingPath, SIGNALLING_PATH, SIGNALLING_SUBPROTOCOL } from '../../shared/protocol/http.js';
import { signToken } from '../../shared/tokens.js';
import { TestClient, UpgradeRefused } from './support/client.js';
import { CONTROL_ISSUER, type Harness, startHarness } from './support/harness.js';

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness();
});

afterAll(async () => {
  await harness?.close();
});

async function refusal(url: string, options?: Parameters<typeof TestClient.connect>[1]): Promise<UpgradeRefused> {
  try {
    const client = await TestClient.connect(url, options);
    client.terminate();
  } catch (error) {
    if (error instanceof UpgradeRefused) return error;
    throw error;
  }
  throw new Error('the upgrade was accepted');
}

const withToken = (token: string) => `${harness.wsUrl}?token=${token}`;

describe('join token', () => {
  it('admits a valid token once and refuses its replay with 403', async () => {
    const meetingId = randomUUID();
    const token = await harness.joinToken({ userId: 'u1', meetingId });
    const client = await TestClient.connect(withToken(token));
    expect((await client.request('rtc:join', { meetingId })).type).toBe('rtc:joined');
    const replay = await refusal(withToken(token));
    expect(replay.status).toBe(403);
    expect(JSON.parse(replay.body)).toMatchObject({ code: ErrorCode.Forbidden, message: 'Token already used' });
    client.close();
  });

  it('refuses a still-valid token issued before this host process started with 401', async () => {
    const meetingId = randomUUID();
    const early = await harness.joinToken({ userId: 'early', meetingId }, { nowMs: harness.startedAtMs - 2_000 });
    const refused = await refusal(withToken(early));
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ code: ErrorCode.Unauthorized });
    expect(refused.body).toContain('predates this media host');
    expect(harness.host.connections.size).toBe(0);
  });

  it('refuses missing, forged, expired, wrong-audience, wrong-issuer and wrong-kind tokens with 401', async () => {
    const meetingId = randomUUID();
    const identity = { sub: 'u2', nickname: 'n', meetingId, jti: randomUUID() };
    const otherKeys = await generateKeyPair('ES256');
    const now = harness.clock.now();
    const cases: [string, string][] = [
      ['missing', ''],
      ['garbage', 'not.a.jwt'],
      [
        'forged (other key)',
        await signToken('media-join', identity, {
          key: otherKeys.privateKey,
          alg: 'ES256',
          issuer: CONTROL_ISSUER,
          audience: harness.hostId,
          expiresInSeconds: 60,
          nowMs: now,
        }),
      ],
      ['expired', await harness.joinToken({ userId: 'u2', meetingId }, { nowMs: now - 120_000 })],
      ['wrong audience', await harness.joinToken({ userId: 'u2', meetingId }, { audience: 'some-other-host' })],
      ['wrong issuer', await harness.joinToken({ userId: 'u2', meetingId }, { issuer: 'someone-else' })],
      ['too long-lived', await harness.joinToken({ userId: 'u2', meetingId }, { expiresInSeconds: 3600 })],
      ['access token', await harness.sign('access', { sub: 'u2', name: 'n' })],
      ['service token', await harness.serviceToken()],
      [
        'HS256 with the public key as secret',
        await new SignJWT({ ...identity })
          .setProtectedHeader({ alg: 'HS256', typ: 'media-join+jwt' })
          .setIssuer(CONTROL_ISSUER)
          .setAudience(harness.hostId)
          .setIssuedAt()
          .setExpirationTime('60s')
          .sign(new TextEncoder().encode('0123456789abcdef0123456789abcdef')),
      ],
    ];
    for (const [name, token] of cases) {
      const refused = await refusal(token ? withToken(token) : harness.wsUrl);
      expect(refused.status, name).toBe(401);
      expect(JSON.parse(refused.body).code, name).toBe(ErrorCode.Unauthorized);
      expect(refused.body, name).not.toContain(token || 'never');
    }
    expect(harness.host.connections.size).toBe(0);
  });

  it('creates no state for a refused token (a refused jti stays usable)', async () => {
    const meetingId = randomUUID();
    const jti = randomUUID();
    const body = { sub: 'u3', nickname: 'n', meetingId, jti };
    const badOrigin = await harness.sign('media-join', body);
    expect((await refusal(withToken(badOrigin), { origin: 'https://evil.example' })).status).toBe(403);
    // the same jti was never recorded, so the token still works once
    const client = await TestClient.connect(withToken(badOrigin), { origin: 'https://app.example.com' });
    client.close();
  });

  it('takes the token from Sec-WebSocket-Protocol and answers with the signalling subprotocol', async () => {
    const meetingId = randomUUID();
    const token = await harness.joinToken({ userId: 'u4', meetingId });
    const client = await TestClient.connect(harness.wsUrl, { protocols: [SIGNALLING_SUBPROTOCOL, token] });
    expect(client.protocol).toBe(SIGNALLING_SUBPROTOCOL);
    expect((await client.request('rtc:join', { meetingId })).type).toBe('rtc:joined');
    client.close();
  });

  it('refuses origins outside the allow-list with 403 and other paths with 404', async () => {
    const meetingId = randomUUID();
    const token = await harness.joinToken({ userId: 'u5', meetingId });
    const refused = await refusal(withToken(token), { origin: 'https://evil.example' });
    expect(refused.status).toBe(403);
    const wrongPath = await refusal(`${harness.wsUrl.replace(SIGNALLING_PATH, '/other')}?token=${token}`);
    expect(wrongPath.status).toBe(404);
    const allowed = await TestClient.connect(withToken(token), { origin: 'https://app.example.com' });
    allowed.close();
  });
});

describe('HTTP routes', () => {
  it('answers /healthz, /readyz and /metrics', async () => {
    const health = await fetch(`${harness.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${harness.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ data: { ready: true, workers: 1 } });

    const meetingId = randomUUID();
    const { client } = await harness.join({ userId: 'metrics-user', meetingId });
    await client.request('rtc:nope', {});
    const metrics = await (await fetch(`${harness.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^rtc_rooms \d+$/m);
    expect(metrics).toMatch(/^rtc_peers [1-9]\d*$/m);
    expect(metrics).toContain('rtc_producers');
    expect(metrics).toContain('rtc_consumers');
    expect(metrics).toMatch(/^rtc_signalling_messages_total\{type="rtc:join"\} [1-9]/m);
    expect(metrics).toMatch(/^rtc_signalling_errors_total\{code="40001"\} [1-9]/m);
    expect(metrics).toContain('rtc_rate_limit_drops_total');
    expect(metrics).toContain('rtc_worker_cpu_share');
    expect((await fetch(`${harness.httpUrl}/nope`)).status).toBe(404);
    client.close();
  });

  it('guards the admin endpoint with a service token for this host', async () => {
    const url = `${harness.httpUrl}${endMeetingPath(randomUUID())}`;
    const body = JSON.stringify({ endedBy: 'u1', endedAt: new Date().toISOString() });
    const post = (authorization?: string, payload = body) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: payload,
      });
    expect((await post()).status).toBe(401);
    expect((await post(`Bearer ${await harness.joinToken({ userId: 'x', meetingId: 'm' })}`)).status).toBe(401);
    expect((await post(`Bearer ${await harness.serviceToken({ audience: 'another-host' })}`)).status).toBe(401);
    const bad = await post(`Bearer ${await harness.serviceToken()}`, '{"endedBy":1}');
    expect(bad.status).toBe(400);
    const ok = await post(`Bearer ${await harness.serviceToken()}`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ code: 0, message: 'success', data: { peersNotified: 0 } });
  });

  const endMeeting = (meetingId: string, token: string) =>
    fetch(`${harness.httpUrl}${endMeetingPath(meetingId)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ endedBy: 'owner', endedAt: new Date().toISOString() }),
    });

  it('refuses a replayed service token with 403', async () => {
    const token = await harness.serviceToken();
    expect((await endMeeting(randomUUID(), token)).status).toBe(200);
    const replay = await endMeeting(randomUUID(), token);
    expect(replay.status).toBe(403);
    expect(await replay.json()).toMatchObject({ code: ErrorCode.Forbidden, message: 'Token already used' });
  });

  it('lets a service token bound to meeting X end only X', async () => {
    const meetingX = randomUUID();
    const meetingY = randomUUID();
    const { client } = await harness.join({ userId: 'in-y', meetingId: meetingY });
    const forX = await harness.serviceToken({}, { meetingId: meetingX });
    const refused = await endMeeting(meetingY, forX);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: ErrorCode.Forbidden });
    expect(harness.host.rooms.isEnded(meetingY)).toBe(false);
    expect((await client.request('rtc:getRouterRtpCapabilities', { meetingId: meetingY })).type).toBe(
      'rtc:routerRtpCapabilities',
    );
    // the refusal did not use the token up
    expect((await endMeeting(meetingX, forX)).status).toBe(200);
    expect(harness.host.rooms.isEnded(meetingX)).toBe(true);
  });
});

describe('registry', () => {
  it('registers the host in DynamoDB with its load and without touching assigned', async () => {
    const item = await harness.stores.hosts.get(harness.hostId);
    expect(item).toMatchObject({
      pk: 'HOST',
      sk: harness.hostId,
      hostId: harness.hostId,
      status: 'ACTIVE',
      capacity: 10,
      assigned: 0,
      region: 'local',
      zone: 'local-a',
      load: { rooms: expect.any(Number), peers: expect.any(Number), workerCpu: expect.any(Number) },
    });
    expect(item?.expiresAt).toBeGreaterThan(Math.floor(Date.now() / 1000));
  });
});
