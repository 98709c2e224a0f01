// The host ends the meeting for everyone, and a later join is refused with the
// contract's code; and a call forced through TURN (iceTransportPolicy 'relay')
// using the credentials the control plane hands out for the local coturn.
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
  userIdOf,
  waitForJoinOutcome,
  waitForRtcEvent,
  waitUntil,
} from './support/demo.js';
import { type E2eEnv, startE2eEnv } from './support/stack.js';

describe('end meeting and relay-only calls', () => {
  let env: E2eEnv;

  beforeAll(async () => {
    env = await startE2eEnv({ turn: true });
  });

  afterAll(async () => {
    await env?.stop();
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => console.error(env.failureReport()));
  });

  async function open(name: string, query?: string): Promise<Participant> {
    const participant = await openDemo(env.browser, env.stack.baseUrl, name, query ? { query } : {});
    env.participants.push(participant);
    return participant;
  }

  it('the host ends the meeting: everyone gets rtc:meetingEnded and a later join fails with 41001', async () => {
    const [ivy, jack] = await Promise.all([open('Ivy Ito'), open('Jack Jones')]);
    const meetingId = await createMeeting(ivy);
    await joinMeetingById(jack, meetingId);
    const ivyUserId = await userIdOf(ivy);
    const since = { ivy: await pageNow(ivy.page), jack: await pageNow(jack.page) };

    await ivy.page.getByTestId('end-meeting').click();
    for (const [who, after] of [
      [ivy, since.ivy],
      [jack, since.jack],
    ] as const) {
      await waitForRtcEvent(who.page, { type: 'rtc:meetingEnded', data: { meetingId, endedBy: ivyUserId }, after });
      await expect
        .poll(() => who.page.getByTestId('call-ended').getAttribute('data-reason'), POLL)
        .toBe('meetingEnded');
      expect(await who.page.getByTestId('rejoin-button').isHidden()).toBe(true);
    }
    await expect
      .poll(() => jack.page.getByTestId('call-ended').textContent())
      .toContain('The host ended this meeting.');

    // Someone with the link tries to join afterwards.
    const kim = await open('Kim Kent');
    const joinReply = kim.page.waitForResponse(
      (response) =>
        response.url().endsWith(`/api/meetings/${meetingId}/join`) && response.request().method() === 'POST',
    );
    await kim.page.getByTestId('join-id-input').fill(meetingId);
    await kim.page.getByTestId('join-button').click();
    const reply = await joinReply;
    expect(reply.status()).toBe(410);
    expect(await reply.json()).toMatchObject({ code: 41001 });
    const outcome = await waitForJoinOutcome(kim.page);
    expect(outcome).toMatchObject({ ok: false, where: 'ended' });
    await expect
      .poll(() => kim.page.getByTestId('call-ended').textContent(), POLL)
      .toContain('This meeting has ended.');
    // no media session was asked for
    expect(await kim.page.evaluate(() => window.__rtc.sent.length)).toBe(0);
  });

  it('relay only: media flows through the local coturn with the issued credentials', async () => {
    expect(env.stack.turnUrls.length).toBeGreaterThan(0);
    const [gina, hank] = await Promise.all([open('Gina Gray', 'relay=1'), open('Hank Hill', 'relay=1')]);
    const configReply = gina.page.waitForResponse((response) => /\/media-config$/.test(response.url()));
    const meetingId = await createMeeting(gina);
    const config = (await (await configReply).json()) as {
      data: { iceServers: { urls: string | string[]; username?: string; credential?: string }[] };
    };
    const turn = config.data.iceServers.filter((server) => [server.urls].flat().some((url) => url.startsWith('turn:')));
    expect(turn.length).toBeGreaterThan(0);
    for (const server of turn) {
      expect(server.username).toBeTruthy();
      expect(server.credential).toBeTruthy();
      expect([server.urls].flat().every((url) => env.stack.turnUrls.includes(url))).toBe(true);
    }

    await joinMeetingById(hank, meetingId);
    const [ginaPeer, hankPeer] = await Promise.all([peerIdOf(gina), peerIdOf(hank)]);
    await Promise.all([expectMediaFlowing(gina.page, hankPeer), expectMediaFlowing(hank.page, ginaPeer)]);

    for (const who of [gina, hank]) {
      const stats = await waitUntil(`${who.name}'s candidate pairs`, async () => {
        const s = await callStats(who.page);
        return s.sendPair && s.recvPair && s;
      });
      expect(stats.sendPair?.localCandidateType).toBe('relay');
      expect(stats.recvPair?.localCandidateType).toBe('relay');
    }
  });
});
