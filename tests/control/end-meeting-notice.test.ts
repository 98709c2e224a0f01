// Ending a meeting tells its media host over real HTTP, with a service token
// the host verifies with the control plane's public key; failures are retried
// and never fail the end-meeting reply.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppError } from '../../shared/errors.js';
import { endMeetingNoticeSchema, endMeetingPath, type Meeting } from '../../shared/protocol/http.js';
import { type ServiceTokenClaims, verifyToken } from '../../shared/tokens.js';
import { CONTROL_ISSUER, type ControlHarness, createHarness, meetingWith } from './helpers.js';

interface Received {
  path: string;
  claims?: ServiceTokenClaims;
  authError?: number;
  body: unknown;
}

let h: ControlHarness;
let server: Server;
let adminUrl: string;
let received: Received[] = [];
/** status codes the fake host answers with, in order; then 200 */
let script: number[] = [];

beforeAll(async () => {
  h = await createHarness();
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => {
      raw += chunk.toString();
    });
    req.on('end', async () => {
      const entry: Received = { path: req.url ?? '', body: JSON.parse(raw) };
      received.push(entry);
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      try {
        entry.claims = await verifyToken('service', token, {
          key: h.mediaKeys.publicKey,
          algorithms: ['ES256'],
          issuer: CONTROL_ISSUER,
          audience: 'admin-host',
          nowMs: Date.now(),
          maxLifetimeSeconds: 30,
        });
      } catch (error) {
        entry.authError = (error as AppError).code;
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 40101, message: 'bad token', data: null }));
        return;
      }
      const status = script.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status === 200 ? { code: 0, message: 'success', data: { peersNotified: 2 } } : {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  adminUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  h.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  received = [];
  script = [];
});

async function placedMeeting(host: string): Promise<string> {
  const meetingId = await meetingWith(h, host);
  const session = await h.call('POST', `/api/meetings/${meetingId}/media-session`, {
    token: await h.accessToken(host),
  });
  expect(session.status).toBe(200);
  return meetingId;
}

async function end(meetingId: string, host: string) {
  return h.call<Meeting>('POST', `/api/meetings/${meetingId}/end`, { token: await h.accessToken(host) });
}

describe('end-meeting notice to the media host', () => {
  beforeAll(async () => {
    await h.registerHost({ hostId: 'admin-host', adminUrl, capacity: 1000 });
  });

  it('POSTs {endedBy, endedAt} with a valid service token to the host serving the meeting', async () => {
    const meetingId = await placedMeeting('quinn');
    const reply = await end(meetingId, 'quinn');
    expect(reply.status).toBe(200);
    expect(received).toHaveLength(1);
    const [notice] = received;
    expect(notice!.path).toBe(endMeetingPath(meetingId));
    expect(notice!.authError).toBeUndefined();
    expect(notice!.claims).toMatchObject({ sub: 'control-plane', scope: 'meetings:end', aud: 'admin-host' });
    expect(endMeetingNoticeSchema.parse(notice!.body)).toEqual({
      endedBy: 'quinn',
      endedAt: reply.body.data!.endedAt,
    });
  });

  it('retries 5xx answers with a fresh token each time', async () => {
    script = [503, 500];
    const meetingId = await placedMeeting('rosa');
    const reply = await end(meetingId, 'rosa');
    expect(reply.status).toBe(200);
    expect(received).toHaveLength(3);
    const jtis = new Set(received.map((entry) => entry.claims?.jti));
    expect(jtis.size).toBe(3);
  });

  it('a host that keeps failing does not fail the reply, and the meeting is ENDED', async () => {
    script = [500, 500, 500, 500];
    const meetingId = await placedMeeting('sam');
    const reply = await end(meetingId, 'sam');
    expect(reply.status).toBe(200);
    expect(reply.body.data!.status).toBe('ENDED');
    expect(received).toHaveLength(3);
    expect((await h.store.getMeeting(meetingId, { consistent: true }))?.status).toBe('ENDED');
  });

  it('does not retry a refusal such as 401', async () => {
    script = [401];
    const meetingId = await placedMeeting('tess');
    expect((await end(meetingId, 'tess')).status).toBe(200);
    expect(received).toHaveLength(1);
  });

  it('an unreachable host is logged, not fatal', async () => {
    const iso = await createHarness();
    await iso.registerHost({ hostId: 'admin-host', adminUrl: 'http://127.0.0.1:9', capacity: 1000 });
    const meetingId = await meetingWith(iso, 'uma');
    await iso.call('POST', `/api/meetings/${meetingId}/media-session`, { token: await iso.accessToken('uma') });
    const reply = await iso.call<Meeting>('POST', `/api/meetings/${meetingId}/end`, {
      token: await iso.accessToken('uma'),
    });
    expect(reply.status).toBe(200);
    expect(reply.body.data!.status).toBe('ENDED');
    iso.close();
  });

  it('a meeting that was never placed ends without any notice', async () => {
    const meetingId = await meetingWith(h, 'vera');
    expect((await end(meetingId, 'vera')).status).toBe(200);
    expect(received).toHaveLength(0);
  });
});
