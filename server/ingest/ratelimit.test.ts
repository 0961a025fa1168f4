import { describe, expect, it } from 'vitest';
import { createRateLimiter, takeTokens } from './ratelimit.js';

describe('token bucket', () => {
  it('allows a burst, then refuses with the seconds until enough tokens refill', () => {
    let d = takeTokens(undefined, 100, 0, 10, 100);
    expect(d.allowed).toBe(true);
    d = takeTokens(d.bucket, 50, 0, 10, 100);
    expect(d).toMatchObject({ allowed: false, retryAfterS: 5 });
    d = takeTokens(d.bucket, 50, 5000, 10, 100);
    expect(d.allowed).toBe(true);
  });

  it('never refills above the burst size', () => {
    const d = takeTokens({ tokens: 0, updatedAt: 0 }, 1, 1e9, 10, 20);
    expect(d.bucket.tokens).toBe(19);
  });

  it('keeps keys apart', () => {
    let t = 0;
    const rl = createRateLimiter(1, 2, () => t);
    expect(rl.take('a', 2).allowed).toBe(true);
    expect(rl.take('a', 1).allowed).toBe(false);
    expect(rl.take('b', 2).allowed).toBe(true);
    t = 1000;
    expect(rl.take('a', 1).allowed).toBe(true);
  });
});
