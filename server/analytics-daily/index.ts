// Daily analytics per user, artist and venue (issue 17 item 2, seed 003 §2.2, README "Daily analytics"), read
// from the feature store's fs_event_daily and set-based queries over tx_events; the event daily is the feature
// store's own /api/v1/analytics/events/{id}?bucket=day. No tables of its own: nothing to export or erase here
// (an erased person's rows leave tx_events and the feature store's aggregates, which these read). Built by app.ts:
//   createAnalyticsDaily({ db }).registerRoutes(router);
import type { Router } from '../http/router.js';
import type { Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import type { Range } from '../features/model.js';
import { ENTITY_SQL, shapeEntityDay, shapeUserDay, type EntityKind } from './model.js';
import { registerAnalyticsDailyRoutes, type AnalyticsDailyRouteDeps } from './routes.js';

const Q = queries('analytics-daily.sql', ['person_exists', 'user_daily', 'entity_daily']);

export interface AnalyticsDailyReader {
  /** seed 003 analytics_user_daily rows of a person, one per day; null when the tenant has no such person. */
  user(tenant: number, person: number, range: Range): Promise<Record<string, unknown>[] | null>;
  /** analytics_artist_daily / analytics_venue_daily rows, one per day. */
  entity(tenant: number, kind: EntityKind, id: string, range: Range): Promise<Record<string, unknown>[]>;
}

export interface AnalyticsDaily {
  reader: AnalyticsDailyReader;
  registerRoutes(router: Router): void;
}

export function createAnalyticsDailyReader(db: Queryable): AnalyticsDailyReader {
  const bounds = (r: Range) => [new Date(r.from).toISOString(), new Date(r.to).toISOString()];
  return {
    async user(tenant, person, range) {
      if ((await db.query(Q.person_exists, [tenant, person])).rows.length === 0) return null;
      return (await db.query<Record<string, unknown>>(Q.user_daily, [tenant, person, ...bounds(range)])).rows.map(shapeUserDay);
    },
    async entity(tenant, kind, id, range) {
      const s = ENTITY_SQL[kind];
      const rows = (await db.query<Record<string, unknown>>(Q.entity_daily, [tenant, id, ...bounds(range), s.key, s.click, s.follow, s.target])).rows;
      return rows.map((r) => shapeEntityDay(kind, r));
    },
  };
}

export function createAnalyticsDaily(deps: { db: Queryable; now?: () => number }): AnalyticsDaily {
  const reader = createAnalyticsDailyReader(deps.db);
  const now = deps.now ?? Date.now;
  return {
    reader,
    registerRoutes: (router) => registerAnalyticsDailyRoutes(router, { reader, now }),
  };
}
