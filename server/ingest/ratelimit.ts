// Token bucket per key, pure: state in, state out, `now` injected.
export interface Bucket {
  tokens: number;
  updatedAt: number;
}

export interface Decision {
  allowed: boolean;
  bucket: Bucket;
  /** Seconds until `cost` tokens are available (only when refused). */
  retryAfterS: number;
}

export function takeTokens(bucket: Bucket | undefined, cost: number, now: number, ratePerSec: number, burst: number): Decision {
  const prev = bucket ?? { tokens: burst, updatedAt: now };
  const elapsed = Math.max(0, now - prev.updatedAt) / 1000;
  const tokens = Math.min(burst, prev.tokens + elapsed * ratePerSec);
  // A request bigger than the whole bucket is allowed once the bucket is full, else it could never pass.
  const need = Math.min(cost, burst);
  if (tokens >= need) return { allowed: true, bucket: { tokens: tokens - need, updatedAt: now }, retryAfterS: 0 };
  return { allowed: false, bucket: { tokens, updatedAt: now }, retryAfterS: Math.max(1, Math.ceil((need - tokens) / ratePerSec)) };
}

export interface RateLimiter {
  take(key: string, cost: number): Decision;
}

export function createRateLimiter(ratePerSec: number, burst: number, now: () => number = Date.now, maxKeys = 100_000): RateLimiter {
  const buckets = new Map<string, Bucket>();
  return {
    take(key, cost) {
      const d = takeTokens(buckets.get(key), cost, now(), ratePerSec, burst);
      if (!buckets.has(key) && buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value as string);
      buckets.set(key, d.bucket);
      return d;
    },
  };
}
