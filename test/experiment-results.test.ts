// Experiment results (server/experiments/results.ts) on the embedded store and on plain PostgreSQL 15, over
// scripted exposures (repeated, to several variants, in the same second, invented variants, bots) and journeys:
// every metric's funnel starts with the exposure step, so its step 0 per variant is exactly the separate exposure
// funnel's count (by visitor, the first exposure in range); the results equal what one exposure funnel plus one
// funnel per metric gave, with one funnel per metric; they go through analytics' funnel entry point, and from the
// funnel index (FUNNEL_INDEX_MIN_QUERY_MS=0) they equal the results with the index off. A scripted experiment
// (xp3) holds the attribution: conversions within the window after the FIRST exposure, exposures up to the end.
import crypto from 'node:crypto';
import { expect, it } from 'vitest';
import { createAnalytics, type Analytics } from '../server/analytics/index.js';
import { funnelRows } from '../server/analytics/funnels.js';
import { countsByVariant, experimentResults, resultsBody, resultsRange, resultsSpec, type ExperimentResults, type FunnelSource } from '../server/experiments/results.js';
import type { Experiment } from '../server/experiments/store.js';
import type { Db } from '../server/store/db.js';
import { exposures, FUNNEL_NAMES, insertJourneys, seedJourneys } from './funnel-journeys.js';
import { silent } from './helpers.js';
import { onBothStores } from './store-suites.js';

const [S0, S1, S2] = FUNNEL_NAMES;
const NOW = new Date('2026-03-10T00:00:00Z');
const step = (event_name: string) => ({ event_name, filters: [] });

const experiment = (extra: Partial<Experiment> = {}): Experiment => ({
  key: 'xp1', name: null, variants: [{ key: 'control', weight: 0.5 }, { key: 'green', weight: 0.5 }], coverage: 1,
  start: '2026-03-02T00:00:00.000Z', end: '2026-03-02T23:00:00.000Z', metric_window_s: 1800,
  success_metrics: [
    { name: 'ticket', steps: [step(S2)] },
    { name: 'card_to_click', steps: [step(S0), step(S1)] },
    // A metric on the exposure event itself: its rows are step 0 and step 1 at once.
    { name: 'exposed_again', steps: [step('experiment_exposure')] },
    { name: 'feed_click', steps: [{ event_name: S1, filters: [{ root: 'payload', path: ['source'], op: 'eq', text: 'feed' }] }] },
  ],
  created_at: '2026-03-01T00:00:00.000Z', updated_at: '2026-03-01T00:00:00.000Z', ...extra,
});

/** Experiments over the scripted exposures: all of xp1; xp1 from mid-range (earlier exposures out of range); xp2 with three variants; no metric. */
const EXPERIMENTS: Experiment[] = [
  experiment(),
  experiment({ start: '2026-03-02T11:00:00.000Z' }),
  experiment({ key: 'xp2', variants: [{ key: 'control', weight: 0.4 }, { key: 'green', weight: 0.3 }, { key: 'blue', weight: 0.3 }], metric_window_s: 600 }),
  experiment({ success_metrics: [] }),
];

/**
 * xp3 (3–6 March, window 1 h), scripted: the window runs from the visitor's first exposure, and exposures count up
 * to the end, conversions to the end plus the window. Visitors of their own (w-*), so the other experiments keep
 * their counts.
 */
const XP3 = experiment({ key: 'xp3', start: '2026-03-03T00:00:00.000Z', end: '2026-03-06T00:00:00.000Z', metric_window_s: 3600, success_metrics: [{ name: 'ticket', steps: [step(S2)] }] });
const XP3_ROWS = (() => {
  const rows: Record<string, unknown>[] = [];
  const row = (visitor: string, event_name: string, at: string, payload: Record<string, unknown>) => rows.push({
    event_id: crypto.randomUUID(), event_name, occurred_at: at, visitor_id: visitor, person_id: null, payload, context: {}, entities: {}, is_bot: false,
  });
  const exposed = (visitor: string, variant: string, at: string) => row(visitor, 'experiment_exposure', at, { experiment_id: 'xp3', variant });
  const converts = (visitor: string, at: string) => row(visitor, S2, at, { ticket_url: 'https://t.example/x' });
  // Exposed on day 1 and again on day 3 (a new session), converting 30 min after the second: not within the
  // hour after the first exposure, so no conversion (a later exposure used to restart the window).
  exposed('w-again', 'control', '2026-03-03T10:00:00Z');
  exposed('w-again', 'control', '2026-03-05T10:00:00Z');
  converts('w-again', '2026-03-05T10:30:00Z');
  // Converting 30 min after the only exposure: counts.
  exposed('w-once', 'control', '2026-03-03T10:00:00Z');
  converts('w-once', '2026-03-03T10:30:00Z');
  // Exposed before the end and again after it, converting after the second: neither restarts the window.
  exposed('w-after-again', 'control', '2026-03-04T10:00:00Z');
  exposed('w-after-again', 'control', '2026-03-06T00:10:00Z');
  converts('w-after-again', '2026-03-06T00:20:00Z');
  exposed('w-green', 'green', '2026-03-05T10:00:00Z');
  converts('w-green', '2026-03-05T10:20:00Z');
  // Exposed 10 min before the end, converting 20 min after it (within the window): counts.
  exposed('w-late', 'green', '2026-03-05T23:50:00Z');
  converts('w-late', '2026-03-06T00:20:00Z');
  // Exposed only after the end (inside the window that follows it): neither an exposure nor a conversion.
  exposed('w-ended', 'green', '2026-03-06T00:30:00Z');
  converts('w-ended', '2026-03-06T00:40:00Z');
  return rows;
})();
const XP3_WANT = { control: { exposures: 3, conversions: 1 }, green: { exposures: 2, conversions: 2 } };
const xp3Counts = (r: ExperimentResults) => Object.fromEntries(r.variants.map((v) => [v.key, { exposures: v.exposures, conversions: v.metrics.ticket.conversions }]));

async function seed(db: Db): Promise<number> {
  const tenant = await seedJourneys(db, 'experiment-results');
  await insertJourneys(db, tenant, exposures(31));
  await insertJourneys(db, tenant, XP3_ROWS);
  return tenant;
}

const storeOnly = (db: Db): Analytics => createAnalytics({ db, log: silent, overrides: async () => ({}) });

/** Analytics' funnel entry point, recording where each funnel was answered. */
function recorded(a: Analytics): { funnel: FunnelSource; sources: string[] } {
  const sources: string[] = [];
  return { sources, funnel: async (tenant, spec, scope) => {
    const out = await a.funnel(tenant, spec, scope);
    sources.push(out.source);
    return out;
  } };
}

/** What results were before: one exposure funnel, then one funnel per metric, all on the store. */
async function separateExposureFunnel(db: Db, tenant: number, e: Experiment): Promise<ExperimentResults> {
  const range = resultsRange(e, NOW);
  const keys = e.variants.map((v) => v.key);
  const exposed = countsByVariant(await funnelRows(db, tenant, resultsSpec(e, range, []), null), keys, 0);
  const conversions = new Map<string, Map<string, number>>();
  for (const m of e.success_metrics) conversions.set(m.name, countsByVariant(await funnelRows(db, tenant, resultsSpec(e, range, m.steps), null), keys, m.steps.length));
  return resultsBody(e, range, exposed, conversions);
}

function suite(store: () => { db: Db; tenant: number }) {
  it('counts as exposures step 0 of each metric funnel, exactly the separate exposure funnel (by visitor, first exposure in range)', async () => {
    const { db, tenant } = store();
    for (const e of EXPERIMENTS) {
      const range = resultsRange(e, NOW);
      const keys = e.variants.map((v) => v.key);
      const exposed = countsByVariant(await funnelRows(db, tenant, resultsSpec(e, range, []), null), keys, 0);
      expect([...exposed.values()].every((n) => n >= 5), `${e.key}: ${[...exposed].join(' ')}`).toBe(true);
      for (const m of e.success_metrics) {
        expect(countsByVariant(await funnelRows(db, tenant, resultsSpec(e, range, m.steps), null), keys, 0), `${e.key} ${e.start} ${m.name}`).toEqual(exposed);
      }
    }
  });

  it('gives the results one exposure funnel plus one per metric gave, with one funnel per metric (one exposure funnel without metrics)', async () => {
    const { db, tenant } = store();
    for (const e of EXPERIMENTS) {
      const r = recorded(storeOnly(db));
      const got = await experimentResults(r.funnel, tenant, e, NOW);
      expect(got, `${e.key} ${e.start}`).toEqual(await separateExposureFunnel(db, tenant, e));
      expect(r.sources).toEqual(e.success_metrics.length === 0 ? ['store'] : e.success_metrics.map(() => 'store'));
    }
    expect((await experimentResults(recorded(storeOnly(db)).funnel, tenant, EXPERIMENTS[0], NOW)).variants[1].metrics.ticket.conversions).toBeGreaterThan(5);
  });

  it('counts conversions within the window after the first exposure, and exposures only up to the end', async () => {
    const { db, tenant } = store();
    const got = await experimentResults(recorded(storeOnly(db)).funnel, tenant, XP3, NOW);
    expect(xp3Counts(got)).toEqual(XP3_WANT);
    expect(got.to).toBe('2026-03-06T01:00:00.000Z');
    // While the window after the end runs, exposures still stop at the end.
    expect(xp3Counts(await experimentResults(recorded(storeOnly(db)).funnel, tenant, XP3, new Date('2026-03-06T00:50:00Z')))).toEqual(XP3_WANT);
    // The funnels API's own funnel is unchanged: every exposure may start the journey, exposures run to `to`.
    const range = resultsRange(XP3, NOW);
    const plain = { ...resultsSpec(XP3, range, XP3.success_metrics[0].steps), firstStartOnly: false, startToMs: undefined };
    const rows = await funnelRows(db, tenant, plain, null);
    expect(Object.fromEntries(['control', 'green'].map((k) => [k, [countsByVariant(rows, ['control', 'green'], 0).get(k), countsByVariant(rows, ['control', 'green'], 1).get(k)]])))
      .toEqual({ control: [3, 3], green: [3, 3] });
  });

  it('reads the funnel index once a slow store funnel gave the tenant one (FUNNEL_INDEX_MIN_QUERY_MS=0), with the results of the index off', async () => {
    const { db, tenant } = store();
    const indexed = createAnalytics({ db, log: silent, overrides: async () => ({}), index: { maxAgeMs: 3_600_000, minQueryMs: 0, maxTenants: 2, maxRows: 1_000_000, pageSize: 500 } });
    // The first results read the store and, like any funnel, make the tenant's index be read in the background.
    const first = recorded(indexed);
    await experimentResults(first.funnel, tenant, EXPERIMENTS[0], NOW);
    expect(first.sources[0]).toBe('store');
    await expect.poll(() => indexed.index!.stats().tenants, { timeout: 60_000 }).toBe(1);
    for (const e of [...EXPERIMENTS, XP3]) {
      const r = recorded(indexed);
      const fromIndex = await experimentResults(r.funnel, tenant, e, NOW);
      expect(r.sources.every((s) => s === 'index'), `${e.key}: ${r.sources.join()}`).toBe(true);
      expect(fromIndex, `${e.key} ${e.start}`).toEqual(await experimentResults(recorded(storeOnly(db)).funnel, tenant, e, NOW));
      if (e === XP3) expect(xp3Counts(fromIndex)).toEqual(XP3_WANT);
    }
    // The index's own funnel without the experiments' options: every exposure starts a journey, as the store's.
    const range = resultsRange(XP3, NOW);
    const plain = { ...resultsSpec(XP3, range, XP3.success_metrics[0].steps), firstStartOnly: false, startToMs: undefined };
    const viaIndex = await indexed.funnel(tenant, plain, null);
    expect(viaIndex.source).toBe('index');
    expect(viaIndex.rows).toEqual(await funnelRows(db, tenant, plain, null));
    expect(countsByVariant(viaIndex.rows, ['control', 'green'], 1)).toEqual(new Map([['control', 3], ['green', 3]]));
  });
}

onBothStores('experiment results', 'xp-results', seed, suite);
