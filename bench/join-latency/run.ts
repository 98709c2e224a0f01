// Join-latency benchmark: the local stack once, then N rounds of two fresh
// Chromium peers (new browser contexts) meeting through the real demo page.
// The first creates a meeting, the second joins it by id; the second is the
// one measured (the first is reported too). Every phase is measured from the
// click, with the page's own performance.now() marks (window.__rtc.marks).
//
//   npx tsx bench/join-latency/run.ts [--rounds 10] [--warmup 1]
//
// Prints numbers only; no assertions.
import os from 'node:os';
import type { Page } from 'playwright-core';
import { startLocalStack } from '../../scripts/local-stack.js';
import { closeParticipant, openDemo, type Participant, waitForJoinOutcome } from '../../tests/e2e/support/demo.js';
import { launchChromium } from '../../tests/support/chromium.js';

interface Args {
  rounds: number;
  warmup: number;
  /** print the second joiner's timeline (requests, replies, marks) of the median round */
  timeline: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { rounds: 10, warmup: 1, timeline: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--timeline') {
      args.timeline = true;
      continue;
    }
    const value = Number(argv[i + 1]);
    if ((flag === '--rounds' || flag === '--warmup') && Number.isInteger(value) && value >= 0) {
      args[flag === '--rounds' ? 'rounds' : 'warmup'] = value;
      i++;
    } else {
      throw new Error(`usage: npx tsx bench/join-latency/run.ts [--rounds N] [--warmup N] [--timeline] (got ${flag})`);
    }
  }
  if (args.rounds < 1) throw new Error('--rounds must be at least 1');
  return args;
}

interface TimedEvent {
  type: string;
  t: number;
  requestId?: string;
  /** transport states, for connectionStateChanged */
  detail?: string;
}

interface PageSample {
  timeOrigin: number;
  marks: Record<string, number>;
  sent: TimedEvent[];
  events: TimedEvent[];
}

async function sample(page: Page): Promise<PageSample> {
  return page.evaluate(() => ({
    timeOrigin: performance.timeOrigin,
    marks: window.__rtc.marks,
    sent: window.__rtc.sent.map(({ type, t, requestId }) => ({ type, t, ...(requestId ? { requestId } : {}) })),
    events: window.__rtc.events.map(({ type, t, requestId, data }) => {
      const state = type === 'connectionStateChanged' ? (data as Record<string, string>) : null;
      return {
        type,
        t,
        ...(requestId ? { requestId } : {}),
        ...(state ? { detail: `send ${state.sendTransport}, recv ${state.recvTransport}` } : {}),
      };
    }),
  }));
}

/**
 * Serial signalling round trips of a join: the longest chain of requests in
 * which each one was sent after the previous one's reply arrived (dependency
 * depth). Requests sent together (pipelined) count once.
 */
export function serialRoundTrips(sample: PageSample, until: number): { depth: number; chain: string[] } {
  const replies = new Map(sample.events.filter((e) => e.requestId).map((e) => [e.requestId, e.t]));
  const requests = sample.sent
    .filter((r) => r.t <= until && r.requestId && replies.has(r.requestId))
    .map((r) => ({ type: r.type, sentAt: r.t, repliedAt: replies.get(r.requestId) ?? Number.POSITIVE_INFINITY }))
    .sort((a, b) => a.sentAt - b.sentAt);
  const depth: number[] = [];
  const previous: number[] = [];
  for (let i = 0; i < requests.length; i++) {
    depth[i] = 1;
    previous[i] = -1;
    for (let j = 0; j < i; j++) {
      if ((requests[j]?.repliedAt ?? Infinity) <= (requests[i]?.sentAt ?? 0) && (depth[j] ?? 0) + 1 > (depth[i] ?? 0)) {
        depth[i] = (depth[j] ?? 0) + 1;
        previous[i] = j;
      }
    }
  }
  let end = -1;
  for (let i = 0; i < requests.length; i++) if (end < 0 || (depth[i] ?? 0) > (depth[end] ?? 0)) end = i;
  const chain: string[] = [];
  for (let i = end; i >= 0; i = previous[i] ?? -1) chain.unshift(requests[i]?.type.replace(/^rtc:/, '') ?? '?');
  return { depth: end < 0 ? 0 : (depth[end] ?? 0), chain };
}

const JOINER_PHASES: Array<[label: string, mark: string]> = [
  ['media-session HTTP done', 'mediaSessionDone'],
  ['WebSocket open', 'wsOpen'],
  ['rtc:joined', 'joined'],
  ['send transport connected (DTLS)', 'sendTransportConnected'],
  ['first remote video frame', 'firstRemoteFrame'],
];

/** Every mark, for finding where the time goes. */
const ALL_MARKS = [
  'signedIn',
  'httpJoinDone',
  'joinStart',
  'mediaConfigDone',
  'mediaSessionDone',
  'wsOpen',
  'joined',
  'deviceLoaded',
  'transportsCreated',
  'sendTransportConnected',
  'recvTransportConnected',
  'firstTrackAdded',
  'published',
  'joinDone',
  'firstRemoteFrame',
];

interface RoundResult {
  joiner: Record<string, number>;
  creator: Record<string, number>;
  /** creator sees the joiner's first frame, ms after the joiner's click */
  creatorFirstFrameAfterJoinClick: number;
  joinerTrips: { depth: number; chain: string[] };
  creatorTrips: { depth: number; chain: string[] };
  joinerTimeline: string[];
  /** reply time minus send time per request type (second joiner) */
  joinerRtts: Record<string, number[]>;
}

/** Signalling round trip per request type, ms (request sent -> reply received). */
function requestRtts(sample: PageSample, until: number): Record<string, number[]> {
  const replies = new Map(sample.events.filter((e) => e.requestId).map((e) => [e.requestId, e.t]));
  const rtts: Record<string, number[]> = {};
  for (const request of sample.sent) {
    const reply = replies.get(request.requestId);
    if (reply === undefined || request.t > until) continue;
    rtts[request.type] ??= [];
    rtts[request.type]?.push(reply - request.t);
  }
  return rtts;
}

/** Consecutive segments of the second joiner's path to its first remote frame (differences of marks). */
const SEGMENTS: Array<[label: string, from: string, to: string]> = [
  ['sign-in (POST /api/dev/token)', 'click', 'signedIn'],
  ['REQ-002 join (GET meeting + POST join)', 'signedIn', 'httpJoinDone'],
  ['page hands over to the SDK', 'httpJoinDone', 'joinStart'],
  ['POST media-session', 'joinStart', 'mediaSessionDone'],
  ['WebSocket upgrade', 'mediaSessionDone', 'wsOpen'],
  ['rtc:join round trip', 'wsOpen', 'joined'],
  ['caps + transports + device ready', 'joined', 'transportsCreated'],
  ['consume + connect + local consumer', 'transportsCreated', 'firstTrackAdded'],
  ['recv ICE + DTLS after local consumer', 'firstTrackAdded', 'recvTransportConnected'],
  ['first frame after recv DTLS (keyframe)', 'recvTransportConnected', 'firstRemoteFrame'],
];
/** Requests (>), replies/broadcasts (<) and marks (*) of one page, ms from the click. */
function timeline(sample: PageSample): string[] {
  const click = sample.marks.click ?? 0;
  const until = sample.marks.firstRemoteFrame ?? sample.marks.joinDone ?? Number.POSITIVE_INFINITY;
  const sentTypes = new Map(sample.sent.map((r) => [r.requestId, r.type]));
  const rows: Array<[number, string]> = [
    ...sample.sent.map((r): [number, string] => [r.t, `> ${r.type} ${r.requestId ?? ''}`]),
    ...sample.events
      .filter((e) => e.type.startsWith('rtc:') || e.type === 'connectionStateChanged')
      .map((e): [number, string] => [
        e.t,
        `< ${e.type}${e.requestId ? ` ${e.requestId} (for ${sentTypes.get(e.requestId) ?? '?'})` : ''}${e.detail ? ` ${e.detail}` : ''}`,
      ]),
    ...Object.entries(sample.marks).map(([name, t]): [number, string] => [t, `* ${name}`]),
  ];
  return rows
    .filter(([t]) => t <= until + 1)
    .sort((a, b) => a[0] - b[0])
    .map(([t, text]) => `  ${(t - click).toFixed(1).padStart(7)}  ${text}`);
}

function sinceClick(marks: Record<string, number>): Record<string, number> {
  const click = marks.click ?? 0;
  return Object.fromEntries(Object.entries(marks).map(([name, t]) => [name, t - click]));
}

async function waitForMark(page: Page, mark: string, timeoutMs = 20_000): Promise<void> {
  await page.waitForFunction((name) => window.__rtc.marks[name] !== undefined, mark, {
    timeout: timeoutMs,
    polling: 10,
  });
}

async function round(browserBaseUrl: string, launch: Awaited<ReturnType<typeof launchChromium>>, n: number) {
  let creator: Participant | undefined;
  let joiner: Participant | undefined;
  try {
    [creator, joiner] = await Promise.all([
      openDemo(launch, browserBaseUrl, `Creator ${n}`),
      openDemo(launch, browserBaseUrl, `Joiner ${n}`),
    ]);
    await creator.page.getByTestId('create-meeting').click();
    const created = await waitForJoinOutcome(creator.page);
    if (!created.ok) throw new Error(`round ${n}: create failed: ${created.text}`);

    await joiner.page.getByTestId('join-id-input').fill(created.meetingId);
    await joiner.page.getByTestId('join-button').click();
    const joined = await waitForJoinOutcome(joiner.page);
    if (!joined.ok) throw new Error(`round ${n}: join failed: ${joined.text}`);
    await Promise.all([waitForMark(joiner.page, 'firstRemoteFrame'), waitForMark(creator.page, 'firstRemoteFrame')]);

    const [c, j] = await Promise.all([sample(creator.page), sample(joiner.page)]);
    const joinerClickEpoch = j.timeOrigin + (j.marks.click ?? 0);
    const creatorFrameEpoch = c.timeOrigin + (c.marks.firstRemoteFrame ?? 0);
    return {
      joiner: sinceClick(j.marks),
      creator: sinceClick(c.marks),
      creatorFirstFrameAfterJoinClick: creatorFrameEpoch - joinerClickEpoch,
      joinerTrips: serialRoundTrips(j, j.marks.joinDone ?? Number.POSITIVE_INFINITY),
      creatorTrips: serialRoundTrips(c, c.marks.joinDone ?? Number.POSITIVE_INFINITY),
      joinerTimeline: timeline(j),
      joinerRtts: requestRtts(j, j.marks.firstRemoteFrame ?? Number.POSITIVE_INFINITY),
    } satisfies RoundResult;
  } finally {
    await Promise.all([closeParticipant(creator), closeParticipant(joiner)]);
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] ?? Number.NaN;
}

function row(label: string, values: number[]): string {
  const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '-').padStart(6);
  return `  ${label.padEnd(34)}${fmt(percentile(values, 50))}${fmt(percentile(values, 95))}${fmt(Math.min(...values))}${fmt(Math.max(...values))}`;
}

function table(title: string, results: Record<string, number>[], phases: Array<[string, string]>): string[] {
  const lines = [
    title,
    `  ${'phase (ms from click)'.padEnd(34)}${'p50'.padStart(6)}${'p95'.padStart(6)}${'min'.padStart(6)}${'max'.padStart(6)}`,
  ];
  for (const [label, mark] of phases) {
    const values = results.map((r) => r[mark]).filter((v): v is number => v !== undefined);
    if (values.length > 0) lines.push(row(label, values));
  }
  return lines;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  process.stdout.write(
    `join-latency: starting the local stack (${os.availableParallelism()} cores, load ${os.loadavg()[0]?.toFixed(1)})…\n`,
  );
  const stack = await startLocalStack({
    controlPort: 0,
    mediaPort: 0,
    rtcPortBase: 0,
    numWorkers: 1,
    turn: false,
    onLog: (source, line) => {
      if (/"level":"(error|fatal)"/.test(line)) process.stderr.write(`[${source}] ${line}\n`);
    },
  });
  const browser = await launchChromium();
  const chromiumVersion = browser.version();
  const results: RoundResult[] = [];
  try {
    for (let i = 0; i < args.warmup + args.rounds; i++) {
      const result = await round(stack.baseUrl, browser, i);
      const warm = i < args.warmup;
      process.stdout.write(
        `  round ${String(i + 1).padStart(2)}${warm ? ' (warm-up)' : '          '}  joiner: first frame ${result.joiner.firstRemoteFrame?.toFixed(0)} ms, DTLS ${result.joiner.sendTransportConnected?.toFixed(0)} ms, ${result.joinerTrips.depth} serial round trips\n`,
      );
      if (!warm) results.push(result);
    }
  } finally {
    await browser.close().catch(() => {});
    await stack.stop();
  }

  const joiner = results.map((r) => r.joiner);
  const creator = results.map((r) => r.creator);
  const lines = [
    '',
    `join-latency: ${results.length} rounds (after ${args.warmup} warm-up), loopback, 1 media worker, no TURN, Chromium ${chromiumVersion}`,
    ...table('second joiner (joins by id):', joiner, JOINER_PHASES),
    ...table(
      'first joiner (creates the meeting; its first frame waits for the second):',
      creator,
      JOINER_PHASES.slice(0, 4),
    ),
    row(
      'creator sees joiner, from join click',
      results.map((r) => r.creatorFirstFrameAfterJoinClick),
    ),
    '',
    ...table(
      'second joiner, every mark:',
      joiner,
      ALL_MARKS.map((m) => [m, m]),
    ),
    '',
    "second joiner, critical-path segments (p50 of each round's difference):",
    ...SEGMENTS.map(([label, from, to]) =>
      row(
        label,
        joiner.map((marks) => (marks[to] ?? Number.NaN) - (marks[from] ?? Number.NaN)).filter(Number.isFinite),
      ),
    ),
    '',
    'second joiner, signalling round trip per request (sent -> reply):',
    ...[...new Set(results.flatMap((r) => Object.keys(r.joinerRtts)))].map((type) =>
      row(
        type,
        results.flatMap((r) => r.joinerRtts[type] ?? []),
      ),
    ),
    '',
    `serial signalling round trips in a join (dependency depth, up to joinDone):`,
    `  second joiner: p50 ${percentile(
      results.map((r) => r.joinerTrips.depth),
      50,
    )}, max ${Math.max(...results.map((r) => r.joinerTrips.depth))}; e.g. ${results[0]?.joinerTrips.chain.join(' -> ')}`,
    `  first joiner:  p50 ${percentile(
      results.map((r) => r.creatorTrips.depth),
      50,
    )}, max ${Math.max(...results.map((r) => r.creatorTrips.depth))}; e.g. ${results[0]?.creatorTrips.chain.join(' -> ')}`,
    '',
    'targets (loopback): first remote frame p50 <= 300 ms, p95 <= 600 ms; connection setup (DTLS) p50 <= 150 ms',
  ];
  if (args.timeline) {
    const byFrame = [...results].sort((a, b) => (a.joiner.firstRemoteFrame ?? 0) - (b.joiner.firstRemoteFrame ?? 0));
    const median = byFrame[Math.floor((byFrame.length - 1) / 2)];
    lines.push('', 'second joiner, median round (ms from click):', ...(median?.joinerTimeline ?? []));
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`join-latency failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
