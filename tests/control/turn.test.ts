// TURN credentials from media-config against Debian's coturn (use-auth-secret)
// with turnutils_uclient, and coturn's peer deny-list.
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Coturn, startCoturn } from '../../scripts/coturn.js';
import type { MediaConfig } from '../../shared/protocol/http.js';
import { type ControlHarness, createHarness, meetingWith, TURN_SECRET } from './helpers.js';

interface ClientRun {
  exitCode: number;
  output: string;
}

/** Runs coturn's test client; `-y` relays between two allocations, `-e` sends to a peer. */
function uclient(server: Coturn, creds: { username: string; credential: string }, args: string[]): Promise<ClientRun> {
  return new Promise((resolve) => {
    execFile(
      'turnutils_uclient',
      ['-n', '2', ...args, '-u', creds.username, '-w', creds.credential, '-p', String(server.port), '127.0.0.1'],
      { timeout: 45_000 },
      (error, stdout, stderr) => {
        const exitCode = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ exitCode, output: `${stdout}\n${stderr}` });
      },
    );
  });
}

/** the final summary: every message sent through the relay came back */
function delivered(run: ClientRun): boolean {
  const summary = /start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)/.exec(run.output);
  const [sent, received] = [Number(summary?.[1] ?? 0), Number(summary?.[2] ?? -1)];
  return sent > 0 && received === sent && /Total lost packets 0 \(/.test(run.output);
}
const forbiddenPeer = (run: ClientRun) => /error 403 \(Forbidden IP\)/.test(run.output);
const allocationRefused = (run: ClientRun) => /Cannot complete Allocation/.test(run.output);

let loopbackAllowed: Coturn; // local-stack style: loopback peers allowed
let strict: Coturn; // production policy: nothing private
let h: ControlHarness;
let meetingId: string;

beforeAll(async () => {
  [loopbackAllowed, strict] = await Promise.all([
    startCoturn({ secret: TURN_SECRET, allowedPeerIps: ['127.0.0.1'] }),
    startCoturn({ secret: TURN_SECRET }),
  ]);
  h = await createHarness({ turnUrls: [loopbackAllowed.urls.udp, loopbackAllowed.urls.tcp], stunUrls: [] });
  meetingId = await meetingWith(h, 'yuki');
});
afterAll(async () => {
  h?.close();
  await Promise.all([loopbackAllowed?.stop(), strict?.stop()]);
});

async function turnCredentialsFromApi(): Promise<{ username: string; credential: string }> {
  const res = await h.call<MediaConfig>('GET', `/api/meetings/${meetingId}/media-config`, {
    token: await h.accessToken('yuki'),
  });
  expect(res.status).toBe(200);
  const turn = res.body.data!.iceServers.find((server) => server.username);
  expect(turn?.urls).toEqual([loopbackAllowed.urls.udp, loopbackAllowed.urls.tcp]);
  return { username: turn!.username!, credential: turn!.credential! };
}

describe('TURN with coturn', { timeout: 120_000 }, () => {
  it('an allocation with media-config credentials relays data (UDP and TCP)', async () => {
    const creds = await turnCredentialsFromApi();
    const udp = await uclient(loopbackAllowed, creds, ['-y']);
    expect(udp.exitCode, udp.output).toBe(0);
    expect(delivered(udp), udp.output).toBe(true);
    const tcp = await uclient(loopbackAllowed, creds, ['-t', '-y']);
    expect(tcp.exitCode, tcp.output).toBe(0);
    expect(delivered(tcp), tcp.output).toBe(true);
  });

  it('expired credentials are rejected', async () => {
    h.clock.advance(-2 * 3600_000); // issued two hours ago with a one-hour TTL
    let creds: { username: string; credential: string };
    try {
      creds = await turnCredentialsFromApi();
    } finally {
      h.clock.advance(2 * 3600_000);
    }
    expect(Number(creds.username.split(':')[0])).toBeLessThan(Date.now() / 1000);
    const run = await uclient(loopbackAllowed, creds, ['-y']);
    expect(run.exitCode).not.toBe(0);
    expect(allocationRefused(run), run.output).toBe(true);
  });

  it('forged credentials are rejected', async () => {
    const { username } = await turnCredentialsFromApi();
    const forged = createHmac('sha1', 'not-the-secret').update(username).digest('base64');
    const run = await uclient(loopbackAllowed, { username, credential: forged }, ['-y']);
    expect(run.exitCode).not.toBe(0);
    expect(allocationRefused(run), run.output).toBe(true);

    // a username rewritten to outlive its credential fails as well
    const { credential } = await turnCredentialsFromApi();
    const stretched = `${Number(username.split(':')[0]) + 86_400}:yuki`;
    const stretchedRun = await uclient(loopbackAllowed, { username: stretched, credential }, ['-y']);
    expect(allocationRefused(stretchedRun), stretchedRun.output).toBe(true);
  });

  it('relaying to loopback and to the metadata address is denied unless allowed', async () => {
    const creds = await turnCredentialsFromApi();
    // same credentials and client on the strict server: loopback peers are refused
    const loopback = await uclient(strict, creds, ['-y']);
    expect(loopback.exitCode).not.toBe(0);
    expect(forbiddenPeer(loopback), loopback.output).toBe(true);
    const loopbackPeer = await uclient(strict, creds, ['-e', '127.0.0.1']);
    expect(forbiddenPeer(loopbackPeer), loopbackPeer.output).toBe(true);

    // 169.254.169.254 stays denied even where loopback is allowed (and -y works there, see above)
    for (const server of [strict, loopbackAllowed]) {
      const metadata = await uclient(server, creds, ['-e', '169.254.169.254']);
      expect(metadata.exitCode).not.toBe(0);
      expect(forbiddenPeer(metadata), metadata.output).toBe(true);
    }
    const privateNet = await uclient(strict, creds, ['-e', '10.1.2.3']);
    expect(forbiddenPeer(privateNet), privateNet.output).toBe(true);
  });
});
