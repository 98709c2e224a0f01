// Runs Debian's coturn (`turnserver`) on a free loopback port with the TURN
// REST scheme (`use-auth-secret`), the shared peer deny-list and no TLS/CLI.
// Used by the TURN tests and the local stack.
import type { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { coturnPeerPolicyLines } from '../shared/turn-policy.js';
import { spawnOwned } from './child-processes.js';

export interface CoturnOptions {
  /** shared with the control plane (TURN_SECRET) */
  secret: string;
  realm?: string;
  /** UDP+TCP port; a free one when unset */
  listenPort?: number;
  /** peers that may be relayed to although the deny-list covers them */
  allowedPeerIps?: string[];
  /** extra `denied-peer-ip` values (single IPs or first-last ranges) */
  extraDenied?: string[];
  /** pipe coturn's log to this process's stdout */
  logToStdout?: boolean;
  binary?: string;
}

export interface Coturn {
  port: number;
  urls: { udp: string; tcp: string };
  stop(): Promise<void>;
}

async function portFreeForUdpAndTcp(port: number): Promise<boolean> {
  const udpFree = await new Promise<boolean>((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
  return udpFree;
}

/** A loopback port that is free for both TCP and UDP right now. */
export async function freeUdpTcpPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (port && (await portFreeForUdpAndTcp(port))) return port;
  }
  throw new Error('No free UDP+TCP port found');
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function configText(options: CoturnOptions, port: number, dir: string): string {
  return [
    'listening-ip=127.0.0.1',
    'relay-ip=127.0.0.1',
    `listening-port=${port}`,
    'use-auth-secret',
    `static-auth-secret=${options.secret}`,
    `realm=${options.realm ?? 'rtc.local'}`,
    'fingerprint',
    'no-tls',
    'no-dtls',
    'no-cli',
    'no-software-attribute',
    'no-rfc5780',
    'no-stun-backward-compatibility',
    `userdb=${path.join(dir, 'turndb')}`,
    `pidfile=${path.join(dir, 'turnserver.pid')}`,
    ...(options.logToStdout ? ['log-file=stdout', 'simple-log'] : ['no-stdout-log', 'log-file=/dev/null']),
    ...coturnPeerPolicyLines(options.allowedPeerIps ?? []),
    ...(options.extraDenied ?? []).map((range) => `denied-peer-ip=${range}`),
    '',
  ].join('\n');
}

export async function startCoturn(options: CoturnOptions): Promise<Coturn> {
  const port = options.listenPort ?? (await freeUdpTcpPort());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coturn-'));
  const configFile = path.join(dir, 'turnserver.conf');
  writeFileSync(configFile, configText(options, port, dir), { mode: 0o600 });

  const child: ChildProcess = spawnOwned(options.binary ?? '/usr/bin/turnserver', ['-c', configFile], {
    stdio: ['ignore', options.logToStdout ? 'inherit' : 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const cleanup = () => rmSync(dir, { recursive: true, force: true });

  const deadline = Date.now() + 10_000;
  while (!(await tcpAccepts(port))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      cleanup();
      throw new Error(`turnserver did not start on port ${port} (exit ${child.exitCode}): ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  let stopped: Promise<void> | undefined;
  return {
    port,
    urls: { udp: `turn:127.0.0.1:${port}?transport=udp`, tcp: `turn:127.0.0.1:${port}?transport=tcp` },
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        const done = () => {
          cleanup();
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', done);
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      });
      return stopped;
    },
  };
}
