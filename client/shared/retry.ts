// Delivery policy shared by the browser SDK and the scanner tracker: what a response means for the batch
// that was sent, and how long to wait before the next attempt. Pure (random and now are injected).

/**
 * What to do with a batch after a response:
 * - `ack`:   the server processed it (200): every event is done, accepted, duplicate or rejected alike;
 * - `retry`: keep it and try again later (network error, 408, 429, 5xx);
 * - `split`: too large (413): send fewer events per request; a single event that is too large is dropped;
 * - `auth`:  401/403: the key or origin is wrong; retrying the same request cannot succeed until reconfigured;
 * - `drop`:  any other 4xx: the request itself is bad and would fail again.
 * `status` 0 means no response (network error, timeout, CORS failure).
 */
export type Verdict = 'ack' | 'retry' | 'split' | 'auth' | 'drop';

export function verdict(status: number): Verdict {
  return status > 199 && status < 300
    ? 'ack'
    : !status || status == 408 || status == 429 || status > 499
      ? 'retry'
      : status == 413
        ? 'split'
        : status == 401 || status == 403
          ? 'auth'
          : 'drop';
}

/**
 * Exponential backoff with "equal jitter": half of the exponential step is fixed and half random, so
 * clients that failed together spread out but none retries immediately.
 * attempt 1 → [base/2, base), attempt 2 → [base, 2·base), … capped at `max`.
 */
export function backoff(attempt: number, base: number, max: number, random: () => number = Math.random): number {
  const step = Math.min(max, base * 2 ** Math.max(0, Math.min(30, attempt - 1)));
  return Math.round(step / 2 + random() * (step / 2));
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date; null when absent or unparsable. */
export function retryAfterMs(header: string | null | undefined, now: number): number | null {
  if (!header) return null;
  const s = header.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(+s * 1000);
  const at = Date.parse(s);
  return isNaN(at) ? null : Math.max(0, at - now);
}

/** The wait before the next attempt: backoff, but never sooner than the server asked for. */
export function nextDelay(attempt: number, retryAfter: number | null, base: number, max: number, random?: () => number): number {
  const b = backoff(attempt, base, max, random);
  // A server's Retry-After wins even over our cap: hammering a rate-limited endpoint only extends the ban.
  return retryAfter === null ? b : Math.max(retryAfter, b);
}
