import { describe, expect, it } from 'vitest';
import type { Queryable } from '../store/db.js';
import { createRateLimiter, RATE_LIMITS, rateBudget, rateWindow, type RateLimit } from './ratelimit.js';

describe('rate windows', () => {
  it('are aligned on the epoch, so every node counts in the same window', () => {
    const hour = 3_600_000;
    expect(rateWindow(Date.UTC(2026, 10, 30, 1, 59, 59, 999), hour)).toEqual({ start: Date.UTC(2026, 10, 30, 1), end: Date.UTC(2026, 10, 30, 2) });
    expect(rateWindow(Date.UTC(2026, 10, 30, 2), hour).start).toBe(Date.UTC(2026, 10, 30, 2));
  });

  it('Meta is limited to 200 calls per hour (seed 002), spread as one call per 22.6 s plus 20 for bursts', () => {
    expect(RATE_LIMITS.meta).toEqual({ calls: 200, periodMs: 3_600_000 });
    expect(rateBudget(RATE_LIMITS.meta!)).toEqual({ slotMs: 22_642, burst: 20 });
    expect(rateBudget(RATE_LIMITS.google_ads!)).toEqual({ slotMs: 7_202, burst: 1_500 });
  });
});

/** The store's take_call semantics: one counter per (tenant, destination, window), refused at the limit. */
const fakeStore = () => {
  const calls = new Map<string, number>();
  const q = {
    async query<T>(_sql: string, params?: unknown[]) {
      const [t, d, w, limit] = params as [number, string, string, number];
      if (limit === undefined) return { rows: [{ n: 0 }] as T[] };
      const k = `${t}|${d}|${w}`;
      const n = calls.get(k) ?? 0;
      if (n >= limit) return { rows: [] as T[] };
      calls.set(k, n + 1);
      return { rows: [{ calls: n + 1 }] as T[] };
    },
  };
  // Only query() is used by the limiter.
  return q as unknown as Queryable;
};

/** Most calls in any rolling window of `periodMs` (two pointers over sorted times). */
const maxInRollingWindow = (times: number[], periodMs: number): number => {
  let best = 0;
  for (let i = 0, j = 0; j < times.length; j++) {
    while (times[j] - times[i] >= periodMs) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
};

/** A seeded RNG (mulberry32), so a failure replays. */
const rng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

describe('rate limiter', () => {
  const start = Date.UTC(2026, 10, 30, 2, 10);

  it('spreads calls: a burst first, then one per slot; per destination; providers without a limit are never held', async () => {
    const q = fakeStore();
    const limit = { calls: 200, periodMs: 3_600_000 };
    const rl = createRateLimiter({ meta: limit });
    // The slot's call and the 20 of the burst, then the rows wait for the next slot (not the next hour).
    for (let i = 0; i < 21; i++) expect(await rl.take(q, 1, 'meta:1', 'meta', start)).toEqual({ ok: true });
    const slot = rateWindow(start, 22_642);
    expect(await rl.take(q, 1, 'meta:1', 'meta', start)).toEqual({ ok: false, until: slot.end, limit, slotMs: 22_642 });
    expect(await rl.take(q, 1, 'meta:2', 'meta', start)).toEqual({ ok: true }); // per destination
    expect(await rl.take(q, 1, 'meta:1', 'meta', slot.end)).toEqual({ ok: true }); // next slot
    expect((await rl.take(q, 1, 'meta:1', 'meta', slot.end)).ok).toBe(false);
    for (let i = 0; i < 10; i++) expect((await rl.take(q, 1, 'tiktok:1', 'tiktok', start)).ok).toBe(true);
  });

  for (const [name, limit] of Object.entries(RATE_LIMITS) as [string, RateLimit][]) {
    it(`${name}: a destination tried every 5 s (a busy one) never exceeds ${limit.calls} calls in any rolling window, and waits at most a slot`, async () => {
      const q = fakeStore();
      const rl = createRateLimiter({ meta: limit });
      const times: number[] = [];
      const end = start + 3 * limit.periodMs;
      for (let t = start; t < end; t += 5_000) if ((await rl.take(q, 1, 'd', 'meta', t)).ok) times.push(t);
      expect(maxInRollingWindow(times, limit.periodMs)).toBeLessThanOrEqual(limit.calls);
      const { slotMs } = rateBudget(limit);
      let gap = 0;
      for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
      // Busy all the time, it still gets a call at least every slot (+ the 5 s tick): no 40-minute stall.
      expect(gap).toBeLessThanOrEqual(slotMs + 5_000);
      // ... and uses most of its budget over the three periods.
      expect(times.length).toBeGreaterThanOrEqual(Math.floor(limit.calls * 0.8) * 3);
    });
  }

  it('random bursts (seeded) from several nodes at once never exceed the limit in any rolling hour', async () => {
    const limit = RATE_LIMITS.meta!;
    const rand = rng(42);
    const q = fakeStore();
    const rl = createRateLimiter({ meta: limit });
    const times: number[] = [];
    let t = start;
    while (t < start + 6 * limit.periodMs) {
      // A burst of up to 40 attempts within a second, then a pause of up to 10 minutes.
      const n = 1 + Math.floor(rand() * 40);
      for (let i = 0; i < n; i++) {
        const at = t + Math.floor(rand() * 1000);
        if ((await rl.take(q, 1, 'd', 'meta', at)).ok) times.push(at);
      }
      t += 1000 + Math.floor(rand() * 600_000);
    }
    times.sort((a, b) => a - b);
    expect(maxInRollingWindow(times, limit.periodMs)).toBeLessThanOrEqual(limit.calls);
    expect(times.length).toBeGreaterThan(100);
  });

  it('numbers the slots (the dispatcher\'s turns between rows being split and the others): one more per slot, 0 without a limit', () => {
    const rl = createRateLimiter();
    const first = rl.slot('meta', start);
    const slot = rateWindow(start, 22_642);
    expect(rl.slot('meta', slot.end - 1)).toBe(first);
    expect(rl.slot('meta', slot.end)).toBe(first + 1);
    expect(rl.slot('meta', slot.end + 22_642)).toBe(first + 2);
    expect(rl.slot('tiktok', start)).toBe(0);
    expect(rl.slot('tiktok', slot.end)).toBe(0);
  });

  it('a steady trickle (one conversion a minute) is sent within the minute, each with its own call', async () => {
    const q = fakeStore();
    const rl = createRateLimiter();
    for (let i = 0; i < 120; i++) expect((await rl.take(q, 1, 'd', 'meta', start + i * 60_000)).ok).toBe(true);
  });
});
