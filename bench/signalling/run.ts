// Signalling benchmark: DynamoDB Local + a media host in this process, and
// N peers joining concurrently through real WebSockets, all into one meeting
// (work grows with N^2) or spread evenly over M meetings. Each peer
// runs the contract's join sequence (join -> caps -> 2 transports -> connect
// both -> produce audio + simulcast video) and then consumes + resumes every
// other peer's producers, one request in flight per peer. The clients run in a
// worker thread (clients.ts), the host on the main thread. No ICE/DTLS
// happens: this measures signalling and mediasoup's control path.
//
// Each scenario starts on a quiet, warm host: one unreported run at full size
// first, meetings created and placed on the host beforehand (as REQ-002 and
// the control plane would), and the previous scenario's left_at writes done.
// DynamoDB Local runs at nice 19 and the host's periodic DynamoDB writes are
// spaced out, because in AWS DynamoDB is not on the host's two cores.
//
//   npx tsx bench/signalling/run.ts   (BENCH_WORKERS=2, BENCH_SIZES=1,10,50, BENCH_SPREAD=50/5,50/10, BENCH_LIMITED=0 skips part 2,
//   BENCH_PROFILE=<dir> writes the host's CPU profiles there)
//
// BENCH_SIZES: peers in one meeting; BENCH_SPREAD: peers/meetings pairs.
//
// Prints numbers only; no assertions.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { generateKeyPair } from 'jose';
import { createDynamoControlStore } from '../../control/store/control-store.js';
import { createDocumentClient } from '../../control/store/dynamo-client.js';
import { ensureTables } from '../../control/store/table-admin.js';
import { defaultRateLimitSettings, type RateLimitSettings } from '../../media-host/rate-limit.js';
import { createMediaHost, type MediaHost } from '../../media-host/server.js';
import { createMediaHostStores } from '../../media-host/store/index.js';
import { startDynamoDbLocal } from '../../scripts/dynamodb-local.js';
import { createLogger } from '../../shared/logger.js';
import { SIGNALLING_PATH } from '../../shared/protocol/http.js';
import { signToken } from '../../shared/tokens.js';
import type { ClientJob, ClientJobResult } from './clients.js';
import { percentile } from './peer.js';

const SIZES = (process.env.BENCH_SIZES ?? '1,10,50').split(',').map(Number);
const SPREAD = (process.env.BENCH_SPREAD ?? '50/5,50/10').split(',').map((pair) => {
  const [peers, meetings] = pair.split('/').map(Number);
  return { peers: peers ?? 0, meetings: meetings ?? 1 };
});
const WORKERS = Number(process.env.BENCH_WORKERS ?? Math.min(2, os.availableParallelism()));
const ISSUER = 'rtc-control-plane';
const LIFTED: RateLimitSettings = {
  ratePerSecond: 1e9,
  burst: 1e9,
  maxCredit: 0,
  abuseDrops: 1e9,
  abuseWindowMs: 10_000,
};

const ms = (value: number) => (Number.isNaN(value) ? '      -' : value.toFixed(1).padStart(7));

// ---- the client thread ----

class Clients {
  // tsx's loader does not follow into worker threads: register it there first.
  readonly #worker = new Worker(
    `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(
      new URL('./clients.ts', import.meta.url).href,
    )}); });`,
    { eval: true },
  );

  run(job: ClientJob): Promise<ClientJobResult> {
    return new Promise((resolve, reject) => {
      this.#worker.once('message', (reply: { ok: true; result: ClientJobResult } | { ok: false; error: string }) =>
        reply.ok ? resolve(reply.result) : reject(new Error(reply.error)),
      );
      this.#worker.postMessage(job);
    });
  }

  terminate(): Promise<number> {
    return this.#worker.terminate();
  }
}

// ---- scenarios ----

interface Bench {
  host: MediaHost;
  wsUrl: string;
  token(userId: string, meetingId: string): Promise<string>;
  /** a meeting as REQ-002 creates it and the control plane places it on this host */
  placeMeeting(meetingId: string): Promise<void>;
  close(): Promise<void>;
}

interface HostUsage {
  /** share of wall time the host's event loop was busy */
  eventLoopUtilization: number;
  /** CPU ms of the host's main thread (Linux /proc), independent of other load on the machine */
  hostThreadCpuMs: number;
  /** CPU ms of this process's other threads: mostly the client thread, plus GC and libuv helpers */
  otherThreadsCpuMs: number;
  /** CPU ms the mediasoup workers used */
  workerCpuMs: number;
  wallMs: number;
}

/** CPU time of this process's main thread, from /proc (Linux only; NaN elsewhere). */
function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

async function workerCpuMs(host: MediaHost): Promise<number> {
  let total = 0;
  for (const handle of host.pool.handles) {
    const usage = await handle.worker.getResourceUsage();
    total += usage.ru_utime + usage.ru_stime;
  }
  return total;
}

/** `size` peers join at once, spread evenly (round robin) over `meetings` meetings. */
async function concurrentJoin(
  bench: Bench,
  clients: Clients,
  size: number,
  meetings = 1,
): Promise<ClientJobResult & { usage: HostUsage }> {
  const meetingIds = Array.from({ length: meetings }, () => randomUUID());
  await Promise.all(meetingIds.map((meetingId) => bench.placeMeeting(meetingId)));
  const job = await Promise.all(
    meetingIds.map(async (meetingId, m) => ({
      meetingId,
      tokens: await Promise.all(
        Array.from({ length: Math.ceil((size - m) / meetings) }, (_, i) =>
          bench.token(`user-${m + i * meetings}-${randomUUID()}`, meetingId),
        ),
      ),
    })),
  );
  const elu = performance.eventLoopUtilization();
  const cpuBefore = await workerCpuMs(bench.host);
  const threadBefore = mainThreadCpuMs();
  const processBefore = process.cpuUsage();
  const started = performance.now();
  const result = await clients.run({ kind: 'concurrent', wsUrl: bench.wsUrl, meetings: job });
  const hostThreadCpuMs = mainThreadCpuMs() - threadBefore;
  const processCpu = process.cpuUsage(processBefore);
  const usage: HostUsage = {
    eventLoopUtilization: performance.eventLoopUtilization(elu).utilization,
    hostThreadCpuMs,
    otherThreadsCpuMs: (processCpu.user + processCpu.system) / 1000 - hostThreadCpuMs,
    workerCpuMs: (await workerCpuMs(bench.host)) - cpuBefore,
    wallMs: performance.now() - started,
  };
  await waitForEmptyHost(bench.host);
  return { ...result, usage };
}

async function newcomerIntoMeeting(bench: Bench, clients: Clients, size: number): Promise<ClientJobResult> {
  const meetingId = randomUUID();
  await bench.placeMeeting(meetingId);
  const memberTokens = await Promise.all(
    Array.from({ length: size - 1 }, (_, i) => bench.token(`member-${i}-${randomUUID()}`, meetingId)),
  );
  const newcomerToken = await bench.token(`newcomer-${randomUUID()}`, meetingId);
  const result = await clients.run({ kind: 'newcomer', wsUrl: bench.wsUrl, meetingId, memberTokens, newcomerToken });
  await waitForEmptyHost(bench.host);
  return result;
}

/** Rooms closed and their left_at writes done, so one scenario's teardown does not load the next. */
async function waitForEmptyHost(host: MediaHost): Promise<void> {
  while (host.rooms.rooms.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  await host.leaveRecorder.settled();
}

function describe(size: number, meetings: number): string {
  if (meetings === 1) return `${size} peer(s) joining one meeting concurrently`;
  const per = size / meetings;
  return `${size} peers joining concurrently, spread over ${meetings} meetings of ${Number.isInteger(per) ? per : `~${per.toFixed(1)}`}`;
}

function printConcurrent(
  title: string,
  size: number,
  meetings: number,
  run: ClientJobResult & { usage: HostUsage },
): void {
  const entries = Object.entries(run.latencies).sort(([a], [b]) => a.localeCompare(b));
  const all = entries.flatMap(([, values]) => values);
  console.log(`\n${title}: ${describe(size, meetings)} (${all.length} requests, wall ${run.wallMs.toFixed(0)} ms)`);
  console.log('  request                          count   p50 ms   p99 ms   max ms');
  const row = (name: string, values: number[]) =>
    console.log(
      `  ${name.padEnd(30)} ${String(values.length).padStart(6)}  ${ms(percentile(values, 50))}  ${ms(percentile(values, 99))}  ${ms(Math.max(...values))}`,
    );
  for (const [type, values] of entries) row(type, values);
  row('(all requests)', all);
  const line = (name: string, values: number[]) =>
    console.log(`  ${name.padEnd(40)} p50 ${ms(percentile(values, 50))}  p99 ${ms(percentile(values, 99))}`);
  line('connect (upgrade, token check)', run.connectMs);
  line('join sequence (join..produce video)', run.ownSequenceMs);
  line('full join incl. consume+resume everyone', run.fullMeshMs);
  console.log(`  42901 replies: ${run.rateLimited}`);
  const perRequestUs = (run.usage.hostThreadCpuMs * 1000) / Math.max(1, all.length);
  console.log(
    `  host main thread: ${run.usage.hostThreadCpuMs.toFixed(0)} ms CPU (${perRequestUs.toFixed(0)} us/request), ` +
      `event loop busy ${(run.usage.eventLoopUtilization * 100).toFixed(0)} % of ${run.usage.wallMs.toFixed(0)} ms; ` +
      `mediasoup workers ${run.usage.workerCpuMs.toFixed(0)} ms CPU; client thread (+GC helpers) ` +
      `${run.usage.otherThreadsCpuMs.toFixed(0)} ms CPU; load average ${os.loadavg()[0]?.toFixed(1)}`,
  );
}

async function startBench(dynamoEndpoint: string, rateLimit: RateLimitSettings): Promise<Bench> {
  const suffix = randomUUID().slice(0, 8);
  const names = { meetings: `bench-meetings-${suffix}`, hosts: `bench-hosts-${suffix}` };
  const admin = createDocumentClient({ region: 'local', endpoint: dynamoEndpoint });
  await ensureTables(admin, names);
  const control = createDynamoControlStore({ client: admin, tables: names });
  const keys = await generateKeyPair('ES256');
  const hostId = `bench-${suffix}`;
  const host = await createMediaHost({
    settings: {
      hostId,
      listenHost: '127.0.0.1',
      port: 0,
      publicSignalingUrl: 'ws://127.0.0.1:0',
      adminUrl: 'http://127.0.0.1:0',
      rtc: { listenIp: '127.0.0.1', announcedAddress: '127.0.0.1', portBase: 0 },
      numWorkers: WORKERS,
      controlIssuer: ISSUER,
      allowedOrigins: [],
      capacityMeetings: 100,
      hostRegion: 'local',
      hostZone: 'local',
      drainDeadlineMs: 0,
      // DynamoDB Local shares this machine's two cores (in AWS it is remote): keep the host's
      // periodic writes (heartbeat, placement release) out of the measured bursts
      heartbeatIntervalMs: 600_000,
      releaseGraceMs: 600_000,
    },
    controlPublicKey: keys.publicKey,
    stores: createMediaHostStores({ region: 'local', endpoint: dynamoEndpoint }, names),
    clock: { now: () => Date.now() },
    logger: createLogger('bench-host', { level: 'warn' }),
    rateLimit,
  });
  const { port } = await host.start();
  return {
    host,
    placeMeeting: async (meetingId) => {
      const createdAt = new Date().toISOString();
      await control.createMeeting({ meetingId, title: 'bench', hostUserId: 'bench-owner', createdAt });
      await control.assignMeeting(meetingId, hostId, undefined, createdAt);
    },
    close: async () => {
      await host.close();
      admin.destroy();
    },
    wsUrl: `ws://127.0.0.1:${port}${SIGNALLING_PATH}`,
    token: (userId, meetingId) =>
      signToken(
        'media-join',
        { sub: userId, nickname: userId.slice(0, 16), meetingId, jti: randomUUID() },
        {
          key: keys.privateKey,
          alg: 'ES256',
          issuer: ISSUER,
          audience: hostId,
          expiresInSeconds: 60,
          nowMs: Date.now(),
        },
      ),
  };
}

/** Nice 19 for every thread of a process (Linux keeps a nice value per thread). */
function lowerPriority(pid: number): void {
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    threads = [String(pid)];
  }
  for (const tid of threads) {
    try {
      os.setPriority(Number(tid), 19);
    } catch {
      // the thread ended meanwhile
    }
  }
}

/** With BENCH_PROFILE=<dir>, writes a CPU profile of the host's main thread per scenario there. */
async function profiled<T>(name: string, scenario: () => Promise<T>): Promise<T> {
  const dir = process.env.BENCH_PROFILE;
  if (!dir) return scenario();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await scenario();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(`${dir}/host-${name}-${Date.now()}.cpuprofile`, JSON.stringify(profile));
    session.disconnect();
  }
}

async function main(): Promise<void> {
  console.log(
    `signalling benchmark: node ${process.version}, ${os.availableParallelism()} cores, ${WORKERS} mediasoup worker(s), ` +
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
  );
  const dynamo = await startDynamoDbLocal();
  // In AWS, DynamoDB does not run on the media host's CPUs: here it yields to the host.
  if (dynamo.pid !== undefined) lowerPriority(dynamo.pid);
  const clients = new Clients();
  try {
    // 1. latency under concurrency; the per-user limit is lifted so every request is real work
    const lifted = await startBench(dynamo.endpoint, LIFTED);
    // warm-up at full size, unreported: a production host (and a browser) runs JIT-compiled code
    await concurrentJoin(lifted, clients, Math.max(...SIZES, ...SPREAD.map((s) => s.peers)));
    for (const size of SIZES) {
      const run = await profiled(`${size}-peers`, () => concurrentJoin(lifted, clients, size));
      printConcurrent('latency (rate limit lifted)', size, 1, run);
    }
    for (const { peers, meetings } of SPREAD) {
      const run = await profiled(`${peers}-peers-${meetings}-meetings`, () =>
        concurrentJoin(lifted, clients, peers, meetings),
      );
      printConcurrent('latency (rate limit lifted)', peers, meetings, run);
    }
    await lifted.close();

    // 2. the contract's limit (10 msg/s per user, burst 50) as shipped
    if (process.env.BENCH_LIMITED !== '0') await rateLimitAsShipped(dynamo.endpoint, clients);
  } finally {
    await clients.terminate();
    await dynamo.stop();
  }
  console.log(
    `\nload average after: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  process.exit(0);
}

async function rateLimitAsShipped(dynamoEndpoint: string, clients: Clients): Promise<void> {
  const limited = await startBench(dynamoEndpoint, defaultRateLimitSettings);
  console.log('\nrate limit as shipped (10 msg/s per user, burst 50, +2 per announced producer)');
  for (const size of [10, 30]) {
    const newcomer = await newcomerIntoMeeting(limited, clients, size);
    console.log(
      `  newcomer joining a meeting of ${size}: ${newcomer.requests} requests (${2 * (size - 1)} consumes pipelined), ` +
        `42901 replies: ${newcomer.rateLimited}, full join ${newcomer.fullMeshMs[0]?.toFixed(0)} ms`,
    );
  }
  const limitedRuns = [
    ...SIZES.filter((s) => s > 1).map((size) => ({ peers: size, meetings: 1 })),
    ...SPREAD.filter((s) => s.peers > 1),
  ];
  for (const { peers, meetings } of limitedRuns) {
    const run = await concurrentJoin(limited, clients, peers, meetings);
    const where = meetings === 1 ? 'one meeting' : `${meetings} meetings`;
    console.log(
      `  ${peers} concurrent joins (${where}): ${run.requests} requests, 42901 replies: ${run.rateLimited} (retried after 250 ms), ` +
        `full join p50 ${percentile(run.fullMeshMs, 50).toFixed(0)} ms, p99 ${percentile(run.fullMeshMs, 99).toFixed(0)} ms`,
    );
  }
  await limited.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
