// Segment memberships in the GDPR registry: erasure removes the person from every version of every segment and
// recounts those versions in the same transaction (member_count would otherwise stay stale until the next
// evaluation, for ever with auto_refresh off, while /members already lists one fewer); definitions (names,
// filters) hold no person. With Redis the tenant's cached summaries (counts) are rewritten after the commit.
import type { GdprRegistry } from '../gdpr/registry.js';
import { queries } from '../store/queries.js';
import type { SegmentCache } from './cache.js';

const Q = queries('segments.sql', ['erase_person', 'recount_versions', 'export_person']);

export function registerSegmentTables(registry: GdprRegistry): void {
  registry.table({
    name: 'segment_members',
    tables: ['segment_members'],
    phase: 'rows',
    async erase(q, ids) {
      const left = (await q.query<{ segment_id: string; version: number; n: number }>(Q.erase_person, [ids.tenantId, ids.personId])).rows;
      if (left.length) await q.query(Q.recount_versions, [ids.tenantId, left.map((r) => r.segment_id), left.map((r) => r.version)]);
      const n = left.reduce((s, r) => s + Number(r.n), 0);
      return { removed: n, touched: n ? ['segment_members'] : [] };
    },
    export: async (q, ids) => (await q.query(Q.export_person, [ids.tenantId, ids.personId])).rows,
  });
  registry.none(['segments', 'segment_versions'], 'segment definitions (names, filters) and per-version counts (no person)');
}

/**
 * With Redis: after an erasure's commit the tenant's cached summaries are rewritten (their member counts went
 * down). Without Redis there is nothing to rewrite, and no step is added to the erasure.
 */
export function registerSegmentCacheEraser(registry: GdprRegistry, cache: SegmentCache): void {
  if (cache.kind !== 'redis') return;
  registry.store('segments_cache', async (ids) => {
    await cache.changed(ids.tenantId);
    return { tenants_refreshed: 1 };
  });
}
