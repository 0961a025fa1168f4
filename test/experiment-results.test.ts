// Experiment results (server/experiments/results.ts) on the embedded store and on plain PostgreSQL 15, over
// scripted exposures (repeated, to several variants, in the same second, invented variants, bots) and journeys:
// every metric's funnel starts with the exposure step, so its step 0 per variant is exactly the separate exposure
// funnel's count (by visitor, the first exposure in range); the results equal what one exposure funnel plus one
// funnel per metric gave, with one funnel per metric; they go through analytics' funnel entry point, and from the
// funnel index (FUNNEL_INDEX_MIN_QUERY_MS=0) they equal the results with the index off.
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

async function seed(db: Db): Promise<number> {
  const tenant = await seedJourneys(db, 'experiment-results');
  await insertJourneys(db, tenant, exposures(31));
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

  it('reads the funnel index once a slow store funnel gave the tenant one (FUNNEL_INDEX_MIN_QUERY_MS=0), with the results of the index off', async () => {
    const { db, tenant } = store();
    const indexed = createAnalytics({ db, log: silent, overrides: async () => ({}), index: { maxAgeMs: 3_600_000, minQueryMs: 0, maxTenants: 2, maxRows: 1_000_000, pageSize: 500 } });
    // The first results read the store and, like any funnel, make the tenant's index be read in the background.
    const first = recorded(indexed);
    await experimentResults(first.funnel, tenant, EXPERIMENTS[0], NOW);
    expect(first.sources[0]).toBe('store');
    await expect.poll(() => indexed.index!.stats().tenants, { timeout: 60_000 }).toBe(1);
    for (const e of EXPERIMENTS) {
      const r = recorded(indexed);
      const fromIndex = await experimentResults(r.funnel, tenant, e, NOW);
      expect(r.sources.every((s) => s === 'index'), `${e.key}: ${r.sources.join()}`).toBe(true);
      expect(fromIndex, `${e.key} ${e.start}`).toEqual(await experimentResults(recorded(storeOnly(db)).funnel, tenant, e, NOW));
    }
  });
}

onBothStores('experiment results', 'xp-results', seed, suite);
