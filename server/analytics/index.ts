// Ad-hoc analytics over stored events (README "Funnels"): POST /api/v1/analytics/funnels. A principal whose role
// is not tenant-wide (no view_all_analytics) gets the funnel of its scope's events only. Large tenants' visitor
// funnels are answered from this node's funnel index (analytics/funnel-index.ts); `"fresh":true` reads the store.
import type { Logger } from 'pino';
import { readsWholeTenant, type Principal, type Scope } from '../authz/principal.js';
import type { Overrides } from '../authz/roles.js';
import { erasedSince } from '../gdpr/erased.js';
import type { Router } from '../http/router.js';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import { cacheMetricLines } from '../store/tenant-cache.js';
import { DIMS, funnelFromColumns, servable, type IndexPage } from './columns.js';
import { createFunnelIndex, type FunnelIndex, type FunnelIndexOptions, type IndexSource } from './funnel-index.js';
import { funnelRows, scopeEvents, type EngineSpec } from './funnels.js';
import { readsRefusal } from './guard.js';
import { createSlots } from './slots.js';
import { funnelBody, parseFunnel, type FunnelRow, type FunnelSpec } from './spec.js';

export { runFunnel, funnelRows } from './funnels.js';
export { parseFunnel, PRESETS, type FunnelSpec, type Step } from './spec.js';

const Q = queries('funnel-index.sql', ['index_page', 'max_id']);
const STORE = queries('store.sql', ['ping']);

export interface AnalyticsDeps {
  db: Db;
  log: Logger;
  overrides(tenant: number): Promise<Overrides>;
  /** Funnel indexes of large tenants; absent = every funnel reads the store. */
  index?: FunnelIndexOptions;
  /** Funnels read from the store at once (default 1 on the embedded store, 2 on PostgreSQL). */
  storeConcurrency?: number;
}

export interface Analytics {
  register(router: Router): void;
  /** Null when indexes are off. The app registers its eraser with the GDPR registry. */
  index: FunnelIndex | null;
  /** A funnel's rows, from the index when the tenant has one that can answer it. */
  funnel(tenantId: number, spec: EngineSpec, scope: Scope | null): Promise<{ rows: FunnelRow[]; source: 'index' | 'store'; asOf: Date | null }>;
  metricLines(): string[];
}

/** The events a principal may analyse: null = the whole tenant (admin, or view_all_analytics: readsWholeTenant). */
export async function analyticsScope(who: Principal, overrides: (tenant: number) => Promise<Overrides>): Promise<Scope | null> {
  if (who.role === 'admin' || readsWholeTenant(who, 'view_event_analytics', await overrides(who.tenant))) return null;
  return who.scope;
}

export function indexSource(db: Db): IndexSource {
  return {
    async page(tenantId, afterId, throughId): Promise<IndexPage> {
      const r = (await db.query<Record<string, unknown[]>>(Q.index_page, [tenantId, afterId, throughId])).rows[0];
      return {
        id: r.id.map(Number), name: r.name as string[], t: r.t.map(Number), visitor: r.visitor as string[],
        dims: DIMS.map((_, d) => r[`d${d}`] as (string | null)[]),
      };
    },
    maxId: async () => Number((await db.query<{ id: number }>(Q.max_id)).rows[0].id),
    erasedSince: (tenantId, at) => erasedSince(db, tenantId, at),
  };
}

export function createAnalytics(deps: AnalyticsDeps): Analytics {
  const log = deps.log;
  const embedded = deps.db.kind === 'embedded';
  const options = deps.index ? { settleMs: embedded ? 0 : undefined, pageSize: embedded ? 20_000 : 200_000, pageTargetMs: embedded ? 100 : 0, pageRest: embedded ? 1 : 0, ...deps.index } : null;
  const index = options && options.maxAgeMs > 0 ? createFunnelIndex({ source: indexSource(deps.db), log, options }) : null;
  // Funnels read from the store take turns (analytics/slots.ts): one at a time on the embedded store, whose one
  // session ingest commits through, so a commit waits for at most the funnel running; two on PostgreSQL, so
  // funnels never hold the pool connections the writer's lanes commit through.
  const storeSlots = createSlots(deps.storeConcurrency ?? (embedded ? 1 : 2));

  const funnel: Analytics['funnel'] = async (tenantId, spec, scope) => {
    // Person funnels never come from the index (stitching rewrites old rows' person): no catch-up read for them.
    const indexed = index !== null && spec.by === 'visitor';
    const held = indexed && !spec.fresh ? await index.acquire(tenantId) : null;
    const why = held ? servable(held.cols, spec, scope !== null) : 'no_index';
    if (held && why === true) {
      const rows = await funnelFromColumns(held.cols, spec, scope ? new Set(await scopeEvents(deps.db, tenantId, scope)) : null);
      return { rows, source: 'index', asOf: held.asOf };
    }
    const { rows, ms } = await storeSlots.run(async () => {
      // The session's queue first: a commit queued while the previous funnel ran, and the one its writer queues
      // as it ends, go before this funnel (else a request arriving during a funnel could wait for two).
      if (embedded) await deps.db.query(STORE.ping);
      const started = performance.now();
      return { rows: await funnelRows(deps.db, tenantId, spec, scope), ms: performance.now() - started };
    });
    if (indexed) index.consider(tenantId, ms);
    log.debug({ tenant_id: tenantId, ms, why }, 'funnel read from the store');
    return { rows, source: 'store', asOf: null };
  };

  return {
    index,
    funnel,
    metricLines: () => {
      const slots = storeSlots.stats();
      const store = [
        '# HELP tx_funnel_store_queries Funnels (and experiment results) this node is reading from the store, by state: running, or waiting for their turn.',
        '# TYPE tx_funnel_store_queries gauge',
        `tx_funnel_store_queries{state="running"} ${slots.running}`,
        `tx_funnel_store_queries{state="waiting"} ${slots.waiting}`,
      ];
      if (!index) return store;
      const st = index.stats();
      const help = 'Tenants whose funnels this node answers from a funnel index.';
      return [...store, ...cacheMetricLines({ count: 'tx_funnel_indexes', prefix: 'tx_funnel_index', help }, st, { rows: st.rows })];
    },
    register(router) {
      router.add({
        method: 'post', path: '/api/v1/analytics/funnels', auth: 'secret', permission: 'view_event_analytics', resource: 'tenant',
        body: { limit: 64 * 1024, parse: parseFunnel },
        handler: async ({ body, principal, who }) => {
          const started = performance.now();
          const refused = readsRefusal([[body, '']], who!, await deps.overrides(who!.tenant));
          if (refused) return refused;
          const scope = await analyticsScope(who!, deps.overrides);
          const out = await funnel(principal.tenant.tenant_id, body, scope);
          return {
            status: 200,
            body: {
              ...funnelBody(body, out.rows), window_s: body.windowS, from: new Date(body.fromMs).toISOString(), to: new Date(body.toMs).toISOString(), by: body.by,
              source: out.source, ...(out.asOf ? { index_read_at: out.asOf.toISOString() } : {}), computed_in_ms: Math.round(performance.now() - started),
            },
          };
        },
      });
    },
  };
}
