// A/B experiments (README "Experiments"): definitions per tenant (sql/014_experiments.sql), assignment by
// GrowthBook-compatible hashing shared with the SDK, exposures as experiment_exposure events, results through
// the funnel engine (analytics' funnel entry point: the tenant's funnel index when it holds one). app.ts builds it
// with createExperiments and registers its routes on the router.
import type { Logger } from 'pino';
import type { Overrides } from '../authz/roles.js';
import type { GdprRegistry } from '../gdpr/registry.js';
import type { Router } from '../http/router.js';
import type { Db } from '../store/db.js';
import { createAssignmentCache, type AssignmentCache } from './assign.js';
import type { FunnelSource } from './results.js';
import { registerExperimentRoutes } from './routes.js';
import { createExperimentStore, type ExperimentStore } from './store.js';

export { assignmentsFor } from './assign.js';
export { experimentResults, type FunnelSource } from './results.js';

export interface ExperimentsDeps {
  db: Db;
  log: Logger;
  /** The tenant's role overrides (authz): results whose metrics filter on an amount need view_revenue. */
  overrides: (tenant: number) => Promise<Overrides>;
  /** Analytics' `funnel`: results read the tenant's funnel index when it can answer, else the store. */
  funnel: FunnelSource;
  now?: () => Date;
}

export interface Experiments {
  store: ExperimentStore;
  assignments: AssignmentCache;
  register(router: Router): void;
}

/** Definitions only: keys, variants, weights, dates, metrics. Assignments are computed, exposures are events. */
export function registerExperimentTables(registry: GdprRegistry): void {
  registry.none(['experiments'], 'A/B experiment definitions (keys, variants, weights, dates, metrics): tenant configuration, no person');
}

export function createExperiments(deps: ExperimentsDeps): Experiments {
  const now = deps.now ?? (() => new Date());
  const store = createExperimentStore();
  const assignments = createAssignmentCache({ db: deps.db, store, now });
  return {
    store,
    assignments,
    register: (router) => registerExperimentRoutes(router, { db: deps.db, store, assignments, now, overrides: deps.overrides, funnel: deps.funnel }),
  };
}
