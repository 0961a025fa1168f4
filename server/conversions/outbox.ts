// The writer projector `conversions.outbox` (contract: ingest/hooks.ts). In the commit's transaction, with one
// statement for the whole commit (sql/queries/conversions.sql project_outbox): each purchase's attribution,
// and one outbox row per destination whose code lists the event, for the rows that were new. Idempotent by the
// unique keys (a replayed commit inserts nothing twice). Only purchases and the rows an enabled code of their
// tenant lists are passed to SQL (one small read of the codes first): page traffic of a tenant without
// conversion codes used to go through the statement's per-row look-ups, a quarter of an embedded commit. A
// commit without any conversion event costs no query at all.
import type { WriterHook } from '../ingest/hooks.js';
import type { EventRow } from '../store/events.js';
import { queries } from '../store/queries.js';
import { CONVERSION_EVENTS } from './match-keys.js';

const Q = queries('conversions.sql', ['project_outbox', 'listed_conversion_events']);
const NAMES = new Set<string>(CONVERSION_EVENTS);

/** The fields of a row the statement reads. Pure. */
export function outboxInput(rows: EventRow[]): Record<string, unknown>[] {
  return rows
    .filter((r) => NAMES.has(r.event_name) && !r.is_bot)
    .map((r) => ({
      tenant_id: r.tenant_id, event_id: r.event_id, event_name: r.event_name, occurred_at: r.occurred_at, person_id: r.person_id,
      session_id: r.session_id, visitor_id: r.visitor_id, consent_snapshot: r.consent_snapshot, context: r.context, entities: r.entities, payload: r.payload,
    }));
}

/**
 * The rows the statement needs: every purchase (its attribution is kept whatever the codes), and the others
 * only when a code of their tenant lists their event name (`listed`: "tenant_id event_name"). Pure.
 */
export function rowsForOutbox(input: Record<string, unknown>[], listed: ReadonlySet<string>): Record<string, unknown>[] {
  return input.filter((r) => r.event_name === 'order_completed' || listed.has(`${r.tenant_id} ${r.event_name}`));
}

export const outboxProjector: WriterHook = {
  name: 'conversions.outbox',
  async run(q, rows) {
    const input = outboxInput(rows);
    if (input.length === 0) return;
    let send = input;
    if (input.some((r) => r.event_name !== 'order_completed')) {
      const tenants = [...new Set(input.map((r) => r.tenant_id))];
      const listed = (await q.query<{ tenant_id: string; event_name: string }>(Q.listed_conversion_events, [tenants])).rows;
      send = rowsForOutbox(input, new Set(listed.map((r) => `${r.tenant_id} ${r.event_name}`)));
    }
    if (send.length === 0) return;
    await q.query(Q.project_outbox, [JSON.stringify(send)]);
  },
};
