// Two people in a call; Bob's signalling socket drops as a network failure
// would (1006). His SDK rejoins through a fresh media session with the same
// camera and microphone tracks, and both see each other's video again.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createMeeting,
  expectMediaFlowing,
  joinMeetingById,
  openDemo,
  type Participant,
  POLL,
  pageNow,
  peerIdOf,
  remoteTile,
  userIdOf,
  waitForRtcEvent,
  waitUntil,
} from './support/demo.js';
import { type E2eEnv, startE2eEnv } from './support/stack.js';

describe('reconnect after a dropped signalling socket', () => {
  let env: E2eEnv;
  let alice: Participant;
  let bob: Participant;
  let meetingId: string;

  beforeAll(async () => {
    env = await startE2eEnv();
    alice = await openDemo(env.browser, env.stack.baseUrl, 'Alice Archer');
    bob = await openDemo(env.browser, env.stack.baseUrl, 'Bob Baker');
    env.participants.push(alice, bob);
    meetingId = await createMeeting(alice);
    await joinMeetingById(bob, meetingId);
  });

  afterAll(async () => {
    await env?.stop();
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => console.error(env.failureReport()));
  });

  it('rejoins with the same tracks; the other side sees one Bob, leaving then joining', async () => {
    const [alicePeer, oldBobPeer, bobUserId] = await Promise.all([peerIdOf(alice), peerIdOf(bob), userIdOf(bob)]);
    await Promise.all([expectMediaFlowing(alice.page, oldBobPeer), expectMediaFlowing(bob.page, alicePeer)]);
    const oldConsumerAtBob = await bob.page.evaluate(
      () => window.__rtc.call?.peers[0]?.tracks.map((t) => t.consumerId) ?? [],
    );
    expect(oldConsumerAtBob).toHaveLength(2);
    const since = { alice: await pageNow(alice.page), bob: await pageNow(bob.page) };
    const localTrackIds = () =>
      bob.page.evaluate(() =>
        (window.__rtc.call?.localStream?.getTracks() ?? []).map((t) => `${t.kind}:${t.id}:${t.readyState}`).sort(),
      );
    const tracksBefore = await localTrackIds();

    await bob.page.evaluate(() => window.__rtc.call?.simulateConnectionDrop());

    await waitForRtcEvent(bob.page, {
      type: 'connectionStateChanged',
      data: { state: 'reconnecting' },
      after: since.bob,
    });
    const newBobPeer = await waitUntil('Bob rejoined with a new peer id', async () => {
      const peerId = await bob.page.evaluate(() => window.__rtc.call?.peerId ?? null);
      return peerId !== null && peerId !== oldBobPeer && peerId;
    });

    // Alice saw the old Bob leave and the new one join.
    await waitForRtcEvent(alice.page, {
      type: 'rtc:peerLeft',
      data: { peerId: oldBobPeer, userId: bobUserId },
      after: since.alice,
    });
    await waitForRtcEvent(alice.page, {
      type: 'rtc:peerJoined',
      data: { peerId: newBobPeer, userId: bobUserId },
      after: since.alice,
    });
    // Bob's old consumers were removed before the new ones were added.
    for (const consumerId of oldConsumerAtBob) {
      await waitForRtcEvent(bob.page, { type: 'trackRemoved', data: { consumerId }, after: since.bob });
    }

    await Promise.all([expectMediaFlowing(alice.page, newBobPeer), expectMediaFlowing(bob.page, alicePeer)]);
    await expect.poll(() => bob.page.evaluate(() => window.__rtc.call?.connectionState.state), POLL).toBe('connected');
    const connectedAgain = await waitForRtcEvent(bob.page, {
      type: 'connectionStateChanged',
      data: { state: 'connected' },
      after: since.bob,
    });
    expect(connectedAgain).toMatchObject({ state: 'connected', signalling: 'open' });

    // The same camera and microphone tracks, never re-acquired.
    expect(await localTrackIds()).toEqual(tracksBefore);

    // The room holds exactly one Bob, as Alice's view of it shows; each side shows one remote tile.
    const bobsAtAlice = await alice.page.evaluate(
      (userId) => window.__rtc.call?.peers.filter((p) => p.userId === userId).map((p) => p.peerId) ?? [],
      bobUserId,
    );
    expect(bobsAtAlice).toEqual([newBobPeer]);
    await expect.poll(() => remoteTile(alice.page, oldBobPeer).count(), POLL).toBe(0);
    await expect.poll(() => alice.page.getByTestId('remote-tile').count(), POLL).toBe(1);
    await expect.poll(() => bob.page.getByTestId('remote-tile').count(), POLL).toBe(1);
    await expect.poll(() => remoteTile(bob.page, alicePeer).count(), POLL).toBe(1);
    const bobEvents = await bob.page.evaluate(
      (after) => window.__rtc.events.filter((e) => e.t >= after && (e.type === 'closed' || e.type === 'error')),
      since.bob,
    );
    expect(bobEvents).toEqual([]);
    // The rejoin cleared the left_at the host wrote when the socket dropped.
    expect((await env.participantItem(meetingId, bobUserId))?.left_at).toBeUndefined();
  });
});
