// Three people; one leaves with the Leave button, then (after rejoining) by
// closing the tab. The others see rtc:peerLeft and rtc:producerClosed, the tile
// goes away, and left_at is written to the participant item in DynamoDB.
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
  waitForJoinOutcome,
  waitForRtcEvent,
  waitUntil,
} from './support/demo.js';
import { type E2eEnv, startE2eEnv } from './support/stack.js';

describe('three participants, one leaves', () => {
  let env: E2eEnv;
  let carol: Participant;
  let dave: Participant;
  let erin: Participant;
  let meetingId: string;
  let erinUserId: string;

  beforeAll(async () => {
    env = await startE2eEnv();
    const open = (name: string) => openDemo(env.browser, env.stack.baseUrl, name);
    [carol, dave, erin] = await Promise.all([open('Carol Chen'), open('Dave Diaz'), open('Erin Evans')]);
    env.participants.push(carol, dave, erin);
    meetingId = await createMeeting(carol);
    await Promise.all([joinMeetingById(dave, meetingId), joinMeetingById(erin, meetingId)]);
    erinUserId = await userIdOf(erin);
  });

  afterAll(async () => {
    await env?.stop();
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => console.error(env.failureReport()));
  });

  /** Erin is in the call and Carol and Dave receive her media; returns her peer id. */
  async function erinInCall(): Promise<string> {
    const erinPeer = await peerIdOf(erin);
    await Promise.all([expectMediaFlowing(carol.page, erinPeer), expectMediaFlowing(dave.page, erinPeer)]);
    return erinPeer;
  }

  /** Erin's producers (camera and microphone) as another participant receives them. */
  async function erinProducersAt(other: Participant, erinPeer: string): Promise<string[]> {
    const ids = await other.page.evaluate(
      (peerId) =>
        window.__rtc.call?.peers.find((peer) => peer.peerId === peerId)?.tracks.map((t) => t.producerId) ?? [],
      erinPeer,
    );
    expect(ids).toHaveLength(2);
    return ids;
  }

  async function expectOthersSawErinGo(
    erinPeer: string,
    since: { carol: number; dave: number },
    producers: { carol: string[]; dave: string[] },
  ) {
    for (const [other, after, producerIds] of [
      [carol, since.carol, producers.carol],
      [dave, since.dave, producers.dave],
    ] as const) {
      for (const producerId of producerIds) {
        await waitForRtcEvent(other.page, {
          type: 'rtc:producerClosed',
          data: { peerId: erinPeer, producerId },
          after,
        });
      }
      await waitForRtcEvent(other.page, {
        type: 'rtc:peerLeft',
        data: { peerId: erinPeer, userId: erinUserId },
        after,
      });
      await expect.poll(() => remoteTile(other.page, erinPeer).count(), POLL).toBe(0);
      await expect.poll(() => other.page.getByTestId('remote-tile').count(), POLL).toBe(1);
      await expect.poll(() => other.page.getByTestId('participant-count').textContent(), POLL).toBe('2 in call');
    }
    const item = await waitUntil('left_at on Erin', async () => {
      const participant = await env.participantItem(meetingId, erinUserId);
      return participant?.left_at ? participant : null;
    });
    expect(Number.isNaN(Date.parse(item.left_at ?? ''))).toBe(false);
  }

  it('the Leave button', async () => {
    const erinPeer = await erinInCall();
    expect((await env.participantItem(meetingId, erinUserId))?.left_at).toBeUndefined();
    const producers = { carol: await erinProducersAt(carol, erinPeer), dave: await erinProducersAt(dave, erinPeer) };
    const since = { carol: await pageNow(carol.page), dave: await pageNow(dave.page) };

    await erin.page.getByTestId('leave-button').click();
    await expect.poll(() => erin.page.getByTestId('call-ended').getAttribute('data-reason'), POLL).toBe('left');
    await expectOthersSawErinGo(erinPeer, since, producers);
  });

  it('closing the tab', async () => {
    // Erin comes back (rejoin clears left_at), then closes her tab without clicking anything.
    await erin.page.getByTestId('rejoin-button').click();
    const outcome = await waitForJoinOutcome(erin.page);
    expect(outcome).toEqual({ ok: true, meetingId });
    expect((await env.participantItem(meetingId, erinUserId))?.left_at).toBeUndefined();
    const erinPeer = await erinInCall();
    const producers = { carol: await erinProducersAt(carol, erinPeer), dave: await erinProducersAt(dave, erinPeer) };
    const since = { carol: await pageNow(carol.page), dave: await pageNow(dave.page) };

    await erin.page.close();
    await expectOthersSawErinGo(erinPeer, since, producers);
  });
});
