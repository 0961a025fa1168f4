// The funnel engine: one statement over tx_events (sql/queries/funnels.sql) for a checked FunnelSpec, limited to
// the events of a scope when the principal is not tenant-wide. Experiments reuse it (a variant's conversions
// are a funnel from its exposure, broken down by variant).
import type { Scope } from '../authz/principal.js';
import type { Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import { startCutoff, type EngineSpec } from './engine-spec.js';
import { funnelBody, type FunnelRow, type FunnelSpec } from './spec.js';

export { startCutoff, type EngineSpec } from './engine-spec.js';

const Q = queries('funnels.sql', ['funnel', 'funnel_recursive']);
const S = queries('funnel-index.sql', ['scope_events']);

/** The ids of the events a scoped principal may analyse (its organizers', venues', artists' and own events). */
export async function scopeEvents(q: Queryable, tenantId: number, s: Scope): Promise<string[]> {
  return (await q.query<{ id: string }>(S.scope_events, [tenantId, s.organizers, s.venues, s.artists, s.events])).rows.map((r) => r.id);
}

export type FunnelReply = ReturnType<typeof funnelBody>;

/**
 * 'one_pass' (the engine); 'recursive' is the statement it replaced, same parameters and rows, kept so that
 * bench/funnels.ts and the equivalence test measure and compare both on the same data.
 */
export type FunnelEngine = 'one_pass' | 'recursive';

/** The funnel's grouped rows (totals and per breakdown group); `scope` null = the whole tenant. */
export async function funnelRows(q: Queryable, tenantId: number, spec: EngineSpec, scope: Scope | null, engine: FunnelEngine = 'one_pass'): Promise<FunnelRow[]> {
  const cutoff = startCutoff(spec);
  // The recursive statement is the API funnel's baseline only: it has neither option.
  if (engine === 'recursive' && (spec.firstStartOnly || cutoff !== null)) throw new Error('the recursive funnel engine takes neither firstStartOnly nor startToMs');
  const { rows } = await q.query<FunnelRow>(engine === 'one_pass' ? Q.funnel : Q.funnel_recursive, [
    tenantId,
    JSON.stringify(spec.steps),
    [...new Set(spec.steps.map((s) => s.event_name))],
    new Date(spec.fromMs),
    new Date(spec.toMs),
    spec.windowS,
    spec.by,
    spec.breakdown?.root ?? null,
    spec.breakdown?.path ?? null,
    spec.breakdownLimit,
    scope !== null,
    scope ? await scopeEvents(q, tenantId, scope) : [],
    ...(engine === 'one_pass' ? [spec.firstStartOnly === true, cutoff === null ? null : new Date(cutoff)] : []),
  ]);
  return rows.map((r) => ({ ...r, step: Number(r.step), actors: Number(r.actors) }));
}

export async function runFunnel(q: Queryable, tenantId: number, spec: FunnelSpec, scope: Scope | null, engine: FunnelEngine = 'one_pass'): Promise<FunnelReply> {
  return funnelBody(spec, await funnelRows(q, tenantId, spec, scope, engine));
}
