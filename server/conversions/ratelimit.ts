// Per-destination call limits (seed 002: "FB: 200 calls/hour, Google: 15k/day"), counted in the store in fixed
// windows so every node shares them (conversion_rate_windows). The window math is pure; `take` spends one call.
import type { Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import type { Provider } from './adapter.js';

const Q = queries('conversions.sql', ['take_call', 'prune_windows']);

export interface RateLimit {
  calls: number;
  periodMs: number;
}

/** Published limits; a provider not listed has none of ours (its own 429s still back off). */
export const RATE_LIMITS: Partial<Record<Provider, RateLimit>> = {
  meta: { calls: 200, periodMs: 3_600_000 },
  google_ads: { calls: 15_000, periodMs: 86_400_000 },
};

/** Start and end of the fixed window holding `now` (aligned on the epoch, the same on every node). Pure. */
export function rateWindow(now: number, periodMs: number): { start: number; end: number } {
  const start = Math.floor(now / periodMs) * periodMs;
  return { start, end: start + periodMs };
}

export interface RateLimiter {
  /** Spends one call of the destination's window; `until` = when the next window opens when none is left. */
  take(q: Queryable, tenantId: number, destination: string, provider: Provider, now: number): Promise<{ ok: true } | { ok: false; until: number; limit: RateLimit }>;
  /** Drops windows that ended more than a day ago. */
  prune(q: Queryable, now: number): Promise<number>;
}

export function createRateLimiter(limits: Partial<Record<Provider, RateLimit>> = RATE_LIMITS): RateLimiter {
  return {
    async take(q, tenantId, destination, provider, now) {
      const limit = limits[provider];
      if (!limit) return { ok: true };
      const w = rateWindow(now, limit.periodMs);
      const { rows } = await q.query(Q.take_call, [tenantId, destination, new Date(w.start).toISOString(), limit.calls]);
      return rows.length > 0 ? { ok: true } : { ok: false, until: w.end, limit };
    },
    async prune(q, now) {
      const { rows } = await q.query<{ n: number }>(Q.prune_windows, [new Date(now - 2 * 86_400_000).toISOString()]);
      return rows[0]?.n ?? 0;
    },
  };
}
