// The store's own tables in the GDPR registry: raw events and rejected events (erased by person), and the
// tables that hold no personal data. Domains register their own tables next to their code
// (identity/person-data.ts, integrations/stripe/store.ts); app.ts builds the registry.
import type { Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import { isoOrNull, type Obj } from '../store/rows.js';
import { rawSearch } from './match.js';
import type { GdprRegistry, PersonIds, PersonTable } from './registry.js';

const Q = queries('gdpr.sql', ['delete_person_events', 'rejected_of_person', 'delete_rejected']);

/** Rejected events that carry one of the person's ids or digests, wherever they sit in the raw body. */
const rejectedOf = async (q: Queryable, ids: PersonIds) => {
  const s = rawSearch(ids);
  return (await q.query<Obj>(Q.rejected_of_person, [ids.tenantId, ids.eventIds, s.needles, s.patterns])).rows;
};

/** tx_events: exported from the gathered record; erasing widens the ids by what the delete found. */
export const eventsTable: PersonTable = {
  name: 'events',
  tables: ['tx_events'],
  phase: 'rows',
  async erase(q, ids) {
    const deleted = (await q.query<{ event_id: string; session_id: string | null; order_id: string | null; chunk: string; day: string }>(
      Q.delete_person_events, [ids.tenantId, ids.personId, ids.visitorIds, ids.externalId],
    )).rows;
    ids.eventIds = [...new Set([...ids.eventIds, ...deleted.map((d) => d.event_id)])];
    ids.eventDays = [...new Set(deleted.map((d) => d.day))];
    ids.sessionIds = [...new Set([...ids.sessionIds, ...deleted.map((d) => d.session_id).filter((s): s is string => !!s)])];
    ids.orderIds = [...new Set([...ids.orderIds, ...deleted.map((d) => d.order_id).filter((s): s is string => !!s)])];
    // The events' chunks, not the whole hypertable, hold the dead rows.
    return { removed: deleted.length, touched: [...new Set(deleted.map((d) => d.chunk))] };
  },
};

export const rejectedTable: PersonTable = {
  name: 'rejected_events',
  tables: ['tx_rejected_events'],
  phase: 'rows',
  async erase(q, ids) {
    const rows = await rejectedOf(q, ids);
    const n = rows.length ? (await q.query<{ n: number }>(Q.delete_rejected, [ids.tenantId, rows.map((r) => r.id)])).rows[0].n : 0;
    return { removed: n, touched: n ? ['tx_rejected_events'] : [] };
  },
  async export(q, ids) {
    return (await rejectedOf(q, ids)).map((r) => ({ ...r, received_at: isoOrNull(r.received_at) }));
  },
};

export function registerStoreTables(registry: GdprRegistry): void {
  registry.table(eventsTable);
  registry.table(rejectedTable);
  registry.none(['tenants', 'tenant_sites', 'tenant_keys'], 'tenants, their sites and hashed API keys');
  registry.none(['tx_event_ids'], 'the idempotency ledger: random event ids and receive times, no person fields');
  // Kept through an erasure on purpose, as tx_event_ids: a late re-send of an erased order stays a duplicate.
  registry.none(['tx_order_ids'], 'the order ledger: tenant-keyed order id digests (as gdpr_erased_orders), event names and receive times, no event id or person field');
  registry.none(['schema_migrations'], 'applied migration versions');
  // Tombstones are what erasure leaves behind on purpose: tenant-keyed digests that cannot be reversed,
  // kept so a late event or webhook cannot re-link the erased person (README, GDPR).
  registry.none(['gdpr_erasures', 'gdpr_erased_visitors', 'gdpr_erased_orders'], 'erasure tombstones: keyed digests and counts only');
  // The post-commit steps of an erasure (erasure.ts): the erased person's ids are held here only until the spool
  // and external erasers ran (then NULL), and the disk purge rewrites this table too.
  registry.none(['gdpr_erasure_steps'], 'the erasure\'s own to-do list: ids only until its external steps ran, then vacuumed');
}
