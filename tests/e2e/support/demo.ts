// Drives the real demo page (client/demo) as a user would, through its
// data-testid hooks, and reads window.__rtc (events, marks, call) for the
// assertions. Shared by the e2e tests and bench/join-latency.
import type { Browser, BrowserContext, Page } from 'playwright-core';

/** expect.poll options: vitest's default (1 s) is short for a loaded 2-core machine. */
export const POLL = { timeout: 10_000, interval: 100 };

export interface Participant {
  name: string;
  context: BrowserContext;
  page: Page;
  /** browser console errors and page errors, for failure reports */
  consoleErrors: string[];
}

export interface OpenOptions {
  /** query string without '?', e.g. 'relay=1' */
  query?: string;
  viewport?: { width: number; height: number };
}

/** A fresh browser context (own storage, own camera) on the demo's landing page with the name typed in. */
export async function openDemo(
  browser: Browser,
  baseUrl: string,
  name: string,
  options: OpenOptions = {},
): Promise<Participant> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1280, height: 720 },
    permissions: ['camera', 'microphone'],
  });
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(`[${name}] console: ${message.text()}`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`[${name}] pageerror: ${error.message}`));
  await page.goto(`${baseUrl}/${options.query ? `?${options.query}` : ''}`);
  await page.getByTestId('name-input').fill(name);
  return { name, context, page, consoleErrors };
}

export type JoinOutcome = { ok: true; meetingId: string } | { ok: false; where: 'landing' | 'ended'; text: string };

/** Waits until the SDK's join finished (joinDone mark) or the page shows why it did not. */
export async function waitForJoinOutcome(page: Page, timeoutMs = 20_000): Promise<JoinOutcome> {
  const handle = await page.waitForFunction(
    () => {
      const rtc = window.__rtc;
      const { click, joinDone } = rtc.marks;
      if (click !== undefined && joinDone !== undefined && joinDone >= click && rtc.meeting) {
        return { ok: true, meetingId: rtc.meeting.meetingId };
      }
      // Failures count once the clicked button is no longer busy (the previous screen may still show).
      if (document.querySelector('button[aria-busy="true"]')) return null;
      const error = document.querySelector<HTMLElement>('[data-testid="error-message"]');
      if (error && !error.hidden && error.textContent) return { ok: false, where: 'landing', text: error.textContent };
      const ended = document.querySelector<HTMLElement>('[data-testid="call-ended"]');
      if (ended && !ended.hidden) return { ok: false, where: 'ended', text: ended.textContent };
      return null;
    },
    undefined,
    { timeout: timeoutMs, polling: 20 },
  );
  return (await handle.jsonValue()) as JoinOutcome;
}

async function joined(participant: Participant, timeoutMs?: number): Promise<string> {
  const outcome = await waitForJoinOutcome(participant.page, timeoutMs);
  if (!outcome.ok) {
    throw new Error(`${participant.name} could not join (${outcome.where}): ${outcome.text}`);
  }
  return outcome.meetingId;
}

/** Clicks "New meeting" and waits for the call to be up; returns the meeting id. */
export async function createMeeting(participant: Participant, timeoutMs?: number): Promise<string> {
  await participant.page.getByTestId('create-meeting').click();
  return joined(participant, timeoutMs);
}

/** Pastes the meeting id, clicks "Join" and waits for the call to be up. */
export async function joinMeetingById(participant: Participant, meetingId: string, timeoutMs?: number): Promise<void> {
  await participant.page.getByTestId('join-id-input').fill(meetingId);
  await participant.page.getByTestId('join-button').click();
  await joined(participant, timeoutMs);
}

/** Own peer id in the media host's room. */
export async function peerIdOf(participant: Participant): Promise<string> {
  const peerId = await participant.page.evaluate(() => window.__rtc.call?.peerId ?? null);
  if (!peerId) throw new Error(`${participant.name} has no peer id`);
  return peerId;
}

export async function userIdOf(participant: Participant): Promise<string> {
  const userId = await participant.page.evaluate(() => window.__rtc.me?.userId ?? null);
  if (!userId) throw new Error(`${participant.name} is not signed in`);
  return userId;
}

export interface EventMatch {
  type: string;
  /** every key must equal the event's data[key] */
  data?: Record<string, unknown>;
  /** only events recorded after this performance.now() time */
  after?: number;
}

/** Waits until window.__rtc.events holds an event matching `match`; returns its data. */
export async function waitForRtcEvent(page: Page, match: EventMatch, timeoutMs = 10_000): Promise<unknown> {
  const handle = await page.waitForFunction(
    (m: EventMatch) => {
      const found = window.__rtc.events.find(
        (event) =>
          event.type === m.type &&
          event.t >= (m.after ?? 0) &&
          Object.entries(m.data ?? {}).every(
            ([key, value]) => (event.data as Record<string, unknown> | null)?.[key] === value,
          ),
      );
      return found ? { data: found.data } : null;
    },
    match,
    { timeout: timeoutMs, polling: 50 },
  );
  const { data } = (await handle.jsonValue()) as { data: unknown };
  return data;
}

export function pageNow(page: Page): Promise<number> {
  return page.evaluate(() => performance.now());
}

/** The remote tile showing `peerId`. */
export function remoteTile(page: Page, peerId: string) {
  return page.locator(`[data-testid="remote-tile"][data-peer-id="${peerId}"]`);
}

export type CallStatsSnapshot = Awaited<ReturnType<NonNullable<Window['__rtc']['call']>['getStats']>>;

export async function callStats(page: Page): Promise<CallStatsSnapshot> {
  return page.evaluate(async () => {
    const call = window.__rtc.call;
    if (!call) throw new Error('no call');
    return call.getStats();
  });
}

/** The inbound video of `fromPeerId`: decoded frame count and the <video> element's size. */
export async function remoteVideoState(page: Page, fromPeerId: string) {
  return page.evaluate(async (peerId) => {
    const call = window.__rtc.call;
    if (!call) throw new Error('no call');
    const stats = await call.getStats();
    const video = stats.remoteVideo.find((v) => v.peerId === peerId) ?? null;
    const audio = stats.remoteAudio.find((a) => a.peerId === peerId) ?? null;
    const element = document.querySelector<HTMLVideoElement>(
      `[data-testid="remote-tile"][data-peer-id="${peerId}"] [data-testid="remote-video"]`,
    );
    return {
      framesDecoded: video?.framesDecoded ?? 0,
      frameWidth: video?.frameWidth ?? null,
      frameHeight: video?.frameHeight ?? null,
      spatialLayer: video?.spatialLayer ?? null,
      audioPacketsReceived: audio?.packetsReceived ?? 0,
      videoWidth: element?.videoWidth ?? 0,
      videoHeight: element?.videoHeight ?? 0,
    };
  }, fromPeerId);
}

/**
 * Polls `probe` (which may evaluate in a page) until it returns something other
 * than null/undefined/false. Playwright's waitForFunction does not await async
 * predicates, so anything reading getStats() waits through this.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  { timeoutMs = 10_000, intervalMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== null && value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Waits until `page` renders `fromPeerId`'s video (videoWidth > 0) and decodes
 * frames, and until its audio packets arrive; then until decoding and audio
 * keep going (both counters grow between two samples). Returns both samples.
 */
export async function expectMediaFlowing(page: Page, fromPeerId: string, timeoutMs = 15_000) {
  let last: Awaited<ReturnType<typeof remoteVideoState>> | null = null;
  const sample = async () => {
    last = await remoteVideoState(page, fromPeerId);
    return last;
  };
  const first = await waitUntil(
    `video and audio from ${fromPeerId}`,
    async () => {
      const state = await sample();
      return state.videoWidth > 0 && state.framesDecoded > 0 && state.audioPacketsReceived > 0 && state;
    },
    { timeoutMs },
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last sample ${JSON.stringify(last)}`);
  });
  const second = await waitUntil(
    `more decoded frames and audio packets from ${fromPeerId}`,
    async () => {
      const state = await sample();
      return (
        state.framesDecoded > first.framesDecoded && state.audioPacketsReceived > first.audioPacketsReceived && state
      );
    },
    { timeoutMs },
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last sample ${JSON.stringify(last)}`);
  });
  return { first, second };
}

export async function closeParticipant(participant: Participant | undefined): Promise<void> {
  if (!participant) return;
  await participant.context.close().catch(() => {});
}
