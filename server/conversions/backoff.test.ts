import { describe, expect, it } from 'vitest';
import { BACKOFF_CAP_MS, backoffMs, nextRetry, RETRY_FOR_MS, HOLD_CAP_MS, holdDelayMs } from './backoff.js';

const fixed = (v: number) => () => v;

describe('backoff', () => {
  it('doubles from 10 s and is capped at 5 min', () => {
    // rand = 1 (just under) gives the full delay; rand = 0 half of it.
    expect(backoffMs(1, fixed(0.999999))).toBe(10_000);
    expect(backoffMs(1, fixed(0))).toBe(5_000);
    expect(backoffMs(2, fixed(0.999999))).toBe(20_000);
    expect(backoffMs(5, fixed(0.999999))).toBe(160_000);
    expect(backoffMs(6, fixed(0.999999))).toBe(BACKOFF_CAP_MS);
    expect(backoffMs(60, fixed(0.999999))).toBe(BACKOFF_CAP_MS);
    expect(backoffMs(60, fixed(0))).toBe(BACKOFF_CAP_MS / 2);
  });

  it('spreads rows failed together (jitter) within [delay/2, delay]', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const delays = Array.from({ length: 200 }, () => backoffMs(3, rand));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(20_000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(40_000);
    expect(new Set(delays).size).toBeGreaterThan(100);
  });

  it('is dead once the next try would fall past 24 h after the first attempt', () => {
    const firstAt = 1_000_000;
    expect(nextRetry({ attempts: 1, firstAt, now: firstAt, rand: fixed(0) })).toEqual({ kind: 'retry', at: firstAt + 5_000 });
    const late = firstAt + RETRY_FOR_MS - 200_000;
    expect(nextRetry({ attempts: 40, firstAt, now: late, rand: fixed(0) })).toEqual({ kind: 'retry', at: late + 150_000 });
    expect(nextRetry({ attempts: 40, firstAt, now: firstAt + RETRY_FOR_MS - 1_000, rand: fixed(0) })).toEqual({ kind: 'dead' });
  });

  it('honours a Retry-After longer than the backoff, up to the cap', () => {
    expect(nextRetry({ attempts: 1, firstAt: 0, now: 0, rand: fixed(0), retryAfterMs: 60_000 })).toEqual({ kind: 'retry', at: 60_000 });
    expect(nextRetry({ attempts: 1, firstAt: 0, now: 0, rand: fixed(0), retryAfterMs: 3_600_000 })).toEqual({ kind: 'retry', at: BACKOFF_CAP_MS });
  });
});

describe('a held destination\'s next try', () => {
  it('is a minute after the first refusal, doubling, never more than an hour', () => {
    expect(holdDelayMs(1, () => 0)).toBe(30_000);
    expect(holdDelayMs(1, () => 0.999999)).toBeLessThanOrEqual(60_000);
    expect(holdDelayMs(2, () => 0)).toBe(60_000);
    for (const n of [7, 8, 20, 1000]) {
      expect(holdDelayMs(n, () => 0.999999), String(n)).toBeLessThanOrEqual(HOLD_CAP_MS);
      expect(holdDelayMs(n, () => 0), String(n)).toBe(HOLD_CAP_MS / 2);
    }
  });
});
