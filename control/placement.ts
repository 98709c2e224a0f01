// Placement of meetings on media hosts (the design's core).
//   1. A meeting whose host is live and ACTIVE keeps it.
//   2. Otherwise pick the live ACTIVE host with the lowest assigned/capacity
//      ratio and reserve a slot on it, conditional on the `assigned` value we
//      saw, so a burst of new meetings spreads instead of trusting one stale
//      load figure.
//      A request that lost a reservation picks at random among the hosts
//      within half a meeting of the lowest ratio, so a burst places several
//      meetings per round instead of all losers racing for the same host.
//   3. Point the meeting at it, conditional on the meeting having no host (first
//      placement) or still having the dead/draining one (reassignment), so two
//      racing placements cannot both win. The loser gives its slot back.
// Conflicts are retried with a little jitter and fresh reads; everyone
// converges on the winner's host because each attempt re-reads the meeting.
import type { Clock } from '../shared/clock.js';
import { AppError, ErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { HostItem, MeetingItem } from '../shared/tables.js';
import type { ControlStore, WriteResult } from './store/control-store.js';

export interface PlacementOptions {
  store: ControlStore;
  clock: Clock;
  logger: Logger;
  hostStaleAfterMs: number;
  maxAttempts?: number;
  /** jitter between attempts; injectable so tests need not wait */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface Placement {
  host: HostItem;
  /** true when this call assigned (or reassigned) the meeting */
  assigned: boolean;
}

export function isHostLive(host: HostItem, nowMs: number, staleAfterMs: number): boolean {
  return host.status === 'ACTIVE' && host.heartbeatAt >= nowMs - staleAfterMs;
}

function loadRatio(host: HostItem): number {
  return host.capacity > 0 ? host.assigned / host.capacity : Number.POSITIVE_INFINITY;
}

/** The live ACTIVE host with room and the lowest assigned/capacity ratio (ties: more free slots, then id). */
export function chooseHost(hosts: HostItem[], nowMs: number, staleAfterMs: number): HostItem | undefined {
  let best: HostItem | undefined;
  for (const host of hosts) {
    if (!isHostLive(host, nowMs, staleAfterMs) || host.assigned >= host.capacity) continue;
    if (!best) {
      best = host;
      continue;
    }
    const byRatio = loadRatio(host) - loadRatio(best);
    const byFree = best.capacity - best.assigned - (host.capacity - host.assigned);
    if (byRatio < 0 || (byRatio === 0 && (byFree < 0 || (byFree === 0 && host.hostId < best.hostId)))) best = host;
  }
  return best;
}

/**
 * After a lost reservation: a host within half a meeting of the lowest
 * ratio, picked at random weighted by free slots. Losers that all saw the same
 * figures would otherwise all race for the same host again, so a burst
 * would place only one meeting per round.
 */
export function chooseHostUnderContention(
  hosts: HostItem[],
  nowMs: number,
  staleAfterMs: number,
  random: () => number,
): HostItem | undefined {
  const best = chooseHost(hosts, nowMs, staleAfterMs);
  if (!best) return undefined;
  const bestRatio = loadRatio(best);
  const near = hosts.filter(
    (host) =>
      isHostLive(host, nowMs, staleAfterMs) &&
      host.assigned < host.capacity &&
      host.assigned / host.capacity <= bestRatio + 0.5 / host.capacity,
  );
  const totalFree = near.reduce((sum, host) => sum + (host.capacity - host.assigned), 0);
  let pick = random() * totalFree;
  for (const host of near) {
    pick -= host.capacity - host.assigned;
    if (pick < 0) return host;
  }
  return best;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface PlacementService {
  /**
   * The live host serving the meeting, placing or re-placing it when needed.
   * `knownMeeting`, if given, must come from a strongly consistent read.
   */
  placeMeeting(meetingId: string, knownMeeting?: MeetingItem): Promise<Placement>;
}

export function createPlacementService(options: PlacementOptions): PlacementService {
  const { store, clock, logger, hostStaleAfterMs } = options;
  const maxAttempts = options.maxAttempts ?? 40;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;

  /** best effort: a failure is logged (the host keeps one slot too many), never thrown */
  async function giveBackReservation(hostId: string, meetingId: string, reason: string): Promise<void> {
    try {
      await store.releaseHostReservation(hostId);
    } catch (error) {
      logger.error('could not give back a host reservation', { meetingId, hostId, reason, error });
    }
  }

  return {
    async placeMeeting(meetingId, knownMeeting) {
      let meeting = knownMeeting;
      let lostReservation = false;
      for (let attempt = 0; attempt < maxAttempts; attempt++) {
        if (attempt > 0) {
          // small jitter, so retrying losers do not move in lockstep
          await sleep(Math.floor(random() * Math.min(20, 2 * attempt)));
          meeting = undefined;
        }
        meeting ??= await store.getMeeting(meetingId, { consistent: true });
        if (!meeting) throw new AppError(ErrorCode.MeetingNotFound);
        if (meeting.status === 'ENDED') throw new AppError(ErrorCode.MeetingGone);

        const nowMs = clock.now();
        const previousHostId = meeting.mediaHostId;
        if (previousHostId) {
          const current = await store.getHost(previousHostId, { consistent: true });
          if (current && isHostLive(current, nowMs, hostStaleAfterMs)) return { host: current, assigned: false };
        }

        const hosts = await store.listHosts();
        const candidate = lostReservation
          ? chooseHostUnderContention(hosts, nowMs, hostStaleAfterMs, random)
          : chooseHost(hosts, nowMs, hostStaleAfterMs);
        if (!candidate) {
          logger.warn('no live media host', { meetingId, previousHostId });
          throw new AppError(ErrorCode.NoMediaHost);
        }
        const reserved = await store.reserveHost(candidate.hostId, candidate.assigned, nowMs - hostStaleAfterMs);
        if (!reserved.ok) {
          lostReservation = true;
          continue;
        }

        const assignedAt = new Date(nowMs).toISOString();
        let assignment: WriteResult;
        try {
          assignment = await store.assignMeeting(meetingId, candidate.hostId, previousHostId, assignedAt);
        } catch (error) {
          // throttling, network: the slot must not stay reserved for nothing
          await giveBackReservation(candidate.hostId, meetingId, 'assignment failed');
          throw error;
        }
        if (!assignment.ok) {
          await giveBackReservation(candidate.hostId, meetingId, 'lost the assignment');
          continue;
        }
        if (previousHostId) {
          // the old host can no longer release this meeting (its release is
          // conditional on still being assigned), so give its slot back here;
          // the meeting has moved either way, so a failure only costs a slot
          await giveBackReservation(previousHostId, meetingId, 'reassigned away');
          logger.info('meeting reassigned', { meetingId, fromHostId: previousHostId, toHostId: candidate.hostId });
        } else {
          logger.info('meeting placed', { meetingId, hostId: candidate.hostId });
        }
        return { host: { ...candidate, assigned: candidate.assigned + 1 }, assigned: true };
      }
      logger.warn('placement gave up after repeated conflicts', { meetingId, attempts: maxAttempts });
      throw new AppError(ErrorCode.NoMediaHost, 'Media hosts are busy, try again');
    },
  };
}
