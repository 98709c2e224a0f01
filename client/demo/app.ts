// Huddle demo page: sign in as a guest (POST /api/dev/token), create or join a
// meeting over HTTP, then hand over to the SDK. No framework; plain DOM.
//
// E2E hooks: window.__rtc = { call, events, sent, marks, me, meeting }. Every SDK
// event and every received signalling frame is pushed to `events` as
// {type, data, t}; `marks` holds performance.now() ms of each join phase.
import type { DevTokenResponse, Meeting } from '../../shared/protocol/http.js';
import {
  api,
  Call,
  CallError,
  type CallEvents,
  type CloseReason,
  type ConnectionStateInfo,
  isMeetingEndedCode,
  type LocalMedia,
  preloadDevice,
  type RemoteTrack,
  startLocalMedia,
  stopLocalMedia,
} from '../sdk/index.js';
import { describeError } from './messages.js';
import {
  attachTrack,
  createRemoteTile,
  detachTrack,
  initials,
  type RemoteTile,
  refreshTileState,
  removeTile,
  renderStats,
  setTileName,
} from './tiles.js';

// ---------- e2e hooks ----------

interface RtcEvent {
  type: string;
  data: unknown;
  t: number;
  /** signalling replies and sent requests only */
  requestId?: string;
}

interface RtcHooks {
  call: Call | null;
  events: RtcEvent[];
  /** signalling requests sent: {type, requestId, t} */
  sent: RtcEvent[];
  /** performance.now() ms: click, mediaSessionDone, wsOpen, joined, sendTransportConnected, firstRemoteFrame, ... */
  readonly marks: Record<string, number>;
  me: { userId: string; nickname: string } | null;
  meeting: { meetingId: string; hostUserId: string; title: string } | null;
}

declare global {
  interface Window {
    __rtc: RtcHooks;
  }
}

const MAX_EVENTS = 20_000;
let pageMarks: Record<string, number> = {};

const hooks: RtcHooks = {
  call: null,
  events: [],
  sent: [],
  get marks() {
    return { ...(hooks.call?.marks ?? {}), ...pageMarks } as Record<string, number>;
  },
  me: null,
  meeting: null,
};
window.__rtc = hooks;

/** JSON-safe copy: tracks and streams become ids, errors become {code, message}. */
function sanitize(value: unknown): unknown {
  if (value === undefined) return null;
  return JSON.parse(
    JSON.stringify(value, (_key, v: unknown) => {
      if (v instanceof MediaStreamTrack) return { trackId: v.id, kind: v.kind };
      if (v instanceof MediaStream) return { streamId: v.id };
      if (v instanceof CallError) return { name: v.name, code: v.code, message: v.message, requestType: v.requestType };
      if (v instanceof Error) return { name: v.name, message: v.message };
      return v;
    }),
  );
}

function record(list: RtcEvent[], type: string, data: unknown, requestId?: string): void {
  if (list.length >= MAX_EVENTS) list.splice(0, list.length - MAX_EVENTS + 1);
  const event: RtcEvent = { type, data: sanitize(data), t: performance.now() };
  if (requestId !== undefined) event.requestId = requestId;
  list.push(event);
}

// ---------- DOM ----------

function $<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} missing from index.html`);
  return node as T;
}

const ui = {
  landing: $<HTMLElement>('landing'),
  call: $<HTMLElement>('call'),
  ended: $<HTMLElement>('ended'),
  form: $<HTMLFormElement>('landing-form'),
  nameInput: $<HTMLInputElement>('name-input'),
  createButton: $<HTMLButtonElement>('create-button'),
  joinInput: $<HTMLInputElement>('join-input'),
  joinButton: $<HTMLButtonElement>('join-button'),
  landingError: $<HTMLParagraphElement>('landing-error'),
  meetingTitle: $<HTMLSpanElement>('meeting-title'),
  meetingId: $<HTMLSpanElement>('meeting-id'),
  participantCount: $<HTMLSpanElement>('participant-count'),
  connectionState: $<HTMLSpanElement>('connection-state'),
  inviteLink: $<HTMLInputElement>('invite-link'),
  copyInvite: $<HTMLButtonElement>('copy-invite'),
  grid: $<HTMLDivElement>('grid'),
  localTile: $<HTMLDivElement>('local-tile'),
  localVideo: $<HTMLVideoElement>('local-video'),
  localInitials: $<HTMLSpanElement>('local-initials'),
  localName: $<HTMLSpanElement>('local-name'),
  muteMic: $<HTMLButtonElement>('mute-mic'),
  muteCam: $<HTMLButtonElement>('mute-cam'),
  toggleStats: $<HTMLButtonElement>('toggle-stats'),
  endMeeting: $<HTMLButtonElement>('end-meeting'),
  leave: $<HTMLButtonElement>('leave-button'),
  timer: $<HTMLSpanElement>('call-timer'),
  audioSink: $<HTMLDivElement>('audio-sink'),
  toast: $<HTMLDivElement>('toast'),
  endedTitle: $<HTMLHeadingElement>('ended-title'),
  endedText: $<HTMLParagraphElement>('ended-text'),
  rejoin: $<HTMLButtonElement>('rejoin-button'),
  home: $<HTMLButtonElement>('home-button'),
};

type Screen = 'landing' | 'call' | 'ended';
function showScreen(screen: Screen): void {
  ui.landing.hidden = screen !== 'landing';
  ui.call.hidden = screen !== 'call';
  ui.ended.hidden = screen !== 'ended';
}

let toastTimer: ReturnType<typeof setTimeout> | undefined;
function showToast(message: string, tone: 'error' | 'info' = 'error', ms = 6000): void {
  ui.toast.textContent = message;
  ui.toast.dataset.tone = tone;
  ui.toast.hidden = false;
  if (toastTimer) clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    ui.toast.hidden = true;
  }, ms);
}

function showLandingError(message: string | null): void {
  ui.landingError.textContent = message ?? '';
  ui.landingError.hidden = !message;
}

function setBusy(button: HTMLButtonElement, busy: boolean): void {
  button.disabled = busy;
  button.classList.toggle('is-busy', busy);
  button.setAttribute('aria-busy', String(busy));
}

// ---------- session (guest sign-in, per tab) ----------

const SESSION_KEY = 'huddle.session';
const NAME_KEY = 'huddle.name';
const baseUrl = window.location.origin;

function readSession(): DevTokenResponse | null {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    return raw ? (JSON.parse(raw) as DevTokenResponse) : null;
  } catch {
    return null;
  }
}

/** A dev access token for this tab; reused while it has a few minutes left, same userId across renames. */
async function ensureSession(nickname: string): Promise<DevTokenResponse> {
  const saved = readSession();
  if (saved && saved.nickname === nickname && Date.parse(saved.expiresAt) - Date.now() > 5 * 60_000) return saved;
  let session: DevTokenResponse;
  try {
    session = await api(baseUrl).devToken(nickname, saved?.userId);
  } catch (error) {
    throw Object.assign(error instanceof Error ? error : new Error(String(error)), { context: 'devToken' });
  }
  try {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  } catch {
    // private mode: sign in again next time
  }
  return session;
}

// ---------- meeting id from input or URL ----------

const MEETING_ID = /^[A-Za-z0-9_-]{1,128}$/;

export function parseMeetingInput(input: string): string | null {
  const text = input.trim();
  if (!text) return null;
  const fromPath = /(?:^|\/)m\/([^/?#\s]+)/.exec(text)?.[1];
  const candidate = fromPath ? decodeURIComponent(fromPath) : text;
  return MEETING_ID.test(candidate) ? candidate : null;
}

function meetingIdFromLocation(): string | null {
  const match = /^\/m\/([^/?#]+)\/?$/.exec(window.location.pathname);
  return match?.[1] ? parseMeetingInput(`m/${match[1]}`) : null;
}

function inviteUrl(meetingId: string): string {
  return `${window.location.origin}/m/${encodeURIComponent(meetingId)}`;
}

// ---------- call state ----------

interface ActiveCall {
  call: Call;
  meeting: Meeting;
  session: DevTokenResponse;
  tiles: Map<string, RemoteTile>;
  statsTimer: ReturnType<typeof setInterval>;
  clockTimer: ReturnType<typeof setInterval>;
  joinedAt: number | null;
  endingByMe: boolean;
}

let active: ActiveCall | null = null;
let lastMeetingId: string | null = null;

const STATE_TEXT: Record<string, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  disconnected: 'Reconnecting…',
  failed: 'Connection failed',
  closed: 'Disconnected',
};

function renderConnectionState(info: ConnectionStateInfo): void {
  ui.connectionState.dataset.state = info.state;
  ui.connectionState.dataset.signalling = info.signalling;
  ui.connectionState.dataset.sendTransport = info.sendTransport;
  ui.connectionState.dataset.recvTransport = info.recvTransport;
  const text = ui.connectionState.querySelector('.conn-text');
  if (text) text.textContent = STATE_TEXT[info.state] ?? info.state;
}

function layoutGrid(): void {
  const count = 1 + (active?.tiles.size ?? 0);
  const cols = count <= 1 ? 1 : count <= 4 ? 2 : count <= 9 ? 3 : 4;
  const rows = Math.ceil(count / cols);
  ui.grid.style.setProperty('--cols', String(cols));
  ui.grid.style.setProperty('--rows', String(rows));
  ui.grid.dataset.count = String(count);
  ui.grid.dataset.many = String(count >= 4);
  ui.participantCount.textContent = `${count} in call`;
  markDenseTiles();
}

/** Tiles narrower than the stats overlay hide it (see styles.css). */
function markDenseTiles(): void {
  const width = ui.localTile.getBoundingClientRect().width;
  ui.grid.dataset.dense = String(width > 0 && width < 300);
}
new ResizeObserver(markDenseTiles).observe(ui.grid);

function renderLocalMute(call: Call): void {
  for (const [button, kind] of [
    [ui.muteMic, 'audio'],
    [ui.muteCam, 'video'],
  ] as const) {
    const muted = call.isMuted(kind);
    button.setAttribute('aria-pressed', String(muted));
    button.dataset.muted = String(muted);
    const device = kind === 'audio' ? 'microphone' : 'camera';
    button.title = muted ? `Turn ${device} on` : kind === 'audio' ? 'Mute microphone' : 'Turn camera off';
  }
  ui.localTile.dataset.audio = call.isMuted('audio') ? 'off' : 'on';
  ui.localTile.dataset.video = call.isMuted('video') ? 'off' : 'on';
}

function remoteTile(peerId: string, nickname: string): RemoteTile {
  if (!active) throw new Error('no active call');
  let tile = active.tiles.get(peerId);
  if (!tile) {
    const call = active.call;
    tile = createRemoteTile(peerId, nickname, (layer) => {
      call.setPreferredLayer(peerId, layer).catch((error: unknown) => toastError(error));
    });
    active.tiles.set(peerId, tile);
    ui.grid.append(tile.root);
    layoutGrid();
  } else if (nickname) {
    setTileName(tile, nickname);
  }
  return tile;
}

function watchFirstFrame(video: HTMLVideoElement): void {
  if (pageMarks.firstRemoteFrame !== undefined) return;
  const done = (now: number) => {
    if (pageMarks.firstRemoteFrame !== undefined) return;
    pageMarks.firstRemoteFrame = now;
    record(hooks.events, 'firstRemoteFrame', { consumerId: video.dataset.consumerId ?? null });
  };
  if (typeof video.requestVideoFrameCallback === 'function') {
    video.requestVideoFrameCallback((now) => done(now));
  } else {
    video.addEventListener('loadeddata', () => done(performance.now()), { once: true });
  }
}

function toastError(error: unknown): void {
  const message = describeError(error);
  if (message) showToast(message);
}

let audioUnlockArmed = false;
function onAudioBlocked(): void {
  if (audioUnlockArmed) return;
  audioUnlockArmed = true;
  showToast('Click anywhere to turn on sound.', 'info', 10_000);
  document.addEventListener(
    'click',
    () => {
      audioUnlockArmed = false;
      for (const audio of ui.audioSink.querySelectorAll('audio')) audio.play().catch(() => {});
    },
    { once: true },
  );
}

function wireCall(call: Call): Partial<{ [E in keyof CallEvents]: (payload: CallEvents[E]) => void }> {
  // SDK events -> window.__rtc.events, then the UI.
  const listeners: Partial<{ [E in keyof CallEvents]: (payload: CallEvents[E]) => void }> = {
    signal: (frame) => {
      const { type, requestId, ...rest } = frame;
      // error replies carry no data: keep {code, error, requestType}
      record(hooks.events, type, rest.data ?? rest, requestId);
    },
    signalSent: (sent) => record(hooks.sent, sent.type, null, sent.requestId),
    connectionStateChanged: (info) => renderConnectionState(info),
    localStream: ({ stream }) => {
      ui.localVideo.srcObject = new MediaStream(stream.getVideoTracks());
      ui.localVideo.play().catch(() => {});
      renderLocalMute(call);
    },
    localMuteChanged: () => renderLocalMute(call),
    peerJoined: (peer) => {
      if (active?.call === call) remoteTile(peer.peerId, peer.nickname);
    },
    peerLeft: (peer) => {
      const tile = active?.call === call ? active.tiles.get(peer.peerId) : undefined;
      if (!tile || !active) return;
      removeTile(tile);
      active.tiles.delete(peer.peerId);
      layoutGrid();
    },
    trackAdded: (track: RemoteTrack) => {
      if (active?.call !== call) return;
      const tile = remoteTile(track.peerId, track.nickname);
      attachTrack(tile, track, ui.audioSink, onAudioBlocked);
      if (track.kind === 'video') watchFirstFrame(tile.video);
    },
    trackRemoved: ({ peerId, consumerId }) => {
      const tile = active?.tiles.get(peerId);
      if (tile) detachTrack(tile, consumerId);
    },
    producerPaused: ({ peerId, kind }) => setRemoteMuted(peerId, kind, true),
    producerResumed: ({ peerId, kind }) => setRemoteMuted(peerId, kind, false),
    meetingEnded: (data) => {
      const byMe = active?.endingByMe || data.endedBy === active?.session.userId;
      showEnded('meetingEnded', byMe ? 'You ended the meeting for everyone.' : 'The host ended this meeting.');
    },
    closed: ({ reason }) => {
      // meetingEnded already showed its screen; a failed join is reported by enterMeeting.
      if (reason === 'meetingEnded' || active?.call !== call || active.joinedAt === null) return;
      if (reason === 'left') showEnded('left');
      else if (reason === 'replaced') {
        showEnded('replaced', 'This tab was disconnected because you joined the same meeting somewhere else.');
      } else showEnded('failed', 'The connection to the meeting was lost.');
    },
    error: (error) => {
      toastError(error);
    },
  };
  // Everything except the raw signalling goes to window.__rtc.events under its SDK name.
  const recorded: Array<keyof CallEvents> = [
    'peerJoined',
    'peerLeft',
    'trackAdded',
    'trackRemoved',
    'producerPaused',
    'producerResumed',
    'layersChanged',
    'localMuteChanged',
    'localStream',
    'meetingEnded',
    'connectionStateChanged',
    'closed',
    'error',
  ];
  const wired: Record<string, (payload: never) => void> = { ...listeners } as Record<string, (payload: never) => void>;
  for (const event of recorded) {
    const ui = wired[event];
    wired[event] = (payload: never) => {
      record(hooks.events, event, payload);
      ui?.(payload);
    };
  }
  return wired as Partial<{ [E in keyof CallEvents]: (payload: CallEvents[E]) => void }>;
}

function setRemoteMuted(peerId: string, kind: 'audio' | 'video' | null, muted: boolean): void {
  const tile = active?.tiles.get(peerId);
  if (!tile || !kind) return;
  if (kind === 'audio') tile.audioMuted = muted;
  else tile.videoMuted = muted;
  refreshTileState(tile);
}

async function pollStats(): Promise<void> {
  const current = active;
  if (!current || current.call.closed) return;
  const stats = await current.call.getStats().catch(() => null);
  if (!stats || active !== current) return;
  const seen = new Set<string>();
  for (const video of stats.remoteVideo) {
    const tile = current.tiles.get(video.peerId);
    if (!tile || tile.videoConsumerId !== video.consumerId) continue;
    seen.add(video.peerId);
    renderStats(tile, video);
    if (video.preferredSpatialLayer !== null) tile.layerSelect.value = String(video.preferredSpatialLayer);
  }
  for (const [peerId, tile] of current.tiles) if (!seen.has(peerId) && !tile.videoConsumerId) renderStats(tile, null);
}

function renderClock(): void {
  const start = active?.joinedAt;
  if (!start) return;
  const seconds = Math.floor((Date.now() - start) / 1000);
  const h = Math.floor(seconds / 3600);
  const mm = String(Math.floor((seconds % 3600) / 60)).padStart(2, '0');
  const ss = String(seconds % 60).padStart(2, '0');
  ui.timer.textContent = h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function resetCallView(): void {
  if (active) {
    clearInterval(active.statsTimer);
    clearInterval(active.clockTimer);
    for (const tile of active.tiles.values()) removeTile(tile);
    active.tiles.clear();
  }
  ui.localVideo.srcObject = null;
  ui.audioSink.replaceChildren();
  ui.toast.hidden = true;
  ui.timer.textContent = '00:00';
}

function showEnded(reason: CloseReason, text?: string): void {
  const meetingId = active?.meeting.meetingId ?? lastMeetingId;
  resetCallView();
  active = null;
  ui.ended.dataset.reason = reason;
  const titles: Record<CloseReason, string> = {
    left: 'You left the meeting',
    meetingEnded: 'The meeting has ended',
    replaced: 'You joined from somewhere else',
    failed: 'Connection lost',
  };
  ui.endedTitle.textContent = titles[reason];
  ui.endedText.textContent = text ?? 'Thanks for joining.';
  ui.rejoin.hidden = reason === 'meetingEnded' || !meetingId;
  showScreen('ended');
}

// ---------- join flow ----------

function callOptionsFromQuery() {
  const query = new URLSearchParams(window.location.search);
  const relay = query.get('relay') === '1' || query.get('ice') === 'relay';
  return {
    iceTransportPolicy: relay ? ('relay' as const) : ('all' as const),
    publish: { audio: query.get('audio') !== '0', video: query.get('video') !== '0' },
  };
}

let joining = false;

async function enterMeeting(mode: 'create' | 'join', button: HTMLButtonElement, meetingIdArg?: string): Promise<void> {
  if (joining) return;
  const click = performance.now();
  const nickname = ui.nameInput.value.trim();
  showLandingError(null);
  if (!nickname) {
    showScreen('landing');
    showLandingError('Please enter your name first.');
    ui.nameInput.focus();
    return;
  }
  let meetingId: string | null = meetingIdArg ?? null;
  if (mode === 'join' && !meetingId) {
    meetingId = parseMeetingInput(ui.joinInput.value);
    if (!meetingId) {
      showLandingError(
        ui.joinInput.value.trim()
          ? "That doesn't look like a meeting link or ID."
          : 'Paste a meeting link or ID to join, or start a new meeting.',
      );
      ui.joinInput.focus();
      return;
    }
  }
  try {
    localStorage.setItem(NAME_KEY, nickname);
  } catch {
    // storage disabled
  }

  joining = true;
  pageMarks = { click };
  // A new attempt: the hooks must not show the previous call's marks or meeting.
  hooks.call = null;
  hooks.meeting = null;
  setBusy(button, true);
  let call: Call | null = null;
  // The camera and microphone start now, in parallel with sign-in and the HTTP join; the call takes them over.
  const callOptions = callOptionsFromQuery();
  let localMedia: Promise<LocalMedia> | null = startLocalMedia(callOptions.publish);
  try {
    const session = await ensureSession(nickname);
    hooks.me = { userId: session.userId, nickname: session.nickname };
    pageMarks.signedIn = performance.now();
    const client = api(baseUrl, session.accessToken);
    let meeting: Meeting;
    if (mode === 'create') {
      meeting = await client.createMeeting({ title: `${nickname}'s meeting` });
      await client.joinMeeting(meeting.meetingId);
    } else {
      const id = meetingId as string;
      [meeting] = await Promise.all([client.getMeeting(id), client.joinMeeting(id)]);
    }
    pageMarks.httpJoinDone = performance.now();
    if (meeting.status === 'ENDED') throw new CallError(41001, 'Meeting has ended');

    meetingId = meeting.meetingId;
    lastMeetingId = meeting.meetingId;
    hooks.meeting = { meetingId: meeting.meetingId, hostUserId: meeting.hostUserId, title: meeting.title };
    const path = `/m/${encodeURIComponent(meeting.meetingId)}${window.location.search}`;
    if (window.location.pathname + window.location.search !== path) window.history.pushState({}, '', path);

    call = new Call({
      baseUrl,
      accessToken: session.accessToken,
      meetingId: meeting.meetingId,
      nickname: session.nickname,
      ...callOptions,
      localMedia,
    });
    localMedia = null;
    for (const [event, listener] of Object.entries(wireCall(call))) {
      call.on(event as keyof CallEvents, listener as (payload: unknown) => void);
    }
    resetCallView();
    active = {
      call,
      meeting,
      session,
      tiles: new Map(),
      statsTimer: setInterval(() => void pollStats(), 1000),
      clockTimer: setInterval(renderClock, 1000),
      joinedAt: null,
      endingByMe: false,
    };
    hooks.call = call;
    enterCallView(meeting, session);
    renderConnectionState(call.connectionState);

    await call.join();
    if (active?.call === call) {
      active.joinedAt = Date.now();
      renderClock();
      renderLocalMute(call);
      ui.muteMic.disabled = false;
      ui.muteCam.disabled = false;
    }
  } catch (error) {
    if (localMedia) stopLocalMedia(localMedia);
    const alreadyShown = call !== null && active?.call !== call; // e.g. rtc:meetingEnded arrived mid-join
    if (!alreadyShown) {
      resetCallView();
      active = null;
      const message = describeError(
        error,
        (error as { context?: string }).context === 'devToken' ? 'devToken' : undefined,
      );
      if (error instanceof CallError && isMeetingEndedCode(error.code)) {
        showEnded('meetingEnded', message ?? undefined);
      } else {
        // Keep the meeting in the form so "Join" retries it.
        if (meetingId) ui.joinInput.value = meetingId;
        showScreen('landing');
        showLandingError(message);
      }
    }
  } finally {
    joining = false;
    setBusy(button, false);
  }
}

function enterCallView(meeting: Meeting, session: DevTokenResponse): void {
  ui.meetingTitle.textContent = meeting.title || 'Meeting';
  ui.meetingId.textContent = meeting.meetingId;
  ui.inviteLink.value = inviteUrl(meeting.meetingId);
  ui.localName.textContent = `${session.nickname} (you)`;
  ui.localInitials.textContent = initials(session.nickname);
  ui.localTile.dataset.audio = 'off';
  ui.localTile.dataset.video = 'off';
  ui.endMeeting.hidden = meeting.hostUserId !== session.userId;
  ui.muteMic.disabled = true;
  ui.muteCam.disabled = true;
  ui.muteMic.setAttribute('aria-pressed', 'false');
  ui.muteCam.setAttribute('aria-pressed', 'false');
  layoutGrid();
  showScreen('call');
}

// ---------- controls ----------

async function toggleMute(kind: 'audio' | 'video'): Promise<void> {
  const call = active?.call;
  if (!call) return;
  try {
    if (call.isMuted(kind)) await call.unmute(kind);
    else await call.mute(kind);
  } catch (error) {
    toastError(error);
  }
  renderLocalMute(call);
}

async function leave(): Promise<void> {
  const current = active;
  if (!current) return;
  setBusy(ui.leave, true);
  await current.call.leave();
  api(baseUrl, current.session.accessToken)
    .leaveMeeting(current.meeting.meetingId)
    .catch(() => {});
  setBusy(ui.leave, false);
}

async function endMeeting(): Promise<void> {
  const current = active;
  if (!current) return;
  current.endingByMe = true;
  setBusy(ui.endMeeting, true);
  try {
    await api(baseUrl, current.session.accessToken).endMeeting(current.meeting.meetingId);
    // rtc:meetingEnded normally closes the call; if the media host never says so, leave anyway.
    setTimeout(() => {
      if (active === current) {
        void current.call.leave().then(() => showEnded('meetingEnded', 'You ended the meeting for everyone.'));
      }
    }, 3000);
  } catch (error) {
    current.endingByMe = false;
    toastError(error);
  } finally {
    setBusy(ui.endMeeting, false);
  }
}

async function copyInvite(): Promise<void> {
  const link = ui.inviteLink.value;
  try {
    await navigator.clipboard.writeText(link);
  } catch {
    ui.inviteLink.select();
    document.execCommand('copy');
  }
  showToast('Invite link copied. Send it to the people you want to meet.', 'info', 3000);
}

// ---------- wiring ----------

function initLanding(): void {
  try {
    ui.nameInput.value = localStorage.getItem(NAME_KEY) ?? '';
  } catch {
    // storage disabled
  }
  const fromUrl = meetingIdFromLocation();
  if (fromUrl) {
    ui.joinInput.value = fromUrl;
    // An invite link: joining is the main action.
    ui.joinButton.classList.replace('btn-secondary', 'btn-primary');
    ui.createButton.classList.replace('btn-primary', 'btn-secondary');
  }
  showScreen('landing');
  (ui.nameInput.value ? (fromUrl ? ui.joinButton : ui.createButton) : ui.nameInput).focus();
}

ui.createButton.addEventListener('click', () => void enterMeeting('create', ui.createButton));
ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (ui.joinInput.value.trim() || !ui.nameInput.value.trim()) void enterMeeting('join', ui.joinButton);
  else void enterMeeting('create', ui.createButton);
});
ui.muteMic.addEventListener('click', () => void toggleMute('audio'));
ui.muteCam.addEventListener('click', () => void toggleMute('video'));
ui.toggleStats.addEventListener('click', () => {
  const on = ui.grid.dataset.stats === 'off';
  ui.grid.dataset.stats = on ? 'on' : 'off';
  ui.toggleStats.setAttribute('aria-pressed', String(on));
});
ui.leave.addEventListener('click', () => void leave());
ui.endMeeting.addEventListener('click', () => void endMeeting());
ui.copyInvite.addEventListener('click', () => void copyInvite());
ui.rejoin.addEventListener('click', () => {
  if (lastMeetingId) void enterMeeting('join', ui.rejoin, lastMeetingId);
});
ui.home.addEventListener('click', () => {
  window.history.pushState({}, '', `/${window.location.search}`);
  ui.joinInput.value = '';
  ui.joinButton.classList.replace('btn-primary', 'btn-secondary');
  ui.createButton.classList.replace('btn-secondary', 'btn-primary');
  showLandingError(null);
  showScreen('landing');
});
window.addEventListener('pagehide', () => {
  void active?.call.leave();
});

ui.grid.dataset.stats = 'on';
initLanding();
// This browser's WebRTC capabilities are computed once, before anyone clicks.
setTimeout(() => void preloadDevice(), 0);
