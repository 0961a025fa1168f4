// When a conversion that failed with a retryable answer (429, 5xx, network) is tried again. Pure: `now` and
// the random source are passed in. Exponential from 10 s, capped at 5 min, with "equal jitter" (half the delay
// fixed, half random) so that rows failed together by one outage do not all come back in the same second
// while none comes back at once. A row whose next try would fall past 24 h after its first attempt is dead.

export const BACKOFF_BASE_MS = 10_000;
export const BACKOFF_CAP_MS = 5 * 60_000;
export const RETRY_FOR_MS = 24 * 3_600_000;

export type RetryDecision = { kind: 'retry'; at: number } | { kind: 'dead' };

/** Delay before attempt `attempts + 1`, given `attempts` (≥ 1) done; `rand()` in [0, 1). */
export function backoffMs(attempts: number, rand: () => number, base = BACKOFF_BASE_MS, cap = BACKOFF_CAP_MS): number {
  const n = Math.max(1, Math.floor(attempts));
  const full = Math.min(cap, base * 2 ** Math.min(n - 1, 30));
  return Math.round(full / 2 + rand() * (full / 2));
}

/** firstAt: when the row was first tried (or retried by hand); all times in ms since the epoch. */
export function nextRetry(p: { attempts: number; firstAt: number; now: number; rand: () => number; retryAfterMs?: number }): RetryDecision {
  const delay = Math.max(backoffMs(p.attempts, p.rand), Math.min(p.retryAfterMs ?? 0, BACKOFF_CAP_MS));
  const at = p.now + delay;
  return at - p.firstAt > RETRY_FOR_MS ? { kind: 'dead' } : { kind: 'retry', at };
}

/**
 * A held destination (its credential or permission refused: dispatch.ts) is tried again after this, given the
 * refusals in a row (≥ 1): from a minute, doubling, at most an hour, same jitter. Cheap for the provider (one
 * request per try, whatever the rows waiting) and short enough that a fix made without updating the code
 * (permissions granted on the platform's side) is seen within the hour.
 */
export const HOLD_BASE_MS = 60_000;
export const HOLD_CAP_MS = 3_600_000;
export const holdDelayMs = (holds: number, rand: () => number): number => backoffMs(holds, rand, HOLD_BASE_MS, HOLD_CAP_MS);
