// Per-destination call limits (seed 002: "FB: 200 calls/hour, Google: 15k/day"), counted in the store so every
// node shares them (conversion_rate_windows, the atomic take_call counter). A destination's calls are spread
// over the period instead of spent as fast as the dispatcher runs (every 5 s: a fixed hourly budget of 200 was
// gone ~17 minutes into a busy hour and later conversions then waited up to ~43 minutes):
// - a steady call: at most one per slot of `slotMs` (Meta: 22.6 s), each carrying every due row of the
//   destination up to the adapter's batch limit (1000 for Meta), so a busy destination batches, it does not stall;
// - a burst allowance of `burst` more calls per period (Meta: 20), for the calls a run needs at once (a refused
//   batch split in halves, several batches of a backlog).
// In any rolling period: at most floor(period / slotMs) + 1 steady calls and 2 × burst (the rolling period spans
// two fixed ones), never more than the platform's limit (`rateBudget`). The window math is pure (`now` is passed).
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

/** Start and end of the fixed window of `periodMs` holding `now` (aligned on the epoch, the same on every node). Pure. */
export function rateWindow(now: number, periodMs: number): { start: number; end: number } {
  const start = Math.floor(now / periodMs) * periodMs;
  return { start, end: start + periodMs };
}

export interface RateBudget {
  /** One steady call per slot of this length. */
  slotMs: number;
  /** Extra calls per fixed period, for bursts. */
  burst: number;
}

/** How a limit is spread: a tenth of it as burst (twice that in a rolling period), the rest one call per slot. Pure. */
export function rateBudget(limit: RateLimit): RateBudget {
  const burst = Math.floor(limit.calls / 10);
  const steady = limit.calls - 2 * burst - 1; // floor(period / slotMs) + 1 ≤ steady + 1
  // Even, so every slot counter starts on an even ms and never on a burst counter's (period start + 1, odd).
  return { slotMs: 2 * Math.ceil(limit.periodMs / Math.max(1, steady) / 2), burst };
}

export type RateTake = { ok: true } | { ok: false; until: number; limit: RateLimit; slotMs: number };

export interface RateLimiter {
  /** Spends one call of the destination (its slot's, else one of the burst); `until` = when the next slot opens. */
  take(q: Queryable, tenantId: number, destination: string, provider: Provider, now: number): Promise<RateTake>;
  /** Drops counters that ended more than a day ago. */
  prune(q: Queryable, now: number): Promise<number>;
  /**
   * The number of the provider's slot holding `now` (0 for a provider without a limit of ours). Pure. The
   * dispatcher gives rows being split and the other rows of a destination the first call of a slot in turns
   * (even slots the others, odd ones the split), so with a spent burst each gets every other slot.
   */
  slot(provider: Provider, now: number): number;
}

export function createRateLimiter(limits: Partial<Record<Provider, RateLimit>> = RATE_LIMITS): RateLimiter {
  return {
    async take(q, tenantId, destination, provider, now) {
      const limit = limits[provider];
      if (!limit) return { ok: true };
      const { slotMs, burst } = rateBudget(limit);
      const slot = rateWindow(now, slotMs);
      if ((await q.query(Q.take_call, [tenantId, destination, new Date(slot.start).toISOString(), 1])).rows.length > 0) return { ok: true };
      if (burst > 0) {
        // The burst counter sits 1 ms after its period's start (odd): never the start of a slot counter (even).
        const period = rateWindow(now, limit.periodMs);
        if ((await q.query(Q.take_call, [tenantId, destination, new Date(period.start + 1).toISOString(), burst])).rows.length > 0) return { ok: true };
      }
      return { ok: false, until: slot.end, limit, slotMs };
    },
    slot(provider, now) {
      const limit = limits[provider];
      return limit ? Math.floor(now / rateBudget(limit).slotMs) : 0;
    },
    async prune(q, now) {
      const { rows } = await q.query<{ n: number }>(Q.prune_windows, [new Date(now - 2 * 86_400_000).toISOString()]);
      return rows[0]?.n ?? 0;
    },
  };
}
