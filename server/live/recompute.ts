// Rebuilds today's live state from the store (the record of truth): every non-bot row of the UTC day that
// names an event entity, read in keyset pages so a big day never sits in memory at once.
import type { Queryable } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import { toFact, type Fact } from './facts.js';
import type { Pseudonymizer } from './pseudo.js';

const PAGE = 5000;

const SQL = `
SELECT id::text AS id, event_id::text AS event_id, event_name, occurred_at, tenant_id::text AS tenant_id,
       visitor_id, session_id, entities, payload
FROM tx_events
WHERE occurred_at >= $1 AND occurred_at < $2 AND NOT is_bot AND entities ? 'event_entity_id'
  AND (occurred_at, id) > ($3::timestamptz, $4::bigint)
ORDER BY occurred_at, id
LIMIT ${PAGE}`;

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());

/**
 * Calls `onFacts` with the facts of `day` (YYYY-MM-DD, UTC), page by page, ids pseudonymised like the live
 * feed's. Returns the number of rows read.
 */
export async function recomputeDay(db: Queryable, day: string, pseudo: Pseudonymizer, onFacts: (facts: Fact[]) => void): Promise<number> {
  const from = `${day}T00:00:00.000Z`;
  const to = new Date(Date.parse(from) + 86_400_000).toISOString();
  let after: [string, string] = ['-infinity', '0'];
  let total = 0;
  for (;;) {
    const { rows } = await db.query<Record<string, unknown>>(SQL, [from, to, after[0], after[1]]);
    const facts: Fact[] = [];
    for (const r of rows) {
      const row = {
        event_id: r.event_id,
        event_name: r.event_name,
        occurred_at: iso(r.occurred_at),
        tenant_id: Number(r.tenant_id),
        visitor_id: r.visitor_id,
        session_id: r.session_id,
        entities: r.entities ?? {},
        payload: r.payload ?? {},
        is_bot: false,
      } as EventRow;
      const f = toFact(row, day, pseudo);
      if (f) facts.push(f);
    }
    onFacts(facts);
    total += rows.length;
    if (rows.length < PAGE) return total;
    const last = rows[rows.length - 1];
    after = [iso(last.occurred_at), String(last.id)];
  }
}
