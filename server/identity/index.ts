// Identity domain: sessions, persons and identity links, server-side events. One factory; the composition
// root wires its enrichers/projectors into the group writer, wraps the ingest with PII hashing, registers
// its routes; its tables join the GDPR registry through registerIdentityTables. (Stripe: integrations/stripe/; GDPR: gdpr/.)
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Router } from '../http/router.js';
import type { WriterHook } from '../ingest/hooks.js';
import type { Ingest } from '../ingest/index.js';
import type { Db } from '../store/db.js';
import { createEnricher, createIdentityProjector } from './persons.js';
import { registerIdentityRoutes } from './routes.js';
import { createSessionStore, projectSessions, type SessionStore } from './sessions.js';

export { registerIdentityTables } from './person-data.js';
export { protectPii } from './pii.js';

export interface IdentityDeps {
  config: Config;
  db: Db;
  log: Logger;
}

export interface Identity {
  /** For createGroupWriter: stamp person_id, hash leftover contact data, anonymise erased visitors. */
  enrichers: WriterHook[];
  /** For createGroupWriter: identity stitching on consented orders, then session upserts. */
  projectors: WriterHook[];
  sessions: SessionStore;
  registerRoutes(router: Router, deps: { ingest: Ingest }): void;
}

export function createIdentity(deps: IdentityDeps): Identity {
  const { config, db, log } = deps;
  const sessions = createSessionStore();
  return {
    enrichers: [{ name: 'identity.enrich', run: createEnricher() }],
    // Identity first, so the session rows it touches and the rows it stamps are current for the session upsert.
    projectors: [{ name: 'identity.stitch', run: createIdentityProjector(log) }, { name: 'identity.sessions', run: projectSessions }],
    sessions,
    registerRoutes(router, r) {
      registerIdentityRoutes(router, { config, log, db, ingest: r.ingest, sessions });
    },
  };
}
