// The group writer's answers while the database is down: a retry of an event already kept is a duplicate,
// whether it was committed before the outage, spooled during it, or left in the spool by an earlier run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError, type Db } from '../store/db.js';
import { eventKey, type EventRow, type EventStore } from '../store/events.js';
import { createSpool } from '../store/spool.js';
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
  const down = () => Promise.reject(new StoreUnavailableError('database unreachable: test'));
  const db = {
    kind: 'postgres',
    query: async () => (state.up ? { rows: [] } : down()),
    exec: async () => undefined,
    tx: async <T>(fn: (q: never) => Promise<T>) => (state.up ? fn({} as never) : down()),
    close: async () => undefined,
  } as unknown as Db;
  const events = {
    insert: async (_q: unknown, rows: EventRow[]) => {
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
      return fresh;
    },
    insertRejected: async () => undefined,
  } as unknown as EventStore;
  return { db, events, stored, state, inserts, fresh: freshKeys };
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
