// The whole system on one machine, with embedded defaults: DynamoDB Local,
// coturn (when installed), one media host, the control plane serving the demo
// page. `npm start` runs this file; the e2e tests and benchmarks import
// startLocalStack(). Keys and secrets are generated per run and passed to the
// children through their environment, never printed.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { buildClient } from '../client/build.js';
import { createDocumentClient } from '../control/store/dynamo-client.js';
import { ensureTables } from '../control/store/table-admin.js';
import type { TableNames } from '../shared/tables.js';
import { spawnOwned } from './child-processes.js';
import { freePort, startDynamoDbLocal } from './dynamodb-local.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface LocalStackOptions {
  /** control plane + demo page port (default 8080; 0 picks a free one) */
  controlPort?: number;
  /** media host signalling port (default 8090; 0 picks a free one) */
  mediaPort?: number;
  /** first WebRtcServer port (default 40000; 0 picks a free one) */
  rtcPortBase?: number;
  numWorkers?: number;
  /** persist DynamoDB Local tables in this folder */
  dataDir?: string;
  /** start coturn for TURN relay (default: when turnserver is installed) */
  turn?: boolean;
  /** build and serve the demo page (default true) */
  demo?: boolean;
  /** where the children's log lines go (default: this process's stdout/stderr) */
  onLog?: (source: string, line: string) => void;
  /** extra environment for the media host (tests) */
  mediaHostEnv?: Record<string, string>;
}

export interface LocalStack {
  baseUrl: string;
  mediaHostUrl: string;
  hostId: string;
  dynamoEndpoint: string;
  region: string;
  tables: TableNames;
  turnUrls: string[];
  stop(): Promise<void>;
}

interface Child {
  name: string;
  process: ChildProcess;
}

function spawnTs(name: string, entry: string, env: Record<string, string>, onLog: LocalStackOptions['onLog']): Child {
  const child = spawnOwned(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const forward = (stream: NodeJS.ReadableStream | null) => {
    let buffer = '';
    stream?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (onLog) onLog(name, line);
        else process.stdout.write(`[${name}] ${line}\n`);
        newline = buffer.indexOf('\n');
      }
    });
  };
  forward(child.stdout);
  forward(child.stderr);
  return { name, process: child };
}

async function waitForHttp(url: string, child: Child, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) {
      throw new Error(`${child.name} exited with code ${child.process.exitCode} during start-up`);
    }
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${child.name} was not ready at ${url} within ${timeoutMs} ms`);
}

function stopChild(child: Child, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (child.process.exitCode !== null || child.process.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
    child.process.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.process.kill('SIGTERM');
  });
}

const turnserverInstalled = () => spawnSync('turnserver', ['--version'], { stdio: 'ignore' }).error === undefined;

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const stopOne of stops.reverse()) await stopOne().catch(() => {});
    stops.length = 0;
  };
  try {
    const controlPort = options.controlPort === 0 ? await freePort() : (options.controlPort ?? 8080);
    const mediaPort = options.mediaPort === 0 ? await freePort() : (options.mediaPort ?? 8090);
    const rtcPortBase = options.rtcPortBase === 0 ? await freePort() : (options.rtcPortBase ?? 40000);
    const region = 'local';

    const dynamo = await startDynamoDbLocal(options.dataDir ? { dataDir: options.dataDir } : {});
    stops.push(dynamo.stop);
    const tables: TableNames = { meetings: 'rtc-meetings', hosts: 'rtc-hosts' };
    const ddb = createDocumentClient({ region, endpoint: dynamo.endpoint });
    await ensureTables(ddb, tables);
    ddb.destroy();

    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const signingKeyPem = await exportPKCS8(privateKey);
    const publicKeyPem = await exportSPKI(publicKey);
    const accessTokenSecret = randomBytes(32).toString('base64url');
    const turnSecret = randomBytes(32).toString('base64url');

    let turnUrls: string[] = [];
    if (options.turn ?? turnserverInstalled()) {
      const { startCoturn } = await import('./coturn.js');
      const coturn = await startCoturn({ secret: turnSecret, allowedPeerIps: ['127.0.0.1'] });
      stops.push(coturn.stop);
      turnUrls = [coturn.urls.udp, coturn.urls.tcp];
    }

    const baseUrl = `http://127.0.0.1:${controlPort}`;
    const mediaHostUrl = `ws://127.0.0.1:${mediaPort}`;
    const hostId = `local-media-${mediaPort}`;
    const shared = {
      AWS_REGION: region,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      TABLE_MEETINGS: tables.meetings,
      TABLE_HOSTS: tables.hosts,
      CONTROL_ISSUER: 'rtc-control-plane',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      // Node 20 is this project's runtime; the SDK's upgrade notice is known (see README)
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };

    const mediaHost = spawnTs(
      'media-host',
      'media-host/main.ts',
      {
        ...shared,
        HOST_ID: hostId,
        LISTEN_HOST: '127.0.0.1',
        PORT: String(mediaPort),
        PUBLIC_SIGNALING_URL: mediaHostUrl,
        ADMIN_URL: `http://127.0.0.1:${mediaPort}`,
        RTC_LISTEN_IP: '127.0.0.1',
        RTC_ANNOUNCED_ADDRESS: '127.0.0.1',
        RTC_PORT_BASE: String(rtcPortBase),
        NUM_WORKERS: String(options.numWorkers ?? 1),
        CONTROL_PUBLIC_KEY: publicKeyPem,
        ALLOWED_ORIGINS: [`http://127.0.0.1:${controlPort}`, `http://localhost:${controlPort}`].join(','),
        HOST_REGION: region,
        HOST_ZONE: 'local-a',
        DRAIN_DEADLINE_MS: '1000',
        ...options.mediaHostEnv,
      },
      options.onLog,
    );
    stops.push(() => stopChild(mediaHost, 5000));

    let staticDir: string | undefined;
    if (options.demo ?? true) {
      // a folder per stack: stacks running side by side must not rewrite each other's app.js
      const demoDir = mkdtempSync(path.join(os.tmpdir(), 'rtc-demo-'));
      stops.push(async () => rmSync(demoDir, { recursive: true, force: true }));
      staticDir = demoDir;
      await buildClient(staticDir);
    }

    const control = spawnTs(
      'control',
      'control/local.ts',
      {
        ...shared,
        PORT: String(controlPort),
        DEV_MODE: '1',
        ACCESS_TOKEN_HS256_SECRET: accessTokenSecret,
        MEDIA_SIGNING_KEY: signingKeyPem,
        TURN_SECRET: turnSecret,
        TURN_URLS: turnUrls.join(','),
        STUN_URLS: '',
        WEB_ORIGINS: [`http://127.0.0.1:${controlPort}`, `http://localhost:${controlPort}`].join(','),
        ...(staticDir ? { STATIC_DIR: staticDir } : {}),
      },
      options.onLog,
    );
    stops.push(() => stopChild(control, 5000));

    await Promise.all([
      waitForHttp(`http://127.0.0.1:${mediaPort}/readyz`, mediaHost, 30_000),
      waitForHttp(`${baseUrl}/healthz`, control, 30_000),
    ]);

    return { baseUrl, mediaHostUrl, hostId, dynamoEndpoint: dynamo.endpoint, region, tables, turnUrls, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function parseArgs(argv: string[]): LocalStackOptions {
  const options: LocalStackOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--data-dir') options.dataDir = value();
    else if (arg === '--port') options.controlPort = Number(value());
    else if (arg === '--media-port') options.mediaPort = Number(value());
    else if (arg === '--rtc-port') options.rtcPortBase = Number(value());
    else if (arg === '--workers') options.numWorkers = Number(value());
    else if (arg === '--no-turn') options.turn = false;
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(
        'npm start [-- --data-dir DIR] [--port 8080] [--media-port 8090] [--rtc-port 40000] [--workers N] [--no-turn]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (see --help)`);
  }
  return options;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const stack = await startLocalStack(options);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\nlocal stack: ${signal}, stopping…\n`);
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.stdout.write(
    [
      '',
      'Local stack is up:',
      `  demo page       ${stack.baseUrl}/   <- open this in two tabs`,
      `  control plane   ${stack.baseUrl}/api`,
      `  media host      ${stack.mediaHostUrl} (${stack.hostId})`,
      `  DynamoDB Local  ${stack.dynamoEndpoint} (tables ${stack.tables.meetings}, ${stack.tables.hosts})`,
      `  TURN            ${stack.turnUrls.length ? stack.turnUrls.join(' ') : 'off (coturn not installed)'}`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: Error) => {
    process.stderr.write(`local stack failed to start: ${error.message}\n`);
    process.exit(1);
  });
}
