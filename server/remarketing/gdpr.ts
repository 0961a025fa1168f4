// Remarketing tables in the GDPR registry. Erasure removes the person from every audience at once; the digests
// a platform already holds stay in remarketing_synced without the person id until the next sync tells the
// platform to remove them (then the rows go): the platform is the tenant's processor and must be told.
import type { GdprRegistry } from '../gdpr/registry.js';
import { queries } from '../store/queries.js';

const Q = queries('remarketing.sql', ['erase_members', 'erase_synced', 'export_person', 'export_synced']);

export function registerRemarketingTables(registry: GdprRegistry): void {
  registry.table({
    name: 'remarketing_members',
    tables: ['remarketing_members'],
    phase: 'rows',
    async erase(q, ids) {
      const m = Number((await q.query<{ n: number }>(Q.erase_members, [ids.tenantId, ids.personId])).rows[0].n);
      return { removed: m, touched: m ? ['remarketing_members'] : [] };
    },
    export: async (q, ids) => (await q.query(Q.export_person, [ids.tenantId, ids.personId])).rows,
  });
  // The digests stay (without the person) until the next sync removes them from the platform and deletes the
  // rows; that sync rewrites the table on the embedded store (sync.ts), so they leave the disk then.
  registry.table({
    name: 'remarketing_synced',
    tables: ['remarketing_synced'],
    phase: 'rows',
    async erase(q, ids) {
      return { removed: Number((await q.query<{ n: number }>(Q.erase_synced, [ids.tenantId, ids.personId])).rows[0].n), touched: [] };
    },
    export: async (q, ids) => (await q.query(Q.export_synced, [ids.tenantId, ids.personId])).rows,
  });
  registry.none(['remarketing_audiences'], 'remarketing audience definitions, statuses and counts (no person)');
}
