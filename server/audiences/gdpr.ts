// The audience tables in the GDPR registry: a person is in audience_members (one row per version they were
// admitted to); erasure removes them from every version, export lists them. Definitions, coefficients and the
// fitted weights describe no person.
import type { GdprRegistry } from '../gdpr/registry.js';
import { queries } from '../store/queries.js';

const Q = queries('audiences.sql', ['erase_person', 'export_person']);

export function registerAudienceTables(registry: GdprRegistry): void {
  registry.table({
    name: 'audience_members',
    tables: ['audience_members'],
    phase: 'rows',
    async erase(q, ids) {
      const n = Number((await q.query<{ n: number }>(Q.erase_person, [ids.tenantId, ids.personId])).rows[0].n);
      return { removed: n, touched: n ? ['audience_members'] : [] };
    },
    export: async (q, ids) => (await q.query(Q.export_person, [ids.tenantId, ids.personId])).rows,
  });
  registry.none(['audiences', 'audience_versions', 'audience_coefficients', 'audience_models', 'audience_fit_attempts'], 'audience definitions, per-version counts, coefficients, fitted weights and the fit job\'s last failed attempt (no person)');
}
