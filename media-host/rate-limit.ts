// Signalling rate limit: a token bucket per userId, shared by all of that
// user's connections on this host (the contract: 10 messages/s per user).
//
// Burst sizing: a peer joining a meeting of 10 sends about 44 messages in its
// first second: join, getRouterRtpCapabilities, 2 x createTransport,
// 2 x connectTransport, 2 x produce (audio + video), then consume + resume
// for the 9 others' 18 producers (36). A burst of 50 (plus the 10 refilled
// during that second) lets that through untouched, while a flood is cut to
// 10/s after the first 50 messages.
import type { Clock } from '../shared/clock.js';

export interface RateLimitSettings {
  /** steady refill, messages per second */
  ratePerSecond: number;
  /** bucket size: messages allowed back to back */
  burst: number;
  /** more drops than this within abuseWindowMs is abuse (socket closed with 1008) */
  abuseDrops: number;
  abuseWindowMs: number;
}

export const defaultRateLimitSettings: RateLimitSettings = {
  ratePerSecond: 10,
  burst: 50,
  abuseDrops: 100,
  abuseWindowMs: 10_000,
};

export type RateDecision = 'allow' | 'drop' | 'abuse';

interface Bucket {
  tokens: number;
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

  /** Takes one token for a message of this user. */
  take(userId: string): RateDecision {
    const now = this.#clock.now();
    if (now - this.#lastSweepMs > SWEEP_EVERY_MS) this.sweep();
    let bucket = this.#buckets.get(userId);
    if (!bucket) {
      bucket = { tokens: this.#settings.burst, updatedMs: now, drops: [] };
      this.#buckets.set(userId, bucket);
    }
    this.#refill(bucket, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 'allow';
    }
    bucket.drops.push(now);
    const windowStart = now - this.#settings.abuseWindowMs;
    while (bucket.drops.length > 0 && (bucket.drops[0] ?? now) < windowStart) bucket.drops.shift();
    return bucket.drops.length > this.#settings.abuseDrops ? 'abuse' : 'drop';
  }

  /** Forgets users whose bucket is full again and who have no recent drops. */
  sweep(): void {
    const now = this.#clock.now();
    this.#lastSweepMs = now;
    for (const [userId, bucket] of this.#buckets) {
      this.#refill(bucket, now);
      const lastDrop = bucket.drops.at(-1);
      const recentDrop = lastDrop !== undefined && lastDrop >= now - this.#settings.abuseWindowMs;
      if (bucket.tokens >= this.#settings.burst && !recentDrop) this.#buckets.delete(userId);
    }
  }

  get trackedUsers(): number {
    return this.#buckets.size;
  }

  #refill(bucket: Bucket, now: number): void {
    const elapsed = Math.max(0, now - bucket.updatedMs);
    bucket.tokens = Math.min(this.#settings.burst, bucket.tokens + (elapsed * this.#settings.ratePerSecond) / 1000);
    bucket.updatedMs = now;
  }
}
