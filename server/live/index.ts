// The live layer: committed rows → hot state → coalesced topic updates over /ws, Socket.IO and REST.
// With REDIS_URL the state is mirrored in Redis (warm.ts) and nodes exchange facts over Redis pub/sub
// (bus-redis.ts), so every node holds the combined numbers and pushes them to its own subscribers;
// unique visitors then come from Redis, merged, never summed: an exact SET of the visitors up to 256 (SCARD),
// then the shared HyperLogLog (PFCOUNT), as in memory (uniq.ts; lua/uv.lua).
// Visitor, session, cart, order and event ids are pseudonymised as facts are built (pseudo.ts): raw ids never
// reach the hot state, Redis or the bus. erase() removes a person for GDPR (erase.ts, warm.ts).
// This file assembles the parts: its contract is in live-api.ts, joining Redis in redis-connect.ts, the
// topics' messages in topic-build.ts and the start's restore in restore.ts.
import crypto from 'node:crypto';
import { createLiveCatalog } from './catalog.js';
import { CATALOG, createCatalogSync, topicEvents, type CatalogMessage } from './catalog-sync.js';
import { createRelay, FACTS, SYNC, type FactsMessage, type SyncMessage } from './bus-relay.js';
import type { LiveCore } from './core.js';
import { createEraseProtocol, ERASE, type EraseMessage } from './erase-protocol.js';
import { toFact, utcDay, type Fact } from './facts.js';
import { Hub } from './hub.js';
import { createNotices, NOTICE, type NoticeMessage } from './notices.js';
import type { Live, LiveDeps, LiveStats } from './live-api.js';
import { createOwnerClaims } from './owners.js';
import { recomputeDay } from './recompute.js';
import { connectRedis } from './redis-connect.js';
import { restoreToday } from './restore.js';
import { registerLiveRoutes } from './routes.js';
import { attachSocketIo, type SocketIoServer } from './socketio.js';
import { createPseudonymizer } from './pseudo.js';
import { LiveState, refusalLog } from './state.js';
import { startTicker } from './tick.js';
import { boundToKey, resolveTokenSecret, signToken, verifyToken, type EventOwners, type Scope } from './token.js';
import { allowed, type Topic } from './topics.js';
import { createKeyStatus } from './key-status.js';
import { limitedAccess, topicAccess } from './access.js';
import { ACCESS_CONCURRENCY, limitConcurrency, SUBSCRIBE_CONCURRENCY } from './rate.js';
import { changesWithTime, createTopicBuilder } from './topic-build.js';
import type { Overrides } from '../authz/roles.js';
import type { EventResource } from '../authz/principal.js';
import { registerWs, type WsServer } from './ws.js';
import type { OverridesWatch } from './subscriptions.js';

export type { LiveBus } from './bus.js';
export type { LiveCore, Mirror } from './core.js';
export type { EraseRequest } from './erase.js';
export type { CatalogChange } from './catalog.js';
export type { Topic } from './topics.js';
export type { Live, LiveDeps, LiveStats } from './live-api.js';

/**
 * A snapshot or flush waits for Redis' visitor counts at most this long; past it the hot state's own counts
 * serve (Redis is the warm tier, not the hot path: redis-connect.ts).
 */
const PREFETCH_WAIT_MS = 500;

/** The live layer, and where this node's change of a tenant's role overrides reaches its open subscriptions. */
export type LiveNode = Live & {
  /** This node changed the tenant's role overrides (authz setOverrides): its open subscriptions are checked again. */
  overridesChanged(tenant: number): void;
};

export async function createLive(deps: LiveDeps): Promise<LiveNode> {
  const { config, log } = deps;
  const now = deps.now ?? Date.now;
  const secret = resolveTokenSecret(config.live.tokenSecret, config.dataDir, log);
  // Shared by every node (LIVE_TOKEN_SECRET is required with Redis), so all agree on the pseudonyms.
  const pseudo = createPseudonymizer(secret);
  const owners = createOwnerClaims({ log });
  const catalog = createLiveCatalog({ log, max: config.live.catalogMax });
  // What the live state tracks is bounded (README "Live layer", Limits); the catalog's gates are not the ones left out.
  const limits = { maxEvents: config.live.maxEvents, maxLanes: config.live.maxGateLanes };
  const state = new LiveState(utcDay(now()), {
    limits,
    knownGate: (tenant, event, gate) => catalog.get(tenant, event)?.gates.some((g) => g.id === gate) ?? false,
    onRefused: refusalLog(log, limits, now),
  });
  const senders: ((key: string, message: string) => void)[] = [];
  const ownerListeners: ((events: { tenant: number; event: string }[]) => void)[] = [];
  /** Tenants whose role overrides this node changed: open subscriptions are checked again (subscriptions.ts). */
  const overridesListeners: ((tenant: number) => void)[] = [];
  /** Events whose organizer, venue or artists changed: open subscriptions to them are checked again. */
  const ownersChanged = (events: { tenant: number; event: string }[]) => {
    if (events.length > 0) for (const l of ownerListeners) l(events);
  };
  const nodeId = crypto.randomBytes(8).toString('hex');
  let resync: (downSince: number) => void = () => undefined;

  // onLateSubscribed runs once the bus has subscribed (network I/O), so after `relay` and `erasure` below exist;
  // onRedisBack, in Redis' recovery loop, too (called before, it fails and the recovery tries again).
  const { redis, mirror, bus } = await connectRedis({
    deps, now, state, pseudo, onResubscribed: (since) => resync(since),
    onLateSubscribed: (startedAt) => {
      relay?.ask(startedAt);
      erasure.resubscribed(startedAt);
    },
    // Erasures other nodes ran while this node could not hear them (erase-protocol.ts catchUp).
    onRedisBack: (since, reseeded) => erasure.catchUp(since, reseeded),
  });
  if (mirror) state.uvSource = mirror.uvSource;

  const { build, ownerOf } = createTopicBuilder({ state, catalog });
  /** Per-tenant role overrides, once register() is given them (none before: every role has its defaults). */
  let overridesOf: (tenant: number) => Promise<Overrides> = async () => ({});
  /** The router's event resolver (catalog row, this node's or the store's, else live owner), once register() gives it. */
  let eventOf: ((tenant: number, event: string) => Promise<EventResource>) | undefined;
  // Tokens minted with a key end when the key is revoked (read from tenant_keys, live/key-status.ts).
  const keyStatus = createKeyStatus({ db: deps.db, log, now });
  const hub = new Hub({ build, send: (key, m) => senders.forEach((s) => s(key, m)), intervalMs: config.live.coalesceMs });

  // Facts to and from the other nodes: sent again when a publish failed or a node missed them, applied once.
  const relay = bus ? createRelay({ bus, nodeId, log }) : null;
  const erasure = createEraseProtocol({
    state, hub, mirror, bus, relay, nodeId, log, db: deps.db, recompute: (day, onFacts) => {
      // An erasure rebuilds from the store: no remembered raw id of the erased person may outlive it.
      pseudo.forget();
      return recomputeDay(deps.db, day, pseudo, onFacts);
    },
  });

  /** Starts the UTC day of `at` when it is after the state's (state.ts rollTo: forward only, once). */
  const rollover = (at: number) => {
    const from = state.day;
    if (!state.rollTo(utcDay(at))) return;
    log.info({ from, to: state.day }, 'live: new UTC day, counters start again');
    hub.markAll();
  };

  /**
   * Applies facts to the hot state; resolves each fact's organizer and marks the ones that link it. A fact of a
   * later day (dated up to 2 s after its receipt, just before midnight) starts that day first, as the clock does
   * a moment later: the store, and so every recompute, counts it on its day, and every node (this one or over
   * the bus) does the same. A fact of a day the state has passed is not counted. Returns the facts applied.
   */
  const applyFacts = (facts: Fact[]): Fact[] => {
    const moved: { tenant: number; event: string }[] = [];
    const applied: Fact[] = [];
    for (const f of facts) {
      rollover(f.at);
      if (utcDay(f.at) !== state.day) continue;
      const touched = state.applyShared(f);
      // Past LIVE_MAX_EVENTS: neither counted here nor written to Redis nor shared (each node would refuse it too).
      if (touched.refused) continue;
      applied.push(f);
      erasure.record(f);
      hub.touch(touched);
      // The event moved to another organizer: the dashboard it left changes too, and its subscribers are checked again.
      if (touched.from) {
        hub.touch({ ...touched, org: touched.from });
        moved.push({ tenant: touched.tenant, event: touched.event });
      }
    }
    ownersChanged(moved);
    return applied;
  };

  const touchAll = (facts: Fact[]) => {
    for (const f of facts) hub.touch({ tenant: f.tenant, event: f.event, org: f.org, capacity: false, funnel: true });
  };

  const catalogSync = createCatalogSync({ catalog, state, hub, owners, db: deps.db, bus, nodeId, log, ownersChanged });
  const notices = createNotices({ hub, bus: bus ?? null, nodeId, now, log });

  const unsubscribe = bus?.subscribe((topic, msg) => {
    if (topic === ERASE) return erasure.onMessage(msg as EraseMessage);
    if (topic === CATALOG) return catalogSync.onMessage(msg as CatalogMessage);
    if (topic === NOTICE) return notices.onMessage(msg as NoticeMessage);
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
    erasure.resubscribed(downSince);
    if (!mirror) return;
    const fresh = new LiveState(state.day, state.options);
    mirror
      .reload(fresh, state.day)
      .then((ok) => {
        // After an outage Redis does not hold the whole day: this node keeps its state, and the facts other nodes
        // could not send meanwhile come again over the bus.
        if (!ok) return log.info('live: not resynchronised from Redis after a reconnect (it does not hold the whole day)');
        // A new day started meanwhile (the clock or a fact of it): the old day's state must not replace it.
        if (fresh.day !== state.day) return log.info({ day: fresh.day }, 'live: not resynchronised from Redis, a new UTC day started meanwhile');
        state.replaceWith(fresh);
        hub.markAll();
        // Owners may differ in what Redis held: open subscriptions to the day's events are checked again.
        ownersChanged([...state.events.values()].map((e) => ({ tenant: e.tenant, event: e.event })));
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

  /** An event's owners as the scope checks see them (the router's resolver once register() gives it). */
  const ownersOf = async (tenant: number, event: string): Promise<EventOwners | undefined> => {
    if (eventOf) return eventOf(tenant, event);
    const o = ownerOf(tenant, event);
    return o && { organizer_id: o.org, venue_id: o.venue, artist_ids: o.artists };
  };
  /**
   * A token minted by a limited key, held to that key at every use (REST, subscribe, the re-check of open
   * subscriptions when an event changes hands): its listed events among `events` (default: all) that the key
   * covers no more, with the events' owners now, are taken out (token.ts boundToKey). Checked at minting only, a
   * token for an event a public claim had put in the key's scope kept it for 30 days after the catalog moved it.
   */
  const keyBound = async (scope: Scope, events?: string[]): Promise<Scope> => {
    if ((scope.role !== 'gate' && scope.role !== 'promoter') || scope.key === undefined) return scope;
    const checked = (events ?? scope.events).filter((e) => scope.events.includes(e));
    if (checked.length === 0) return scope;
    const key = await keyStatus.grant(scope.tenant, scope.key);
    if (key?.role === 'admin') return scope;
    const owners = new Map(await Promise.all(checked.map(async (e) => [e, await ownersOf(scope.tenant, e)] as const)));
    return boundToKey(scope, key, checked, (e) => owners.get(e));
  };

  // Every connection's subscribes together run at most ACCESS_CONCURRENCY topic checks at once (each may read the
  // store: the tenant's overrides, an event's owner): thousands of subscribes wait their turn instead of queueing
  // thousands of queries in front of the ingest's.
  const access = limitedAccess(ACCESS_CONCURRENCY, async (scope, topic) =>
    topicAccess(topic.kind === 'event' || topic.kind === 'capacity' ? await keyBound(scope, [topic.event]) : scope, topic, overridesOf, ownerOf, eventOf));

  const core: LiveCore & OverridesWatch = {
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
    check: async (token) => {
      const v = core.verify(token);
      if (!v.ok) return v;
      if (await core.keyRevoked(v.scope)) return { ok: false, reason: 'revoked' };
      return { ...v, scope: await keyBound(v.scope) };
    },
    access,
    subscribing: limitConcurrency(SUBSCRIBE_CONCURRENCY, (run: () => Promise<'stale' | void>) => run()),
    ownerOf,
    // The catalog's organizer first: it may open an event before its first visitor.
    allowed: (scope, topic, wholeTenant) => allowed(scope, topic, ownerOf, wholeTenant),
    prepare: async (entries) => {
      for (const [tenant, events] of topicEvents(entries)) await catalogSync.fill(tenant, events);
      await prefetch(entries);
    },
    addSender: (s) => senders.push(s),
    onOwnerChange: (l) => void ownerListeners.push(l),
    overridesOf: (tenant) => overridesOf(tenant),
    onOverridesChange: (l) => void overridesListeners.push(l),
    mintToken: (scope, ttlS) => signToken(secret, scope, ttlS, Math.floor(now() / 1000)),
  };

  const ticker = startTicker({ hub, now, rollover, prefetch: mirror ? prefetch : null, log, coalesceMs: config.live.coalesceMs, changesWithTime: changesWithTime(state) });

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
  const restoreState = async () => {
    const r = await restoreToday({ db: deps.db, state, mirror, relay, pseudo, log, now, applyFacts });
    restoredFrom = r.source;
    return r;
  };

  return {
    core,
    onCommitted(rows) {
      if (closed) return;
      // Called by the writer after its commit: whatever happens here must not reach the writer.
      try {
        rollover(now());
        const facts: Fact[] = [];
        for (const r of rows) {
          // Today's rows and the next day's (applyFacts starts that day for them), not the day before's.
          const f = toFact(r, { from: state.day }, pseudo, owners.ownerOf(r));
          if (f?.kind === 'order') f.cat = catalog.categoryOf(r) ?? undefined;
          if (f) facts.push(f);
        }
        if (facts.length === 0) return;
        // Only what was counted: a row of the day before that follows one of the next day in the batch is not.
        const applied = applyFacts(facts);
        if (applied.length > 0) share(applied);
      } catch (err) {
        log.error({ err }, 'live: applying committed rows failed');
      }
    },
    async projector(q, rows) {
      await owners.project(q, rows);
      await catalog.project(q, rows);
    },
    onCatalogChange: (c) => catalogSync.onChange(c),
    notice: (tenant, topic, permission, data) => notices.send(tenant, topic, permission, data),
    async restore() {
      // The catalog first too: the recompute admits a catalog gate's lanes past LIVE_MAX_GATE_LANES (knownGate),
      // as the running node did; without it a restart counted those gates' scans as made-up lanes and lost them.
      // Again after: the events with live state today join those the catalog alone names.
      await catalogSync.restore(state.day);
      const r = await restoreState();
      const t0 = Date.now();
      const n = await catalogSync.restore(state.day);
      log.info({ events: n, ms: Date.now() - t0 }, 'live: catalog metadata loaded');
      return r;
    },
    erase: (ids) => erasure.erase(ids),
    keyRevoked: (keyId) => keyStatus.markRevoked(keyId),
    overridesChanged: (tenant) => {
      for (const l of overridesListeners) l(tenant);
    },
    register(app, keys, audit, access) {
      // The tenant's role overrides (authz): the topic check reads them like the router does.
      if (access) {
        overridesOf = (tenant) => access.authz.overrides(tenant);
        eventOf = (tenant, event) => access.authz.event(tenant, event);
      }
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
