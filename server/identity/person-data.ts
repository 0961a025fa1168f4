// The identity domain's tables in the GDPR registry (gdpr/registry.ts): identity links (erased first, they
// serialise the erasure with in-flight commits), sessions, and the person row itself (erased last).
import type { GdprRegistry, PersonTable } from '../gdpr/registry.js';
import { queries } from '../store/queries.js';
import { toSessionView } from './sessions.js';

const S = queries('sessions.sql', ['person_sessions', 'delete_person_sessions', 'lock_projection']);
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
    const n = (await q.query<{ n: number }>(S.delete_person_sessions, [ids.tenantId, ids.personId, ids.visitorIds, ids.sessionIds])).rows[0].n;
    return { removed: n, touched: n ? ['tx_sessions'] : [] };
  },
  async export(q, ids) {
    const { rows } = await q.query<Record<string, unknown>>(S.person_sessions, [ids.tenantId, ids.personId, ids.visitorIds, ids.sessionIds]);
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
