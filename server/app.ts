// Composition root: builds every domain from the config and wires them together explicitly.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config/index.js';
import { persistedSecret } from './config/secrets.js';
import { createIngest, type Ingest } from './ingest/index.js';
import { createRateLimiter } from './ingest/ratelimit.js';
import { createValidation } from './ingest/validate.js';
import { createGroupWriter, type EventSink } from './ingest/writer.js';
import { registerApiRoutes, tenantCreatedNotes } from './http/api-routes.js';
import { createKeyResolver } from './http/auth.js';
import { registerStatusRoutes } from './http/index.js';
import { registerIngestRoutes } from './http/ingest-routes.js';
import { createGdprDomain } from './gdpr/index.js';
import { createIdentity, protectPii, scrubBody } from './identity/index.js';
import { createJobs, jobMetricLines, type Jobs } from './jobs/index.js';
import { analyzeJob } from './jobs/analyze.js';
import { vacuumJob } from './jobs/vacuum.js';
import { checkpointJob, DEFAULT_CHECKPOINT_POLICY } from './jobs/checkpoint.js';
import { partitionsJob } from './jobs/partitions.js';
import { createStripe } from './integrations/stripe/index.js';
import { guardRequests, listenExclusive, loadUws, type TemplatedApp } from './http/uws.js';
import { shutdownGate } from './http/shutdown-gate.js';
import { explainListenFailure } from './http/listen-failure.js';
import { registerDashboard } from './dashboard/index.js';
import { createAudit } from './audit/index.js';
import { createAuditStore } from './audit/store.js';
import { createAuthz } from './authz/index.js';
import { registerAuthzRoutes } from './authz/routes.js';
import { registerKeyRoutes } from './keys/index.js';
import { createRouter, type RouteInfo } from './http/router.js';
import { TOKEN_PREFIX } from './live/token.js';
import { eventResourceOf } from './live/topics.js';
import { createLive, type Live } from './live/index.js';
import { createCatalog, type CatalogChange } from './catalog/index.js';
import { createAnalytics } from './analytics/index.js';
import { createExperiments } from './experiments/index.js';
import { createFeatures } from './features/index.js';
import { createAnalyticsDaily } from './analytics-daily/index.js';
import { createAudiences } from './audiences/index.js';
import { createSegments, registerSegmentCacheEraser } from './segments/index.js';
import { createRemarketing } from './remarketing/index.js';
import { createCipher, resolveEncryptionKey } from './identity/crypto.js';
import { createTracking, decryptSecrets } from './tracking/index.js';
import { createConversions, withMatchKeys } from './conversions/index.js';
import { createCampaignsCore } from './campaigns/index.js';
import { storeKindOf, type Db, type Queryable } from './store/db.js';
import { openStore } from './store/open.js';
import { createEventStore, type EventRow } from './store/events.js';
import { migrate } from './store/migrate.js';
import { createPartitions } from './store/partitions.js';
import { ensureDataDir, lockDataDir, type DataDirLock } from './store/datadir-lock.js';
import { createSpool } from './store/spool.js';
import { createTenantStore, type CreatedTenant } from './store/tenants.js';
import { createPersonDataRegistry } from './person-data.js';

export { ListenError, PortInUseError } from './http/listen-failure.js';
export { StoreSetupError } from './store/open.js';
export { createPersonDataRegistry } from './person-data.js';

export interface RunningServer {
  port: number;
  url: string;
  adminToken: string;
  /** Keys of the demo tenant when this start created it or it was created earlier in DATA_DIR. */
  demo: CreatedTenant | null;
  db: Db;
  sink: EventSink;
  ingest: Ingest;
  live: Live;
  /** The job runner (tests register their own jobs). */
  jobs: Jobs;
  /** Every declared HTTP route with its auth, permission and resource (test/authz-matrix.test.ts). */
  routes(): RouteInfo[];
  close(): Promise<void>;
}

export interface StartOptions {
  log: Logger;
  /** Receives committed rows after the live layer (bench/live.ts measures here); the writer's `embedder` hook. */
  onCommitted?: (rows: EventRow[]) => void;
  /** How long POST /api/admin/jobs/{name}/run waits before answering 202 (default 30 s; tests shorten it). */
  jobRunWaitMs?: number;
}

function resolveAdminToken(config: Config, log: Logger): string {
  return config.adminToken ?? persistedSecret(config.dataDir, 'admin-token', 24, 'ADMIN_TOKEN', log);
}

export async function startServer(config: Config, opts: StartOptions): Promise<RunningServer> {
  // Before anything opens DATA_DIR's files (store, spool, secrets): a second server there must refuse to start,
  // also with DATABASE_URL set, since the spool of acknowledged events lives in DATA_DIR.
  const lock = lockDataDir(config.dataDir, { log: opts.log.child({ mod: 'datadir' }) });
  try {
    return await startLocked(config, opts, lock);
  } catch (err) {
    lock.release();
    throw err;
  }
}

async function startLocked(config: Config, opts: StartOptions, lock: DataDirLock): Promise<RunningServer> {
  const { log } = opts;
  const startedAt = Date.now();
  const uws = loadUws(config.uwsAllowFallback);
  fs.mkdirSync(config.dataDir, { recursive: true });
  // Checked now rather than when features.archive first runs (daily, maybe close to retention dropping the months).
  if (config.featureStore.archiveDir) ensureDataDir(config.featureStore.archiveDir, 'ARCHIVE_DIR');
  const db = await openStore(config, log);
  await migrate(db, log.child({ mod: 'migrate' }));
  // Plain PostgreSQL: this month's partitions before the first commit (else rows wait in the DEFAULT partition
  // until the daily store.partitions job; never lost either way, so a failure here only warns).
  const partitionPolicy = { backfillDays: config.limits.backfillDays, retentionMonths: config.retentionMonths };
  if (db.plain) {
    await createPartitions({ db, log: log.child({ mod: 'partitions' }) })
      .ensure(new Date(), partitionPolicy)
      .catch((err: Error) => log.warn({ err: err.message }, 'could not create tx_events partitions at start; store.partitions retries'));
  }
  const adminToken = resolveAdminToken(config, log);

  const tenants = createTenantStore();
  const demoFile = path.join(config.dataDir, 'demo-tenant.json');
  let demo: CreatedTenant | null = fs.existsSync(demoFile) ? (JSON.parse(fs.readFileSync(demoFile, 'utf8')) as CreatedTenant) : null;
  // The demo is in its audit log as a tenant made with the admin API is, by the server (actor_id server_start).
  const createDemo = (q: Queryable) =>
    tenants.createFirst(q, 'demo').then(async (t) => {
      const store = createAuditStore();
      for (const n of t ? tenantCreatedNotes(t) : []) {
        await store.insert(q, { tenant: t!.tenant_id, actor: { kind: 'admin_token', id: 'server_start' }, action: n.action, target: n.target, ip: null, details: n.details });
      }
      return t;
    });
  const created = config.demoTenant && (await tenants.count(db)) === 0 ? await db.tx(createDemo) : null;
  if (created) {
    demo = created;
    // Keys are stored hashed; the demo's plaintext is kept next to the data so every start can print it.
    fs.writeFileSync(demoFile, JSON.stringify(demo, null, 2), { mode: 0o600 });
  }

  const events = createEventStore();
  const spool = createSpool(path.join(config.dataDir, 'spool'), config.limits.spoolMaxBytes, log.child({ mod: 'spool' }));
  // Session reads wait for the writer's deferred projectors (bound below, once the writer exists).
  let projected = (): Promise<void> => Promise.resolve();
  const identity = createIdentity({ config, db, log: log.child({ mod: 'identity' }), projected: () => projected() });
  // One key for every domain that stores secrets (Stripe, tracking codes, conversions): resolved (and warned about) once.
  const cipher = createCipher(resolveEncryptionKey(config, log));
  const stripe = createStripe({ config, db, log: log.child({ mod: 'stripe' }), cipher });
  const registry = createPersonDataRegistry();
  // The catalog (README "Catalog"); onChange is where a catalog change reaches the live layer.
  // The live layer is created below, before any request can change the catalog.
  let onCatalogChange: (c: CatalogChange) => void = () => undefined;
  const catalog = createCatalog({ db, log: log.child({ mod: 'catalog' }), onChange: (c) => onCatalogChange(c) });
  const gdpr = createGdprDomain({ config, db, spool, log: log.child({ mod: 'gdpr' }), registry });
  // Live state is restored (or recomputed from the store) before the writer can commit anything new.
  const live = await createLive({ config, db, log: log.child({ mod: 'live' }) });
  await live.restore();
  // Every node re-reads the changed catalog events and pushes their topics (live/catalog-sync.ts); never throws.
  // A change of events also drops this node's tracking resolutions of the tenant (an event's organizer picks its
  // codes), as a code change does; the other nodes see it in the fingerprint within 5 s. `tracking` is built
  // below, before any route can change the catalog.
  onCatalogChange = (c) => {
    void live.onCatalogChange(c);
    if (c.kind === 'events') tracking.cache.invalidate(c.tenantId);
  };
  // GDPR erasure reaches the live layer too (hot state, other nodes, Redis): DELETE /api/v1/persons/{id}.
  registry.store('live', (ids) => live.erase(ids));
  // Server-side conversions (README "Server-side conversions"): outbox rows in the commit, a dispatcher job.
  const conversions = createConversions({
    db, log: log.child({ mod: 'conversions' }), urls: config.conversions,
    decryptSecrets: (code) => decryptSecrets(cipher, code as Parameters<typeof decryptSecrets>[1]),
  });
  // The writer's hooks, in the order they run (contract: ingest/hooks.ts; each one's time is on /metrics).
  const sink = createGroupWriter({
    db, events, spool, log: log.child({ mod: 'writer' }),
    // Each lane holds a pool connection for its commit: leave at least one for reads and jobs.
    lanes: db.kind === 'postgres' ? Math.min(config.writerLanes, Math.max(1, config.databasePoolMax - 1)) : 1,
    hooks: {
      enrichers: identity.enrichers,
      // Identity before the live owners, so the rows the live layer sees carry their person id. Event →
      // organizer ownership is decided in the commit's transaction, in commit order (live/owners.ts).
      // The persons' order/entry stats after identity stitching, so the rows carry their person.
      projectors: [...identity.projectors, catalog.projector, { name: 'live.owners', run: (q, rows) => live.projector(q, rows) }, conversions.projector],
      // Out of the commit: read back after a durable cursor, exactly once (ingest/projector.ts).
      deferred: identity.deferred,
      committed: [
        { name: 'live', run: (rows) => live.onCommitted(rows) },
        ...(opts.onCommitted ? [{ name: 'embedder', run: opts.onCommitted }] : []),
      ],
    },
  });
  const validation = createValidation();
  // Contact data in payload.customer is hashed before validation: no plaintext reaches the store or spool.
  // Outermost: the per-provider conversion digests need the contact data before protectPii replaces it.
  const ingest = withMatchKeys(protectPii(createIngest({ validation, sink, db, events, limits: config.limits, log: log.child({ mod: 'ingest' }), scrubRejected: scrubBody })));
  // A key revoked on this node also ends its dashboard tokens here at once (other nodes: live/key-status.ts).
  const resolver = createKeyResolver(db, tenants);
  const keys: typeof resolver = { ...resolver, forget: (id) => (resolver.forget(id), live.keyRevoked(id)) };
  const rateLimiter = createRateLimiter(config.limits.rateLimitPerSec, config.limits.rateLimitBurst);
  // Periodic work runs once per window across the nodes, claimed in the store (README "Jobs").
  const jobs = createJobs({ db, log: log.child({ mod: 'jobs' }), ledgerKeepDays: config.limits.backfillDays + 2, runWaitMs: opts.jobRunWaitMs });
  projected = () => sink.projected();
  jobs.register(gdpr.retention.job());
  // Erasures interrupted after their commit (a crash before the external stores or the disk purge ran).
  jobs.register(gdpr.gdpr.resumeJob());
  // Safety net for rows no commit of this node kicked a pass for (another node failed to project them).
  jobs.register({ name: 'ingest.project', schedule: { every: 60 }, timeoutS: 300, run: () => sink.project() });
  // PGlite has no checkpointer process: without this, WAL grows for as long as the server runs (jobs/checkpoint.ts).
  if (db.kind === 'embedded') {
    const policy = { ...DEFAULT_CHECKPOINT_POLICY, maxWalBytes: config.checkpointWalMb * 1024 * 1024 };
    jobs.register(checkpointJob({ db, log: log.child({ mod: 'checkpoint' }), policy }));
    // Nor autovacuum: without these two, nothing ever gathers planner statistics (jobs/analyze.ts), deleted rows'
    // space is never reused and no row is ever frozen against transaction id wraparound (jobs/vacuum.ts).
    jobs.register(analyzeJob({ db, log: log.child({ mod: 'analyze' }) }));
    jobs.register(vacuumJob({ db, log: log.child({ mod: 'vacuum' }) }));
  }
  if (db.plain) jobs.register(partitionsJob({ db, log: log.child({ mod: 'partitions' }), policy: partitionPolicy }));
  // Administrative actions (routes that declare `audit`), pruned after AUDIT_RETENTION_DAYS (README "Audit log").
  const audit = createAudit({ db, log: log.child({ mod: 'audit' }), retentionDays: config.auditRetentionDays });
  jobs.register(audit.job());
  // The feature store (README "Feature store"): its aggregates' refresh and feature jobs, read API, GDPR eraser.
  const features = createFeatures({
    db, log: log.child({ mod: 'features' }), backfillDays: config.limits.backfillDays, futureHours: config.limits.futureHours, settings: config.featureStore,
    rawRetentionMonths: config.retentionMonths, encryptionKey: resolveEncryptionKey(config, log),
  });
  for (const job of features.jobList()) jobs.register(job);
  features.registerEraser(registry);
  // Audience estimates and builds over the feature store; the fitted model is refitted daily (README "Audiences").
  const a = config.audiences;
  const audiences = createAudiences({
    db, log: log.child({ mod: 'audiences' }),
    snapshot: { maxAgeMs: a.snapshotMaxAgeS * 1000, minPersons: a.snapshotMinPersons, maxTenants: a.snapshotMaxTenants },
  });
  const snapshots = audiences.snapshots;
  if (snapshots) registry.store('audience_snapshot', (ids) => snapshots.erase(ids));
  jobs.register(audiences.job());
  // Segments: versions, size on save, refreshed every 15 min with an atomic swap; cached in Redis (README "Segments").
  // A segment remarketing audiences are built on is not deleted (remarketing is built just below).
  const segments = createSegments({
    db, log: log.child({ mod: 'segments' }), redisUrl: config.redisUrl, redisPrefix: config.live.redisPrefix,
    usedBy: (tenantId, segmentId) => remarketing.store.segmentUsers(tenantId, segmentId),
  });
  jobs.register(segments.job());
  // An erasure recounts segment versions: the Redis summaries are rewritten after its commit.
  registerSegmentCacheEraser(registry, segments.cache);
  // Remarketing audiences, refreshed daily and synced to the platforms with the tracking codes' tokens.
  const remarketing = createRemarketing({
    db, log: log.child({ mod: 'remarketing' }),
    urls: { meta: config.conversions.meta, google_ads: config.conversions.googleDataManager, tiktok: config.conversions.tiktok },
    decrypt: (row) => decryptSecrets(cipher, row as unknown as Parameters<typeof decryptSecrets>[1]),
  });
  jobs.register(remarketing.job());
  jobs.register(conversions.job());
  jobs.register(conversions.pruneJob());
  // Campaign automation (README "Campaigns"): metrics sync, hourly optimiser and daily rebalance on the runner.
  const campaigns = createCampaignsCore({
    db, log: log.child({ mod: 'campaigns' }), config: config.campaigns,
    onNotice: ({ tenant, ...n }) => live.notice(tenant, { kind: 'dashboard', org: n.organizer_id }, 'view_ad_analytics', { kind: 'campaign_budget_low', ...n }),
  });
  for (const job of campaigns.jobs) jobs.register(job);

  // Ambiguous requests (duplicated Content-Length/Transfer-Encoding/Host) are refused before any route runs.
  const app = guardRequests(uws.uws.App(), (p) => log.debug({ kind: p.kind, problem: p.message }, 'ambiguous request refused'));
  // Before any route is registered: every one of them is refused once shutdown begins (close() below).
  const gate = shutdownGate(app);
  registerIngestRoutes(app, { config, ingest, keys, rateLimiter, validation, log: log.child({ mod: 'http-ingest' }) });
  // Roles and permissions (issue 18): every declared route's permission and scope are checked by the router
  // with the tenant's overrides; `access.listing` collects the routes of every router (RunningServer.routes()).
  // A change of a role's permissions reaches this node's open live subscriptions at once (other nodes: their sweep).
  const authz = createAuthz({ db, log: log.child({ mod: 'authz' }), onChange: (tenant) => live.overridesChanged(tenant) });
  // An event that changes hands (catalog change, claim; on any node) is read again by the scope checks: before
  // live.register, so the store's cached answer is gone when the open subscriptions are checked again.
  live.core.onOwnerChange?.((events) => authz.forgetEvents(events));
  // The live layer knows an event's current owner on this node at once (a commit or a catalog change moves it);
  // the store's answer, cached a few seconds, covers what the live layer does not hold. The catalog wins whole
  // (eventResourceOf): a row from the public write key never adds a venue or organizer to a catalog event.
  const eventResource = async (t: number, id: string) => eventResourceOf(await authz.resolveEventResource(db, t, id), live.core.ownerOf(t, id));
  /** An event's organizer as the scope checks see it: a tracking code's or a campaign budget's event must be its organizer's. */
  const organizerOf = async (t: number, id: string) => (await eventResource(t, id)).organizer_id ?? null;
  const access = { authz: { overrides: authz.overrides, event: eventResource }, listing: [] as RouteInfo[] };
  // Dashboard tokens on the routers that take them: valid, their minting key not revoked (after a restart, or on
  // a node that never saw the key, its status is read before the request runs; live/key-status.ts), and held to
  // that key's scope with the events' owners now (live/index.ts keyBound).
  const dashboardTokens = { prefix: TOKEN_PREFIX, verify: (token: string) => live.core.check(token) };
  const router = registerApiRoutes(app, { config, adminToken, db, events, tenants, keys, log: log.child({ mod: 'http-api' }), audit, access, mintToken: live.core.mintToken });
  registerAuthzRoutes(router, authz);
  // The tenant's own scoped keys (POST/GET/DELETE /api/v1/keys), next to the operator's /api/admin key routes.
  registerKeyRoutes(router, { db, tenants, keys });
  // Tracking codes per organizer and event (README "Tracking codes"); resolutions cached 5 min, also in Redis.
  const tracking = createTracking({
    db, log: log.child({ mod: 'tracking' }), cipher, redisUrl: config.redisUrl, redisPrefix: config.live.redisPrefix,
    organizerOf,
  });
  // Its routes take the organizer dashboard's tokens too (the tracking page): a router that verifies them.
  tracking.register(createRouter({
    app, log: log.child({ mod: 'http-api' }), trustProxy: config.trustProxy, keys, adminToken, audit, authz: access.authz, listing: access.listing,
    tokens: dashboardTokens,
  }));
  audit.registerRoutes(router);
  identity.registerRoutes(router, { ingest });
  catalog.register(router);
  // Funnels over stored events (large tenants' from this node's funnel index) and A/B experiments (README
  // "Funnels", "Experiments").
  const fi = config.funnelIndex;
  const analytics = createAnalytics({
    db, log: log.child({ mod: 'analytics' }), overrides: authz.overrides,
    index: { maxAgeMs: fi.maxAgeS * 1000, minQueryMs: fi.minQueryMs, maxTenants: fi.maxTenants, maxRows: fi.maxRows },
    storeConcurrency: fi.storeConcurrency,
  });
  analytics.register(router);
  const funnelIndex = analytics.index;
  if (funnelIndex) registry.store('funnel_index', (ids) => funnelIndex.erase(ids));
  createExperiments({ db, log: log.child({ mod: 'experiments' }), overrides: authz.overrides, funnel: analytics.funnel }).register(router);
  audiences.register(router);
  segments.register(router);
  remarketing.register(router);
  conversions.registerRoutes(router);
  // Its reads take the organizer dashboard's tokens too (the campaigns page): a router that verifies them.
  campaigns.register(createRouter({
    app, log: log.child({ mod: 'http-api' }), trustProxy: config.trustProxy, keys, adminToken, audit, authz: access.authz, listing: access.listing,
    tokens: dashboardTokens,
  }), { organizerOf, overrides: authz.overrides });
  gdpr.registerRoutes(router);
  stripe.registerRoutes(router, app, { ingest });
  jobs.registerRoutes(router);
  // The analytics routes take dashboard tokens too (the history view): on a router that verifies them.
  const analyticsRouter = createRouter({
    app, log: log.child({ mod: 'http-features' }), trustProxy: config.trustProxy, keys, audit, authz: access.authz, listing: access.listing,
    tokens: dashboardTokens,
  });
  features.registerRoutes(analyticsRouter, { authz: access.authz });
  // Daily analytics per user, artist and venue (README "Daily analytics"), on the same token-aware router.
  createAnalyticsDaily({ db }).registerRoutes(analyticsRouter);
  gdpr.start();
  live.register(app, keys, audit, access);
  registerDashboard(app, { log: log.child({ mod: 'dashboard' }) });
  registerStatusRoutes(app, {
    config, uws, storeKind: storeKindOf(db), store: db, sink, ingest, log, startedAt, redis: () => live.redis(), ownerConflicts: () => live.stats().ownerConflicts,
    featureStore: () => features.capabilities(),
    operatorTokens: [adminToken, ...(config.metricsToken ? [config.metricsToken] : [])],
    // The conversions' lines ride along: their figures come from the dispatcher job.
    jobs: () => [...jobMetricLines(jobs.runner.metrics()), ...conversions.metricLines(), ...segments.metricLines(), ...audiences.metricLines(), ...analytics.metricLines()],
  });

  const closeDomains = async () => {
    await jobs.close();
    await gdpr.close();
    await sink.close();
    await live.close();
    await tracking.close();
    await segments.close();
  };
  const closeStore = async () => {
    await spool.close();
    await db.close();
  };
  const closeParts = async () => {
    await closeDomains();
    await closeStore();
  };
  // Exclusive: without it uSockets sets SO_REUSEPORT and a second server on the same port also listens and
  // silently takes half the connections. No retry loop: uSockets always sets SO_REUSEADDR, so connections of a
  // previous run (TIME_WAIT, FIN_WAIT after kill -9) never block the port (measured: an immediate re-listen
  // succeeds in both cases); a refusal means a live listener (or an address HOST cannot bind), and waiting would only delay the clear error.
  const listenSocket = await listenExclusive(uws, app, config.host, config.port);
  if (!listenSocket) {
    await closeParts();
    // uWS gives no reason: a taken port and an address HOST cannot bind look alike without asking again.
    throw await explainListenFailure(config.host, config.port);
  }
  const port = uws.uws.us_socket_local_port(listenSocket as never);

  jobs.start();

  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  return {
    port,
    url: `http://${host}:${port}`,
    adminToken,
    demo,
    db,
    sink,
    ingest,
    live,
    jobs,
    routes: () => [...access.listing],
    async close() {
      // Closing the listen socket stops new connections only: kept-alive ones go on delivering requests, which
      // are answered 503 shutting_down with the connection closed from here on (never a 500 from a closed writer).
      gate.begin();
      uws.uws.us_listen_socket_close(listenSocket as never);
      // The writer answers what it holds (committed, or spooled) before it closes; the live sockets are ended.
      await closeDomains();
      // Requests still being handled (reads of the store) are answered before the store closes; then the
      // connections left (idle keep-alive ones, and any request past the wait) are closed: their clients see a
      // close now rather than a reset when the process exits.
      await gate.drained(SHUTDOWN_DRAIN_MS);
      (app as unknown as { close?: () => void }).close?.();
      await closeStore();
      lock.release();
    },
  };
}

/** How long close() waits for requests already being handled before it closes their connections. */
const SHUTDOWN_DRAIN_MS = 5_000;
