// Limits on what one live connection may ask (README "Limits"): a token bucket of messages per connection, a
// debt of refused messages that ends a connection which keeps sending past its limit, and a bound on the topic
// access checks under way at once across the node (each may read the store). Pure apart from the injected time.

/** Messages (ops) a connection may send per second, on average. */
export const OPS_PER_S = 50;
/** Messages a connection may send at once: a reconnect subscribes again to all its topics (at most 200) in one go. */
export const OPS_BURST = 400;
/** Refused messages (beyond what has drained at OPS_PER_S) after which the connection is ended (1008). */
export const OPS_REFUSED_MAX = 400;
/** Subscribes of one connection under way at once (access check, Redis counts): as many as it may hold topics. */
export const MAX_IN_FLIGHT = 200;
/**
 * Subscribes under way at once on a node (checks, catalog read, snapshot), every connection and transport together;
 * the rest wait their turn. Their catalog reads share one query per tick (catalog-sync.ts fill), so this also bounds
 * the snapshots one query's answer releases at once (~0.3 ms each).
 */
export const SUBSCRIBE_CONCURRENCY = 256;
/** Topic access checks under way at once on a node, every connection and transport together; the rest wait their turn. */
export const ACCESS_CONCURRENCY = 16;

export interface Bucket {
  tokens: number;
  /** Refused messages not yet drained. */
  debt: number;
  at: number;
}

export const newBucket = (now: number, burst = OPS_BURST): Bucket => ({ tokens: burst, debt: 0, at: now });

/**
 * One message at `now`: 'ok' (a token taken), 'refused' (none left: answer rate_limited), or 'end' (refused, and
 * the refusals piled up past `refusedMax`: end the connection). Tokens refill and debt drains at `rate` per second.
 */
export function take(b: Bucket, now: number, rate = OPS_PER_S, burst = OPS_BURST, refusedMax = OPS_REFUSED_MAX): 'ok' | 'refused' | 'end' {
  const elapsed = Math.max(0, now - b.at) / 1000;
  b.at = Math.max(b.at, now);
  b.tokens = Math.min(burst, b.tokens + elapsed * rate);
  b.debt = Math.max(0, b.debt - elapsed * rate);
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 'ok';
  }
  b.debt += 1;
  return b.debt >= refusedMax ? 'end' : 'refused';
}

/** Runs at most `n` of the calls at once, the others in their order of arrival. */
export function limitConcurrency<A extends unknown[], R>(n: number, fn: (...args: A) => Promise<R>): ((...args: A) => Promise<R>) & { running(): number; waiting(): number } {
  let running = 0;
  const queue: (() => void)[] = [];
  const limited = async (...args: A): Promise<R> => {
    // A slot freed by a call that ends is handed to the first waiting one: nobody overtakes it meanwhile.
    if (running >= n) await new Promise<void>((r) => queue.push(r));
    else running++;
    try {
      return await fn(...args);
    } finally {
      const wake = queue.shift();
      if (wake) wake();
      else running--;
    }
  };
  return Object.assign(limited, { running: () => running, waiting: () => queue.length });
}
