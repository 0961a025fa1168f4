// The unique-visitor scripts (uv.lua, uvcount.lua, unlink.lua) against a real Redis (127.0.0.1:6379), one random
// key prefix per test, deleted after: an exact SET beside each HyperLogLog while it holds at most the limit.
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deletePrefix, randomPrefix, REDIS_URL } from '../redis-test-utils.js';
import { EXACT_LIMIT } from '../uniq.js';
import { defineScripts } from './index.js';

type Scripts = Redis & {
  txUv(numKeys: number, ...args: (string | number)[]): Promise<number>;
  txUvCount(hll: string, set: string): Promise<number>;
  txUnlink(events: string, uv: string, uvExact: string, event: string, uvPrefix: string, limit: number): Promise<number>;
};

const MARK = '\u0000';
const ids = (from: number, to: number, tag = 'v') => Array.from({ length: to - from }, (_, i) => `${tag}${from + i}`);

describe('unique-visitor scripts', () => {
  let prefix: string;
  let r: Scripts;
  beforeEach(() => {
    prefix = randomPrefix();
    r = new Redis(REDIS_URL) as Scripts;
    defineScripts(r);
  });
  afterEach(async () => {
    await r.quit();
    await deletePrefix(prefix);
  });
  const pair = (name: string) => [`${prefix}${name}:uv`, `${prefix}${name}:uv_exact`] as const;
  const add = (name: string, visitors: string[], ...sources: string[]) => {
    const [h, s] = pair(name);
    const keys = [h, s, ...sources.flatMap((x) => pair(x))];
    return r.txUv(keys.length, ...keys, EXACT_LIMIT, ...visitors);
  };
  const count = (name: string) => r.txUvCount(...pair(name));

  it('txUv counts exactly (SCARD) up to the limit, whichever writer adds which overlapping visitors; beyond it, collapses to the marker and counts with PFCOUNT', async () => {
    const [h, s] = pair('E1');
    const seen = new Set<string>();
    // Two writers, each batch overlapping the other's: 5 new visitors per step, 10 sent.
    for (let i = 0; i + 10 <= 300; i += 5) {
      const batch = ids(i, i + 10);
      for (const v of batch) seen.add(v);
      expect(await add('E1', i % 2 === 0 ? batch : batch.reverse())).toBe(seen.size <= EXACT_LIMIT ? 1 : 0);
      if (seen.size <= EXACT_LIMIT) {
        expect(await count('E1')).toBe(seen.size);
        expect(await r.scard(s)).toBe(seen.size);
      } else {
        expect(await r.smembers(s)).toEqual([MARK]);
        expect(await count('E1')).toBe(await r.pfcount(h));
      }
    }
    // Once collapsed it stays so: adding known visitors keeps PFCOUNT, never a small exact set again.
    expect(await add('E1', ids(0, 3))).toBe(0);
    expect(await r.smembers(s)).toEqual([MARK]);
  });

  it('exactly the limit stays exact, one more collapses (as the in-memory counter, uniq.ts)', async () => {
    await add('E2', ids(0, EXACT_LIMIT));
    expect(await count('E2')).toBe(EXACT_LIMIT);
    await add('E2', ids(0, EXACT_LIMIT));
    expect(await count('E2')).toBe(EXACT_LIMIT);
    await add('E2', ['one-more']);
    expect(await r.smembers(pair('E2')[1])).toEqual([MARK]);
    expect(await count('E2')).toBe(await r.pfcount(pair('E2')[0]));
  });

  it('an HLL that already counts visitors without an exact SET beside it (an older version\'s key) counts as collapsed', async () => {
    const [h, s] = pair('OLD');
    await r.pfadd(h, ...ids(0, 40));
    expect(await count('OLD')).toBe(await r.pfcount(h));
    expect(await add('OLD', ['new'])).toBe(0);
    expect(await r.smembers(s)).toEqual([MARK]);
    // An empty or absent pair is exact: nothing counted yet.
    expect(await count('NONE')).toBe(0);
    expect(await add('NONE', ['a', 'b'])).toBe(1);
    expect(await count('NONE')).toBe(2);
  });

  it('source pairs join the destination as a union: exact while every source is exact and the union within the limit', async () => {
    await add('A', ids(0, 100));
    await add('B', ids(50, 150));
    expect(await add('ORG', ids(140, 160), 'A', 'B')).toBe(1);
    expect(await count('ORG')).toBe(160);
    // A source that is not exact (collapsed, or an older version's HLL) makes the union inexact.
    await add('BIG', ids(0, 300, 'w'));
    expect(await add('ORG', [], 'BIG')).toBe(0);
    expect(await r.smembers(pair('ORG')[1])).toEqual([MARK]);
    expect(await count('ORG')).toBe(await r.pfcount(pair('ORG')[0]));
    // A union over the limit collapses too.
    await add('C', ids(0, 200, 'c'));
    await add('D', ids(0, 200, 'd'));
    expect(await add('ORG2', [], 'C', 'D')).toBe(0);
    expect(await count('ORG2')).toBe(await r.pfcount(pair('ORG2')[0]));
  });

  it('the exact SET takes its HLL\'s TTL, also when it collapses', async () => {
    const [h, s] = pair('T');
    await add('T', ['a']);
    await r.expire(h, 1000);
    await add('T', ['b']);
    expect(await r.ttl(s)).toBeGreaterThan(900);
    await add('T', ids(0, 300));
    expect(await r.smembers(s)).toEqual([MARK]);
    expect(await r.ttl(s)).toBeGreaterThan(900);
  });

  it('txUnlink rebuilds the organizer\'s HLL and exact SET from the events it keeps, with their TTL', async () => {
    const evPrefix = `${prefix}ev:`;
    const ev = (e: string) => [`${evPrefix}${e}:uv`, `${evPrefix}${e}:uv_exact`];
    const addEv = (e: string, visitors: string[]) => r.txUv(2, ...ev(e), EXACT_LIMIT, ...visitors);
    const [oh, os] = pair('ORG');
    const events = `${prefix}ORG:events`;
    await addEv('E1', ids(0, 100));
    await addEv('E2', ids(90, 150));
    await addEv('E3', ids(0, 300, 'z'));
    await r.sadd(events, 'E1', 'E2', 'E3');
    await r.txUv(8, oh, os, ...ev('E1'), ...ev('E2'), ...ev('E3'), EXACT_LIMIT);
    await r.expire(oh, 1000);
    expect(await r.smembers(os)).toEqual([MARK]);
    // E3 (the big one) leaves: the organizer is exact again, with E1 ∪ E2.
    await r.txUnlink(events, oh, os, 'E3', evPrefix, EXACT_LIMIT);
    expect(await count('ORG')).toBe(150);
    expect(await r.ttl(os)).toBeGreaterThan(900);
    expect(await r.ttl(oh)).toBeGreaterThan(900);
    // E2 leaves too: only E1's.
    await r.txUnlink(events, oh, os, 'E2', evPrefix, EXACT_LIMIT);
    expect(await count('ORG')).toBe(100);
    // An event whose SET is collapsed makes the rebuilt organizer inexact.
    await addEv('E4', ids(0, 300, 'y'));
    await r.sadd(events, 'E4', 'E5');
    await r.txUnlink(events, oh, os, 'E5', evPrefix, EXACT_LIMIT);
    expect(await r.smembers(os)).toEqual([MARK]);
    expect(await count('ORG')).toBe(await r.pfcount(oh));
  });
});
