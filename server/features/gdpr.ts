// The feature store in the GDPR registry (gdpr/registry.ts). A person's rows (affinities, ticket preferences,
// scores, decision times, daily aggregate) are exported and erased under `features`. The event-level tables
// hold counts, no person; an erasure recounts what the person's rows contributed to them after its commit
// (the `features` store eraser): the aggregates' buckets of the erased days, the timings and attendance of the
// events their rows named, and the tenant's scores (ranks within the tenant). Those events are read in the `links` phase, before the rows phase deletes the rows.
import type { GdprRegistry, PersonIds, PersonTable } from '../gdpr/registry.js';
import type { Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import type { Aggregates } from './aggregates.js';

const Q = queries('features-gdpr.sql', [
  'person_event_keys', 'daily_is_view', 'export_daily', 'count_daily', 'erase_daily', 'materialization_of', 'export_timings', 'erase_timings',
  'export_artist', 'erase_artist', 'export_genre', 'erase_genre', 'export_ticket_pref', 'erase_ticket_pref', 'export_scores', 'erase_scores',
]);

export const FEATURE_EVENT_TABLES = ['fs_event_funnel_hourly', 'fs_event_daily', 'fs_event_funnel_timings', 'fs_event_attendance'];

export interface FeatureGdprDeps {
  aggregates: Aggregates;
  /** Recounts the timings and attendance of these events (jobs.ts). */
  recountEvents(tenant: number, events: string[]): Promise<void>;
  /** Recomputes the tenant's scores (jobs.ts): RFM quintiles and engagement are ranks among the tenant's persons. */
  recountScores(tenant: number, now: number): Promise<void>;
  now(): number;
}

const count = async (q: Queryable, sql: string, ids: PersonIds) => (await q.query<{ n: number }>(sql, [ids.tenantId, ids.personId])).rows[0].n;

const simple = (name: string, table: string, erase: string, exp: string, phase: PersonTable['phase'] = 'rows', views: string[] = []): PersonTable => ({
  name, tables: [table, ...views], phase, feature: true,
  async erase(q, ids) {
    const n = await count(q, erase, ids);
    return { removed: n, touched: n ? [table] : [] };
  },
  async export(q, ids) {
    return (await q.query(exp, [ids.tenantId, ids.personId])).rows;
  },
});

/** Whether fs_person_daily is a continuous aggregate here (a view) or plain mode's table. */
const isAggregate = async (q: Queryable) => (await q.query<{ view: boolean }>(Q.daily_is_view)).rows[0]?.view === true;

/** The feature tables with their erasers and exporters, and the tables without personal data. */
export function registerFeatureTables(registry: GdprRegistry): void {

  const timings = simple('fs_person_daily_timings', 'fs_person_daily_timings', Q.erase_timings, Q.export_timings, 'links');
  registry.table({
    ...timings,
    async erase(q, ids) {
      // Noted in the ids (saved with the erasure's steps) before the rows go: the store eraser recounts them.
      const events = (await q.query<{ event_entity_id: string }>(Q.person_event_keys, [ids.tenantId, ids.personId, ids.visitorIds])).rows;
      ids.eventEntities = events.map((e) => e.event_entity_id);
      return timings.erase(q, ids);
    },
  });
  // The views of the same names (affinity_score at query time) read these tables: erased with them.
  registry.table(simple('fs_person_affinity_artist', 'fs_person_affinity_artist_raw', Q.erase_artist, Q.export_artist, 'rows', ['fs_person_affinity_artist']));
  registry.table(simple('fs_person_affinity_genre', 'fs_person_affinity_genre_raw', Q.erase_genre, Q.export_genre, 'rows', ['fs_person_affinity_genre']));
  registry.table(simple('fs_person_ticket_pref', 'fs_person_ticket_pref', Q.erase_ticket_pref, Q.export_ticket_pref));
  registry.table(simple('fs_person_scores', 'fs_person_scores', Q.erase_scores, Q.export_scores));
  registry.table({
    name: 'fs_person_daily', tables: ['fs_person_daily'], phase: 'rows', feature: true,
    async erase(q, ids) {
      // Every row the person has, whatever day (a day whose raw rows retention dropped included): the rows as
      // read now, then deleted; on TimescaleDB from the continuous aggregate's materialization hypertable (an
      // aggregate cannot be deleted from; its real-time part goes with the person's tx_events rows, deleted in
      // this transaction). Its dead tuples are vacuumed by the purge.
      const n = await count(q, Q.count_daily, ids);
      await q.query(Q.erase_daily, [ids.tenantId, ids.personId]);
      const mat = (await isAggregate(q)) ? (await q.query<{ name: string }>(Q.materialization_of, ['fs_person_daily'])).rows[0]?.name : 'fs_person_daily';
      return { removed: n, touched: n && mat ? [mat] : [] };
    },
    async export(q, ids) {
      return (await q.query(Q.export_daily, [ids.tenantId, ids.personId])).rows;
    },
  });
  registry.none(FEATURE_EVENT_TABLES, 'feature store counts per event (no person or visitor id); an erasure recounts them without the person (features/gdpr.ts)');
  registry.none(['fs_tenant_price_quartiles', 'fs_job_state', 'fs_catalog_seen', 'fs_catalog_features'],
    'feature store bookkeeping: a tenant\'s ticket price quartiles, the jobs\' watermarks, the catalog fingerprints (events\' artists and genres, ticket types\' category and price) the persons\' rows were computed with');
}

/**
 * After an erasure's commit: the aggregates' erased days, the person's events' timings and attendance, and the
 * tenant's scores recounted (the other persons' RFM and engagement scores are ranks that counted the person).
 */
export function registerFeatureEraser(registry: GdprRegistry, deps: FeatureGdprDeps): void {
  registry.store('features', async (ids) => {
    const events = ids.eventEntities ?? [];
    const buckets = await deps.aggregates.refreshDays(ids.eventDays ?? [], deps.now());
    if (events.length) await deps.recountEvents(ids.tenantId, events);
    await deps.recountScores(ids.tenantId, deps.now());
    return { aggregate_refreshes: buckets, events_recounted: events.length, tenants_rescored: 1 };
  });
}
