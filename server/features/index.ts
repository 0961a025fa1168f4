// The feature store (issue 13, README "Feature store"): aggregates over tx_events (continuous aggregates on
// TimescaleDB, job-refreshed tables of the same names on plain PostgreSQL), the per-person and per-event
// tables its jobs fill, the read API and the GDPR entries. Built by app.ts:
//   const features = createFeatures({ db, log, backfillDays });
//   for (const job of features.jobs()) jobs.register(job);
//   features.registerRoutes(router, { authz, keyRevoked });
//   features.registerEraser(registry);
import type { Logger } from 'pino';
import type { GdprRegistry } from '../gdpr/registry.js';
import type { Job } from '../jobs/index.js';
import type { Router } from '../http/router.js';
import type { Db } from '../store/db.js';
import { createAggregates, type Aggregates } from './aggregates.js';
import { registerFeatureEraser } from './gdpr.js';
import { createFeatureJobs, type FeatureJobs } from './jobs.js';
import { createFeatureReader, type FeatureReader } from './read.js';
import { registerFeatureRoutes, type FeatureRouteDeps } from './routes.js';

export { registerFeatureTables } from './gdpr.js';

export interface FeaturesDeps {
  db: Db;
  log: Logger;
  backfillDays: number;
  now?: () => number;
}

export interface Features {
  aggregates: Aggregates;
  jobs: FeatureJobs;
  reader: FeatureReader;
  jobList(): Job[];
  registerRoutes(router: Router, access: Pick<FeatureRouteDeps, 'authz' | 'keyRevoked'>): void;
  /** The `features` store eraser (GDPR): recounts what an erased person contributed. */
  registerEraser(registry: GdprRegistry): void;
}

export function createFeatures(deps: FeaturesDeps): Features {
  const now = deps.now ?? Date.now;
  const aggregates = createAggregates({ db: deps.db, log: deps.log });
  const jobs = createFeatureJobs({ db: deps.db, log: deps.log, aggregates, backfillDays: deps.backfillDays });
  const reader = createFeatureReader(deps.db);
  return {
    aggregates,
    jobs,
    reader,
    jobList: () => jobs.jobs(),
    registerRoutes: (router, access) => registerFeatureRoutes(router, { reader, now, ...access }),
    registerEraser: (registry) => registerFeatureEraser(registry, { aggregates, recountEvents: jobs.recountEvents, now }),
  };
}
