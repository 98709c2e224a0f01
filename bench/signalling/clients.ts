// Worker thread that plays the browsers, so the clients' JSON and socket work
// does not run on the media host's event loop (in production they are remote).
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { type PeerResult, record, runPeer } from './peer.js';

export type ClientJob =
  /** every peer of every meeting joins at once; each consumes everyone else in its own meeting */
  | { kind: 'concurrent'; wsUrl: string; meetings: { meetingId: string; tokens: string[] }[] }
  | { kind: 'newcomer'; wsUrl: string; meetingId: string; memberTokens: string[]; newcomerToken: string };

export interface ClientJobResult {
  latencies: Record<string, number[]>;
  connectMs: number[];
  ownSequenceMs: number[];
  fullMeshMs: number[];
  rateLimited: number;
  requests: number;
  wallMs: number;
}

function summarise(results: PeerResult[], wallMs: number): ClientJobResult {
  const latencies = new Map<string, number[]>();
  for (const result of results) {
    for (const [type, values] of result.client.latencies) for (const value of values) record(latencies, type, value);
  }
  for (const result of results) result.client.close();
  return {
    latencies: Object.fromEntries(latencies),
    connectMs: results.map((r) => r.connectMs),
    ownSequenceMs: results.map((r) => r.ownSequenceMs),
    fullMeshMs: results.map((r) => r.fullMeshMs),
    rateLimited: results.reduce((sum, r) => sum + r.client.rateLimited, 0),
    requests: [...latencies.values()].reduce((sum, values) => sum + values.length, 0),
    wallMs,
  };
}

async function run(job: ClientJob): Promise<ClientJobResult> {
  const started = performance.now();
  if (job.kind === 'concurrent') {
    const results = await Promise.all(
      job.meetings.flatMap(({ meetingId, tokens }) =>
        tokens.map((token) => runPeer(job.wsUrl, token, meetingId, 2 * (tokens.length - 1))),
      ),
    );
    return summarise(results, performance.now() - started);
  }
  // members join one after another; the newcomer then joins as fast as it can
  const members: PeerResult[] = [];
  for (const [index, token] of job.memberTokens.entries()) {
    members.push(await runPeer(job.wsUrl, token, job.meetingId, 2 * index));
  }
  const newcomer = await runPeer(job.wsUrl, job.newcomerToken, job.meetingId, 2 * members.length, true);
  for (const member of members) member.client.close();
  return summarise([newcomer], performance.now() - started);
}

parentPort?.on('message', (job: ClientJob) => {
  run(job).then(
    (result) => parentPort?.postMessage({ ok: true, result }),
    (error: unknown) => parentPort?.postMessage({ ok: false, error: String(error) }),
  );
});
