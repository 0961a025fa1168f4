// The Redis mirror against a real Redis (127.0.0.1:6379), one random key prefix per test, deleted after.
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toFact, utcDay, type Fact } from './facts.js';
import type { Mirror } from './core.js';
import { deletePrefix, randomPrefix, REDIS_URL } from './redis-test-utils.js';
import { E1, E2, funnelRows, MIN, NOW, row } from './rows.fixture.js';
import { LiveState } from './state.js';
import { createRedisMirror, dayKeys, dayTtlS, keys } from './warm.js';

const DAY = utcDay(NOW);
const log = pino({ level: 'silent' });

function scripted(): Fact[] {
  const cap = (name: string, at: number, payload: Record<string, unknown>) => row(name, at, { source_system: 'scanner', entities: { event_entity_id: 'E1', ticket_id: 't' }, payload });
  const cap2 = (name: string, at: number, payload: Record<string, unknown>) => row(name, at, { source_system: 'scanner', entities: { event_entity_id: 'E2', ticket_id: 't' }, payload });
  const rows = [
    ...funnelRows(E1),
    ...funnelRows(E2),
    row('event_view', NOW - MIN, { visitor_id: 'late-linker', entities: { event_entity_id: 'E3' } }),
    row('event_view', NOW - MIN, { visitor_id: 'late-linker-2', entities: { event_entity_id: 'E3', organizer_id: 'O1' } }),
    cap('capacity_snapshot', NOW - 30_000, { gate_id: 'G1', current_inside: 40, total_entries: 44, total_denied: 2, capacity: 100, rate_per_minute: 5 }),
    cap('capacity_snapshot', NOW - 90_000, { gate_id: 'G1', current_inside: 1, total_entries: 1, total_denied: 0 }),
    cap('entry_granted', NOW - 100_000, { gate_id: 'G1' }),
    cap('entry_granted', NOW - 10_000, { gate_id: 'G1' }),
    cap('entry_denied', NOW - 5_000, { gate_id: 'G2' }),
    // E2's gate: two scanner sessions (one with its own snapshot) and an exit.
    ...[1, 2, 3].map((i) => cap2('entry_granted', NOW - 50_000 + i, { gate_id: 'G9', scanner_session_id: 'dev-a' })),
    cap2('capacity_snapshot', NOW - 40_000, { gate_id: 'G9', scanner_session_id: 'dev-a', current_inside: 3, total_entries: 3, total_denied: 0 }),
    cap2('entry_granted', NOW - 30_000, { gate_id: 'G9', scanner_session_id: 'dev-b' }),
    cap2('entry_granted', NOW - 20_000, { gate_id: 'G9', scanner_session_id: 'dev-a', scan_type: 'exit' }),
  ];
  return rows.map((r) => toFact(r, DAY)).filter((f): f is Fact => f !== null);
}

describe('Redis mirror (warm state)', () => {
  let prefix: string;
  const conns: Redis[] = [];
  const open = (state?: LiveState): Mirror => {
    const redis = new Redis(REDIS_URL);
    conns.push(redis);
    return createRedisMirror({ redis, prefix, log, now: () => NOW, orgEvents: (t, o) => state?.getOrg(t, o)?.events ?? [] });
  };
  beforeEach(() => {
    prefix = randomPrefix();
  });
  afterEach(async () => {
    await Promise.all(conns.splice(0).map((c) => c.quit()));
    await deletePrefix(prefix);
  });

  it('mirrors every fact and restores a state equal to the hot one (UV from PFCOUNT)', async () => {
    const hot = new LiveState(DAY);
    const a = open(hot);
    expect(await a.restore(hot, DAY)).toBe('seed');
    const facts = scripted();
    for (let i = 0; i < facts.length; i += 37) {
      const chunk = facts.slice(i, i + 37);
      for (const f of chunk) hot.applyShared(f);
      a.write(chunk, () => undefined);
    }
    await a.seeded(DAY);

    const restored = new LiveState(DAY);
    const b = open(restored);
    expect(await b.restore(restored, DAY)).toBe('restored');
    restored.uvSource = b.uvSource;
    const topics = [
      { tenant: 1, topic: { kind: 'event' as const, event: 'E1' } },
      { tenant: 1, topic: { kind: 'event' as const, event: 'E2' } },
      { tenant: 1, topic: { kind: 'dashboard' as const, org: 'O1' } },
    ];
    await b.prefetch(topics);
    for (const e of ['E1', 'E2', 'E3']) expect(restored.eventData(1, e, NOW)).toEqual(hot.eventData(1, e, NOW));
    expect(restored.capacityData(1, 'E1', NOW)).toEqual(hot.capacityData(1, 'E1', NOW));
    expect(restored.capacityData(1, 'E1', NOW)).toMatchObject({ inside: 41, entries: 45, denied: 3, rate_per_minute: 5 });
    expect(restored.capacityData(1, 'E2', NOW)).toEqual(hot.capacityData(1, 'E2', NOW));
    expect(restored.capacityData(1, 'E2', NOW)).toMatchObject({ inside: 3, entries: 4, gates: { G9: { inside: 3, entries: 4 } } });
    expect(restored.dashboardData(1, 'O1', NOW)).toEqual(hot.dashboardData(1, 'O1', NOW));
    // The organizer's visitors include what E3 saw before it was linked to O1 (PFMERGE), counted once.
    expect((restored.dashboardData(1, 'O1', NOW) as any).totals.funnel.unique_visitors).toBe(50 + 48 + 2);

    const r = new Redis(REDIS_URL);
    conns.push(r);
    const k = keys(prefix, 1);
    expect(await r.hget(k.live('E1'), 'orders')).toBe('10');
    expect(await r.hget(k.live('E1'), 'rev:EUR')).toBe('1000000');
    expect(await r.pfcount(k.uv('E1'))).toBe(50);
    // The day's keys outlive quiet hours: until an hour after the day ends (a 30-minute TTL lost the visitors HLL).
    const untilDayEnd = Math.ceil((Date.parse(`${DAY}T00:00:00Z`) + 25 * 3_600_000 - NOW) / 1000);
    for (const key of [k.live('E1'), k.uv('E1'), k.orgUv('O1'), k.gates('E1')]) expect(await r.ttl(key), key).toBeGreaterThan(untilDayEnd - 60);
    expect(await r.xlen(k.funnel('E1'))).toBeGreaterThan(100);
    expect(await r.exists(keys(prefix, 2).live('E1'))).toBe(0);
  });

  it('a visitors key Redis lost (flushed, expired) does not wipe the count: the node\'s own sketch holds it', async () => {
    const hot = new LiveState(DAY);
    const a = open(hot);
    expect(await a.restore(hot, DAY)).toBe('seed');
    const facts = scripted();
    for (const f of facts) hot.applyShared(f);
    a.write(facts, () => undefined);
    await a.seeded(DAY);
    hot.uvSource = a.uvSource;
    const topic = [{ tenant: 1, topic: { kind: 'event' as const, event: 'E1' } }, { tenant: 1, topic: { kind: 'dashboard' as const, org: 'O1' } }];
    await a.prefetch(topic);
    const before = hot.eventData(1, 'E1', NOW) as any;
    expect(before.funnel.unique_visitors).toBe(50);
    const r = new Redis(REDIS_URL);
    conns.push(r);
    const k = keys(prefix, 1);
    await r.del(k.uv('E1'), k.orgUv('O1'));
    await a.prefetch(topic);
    expect((hot.eventData(1, 'E1', NOW) as any).funnel.unique_visitors).toBe(50);
    expect((hot.dashboardData(1, 'O1', NOW) as any).totals.funnel.unique_visitors).toBeGreaterThanOrEqual(50);
  });

  it('two nodes adding overlapping visitors read an exact count up to 256 (event and organizer), then PFCOUNT', async () => {
    const [a, b] = [open(), open()];
    const r = new Redis(REDIS_URL);
    conns.push(r);
    const k = keys(prefix, 1);
    const view = (v: string, e: string) => toFact(row('event_view', NOW - MIN, { visitor_id: v, entities: { event_entity_id: e, organizer_id: 'O7' } }), DAY)!;
    const write = (m: Mirror, facts: Fact[]) => new Promise<void>((done) => m.write(facts, done));
    const topics = [
      { tenant: 1, topic: { kind: 'event' as const, event: 'E7' } },
      { tenant: 1, topic: { kind: 'dashboard' as const, org: 'O7' } },
    ];
    const seen = new Set<string>();
    const seenOrg = new Set<string>();
    for (let i = 0; i + 14 <= 300; i += 7) {
      // Node A writes visitors i..i+9, node B i+4..i+13 (overlapping A's and the next step's), B also on E8.
      const va = Array.from({ length: 10 }, (_, j) => `v${i + j}`);
      const vb = Array.from({ length: 10 }, (_, j) => `v${i + 4 + j}`);
      await Promise.all([write(a, va.map((v) => view(v, 'E7'))), write(b, [...vb.map((v) => view(v, 'E7')), view(`only-b${i}`, 'E8')])]);
      for (const v of [...va, ...vb]) seen.add(v);
      for (const v of [...va, ...vb, `only-b${i}`]) seenOrg.add(v);
      for (const m of [a, b]) {
        await m.prefetch(topics);
        const ev = m.uvSource('event', 1, 'E7');
        const org = m.uvSource('org', 1, 'O7');
        expect(ev).toBe(seen.size <= 256 ? seen.size : await r.pfcount(k.uv('E7')));
        expect(org).toBe(seenOrg.size <= 256 ? seenOrg.size : await r.pfcount(k.orgUv('O7')));
      }
    }
    expect(seen.size).toBeGreaterThan(256);
  });

  it('elects one node to rebuild an empty mirror; the other waits and restores', async () => {
    const s1 = new LiveState(DAY);
    const s2 = new LiveState(DAY);
    const [m1, m2] = [open(s1), open(s2)];
    // m1 asks first and wins the lock ('seed' once it holds it), however long that takes on a loaded machine; m2
    // then asks while m1 is still rebuilding.
    expect(await m1.restore(s1, DAY)).toBe('seed');
    const r2 = m2.restore(s2, DAY);
    const facts = scripted();
    for (const f of facts) s1.applyShared(f);
    m1.write(facts, () => undefined);
    await m1.seeded(DAY);
    expect(await r2).toBe('restored');
    expect(s2.capacityData(1, 'E1', NOW)).toEqual(s1.capacityData(1, 'E1', NOW));
  });

  it('does not mark the day whole when a node lost writes while it was being rebuilt (the flag lost the seed\'s token)', async () => {
    const s1 = new LiveState(DAY);
    const m1 = open(s1);
    expect(await m1.restore(s1, DAY)).toBe('seed');
    const r = new Redis(REDIS_URL);
    conns.push(r);
    const dk = dayKeys(prefix);
    expect(await r.pttl(dk.seeding(DAY))).toBeGreaterThan(0);
    // What redis-recovery.ts does when it re-seeds during the rebuild (and a failed write, a tenant reset).
    await r.set(dk.seeding(DAY), 'incomplete', 'KEEPTTL', 'XX');
    m1.write(scripted(), () => undefined);
    await m1.seeded(DAY);
    expect(await r.get(dk.seeded(DAY))).toBeNull();
    // The next start rebuilds it again.
    const s2 = new LiveState(DAY);
    expect(await open(s2).restore(s2, DAY)).toBe('seed');
  });

  it('starts a new day from zero in Redis', async () => {
    const s = new LiveState(DAY);
    const m = open(s);
    const f1 = toFact(row('order_completed', NOW, { entities: { event_entity_id: 'E1', order_id: 'o' }, payload: { gross_amount: 10, currency: 'EUR', items: [{ qty: 1 }] } }), DAY)!;
    m.write([f1], () => undefined);
    await m.flush();
    const next = NOW + 86_400_000;
    const f2 = toFact(row('event_view', next, { entities: { event_entity_id: 'E1' } }), utcDay(next))!;
    m.write([f2], () => undefined);
    await m.flush();
    const r = new Redis(REDIS_URL);
    conns.push(r);
    expect(await r.hgetall(keys(prefix, 1).live('E1'))).toMatchObject({ day: utcDay(next), views: '1' });
    expect(await r.hget(keys(prefix, 1).live('E1'), 'orders')).toBeNull();
  });
});

describe('dayTtlS', () => {
  it('keeps a day\'s keys until an hour after the day ends, and at least 30 minutes', () => {
    const at = (iso: string) => Date.parse(iso);
    expect(dayTtlS('2026-12-01', at('2026-12-01T00:00:00Z'))).toBe(25 * 3600);
    expect(dayTtlS('2026-12-01', at('2026-12-01T23:30:00Z'))).toBe(90 * 60);
    expect(dayTtlS('2026-12-01', at('2026-12-02T00:50:00Z'))).toBe(1800);
    expect(dayTtlS('2026-11-20', at('2026-12-01T10:00:00Z'))).toBe(1800);
  });
});
