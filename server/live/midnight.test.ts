// The live day rolls over at the first fact of the next UTC day, not only when the server's clock passes midnight:
// a row may be dated up to the skew tolerance (2 s) after its receipt, so at 23:59:58.8 an event_view dated
// 00:00:00.5 is stored as a row of the next day. It used to be dropped live (its day was not the state's yet)
// while the store, and so any restart's recompute, counted it: nodes disagreed for the whole day. Now such a fact
// starts the new day first (on every node, over the bus too), as the clock does a moment later, and a fact of a
// day the state has passed is not counted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import type { Db } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import { createMemoryBus, MemoryNetwork } from './bus.js';
import { toFact, utcDay, type Fact } from './facts.js';
import { createLive } from './index.js';
import { createPseudonymizer } from './pseudo.js';
import { recomputeDay } from './recompute.js';
import { deletePrefix, randomPrefix, REDIS_URL } from './redis-test-utils.js';
import { row } from './rows.fixture.js';
import { LiveState } from './state.js';
import { createRedisMirror, keys } from './warm.js';

const at = (iso: string) => Date.parse(iso);
const DAY = '2025-06-01';
const NEXT = '2025-06-02';
const MIDNIGHT = at(`${NEXT}T00:00:00Z`);
const SECRET = 'midnight-test-secret-0123456789abcdef0123456789';
const log = pino({ level: 'silent' });

/** A row dated `occurred` that reached the server at `received` (no sent_at: ingest stores it as dated). */
const sent = (name: string, occurred: number, received: number, over: Parameters<typeof row>[2] = {}): EventRow =>
  ({ ...row(name, occurred, over), received_at: new Date(received).toISOString() });
const view = (event: string, visitor: string, occurred: number, received = occurred) =>
  sent('event_view', occurred, received, { visitor_id: visitor, entities: { event_entity_id: event, organizer_id: 'O1' } });

describe('toFact: which days a fact is built for', () => {
  const early = view('E7', 'v', MIDNIGHT + 500, MIDNIGHT - 1200);
  const late = view('E7', 'v', MIDNIGHT - 1000, MIDNIGHT + 100);

  it('one day (a recompute): only rows whose live time is on it', () => {
    expect(toFact(early, DAY)).toBeNull();
    expect(toFact(early, NEXT)?.at).toBe(MIDNIGHT + 500);
    expect(toFact(late, NEXT)).toBeNull();
  });

  it('{ from } (committed rows): that day and the next ones, not the ones before', () => {
    expect(toFact(early, { from: DAY })?.at).toBe(MIDNIGHT + 500);
    expect(toFact(late, { from: DAY })?.at).toBe(MIDNIGHT - 1000);
    expect(toFact(late, { from: NEXT })).toBeNull();
    // The skew cap still holds: a row dated a day ahead counts at its receipt + 2 s, today.
    expect(utcDay(toFact(view('E7', 'v', MIDNIGHT + 86_400_000, MIDNIGHT - 60_000), { from: DAY })!.at)).toBe(DAY);
  });
});

describe('LiveState.rollTo: the day only moves forward, once', () => {
  it('starts a later day from zero; the same or an earlier day changes nothing', () => {
    const s = new LiveState(DAY);
    s.apply(toFact(view('E1', 'a', MIDNIGHT - 5000), DAY)!);
    expect(s.rollTo(DAY)).toBe(false);
    expect(s.getEvent(1, 'E1')?.counters.views).toBe(1);
    expect(s.rollTo(NEXT)).toBe(true);
    expect(s.day).toBe(NEXT);
    expect(s.events.size).toBe(0);
    s.apply(toFact(view('E7', 'b', MIDNIGHT + 500, MIDNIGHT - 1200), NEXT)!);
    // The clock still reads the old day a moment later, then the new one: neither resets the state again.
    expect(s.rollTo(DAY)).toBe(false);
    expect(s.rollTo(NEXT)).toBe(false);
    expect(s.day).toBe(NEXT);
    expect(s.getEvent(1, 'E7')?.counters.views).toBe(1);
  });
});

/** A store for recomputeDay: the rows it holds, paged like the recompute's keyset query (by live time). */
function fakeStore(rows: EventRow[]) {
  const live = (r: EventRow) => Math.min(Date.parse(r.occurred_at), Date.parse(r.received_at) + 2000);
  const db = {
    kind: 'embedded',
    async query(_sql: string, params: unknown[] = []) {
      const [from, to, afterTs, afterId] = params as [string, string, string, string];
      const after = afterTs === '-infinity' ? -Infinity : Date.parse(afterTs);
      const out = rows
        .map((r, i) => ({ r, id: i + 1 }))
        .filter(({ r }) => Date.parse(r.occurred_at) >= Date.parse(from) && live(r) < Date.parse(to) && !r.is_bot)
        .filter(({ r, id }) => Date.parse(r.occurred_at) > after || (Date.parse(r.occurred_at) === after && id > Number(afterId)))
        .sort((a, b) => a.r.occurred_at.localeCompare(b.r.occurred_at) || a.id - b.id)
        .map(({ r, id }) => ({ ...r, id: String(id), tenant_id: String(r.tenant_id), owner: null, owner_source: null }));
      return { rows: out };
    },
  };
  return db as unknown as Db;
}

const settle = () => new Promise((r) => setTimeout(r, 100));

describe('a fact of the next day, committed before the clock passes midnight', () => {
  it('starts the new day on every node (committing and over the bus), is counted once, and a restart agrees', async () => {
    let clock = MIDNIGHT - 1200; // 23:59:58.8
    const now = () => clock;
    const net = new MemoryNetwork();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-midnight-'));
    const config = loadConfig({ DATA_DIR: dir, LIVE_TOKEN_SECRET: SECRET, PORT: '0' });
    const stored: EventRow[] = [];
    const db = fakeStore(stored);
    const mk = () => createLive({ config, db, log, now, bus: createMemoryBus(net), mirror: null });
    const [a, b] = [await mk(), await mk()];
    const commit = (rows: EventRow[]) => {
      stored.push(...rows);
      a.onCommitted(rows);
    };
    const views = (l: typeof a, event: string) => l.core.state.getEvent(1, event)?.counters.views ?? 0;
    try {
      commit([view('E7', 'v1', MIDNIGHT - 60_000), view('E7', 'v2', MIDNIGHT - 30_000)]);
      await settle();
      for (const l of [a, b]) expect([l.core.state.day, views(l, 'E7')]).toEqual([DAY, 2]);

      // 23:59:58.8: a view dated 00:00:00.5 (no sent_at) is a row of the next day.
      commit([view('E7', 'v3', MIDNIGHT + 500, clock)]);
      await settle();
      for (const l of [a, b]) expect([l.core.state.day, views(l, 'E7'), l.core.state.getOrg(1, 'O1')?.uv.count()]).toEqual([NEXT, 1, 1]);

      // 23:59:59.5: the clock's ticks (every 25 ms) do not take the state back to the old day.
      clock = MIDNIGHT - 500;
      await settle();
      // A row of the old day committed now is stored, not counted live (the new day has started).
      commit([view('E7', 'v4', MIDNIGHT - 400)]);
      await settle();
      for (const l of [a, b]) expect([l.core.state.day, views(l, 'E7')]).toEqual([NEXT, 1]);

      // Past midnight: the clock's rollover is the one that already happened, nothing resets.
      clock = MIDNIGHT + 1000;
      commit([view('E7', 'v5', MIDNIGHT + 900)]);
      await settle();
      for (const l of [a, b]) expect([l.core.state.day, views(l, 'E7')]).toEqual([NEXT, 2]);

      // A restart recomputes the day from the store: the same numbers as the running nodes.
      const fresh = new LiveState(NEXT);
      await recomputeDay(db, NEXT, createPseudonymizer(SECRET), (facts) => facts.forEach((f) => fresh.apply(f)));
      const numbers = (s: LiveState) => s.eventData(1, 'E7', clock);
      expect(numbers(fresh)).toMatchObject({ funnel: { views: 2, unique_visitors: 2 } });
      for (const l of [a, b]) expect(numbers(l.core.state)).toEqual(numbers(fresh));
    } finally {
      await a.close();
      await b.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Redis mirror, given facts of two days in one write', () => {
  let prefix = '';
  const conns: Redis[] = [];
  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.quit()));
    if (prefix) await deletePrefix(prefix);
  });

  it('keeps each fact on its own day: the event and its organizer hold the later day with its facts only', async () => {
    prefix = randomPrefix();
    const redis = new Redis(REDIS_URL);
    conns.push(redis);
    const m = createRedisMirror({ redis, prefix, log, now: () => MIDNIGHT - 1000, orgEvents: () => [] });
    const old = toFact(view('E7', 'v1', MIDNIGHT - 1500), DAY)!;
    const next = toFact(view('E7', 'v2', MIDNIGHT + 500, MIDNIGHT - 1200), NEXT)!;
    const old2 = toFact(view('E7', 'v3', MIDNIGHT - 1100), DAY)!;
    const facts: Fact[] = [old, next, old2];
    m.write(facts, () => undefined);
    await m.flush();
    const k = keys(prefix, 1);
    expect(await redis.hgetall(k.live('E7'))).toMatchObject({ day: NEXT, views: '1' });
    expect(await redis.smembers(k.uvExact('E7'))).toEqual(['v2']);
    expect(await redis.hget(k.orgLive('O1'), 'day')).toBe(NEXT);
    expect(await redis.smembers(k.orgUvExact('O1'))).toEqual(['v2']);
    expect(await redis.smembers(`${prefix}live:events:${NEXT}`)).toEqual(['1\tE7']);
  });

  it('a later write of the day before (a node still flushing it) does not wipe the day another node started', async () => {
    prefix = randomPrefix();
    const redis = new Redis(REDIS_URL);
    conns.push(redis);
    const m = createRedisMirror({ redis, prefix, log, now: () => MIDNIGHT + 1000, orgEvents: () => [] });
    const k = keys(prefix, 1);
    for (let i = 0; i < 3; i++) m.write([toFact(view('E7', `n${i}`, MIDNIGHT + 500 + i), NEXT)!], () => undefined);
    await m.flush();
    m.write([toFact(view('E7', 'late', MIDNIGHT - 200), DAY)!], () => undefined);
    await m.flush();
    expect(await redis.hget(k.live('E7'), 'day')).toBe(NEXT);
    expect(await redis.smembers(k.uvExact('E7'))).toEqual(expect.arrayContaining(['n0', 'n1', 'n2']));
    expect(await redis.hget(k.orgLive('O1'), 'day')).toBe(NEXT);
    expect(await redis.smembers(k.orgUvExact('O1'))).toEqual(expect.arrayContaining(['n0', 'n1', 'n2']));
  });

  it('leaves out a fact of the day before still queued when its own state has started the next day: nothing of it counts on the new day', async () => {
    prefix = randomPrefix();
    const redis = new Redis(REDIS_URL);
    conns.push(redis);
    const state = new LiveState(DAY);
    const m = createRedisMirror({ redis, prefix, log, now: () => MIDNIGHT + 1000, orgEvents: () => [], state });
    const k = keys(prefix, 1);
    state.rollTo(NEXT);
    for (let i = 0; i < 3; i++) m.write([toFact(view('E7', `n${i}`, MIDNIGHT + 500 + i), NEXT)!], () => undefined);
    await m.flush();
    const ttl = await redis.ttl(k.live('E7'));
    // Applied at 23:59:59.8 while the state held that day, flushed after it moved on.
    m.write([toFact(view('E7', 'late', MIDNIGHT - 200), DAY)!], () => undefined);
    await m.flush();
    expect(await redis.hgetall(k.live('E7'))).toMatchObject({ day: NEXT, views: '3' });
    expect((await redis.smembers(k.uvExact('E7'))).sort()).toEqual(['n0', 'n1', 'n2']);
    expect((await redis.smembers(k.orgUvExact('O1'))).sort()).toEqual(['n0', 'n1', 'n2']);
    expect(await redis.ttl(k.live('E7'))).toBeGreaterThanOrEqual(ttl - 60);
    expect(await redis.smembers(`${prefix}live:events:${DAY}`)).toEqual([]);
  });
});
