import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createResolutionCache, RESOLUTION_TTL_MS, VERSION_TTL_MS, type RemoteCache } from './cache.js';

function setup(remote: RemoteCache | null = null) {
  let t = 1_000_000;
  const state = { version: 'v1', versionReads: 0, computes: 0, failVersion: false };
  const cache = createResolutionCache<{ n: number; key: string }>({
    version: async () => {
      state.versionReads++;
      if (state.failVersion) throw new Error('store away');
      return state.version;
    },
    compute: async (_tenant, key) => ({ n: ++state.computes, key }),
    remote, prefix: 'p:', now: () => t, log: pino({ level: 'silent' }),
  });
  return { cache, state, advance: (ms: number) => (t += ms) };
}

function memoryRemote() {
  const m = new Map<string, string>();
  const remote: RemoteCache = { get: async (k) => m.get(k) ?? null, set: async (k, v) => void m.set(k, v) };
  return { m, remote };
}

describe('resolution cache', () => {
  it('serves from memory within 5 min while the tenant\'s codes fingerprint is unchanged', async () => {
    const { cache, state, advance } = setup();
    expect((await cache.get(1, 'e:E1')).from).toBe('store');
    advance(VERSION_TTL_MS - 1);
    expect(await cache.get(1, 'e:E1')).toEqual({ value: { n: 1, key: 'e:E1' }, from: 'memory' });
    expect(state.versionReads).toBe(1);
    advance(RESOLUTION_TTL_MS);
    expect((await cache.get(1, 'e:E1')).from).toBe('store');
  });

  it('a change on another node (the fingerprint) is seen once the fingerprint is re-read, within 5 s', async () => {
    const { cache, state, advance } = setup();
    await cache.get(1, 'e:E1');
    state.version = 'v2';
    expect((await cache.get(1, 'e:E1')).value.n).toBe(1);
    advance(VERSION_TTL_MS);
    expect((await cache.get(1, 'e:E1')).value.n).toBe(2);
  });

  it('a change on this node is seen at once (invalidate), and only that tenant is dropped', async () => {
    const { cache, state } = setup();
    await cache.get(1, 'm');
    await cache.get(2, 'm');
    state.version = 'v2';
    cache.invalidate(1);
    expect((await cache.get(1, 'm')).from).toBe('store');
    expect((await cache.get(2, 'm')).from).toBe('memory');
  });

  it('reads the fingerprint once for concurrent requests', async () => {
    const { cache, state } = setup();
    await Promise.all(Array.from({ length: 10 }, () => cache.get(1, 'm')));
    expect(state.versionReads).toBe(1);
  });

  it('keeps the last fingerprint while the store is away, and fails when it never had one', async () => {
    const { cache, state, advance } = setup();
    state.failVersion = true;
    await expect(cache.get(1, 'm')).rejects.toThrow('store away');
    state.failVersion = false;
    await cache.get(1, 'm');
    state.failVersion = true;
    advance(VERSION_TTL_MS);
    expect((await cache.get(1, 'm')).from).toBe('memory');
  });

  it('shares resolutions through the remote tier under the fingerprint, so a change needs no delete there', async () => {
    const { m, remote } = memoryRemote();
    const a = setup(remote);
    const b = setup(remote);
    await a.cache.get(1, 'e:E1');
    await new Promise((r) => setImmediate(r));
    expect([...m.keys()]).toEqual(['p:tracking:1:v1:e:E1']);
    expect(await b.cache.get(1, 'e:E1')).toEqual({ value: { n: 1, key: 'e:E1' }, from: 'redis' });
    b.state.version = 'v2';
    b.cache.invalidate(1);
    expect((await b.cache.get(1, 'e:E1')).from).toBe('store');
  });

  it('a failing remote is a miss, not an error', async () => {
    const remote: RemoteCache = { get: async () => Promise.reject(new Error('down')), set: async () => Promise.reject(new Error('down')) };
    const { cache } = setup(remote);
    expect((await cache.get(1, 'm')).from).toBe('store');
  });
});
