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
import { createAudienceStore, type AudienceStore } from './store.js';

export { registerAudienceTables } from './gdpr.js';
export { fitTenant } from './fit-job.js';

export interface AudiencesDeps {
  db: Db;
  log: Logger;
  now?: () => Date;
}

export interface Audiences {
  store: AudienceStore;
  service: AudienceService;
  register(router: Router): void;
  job(): Job;
}

export function createAudiences(deps: AudiencesDeps): Audiences {
  const store = createAudienceStore(deps.db);
  const service = createAudienceService(store, deps.now ?? (() => new Date()));
  return {
    store,
    service,
    register: (router) => registerAudienceRoutes(router, { store, service }),
    job: () => fitJob(store, deps.log),
  };
}
