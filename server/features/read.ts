// The feature store's reads: one function per answer of the read API, the same on every store (the continuous
// aggregates and the plain tables share names and columns). Shaping is model.ts' (pure).
import type { Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import { MAX_AFFINITIES, shapePersonDaily, shapeSeries, type DailyRow, type FunnelRow, type PersonDayRow, type Range, type SeriesPoint, type TimingRow } from './model.js';

const Q = queries('features-read.sql', [
  'funnel_series', 'funnel_timings', 'event_daily', 'organizer_events', 'person_exists', 'person_daily', 'person_decisions',
  'person_artists', 'person_genres', 'person_ticket_prefs', 'person_scores', 'event_attendance',
]);

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());

export interface FeatureReader {
  /** The funnel series of `events` (one event, or an organizer's) over the range. */
  series(tenant: number, events: string[], range: Range, revenue: boolean): Promise<SeriesPoint[]>;
  organizerEvents(tenant: number, org: string): Promise<string[]>;
  attendance(tenant: number, event: string): Promise<Record<string, unknown> | null>;
  /** Null when the tenant has no such person. `asOf` is the instant the affinity scores are decayed to. */
  person(tenant: number, person: number, range: Range, asOf: number): Promise<Record<string, unknown> | null>;
}

export function createFeatureReader(db: Queryable): FeatureReader {
  const bounds = (r: Range) => [iso(r.from), iso(r.to)];
  const affinities = async (sql: string, tenant: number, person: number, asOf: number) =>
    (await db.query<Record<string, unknown>>(sql, [tenant, person, iso(asOf), MAX_AFFINITIES])).rows.map((r) => ({
      ...r, affinity_score: Number(r.affinity_score), last_interaction_at: isoOrNull(r.last_interaction_at),
    }));
  return {
    async series(tenant, events, range, revenue) {
      const args = [tenant, events, ...bounds(range), range.bucket];
      const rows = (await db.query<FunnelRow>(Q.funnel_series, args)).rows;
      const timings = (await db.query<TimingRow>(Q.funnel_timings, args)).rows;
      const daily = range.bucket === 'day' ? (await db.query<DailyRow>(Q.event_daily, [tenant, events, ...bounds(range)])).rows : null;
      return shapeSeries(range, rows, timings, daily, revenue);
    },
    async organizerEvents(tenant, org) {
      return (await db.query<{ event_entity_id: string }>(Q.organizer_events, [tenant, org])).rows.map((r) => r.event_entity_id);
    },
    async attendance(tenant, event) {
      const r = (await db.query<Record<string, unknown>>(Q.event_attendance, [tenant, event])).rows[0];
      return r ? { ...r, first_entry_at: isoOrNull(r.first_entry_at), last_entry_at: isoOrNull(r.last_entry_at) } : null;
    },
    async person(tenant, person, range, asOf) {
      if ((await db.query(Q.person_exists, [tenant, person])).rows.length === 0) return null;
      const args = [tenant, person, ...bounds(range)];
      const daily = shapePersonDaily((await db.query<PersonDayRow>(Q.person_daily, args)).rows, (await db.query<{ date: string; avg_decision_time_ms: number }>(Q.person_decisions, args)).rows);
      const scores = (await db.query<Record<string, unknown>>(Q.person_scores, [tenant, person])).rows[0];
      return {
        person_id: person,
        as_of: iso(asOf),
        daily,
        affinity: { artists: await affinities(Q.person_artists, tenant, person, asOf), genres: await affinities(Q.person_genres, tenant, person, asOf) },
        ticket_prefs: (await db.query<Record<string, unknown>>(Q.person_ticket_prefs, [tenant, person])).rows,
        scores: scores ? { ...scores, computed_at: isoOrNull(scores.computed_at) } : null,
      };
    },
  };
}
