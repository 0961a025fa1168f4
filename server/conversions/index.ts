// The conversions domain (README "Server-side conversions", issue 15 part 2): purchases and other funnel
// events forwarded server-side to the ad platforms of the event's organizer and of the marketplace, through
// a durable outbox. app.ts builds it with createConversions and wires:
//   withMatchKeys   around the PII-protected ingest (per-provider digests while the plaintext is at hand)
//   projector       a writer projector after identity's and the live owners' (outbox rows in the commit)
//   job()           the `conversions-dispatch` job (every 5 s; POST /api/admin/jobs/conversions-dispatch/run)
//   registerRoutes  status API, retry, the tenant's legal basis
//   metricLines     /metrics
import type { Logger } from 'pino';
import type { Router } from '../http/router.js';
import type { WriterHook } from '../ingest/hooks.js';
import type { Job } from '../jobs/runner.js';
import type { Db } from '../store/db.js';
import { createHttpPost, type Adapter, type CodeSecrets, type HttpPost, type Provider } from './adapter.js';
import { ga4Adapter } from './adapter-ga4.js';
import { googleAdapter } from './adapter-google.js';
import { metaAdapter } from './adapter-meta.js';
import { tiktokAdapter } from './adapter-tiktok.js';
import { createDispatcher, type CodeRow, type Dispatcher } from './dispatch.js';
import { outboxProjector } from './outbox.js';
import { createRateLimiter, type RateLimit } from './ratelimit.js';
import { registerConversionRoutes } from './routes.js';
import { createConversionStats } from './stats.js';
import { queries } from '../store/queries.js';

const Q = queries('conversions.sql', ['prune_settled', 'clear_dead_digests', 'prune_holds']);

export { registerConversionTables } from './gdpr.js';
export { withMatchKeys, CONVERSION_EVENTS } from './match-keys.js';

export const DISPATCH_JOB = 'conversions-dispatch';
/** Sent and dead rows are kept this long (the status API's history; the platforms deduplicate for 48 h at most). */
export const KEEP_SETTLED_DAYS = 30;
/**
 * A dead row that a retry could still deliver (its destination was fixed) keeps its digests this long after it
 * was queued or retried: Meta's limit on an event's age, the longest of the providers that publish one.
 */
export const KEEP_DEAD_DIGESTS_DAYS = 7;

/** Each provider's API base (config: META_GRAPH_URL, TIKTOK_API_URL, GOOGLE_DATAMANAGER_URL, GA4_MP_URL). */
export interface ProviderUrls {
  meta: string;
  tiktok: string;
  googleDataManager: string;
  ga4: string;
}

export interface ConversionsDeps {
  db: Db;
  log: Logger;
  urls: ProviderUrls;
  /** A tracking code's decrypted secrets (tracking/store.ts decryptSecrets); throws when they cannot be read. */
  decryptSecrets(code: CodeRow): CodeSecrets;
  http?: HttpPost;
  rateLimits?: Partial<Record<Provider, RateLimit>>;
  now?: () => number;
  rand?: () => number;
}

export interface Conversions {
  projector: WriterHook;
  dispatcher: Dispatcher;
  job(): Job;
  /** `conversions.prune`: dead rows' digests after KEEP_DEAD_DIGESTS_DAYS, settled rows and idle holds after KEEP_SETTLED_DAYS; 5000 per statement. */
  pruneJob(): Job;
  registerRoutes(router: Router): void;
  metricLines(): string[];
}

export function adaptersFor(urls: ProviderUrls): Record<Provider, Adapter> {
  return { meta: metaAdapter(urls.meta), tiktok: tiktokAdapter(urls.tiktok), google_ads: googleAdapter(urls.googleDataManager), ga4: ga4Adapter(urls.ga4) };
}

export function createConversions(deps: ConversionsDeps): Conversions {
  const stats = createConversionStats();
  const dispatcher = createDispatcher({
    db: deps.db,
    log: deps.log,
    adapters: adaptersFor(deps.urls),
    http: deps.http ?? createHttpPost(),
    rate: createRateLimiter(deps.rateLimits),
    stats,
    secrets: (_tenant, code) => {
      try {
        return deps.decryptSecrets(code);
      } catch (err) {
        return { error: `the code's secrets cannot be read: ${(err as Error).message}` };
      }
    },
    now: deps.now,
    rand: deps.rand,
  });
  return {
    projector: outboxProjector,
    dispatcher,
    job: () => ({ name: DISPATCH_JOB, schedule: { every: 5 }, timeoutS: 300, run: (ctx) => dispatcher.runOnce(ctx.signal) }),
    pruneJob: () => ({
      name: 'conversions.prune', schedule: { daily: '04:15', tz: 'UTC' }, timeoutS: 600,
      run: async (ctx) => {
        const days = (n: number) => new Date(ctx.now() - n * 86_400_000).toISOString();
        const step = (sql: string, cut: string) => async (limit: number) => (await deps.db.query<{ n: number }>(sql, [cut, limit])).rows[0].n;
        const cleared = await ctx.chunk(step(Q.clear_dead_digests, days(KEEP_DEAD_DIGESTS_DAYS)), 5000);
        const pruned = await ctx.chunk(step(Q.prune_settled, days(KEEP_SETTLED_DAYS)), 5000);
        // A hold whose destination has had nothing to try since (a held one is tried at least hourly).
        return cleared + pruned + (await deps.db.query<{ n: number }>(Q.prune_holds, [days(KEEP_SETTLED_DAYS)])).rows[0].n;
      },
    }),
    registerRoutes: (router) => registerConversionRoutes(router, { db: deps.db }),
    metricLines: () => stats.lines(),
  };
}
