// Writes participants' left_at in the background, so a slow or throttled
// DynamoDB never holds up signalling. The store retries throttling.
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';

export interface LeftAtWriter {
  markLeft(meetingId: string, userId: string, leftAt: string): Promise<unknown>;
}

export class LeaveRecorder {
  readonly #writer: LeftAtWriter;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(writer: LeftAtWriter, clock: Clock, logger: Logger) {
    this.#writer = writer;
    this.#clock = clock;
    this.#logger = logger;
  }

  /** Fire and forget: records that the user left the meeting now. */
  record(meetingId: string, userId: string): void {
    const leftAt = new Date(this.#clock.now()).toISOString();
    const write = this.#writer
      .markLeft(meetingId, userId, leftAt)
      .then((result) => this.#logger.debug('left_at recorded', { meetingId, userId, result }))
      .catch((error) => this.#logger.error('left_at write failed', { meetingId, userId, error }))
      .finally(() => this.#inFlight.delete(write));
    this.#inFlight.add(write);
  }

  /** Resolves once every write started so far has finished. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }
}
