import { describe, expect, it } from 'vitest';
import type { Queryable } from '../store/db.js';
import { createRateLimiter, RATE_LIMITS, rateWindow } from './ratelimit.js';

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

describe('rate limiter', () => {
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

  it('spends calls of the window and names when the next one opens; providers without a limit are never held', async () => {
    const q = fakeStore();
    const rl = createRateLimiter({ meta: { calls: 3, periodMs: 3_600_000 } });
    const now = Date.UTC(2026, 10, 30, 2, 10);
    for (let i = 0; i < 3; i++) expect(await rl.take(q, 1, 'meta:1', 'meta', now)).toEqual({ ok: true });
    expect(await rl.take(q, 1, 'meta:1', 'meta', now)).toEqual({ ok: false, until: Date.UTC(2026, 10, 30, 3), limit: { calls: 3, periodMs: 3_600_000 } });
    expect(await rl.take(q, 1, 'meta:2', 'meta', now)).toEqual({ ok: true }); // per destination
    expect(await rl.take(q, 1, 'meta:1', 'meta', Date.UTC(2026, 10, 30, 3))).toEqual({ ok: true }); // next window
    for (let i = 0; i < 10; i++) expect((await rl.take(q, 1, 'tiktok:1', 'tiktok', now)).ok).toBe(true);
  });
});
