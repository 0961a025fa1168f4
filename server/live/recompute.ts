// Rebuilds today's live state from the store (the record of truth): every non-bot row of the UTC day that
// names an event entity, read in keyset pages so a big day never sits in memory at once. Rows are read in
// occurred_at order, which a sender chooses (and can back-date): so the event's organizer is not taken from
// the rows but from its stored owner (the catalog's, else live_event_owners, decided in commit order by owners.ts).
// A row's day is that of its live time (facts.ts liveTime: occurred_at, never more than 2 s after received_at).
import type { Queryable } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import { iso } from '../store/rows.js';
import { asClaimSource, toFact, type Fact } from './facts.js';
import type { Pseudonymizer } from './pseudo.js';

const PAGE = 5000;

const SQL = `
SELECT e.id::text AS id, e.event_id::text AS event_id, e.event_name, e.occurred_at, e.received_at, e.tenant_id::text AS tenant_id,
       e.source_system, e.visitor_id, e.session_id, e.entities, e.payload,
       coalesce(c.organizer_id, o.organizer_id) AS owner, CASE WHEN c.organizer_id IS NOT NULL THEN 'catalog' ELSE o.source END AS owner_source,
       CASE WHEN e.event_name = 'order_completed' AND jsonb_typeof(e.payload->'items') = 'array' THEN (
         SELECT string_agg(DISTINCT t.category COLLATE "C", ', ' ORDER BY t.category COLLATE "C")
         FROM jsonb_array_elements(e.payload->'items') it
         JOIN catalog_ticket_types t ON t.tenant_id = e.tenant_id AND jsonb_typeof(it) = 'object' AND t.id = it->>'ticket_type_id'
         WHERE t.category IS NOT NULL) END AS category
FROM tx_events e
LEFT JOIN live_event_owners o ON o.tenant_id = e.tenant_id AND o.event_entity_id = e.entities->>'event_entity_id'
LEFT JOIN catalog_events c ON c.tenant_id = e.tenant_id AND c.id = e.entities->>'event_entity_id'
WHERE e.occurred_at >= $1 AND least(e.occurred_at, e.received_at + interval '2 seconds') < $2 AND NOT e.is_bot AND e.entities ? 'event_entity_id'
  AND (e.occurred_at, e.id) > ($3::timestamptz, $4::bigint)
ORDER BY e.occurred_at, e.id
LIMIT ${PAGE}`;

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
        received_at: iso(r.received_at),
        tenant_id: Number(r.tenant_id),
        source_system: String(r.source_system),
        visitor_id: r.visitor_id,
        session_id: r.session_id,
        entities: r.entities ?? {},
        payload: r.payload ?? {},
        is_bot: false,
      } as EventRow;
      const owner = typeof r.owner === 'string' ? { org: r.owner, source: asClaimSource(r.owner_source) } : null;
      const f = toFact(row, day, pseudo, owner);
      // The same categories the writer's projector reads (catalog.ts orderCategory: distinct, sorted).
      if (f && typeof r.category === 'string') f.cat = r.category;
      if (f) facts.push(f);
    }
    onFacts(facts);
    total += rows.length;
    if (rows.length < PAGE) return total;
    const last = rows[rows.length - 1];
    after = [iso(last.occurred_at), String(last.id)];
  }
}
