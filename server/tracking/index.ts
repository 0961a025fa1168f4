// The tracking-codes domain (issue 15 part 1, README "Tracking codes"): the ad-platform pixels and tags of a
// tenant's organizers and events, and the marketplace's own; their CRUD with the secret key, their resolution
// for a page with the write key (JSON, or HTML snippets with the page's CSP nonce), cached 5 min in memory and
// in Redis. app.ts builds it with createTracking and registers its routes and its table in the GDPR registry.
// For the conversions dispatcher (issue 15 part 2): resolveCodes(q, tenantId, { organizerId, eventId }) and
// decryptSecrets(cipher, row) — see the header of sql/011_tracking_codes.sql.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { GdprRegistry } from '../gdpr/registry.js';
import type { Router } from '../http/router.js';
import type { Cipher } from '../identity/crypto.js';
import type { Db } from '../store/db.js';
import { createResolutionCache, type RemoteCache, type ResolutionCache } from './cache.js';
import { computeResolution, registerTrackingRoutes, type Resolution } from './routes.js';
import { DEFAULT_SCRIPT_URLS, publicCode, type ScriptUrls } from './snippets.js';
import { resolveCodes, trackingStore } from './store.js';

export { resolveCodes, decryptSecrets, type TrackingCodeRow, type Secrets } from './store.js';
export { PIXEL_EVENTS, renderSnippets, type PublicCode } from './snippets.js';
export { CONSENT, PROVIDERS, CONVERSION_EVENTS, type Provider, type ConversionEvent } from './validate.js';
export type { Resolution } from './routes.js';

export const TRACKING_TABLES = ['tracking_codes'];

export function registerTrackingTables(registry: GdprRegistry): void {
  registry.none(TRACKING_TABLES, 'tenant configuration: the ad-platform tracking codes of the tenant\'s organizers and events (ids, options, encrypted platform tokens), no person; it goes with the tenant, nothing to erase per person');
}

export interface TrackingDeps {
  db: Db;
  log: Logger;
  cipher: Cipher;
  /** The organizer of an event as the scope checks see it (catalog, else the live owner), null when unknown: a new event code must name it. */
  organizerOf(tenant: number, eventId: string): Promise<string | null>;
  /** REDIS_URL: the resolutions are shared there too. */
  redisUrl?: string | null;
  redisPrefix?: string;
  /** Where HTML snippets load the platforms' libraries (tests: local stand-ins). */
  scriptUrls?: ScriptUrls;
  now?: () => number;
}

export interface Tracking {
  /** invalidate(tenant): this node changed the tenant's codes or catalog events (app.ts: the catalog's onChange). */
  cache: ResolutionCache<Resolution>;
  register(router: Router): void;
  close(): Promise<void>;
}

function redisCache(url: string, log: Logger): { remote: RemoteCache; close: () => Promise<void> } {
  // Like the live layer's client: fail fast while Redis is away (a miss, resolved from the store), reconnect in the background.
  const redis = new Redis(url, { lazyConnect: false, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000, commandTimeout: 1000 });
  redis.on('error', (err: Error) => log.debug({ err: err.message }, 'tracking: redis error'));
  return {
    remote: {
      get: (k) => redis.get(k),
      set: async (k, v, ttlS) => void (await redis.set(k, v, 'EX', ttlS)),
    },
    close: async () => void redis.disconnect(),
  };
}

export function createTracking(deps: TrackingDeps): Tracking {
  const { db, log } = deps;
  const redis = deps.redisUrl ? redisCache(deps.redisUrl, log) : null;
  const routeDeps = { db, pageOrganizer: trackingStore.pageOrganizer };
  const cache = createResolutionCache<Resolution>({
    version: (tenant) => trackingStore.version(db, tenant),
    compute: (tenant, key) => computeResolution(routeDeps, resolveCodes, publicCode, tenant, key),
    remote: redis?.remote ?? null,
    prefix: deps.redisPrefix ?? 'tx:',
    now: deps.now ?? Date.now,
    log,
  });
  return {
    cache,
    register: (router) => registerTrackingRoutes(router, { db, cipher: deps.cipher, cache, organizerOf: deps.organizerOf, scriptUrls: deps.scriptUrls ?? DEFAULT_SCRIPT_URLS }),
    close: async () => redis?.close(),
  };
}
