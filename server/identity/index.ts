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
export { protectPii, scrubBody } from './pii.js';

export interface IdentityDeps {
  config: Config;
  db: Db;
  log: Logger;
  /** The writer's barrier for deferred projectors (EventSink.projected); bound once the writer exists. */
  projected?: () => Promise<void>;
}

export interface Identity {
  /** For createGroupWriter: stamp person_id, hash leftover contact data, anonymise erased visitors. */
  enrichers: WriterHook[];
  /** For createGroupWriter: identity stitching on consented orders (in the commit: catalog and live read its person ids). */
  projectors: WriterHook[];
  /** For createGroupWriter: session upserts, out of the commit from a durable cursor (ingest/projector.ts). */
  deferred: WriterHook[];
  sessions: SessionStore;
  registerRoutes(router: Router, deps: { ingest: Ingest }): void;
}

export function createIdentity(deps: IdentityDeps): Identity {
  const { config, db, log } = deps;
  const sessions = createSessionStore(() => deps.projected?.() ?? Promise.resolve());
  return {
    enrichers: [{ name: 'identity.enrich', run: createEnricher() }],
    projectors: [{ name: 'identity.stitch', run: createIdentityProjector(log) }],
    // Reads the rows back after the commit, with the person ids stitching stamped on them.
    deferred: [{ name: 'identity.sessions', run: projectSessions }],
    sessions,
    registerRoutes(router, r) {
      registerIdentityRoutes(router, { config, log, db, ingest: r.ingest, sessions });
    },
  };
}
