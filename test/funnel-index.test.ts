// The per-node funnel index (server/analytics/funnel-index.ts, columns.ts) against the store's funnel statement,
// on the embedded store and on plain PostgreSQL 15: the same answer — counts, conversions, medians and p90s,
// breakdown groups — for random journeys with same-time events, microsecond times, restarts, repeated step
// names, held-dimension filters (experiment exposures' too), bots and rows without a visitor; rows stored after the index was read count at
// once; what the index cannot answer (person funnels, other payload fields, numbers) reads the store; an erasure makes the
// next funnel read the store while the index is read again.
import crypto from 'node:crypto';
import { expect, it } from 'vitest';
import { createAnalytics, type Analytics } from '../server/analytics/index.js';
import { funnelRows } from '../server/analytics/funnels.js';
import { funnelBody, parseFunnel, type FunnelSpec } from '../server/analytics/spec.js';
import type { Db } from '../server/store/db.js';
import { exposures, FUNNEL_NAMES, insertJourneys, journeys, ORDER_BODIES, seedJourneys, step } from './funnel-journeys.js';
import { silent } from './helpers.js';
import { onBothStores } from './store-suites.js';

const [S0, S1, S2, PV] = FUNNEL_NAMES;
const XP = 'experiment_exposure';
const XP1 = { field: 'payload.experiment_id', op: 'eq', value: 'xp1' };
const VARIANTS = { field: 'payload.variant', op: 'in', value: ['control', 'green'] };

/** Funnels the index answers: order, windows from 1 s to a day, repeated names, held-dimension filters, breakdowns, experiments. */
const HELD: Record<string, unknown>[] = [
  ...ORDER_BODIES,
  { steps: [step(S0, [{ field: 'context.utm.source', op: 'eq', value: 'google' }]), step(S1, [{ field: 'entities.event_entity_id', op: 'in', value: ['E1', 'E3'] }]), step(S2)], window_s: 3600 },
  { steps: [step(S0, [{ field: 'context.utm.source', op: 'neq', value: 'fb' }]), step(S1, [{ field: 'context.utm.source', op: 'not_in', value: ['newsletter'] }]), step(S2, [{ field: 'context.utm.source', op: 'exists' }])], window_s: 3600 },
  { steps: [step(S0), step(S1), step(S2)], window_s: 1200, breakdown: 'context.utm.source' },
  { steps: [step(S0), step(S1), step(S2)], window_s: 1200, breakdown: 'context.utm.source', breakdown_limit: 1 },
  { steps: [step(PV), step(S0), step(S1)], window_s: 2400, breakdown: 'entities.event_entity_id' },
  { steps: [step(S0, [{ field: 'payload.source', op: 'eq', value: 'feed' }]), step(S1), step(S2)], window_s: 3600, breakdown: 'context.device.device_type' },
  // Experiment results' funnels (server/experiments/results.ts): exposures of one experiment to its defined
  // variants, then the metric's steps, per variant.
  { steps: [step(XP, [XP1, VARIANTS]), step(S2)], window_s: 1800, breakdown: 'payload.variant', breakdown_limit: 2 },
  { steps: [step(XP, [XP1, VARIANTS]), step(S0), step(S1)], window_s: 3600, breakdown: 'payload.variant', breakdown_limit: 2 },
  { steps: [step(XP, [XP1, VARIANTS]), step(XP)], window_s: 3600, breakdown: 'payload.variant', breakdown_limit: 2 },
  { steps: [step(XP, [{ field: 'payload.variant', op: 'exists' }]), step(S2)], window_s: 3600, breakdown: 'payload.experiment_id' },
];

const spec = (b: Record<string, unknown>): FunnelSpec => {
  const p = parseFunnel({ from: '2026-03-02', to: '2026-03-03', ...b });
  if (!p.ok) throw new Error(JSON.stringify(p.error));
  return p.value;
};

/** Extra rows: no visitor (server events), microsecond times, an event outside the catalog. */
function oddRows(): Record<string, unknown>[] {
  return [
    ...Array.from({ length: 20 }, (_, i) => ({ event_id: crypto.randomUUID(), event_name: S0, occurred_at: '2026-03-02T10:00:00Z', visitor_id: null, person_id: null, payload: {}, context: {}, entities: {}, is_bot: false, i })),
    ...Array.from({ length: 30 }, (_, i) => ({
      event_id: crypto.randomUUID(), event_name: [S0, S1, S2][i % 3], occurred_at: `2026-03-02T11:00:0${i % 3}.${String(123457 + i * 1001).padStart(6, '0')}Z`,
      visitor_id: `u${Math.floor(i / 3)}`, person_id: null, payload: {}, context: { utm: { source: 'tiktok', medium: 'cpc' } }, entities: { event_entity_id: 'E3' }, is_bot: false,
    })),
  ];
}

async function seed(db: Db): Promise<number> {
  const tenant = await seedJourneys(db, 'funnel-index');
  await insertJourneys(db, tenant, oddRows());
  await insertJourneys(db, tenant, exposures(31));
  return tenant;
}

const analytics = (db: Db): Analytics =>
  createAnalytics({ db, log: silent, overrides: async () => ({}), index: { maxAgeMs: 3_600_000, minQueryMs: 0, maxTenants: 2, maxRows: 1_000_000, pageSize: 500 } });

/** The answer a user sees, from the store's statement and from the index. */
async function both(a: Analytics, db: Db, tenant: number, s: FunnelSpec, scope: Parameters<Analytics['funnel']>[2] = null) {
  const fromIndex = await a.funnel(tenant, s, scope);
  const fromStore = await funnelRows(db, tenant, s, scope);
  return { index: funnelBody(s, fromIndex.rows), store: funnelBody(s, fromStore), source: fromIndex.source };
}

function suite(store: () => { db: Db; tenant: number }) {
  it('answers every held funnel exactly as the store statement does', async () => {
    const { db, tenant } = store();
    const a = analytics(db);
    await a.index!.load(tenant);
    let reached = 0;
    for (const b of HELD) {
      const s = spec(b);
      const r = await both(a, db, tenant, s);
      expect(r.source, JSON.stringify(b)).toBe('index');
      expect(r.index, JSON.stringify(b)).toEqual(r.store);
      reached += r.index.steps[s.steps.length - 1].count;
    }
    expect(reached).toBeGreaterThan(100);
  });

  it('answers the experiments\' options (the first start only, step 0 cut off early) exactly as the store statement does', async () => {
    const { db, tenant } = store();
    const a = analytics(db);
    await a.index!.load(tenant);
    let changed = 0;
    for (const b of HELD) {
      const plain = spec(b);
      for (const opts of [{ firstStartOnly: true }, { startToMs: Date.parse('2026-03-02T11:00:00Z') }, { firstStartOnly: true, startToMs: Date.parse('2026-03-02T10:40:00Z') }]) {
        const s = { ...plain, ...opts };
        const r = await both(a, db, tenant, s);
        expect(r.source, JSON.stringify([b, opts])).toBe('index');
        expect(r.index, JSON.stringify([b, opts])).toEqual(r.store);
        if (JSON.stringify(r.store) !== JSON.stringify((await both(a, db, tenant, plain)).store)) changed++;
      }
    }
    // The options do change funnels (restarts and late starts in the journeys), and without them nothing changes.
    expect(changed).toBeGreaterThan(HELD.length);
    const s = spec(HELD[0]);
    expect(await funnelRows(db, tenant, { ...s, firstStartOnly: false, startToMs: s.toMs + 1000 }, null)).toEqual(await funnelRows(db, tenant, s, null));
  });

  it('answers a scoped principal with the funnel of its events only, as the store does', async () => {
    const { db, tenant } = store();
    const a = analytics(db);
    await a.index!.load(tenant);
    const scope = { organizers: ['O1'], venues: [], artists: [], events: ['E3'] };
    const r = await both(a, db, tenant, spec(HELD[0]), scope);
    expect(r.source).toBe('index');
    expect(r.index).toEqual(r.store);
    expect(r.index.steps[0].count).toBeLessThan((await both(a, db, tenant, spec(HELD[0]))).index.steps[0].count);
  });

  it('counts rows stored after the index was read in the next funnel', async () => {
    const { db, tenant } = store();
    const a = analytics(db);
    await a.index!.load(tenant);
    const s = spec(HELD[8]);
    const before = await both(a, db, tenant, s);
    await insertJourneys(db, tenant, journeys(18, 120));
    const after = await both(a, db, tenant, s);
    expect(after.source).toBe('index');
    expect(after.index).toEqual(after.store);
    expect(after.index.steps[0].count).toBeGreaterThan(before.index.steps[0].count);
    // Read twice, kept once: the rows of the last settle period are read again and not counted twice.
    expect((await both(a, db, tenant, s)).index).toEqual(after.store);
  });

  it('reads the store for what the index does not hold: person funnels, other fields, numeric filters, fresh', async () => {
    const { db, tenant } = store();
    const a = analytics(db);
    await a.index!.load(tenant);
    expect((await a.funnel(tenant, spec({ ...HELD[0], by: 'person' }), null)).source).toBe('store');
    expect((await a.funnel(tenant, spec({ steps: [step(S0, [{ field: 'payload.position', op: 'eq', value: 'x' }]), step(S1)], window_s: 60 }), null)).source).toBe('store');
    expect((await a.funnel(tenant, spec({ steps: [step(S0, [{ field: 'payload.position', op: 'gte', value: 5 }]), step(S1)], window_s: 60 }), null)).source).toBe('store');
    expect((await a.funnel(tenant, spec({ steps: [step(S0, [{ field: 'context.utm.source', op: 'contains', value: 'oo' }]), step(S1)], window_s: 60 }), null)).source).toBe('store');
    expect((await a.funnel(tenant, spec({ ...HELD[0], breakdown: 'payload.position' }), null)).source).toBe('store');
    expect((await a.funnel(tenant, spec({ ...HELD[0], fresh: true }), null)).source).toBe('store');
    expect((await a.funnel(tenant, spec(HELD[0]), null)).source).toBe('index');
  });

  it('after an erasure on any node, reads the store until the index is read again', async () => {
    const { db, tenant } = store();
    const a = analytics(db);
    await a.index!.load(tenant);
    await db.query("INSERT INTO gdpr_erasures (tenant_id, person_sha256, external_sha256, removed) VALUES ($1, repeat('a', 64), repeat('b', 64), '{}')", [tenant]);
    await db.query("DELETE FROM tx_events WHERE tenant_id = $1 AND visitor_id IN ('v1', 'v2', 'v3')", [tenant]);
    const s = spec(HELD[2]);
    const r = await both(a, db, tenant, s);
    expect(r.source).toBe('store');
    await a.index!.load(tenant);
    const again = await both(a, db, tenant, s);
    expect(again.source).toBe('index');
    expect(again.index).toEqual(again.store);
  });

  it('keeps the same breakdown values as the store when values tie on entrants (code point order, not collation or UTF-16)', async () => {
    const { db, tenant } = store();
    // One entrant each, on a day of their own: which values make the top depends on the tie-break alone. Case,
    // a fullwidth letter (U+FF21) and an emoji (a surrogate pair in UTF-16) order differently in UTF-16, in a
    // language collation and in code points.
    const values = ['b', 'B', 'a', '\uFF21', '\u{1F600}', 'Z'];
    await insertJourneys(db, tenant, values.map((v, i) => ({
      event_id: crypto.randomUUID(), event_name: S0, occurred_at: `2026-03-05T10:00:0${i}Z`, visitor_id: `tie${i}`, person_id: null,
      payload: {}, context: { utm: { source: v } }, entities: {}, is_bot: false,
    })));
    const a = analytics(db);
    await a.index!.load(tenant);
    for (let limit = 1; limit < values.length; limit++) {
      const p = parseFunnel({ from: '2026-03-05', to: '2026-03-06', steps: [step(S0), step(S1)], window_s: 60, breakdown: 'context.utm.source', breakdown_limit: limit });
      if (!p.ok) throw new Error(JSON.stringify(p.error));
      const r = await both(a, db, tenant, p.value);
      expect(r.source).toBe('index');
      expect(r.index, `limit ${limit}`).toEqual(r.store);
    }
    const p = parseFunnel({ from: '2026-03-05', to: '2026-03-06', steps: [step(S0), step(S1)], window_s: 60, breakdown: 'context.utm.source', breakdown_limit: 3 });
    if (!p.ok) throw new Error(JSON.stringify(p.error));
    const kept = (await funnelRows(db, tenant, p.value, null)).filter((row) => row.kind === 'value').map((row) => row.value);
    expect(new Set(kept)).toEqual(new Set(['B', 'Z', 'a']));
  });

  it('gives a tenant an index after a slow store funnel, not before', async () => {
    const { db, tenant } = store();
    const a = createAnalytics({ db, log: silent, overrides: async () => ({}), index: { maxAgeMs: 3_600_000, minQueryMs: 3_600_000, maxTenants: 2, maxRows: 1_000_000 } });
    expect((await a.funnel(tenant, spec(HELD[0]), null)).source).toBe('store');
    expect(a.index!.stats().tenants).toBe(0);
    const fast = analytics(db);
    expect((await fast.funnel(tenant, spec(HELD[0]), null)).source).toBe('store');
    await expect.poll(() => fast.index!.stats().tenants).toBe(1);
    expect((await fast.funnel(tenant, spec(HELD[0]), null)).source).toBe('index');
  });
}

onBothStores('funnel index', 'funnel-index', seed, suite);
