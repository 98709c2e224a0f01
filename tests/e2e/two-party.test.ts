// Two people in a call through the real stack and real Chromium: media both
// ways, a screenshot of the call, mute/unmute seen by the other side.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  callStats,
  createMeeting,
  expectMediaFlowing,
  joinMeetingById,
  openDemo,
  type Participant,
  POLL,
  pageNow,
  peerIdOf,
  remoteTile,
  remoteVideoState,
  waitForRtcEvent,
  waitUntil,
} from './support/demo.js';
import { type E2eEnv, startE2eEnv } from './support/stack.js';

const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../artifacts');

describe('two participants', () => {
  let env: E2eEnv;
  let alice: Participant;
  let bob: Participant;
  let alicePeer: string;
  let bobPeer: string;

  beforeAll(async () => {
    env = await startE2eEnv();
    alice = await openDemo(env.browser, env.stack.baseUrl, 'Alice Archer');
    bob = await openDemo(env.browser, env.stack.baseUrl, 'Bob Baker');
    env.participants.push(alice, bob);
    const meetingId = await createMeeting(alice);
    await joinMeetingById(bob, meetingId);
    [alicePeer, bobPeer] = await Promise.all([peerIdOf(alice), peerIdOf(bob)]);
  });

  afterAll(async () => {
    await env?.stop();
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => console.error(env.failureReport()));
  });

  it('each renders the other and receives audio', async () => {
    const [atAlice, atBob] = await Promise.all([
      expectMediaFlowing(alice.page, bobPeer),
      expectMediaFlowing(bob.page, alicePeer),
    ]);
    for (const { first, second } of [atAlice, atBob]) {
      expect(second.videoWidth).toBeGreaterThan(0);
      expect(second.framesDecoded).toBeGreaterThan(first.framesDecoded);
      expect(second.audioPacketsReceived).toBeGreaterThan(first.audioPacketsReceived);
    }
    await expect.poll(() => remoteTile(alice.page, bobPeer).getAttribute('data-nickname'), POLL).toBe('Bob Baker');
    await expect.poll(() => remoteTile(bob.page, alicePeer).getAttribute('data-nickname'), POLL).toBe('Alice Archer');
    await expect
      .poll(() => alice.page.getByTestId('connection-state').getAttribute('data-state'), POLL)
      .toBe('connected');

    await mkdir(ARTIFACTS, { recursive: true });
    await alice.page.screenshot({ path: path.join(ARTIFACTS, 'two-person-call.png') });
  });

  it('simulcast: the 1280x720 camera goes out as r0, r1 and r2, and the receiver can switch layers', async () => {
    const settings = await alice.page.evaluate(() => {
      const track = window.__rtc.call?.localStream?.getVideoTracks()[0];
      return track ? { width: track.getSettings().width, height: track.getSettings().height } : null;
    });
    expect(settings).toEqual({ width: 1280, height: 720 });

    // Every encoding's bytesSent grows between two samples (bandwidth estimation ramps up first).
    const sentBytes = async () => {
      const layers = (await callStats(alice.page)).localVideo;
      return Object.fromEntries(layers.map((layer) => [layer.rid, layer.bytesSent]));
    };
    const before = await waitUntil(
      'r0, r1 and r2 sending',
      async () => {
        const bytes = await sentBytes();
        return ['r0', 'r1', 'r2'].every((rid) => (bytes[rid] ?? 0) > 0) && bytes;
      },
      { timeoutMs: 15_000 },
    );
    const after = await waitUntil(
      'r0, r1 and r2 bytes growing',
      async () => {
        const bytes = await sentBytes();
        return ['r0', 'r1', 'r2'].every((rid) => (bytes[rid] ?? 0) > (before[rid] ?? 0)) && bytes;
      },
      { timeoutMs: 15_000 },
    );
    expect(Object.keys(after).sort()).toEqual(['r0', 'r1', 'r2']);

    // Bob picks a layer in the tile's menu; the host's layer report and the decoded size follow.
    const tile = remoteTile(bob.page, alicePeer);
    const switchTo = async (layer: '0' | '2', frameOk: (height: number) => boolean) => {
      await tile.getByTestId('layer-select').selectOption(layer);
      return waitUntil(
        `Bob receiving layer ${layer}`,
        async () => {
          const state = await remoteVideoState(bob.page, alicePeer);
          const shown = await tile.getAttribute('data-spatial-layer');
          return shown === layer && state.spatialLayer === Number(layer) && frameOk(state.frameHeight ?? 0) && state;
        },
        { timeoutMs: 15_000 },
      );
    };
    // The SDK starts the consumer on r0 (fast first frame) and then raises it; wait for that first.
    await waitUntil('the fast start to be raised above r0', async () => {
      const state = await remoteVideoState(bob.page, alicePeer);
      return (state.spatialLayer ?? 0) > 0 && state;
    });
    // r0 is the capture scaled down by 4 (180 rows), r2 is full size unless the encoder had to adapt
    const low = await switchTo('0', (height) => height > 0 && height <= 180);
    const high = await switchTo('2', (height) => height > (low.frameHeight ?? 0));
    expect(high.frameHeight).toBeGreaterThan(low.frameHeight ?? 0);
  });

  it('mute pauses the producer and the other side sees it; unmute reverses it', async () => {
    const tileAtBob = remoteTile(bob.page, alicePeer);
    for (const [button, kind, attribute] of [
      ['mute-mic', 'audio', 'data-audio-muted'],
      ['mute-cam', 'video', 'data-video-muted'],
    ] as const) {
      const since = await pageNow(bob.page);
      await alice.page.getByTestId(button).click();
      await expect.poll(() => alice.page.getByTestId(button).getAttribute('aria-pressed'), POLL).toBe('true');
      // the host's broadcast, and the SDK's reading of it (which producer kind)
      await waitForRtcEvent(bob.page, { type: 'rtc:producerPaused', data: { peerId: alicePeer }, after: since });
      await waitForRtcEvent(bob.page, { type: 'producerPaused', data: { peerId: alicePeer, kind }, after: since });
      await expect.poll(() => tileAtBob.getAttribute(attribute), POLL).toBe('true');

      const resumedSince = await pageNow(bob.page);
      await alice.page.getByTestId(button).click();
      await expect.poll(() => alice.page.getByTestId(button).getAttribute('aria-pressed'), POLL).toBe('false');
      await waitForRtcEvent(bob.page, {
        type: 'rtc:producerResumed',
        data: { peerId: alicePeer },
        after: resumedSince,
      });
      await waitForRtcEvent(bob.page, {
        type: 'producerResumed',
        data: { peerId: alicePeer, kind },
        after: resumedSince,
      });
      await expect.poll(() => tileAtBob.getAttribute(attribute), POLL).toBe('false');
    }
  });
});
