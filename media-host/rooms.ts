// The host's rooms by meetingId: creates a room (router) on first join and,
// alongside it, claims the meeting's placement for this host (a room that
// turns out to belong elsewhere closes again); remembers meetings that ended
// or moved, and gives a meeting's placement back to the control plane once it
// has had no room and no connection that could still join for a grace period.
import type { Clock } from '../shared/clock.js';
import { AppError, ErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { EndMeetingNotice } from '../shared/protocol/http.js';
import { TypedEmitter } from './events.js';
import type { TransportSettings } from './media-settings.js';
import { message } from './peer.js';
import { Room, type RoomCloseReason } from './room.js';
import type { WorkerPool } from './workers.js';

export interface RoomManagerEvents extends Record<string, unknown[]> {
  roomcreated: [Room];
  roomclosed: [Room, RoomCloseReason];
  /** a release grace period ran out: the placement was released, or kept (room or connections) */
  graceexpired: [meetingId: string, outcome: 'released' | 'kept'];
}

/** What claiming a meeting's placement for this host found (see HostRegistryStore.claimMeeting). */
export type PlacementClaim =
  | { outcome: 'held' | 'reclaimed' | 'moved' | 'unknown' }
  | { outcome: 'ended'; notice: EndMeetingNotice };

export interface RoomManagerOptions {
  pool: WorkerPool;
  logger: Logger;
  clock: Clock;
  transportSettings: TransportSettings;
  releaseGraceMs: number;
  /** gives the meeting's placement back (DynamoDB); failures are logged, not thrown */
  releaseMeeting: (meetingId: string) => Promise<void>;
  /** points the meeting's placement at this host while its room is created (DynamoDB) */
  claimMeeting: (meetingId: string) => Promise<PlacementClaim>;
  /** whether a signalling connection that can still join (open, not left) exists for the meeting */
  hasLiveConnections: (meetingId: string) => boolean;
}

export const MEETING_MOVED_MESSAGE = 'meeting is served by another host; request a new media session';

/** The meeting is placed on another host: a room here would split it. */
export class MeetingMovedError extends Error {
  override name = 'MeetingMovedError';
  constructor(readonly meetingId: string) {
    super(MEETING_MOVED_MESSAGE);
  }
}

export interface HostCounts {
  rooms: number;
  peers: number;
  transports: number;
  producers: number;
  consumers: number;
}

/** Ended meetings are remembered this long. */
const ENDED_MEMORY_MS = 24 * 3600_000;
/** At most this many ended (or moved) meetings are remembered. */
const MEMORY_MAX = 50_000;
/**
 * A meeting found on another host is refused this long before its placement
 * is asked again: long enough that a burst of joiners does not each create a
 * router, short enough that a meeting placed back here is soon served again.
 */
const MOVED_MEMORY_MS = 5_000;

export class RoomManager extends TypedEmitter<RoomManagerEvents> {
  readonly rooms = new Map<string, Room>();
  readonly #pending = new Map<string, Promise<Room>>();
  /** ended meetings -> when this host learned it */
  readonly #ended: RecentMeetings;
  /** meetings whose placement names another host -> when that was found */
  readonly #moved: RecentMeetings;
  /** the placement claim in flight per meeting, so a release never overtakes it */
  readonly #claimByMeeting = new Map<string, Promise<void>>();
  readonly #releaseTimers = new Map<string, NodeJS.Timeout>();
  readonly #releases = new Set<Promise<void>>();
  /** the latest release per meeting, so a claim never races (and gets undone by) it */
  readonly #releaseByMeeting = new Map<string, Promise<void>>();
  readonly #options: RoomManagerOptions;
  readonly #logger: Logger;
  #shuttingDown = false;

  constructor(options: RoomManagerOptions) {
    super(options.logger);
    this.#options = options;
    this.#logger = options.logger;
    this.#ended = new RecentMeetings(ENDED_MEMORY_MS, options.clock);
    this.#moved = new RecentMeetings(MOVED_MEMORY_MS, options.clock);
    options.pool.on('workerdied', ({ meetingIds }) => {
      for (const meetingId of meetingIds) this.rooms.get(meetingId)?.close('worker-died');
    });
  }

  get(meetingId: string): Room | undefined {
    return this.rooms.get(meetingId);
  }

  isEnded(meetingId: string): boolean {
    return this.#ended.has(meetingId);
  }

  /**
   * The meeting's room, created (router on the least-loaded worker) on first
   * use. Its placement claim runs alongside, so a join never waits for DynamoDB.
   */
  async getOrCreate(meetingId: string): Promise<Room> {
    if (this.isEnded(meetingId)) throw new AppError(ErrorCode.MeetingEnded);
    if (this.#shuttingDown) throw new AppError(ErrorCode.Internal, 'This media host is shutting down');
    const existing = this.rooms.get(meetingId);
    if (existing && !existing.closed) return existing;
    if (this.#moved.has(meetingId)) throw new MeetingMovedError(meetingId);
    const pending = this.#pending.get(meetingId);
    if (pending) return pending;
    const creation = this.#create(meetingId).finally(() => this.#pending.delete(meetingId));
    this.#pending.set(meetingId, creation);
    return creation;
  }

  /**
   * The meeting's last live connection went away: with no room either, its
   * placement is released after the grace period (right away when shutting down).
   */
  connectionsGone(meetingId: string): void {
    if (this.isEnded(meetingId) || this.rooms.has(meetingId) || this.#pending.has(meetingId)) return;
    if (this.#shuttingDown) {
      if (!this.#releaseByMeeting.has(meetingId)) this.#release(meetingId);
      return;
    }
    if (!this.#releaseTimers.has(meetingId)) this.#scheduleRelease(meetingId);
  }

  /** Closes a room nobody joined (its joiner went away while it was created). */
  closeIfEmpty(room: Room): void {
    if (room.peers.size === 0) room.close('empty');
  }

  /**
   * Ends a meeting: every peer gets rtc:meetingEnded, the room closes (peers'
   * sockets close with 4002), the meeting is remembered as ended and its
   * placement is released right away. Returns how many peers were told.
   */
  endMeeting(meetingId: string, notice: EndMeetingNotice): number {
    this.#ended.add(meetingId);
    const room = this.rooms.get(meetingId);
    const peersNotified = room?.peers.size ?? 0;
    if (room) {
      room.broadcast(message('rtc:meetingEnded', { meetingId, endedBy: notice.endedBy, endedAt: notice.endedAt }));
      room.close('meeting-ended');
    } else {
      this.#release(meetingId);
    }
    return peersNotified;
  }

  counts(): HostCounts {
    const counts: HostCounts = { rooms: this.rooms.size, peers: 0, transports: 0, producers: 0, consumers: 0 };
    for (const room of this.rooms.values()) {
      counts.peers += room.peers.size;
      counts.transports += room.transports.size;
      for (const peer of room.peers.values()) {
        counts.producers += peer.producers.size;
        counts.consumers += peer.consumers.size;
      }
    }
    return counts;
  }

  /** Closes every room (host shutdown) and waits for the placement releases. */
  async closeAll(): Promise<void> {
    this.#shuttingDown = true;
    await Promise.allSettled([...this.#pending.values()]);
    for (const room of [...this.rooms.values()]) room.close('host-shutdown');
    for (const [meetingId, timer] of this.#releaseTimers) {
      clearTimeout(timer);
      this.#release(meetingId);
    }
    this.#releaseTimers.clear();
    await this.settled();
  }

  /** Resolves when no placement claim or release is in flight. */
  async settled(): Promise<void> {
    while (this.#claimByMeeting.size > 0 || this.#releases.size > 0) {
      await Promise.allSettled([...this.#claimByMeeting.values(), ...this.#releases]);
    }
  }

  async #create(meetingId: string): Promise<Room> {
    // A release still in flight would undo the claim below.
    await this.#releaseByMeeting.get(meetingId);
    const { router, handle } = await this.#options.pool.createRouter(meetingId);
    const room = new Room({
      meetingId,
      router,
      worker: handle,
      transportSettings: this.#options.transportSettings,
      logger: this.#logger.child('room'),
    });
    // What changed while the router was created (an end, a moved claim, worker death, shutdown)
    const refusal: RoomCloseReason | undefined = router.closed
      ? 'worker-died'
      : this.#shuttingDown
        ? 'host-shutdown'
        : this.isEnded(meetingId)
          ? 'meeting-ended'
          : this.#moved.has(meetingId)
            ? 'meeting-moved'
            : undefined;
    if (refusal) {
      room.close(refusal);
      if (refusal === 'meeting-moved') throw new MeetingMovedError(meetingId);
      if (refusal === 'meeting-ended') throw new AppError(ErrorCode.MeetingEnded);
      throw new AppError(ErrorCode.Internal, 'The room could not be created');
    }
    this.rooms.set(meetingId, room);
    const timer = this.#releaseTimers.get(meetingId);
    if (timer) {
      clearTimeout(timer);
      this.#releaseTimers.delete(meetingId);
    }
    room.once('close', (reason) => this.#onRoomClose(room, reason));
    this.#claim(room);
    this.#logger.info('room created', { meetingId, worker: handle.index });
    this.emit('roomcreated', room);
    return room;
  }

  /**
   * Points the meeting's placement at this host while the room already
   * serves. Almost always it does already (the control plane sent the client
   * here); if the meeting moved to another host meanwhile, the room closes
   * (50001, then 4005), and if it ended, it ends here as if the control plane
   * had said so. DynamoDB trouble must not stop media: the room then keeps
   * running unclaimed.
   */
  #claim(room: Room): void {
    const { meetingId } = room;
    const claim: Promise<void> = this.#options
      .claimMeeting(meetingId)
      .then(
        (result) => this.#onClaim(room, result),
        (error: unknown) => this.#logger.warn('meeting placement claim failed', { meetingId, error }),
      )
      .finally(() => {
        if (this.#claimByMeeting.get(meetingId) === claim) this.#claimByMeeting.delete(meetingId);
      });
    this.#claimByMeeting.set(meetingId, claim);
  }

  #onClaim(room: Room, claim: PlacementClaim): void {
    const { meetingId } = room;
    // a newer room for the meeting exists: its own claim decides
    const current = this.rooms.get(meetingId);
    if (current !== undefined && current !== room) return;
    switch (claim.outcome) {
      case 'reclaimed':
        this.#logger.info('meeting placement reclaimed', { meetingId });
        this.#moved.delete(meetingId);
        return;
      case 'held':
        this.#moved.delete(meetingId);
        return;
      case 'moved':
        this.#moved.add(meetingId);
        this.#logger.info('room closed: meeting is placed on another host', { meetingId });
        room.close('meeting-moved');
        return;
      case 'ended':
        this.#logger.info('meeting found ended by its placement claim', { meetingId });
        this.endMeeting(meetingId, claim.notice);
        return;
      case 'unknown':
        return;
    }
  }

  #onRoomClose(room: Room, reason: RoomCloseReason): void {
    if (this.rooms.get(room.meetingId) === room) this.rooms.delete(room.meetingId);
    this.emit('roomclosed', room, reason);
    // another host holds the placement: keep no release timer for it (a later
    // release, e.g. when the last socket goes, is conditional on this host anyway)
    if (reason === 'meeting-moved') return;
    if (reason === 'meeting-ended' || reason === 'host-shutdown') {
      this.#release(room.meetingId);
      return;
    }
    // Keep the placement a while: peers reconnect after a worker death or a network blip.
    this.#scheduleRelease(room.meetingId);
  }

  /**
   * Releases the placement after the grace period unless a room exists by then
   * or live connections remain (the last one to go calls connectionsGone).
   */
  #scheduleRelease(meetingId: string): void {
    if (this.#shuttingDown) {
      this.#release(meetingId);
      return;
    }
    clearTimeout(this.#releaseTimers.get(meetingId));
    const timer = setTimeout(() => {
      this.#releaseTimers.delete(meetingId);
      // Open connections may still join; releasing now would let the control
      // plane place the meeting elsewhere and split it.
      const inUse =
        this.rooms.has(meetingId) || this.#pending.has(meetingId) || this.#options.hasLiveConnections(meetingId);
      if (!inUse) this.#release(meetingId);
      this.emit('graceexpired', meetingId, inUse ? 'kept' : 'released');
    }, this.#options.releaseGraceMs);
    timer.unref();
    this.#releaseTimers.set(meetingId, timer);
  }

  #release(meetingId: string): void {
    const claim = this.#claimByMeeting.get(meetingId);
    const release: Promise<void> = (claim ?? Promise.resolve())
      .then(() => this.#options.releaseMeeting(meetingId))
      .catch((error) => this.#logger.warn('meeting release failed', { meetingId, error }))
      .finally(() => {
        this.#releases.delete(release);
        if (this.#releaseByMeeting.get(meetingId) === release) this.#releaseByMeeting.delete(meetingId);
      });
    this.#releases.add(release);
    this.#releaseByMeeting.set(meetingId, release);
  }
}

/** Meetings remembered for a while (ended, moved): the oldest are forgotten first, past `ttlMs` or `MEMORY_MAX`. */
class RecentMeetings {
  /** meetingId -> when it was remembered; insertion order is time order */
  readonly #at = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #clock: Clock;

  constructor(ttlMs: number, clock: Clock) {
    this.#ttlMs = ttlMs;
    this.#clock = clock;
  }

  add(meetingId: string): void {
    const now = this.#clock.now();
    for (const [id, at] of this.#at) {
      if (now - at <= this.#ttlMs && this.#at.size < MEMORY_MAX) break;
      this.#at.delete(id);
    }
    this.#at.delete(meetingId);
    this.#at.set(meetingId, now);
  }

  has(meetingId: string): boolean {
    const at = this.#at.get(meetingId);
    if (at === undefined) return false;
    if (this.#clock.now() - at <= this.#ttlMs) return true;
    this.#at.delete(meetingId);
    return false;
  }

  delete(meetingId: string): void {
    this.#at.delete(meetingId);
  }
}
