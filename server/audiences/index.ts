// The audiences domain (README "Audiences"): propensity estimates over a hypothetical or catalog event
// (seed_v1 and the per-tenant fitted model, set-based in SQL), built audiences with versions and member pages,
// coefficient overrides, the audiences.fit job and recommendations. app.ts builds it with createAudiences,
// registers its routes and its job.
import type { Logger } from 'pino';
import type { Router } from '../http/router.js';
import type { Job } from '../jobs/index.js';
import type { Db } from '../store/db.js';
import { fitJob } from './fit-job.js';
import { registerAudienceRoutes } from './routes.js';
import { createAudienceService, type AudienceService } from './service.js';
import { createSnapshotCache, type SnapshotCache, type SnapshotCacheOptions } from './snapshot-cache.js';
import { createAudienceStore, type AudienceStore } from './store.js';
import { cacheMetricLines } from '../store/tenant-cache.js';

export { registerAudienceTables } from './gdpr.js';
export { fitTenant } from './fit-job.js';

export interface AudiencesDeps {
  db: Db;
  log: Logger;
  now?: () => Date;
  /** Estimate snapshots of large tenants; absent = every estimate reads the store. */
  snapshot?: SnapshotCacheOptions;
}

export interface Audiences {
  store: AudienceStore;
  service: AudienceService;
  /** Null when snapshots are off. The app registers its eraser with the GDPR registry. */
  snapshots: SnapshotCache | null;
  register(router: Router): void;
  /** The node's estimate snapshots on /metrics. */
  metricLines(): string[];
  job(): Job;
}

export function createAudiences(deps: AudiencesDeps): Audiences {
  const store = createAudienceStore(deps.db);
  const now = deps.now ?? (() => new Date());
  const snapshots = deps.snapshot && deps.snapshot.maxAgeMs > 0
    ? createSnapshotCache({ source: store, log: deps.log, now: () => now().getTime(), options: deps.snapshot })
    : null;
  const service = createAudienceService(store, now, snapshots);
  return {
    store,
    service,
    snapshots,
    metricLines: () => {
      if (!snapshots) return [];
      const help = 'Tenants whose audience estimates this node answers from a snapshot.';
      return cacheMetricLines({ count: 'tx_audience_snapshots', prefix: 'tx_audience_snapshot', help }, snapshots.stats());
    },
    register: (router) => registerAudienceRoutes(router, { store, service }),
    job: () => fitJob(store, deps.log),
  };
}
