// The group writer against a fake Db: how a group is formed and deduped, a data error retried per request,
// the spool fallback and the recovery, and its answers while the database is down: a retry of an event already
// kept is a duplicate, whether it was committed before the outage, spooled during it, or left in the spool by
// an earlier run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError, type Db } from '../store/db.js';
import { eventKey, type EventRow, type EventStore } from '../store/events.js';
import { createSpool } from '../store/spool.js';
import { DuplicateHookError } from './hooks.js';
import { createGroupWriter } from './writer.js';

const log = pino({ level: 'silent' });
const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'writer-'));
const row = (id: string): EventRow => ({ event_id: id, tenant_id: 1 }) as EventRow;

/** A database whose idempotency ledger is a Set, and which can be switched off. */
function fakeStore() {
  const stored = new Set<string>();
  /** Every key offered to insert, and the keys that were new: a replay may offer a key twice, never store it twice. */
  const inserts: string[] = [];
  const freshKeys: string[] = [];
  const state = { up: true };
  /** What the writer's transaction hands to events and hooks (its own statement: the writer lock); a data error is any event named 'bad'. */
  const txQ = { tx: true, query: async () => ({ rows: [] }) };
  const down = () => Promise.reject(new StoreUnavailableError('database unreachable: test'));
  const db = {
    kind: 'postgres',
    query: async () => (state.up ? { rows: [] } : down()),
    exec: async () => undefined,
    // A transaction that throws leaves nothing stored, as a real rollback would.
    tx: async <T>(fn: (q: never) => Promise<T>) => {
      if (!state.up) return down();
      const before = [...stored];
      try {
        return await fn(txQ as never);
      } catch (err) {
        stored.clear();
        for (const k of before) stored.add(k);
        throw err;
      }
    },
    close: async () => undefined,
  } as unknown as Db;
  const events = {
    insert: async (_q: unknown, rows: EventRow[]) => {
      if (rows.some((r) => r.event_id === 'bad')) throw new Error('invalid input syntax: test');
      const fresh = new Set<string>();
      for (const r of rows) {
        const k = eventKey(r.tenant_id, r.event_id);
        inserts.push(k);
        if (!stored.has(k)) {
          fresh.add(k);
          freshKeys.push(k);
        }
        stored.add(k);
      }
      return { fresh, held: new Map() };
    },
    insertRejected: async () => undefined,
  } as unknown as EventStore;
  return { db, events, stored, state, inserts, fresh: freshKeys, txQ };
}

describe('group writer while the database is down', () => {
  it('answers a retry of an event committed before the outage as a duplicate, and spools only the new one', async () => {
    const s = fakeStore();
    const spool = createSpool(dir(), 1 << 20, log);
    const w = createGroupWriter({ db: s.db, events: s.events, spool, log, retryMs: 60_000 });
    expect(await w.append({ events: [row('a')], rejected: [] })).toEqual({ spooled: false, fresh: [true] });
    s.state.up = false;
    expect(await w.append({ events: [row('a'), row('b')], rejected: [] })).toEqual({ spooled: true, fresh: [false, true] });
    // A second retry of the spooled event is a duplicate too.
    expect(await w.append({ events: [row('b')], rejected: [] })).toEqual({ spooled: true, fresh: [false] });
    const spooled: string[] = [];
    await spool.drain(async (rs) => void spooled.push(...rs.flatMap((r) => r.events.map((e) => e.event_id))));
    expect(spooled).toEqual(['b']);
    await w.close();
  });

  it('answers a retry of an event left in the spool by an earlier run as a duplicate', async () => {
    const d = dir();
    const s = fakeStore();
    s.state.up = false;
    const first = createGroupWriter({ db: s.db, events: s.events, spool: createSpool(d, 1 << 20, log), log, retryMs: 60_000 });
    expect(await first.append({ events: [row('c')], rejected: [] })).toEqual({ spooled: true, fresh: [true] });
    await first.close();

    // A new process: empty memory, the same spool directory, the database still down.
    const spool = createSpool(d, 1 << 20, log);
    const second = createGroupWriter({ db: s.db, events: s.events, spool, log, retryMs: 60_000 });
    expect(await second.append({ events: [row('c'), row('d')], rejected: [] })).toEqual({ spooled: true, fresh: [false, true] });
    const spooled: string[] = [];
    await spool.drain(async (rs) => void spooled.push(...rs.flatMap((r) => r.events.map((e) => e.event_id))));
    expect(spooled.sort()).toEqual(['c', 'd']);
    await second.close();
  });

  it('forgets the oldest keys beyond its bound: a retry of a forgotten event is answered accepted while the database is down', async () => {
    const s = fakeStore();
    const spool = createSpool(dir(), 1 << 20, log);
    const w = createGroupWriter({ db: s.db, events: s.events, spool, log, retryMs: 60_000, ledgerMax: 2 });
    await w.append({ events: [row('x'), row('y'), row('z')], rejected: [] });
    s.state.up = false;
    expect(await w.append({ events: [row('x'), row('z')], rejected: [] })).toEqual({ spooled: true, fresh: [true, false] });
    await w.close();
  });

  it('replays the whole spool again after a replay that failed half-way, storing each event once', async () => {
    const s = fakeStore();
    const spool = createSpool(dir(), 1 << 20, log);
    // Two rows per replay transaction, so the replay of five events takes three.
    const w = createGroupWriter({ db: s.db, events: s.events, spool, log, retryMs: 5, maxRows: 2 });
    s.state.up = false;
    for (const id of ['r1', 'r2', 'r3', 'r4', 'r5']) await w.append({ events: [row(id)], rejected: [] });
    // The database comes back, takes the first replay transaction, and goes away again during the second.
    let txs = 0;
    const tx = s.db.tx.bind(s.db);
    s.db.tx = (async (fn: never) => {
      if (++txs === 2) s.state.up = false;
      return tx(fn);
    }) as typeof s.db.tx;
    s.state.up = true;
    while (txs < 2) await new Promise((r) => setTimeout(r, 5));
    expect([...s.stored]).toEqual(['1:r1', '1:r2']);
    expect(w.status().spoolBytes).toBeGreaterThan(0);
    // Back for good: the segment is replayed from its start; the first two are duplicates now.
    s.state.up = true;
    while (w.status().spoolBytes > 0 || !w.status().storeUp) await new Promise((r) => setTimeout(r, 5));
    expect([...s.stored].sort()).toEqual(['1:r1', '1:r2', '1:r3', '1:r4', '1:r5']);
    expect(s.inserts.filter((k) => k === '1:r1')).toHaveLength(2);
    expect(s.fresh.sort()).toEqual(['1:r1', '1:r2', '1:r3', '1:r4', '1:r5']);
    await w.close();
  });
});

describe('group writer just after the database returns', () => {
  it('answers a retry of an event still waiting in the spool as a duplicate, though the database has not seen it', async () => {
    const s = fakeStore();
    const real = createSpool(dir(), 1 << 20, log);
    // Recovery drains, marks the store up, then drains again for what was spooled meanwhile. Hold both
    // drains so an event is spooled after the first and is still in the spool when its retry arrives.
    let drains = 0;
    const gates = [0, 1].map(() => {
      let open!: () => void;
      return { wait: new Promise<void>((r) => (open = r)), open: () => open(), reached: false };
    });
    const spool = {
      ...real,
      drain: async (apply: Parameters<typeof real.drain>[0]) => {
        const n = ++drains;
        if (n === 1) {
          const applied = await real.drain(apply);
          gates[0].reached = true;
          await gates[0].wait;
          return applied;
        }
        if (n === 2) {
          gates[1].reached = true;
          await gates[1].wait;
        }
        return real.drain(apply);
      },
    };
    const w = createGroupWriter({ db: s.db, events: s.events, spool, log, retryMs: 5 });
    const until = async (ok: () => boolean) => {
      while (!ok()) await new Promise((r) => setTimeout(r, 5));
    };
    s.state.up = false;
    await w.append({ events: [row('a')], rejected: [] });
    s.state.up = true;
    await until(() => gates[0].reached);
    expect(await w.append({ events: [row('p')], rejected: [] })).toEqual({ spooled: true, fresh: [true] });
    gates[0].open();
    await until(() => gates[1].reached && w.status().storeUp);
    const retry = await w.append({ events: [row('p'), row('q')], rejected: [] });
    expect(retry).toEqual({ spooled: false, fresh: [false, true] });
    gates[1].open();
    await until(() => w.status().spoolBytes === 0);
    await w.close();
    expect([...s.stored].sort()).toEqual(['1:a', '1:p', '1:q']);
  });
});

const until = async (ok: () => boolean) => {
  while (!ok()) await new Promise((r) => setTimeout(r, 5));
};

describe('group writer with the database up', () => {
  it('commits the requests queued behind a commit as one group, deduped across it: the first occurrence wins', async () => {
    const s = fakeStore();
    const w = createGroupWriter({ db: s.db, events: s.events, spool: createSpool(dir(), 1 << 20, log), log });
    // The first request takes the writer alone; the next two queue behind it and share the second commit.
    const [first, a, b] = await Promise.all([
      w.append({ events: [row('g0')], rejected: [] }),
      w.append({ events: [row('g1'), row('g2')], rejected: [] }),
      w.append({ events: [row('g2'), row('g3'), row('g3')], rejected: [] }),
    ]);
    expect(first).toEqual({ spooled: false, fresh: [true] });
    expect(a).toEqual({ spooled: false, fresh: [true, true] });
    expect(b).toEqual({ spooled: false, fresh: [false, true, false] });
    // Each key reached the database once: the group was deduped before the insert.
    expect(s.inserts).toEqual(['1:g0', '1:g1', '1:g2', '1:g3']);
    expect(w.status().commits).toMatchObject({ count: 2, rows: 4, requests: 3 });
    await w.close();
  });

  it('offers every row of an order to the store with its claim, and answers held only what the store says holds it', async () => {
    // The store decides which row claims an order (the first with a new event id): a first row whose event id is
    // already stored must not make the writer drop the order's next row, nor name itself as the holder.
    const s = fakeStore();
    const offered: { rows: string[]; claims: string[] }[] = [];
    const events = {
      ...s.events,
      insert: async (q: unknown, rows: EventRow[], orders: { event_id: string }[] = []) => {
        offered.push({ rows: rows.map((r) => r.event_id), claims: orders.map((o) => o.event_id) });
        const out = await s.events.insert(q as never, rows);
        // As the statement answers: 'x' was stored before (not fresh), 'n2' claims the order, 'n3' is held by it.
        out.fresh.delete(eventKey(1, 'n3'));
        out.held.set(eventKey(1, 'n3'), { order_id: 'N9', held_by: 'n2' });
        return out;
      },
    } as unknown as EventStore;
    s.stored.add(eventKey(1, 'x'));
    const order = (id: string) => ({ event_id: id, tenant_id: 1, event_name: 'order_completed', entities: { order_id: 'N9' } }) as unknown as EventRow;
    const w = createGroupWriter({ db: s.db, events, spool: createSpool(dir(), 1 << 20, log), log });
    const r = await w.append({ events: [order('x'), order('n2'), order('n3')], rejected: [] });
    expect(offered).toEqual([{ rows: ['x', 'n2', 'n3'], claims: ['x', 'n2', 'n3'] }]);
    expect(r).toEqual({ spooled: false, fresh: [false, true, false], held: [undefined, undefined, { order_id: 'N9', held_by: 'n2' }] });
    await w.close();
  });

  it('retries each request of a group on its own after a data error: only the faulty request fails', async () => {
    const s = fakeStore();
    const w = createGroupWriter({ db: s.db, events: s.events, spool: createSpool(dir(), 1 << 20, log), log });
    const results = await Promise.allSettled([
      w.append({ events: [row('d0')], rejected: [] }),
      w.append({ events: [row('d1')], rejected: [] }),
      w.append({ events: [row('bad'), row('d2')], rejected: [] }),
      w.append({ events: [row('d3')], rejected: [] }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason.message).toBe('invalid input syntax: test');
    expect((results[3] as PromiseFulfilledResult<unknown>).value).toEqual({ spooled: false, fresh: [true] });
    // The faulty request's valid neighbour in the same request is not kept; the others are, and nothing spooled.
    expect([...s.stored].sort()).toEqual(['1:d0', '1:d1', '1:d3']);
    expect(w.status()).toMatchObject({ storeUp: true, spoolBytes: 0 });
    await w.close();
  });

  it('refuses with StoreUnavailableError when the database and the spool are both unavailable', async () => {
    const s = fakeStore();
    const real = createSpool(dir(), 1 << 20, log);
    const spool = { ...real, append: () => Promise.reject(new Error('disk full: test')) };
    const w = createGroupWriter({ db: s.db, events: s.events, spool, log, retryMs: 60_000 });
    s.state.up = false;
    await expect(w.append({ events: [row('e1')], rejected: [] })).rejects.toBeInstanceOf(StoreUnavailableError);
    await w.close();
  });
});

describe('group writer recovery', () => {
  it('replays what was spooled while the database was down, runs the hooks on it, and commits to the database again', async () => {
    const s = fakeStore();
    const spool = createSpool(dir(), 1 << 20, log);
    const projected: string[] = [];
    const committed: string[] = [];
    const w = createGroupWriter({
      db: s.db, events: s.events, spool, log, retryMs: 5,
      hooks: {
        projectors: [{ name: 'p', run: async (_q, rows) => void projected.push(...rows.map((r) => r.event_id)) }],
        committed: [{ name: 'c', run: (rows) => void committed.push(...rows.map((r) => r.event_id)) }],
      },
    });
    s.state.up = false;
    expect(await w.append({ events: [row('s1'), row('s2')], rejected: [] })).toEqual({ spooled: true, fresh: [true, true] });
    expect(w.status().storeUp).toBe(false);
    expect(s.stored.size).toBe(0);
    s.state.up = true;
    await until(() => w.status().storeUp && w.status().spoolBytes === 0);
    expect([...s.stored].sort()).toEqual(['1:s1', '1:s2']);
    expect(projected.sort()).toEqual(['s1', 's2']);
    expect(committed.sort()).toEqual(['s1', 's2']);
    // Back to committing directly: a retry of a replayed event is a duplicate, a new one is new.
    expect(await w.append({ events: [row('s1'), row('s3')], rejected: [] })).toEqual({ spooled: false, fresh: [false, true] });
    await w.close();
  });
});

describe('group writer hooks', () => {
  it('runs enrichers, then the insert, then projectors with the new rows, in the commit transaction, in declared order; then the committed hooks', async () => {
    const s = fakeStore();
    const calls: string[] = [];
    const insert = s.events.insert.bind(s.events);
    s.events.insert = (async (q: never, rows: EventRow[]) => {
      calls.push('insert');
      return insert(q, rows);
    }) as typeof s.events.insert;
    const hook = (name: string) => ({
      name,
      run: async (q: unknown, rows: EventRow[]) => {
        expect(q).toBe(s.txQ);
        calls.push(`${name}(${rows.map((r) => r.event_id).join(',')})`);
      },
    });
    let t = 0;
    const w = createGroupWriter({
      db: s.db, events: s.events, spool: createSpool(dir(), 1 << 20, log), log,
      // Each reading of the clock moves it by 1 ms: every hook run takes 1 ms.
      now: () => t++,
      hooks: {
        enrichers: [hook('e1'), hook('e2')],
        projectors: [hook('p1'), hook('p2')],
        committed: [{ name: 'c1', run: (rows) => void calls.push(`c1(${rows.map((r) => r.event_id).join(',')})`) }],
      },
    });
    await w.append({ events: [row('h1')], rejected: [] });
    expect(calls).toEqual(['e1(h1)', 'e2(h1)', 'insert', 'p1(h1)', 'p2(h1)', 'c1(h1)']);
    calls.length = 0;
    // Enrichers see every row; projectors only the new ones, and none runs when nothing is new.
    await w.append({ events: [row('h1'), row('h2')], rejected: [] });
    await w.append({ events: [row('h2')], rejected: [] });
    expect(calls).toEqual(['e1(h1,h2)', 'e2(h1,h2)', 'insert', 'p1(h2)', 'p2(h2)', 'c1(h2)', 'e1(h2)', 'e2(h2)', 'insert', 'c1()']);
    expect(w.status().hooks).toEqual([
      { name: 'e1', stage: 'enrich', count: 3, seconds: 0.003, errors: 0 },
      { name: 'e2', stage: 'enrich', count: 3, seconds: 0.003, errors: 0 },
      { name: 'p1', stage: 'project', count: 2, seconds: 0.002, errors: 0 },
      { name: 'p2', stage: 'project', count: 2, seconds: 0.002, errors: 0 },
      { name: 'c1', stage: 'committed', count: 3, seconds: 0.003, errors: 0 },
    ]);
    await w.close();
  });

  it('a projector that throws fails its request alone (the group is retried per request) and is counted', async () => {
    const s = fakeStore();
    const w = createGroupWriter({
      db: s.db, events: s.events, spool: createSpool(dir(), 1 << 20, log), log,
      hooks: {
        projectors: [{ name: 'picky', run: async (_q, rows) => {
          if (rows.some((r) => r.event_id === 'boom')) throw new Error('projector refused: test');
        } }],
      },
    });
    const results = await Promise.allSettled([
      w.append({ events: [row('k0')], rejected: [] }),
      w.append({ events: [row('boom')], rejected: [] }),
      w.append({ events: [row('k1')], rejected: [] }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(w.status().hooks[0]).toMatchObject({ name: 'picky', errors: 2 });
    await w.close();
  });

  it('a committed hook that throws is logged and counted; the next hook still runs and the rows are committed once', async () => {
    const s = fakeStore();
    const seen: string[] = [];
    const w = createGroupWriter({
      db: s.db, events: s.events, spool: createSpool(dir(), 1 << 20, log), log,
      hooks: {
        committed: [
          { name: 'broken', run: () => { throw new Error('hook bug: test'); } },
          { name: 'after', run: (rows) => void seen.push(...rows.map((r) => r.event_id)) },
        ],
      },
    });
    const [a, b] = await Promise.all([
      w.append({ events: [row('m0')], rejected: [] }),
      w.append({ events: [row('m1')], rejected: [] }),
      w.append({ events: [row('m2')], rejected: [] }),
    ]);
    expect(a).toEqual({ spooled: false, fresh: [true] });
    expect(b).toEqual({ spooled: false, fresh: [true] });
    expect(seen).toEqual(['m0', 'm1', 'm2']);
    expect(s.inserts).toEqual(['1:m0', '1:m1', '1:m2']);
    expect(w.status().hooks.map((h) => [h.name, h.count, h.errors])).toEqual([['broken', 2, 2], ['after', 2, 0]]);
    await w.close();
  });

  it('refuses two hooks of the same name at construction', () => {
    const s = fakeStore();
    const h = { name: 'twice', run: async () => undefined };
    expect(() =>
      createGroupWriter({ db: s.db, events: s.events, spool: createSpool(dir(), 1 << 20, log), log, hooks: { enrichers: [h], projectors: [h] } }),
    ).toThrow(DuplicateHookError);
  });
});

/** The first commit waits until the returned function is called; later ones run straight through on other lanes. */
function holdFirstCommit(s: ReturnType<typeof fakeStore>): () => void {
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  const tx = s.db.tx.bind(s.db);
  let commits = 0;
  s.db.tx = (async <T>(fn: (q: never) => Promise<T>) => {
    if (commits++ === 0) await held;
    return tx(fn as never);
  }) as Db['tx'];
  return () => release();
}

describe('group writer with several lanes', () => {
  it('answers groups in the order they were formed even when a later one commits first', async () => {
    const s = fakeStore();
    const release = holdFirstCommit(s);
    const w = createGroupWriter({ db: s.db, events: s.events, spool: createSpool(dir(), 1 << 20, log), log, lanes: 2 });
    const answered: string[] = [];
    const first = w.append({ events: [row('o1')], rejected: [] }).then((r) => (answered.push('o1'), r));
    const second = w.append({ events: [row('o2')], rejected: [] }).then((r) => (answered.push('o2'), r));
    await until(() => s.inserts.includes('1:o2'));
    // The second group is committed, yet not answered while the first is still in flight.
    await new Promise((r) => setTimeout(r, 20));
    expect(answered).toEqual([]);
    release();
    expect(await first).toEqual({ spooled: false, fresh: [true] });
    expect(await second).toEqual({ spooled: false, fresh: [true] });
    expect(answered).toEqual(['o1', 'o2']);
    await w.close();
  });

  it('answers an event sent in two concurrent requests accepted once when the later group stores it first', async () => {
    const s = fakeStore();
    // The second group, formed later, stores the shared event first.
    const release = holdFirstCommit(s);
    const w = createGroupWriter({ db: s.db, events: s.events, spool: createSpool(dir(), 1 << 20, log), log, lanes: 2 });
    const first = w.append({ events: [row('shared'), row('a')], rejected: [] });
    const second = w.append({ events: [row('shared'), row('b')], rejected: [] });
    await until(() => s.inserts.includes('1:b'));
    release();
    const answers = [await first, await second];
    expect(answers).toEqual([{ spooled: false, fresh: [false, true] }, { spooled: false, fresh: [true, true] }]);
    await w.close();
  });

  it('keeps at most `lanes` commits in flight and commits a conflicted group again', async () => {
    const s = fakeStore();
    const tx = s.db.tx.bind(s.db);
    let inFlight = 0;
    let most = 0;
    let conflicts = 1;
    s.db.tx = (async <T>(fn: (q: never) => Promise<T>) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      try {
        if (conflicts-- > 0) throw Object.assign(new Error('deadlock detected: test'), { code: '40P01' });
        return await tx(fn as never);
      } finally {
        inFlight--;
      }
    }) as Db['tx'];
    const w = createGroupWriter({ db: s.db, events: s.events, spool: createSpool(dir(), 1 << 20, log), log, lanes: 3, maxRows: 1 });
    const out = await Promise.all(Array.from({ length: 12 }, (_, i) => w.append({ events: [row(`l${i}`)], rejected: [] })));
    expect(out.every((r) => r.fresh[0] && !r.spooled)).toBe(true);
    expect(most).toBe(3);
    expect(s.stored.size).toBe(12);
    await w.close();
  });
});
