// Stripe integration: webhook signature verification (verify.ts), the mapping of payment events onto tx
// events (events.ts), the encrypted per-tenant signing secret and order resolution (store.ts), routes.
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import type { Router } from '../../http/router.js';
import type { TemplatedApp } from '../../http/uws.js';
import type { Cipher } from '../../identity/crypto.js';
import type { Ingest } from '../../ingest/index.js';
import type { Db } from '../../store/db.js';
import { registerStripeRoutes } from './routes.js';
import { createStripeStore, type StripeStore } from './store.js';

export { registerStripeTables } from './store.js';

export interface StripeDeps {
  config: Config;
  db: Db;
  log: Logger;
  /** Encrypts the webhook signing secrets (identity/crypto.ts, ENCRYPTION_KEY). */
  cipher: Cipher;
}

export interface Stripe {
  store: StripeStore;
  registerRoutes(router: Router, app: TemplatedApp, deps: { ingest: Ingest }): void;
}

export function createStripe(deps: StripeDeps): Stripe {
  const { config, db, log, cipher } = deps;
  const store = createStripeStore(db, cipher);
  return {
    store,
    registerRoutes(router, app, r) {
      registerStripeRoutes(router, app, { log, db, trustProxy: config.trustProxy, ingest: r.ingest, stripe: store, cipher });
    },
  };
}
