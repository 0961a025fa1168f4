// The catalog domain (README "Catalog"): the tenant's organizers, venues, artists, events, ticket types,
// products and person attributes, synced over PUT /api/v1/catalog/{kind}. app.ts builds it with
// createCatalog, registers its routes on the router and its projector with the writer, and passes `onChange`
// (the live layer's hook; every successful upsert or delete calls it with the changed ids).
import type { Logger } from 'pino';
import type { Router } from '../http/router.js';
import type { WriterHook } from '../ingest/hooks.js';
import type { Db } from '../store/db.js';
import { registerCatalogRoutes, type CatalogChange } from './routes.js';
import { createCatalogStore, personStatsProjector, type CatalogStore } from './store.js';

export { registerCatalogTables } from './gdpr.js';
export { getEventMeta, recomputePersonStats, type EventMeta } from './store.js';
export { KINDS, type Kind } from './schemas.js';
export type { CatalogChange } from './routes.js';

export interface CatalogDeps {
  db: Db;
  log: Logger;
  /** Called after each successful upsert or delete with what changed (default: nothing). */
  onChange?: (change: CatalogChange) => void;
  now?: () => Date;
}

export interface Catalog {
  store: CatalogStore;
  /** Keeps the persons' derived stats current (declare after identity's projectors). */
  projector: WriterHook;
  register(router: Router): void;
}

export function createCatalog(deps: CatalogDeps): Catalog {
  const store = createCatalogStore(deps.db);
  const onChange = (change: CatalogChange) => {
    try {
      deps.onChange?.(change);
    } catch (err) {
      // The change is committed; a failing listener must not turn the sync into an error the tenant retries.
      deps.log.error({ err, tenant_id: change.tenantId, kind: change.kind }, 'catalog onChange listener failed');
    }
  };
  return {
    store,
    projector: personStatsProjector,
    register: (router) => registerCatalogRoutes(router, { store, onChange, now: deps.now ?? (() => new Date()) }),
  };
}
