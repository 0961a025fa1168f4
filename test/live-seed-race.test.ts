// A node that recomputes today's live state from the store (the day's "seeded" marker is gone: a Redis blip, a
// Redis restart, a new UTC day) while another node keeps committing (a rolling deploy). Both live cores share one
// store, one memory bus and one real Redis (127.0.0.1:6379, random key prefix, deleted after); the store's pages
// let the test interleave deterministically: facts committed after the seeder cleared Redis and before its
// recompute reads them, facts delivered over the bus before and after their row is read, a fact committed before
// the clear but written to Redis after it, one written after the seeder finished, one dated behind the
// recompute's cursor. Measured before the fix: the restarted node and Redis counted several of them twice.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config/index.js';
import type { Db } from '../server/store/db.js';
import type { EventRow } from '../server/store/events.js';
import { createMemoryBus, MemoryNetwork } from '../server/live/bus.js';
import type { Mirror } from '../server/live/core.js';
import type { Fact } from '../server/live/facts.js';
import { createLive } from '../server/live/index.js';
import { createPseudonymizer } from '../server/live/pseudo.js';
import { recomputeDay } from '../server/live/recompute.js';
import { dayKeys, keys } from '../server/live/redis-keys.js';
import { deletePrefix, randomPrefix, REDIS_URL } from '../server/live/redis-test-utils.js';
import { MIN, NOW, row } from '../server/live/rows.fixture.js';
import { LiveState } from '../server/live/state.js';
import { createRedisMirror } from '../server/live/warm.js';

const DAY = new Date(NOW).toISOString().slice(0, 10);
const SECRET = 'seed-race-test-secret-0123456789abcdef0123456789';
const log = pino({ level: 'silent' });

const view = (i: number, at: number) => row('event_view', at, { visitor_id: `v${i}`, entities: { event_entity_id: 'S1' } });
const order = (i: number, at: number, amount = 100) =>
  row('order_completed', at, {
    source_system: 'backend', entities: { event_entity_id: 'S1', order_id: `o${i}` },
    payload: { gross_amount: amount, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2, price: amount / 2 }] },
  });

/**
 * The store for recomputeDay: its rows in keyset pages as the recompute's query reads them (by occurred_at, then
 * id, `limit` rows), each page taken after the next of `beforePage` ran (taken off it). Every other query finds nothing.
 */
function fakeStore(rows: EventRow[], beforePage: (() => Promise<void>)[]) {
  const db = {
    kind: 'embedded',
    async query(sql: string, params: unknown[] = []) {
      if (!sql.includes('FROM tx_events e') || !sql.includes('LIMIT $5')) return { rows: [] };
      await beforePage.shift()?.();
      const [from, to, afterTs, afterId, limit] = params as [string, string, string, string, number];
      const after = afterTs === '-infinity' ? -Infinity : Date.parse(afterTs);
      const out = rows
        .map((r, i) => ({ r, id: i + 1 }))
        .filter(({ r }) => Date.parse(r.occurred_at) >= Date.parse(from) && Date.parse(r.occurred_at) < Date.parse(to))
        .filter(({ r, id }) => Date.parse(r.occurred_at) > after || (Date.parse(r.occurred_at) === after && id > Number(afterId)))
        .sort((a, b) => a.r.occurred_at.localeCompare(b.r.occurred_at) || a.id - b.id)
        .slice(0, limit)
        .map(({ r, id }) => ({ ...r, id: String(id), tenant_id: String(r.tenant_id), owner: null, owner_source: null }));
      return { rows: out };
    },
  };
  return db as unknown as Db;
}

/** Waits for the mirror's writes and for the bus (memory: one microtask per message) to deliver what they sent. */
async function settle(m: Mirror) {
  await m.flush();
  await new Promise((r) => setTimeout(r, 20));
}

/** A mirror whose writes can be held back (a node whose Redis write comes late after its commit). */
function holdable(m: Mirror) {
  let held: [Fact[], () => void][] | null = null;
  return {
    mirror: { ...m, write: (facts: Fact[], done: () => void) => (held ? held.push([facts, done]) : m.write(facts, done)) } as Mirror,
    hold: () => void (held ??= []),
    /** Writes what was held back, then waits for it (and what the acknowledgements sent over the bus) to arrive. */
    release: async () => {
      const h = held ?? [];
      held = null;
      for (const [facts, done] of h) m.write(facts, done);
      await settle(m);
    },
  };
}

describe('a node recomputing the day while another node keeps committing', () => {
  let prefix = '';
  const conns: Redis[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.quit()));
    if (prefix) await deletePrefix(prefix);
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('counts every stored fact once, on both nodes and in Redis (and a node restored from Redis later)', { timeout: 60_000 }, async () => {
    prefix = randomPrefix();
    const now = () => NOW;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-seed-race-'));
    dirs.push(dir);
    const config = loadConfig({ DATA_DIR: dir, LIVE_TOKEN_SECRET: SECRET, PORT: '0' });
    const stored: EventRow[] = [];
    const beforePage: (() => Promise<void>)[] = [];
    const db = fakeStore(stored, beforePage);
    const net = new MemoryNetwork();
    const redisMirror = () => {
      const redis = new Redis(REDIS_URL);
      conns.push(redis);
      return createRedisMirror({ redis, prefix, log, now });
    };
    const inner = redisMirror();
    const ma = holdable(inner);
    const a = await createLive({ config, db, log, now, bus: createMemoryBus(net), mirror: ma.mirror });
    let b: Awaited<ReturnType<typeof createLive>> | null = null;
    /** Node A commits rows: the store holds them, A counts them, writes them to Redis and sends them to B. */
    const commit = async (rows: EventRow[]) => {
      stored.push(...rows);
      a.onCommitted(rows);
      await settle(inner);
    };
    try {
      expect((await a.restore()).source).toBe('store');
      // The day so far: written by node A long ago (over two of the recompute's pages).
      for (let i = 0; i < 5200; i += 400) await commit(Array.from({ length: 400 }, (_, j) => view(i + j, NOW - 40 * MIN + (i + j) * 10)));
      await commit(Array.from({ length: 10 }, (_, i) => order(i, NOW - 20 * MIN + i)));
      // A Redis blip (or a new UTC day): the day is no longer marked whole in Redis, so the next start recomputes it.
      const r = new Redis(REDIS_URL);
      conns.push(r);
      await r.del(dayKeys(prefix).seeded(DAY));

      // Committed by A just before B starts; A's Redis write (and so its bus message) comes after B cleared Redis.
      ma.hold();
      await commit([order(100, NOW - 5000), order(101, NOW - 5000), order(102, NOW - 5000)]);

      beforePage.push(async () => {
        // B has cleared Redis and is about to read its first page.
        await ma.release();
        // Committed now, ahead of B's cursor: written to Redis and delivered to B before B reads its row.
        await commit([200, 201, 202, 203].map((i) => order(i, NOW - 1000)));
        // Committed now, ahead of the cursor, but written to Redis (and sent over the bus) only after B finished.
        ma.hold();
        await commit([order(300, NOW - 500), order(301, NOW - 500)]);
      }, async () => {
        // Dated behind B's cursor (a sender's back-dated order): B never reads it, hears of it over the bus.
        await commit([order(400, NOW - 40 * MIN + 1000)]);
      });
      const mb = redisMirror();
      b = await createLive({ config, db, log, now, bus: createMemoryBus(net), mirror: mb });
      expect((await b.restore()).source).toBe('store');
      expect(beforePage).toEqual([]);
      await ma.release();
      await commit([order(500, NOW)]);

      const truth = new LiveState(DAY);
      await recomputeDay(db, DAY, createPseudonymizer(SECRET), (facts) => facts.forEach((f) => truth.apply(f)));
      const numbers = (s: LiveState) => {
        const e = s.getEvent(1, 'S1')!;
        return { views: e.counters.views, orders: e.counters.orders, tickets: e.counters.tickets_sold, eur: e.revenue.get('EUR') };
      };
      const want = numbers(truth);
      expect(want).toEqual({ views: 5200, orders: 21, tickets: 42, eur: 2_100_000 });
      expect.soft(numbers(a.core.state)).toEqual(want);
      expect.soft(numbers(b.core.state)).toEqual(want);
      const live = await r.hgetall(keys(prefix, 1).live('S1'));
      expect.soft({ views: Number(live.views), orders: Number(live.orders), tickets: Number(live.tickets_sold), eur: Number(live['rev:EUR']) }).toEqual(want);
      // The facts counted by id are the ones that could race (A's writes while the flag stood, B's recent rows),
      // not the day's 5,200 older rows; the flag and that SET go a minute after the seed ended.
      const dk = dayKeys(prefix);
      expect(await r.scard(dk.seedSeen(DAY))).toBe(11);
      for (const key of [dk.seeding(DAY), dk.seedSeen(DAY)]) expect(await r.pttl(key)).toBeGreaterThan(50_000);
      for (const key of [dk.seeding(DAY), dk.seedSeen(DAY)]) expect(await r.pttl(key)).toBeLessThanOrEqual(60_000);
      // A third node starting now restores the day from Redis, with the same numbers.
      const c = new LiveState(DAY);
      expect(await redisMirror().restore(c, DAY)).toBe('restored');
      expect(numbers(c)).toEqual(want);
    } finally {
      await a.close();
      await b?.close();
    }
  });
});
