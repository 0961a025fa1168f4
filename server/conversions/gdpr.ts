// The conversion tables in the GDPR registry (gdpr/registry.ts). A person's outbox rows that were not yet
// acknowledged are deleted (nothing more is sent about them) and acknowledged ones keep only where and when
// (no data, no digests); their purchases' attributions are deleted. Registered after the store's tables, so
// the event ids the events eraser gathered are known. A person's rows are those of their own events (or stamped
// with them; sql/queries/conversions.sql export_outbox), never matched by session id: a session (a box-office
// till, a shared device) can hold other buyers' purchases, whose rows must stay whole and be sent.
import type { GdprRegistry } from '../gdpr/registry.js';
import { queries } from '../store/queries.js';

const Q = queries('conversions.sql', ['erase_outbox', 'erase_attributions', 'export_outbox', 'export_attributions']);

export function registerConversionTables(registry: GdprRegistry): void {
  registry.table({
    name: 'conversion_outbox',
    tables: ['conversion_outbox'],
    phase: 'rows',
    async erase(q, ids) {
      const n = (await q.query<{ n: number }>(Q.erase_outbox, [ids.tenantId, ids.personId, ids.eventIds, ids.visitorIds])).rows[0].n;
      return { removed: n, touched: n ? ['conversion_outbox'] : [] };
    },
    export: async (q, ids) => (await q.query(Q.export_outbox, [ids.tenantId, ids.personId, ids.eventIds, ids.visitorIds])).rows,
  });
  registry.table({
    name: 'conversion_attributions',
    tables: ['conversion_attributions'],
    phase: 'rows',
    async erase(q, ids) {
      const n = (await q.query<{ n: number }>(Q.erase_attributions, [ids.tenantId, ids.personId, ids.eventIds, ids.visitorIds])).rows[0].n;
      return { removed: n, touched: n ? ['conversion_attributions'] : [] };
    },
    export: async (q, ids) => (await q.query(Q.export_attributions, [ids.tenantId, ids.personId, ids.eventIds, ids.visitorIds])).rows,
  });
  registry.none(['conversion_settings'], 'the tenant\'s legal basis for server-side purchases (a setting)');
  registry.none(['conversion_rate_windows'], 'calls per ad-platform destination per window (counts)');
  registry.none(['conversion_holds'], 'held ad-platform destinations: destination, times and the provider\'s error');
}
