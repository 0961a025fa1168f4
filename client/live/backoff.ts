// Reconnect delays: exponential backoff with jitter. Pure (random is injected).

export interface BackoffOptions {
  /** First delay (ms). Default 500. */
  baseMs?: number;
  /** Cap (ms). Default 30 000. */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /**
   * Share of the delay that is random, 0…1. Default 0.5 ("equal jitter"): attempt n waits between
   * half and all of base·factor^(n-1), so clients dropped together (a server restart) spread out instead of
   * reconnecting in one burst, and none retries at once.
   */
  jitter?: number;
}

export const BACKOFF_DEFAULTS: Required<BackoffOptions> = { baseMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 };

/** The wait before reconnect attempt `attempt` (1 = first retry after a drop). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const o = { ...BACKOFF_DEFAULTS, ...options };
  const n = Math.max(1, Math.floor(attempt));
  const step = Math.min(o.maxMs, o.baseMs * o.factor ** Math.min(n - 1, 64));
  const jitter = Math.min(1, Math.max(0, o.jitter));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(step * (1 - jitter) + step * jitter * r);
}
