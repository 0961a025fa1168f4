// Segment memberships in the GDPR registry: erasure removes the person from every version of every segment;
// definitions (names, filters) and per-version counts hold no person.
import type { GdprRegistry } from '../gdpr/registry.js';
import { queries } from '../store/queries.js';

const Q = queries('segments.sql', ['erase_person', 'export_person']);

export function registerSegmentTables(registry: GdprRegistry): void {
  registry.table({
    name: 'segment_members',
    tables: ['segment_members'],
    phase: 'rows',
    async erase(q, ids) {
      const n = Number((await q.query<{ n: number }>(Q.erase_person, [ids.tenantId, ids.personId])).rows[0].n);
      return { removed: n, touched: n ? ['segment_members'] : [] };
    },
    export: async (q, ids) => (await q.query(Q.export_person, [ids.tenantId, ids.personId])).rows,
  });
  registry.none(['segments', 'segment_versions'], 'segment definitions (names, filters) and per-version counts (no person)');
}
