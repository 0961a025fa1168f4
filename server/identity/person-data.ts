// The identity domain's tables in the GDPR registry (gdpr/registry.ts): identity links (erased first, they
// serialise the erasure with in-flight commits), sessions, and the person row itself (erased last).
import type { GdprRegistry, PersonTable } from '../gdpr/registry.js';
import { queries } from '../store/queries.js';
import { iso } from '../store/rows.js';
import type { EventRow } from '../store/events.js';
import { projectSessions, toSessionView } from './sessions.js';

const S = queries('sessions.sql', ['person_sessions', 'delete_person_sessions', 'lock_projection', 'sessions_projected_upto', 'remaining_session_events']);
const P = queries('persons.sql', ['delete_person_links', 'delete_person']);

/** Exported from the gathered record (gdpr/erasure.ts); always vacuumed. */
export const linksTable: PersonTable = {
  name: 'identity_links',
  tables: ['tx_identity_links'],
  phase: 'links',
  async erase(q, ids) {
    const n = (await q.query<{ n: number }>(P.delete_person_links, [ids.tenantId, ids.personId])).rows[0].n;
    return { removed: n, touched: ['tx_identity_links'] };
  },
};

export const sessionsTable: PersonTable = {
  name: 'sessions',
  tables: ['tx_sessions'],
  phase: 'rows',
  async erase(q, ids) {
    // Serialised with the deferred sessions projector: a pass that read the person's events before this
    // erasure commits finishes first (and its sessions are deleted here); a later pass no longer sees them.
    await q.query(S.lock_projection);
    // Runs after the events eraser: a session row that also folded in someone else's events (another visitor
    // with the same session id, or the visitor's events attributed to another person) is rebuilt from the
    // events still stored; only the sessions none of whose events are left go.
    const deleted = (await q.query<{ session_id: string; first_seen_at: Date | string; last_seen_at: Date | string }>(
      S.delete_person_sessions, [ids.tenantId, ids.personId, ids.visitorIds, ids.sessionIds],
    )).rows;
    if (deleted.length === 0) return { removed: 0, touched: [] };
    const upto = (await q.query<{ position: string }>(S.sessions_projected_upto)).rows[0]?.position ?? '0';
    const rows = (await q.query<EventRow & { tenant_id: string; person_id: string | null }>(S.remaining_session_events, [
      ids.tenantId, deleted.map((d) => d.session_id), deleted.map((d) => iso(d.first_seen_at)), deleted.map((d) => iso(d.last_seen_at)), upto,
    ])).rows.map((r) => ({ ...r, tenant_id: Number(r.tenant_id), person_id: r.person_id === null ? null : Number(r.person_id) }));
    await projectSessions(q, rows);
    const kept = new Set(rows.map((r) => r.session_id)).size;
    return { removed: deleted.length - kept, touched: ['tx_sessions'] };
  },
  async export(q, ids) {
    const { rows } = await q.query<Record<string, unknown>>(S.person_sessions, [ids.tenantId, ids.personId, ids.visitorIds]);
    return rows.map(toSessionView);
  },
};

/** Exported from the gathered record; always vacuumed. */
export const personsTable: PersonTable = {
  name: 'persons',
  tables: ['persons'],
  phase: 'person',
  async erase(q, ids) {
    const n = (await q.query<{ n: number }>(P.delete_person, [ids.tenantId, ids.personId])).rows[0].n;
    return { removed: n, touched: ['persons'] };
  },
};

/** Sessions, identity links and persons, erased with the person (links first, the person row last). */
export function registerIdentityTables(registry: GdprRegistry): void {
  registry.table(sessionsTable);
  registry.table(linksTable);
  registry.table(personsTable);
  registry.none(['tx_projector_cursors'], 'positions of the deferred projectors (ingest/projector.ts): a name and a row id');
}
