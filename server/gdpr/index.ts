// GDPR domain: export and erasure of one person across every table and store in the registry (registry.ts,
// erasure.ts), raw-event retention (retention.ts), and their routes. The composition root builds the
// registry: each domain registers its tables, the live layer its Redis/in-memory eraser.
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Router } from '../http/router.js';
import type { Db } from '../store/db.js';
import type { Spool } from '../store/spool.js';
import { createGdpr, type Gdpr } from './erasure.js';
import type { GdprRegistry } from './registry.js';
import { createRetention, type Retention } from './retention.js';
import { registerGdprRoutes } from './routes.js';

export { createGdprRegistry, type Eraser, type GdprRegistry, type PersonIds } from './registry.js';
export { registerStoreTables } from './tables.js';

export interface GdprDomainDeps {
  config: Config;
  db: Db;
  spool: Spool;
  log: Logger;
  registry: GdprRegistry;
}

export interface GdprDomain {
  gdpr: Gdpr;
  retention: Retention;
  registerRoutes(router: Router): void;
  /** Applies the retention policy (in the background); the periodic run is `retention.job()` on the job runner. */
  start(): void;
  close(): Promise<void>;
}

export function createGdprDomain(deps: GdprDomainDeps): GdprDomain {
  const { config, db, spool, log, registry } = deps;
  const gdpr = createGdpr({ db, spool, log, registry });
  const retention = createRetention({ db, log, months: config.retentionMonths, intervalS: config.retentionIntervalS });
  return {
    gdpr,
    retention,
    registerRoutes: (router) => registerGdprRoutes(router, { gdpr, retention, retentionMonths: config.retentionMonths }),
    start: () => retention.start(),
    close: () => retention.close(),
  };
}
