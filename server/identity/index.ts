// Identity domain: sessions, persons and identity links, server-side events, Stripe webhooks, GDPR and
// retention. One factory; the composition root wires its enrichers/projectors into the group writer, wraps
// the ingest with PII hashing and registers its routes.
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { KeyResolver } from '../http/auth.js';
import type { TemplatedApp } from '../http/uws.js';
import type { Ingest } from '../ingest/index.js';
import type { WriterHook } from '../ingest/hooks.js';
import type { Db } from '../store/db.js';
import type { Spool } from '../store/spool.js';
import { createCipher, resolveEncryptionKey, type Cipher } from './crypto.js';
import { createGdpr, type Eraser, type Gdpr } from './gdpr.js';
import { createEnricher, createIdentityProjector } from './persons.js';
import { registerIdentityRoutes } from './routes.js';
import { createSessionStore, projectSessions, type SessionStore } from './sessions.js';
import { createStripeStore, type StripeStore } from './stripe.js';

export { protectPii } from './pii.js';
export type { Eraser, PersonIds } from './gdpr.js';

export interface IdentityDeps {
  config: Config;
  db: Db;
  spool: Spool;
  log: Logger;
}

export interface Identity {
  /** For createGroupWriter: stamp person_id, hash leftover contact data, anonymise erased visitors. */
  enrichers: WriterHook[];
  /** For createGroupWriter: identity stitching on consented orders, then session upserts. */
  projectors: WriterHook[];
  sessions: SessionStore;
  gdpr: Gdpr;
  stripe: StripeStore;
  cipher: Cipher;
  registerRoutes(app: TemplatedApp, deps: { ingest: Ingest; keys: KeyResolver; adminToken: string }): void;
  /** Registers an extra store for GDPR erasure (e.g. the live layer's Redis keys). */
  addEraser(name: string, fn: Eraser): void;
  /** Applies the retention policy and starts the retention timer. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createIdentity(deps: IdentityDeps): Identity {
  const { config, db, spool, log } = deps;
  const cipher = createCipher(resolveEncryptionKey(config, log));
  const sessions = createSessionStore();
  const gdpr = createGdpr({ db, spool, log: log.child({ part: 'gdpr' }), retentionMonths: config.retentionMonths });
  const stripe = createStripeStore(db, cipher);
  let timer: NodeJS.Timeout | null = null;
  let starting: Promise<void> = Promise.resolve();

  return {
    enrichers: [{ name: 'identity.enrich', run: createEnricher() }],
    // Identity first, so the session rows it touches and the rows it stamps are current for the session upsert.
    projectors: [{ name: 'identity.stitch', run: createIdentityProjector(log) }, { name: 'identity.sessions', run: projectSessions }],
    sessions,
    gdpr,
    stripe,
    cipher,
    registerRoutes(app, r) {
      registerIdentityRoutes(app, { config, log, db, ingest: r.ingest, keys: r.keys, adminToken: r.adminToken, sessions, gdpr, stripe, cipher });
    },
    addEraser: (name, fn) => gdpr.addEraser(name, fn),
    async start() {
      // In the background: the policy is bookkeeping and must not delay the listening socket.
      starting = gdpr
        .applyRetentionPolicy()
        .then((p) => {
          if (p.changed) log.info({ months: config.retentionMonths, job_id: p.job_id }, 'retention policy on tx_events set');
        })
        .catch((err: Error) => log.warn({ err: err.message }, 'could not set the TimescaleDB retention policy; the retention timer still drops expired chunks'));
      // The policy's background job does not run in the embedded store: drop expired chunks on a timer too.
      const every = config.retentionIntervalS * 1000;
      timer = setInterval(() => {
        gdpr.runRetention().catch((err: Error) => log.warn({ err: err.message }, 'retention run failed'));
      }, every);
      timer.unref();
    },
    async close() {
      if (timer) clearInterval(timer);
      timer = null;
      await starting;
    },
  };
}
