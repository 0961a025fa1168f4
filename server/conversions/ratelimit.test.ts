import { describe, expect, it } from 'vitest';
import { RATE_LIMITS, rateWindow } from './ratelimit.js';

describe('rate windows', () => {
  it('are aligned on the epoch, so every node counts in the same window', () => {
    const hour = 3_600_000;
    expect(rateWindow(Date.UTC(2026, 10, 30, 1, 59, 59, 999), hour)).toEqual({ start: Date.UTC(2026, 10, 30, 1), end: Date.UTC(2026, 10, 30, 2) });
    expect(rateWindow(Date.UTC(2026, 10, 30, 2), hour).start).toBe(Date.UTC(2026, 10, 30, 2));
  });

  it('Meta is limited to 200 calls per hour (seed 002)', () => {
    expect(RATE_LIMITS.meta).toEqual({ calls: 200, periodMs: 3_600_000 });
  });
});
