// The writer projector `conversions.outbox` (contract: ingest/hooks.ts). In the commit's transaction, with one
// statement for the whole commit (sql/queries/conversions.sql project_outbox): each purchase's attribution,
// and one outbox row per destination whose code lists the event, for the rows that were new. Idempotent by the
// unique keys (a replayed commit inserts nothing twice). Only the four conversion events are passed to SQL,
// and a commit without any costs no query at all.
import type { WriterHook } from '../ingest/hooks.js';
import type { EventRow } from '../store/events.js';
import { queries } from '../store/queries.js';
import { CONVERSION_EVENTS } from './match-keys.js';

const Q = queries('conversions.sql', ['project_outbox']);
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

export const outboxProjector: WriterHook = {
  name: 'conversions.outbox',
  async run(q, rows) {
    const input = outboxInput(rows);
    if (input.length === 0) return;
    await q.query(Q.project_outbox, [JSON.stringify(input)]);
  },
};
