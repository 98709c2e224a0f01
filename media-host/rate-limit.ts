// Signalling rate limit: a token bucket per userId, shared by all of that
// user's connections on this host (the contract: 10 messages/s per user).
//
// Burst sizing: a peer joining a meeting of N sends 8 messages of its own
// (join, getRouterRtpCapabilities, 2 x createTransport, 2 x connectTransport,
// 2 x produce) and then consume + resume for each producer the host announces
// to it, 4(N - 1) for audio + video peers: 44 for a meeting of 10, 204 for 50.
// The burst of 50 covers the first part; every announced producer credits the
// two requests that answer it (up to maxCredit held at once). Credit is kept
// apart from the tokens and pays for those answers only, so a join of any size
// goes through untouched while anything else is still cut to 10/s after 50.
import type { Clock } from '../shared/clock.js';
import { peerLimits } from './media-settings.js';

export interface RateLimitSettings {
  /** steady refill, messages per second */
  ratePerSecond: number;
  /** bucket size: messages allowed back to back */
  burst: number;
  /** most credit (see credit) a user holds at once */
  maxCredit: number;
  /** more drops than this within abuseWindowMs is abuse (socket closed with 1008) */
  abuseDrops: number;
  abuseWindowMs: number;
}

export const defaultRateLimitSettings: RateLimitSettings = {
  ratePerSecond: 10,
  burst: 50,
  // consume + resume for as many producers as a peer may consume
  maxCredit: 2 * peerLimits.maxConsumers,
  abuseDrops: 100,
  abuseWindowMs: 10_000,
};

export type RateDecision = 'allow' | 'drop' | 'abuse';

interface Bucket {
  tokens: number;
  /** pays for answers to announced producers only */
  credit: number;
  updatedMs: number;
  /** times of recent drops, oldest first */
  drops: number[];
}

const SWEEP_EVERY_MS = 60_000;

export class UserRateLimiter {
  readonly #settings: RateLimitSettings;
  readonly #clock: Clock;
  readonly #buckets = new Map<string, Bucket>();
  #lastSweepMs: number;

  constructor(settings: RateLimitSettings, clock: Clock) {
    this.#settings = settings;
    this.#clock = clock;
    this.#lastSweepMs = clock.now();
  }

  /**
   * Takes one token for a message of this user. An answer to an announced
   * producer (`answer`) is paid from credit first, as the SDK does, so both
   * sides agree on what is left.
   */
  take(userId: string, answer = false): RateDecision {
    const now = this.#clock.now();
    if (now - this.#lastSweepMs > SWEEP_EVERY_MS) this.sweep();
    const bucket = this.#bucket(userId, now);
    if (answer && bucket.credit >= 1) {
      bucket.credit -= 1;
      return 'allow';
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 'allow';
    }
    bucket.drops.push(now);
    const windowStart = now - this.#settings.abuseWindowMs;
    while (bucket.drops.length > 0 && (bucket.drops[0] ?? now) < windowStart) bucket.drops.shift();
    return bucket.drops.length > this.#settings.abuseDrops ? 'abuse' : 'drop';
  }

  /** Credits requests the host invited (answers to announced producers). */
  credit(userId: string, requests: number): void {
    if (requests <= 0) return;
    const now = this.#clock.now();
    const bucket = this.#bucket(userId, now);
    bucket.credit = Math.min(this.#settings.maxCredit, bucket.credit + requests);
  }

  /** Forgets users idle for a sweep period whose bucket is full again and who have no recent drops. */
  sweep(): void {
    const now = this.#clock.now();
    this.#lastSweepMs = now;
    for (const [userId, bucket] of this.#buckets) {
      // a joiner holding fresh credit is not idle, however full its bucket (idle credit goes too)
      const idle = now - bucket.updatedMs >= SWEEP_EVERY_MS;
      this.#refill(bucket, now);
      const lastDrop = bucket.drops.at(-1);
      const recentDrop = lastDrop !== undefined && lastDrop >= now - this.#settings.abuseWindowMs;
      if (idle && bucket.tokens >= this.#settings.burst && !recentDrop) this.#buckets.delete(userId);
    }
  }

  get trackedUsers(): number {
    return this.#buckets.size;
  }

  /** The user's bucket, refilled to now (created full). */
  #bucket(userId: string, now: number): Bucket {
    let bucket = this.#buckets.get(userId);
    if (!bucket) {
      bucket = { tokens: this.#settings.burst, credit: 0, updatedMs: now, drops: [] };
      this.#buckets.set(userId, bucket);
    }
    this.#refill(bucket, now);
    return bucket;
  }

  #refill(bucket: Bucket, now: number): void {
    const elapsed = Math.max(0, now - bucket.updatedMs);
    bucket.tokens = Math.min(this.#settings.burst, bucket.tokens + (elapsed * this.#settings.ratePerSecond) / 1000);
    bucket.updatedMs = now;
  }
}
