// Rebuilds today's live state from the store (the record of truth): every non-bot row of the UTC day that
// names an event entity, read in keyset pages so a big day never sits in memory at once. Rows are read in
// occurred_at order, which a sender chooses (and can back-date): so the event's organizer is not taken from
// the rows but from its stored owner (the catalog's, else live_event_owners, decided in commit order by owners.ts).
// A row's day is that of its live time (facts.ts liveTime: occurred_at, never more than 2 s after received_at).
import type { Queryable } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import { queries } from '../store/queries.js';
import { iso } from '../store/rows.js';
import { asClaimSource, toFact, type Fact } from './facts.js';
import type { Pseudonymizer } from './pseudo.js';

const PAGE = 5000;

// The keyset page query: sql/queries/live.sql recompute_page.
const Q = queries('live.sql', ['recompute_page']);

/**
 * Calls `onFacts` with the facts of `day` (YYYY-MM-DD, UTC), page by page, ids pseudonymised like the live
 * feed's, and when each row was received (epoch ms, same order: a start tells rows other nodes may still be
 * sending from older ones, restore.ts). Returns the number of rows read.
 */
export async function recomputeDay(db: Queryable, day: string, pseudo: Pseudonymizer, onFacts: (facts: Fact[], received: number[]) => void): Promise<number> {
  const from = `${day}T00:00:00.000Z`;
  const to = new Date(Date.parse(from) + 86_400_000).toISOString();
  let after: [string, string] = ['-infinity', '0'];
  let total = 0;
  for (;;) {
    const { rows } = await db.query<Record<string, unknown>>(Q.recompute_page, [from, to, after[0], after[1], PAGE]);
    const facts: Fact[] = [];
    const received: number[] = [];
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
      if (f) {
        facts.push(f);
        received.push(Date.parse(row.received_at));
      }
    }
    onFacts(facts, received);
    total += rows.length;
    if (rows.length < PAGE) return total;
    const last = rows[rows.length - 1];
    after = [iso(last.occurred_at), String(last.id)];
  }
}
