// The SDK's own pacing (client/sdk/token-bucket.ts), with fake timers: the
// burst, the refill, and credit that pays answers to announced producers only.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TokenBucket } from '../../client/sdk/token-bucket.js';

describe('TokenBucket (SDK pacing)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Starts `n` takes and reports how many have resolved after the microtasks ran. */
  async function started(bucket: TokenBucket, n: number, answer = false): Promise<() => number> {
    let resolved = 0;
    for (let i = 0; i < n; i++) void bucket.take(answer).then(() => resolved++);
    await Promise.resolve();
    return () => resolved;
  }

  it('lets the burst through, then paces at the refill rate in order', async () => {
    const bucket = new TokenBucket(5, 10, 100);
    const resolved = await started(bucket, 8);
    expect(resolved()).toBe(5);
    await vi.advanceTimersByTimeAsync(100);
    expect(resolved()).toBe(6);
    await vi.advanceTimersByTimeAsync(200);
    expect(resolved()).toBe(8);
  });

  it('pays answers from credit at once, without touching the burst, and nothing else', async () => {
    const bucket = new TokenBucket(5, 10, 100);
    bucket.addCredit(4);
    const answers = await started(bucket, 4, true);
    expect(answers()).toBe(4);
    expect(bucket.credit).toBe(0);
    // the burst is still whole for other requests, and credit does not pay for them
    bucket.addCredit(10);
    const others = await started(bucket, 6);
    expect(others()).toBe(5);
    expect(bucket.credit).toBe(10);
    // an answer does not wait behind them
    const answer = await started(bucket, 1, true);
    expect(answer()).toBe(1);
  });

  it('caps credit at maxCredit and lets it lapse after a minute without use', async () => {
    const bucket = new TokenBucket(5, 10, 100);
    bucket.addCredit(1_000);
    expect(bucket.credit).toBe(100);
    await vi.advanceTimersByTimeAsync(59_000);
    expect(bucket.credit).toBe(100);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(bucket.credit).toBe(0);
  });
});
