// Every control-plane endpoint through app.request(), against DynamoDB Local:
// happy paths and every error code.
import { createHmac } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../control/app.js';
import { createLogger } from '../../shared/logger.js';
import type { DevTokenResponse, MediaConfig, MediaSession, Meeting, Participant } from '../../shared/protocol/http.js';
import { keys, type ParticipantItem } from '../../shared/tables.js';
import { verifyToken } from '../../shared/tokens.js';
import { CONTROL_ISSUER, type ControlHarness, createHarness, meetingWith, TURN_SECRET } from './helpers.js';

let h: ControlHarness;

beforeAll(async () => {
  h = await createHarness({ webOrigins: ['http://localhost:5173'] });
});
afterAll(() => h.close());

async function participantItem(meetingId: string, userId: string): Promise<ParticipantItem | undefined> {
  const result = await h.client.send(
    new GetCommand({
      TableName: h.tables.names.meetings,
      Key: keys.participant(meetingId, userId),
      ConsistentRead: true,
    }),
  );
  return result.Item as ParticipantItem | undefined;
}

describe('basics', () => {
  it('GET /healthz answers ok', async () => {
    const res = await h.call('GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ code: 0, message: 'success', data: { status: 'ok' } });
  });

  it('unknown routes are a 404 envelope', async () => {
    const res = await h.call('GET', '/api/nope');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 40405, data: null });
  });

  it('echoes a well-formed x-request-id and makes one otherwise', async () => {
    const echoed = await h.call('GET', '/healthz', { headers: { 'x-request-id': 'trace-abc.123' } });
    expect(echoed.headers.get('x-request-id')).toBe('trace-abc.123');
    const made = await h.call('GET', '/healthz', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers CORS preflights for allowed origins only', async () => {
    const allowed = await h.app.request('/api/meetings', {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' },
    });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    const denied = await h.app.request('/api/meetings', {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.test', 'access-control-request-method': 'POST' },
    });
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('an unexpected failure is 500/50001 and logged with the request id', async () => {
    const lines: string[] = [];
    const logger = createLogger('control', { write: (line) => lines.push(line) });
    const failing = createApp({
      store: { ...h.store, getMeeting: () => Promise.reject(new Error('disk on fire')) },
      clock: h.clock,
      logger,
      auth: { verify: async () => ({ sub: 'u1', exp: 0 }) },
      mediaTokens: { signingKey: h.mediaKeys.privateKey, issuer: CONTROL_ISSUER },
      turn: { secret: 'x', urls: [], stunUrls: [], ttlSeconds: 60 },
      hostNotifier: { notifyMeetingEnded: async () => ({ delivered: true, attempts: 1 }) },
      devMode: false,
      webOrigins: [],
      hostStaleAfterMs: 15_000,
    });
    const res = await failing.request('/api/meetings/m1', {
      headers: { authorization: 'Bearer x', 'x-request-id': 'req-500' },
    });
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body).toEqual({ code: 50001, message: 'Internal server error', data: null });
    const logged = lines.map((line) => JSON.parse(line)).find((record) => record.msg === 'request failed');
    expect(logged).toMatchObject({ level: 'error', requestId: 'req-500', error: { message: 'disk on fire' } });
  });
});

describe('POST /api/dev/token', () => {
  it('issues an access token the API accepts', async () => {
    const res = await h.call<DevTokenResponse>('POST', '/api/dev/token', { body: { nickname: 'Ada' } });
    expect(res.status).toBe(200);
    const data = res.body.data!;
    expect(data.nickname).toBe('Ada');
    expect(data.userId).toMatch(/^[0-9a-f-]{36}$/);
    const created = await h.call<Meeting>('POST', '/api/meetings', { token: data.accessToken, body: {} });
    expect(created.status).toBe(201);
    expect(created.body.data!.hostUserId).toBe(data.userId);
  });

  it('keeps a given userId', async () => {
    const res = await h.call<DevTokenResponse>('POST', '/api/dev/token', {
      body: { userId: 'u-given', nickname: 'B' },
    });
    expect(res.body.data!.userId).toBe('u-given');
  });

  it('refuses a missing nickname and malformed JSON with 40001', async () => {
    const missing = await h.call('POST', '/api/dev/token', { body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe(40001);
    const malformed = await h.call('POST', '/api/dev/token', {
      rawBody: '{"nickname":',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ code: 40001, message: 'Request body is not valid JSON' });
  });

  it('does not exist without dev mode', async () => {
    const prod = await createHarness({ tables: h.tables, devMode: false });
    const res = await prod.call('POST', '/api/dev/token', { body: { nickname: 'Ada' } });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe(40405);
    prod.close();
  });
});

describe('POST /api/meetings and GET /api/meetings/:id', () => {
  it('creates a meeting with the caller as host and reads it back', async () => {
    const token = await h.accessToken('alice');
    const created = await h.call<Meeting>('POST', '/api/meetings', { token, body: { title: '  Weekly  ' } });
    expect(created.status).toBe(201);
    const meeting = created.body.data!;
    expect(meeting).toMatchObject({ title: 'Weekly', status: 'ACTIVE', hostUserId: 'alice' });
    expect(Date.parse(meeting.createdAt)).not.toBeNaN();

    const read = await h.call<Meeting>('GET', `/api/meetings/${meeting.meetingId}`, { token });
    expect(read.status).toBe(200);
    expect(read.body.data).toEqual(meeting);
  });

  it('accepts an empty body', async () => {
    const res = await h.call<Meeting>('POST', '/api/meetings', { token: await h.accessToken('alice') });
    expect(res.status).toBe(201);
    expect(res.body.data!.title).toBe('');
  });

  it('refuses bad bodies with 40001 and oversized bodies too', async () => {
    const token = await h.accessToken('alice');
    const tooLong = await h.call('POST', '/api/meetings', { token, body: { title: 'x'.repeat(201) } });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.code).toBe(40001);
    const wrongType = await h.call('POST', '/api/meetings', { token, body: { title: 42 } });
    expect(wrongType.body.code).toBe(40001);
    const notJson = await h.call('POST', '/api/meetings', { token, rawBody: 'title=x' });
    expect(notJson.body.code).toBe(40001);
    const huge = await h.call('POST', '/api/meetings', { token, body: { title: 'x', pad: 'y'.repeat(20_000) } });
    expect(huge.status).toBe(400);
    expect(huge.body.code).toBe(40001);
  });

  it('needs an access token (40101)', async () => {
    const none = await h.call('POST', '/api/meetings', { body: {} });
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ code: 40101, message: 'Missing bearer access token', data: null });
    const garbage = await h.call('GET', '/api/meetings/abc', { token: 'not-a-jwt' });
    expect(garbage.status).toBe(401);
    expect(garbage.body.code).toBe(40101);
  });

  it('GET of an unknown meeting is 40401; an oversized id is 40001', async () => {
    const token = await h.accessToken('alice');
    const unknown = await h.call('GET', '/api/meetings/does-not-exist', { token });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe(40401);
    const oversized = await h.call('GET', `/api/meetings/${'m'.repeat(129)}`, { token });
    expect(oversized.status).toBe(400);
    expect(oversized.body.code).toBe(40001);
  });
});

describe('join and leave', () => {
  it('join records the participant; rejoin clears left_at', async () => {
    const meetingId = await meetingWith(h, 'host1', []);
    const token = await h.accessToken('bob', 'Bobby');
    const joined = await h.call<Participant>('POST', `/api/meetings/${meetingId}/join`, { token });
    expect(joined.status).toBe(200);
    expect(joined.body.data).toMatchObject({ meetingId, userId: 'bob', nickname: 'Bobby' });
    expect(await participantItem(meetingId, 'bob')).toMatchObject({
      meeting_id: meetingId,
      user_id: 'bob',
      nickname: 'Bobby',
      joined_at: joined.body.data!.joinedAt,
    });

    const left = await h.call<Participant>('POST', `/api/meetings/${meetingId}/leave`, { token });
    expect(left.status).toBe(200);
    expect(left.body.data!.leftAt).toBeDefined();
    expect((await participantItem(meetingId, 'bob'))?.left_at).toBe(left.body.data!.leftAt);

    // leaving twice keeps the first left_at
    const again = await h.call<Participant>('POST', `/api/meetings/${meetingId}/leave`, { token });
    expect(again.status).toBe(200);
    expect(again.body.data!.leftAt).toBe(left.body.data!.leftAt);

    const rejoined = await h.call<Participant>('POST', `/api/meetings/${meetingId}/join`, {
      token,
      body: { nickname: 'Bob II' },
    });
    expect(rejoined.status).toBe(200);
    const item = await participantItem(meetingId, 'bob');
    expect(item?.left_at).toBeUndefined();
    expect(item?.nickname).toBe('Bob II');
  });

  it('join falls back to the user id when there is no nickname', async () => {
    const meetingId = await meetingWith(h, 'host1', []);
    const joined = await h.call<Participant>('POST', `/api/meetings/${meetingId}/join`, {
      token: await h.accessToken('carol'),
    });
    expect(joined.body.data!.nickname).toBe('carol');
  });

  it('join errors: 40401 unknown, 41001 ended, 40001 bad nickname', async () => {
    const token = await h.accessToken('bob');
    const unknown = await h.call('POST', '/api/meetings/nope/join', { token });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe(40401);

    const meetingId = await meetingWith(h, 'host1', []);
    const bad = await h.call('POST', `/api/meetings/${meetingId}/join`, { token, body: { nickname: '   ' } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe(40001);

    await h.call('POST', `/api/meetings/${meetingId}/end`, { token: await h.accessToken('host1') });
    const ended = await h.call('POST', `/api/meetings/${meetingId}/join`, { token });
    expect(ended.status).toBe(410);
    expect(ended.body.code).toBe(41001);
    expect(await participantItem(meetingId, 'bob')).toBeUndefined();
  });

  it('leave errors: 40401 unknown, 40301 never joined', async () => {
    const token = await h.accessToken('dave');
    const unknown = await h.call('POST', '/api/meetings/nope/leave', { token });
    expect(unknown.body.code).toBe(40401);
    const meetingId = await meetingWith(h, 'host1', []);
    const stranger = await h.call('POST', `/api/meetings/${meetingId}/leave`, { token });
    expect(stranger.status).toBe(403);
    expect(stranger.body.code).toBe(40301);
  });
});

describe('POST /api/meetings/:id/end', () => {
  it('only the host ends it; ENDED with endedAt and endedBy; twice is 41001', async () => {
    const meetingId = await meetingWith(h, 'host2', ['host2', 'erin']);
    const notHost = await h.call('POST', `/api/meetings/${meetingId}/end`, { token: await h.accessToken('erin') });
    expect(notHost.status).toBe(403);
    expect(notHost.body.code).toBe(40301);

    const hostToken = await h.accessToken('host2');
    const ended = await h.call<Meeting>('POST', `/api/meetings/${meetingId}/end`, { token: hostToken });
    expect(ended.status).toBe(200);
    expect(ended.body.data).toMatchObject({ meetingId, status: 'ENDED', endedBy: 'host2' });
    const read = await h.call<Meeting>('GET', `/api/meetings/${meetingId}`, { token: hostToken });
    expect(read.body.data).toMatchObject({ status: 'ENDED', endedBy: 'host2', endedAt: ended.body.data!.endedAt });

    const twice = await h.call('POST', `/api/meetings/${meetingId}/end`, { token: hostToken });
    expect(twice.status).toBe(410);
    expect(twice.body.code).toBe(41001);
  });

  it('unknown meeting is 40401', async () => {
    const res = await h.call('POST', '/api/meetings/nope/end', { token: await h.accessToken('host2') });
    expect(res.body.code).toBe(40401);
  });
});

describe('GET /api/meetings/:id/media-config', () => {
  it('returns STUN and TURN servers with REST credentials', async () => {
    const meetingId = await meetingWith(h, 'host3', ['host3', 'frank']);
    const before = Math.floor(h.clock.now() / 1000);
    const res = await h.call<MediaConfig>('GET', `/api/meetings/${meetingId}/media-config`, {
      token: await h.accessToken('frank'),
    });
    expect(res.status).toBe(200);
    expect(res.body.code).toBe(0);
    const [stun, turn, ...rest] = res.body.data!.iceServers;
    expect(rest).toEqual([]);
    expect(stun).toEqual({ urls: 'stun:stun.test:3478' });
    expect(turn!.urls).toEqual([
      'turn:turn.test:3478?transport=udp',
      'turn:turn.test:3478?transport=tcp',
      'turns:turn.test:443?transport=tcp',
    ]);
    const [expiry, userId] = turn!.username!.split(':');
    expect(userId).toBe('frank');
    expect(Number(expiry) - before).toBeGreaterThanOrEqual(3600);
    expect(Number(expiry) - before).toBeLessThanOrEqual(3601);
    expect(turn!.credential).toBe(createHmac('sha1', TURN_SECRET).update(turn!.username!).digest('base64'));
  });

  it('errors: 40401 unknown, 40301 not a participant or left, 41001 ended, 40101 no token', async () => {
    const meetingId = await meetingWith(h, 'host3', ['host3', 'gina']);
    const path = `/api/meetings/${meetingId}/media-config`;
    expect(
      (await h.call('GET', '/api/meetings/nope/media-config', { token: await h.accessToken('gina') })).body.code,
    ).toBe(40401);
    const stranger = await h.call('GET', path, { token: await h.accessToken('mallory') });
    expect(stranger.status).toBe(403);
    expect(stranger.body.code).toBe(40301);

    const gina = await h.accessToken('gina');
    await h.call('POST', `/api/meetings/${meetingId}/leave`, { token: gina });
    const left = await h.call('GET', path, { token: gina });
    expect(left.status).toBe(403);
    expect(left.body.code).toBe(40301);

    expect((await h.call('GET', path)).status).toBe(401);

    await h.call('POST', `/api/meetings/${meetingId}/end`, { token: await h.accessToken('host3') });
    const ended = await h.call('GET', path, { token: await h.accessToken('host3') });
    expect(ended.status).toBe(410);
    expect(ended.body.code).toBe(41001);
  });
});

describe('POST /api/meetings/:id/media-session', () => {
  it('returns a signed signalling URL on a live host, with ICE servers', async () => {
    const hostTables = await createHarness();
    const host = await hostTables.registerHost({ hostId: 'host-a', signalingUrl: 'wss://a.media.test/' });
    const meetingId = await meetingWith(hostTables, 'hana', ['hana']);
    const res = await hostTables.call<MediaSession>('POST', `/api/meetings/${meetingId}/media-session`, {
      token: await hostTables.accessToken('hana'),
    });
    expect(res.status).toBe(200);
    const session = res.body.data!;
    expect(session.hostId).toBe(host.hostId);
    const url = new URL(session.signalingUrl);
    expect(`${url.protocol}//${url.host}${url.pathname}`).toBe('wss://a.media.test/ws');
    const token = url.searchParams.get('token')!;
    const claims = await verifyToken('media-join', token, {
      key: hostTables.mediaKeys.publicKey,
      algorithms: ['ES256'],
      issuer: CONTROL_ISSUER,
      audience: 'host-a',
      nowMs: hostTables.clock.now(),
      maxLifetimeSeconds: 60,
    });
    expect(claims).toMatchObject({ sub: 'hana', nickname: 'nick-hana', meetingId });
    expect(Date.parse(session.expiresAt)).toBe(claims.exp * 1000);
    expect(session.iceServers.some((server) => server.username?.endsWith(':hana'))).toBe(true);
    hostTables.close();
  });

  it('errors: 40401, 40301 not joined or left, 41001 ended, 50301 no live host', async () => {
    const iso = await createHarness();
    const meetingId = await meetingWith(iso, 'ivan', ['ivan', 'judy']);
    const path = `/api/meetings/${meetingId}/media-session`;
    const ivan = await iso.accessToken('ivan');

    const noHost = await iso.call('POST', path, { token: ivan });
    expect(noHost.status).toBe(503);
    expect(noHost.body.code).toBe(50301);

    await iso.registerHost({ hostId: 'stale', heartbeatAt: iso.clock.now() - 60_000 });
    await iso.registerHost({ hostId: 'draining', status: 'DRAINING' });
    await iso.registerHost({ hostId: 'full', capacity: 2, assigned: 2 });
    const stillNone = await iso.call('POST', path, { token: ivan });
    expect(stillNone.body.code).toBe(50301);

    expect((await iso.call('POST', '/api/meetings/nope/media-session', { token: ivan })).body.code).toBe(40401);
    const stranger = await iso.call('POST', path, { token: await iso.accessToken('mallory') });
    expect(stranger.status).toBe(403);
    expect(stranger.body.code).toBe(40301);

    const judy = await iso.accessToken('judy');
    await iso.call('POST', `/api/meetings/${meetingId}/leave`, { token: judy });
    expect((await iso.call('POST', path, { token: judy })).body.code).toBe(40301);

    await iso.call('POST', `/api/meetings/${meetingId}/end`, { token: ivan });
    const ended = await iso.call('POST', path, { token: ivan });
    expect(ended.status).toBe(410);
    expect(ended.body.code).toBe(41001);
    iso.close();
  });
});
