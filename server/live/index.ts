// The live layer: committed rows → hot state → coalesced topic updates over /ws, Socket.IO and REST.
// With REDIS_URL the state is mirrored in Redis (warm.ts) and nodes exchange facts over Redis pub/sub
// (bus-redis.ts), so every node holds the combined numbers and pushes them to its own subscribers;
// unique visitors then come from the shared Redis HyperLogLogs (PFCOUNT), merged, never summed.
// Visitor, session, cart, order and event ids are pseudonymised as facts are built (pseudo.ts): raw ids never
// reach the hot state, Redis or the bus. erase() removes a person for GDPR (erase.ts, warm.ts).
import crypto from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { KeyResolver } from '../http/auth.js';
import type { TemplatedApp } from '../http/uws.js';
import type { Db, Queryable } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import type { LiveBus } from './bus.js';
import { createRedisBus } from './bus-redis.js';
import { createLiveCatalog, type CatalogChange } from './catalog.js';
import { CATALOG, createCatalogSync, withCatalog, type CatalogMessage } from './catalog-sync.js';
import { createRelay, FACTS, SYNC, type FactsMessage, type SyncMessage } from './bus-relay.js';
import type { LiveCore, Mirror } from './core.js';
import type { Counts, EraseRequest } from './erase.js';
import { createEraseProtocol, ERASE, type EraseMessage } from './erase-protocol.js';
import { toFact, utcDay, type Fact } from './facts.js';
import { Hub, type Built } from './hub.js';
import { createOwnerClaims } from './owners.js';
import { recomputeDay } from './recompute.js';
import { registerLiveRoutes, type LiveRouteDeps } from './routes.js';
import type { AuditSink } from '../http/router.js';
import { attachSocketIo, type SocketIoServer } from './socketio.js';
import { createPseudonymizer } from './pseudo.js';
import { LiveState } from './state.js';
import { startTicker } from './tick.js';
import { resolveTokenSecret, signToken, verifyToken } from './token.js';
import { allowed, type EventOwnership, type Topic } from './topics.js';
import { venueCapacity, type CapacityFigures } from './capacity.js';
import { createKeyStatus } from './key-status.js';
import { topicAccess } from './access.js';
import type { Overrides } from '../authz/roles.js';
import { createRedisMirror } from './warm.js';
import { registerWs, type WsServer } from './ws.js';

export type { LiveBus } from './bus.js';
export type { LiveCore, Mirror } from './core.js';
export type { EraseRequest } from './erase.js';
export type { CatalogChange } from './catalog.js';
export type { Topic } from './topics.js';

export interface LiveDeps {
  config: Config;
  db: Db;
  log: Logger;
  /** Injected clock (epoch ms). */
  now?: () => number;
  /** Defaults: a Redis bus and mirror when REDIS_URL is set, none otherwise. */
  bus?: LiveBus | null;
  mirror?: Mirror | null;
}

export interface LiveStats {
  topics: number;
  subscribers: number;
  sockets: number;
  socketIo: number;
  sent: number;
  restoredFrom: 'redis' | 'store' | null;
  redis: boolean;
  /** Organizer claims ignored since start because the event has another owner (owners.ts). */
  ownerConflicts: number;
}

export interface Live {
  /** Feed: rows newly committed to the store (the writer's onCommitted). */
  onCommitted(rows: EventRow[]): void;
  /**
   * Writer projector (inside the commit's transaction): records the event → organizer claims of new rows in
   * commit order (owners.ts). onCommitted then gives their facts the stored owner.
   */
  projector(q: Queryable, rows: EventRow[]): Promise<void>;
  /**
   * A catalog change (server/catalog's onChange): every node re-reads the metadata of those ids and pushes
   * the topics it changes (catalog-sync.ts).
   */
  onCatalogChange(c: CatalogChange): Promise<void>;
  /** Restores from Redis, or recomputes today from the store. Call before the writer starts. */
  restore(): Promise<{ source: 'redis' | 'store'; rows?: number }>;
  /** /ws, Socket.IO and REST routes; register before the catch-all 404. */
  register(app: TemplatedApp, keys: KeyResolver, audit?: AuditSink, access?: LiveRouteDeps['access']): void;
  /**
   * GDPR erasure (an identity eraser): removes the person's ids from the hot state (here and, over the bus,
   * on every other node) and from Redis, keeping the live numbers. Returns what changed, by kind.
   */
  erase(ids: EraseRequest): Promise<Counts>;
  /** This node revoked a key: its tokens are refused here at once (other nodes within KEY_TTL_MS). */
  keyRevoked(keyId: number): void;
  core: LiveCore;
  stats(): LiveStats;
  /** Redis for /health: 'off' without REDIS_URL. */
  redis(): 'up' | 'down' | 'off';
  close(): Promise<void>;
}

/**
 * Redis is the warm tier, not the hot path: a command fails after this long (a hung Redis), and nothing fails
 * slowly while it is away (no offline queue: a command fails at once while disconnected; ioredis reconnects
 * in the background). A snapshot or flush waits for Redis' visitor counts at most PREFETCH_WAIT_MS; past it
 * the hot state's own counts serve.
 */
const REDIS_COMMAND_TIMEOUT_MS = 2000;
const PREFETCH_WAIT_MS = 500;
export async function createLive(deps: LiveDeps): Promise<Live> {
  const { config, log } = deps;
  const now = deps.now ?? Date.now;
  const secret = resolveTokenSecret(config.live.tokenSecret, config.dataDir, log);
  // Shared by every node (LIVE_TOKEN_SECRET is required with Redis), so all agree on the pseudonyms.
  const pseudo = createPseudonymizer(secret);
  const state = new LiveState(utcDay(now()));
  const owners = createOwnerClaims({ log });
  const catalog = createLiveCatalog({ log });
  const senders: ((key: string, message: string) => void)[] = [];
  const nodeId = crypto.randomBytes(8).toString('hex');
  let resync: (downSince: number) => void = () => undefined;

  let redis: Redis | null = null;
  let mirror = deps.mirror ?? null;
  let bus = deps.bus ?? null;
  let redisAtStart = true;
  if (config.redisUrl && deps.mirror === undefined) {
    redis = new Redis(config.redisUrl, {
      lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000, commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    });
    redis.on('error', (err: Error) => log.warn({ err: err.message }, 'live: redis error'));
    try {
      await redis.connect();
    } catch (err) {
      // Redis is the warm tier: the node starts from the store and re-seeds Redis once it answers (ioredis
      // keeps reconnecting). /health says redis: down meanwhile; a wrong REDIS_URL shows there and here.
      log.error({ err: (err as Error).message, url: config.redisUrl.replace(/\/\/[^@/]*@/, '//***@') }, 'live: cannot reach REDIS_URL; starting without Redis until it answers');
      redisAtStart = false;
    }
    mirror = createRedisMirror({
      redis, prefix: config.live.redisPrefix, log, now, orgEvents: (t, o) => state.getOrg(t, o)?.events ?? [],
      // After an outage Redis is re-seeded from the hot state and today's rows in the store.
      state, replay: (day, onFacts) => recomputeDay(deps.db, day, pseudo, onFacts),
    });
  }
  if (config.redisUrl && deps.bus === undefined) {
    bus = createRedisBus({ url: config.redisUrl, prefix: config.live.redisPrefix, log, onResubscribed: (since) => resync(since) });
    if (redisAtStart) await bus.ready();
    else {
      // Subscribed once Redis is there: then ask the other nodes for what they shared since this start.
      const startedAt = Date.now();
      bus.ready().then(
        () => relay?.ask(startedAt),
        (err: Error) => log.error({ err: err.message }, 'live: could not subscribe to the other nodes'),
      );
    }
  }
  if (mirror) state.uvSource = mirror.uvSource;

  const build = (tenant: number, t: Topic, at: number): Built => {
    if (t.kind === 'dashboard') {
      let updatedAt = 0;
      for (const id of state.getOrg(tenant, t.org)?.events ?? []) updatedAt = Math.max(updatedAt, state.latestUpdate(tenant, id));
      return { data: withCatalog(catalog, tenant, t, state.dashboardData(tenant, t.org, at)), updatedAt };
    }
    if (t.kind === 'venue') return venueBuilt(tenant, t.venue, at);
    const updatedAt = state.latestUpdate(tenant, t.event);
    const data = t.kind === 'event' ? state.eventData(tenant, t.event, at) : state.capacityData(tenant, t.event, at);
    const named = withCatalog(catalog, tenant, t, data);
    if (t.kind === 'event' && t.revenue === false) {
      // An artist's variant: the same numbers without the money.
      const { revenue: _revenue, ...rest } = named;
      return { data: rest, updatedAt };
    }
    return { data: named, updatedAt };
  };

  /** What the catalog (first) or the live state knows of an event's organizer, venue and artists. */
  const ownerOf = (tenant: number, event: string): EventOwnership | undefined => {
    const meta = catalog.get(tenant, event);
    const live = state.getEvent(tenant, event);
    if (!meta && !live) return undefined;
    return { org: meta?.organizer_id ?? live?.org ?? null, venue: meta?.venue_id ?? live?.venue ?? null, artists: meta?.artist_ids ?? [] };
  };

  /**
   * `analytics:venue:{venue}:capacity`: every event of the tenant with live state today whose venue (catalog
   * first) is this one. A scan over the tenant's events of the day, at most once per coalescing interval per
   * watched venue topic.
   */
  const venueBuilt = (tenant: number, venue: string, at: number): Built => {
    const events: Parameters<typeof venueCapacity>[1] = [];
    let updatedAt = 0;
    for (const e of state.events.values()) {
      if (e.tenant !== tenant || (catalog.get(tenant, e.event)?.venue_id ?? e.venue) !== venue) continue;
      const cap = withCatalog(catalog, tenant, { kind: 'capacity', event: e.event }, state.capacityData(tenant, e.event, at)) as unknown as CapacityFigures & { event_title: string | null };
      events.push({ event_id: e.event, event_title: cap.event_title ?? null, view: cap });
      updatedAt = Math.max(updatedAt, state.latestUpdate(tenant, e.event));
    }
    return { data: venueCapacity(venue, events) as unknown as Record<string, unknown>, updatedAt };
  };
  /** Per-tenant role overrides, once register() is given them (none before: every role has its defaults). */
  let overridesOf: (tenant: number) => Promise<Overrides> = async () => ({});
  // Tokens minted with a key end when the key is revoked (read from tenant_keys, live/key-status.ts).
  const keyStatus = createKeyStatus({ db: deps.db, log, now });
  const hub = new Hub({ build, send: (key, m) => senders.forEach((s) => s(key, m)), intervalMs: config.live.coalesceMs });

  // Facts to and from the other nodes: sent again when a publish failed or a node missed them, applied once.
  const relay = bus ? createRelay({ bus, nodeId, log }) : null;
  const erasure = createEraseProtocol({
    state, hub, mirror, bus, relay, nodeId, log, recompute: (day, onFacts) => recomputeDay(deps.db, day, pseudo, onFacts),
  });

  const rollover = (at: number) => {
    const day = utcDay(at);
    if (day === state.day) return;
    log.info({ from: state.day, to: day }, 'live: new UTC day, counters start again');
    state.reset(day);
    hub.markAll();
  };

  /** Applies facts to the hot state; resolves each fact's organizer and marks the ones that link it. */
  const applyFacts = (facts: Fact[]) => {
    for (const f of facts) {
      if (utcDay(f.at) !== state.day) continue;
      erasure.record(f);
      const touched = state.applyShared(f);
      hub.touch(touched);
      // The event moved to another organizer: the dashboard it left changes too.
      if (touched.from) hub.touch({ ...touched, org: touched.from });
    }
  };

  const touchAll = (facts: Fact[]) => {
    for (const f of facts) hub.touch({ tenant: f.tenant, event: f.event, org: f.org, capacity: false, funnel: true });
  };

  const catalogSync = createCatalogSync({ catalog, state, hub, owners, db: deps.db, bus, nodeId, log });

  const unsubscribe = bus?.subscribe((topic, msg) => {
    if (topic === ERASE) return erasure.onMessage(msg as EraseMessage);
    if (topic === CATALOG) return catalogSync.onMessage(msg as CatalogMessage);
    if (topic === SYNC) {
      const m = msg as SyncMessage;
      if (m.n !== nodeId) relay?.resend(m.since);
      return;
    }
    if (topic !== FACTS) return;
    const m = msg as FactsMessage;
    if (m.n === nodeId) return;
    rollover(now());
    applyFacts(relay ? relay.fresh(m.f) : m.f);
    // Another node stored a (final) secret owner: the claims cache must not keep an older public one.
    for (const f of m.f) if (f.org !== null && f.os && f.os !== 'public') owners.learn(f.tenant, f.event, { org: f.org, source: f.os });
  });

  // After a lost Redis subscription, facts of other nodes may have been missed: the other nodes send again
  // what they shared since (applied once), and, when Redis holds the whole day, the state is reloaded from it.
  resync = (downSince) => {
    relay?.resubscribed(downSince);
    if (!mirror) return;
    const fresh = new LiveState(state.day);
    mirror
      .reload(fresh, state.day)
      .then((ok) => {
        // After an outage Redis does not hold the whole day: this node keeps its state, and the facts other nodes
        // could not send meanwhile come again over the bus.
        if (!ok) return log.info('live: not resynchronised from Redis after a reconnect (it does not hold the whole day)');
        state.replaceWith(fresh);
        hub.markAll();
        log.info('live: resynchronised from Redis after a reconnect');
      })
      .catch((err: Error) => log.warn({ err: err.message }, 'live: resynchronisation failed'));
  };

  /** Redis' visitor counts for these topics, waited for at most PREFETCH_WAIT_MS (prefetch never throws). */
  const prefetch = async (entries: { tenant: number; topic: Topic }[]): Promise<void> => {
    if (!mirror) return;
    let timer: NodeJS.Timeout | undefined;
    const counts = mirror.prefetch(entries).catch((err: Error) => log.warn({ err: err.message }, 'live: reading visitor counts from Redis failed'));
    await Promise.race([counts, new Promise<void>((r) => (timer = setTimeout(r, PREFETCH_WAIT_MS)))]);
    clearTimeout(timer);
  };

  const core: LiveCore = {
    hub,
    state,
    config,
    log,
    now,
    verify: (token) => {
      const v = verifyToken(secret, token, Math.floor(now() / 1000));
      return v.ok && core.keyRevokedNow(v.scope) ? { ok: false, reason: 'revoked' } : v;
    },
    keyRevokedNow: (scope) => 'key' in scope && scope.key !== undefined && keyStatus.revokedNow(scope.tenant, scope.key),
    keyRevoked: async (scope) => 'key' in scope && scope.key !== undefined && (await keyStatus.revoked(scope.tenant, scope.key)),
    access: (scope, topic) => topicAccess(scope, topic, overridesOf, ownerOf),
    ownerOf,
    // The catalog's organizer first: it may open an event before its first visitor.
    allowed: (scope, topic) => allowed(scope, topic, ownerOf),
    prepare: (entries) => prefetch(entries),
    addSender: (s) => senders.push(s),
    mintToken: (scope, ttlS) => signToken(secret, scope, ttlS, Math.floor(now() / 1000)),
  };

  const ticker = startTicker({ hub, now, rollover, prefetch: mirror ? prefetch : null, log, coalesceMs: config.live.coalesceMs });

  let ws: WsServer | null = null;
  let sio: SocketIoServer | null = null;
  let restoredFrom: LiveStats['restoredFrom'] = null;
  let closed = false;

  const share = (facts: Fact[]) => {
    if (mirror) {
      // Other nodes hear of the facts once Redis holds them, so their PFCOUNTs include these visitors.
      mirror.write(facts, () => {
        touchAll(facts);
        relay?.send(facts);
      });
    } else {
      relay?.send(facts);
    }
  };

  /** Today's live state from Redis, or recomputed from the store. */
  async function restoreState(): Promise<{ source: 'redis' | 'store'; rows?: number }> {
    const day = utcDay(now());
    state.reset(day);
    let seeding = !!mirror;
    try {
      if (mirror && (await mirror.restore(state, day)) === 'restored') {
        restoredFrom = 'redis';
        log.info({ events: state.events.size }, 'live: state restored from Redis');
        return { source: 'redis' };
      }
    } catch (err) {
      if (!mirror || mirror.health() === 'up') throw err;
      // Redis is away: the store alone; Redis is re-seeded when it answers (redis-recovery.ts).
      log.warn({ err: (err as Error).message }, 'live: Redis unavailable at restore; recomputing from the store');
      state.reset(day);
      seeding = false;
    }
    const t0 = Date.now();
    const n = await recomputeDay(deps.db, day, pseudo, (facts) => {
      relay?.markSeen(facts);
      applyFacts(facts);
      mirror?.write(facts, () => undefined);
    });
    if (mirror && seeding) await mirror.seeded(day);
    restoredFrom = 'store';
    log.info({ rows: n, events: state.events.size, ms: Date.now() - t0, redis: !!mirror }, 'live: state recomputed from the store');
    return { source: 'store', rows: n };
  }

  return {
    core,
    onCommitted(rows) {
      if (closed) return;
      // Called by the writer after its commit: whatever happens here must not reach the writer.
      try {
        rollover(now());
        const facts: Fact[] = [];
        for (const r of rows) {
          const f = toFact(r, state.day, pseudo, owners.ownerOf(r));
          if (f?.kind === 'order') f.cat = catalog.categoryOf(r) ?? undefined;
          if (f) facts.push(f);
        }
        if (facts.length === 0) return;
        applyFacts(facts);
        share(facts);
      } catch (err) {
        log.error({ err }, 'live: applying committed rows failed');
      }
    },
    async projector(q, rows) {
      await owners.project(q, rows);
      await catalog.project(q, rows);
    },
    onCatalogChange: (c) => catalogSync.onChange(c),
    async restore() {
      const r = await restoreState();
      const t0 = Date.now();
      const n = await catalogSync.restore(state.day);
      log.info({ events: n, ms: Date.now() - t0 }, 'live: catalog metadata loaded');
      return r;
    },
    erase: (ids) => erasure.erase(ids),
    keyRevoked: (keyId) => keyStatus.markRevoked(keyId),
    register(app, keys, audit, access) {
      // The tenant's role overrides (authz): the topic check reads them like the router does.
      if (access) overridesOf = (tenant) => access.authz.overrides(tenant);
      ws = registerWs(app, core);
      if (config.live.socketIo) sio = attachSocketIo(app, core);
      registerLiveRoutes(app, { core, keys, db: deps.db, audit, access });
    },
    redis: () => (mirror ? mirror.health() : 'off'),
    stats() {
      let subscribers = 0;
      let topics = 0;
      for (const e of hub.entries.values()) {
        if (e.subs > 0) topics++;
        subscribers += e.subs;
      }
      return {
        topics, subscribers, sockets: ws?.sockets() ?? 0, socketIo: sio?.sockets() ?? 0, sent: hub.sent, restoredFrom, redis: !!mirror,
        ownerConflicts: owners.conflicts(),
      };
    },
    async close() {
      closed = true;
      ticker.stop();
      erasure.close();
      relay?.close();
      unsubscribe?.();
      ws?.close();
      await sio?.close();
      await mirror?.close();
      await bus?.close();
      if (redis) await redis.quit().catch(() => redis?.disconnect());
    },
  };
}
