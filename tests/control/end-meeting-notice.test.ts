// Ending a meeting tells its media host over real HTTP, with a service token
// the host verifies with the control plane's public key; failures are retried
// and never fail the end-meeting reply. Like the real host, the fake one
// accepts each service token once (jti) and only for the meeting in its
// meetingId claim.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMediaHostNotifier } from '../../control/host-notifier.js';
import type { AppError } from '../../shared/errors.js';
import { silentLogger } from '../../shared/logger.js';
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
/** what the fake host does with each accepted notice, in order; then 200. 'hang': never answers */
let script: (number | 'hang')[] = [];
const usedJtis = new Set<string>();

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
      const refuse = (code: number) => {
        entry.authError = code;
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code, message: 'bad token', data: null }));
      };
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
        refuse((error as AppError).code);
        return;
      }
      const pathMeetingId = decodeURIComponent(/^\/admin\/meetings\/([^/]+)\/end$/.exec(entry.path)?.[1] ?? '');
      const { jti, meetingId } = entry.claims;
      if (usedJtis.has(jti) || (meetingId !== undefined && meetingId !== pathMeetingId)) {
        refuse(40101);
        return;
      }
      usedJtis.add(jti);
      const status = script.shift() ?? 200;
      if (status === 'hang') {
        // the notice arrived (its jti is used) but the answer never comes back
        setTimeout(() => res.destroy(), 1000);
        return;
      }
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
    expect(notice!.claims).toMatchObject({ sub: 'control-plane', scope: 'meetings:end', aud: 'admin-host', meetingId });
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
    expect(received.map((entry) => entry.authError)).toEqual([undefined, undefined, undefined]);
    expect(received.map((entry) => entry.claims?.meetingId)).toEqual([meetingId, meetingId, meetingId]);
    const jtis = new Set(received.map((entry) => entry.claims?.jti));
    expect(jtis.size).toBe(3);
  });

  it('an attempt that timed out after reaching the host is retried with a token the host has not used', async () => {
    script = ['hang'];
    const meetingId = await meetingWith(h, 'wes');
    const notifier = createMediaHostNotifier({
      signingKey: h.mediaKeys.privateKey,
      issuer: CONTROL_ISSUER,
      clock: h.clock,
      logger: silentLogger,
      attemptTimeoutMs: 200,
      backoffMs: 1,
    });
    const result = await notifier.notifyMeetingEnded({ hostId: 'admin-host', adminUrl }, meetingId, {
      endedBy: 'wes',
      endedAt: new Date(h.clock.now()).toISOString(),
    });
    expect(result).toMatchObject({ delivered: true, attempts: 2, status: 200 });
    expect(received.map((entry) => entry.authError)).toEqual([undefined, undefined]);
    expect(received[0]!.claims!.jti).not.toBe(received[1]!.claims!.jti);
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
