// Control-plane benchmark (prints numbers, asserts nothing):
//   1. warm p50/p99 of media-config and media-session through app.request()
//      against DynamoDB Local (target p99 <= 10 ms);
//   2. minified size of the Lambda bundle (target <= 300 KB);
//   3. cold init of the bundle in a fresh Node process (target <= 150 ms).
// 2 and 3 are measured for the bundle `npm run build` ships (scripts/build.ts
// buildLambda: AWS SDK external, the Lambda runtime provides it) and, for
// comparison, for the same bundle with the SDK bundled in.
// Run: npx tsx bench/control-plane/run.ts [--requests 3000]
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { createApp } from '../../control/app.js';
import { createAccessTokenVerifier } from '../../control/auth.js';
import { createMediaHostNotifier } from '../../control/host-notifier.js';
import { lambdaBundleOptions } from '../../control/lambda-bundle.js';
import { createDynamoControlStore } from '../../control/store/control-store.js';
import { createDocumentClient } from '../../control/store/dynamo-client.js';
import { ensureTables } from '../../control/store/table-admin.js';
import { buildLambda } from '../../scripts/build.js';
import { startDynamoDbLocal } from '../../scripts/dynamodb-local.js';
import { systemClock } from '../../shared/clock.js';
import { silentLogger } from '../../shared/logger.js';
import { keys } from '../../shared/tables.js';
import { signToken } from '../../shared/tokens.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const outDir = path.join(here, 'dist');
const requestsArg = process.argv.indexOf('--requests');
const REQUESTS = requestsArg > 0 ? Number(process.argv[requestsArg + 1]) : 3000;
const WARMUP = 200;
const COLD_RUNS = 7;

const ACCESS_SECRET = 'bench-access-secret-0123456789abcdef0123';
const TABLES = { meetings: 'bench-meetings', hosts: 'bench-hosts' };

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = samples.reduce((sum, value) => sum + value, 0) / samples.length;
  const f = (value: number) => value.toFixed(2).padStart(6);
  return `p50 ${f(percentile(sorted, 50))} ms  p99 ${f(percentile(sorted, 99))} ms  mean ${f(mean)} ms  max ${f(sorted.at(-1)!)} ms  (n=${samples.length})`;
}

async function measureWarm(endpoint: string, signingKey: KeyObject): Promise<void> {
  const client = createDocumentClient({ region: 'local', endpoint });
  await ensureTables(client, TABLES);
  const store = createDynamoControlStore({ client, tables: TABLES });
  const now = Date.now();
  await store.putHost({
    ...keys.host('bench-host'),
    hostId: 'bench-host',
    signalingUrl: 'ws://127.0.0.1:8090',
    adminUrl: 'http://127.0.0.1:8090',
    region: 'local',
    zone: 'local-a',
    status: 'ACTIVE',
    capacity: 1_000_000,
    assigned: 0,
    load: { rooms: 0, peers: 0, producers: 0, consumers: 0, workerCpu: 0 },
    // far in the future, so the host stays live for the whole run
    heartbeatAt: now + 3600_000,
    startedAt: new Date(now).toISOString(),
    expiresAt: Math.floor(now / 1000) + 7200,
  });

  const app = createApp({
    store,
    clock: systemClock,
    logger: silentLogger,
    auth: createAccessTokenVerifier({
      key: { kind: 'hs256', secret: ACCESS_SECRET },
      issuer: 'rtc-dev-auth',
      audience: 'rtc-api',
      clock: systemClock,
    }),
    mediaTokens: { signingKey, issuer: 'rtc-control-plane' },
    turn: {
      secret: 'bench-turn-secret',
      urls: ['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp', 'turns:turn.local:443'],
      stunUrls: ['stun:127.0.0.1:3478'],
      ttlSeconds: 3600,
    },
    hostNotifier: createMediaHostNotifier({
      signingKey,
      issuer: 'rtc-control-plane',
      clock: systemClock,
      logger: silentLogger,
    }),
    devMode: false,
    webOrigins: [],
    hostStaleAfterMs: 15_000,
  });

  const token = await signToken(
    'access',
    { sub: 'bench-user', name: 'Bench' },
    {
      key: new TextEncoder().encode(ACCESS_SECRET),
      alg: 'HS256',
      issuer: 'rtc-dev-auth',
      audience: 'rtc-api',
      expiresInSeconds: 3600,
      nowMs: Date.now(),
    },
  );
  const headers = { authorization: `Bearer ${token}` };
  const created = await app.request('/api/meetings', { method: 'POST', headers, body: '{}' });
  const meetingId = ((await created.json()) as { data: { meetingId: string } }).data.meetingId;
  await app.request(`/api/meetings/${meetingId}/join`, { method: 'POST', headers, body: '{}' });

  const run = async (label: string, method: string, url: string) => {
    for (let i = 0; i < WARMUP; i++) await (await app.request(url, { method, headers })).arrayBuffer();
    const samples: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const started = performance.now();
      const res = await app.request(url, { method, headers });
      await res.arrayBuffer();
      samples.push(performance.now() - started);
      if (res.status !== 200) throw new Error(`${label} answered ${res.status}`);
    }
    console.log(`${label.padEnd(14)} ${summary(samples)}`);
  };
  console.log(`\nwarm latency through app.request() against DynamoDB Local (${WARMUP} warm-up requests each):`);
  // baseline: one GetItem round trip to DynamoDB Local, the floor under every request
  const baseline: number[] = [];
  for (let i = 0; i < WARMUP + REQUESTS; i++) {
    const started = performance.now();
    await store.getHost('bench-host', { consistent: true });
    if (i >= WARMUP) baseline.push(performance.now() - started);
  }
  console.log(`${'GetItem only'.padEnd(14)} ${summary(baseline)}`);
  await run('media-config', 'GET', `/api/meetings/${meetingId}/media-config`);
  await run('media-session', 'POST', `/api/meetings/${meetingId}/media-session`);
  client.destroy();
}

/** exactly what `npm run build` writes to dist/control/lambda.mjs, written here instead */
async function buildShippedBundle(): Promise<string> {
  return buildLambda(path.join(outDir, 'lambda.mjs'));
}

/** the same bundle with the AWS SDK inside, for comparison */
async function buildBundleWithSdk(): Promise<string> {
  const outfile = path.join(outDir, 'lambda-with-sdk.mjs');
  await build(
    lambdaBundleOptions({ entryPoint: path.join(repoRoot, 'control/lambda.ts'), outfile, externalAwsSdk: false }),
  );
  return outfile;
}

/** AWS SDK packages the bundle imports statically, i.e. loads at cold start from outside the bundle */
function externalImports(code: string): string[] {
  const names = new Set<string>();
  // import statements only (minified: after `;`, `}` or a line start), not strings that mention a package
  const statement = /(?:^|[;}\n])\s*import\s*(?:[^"';]*?\bfrom\s*)?["']((?:@aws-sdk|@smithy)\/[^"'/]+)["']/g;
  for (const match of code.matchAll(statement)) {
    names.add(match[1]!);
  }
  return [...names].sort();
}

const COLD_PROBE = `
const started = performance.now();
const { handler } = await import(process.argv[1]);
const imported = performance.now();
const res = await handler({
  version: '2.0', routeKey: 'GET /healthz', rawPath: '/healthz', rawQueryString: '', headers: {},
  requestContext: { http: { method: 'GET', path: '/healthz', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' }, requestId: 'cold', stage: '$default' },
  body: null, isBase64Encoded: false,
});
const ready = performance.now();
if (res.statusCode !== 200) throw new Error('healthz answered ' + res.statusCode);
console.log(JSON.stringify({ importMs: imported - started, initMs: ready - started, sinceProcessStartMs: ready }));
`;

function measureCold(
  file: string,
  env: Record<string, string>,
): { importMs: number; initMs: number; processMs: number } {
  const runs: { importMs: number; initMs: number; sinceProcessStartMs: number }[] = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', COLD_PROBE, file], {
      env: { PATH: process.env.PATH ?? '', ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    runs.push(JSON.parse(out.trim().split('\n').at(-1)!));
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return {
    importMs: median(runs.map((r) => r.importMs)),
    initMs: median(runs.map((r) => r.initMs)),
    processMs: median(runs.map((r) => r.sinceProcessStartMs)),
  };
}

async function main(): Promise<void> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const dynamo = await startDynamoDbLocal();
  try {
    await measureWarm(dynamo.endpoint, createPrivateKey(privateKeyPem));
  } finally {
    await dynamo.stop();
  }

  mkdirSync(outDir, { recursive: true });
  const env = {
    AWS_REGION: 'eu-west-1',
    TABLE_MEETINGS: 'meetings',
    TABLE_HOSTS: 'hosts',
    ACCESS_TOKEN_HS256_SECRET: ACCESS_SECRET,
    MEDIA_SIGNING_KEY: privateKeyPem,
    TURN_SECRET: 'bench-turn-secret',
    TURN_URLS: 'turn:turn.example.com:3478?transport=udp',
    LOG_LEVEL: 'warn',
  };
  console.log('\nLambda bundle (control/lambda-bundle.ts: esbuild minified, platform node, target node20, esm)');
  console.log(
    `cold init = median of ${COLD_RUNS} fresh Node processes: import of the bundle, then init + first request ` +
      '(GET /healthz), then time from Node start to ready.',
  );
  const variants = [
    {
      label: 'DEFAULT, what `npm run build` ships (dist/control/lambda.mjs): AWS SDK external',
      note: 'in Lambda the runtime provides the SDK; here it loads from node_modules, so cold init includes it',
      file: await buildShippedBundle(),
    },
    {
      label: 'comparison only: AWS SDK bundled in',
      note: 'not shipped',
      file: await buildBundleWithSdk(),
    },
  ];
  for (const variant of variants) {
    const code = readFileSync(variant.file);
    const cold = measureCold(variant.file, env);
    const external = externalImports(code.toString('utf8'));
    console.log(`\n  ${variant.label}`);
    console.log(`    file         ${path.relative(repoRoot, variant.file)}  (${variant.note})`);
    console.log(
      `    size         ${(statSync(variant.file).size / 1024).toFixed(1)} KB minified, ${(gzipSync(code).length / 1024).toFixed(1)} KB gzip`,
    );
    console.log(`    SDK imported ${external.length > 0 ? external.join(', ') : 'none (all inside the bundle)'}`);
    console.log(
      `    cold init    import ${cold.importMs.toFixed(1)} ms, import+init+first request ${cold.initMs.toFixed(1)} ms, ` +
        `node start to ready ${cold.processMs.toFixed(1)} ms`,
    );
  }
  console.log('\ntargets (for the default bundle): warm p99 <= 10 ms, bundle <= 300 KB, cold init <= 150 ms');
}

await main();
