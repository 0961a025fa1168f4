// The live connections' limits (rate.ts): the message bucket and the node-wide bound on access checks. Pure.
import { describe, expect, it } from 'vitest';
import { limitConcurrency, newBucket, take } from './rate.js';

describe('message bucket', () => {
  it('lets a burst through, then the rate; refusals pile up into an end unless the sender slows down', () => {
    const b = newBucket(0, 3);
    const at = (now: number, n: number) => Array.from({ length: n }, () => take(b, now, 2, 3, 4));
    expect(at(0, 4)).toEqual(['ok', 'ok', 'ok', 'refused']);
    // Half a second at 2/s: one token back, and the debt of one refusal drained.
    expect(at(500, 2)).toEqual(['ok', 'refused']);
    expect(at(500, 3)).toEqual(['refused', 'refused', 'end']);
    // A sender that waits is served again.
    expect(at(10_000, 3)).toEqual(['ok', 'ok', 'ok']);
  });
});

describe('limitConcurrency', () => {
  it('never runs more than n calls at once, and runs every call in order of arrival', async () => {
    let now = 0;
    let max = 0;
    const order: number[] = [];
    const release: (() => void)[] = [];
    const limited = limitConcurrency(3, async (i: number) => {
      now++;
      max = Math.max(max, now);
      order.push(i);
      await new Promise<void>((r) => release.push(r));
      now--;
      return i * 2;
    });
    const all = Array.from({ length: 50 }, (_, i) => limited(i));
    // Calls made while a slot is being handed over do not overtake the waiting ones.
    for (let k = 0; k < 60 && release.length > 0; k++) {
      release.shift()!();
      if (k % 5 === 0) all.push(limited(100 + k));
      await new Promise((r) => setImmediate(r));
      expect(limited.running()).toBeLessThanOrEqual(3);
    }
    while (release.length > 0) {
      release.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    const results = await Promise.all(all);
    expect(max).toBe(3);
    expect(results.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
    expect(order.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(limited.running()).toBe(0);
  });
});
