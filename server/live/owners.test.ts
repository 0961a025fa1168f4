// Event → organizer ownership (issue 8.3): the claim rule, its fold over a commit, the hot state fed with the
// stored owner, and the Redis mirror of an ownership move.
import fc from 'fast-check';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventRow } from '../store/events.js';
import { toFact, utcDay, type Fact, type Owner } from './facts.js';
import type { Queryable } from '../store/db.js';
import { claimOf, createOwnerClaims, decideClaim, foldClaims, type Claim } from './owners.js';
import { deletePrefix, randomPrefix, REDIS_URL } from './redis-test-utils.js';
import { MIN, NOW, row } from './rows.fixture.js';
import { LiveState } from './state.js';
import { createRedisMirror, keys } from './warm.js';

const DAY = utcDay(NOW);
const pub = (org: string): Owner => ({ org, source: 'public' });
const sec = (org: string): Owner => ({ org, source: 'secret' });
const claim = (o: Owner, at = NOW): Claim => ({ tenant: 1, event: 'E', ...o, at: new Date(at).toISOString() });

describe('the claim rule', () => {
  it('the first claim sets the owner; a public claim never moves it', () => {
    expect(decideClaim(null, pub('A'))).toEqual({ owner: pub('A'), outcome: 'set' });
    expect(decideClaim(pub('A'), pub('A'))).toEqual({ owner: pub('A'), outcome: 'kept' });
    expect(decideClaim(pub('A'), pub('B'))).toEqual({ owner: pub('A'), outcome: 'ignored' });
    expect(decideClaim(sec('A'), pub('B'))).toEqual({ owner: sec('A'), outcome: 'ignored' });
  });

  it('a secret claim replaces a public owner once; a secret owner is final', () => {
    expect(decideClaim(pub('A'), sec('B'))).toEqual({ owner: sec('B'), outcome: 'replaced' });
    expect(decideClaim(pub('A'), sec('A'))).toEqual({ owner: sec('A'), outcome: 'confirmed' });
    expect(decideClaim(sec('B'), sec('C'))).toEqual({ owner: sec('B'), outcome: 'ignored' });
    expect(decideClaim(sec('B'), sec('B'))).toEqual({ owner: sec('B'), outcome: 'kept' });
  });

  it('a commit folds its claims in commit order; the ones that do not hold are conflicts (a displaced owner too)', () => {
    const f = foldClaims(null, [claim(pub('A')), claim(pub('F')), claim(sec('B')), claim(sec('C')), claim(pub('A'))]);
    expect(f.owner).toEqual(sec('B'));
    expect(f.changed).toBe(true);
    expect(f.conflicts.map((c) => [c.org, c.source, c.owner])).toEqual([['F', 'public', 'A'], ['A', 'public', 'B'], ['C', 'secret', 'B'], ['A', 'public', 'B']]);
    expect(f.claim?.org).toBe('B');
    expect(foldClaims(sec('B'), [claim(pub('B'))])).toEqual({ owner: sec('B'), changed: false, conflicts: [], claim: null });
  });

  it('only non-bot rows naming an event and an organizer claim; backend, payments and shop rows are secret claims', () => {
    const ent = { event_entity_id: 'E', organizer_id: 'A' };
    expect(claimOf(row('event_view', NOW, { entities: ent }))).toMatchObject({ tenant: 1, event: 'E', org: 'A', source: 'public' });
    expect(claimOf(row('order_completed', NOW, { source_system: 'backend', entities: ent }))?.source).toBe('secret');
    expect(claimOf(row('event_view', NOW, { source_system: 'scanner', entities: ent }))?.source).toBe('public');
    expect(claimOf(row('event_view', NOW, { is_bot: true, entities: ent }))).toBeNull();
    expect(claimOf(row('event_view', NOW, { entities: { event_entity_id: 'E' } }))).toBeNull();
    expect(claimOf(row('event_view', NOW, { entities: { organizer_id: 'A' } }))).toBeNull();
  });
});

/** The ownership tables in memory, answering owners.sql's queries; counts the queries it gets. */
function fakeStore() {
  const owners = new Map<string, { organizer_id: string; source: string }>();
  const conflicts: Record<string, unknown>[] = [];
  let queries = 0;
  /** Keys another node stores just before this node's insert (a lost race). */
  const raced = new Map<string, { organizer_id: string; source: string }>();
  const k = (t: unknown, e: unknown) => `${t}|${e}`;
  const q: Queryable = {
    async query<T>(sql: string, params: unknown[] = []) {
      queries++;
      const list = () => JSON.parse(String(params[0])) as Record<string, string>[];
      if (sql.includes('FOR UPDATE')) {
        const [ts, es] = params as [number[], string[]];
        const rows = ts.flatMap((t, i) => {
          const o = owners.get(k(t, es[i]));
          return o ? [{ tenant_id: String(t), event_entity_id: es[i], ...o }] : [];
        });
        return { rows: rows as T[] };
      }
      if (sql.includes('INSERT INTO live_event_owners')) {
        const won = [];
        for (const r of list()) {
          const key = k(r.tenant_id, r.event_entity_id);
          const other = raced.get(key);
          if (other) owners.set(key, other);
          if (owners.has(key)) continue;
          owners.set(key, { organizer_id: r.organizer_id, source: r.source });
          won.push({ tenant_id: String(r.tenant_id), event_entity_id: r.event_entity_id });
        }
        raced.clear();
        return { rows: won as T[] };
      }
      if (sql.includes('UPDATE live_event_owners')) {
        for (const r of list()) if (owners.get(k(r.tenant_id, r.event_entity_id))?.source === 'public') owners.set(k(r.tenant_id, r.event_entity_id), { organizer_id: r.organizer_id, source: r.source });
        return { rows: [] };
      }
      if (sql.includes('live_owner_conflicts')) {
        conflicts.push(...list());
        return { rows: [] };
      }
      throw new Error(`unexpected query: ${sql.slice(0, 80)}`);
    },
    async exec() {},
  };
  return { q, owners, conflicts, raced, queries: () => queries };
}

const log = pino({ level: 'silent' });
const claimRow = (org: string | null, source = 'web', event = 'E') =>
  row('event_view', NOW, { source_system: source, entities: { event_entity_id: event, ...(org ? { organizer_id: org } : {}) } });

describe('claims against the store (projector)', () => {
  it('steady traffic of an owned event, or of an event known to have none, costs no query once committed; a conflicting claim does', async () => {
    const db = fakeStore();
    const c = createOwnerClaims({ log });
    const first = [claimRow('A'), claimRow(null, 'web', 'NOORG')];
    await c.project(db.q, first);
    // Decided, but not trusted before the commit: until ownerOf (called after it) the next commit asks again.
    await c.project(db.q, [claimRow('A')]);
    const asked = db.queries();
    expect(first.map((r) => c.ownerOf(r))).toEqual([pub('A'), null]);
    await c.project(db.q, [claimRow('A'), claimRow(null), claimRow(null, 'web', 'NOORG')]);
    expect(db.queries()).toBe(asked);
    const forged = claimRow('F');
    await c.project(db.q, [forged]);
    expect(db.queries()).toBeGreaterThan(asked);
    expect(c.ownerOf(forged)).toEqual(pub('A'));
    expect(c.conflicts()).toBe(1);
    expect(db.conflicts).toMatchObject([{ event_entity_id: 'E', organizer_id: 'F', source: 'public', owner_id: 'A' }]);
  });

  it('a commit retried (rolled back, then run again) counts its conflicts once', async () => {
    const db = fakeStore();
    const c = createOwnerClaims({ log });
    const a = claimRow('A');
    await c.project(db.q, [a]);
    c.ownerOf(a);
    const forged = [claimRow('F')];
    await c.project(db.q, forged);
    await c.project(db.q, forged);
    c.ownerOf(forged[0]);
    expect(c.conflicts()).toBe(1);
  });

  it('a first claim another node stored meanwhile wins: the rows get its owner and this claim is a conflict', async () => {
    const db = fakeStore();
    const c = createOwnerClaims({ log });
    db.raced.set('1|E', { organizer_id: 'OTHER-NODE', source: 'public' });
    const mine = claimRow('MINE');
    await c.project(db.q, [mine]);
    expect(c.ownerOf(mine)).toEqual(pub('OTHER-NODE'));
    expect(db.owners.get('1|E')).toEqual({ organizer_id: 'OTHER-NODE', source: 'public' });
    expect(db.conflicts).toMatchObject([{ organizer_id: 'MINE', owner_id: 'OTHER-NODE' }]);
  });

  it('a secret owner heard from another node replaces the cached public one: the old owner\'s claims are conflicts again', async () => {
    const db = fakeStore();
    const c = createOwnerClaims({ log });
    const a = claimRow('A');
    await c.project(db.q, [a]);
    c.ownerOf(a);
    // Another node moved the event (a backend order for REAL); this node hears the fact over the bus.
    db.owners.set('1|E', { organizer_id: 'REAL', source: 'secret' });
    c.learn(1, 'E', sec('REAL'));
    c.learn(1, 'E', pub('IGNORED'));
    const late = claimRow('A');
    await c.project(db.q, [late]);
    expect(c.ownerOf(late)).toEqual(sec('REAL'));
    expect(db.conflicts).toMatchObject([{ organizer_id: 'A', source: 'public', owner_id: 'REAL' }]);
  });

  it('a secret claim replaces a stored public owner; the displaced owner is recorded', async () => {
    const db = fakeStore();
    const c = createOwnerClaims({ log });
    const squat = claimRow('SQUAT');
    await c.project(db.q, [squat]);
    c.ownerOf(squat);
    const order = claimRow('REAL', 'backend');
    await c.project(db.q, [order]);
    expect(c.ownerOf(order)).toEqual(sec('REAL'));
    expect(db.owners.get('1|E')).toEqual({ organizer_id: 'REAL', source: 'secret' });
    expect(db.conflicts).toMatchObject([{ organizer_id: 'SQUAT', source: 'public', owner_id: 'REAL' }]);
  });
});

/** Rows of event E: the real owner's views, then a forged one back-dated to the start of the day. */
function takeoverRows(): EventRow[] {
  const real = (i: number) => row('event_view', NOW - 5 * MIN + i, { visitor_id: `r${i}`, entities: { event_entity_id: 'E', organizer_id: 'REAL' } });
  const dayStart = Date.parse(`${DAY}T00:00:01Z`);
  return [real(0), real(1), row('event_view', dayStart, { visitor_id: 'forger', entities: { event_entity_id: 'E', organizer_id: 'FORGER' } }), real(2)];
}

function build(rows: EventRow[], owner?: Owner): LiveState {
  const s = new LiveState(DAY);
  for (const r of rows) {
    const f = toFact(r, DAY, undefined, owner);
    if (f) s.apply(f);
  }
  return s;
}

describe('hot state and ownership', () => {
  it('rebuilt in occurred_at order from rows alone, a back-dated forged row took the event (the bug); with the stored owner it does not', () => {
    const byOccurredAt = [...takeoverRows()].sort((a, b) => a.occurred_at.localeCompare(b.occurred_at));
    expect((build(byOccurredAt).eventData(1, 'E', NOW) as any).organizer_id).toBe('FORGER');
    const s = build(byOccurredAt, pub('REAL'));
    expect((s.eventData(1, 'E', NOW) as any).organizer_id).toBe('REAL');
    expect((s.dashboardData(1, 'REAL', NOW) as any).totals.funnel).toMatchObject({ views: 4, unique_visitors: 4 });
    expect(s.getOrg(1, 'FORGER')).toBeUndefined();
  });

  it('applied live in receive order, a later claim naming another organizer is ignored', () => {
    const s = build(takeoverRows());
    expect((s.eventData(1, 'E', NOW) as any).organizer_id).toBe('REAL');
    expect(s.getOrg(1, 'FORGER')).toBeUndefined();
  });

  it('a secret owner moves the event, with what it saw; the organizer it left keeps only its other events', () => {
    const s = new LiveState(DAY);
    const fact = (event: string, visitor: string, o: Owner): Fact => ({ ...toFact(row('event_view', NOW - MIN, { visitor_id: visitor, entities: { event_entity_id: event } }), DAY)!, org: o.org, os: o.source });
    s.apply(fact('E', 'v1', pub('SQUAT')));
    s.apply(fact('OTHER', 'v2', pub('SQUAT')));
    s.apply(fact('OTHER', 'v1', pub('SQUAT')));
    const moved = s.apply(fact('E', 'v3', sec('REAL')));
    expect(moved).toMatchObject({ org: 'REAL', linked: true, from: 'SQUAT' });
    expect(s.apply(fact('E', 'v4', pub('SQUAT')))).toMatchObject({ org: 'REAL', linked: false });
    expect((s.dashboardData(1, 'REAL', NOW) as any).events.map((e: any) => e.event_id)).toEqual(['E']);
    expect((s.dashboardData(1, 'REAL', NOW) as any).totals.funnel).toMatchObject({ views: 3, unique_visitors: 3 });
    const squat = s.dashboardData(1, 'SQUAT', NOW) as any;
    expect(squat.events.map((e: any) => e.event_id)).toEqual(['OTHER']);
    // v1 saw both events: it stays counted for SQUAT through OTHER, nothing of E's other visitors does.
    expect(squat.totals.funnel).toMatchObject({ views: 2, unique_visitors: 2 });
  });

  it('facts carrying the stored owners (public, then the secret one) give the same state in any order', () => {
    const facts: Fact[] = [];
    for (let i = 0; i < 12; i++) {
      const o = i < 5 ? pub('SQUAT') : sec('REAL');
      facts.push({ ...toFact(row('event_view', NOW - i * 1000, { visitor_id: `v${i % 7}`, entities: { event_entity_id: i % 3 === 0 ? 'E2' : 'E' } }), DAY)!, org: o.org, os: o.source });
    }
    const ref = new LiveState(DAY);
    for (const f of facts) ref.apply({ ...f });
    fc.assert(
      fc.property(fc.shuffledSubarray(facts, { minLength: facts.length, maxLength: facts.length }), (shuffled) => {
        const s = new LiveState(DAY);
        for (const f of shuffled) s.apply({ ...f });
        expect(s.dashboardData(1, 'REAL', NOW)).toEqual(ref.dashboardData(1, 'REAL', NOW));
        expect(s.dashboardData(1, 'SQUAT', NOW)).toEqual(ref.dashboardData(1, 'SQUAT', NOW));
        expect(s.eventData(1, 'E', NOW)).toEqual(ref.eventData(1, 'E', NOW));
      }),
      { numRuns: 30 },
    );
    expect((ref.dashboardData(1, 'SQUAT', NOW) as any).events).toEqual([]);
  });
});

describe('Redis mirror of ownership', () => {
  const conns: Redis[] = [];
  let prefix = '';
  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.quit()));
    if (prefix) await deletePrefix(prefix);
  });

  it('keeps the secret owner whatever order nodes flush in, moves the event out of the organizer it left, and restores it', async () => {
    prefix = randomPrefix();
    const redis = new Redis(REDIS_URL);
    conns.push(redis);
    const hot = new LiveState(DAY);
    const mirror = createRedisMirror({ redis, prefix, log, now: () => NOW, orgEvents: (t, o) => hot.getOrg(t, o)?.events ?? [] });
    expect(await mirror.restore(hot, DAY)).toBe('seed');
    const fact = (event: string, visitor: string, o: Owner): Fact => ({ ...toFact(row('event_view', NOW - MIN, { visitor_id: visitor, entities: { event_entity_id: event } }), DAY)!, org: o.org, os: o.source });
    const write = (facts: Fact[]) => new Promise<void>((r) => mirror.write(facts, r));
    const first = [fact('E', 'v1', pub('SQUAT')), fact('OTHER', 'v2', pub('SQUAT'))];
    for (const f of first) hot.applyShared(f);
    await write(first);
    const move = fact('E', 'v3', sec('REAL'));
    hot.applyShared(move);
    expect(move).toMatchObject({ org: 'REAL', os: 'secret', link: true, from: 'SQUAT' });
    await write([move]);
    const k = keys(prefix, 1);
    expect((await redis.smembers(k.orgEvents('SQUAT'))).sort()).toEqual(['OTHER']);
    expect(await redis.pfcount(k.orgUv('SQUAT'))).toBe(1);
    expect(await redis.pfcount(k.orgUv('REAL'))).toBe(2);
    // Another node flushing a fact it resolved before it heard of the move: the secret owner stays.
    await write([fact('E', 'v4', pub('SQUAT'))]);
    await mirror.seeded(DAY);
    expect(await redis.hmget(k.live('E'), 'organizer_id', 'owner_source')).toEqual(['REAL', 'secret']);

    const restored = new LiveState(DAY);
    expect(await mirror.restore(restored, DAY)).toBe('restored');
    expect(restored.getEvent(1, 'E')).toMatchObject({ org: 'REAL', orgSource: 'secret' });
    expect([...restored.getOrg(1, 'SQUAT')!.events]).toEqual(['OTHER']);
  });
});
