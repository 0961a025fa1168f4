// The cache's ordering and failure rules against a stand-in repository (test/segments-cache.test.ts runs the same
// code on a real Redis): a miss fills, a hit reads nothing from the store, an older snapshot never replaces a
// newer one, a late success of an old write does not make a node trust an entry it could not update, and Redis
// failing or hanging sends reads to the store.
import net from 'node:net';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Obj } from '../store/rows.js';
import { bounded, createSegmentCache, SegmentCacheError, type EntityRepo } from './cache.js';
import { MAX_CACHED_SEGMENTS } from './cache-map.js';

const T = 1;
const log = pino({ level: 'silent' });
const row = (id: number, name: string, version = 1): Obj => ({ id, version, current_version: version, name });

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** The store: what the database holds now, and how often it was asked. */
function fakeStore(rows: Obj[]) {
  const calls = { list: 0, get: 0 };
  let hold: Promise<void> | null = null;
  return {
    rows,
    calls,
    /** The next snapshot reads the rows at once but answers only when `p` settles. */
    holdNext(p: Promise<void>) {
      hold = p;
    },
    async listCurrent(_t: number, after: number, limit: number) {
      calls.list++;
      const snap = rows.filter((r) => Number(r.id) > after).slice(0, limit).map((r) => ({ ...r }));
      const h = hold;
      hold = null;
      if (h) await h;
      return snap;
    },
    async get(_t: number, id: number, version: number | null) {
      calls.get++;
      const r = rows.find((x) => x.id === id);
      return r && (version === null || r.current_version === version) ? { ...r } : null;
    },
  };
}

/** A repository in memory; each operation may be scripted to fail, hang or wait. */
function fakeRepo() {
  const data = new Map<string, Record<string, unknown>>();
  const script: Partial<Record<keyof EntityRepo, Array<'fail' | 'hang' | Promise<void>>>> = {};
  const calls = { fetch: 0, save: 0 };
  const step = async (op: keyof EntityRepo) => {
    const s = script[op]?.shift();
    if (s === 'fail') throw new Error(`${op}: connection refused`);
    if (s === 'hang') await new Promise(() => {});
    if (s) await s;
  };
  const repo: EntityRepo = {
    async fetch(id) {
      calls.fetch++;
      await step('fetch');
      return { ...(data.get(id) ?? {}) };
    },
    async save(id, e) {
      calls.save++;
      const copy = { ...e };
      await step('save');
      data.set(id, copy);
    },
    async remove(id) {
      await step('remove');
      data.delete(id);
    },
  };
  const names = () => (data.has(`${T}:segments`) ? (JSON.parse(String(data.get(`${T}:segments`)!.segments)) as Obj[]).map((r) => r.name) : null);
  return { repo, data, script, calls, names };
}

const setup = (rows: Obj[], opts: { now?: () => number; timeoutMs?: number } = {}) => {
  const store = fakeStore(rows);
  const r = fakeRepo();
  const cache = createSegmentCache({ prefix: 'p:', log, store, entities: r.repo, ...opts });
  return { store, r, cache };
};

describe('segments cache', () => {
  it('fills on a miss and then reads nothing from the store', async () => {
    const { store, r, cache } = setup([row(1, 'a'), row(2, 'b')]);
    expect(await cache.current(T, 2, null)).toMatchObject({ name: 'b' });
    expect(r.names()).toEqual(['a', 'b']);
    const before = { ...store.calls };
    expect(await cache.current(T, 1, null)).toMatchObject({ name: 'a' });
    expect((await cache.list(T, 0, 10)).segments.map((s) => s.name)).toEqual(['a', 'b']);
    expect(store.calls).toEqual(before);
  });

  it('asks the store for a version other than the current one', async () => {
    const { store, cache } = setup([row(1, 'a', 3)]);
    await cache.changed(T);
    expect(await cache.current(T, 1, 3)).toMatchObject({ name: 'a' });
    expect(store.calls.get).toBe(0);
    expect(await cache.current(T, 1, 2)).toBeNull();
    expect(store.calls.get).toBe(1);
  });

  it('does not store a miss\'s snapshot taken before a change that was stored meanwhile', async () => {
    const { store, r, cache } = setup([row(1, 'old')]);
    const gate = deferred();
    store.holdNext(gate.promise);
    const read = cache.current(T, 1, null);
    await new Promise((res) => setImmediate(res));
    store.rows[0] = row(1, 'new', 2);
    await cache.changed(T);
    gate.resolve();
    await read;
    expect(r.names()).toEqual(['new']);
  });

  it('a late success of an older write does not make this node trust an entry a newer change could not replace', async () => {
    const { store, r, cache } = setup([row(1, 'A')]);
    const slow = deferred();
    r.script.save = [slow.promise, 'fail'];
    r.script.remove = ['fail'];
    const first = cache.changed(T);
    await new Promise((res) => setImmediate(res));
    store.rows[0] = row(1, 'B', 2);
    await cache.changed(T);
    slow.resolve();
    await first;
    // Redis now holds A (the older write landed last); this node must not serve it.
    expect(r.names()).toEqual(['A']);
    expect(await cache.current(T, 1, null)).toMatchObject({ name: 'B', current_version: 2 });
    expect(r.names()).toEqual(['B']);
  });

  it('reads the store while Redis fails, without a whole-tenant snapshot, and rests before trying again', async () => {
    let clock = 0;
    const { store, r, cache } = setup([row(1, 'a')], { now: () => clock });
    r.script.fetch = ['fail'];
    expect(await cache.current(T, 1, null)).toMatchObject({ name: 'a' });
    expect(store.calls).toEqual({ list: 0, get: 1 });
    expect(await cache.current(T, 1, null)).toMatchObject({ name: 'a' });
    expect(r.calls.fetch).toBe(1);
    clock += 1000;
    expect(await cache.current(T, 1, null)).toMatchObject({ name: 'a' });
    expect(r.calls.fetch).toBe(2);
    expect(r.names()).toEqual(['a']);
  });

  it('a hung Redis costs the timeout, then the store answers', async () => {
    const { r, cache } = setup([row(1, 'a')], { timeoutMs: 20 });
    r.script.fetch = ['hang'];
    expect(await cache.current(T, 1, null)).toMatchObject({ name: 'a' });
    expect((await cache.list(T, 0, 10)).segments).toHaveLength(1);
  });

  it('does not cache a tenant with more segments than one entry holds', async () => {
    const rows = Array.from({ length: MAX_CACHED_SEGMENTS + 1 }, (_, i) => row(i + 1, `s${i + 1}`));
    const { r, cache } = setup(rows);
    await cache.changed(T);
    expect(r.names()).toBeNull();
    expect(await cache.current(T, 7, null)).toMatchObject({ name: 's7' });
    const page = await cache.list(T, 0, 2);
    expect({ names: page.segments.map((s) => s.name), next: page.next }).toEqual({ names: ['s1', 's2'], next: 2 });
  });

  it('without REDIS_URL reads the store only', async () => {
    const store = fakeStore([row(1, 'a')]);
    const cache = createSegmentCache({ prefix: 'p:', log, store });
    expect(cache.kind).toBe('none');
    expect(await cache.current(T, 1, null)).toMatchObject({ name: 'a' });
    await cache.changed(T);
    expect(store.calls).toEqual({ list: 0, get: 1 });
  });
});

/** Two ends of a loopback TCP connection: what one writes sits in the other's socket until the loop reads it. */
async function socketPair(): Promise<{ a: net.Socket; b: net.Socket; close: () => void }> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const accepted = new Promise<net.Socket>((r) => srv.once('connection', r));
  const a = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => a.once('connect', () => r()));
  const b = await accepted;
  return { a, b, close: () => (a.destroy(), b.destroy(), srv.close()) };
}

describe('bounded (the cache\'s Redis deadline)', () => {
  it('an answer that arrived while the process was stalled past the deadline wins over the deadline', async () => {
    const { a, b, close } = await socketPair();
    try {
      const answer = new Promise<string>((r) => a.once('data', (d) => r(String(d))));
      const call = bounded(answer, 20, 'fetch');
      b.write('reply');
      // The stall: the reply is in the socket and the deadline passes before the loop can read either.
      const until = Date.now() + 100;
      while (Date.now() < until);
      expect(await call).toBe('reply');
    } finally {
      close();
    }
  });

  it('a call still unanswered at the deadline fails with the operation named', async () => {
    const err = await bounded(new Promise<never>(() => {}), 20, 'save').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SegmentCacheError);
    expect(err).toMatchObject({ op: 'save', message: 'redis did not answer within 20 ms' });
  });
});
