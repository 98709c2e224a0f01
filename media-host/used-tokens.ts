// Single use for the control plane's tokens. Each one names this host as its
// audience and lives at most a minute, so no other process can accept it:
// its jti is remembered here, in memory, until the token could no longer
// verify. Tokens issued before this process started are refused, so a restart
// does not reopen the replay window. That holds while the control plane's
// clock is no more than the restart time (seconds: systemd's delay plus the
// workers' start) ahead of the host's; both sync to Amazon Time Sync.
import type { Clock } from '../shared/clock.js';

export type TokenUse = 'fresh' | 'replayed' | 'issued-before-start' | 'expired' | 'full';

export interface UsedTokensOptions {
  clock: Clock;
  /** remembered jtis at most; beyond that new tokens are refused (fail closed) */
  maxEntries?: number;
}

const DEFAULT_MAX_ENTRIES = 200_000;

export class UsedTokens {
  readonly #clock: Clock;
  readonly #maxEntries: number;
  readonly #startedAtSeconds: number;
  /** jti -> when it may be forgotten (epoch seconds); insertion order ~ expiry order */
  readonly #forgetAt = new Map<string, number>();

  constructor(options: UsedTokensOptions) {
    this.#clock = options.clock;
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.#startedAtSeconds = Math.floor(options.clock.now() / 1000);
  }

  get size(): number {
    return this.#forgetAt.size;
  }

  /**
   * Records a verified token's jti; anything but 'fresh' means refuse it.
   * `forgetAtSeconds`: when the token stops verifying. A token past it is
   * refused here too, since its first use may already have been forgotten.
   */
  use(claims: { jti: string; iat?: number | undefined }, forgetAtSeconds: number): TokenUse {
    if (claims.iat === undefined || claims.iat < this.#startedAtSeconds) return 'issued-before-start';
    if (forgetAtSeconds <= this.#clock.now() / 1000) return 'expired';
    this.#sweep();
    if (this.#forgetAt.has(claims.jti)) return 'replayed';
    if (this.#forgetAt.size >= this.#maxEntries) return 'full';
    this.#forgetAt.set(claims.jti, forgetAtSeconds);
    return 'fresh';
  }

  /** Drops expired entries from the front; lifetimes are similar, so the rest follow on later calls. */
  #sweep(): void {
    const nowSeconds = this.#clock.now() / 1000;
    for (const [jti, forgetAt] of this.#forgetAt) {
      if (forgetAt > nowSeconds) return;
      this.#forgetAt.delete(jti);
    }
  }
}
