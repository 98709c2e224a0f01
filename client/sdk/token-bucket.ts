// The SDK's own pacing, kept just under the media host's signalling limit:
// a FIFO token bucket (take() resolves when a token is free) plus credit for
// answers to announced producers (shared/protocol/rate-limit.ts), which
// answers use first and nothing else may use. Credit lapses after a minute
// without traffic, as the host forgets it.

const CREDIT_IDLE_MS = 60_000;

export class TokenBucket {
  #tokens: number;
  #credit = 0;
  #last = performance.now();
  #lastCreditUse = performance.now();
  readonly #waiters: Array<() => void> = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly capacity: number,
    readonly perSecond: number,
    readonly maxCredit: number,
  ) {
    this.#tokens = capacity;
  }

  get credit(): number {
    this.#expireCredit();
    return this.#credit;
  }

  /** `answer`: the request answers an announced producer and may be paid from credit. */
  take(answer = false): Promise<void> {
    this.#expireCredit();
    if (answer && this.#credit >= 1) {
      this.#credit -= 1;
      this.#lastCreditUse = performance.now();
      return Promise.resolve();
    }
    this.#refill();
    if (this.#waiters.length === 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#schedule();
    });
  }

  /** Credit for answers to producers the host announced, up to `maxCredit`. */
  addCredit(requests: number): void {
    this.#expireCredit();
    this.#credit = Math.min(this.maxCredit, this.#credit + requests);
    this.#lastCreditUse = performance.now();
  }

  /** Lets every waiter through; callers re-check whether the socket is still open. */
  releaseAll(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  #expireCredit(): void {
    if (performance.now() - this.#lastCreditUse >= CREDIT_IDLE_MS) this.#credit = 0;
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.capacity, this.#tokens + ((now - this.#last) / 1000) * this.perSecond);
    this.#last = now;
  }

  #schedule(): void {
    if (this.#timer) return;
    const wait = Math.max(0, ((1 - this.#tokens) / this.perSecond) * 1000);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#refill();
      while (this.#waiters.length > 0 && this.#tokens >= 1) {
        this.#tokens -= 1;
        this.#waiters.shift()?.();
      }
      if (this.#waiters.length > 0) this.#schedule();
    }, wait);
  }
}
