// The feature store (issue 13, README "Feature store"): aggregates over tx_events (continuous aggregates on
// TimescaleDB, job-refreshed tables of the same names on plain PostgreSQL), the per-person and per-event
// tables its jobs fill, the read API and the GDPR entries. Built by app.ts:
//   const features = createFeatures({ db, log, backfillDays, settings, rawRetentionMonths, encryptionKey });
//   for (const job of features.jobs()) jobs.register(job);
//   features.registerRoutes(router, { authz });
//   features.registerEraser(registry);
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { FeatureStoreConfig } from '../config/index.js';
import type { GdprRegistry } from '../gdpr/registry.js';
import type { Job } from '../jobs/index.js';
import type { Router } from '../http/router.js';
import type { Db } from '../store/db.js';
import { createAggregates, type Aggregates } from './aggregates.js';
import { registerFeatureEraser } from './gdpr.js';
import { createFeatureJobs, type FeatureJobs } from './jobs.js';
import { createFeatureReader, type FeatureReader } from './read.js';
import { createFeatureRetention } from './retention.js';
import { registerFeatureRoutes, type FeatureRouteDeps } from './routes.js';

export { registerFeatureTables } from './gdpr.js';

export interface FeaturesDeps {
  db: Db;
  log: Logger;
  backfillDays: number;
  /** FUTURE_HOURS: how far ahead a stored row may be dated (plain mode refreshes up to that day). */
  futureHours: number;
  settings: FeatureStoreConfig;
  /** RETENTION_MONTHS of the raw events (the archive runs a month ahead of it). */
  rawRetentionMonths: number;
  /** ENCRYPTION_KEY (pseudonyms are keyed with a key derived from it); null: no pseudonymisation. */
  encryptionKey: Buffer | null;
  now?: () => number;
}

export interface Features {
  aggregates: Aggregates;
  jobs: FeatureJobs;
  reader: FeatureReader;
  jobList(): Job[];
  /** What the retention settings do on this store (/health `feature_store`). */
  capabilities(): Record<string, string>;
  registerRoutes(router: Router, access: Pick<FeatureRouteDeps, 'authz'>): void;
  /** The `features` store eraser (GDPR): recounts what an erased person contributed. */
  registerEraser(registry: GdprRegistry): void;
}

export function createFeatures(deps: FeaturesDeps): Features {
  const now = deps.now ?? Date.now;
  const aggregates = createAggregates({ db: deps.db, log: deps.log, futureHours: deps.futureHours });
  const jobs = createFeatureJobs({ db: deps.db, log: deps.log, aggregates, backfillDays: deps.backfillDays });
  const reader = createFeatureReader(deps.db);
  const secret = deps.encryptionKey && crypto.createHmac('sha256', deps.encryptionKey).update('tixello:features:pseudonymize').digest();
  const retention = createFeatureRetention({
    db: deps.db, log: deps.log, settings: deps.settings, rawRetentionMonths: deps.rawRetentionMonths, backfillDays: deps.backfillDays, secret,
    refreshDays: aggregates.refreshDays, recountPersons: jobs.recountPersons,
  });
  return {
    aggregates,
    jobs,
    reader,
    jobList: () => [...jobs.jobs(), ...retention.jobs()],
    capabilities: () => retention.capabilities(),
    registerRoutes: (router, access) => registerFeatureRoutes(router, { reader, now, ...access }),
    registerEraser: (registry) => registerFeatureEraser(registry, { aggregates, recountEvents: jobs.recountEvents, recountScores: jobs.recountScores, now }),
  };
}
