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
import { createRelay, FACTS, SYNC, type FactsMessage, type SyncMessage } from './bus-relay.js';
import { rebuildTenant, touchesLive, type Counts, type EraseRequest } from './erase.js';
import { toFact, utcDay, type Fact } from './facts.js';
import { Hub, type Built } from './hub.js';
import { createOwnerClaims } from './owners.js';
import { recomputeDay } from './recompute.js';
import { registerLiveRoutes } from './routes.js';
import { attachSocketIo, type SocketIoServer } from './socketio.js';
import { createPseudonymizer } from './pseudo.js';
import { LiveState, type UvSource } from './state.js';
import { resolveTokenSecret, signToken, verifyToken, type Scope, type VerifyResult } from './token.js';
import { allowed, type Topic } from './topics.js';
import { createRedisMirror } from './warm.js';
import { registerWs, type WsServer } from './ws.js';

export type { LiveBus } from './bus.js';
export type { EraseRequest } from './erase.js';
export type { Topic } from './topics.js';

/** Redis mirror of the hot state (warm.ts); absent on a single node without Redis. */
export interface Mirror {
  /** Queues facts for the next pipelined flush; `done` runs once they are in Redis. */
  write(facts: Fact[], done: () => void): void;
  /** Waits for queued writes. */
  flush(): Promise<void>;
  /**
   * 'restored': today's state was loaded into `state`. 'seed': Redis holds nothing (complete) for today and
   * this node was elected to recompute it from the store, write it, then call seeded().
   */
  restore(state: LiveState, day: string): Promise<'restored' | 'seed'>;
  seeded(day: string): Promise<void>;
  /** Loads today's state into `state` if Redis holds it (resynchronisation); false otherwise. */
  reload(state: LiveState, day: string): Promise<boolean>;
  /** Reads the unique-visitor counts (PFCOUNT) these topics need; uvSource then returns them. */
  prefetch(entries: { tenant: number; topic: Topic }[]): Promise<void>;
  uvSource: UvSource;
  /** 'down' while Redis does not answer, and after it returns until it has been re-seeded (redis-recovery.ts). */
  health(): 'up' | 'down';
  /** GDPR erasure: replaces the tenant's keys by the facts `finalize` returns (warm.ts, erase.ts rebuildTenant). */
  resetTenant?(tenant: number, day: string, finalize: () => Fact[]): Promise<Counts>;
  close(): Promise<void>;
}

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

/** What the transports (ws, Socket.IO, REST) need from the live layer. */
export interface LiveCore {
  readonly hub: Hub;
  readonly state: LiveState;
  readonly config: Config;
  readonly log: Logger;
  now(): number;
  verify(token: string): VerifyResult;
  allowed(scope: Scope, topic: Topic): boolean;
  /** Loads what a snapshot of these topics needs (Redis counts); no-op without Redis. */
  prepare(entries: { tenant: number; topic: Topic }[]): Promise<void>;
  /** Transports register how to deliver a serialised message to a topic key's subscribers. */
  addSender(send: (key: string, message: string) => void): void;
  mintToken(scope: Exclude<Scope, { role: 'tenant' }>, ttlS: number): { token: string; expires_at: string };
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
  /** Restores from Redis, or recomputes today from the store. Call before the writer starts. */
  restore(): Promise<{ source: 'redis' | 'store'; rows?: number }>;
  /** /ws, Socket.IO and REST routes; register before the catch-all 404. */
  register(app: TemplatedApp, keys: KeyResolver): void;
  /**
   * GDPR erasure (an identity eraser): removes the person's ids from the hot state (here and, over the bus,
   * on every other node) and from Redis, keeping the live numbers. Returns what changed, by kind.
   */
  erase(ids: EraseRequest): Promise<Counts>;
  core: LiveCore;
  stats(): LiveStats;
  /** Redis for /health: 'off' without REDIS_URL. */
  redis(): 'up' | 'down' | 'off';
  close(): Promise<void>;
}

const REFRESH_MS = 5000;
/**
 * Redis is the warm tier, not the hot path: a command fails after this long (a hung Redis), and nothing fails
 * slowly while it is away (no offline queue: a command fails at once while disconnected; ioredis reconnects
 * in the background). A snapshot or flush waits for Redis' visitor counts at most PREFETCH_WAIT_MS; past it
 * the hot state's own counts serve.
 */
const REDIS_COMMAND_TIMEOUT_MS = 2000;
const PREFETCH_WAIT_MS = 500;
const ERASE = 'erase';
/** How often a Redis reset deferred by an outage checks whether Redis is back. */
const RESET_RETRY_MS = 1000;

/** An erasure another node ran (its tenant): every node rebuilds that tenant's hot state from the store. */
interface EraseMessage {
  n: string;
  t: number;
}

export async function createLive(deps: LiveDeps): Promise<Live> {
  const { config, log } = deps;
  const now = deps.now ?? Date.now;
  const secret = resolveTokenSecret(config.live.tokenSecret, config.dataDir, log);
  // Shared by every node (LIVE_TOKEN_SECRET is required with Redis), so all agree on the pseudonyms.
  const pseudo = createPseudonymizer(secret);
  const state = new LiveState(utcDay(now()));
  const owners = createOwnerClaims({ log });
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
      return { data: state.dashboardData(tenant, t.org, at), updatedAt };
    }
    const updatedAt = state.latestUpdate(tenant, t.event);
    return { data: t.kind === 'event' ? state.eventData(tenant, t.event, at) : state.capacityData(tenant, t.event, at), updatedAt };
  };
  const hub = new Hub({ build, send: (key, m) => senders.forEach((s) => s(key, m)), intervalMs: config.live.coalesceMs });

  const rollover = (at: number) => {
    const day = utcDay(at);
    if (day === state.day) return;
    log.info({ from: state.day, to: day }, 'live: new UTC day, counters start again');
    state.reset(day);
    hub.markAll();
  };

  /** Facts applied while a GDPR rebuild reads the store (erase.ts rebuildTenant). */
  const captures = new Set<Fact[]>();
  /** Applies facts to the hot state; resolves each fact's organizer and marks the ones that link it. */
  const applyFacts = (facts: Fact[]) => {
    for (const f of facts) {
      if (utcDay(f.at) !== state.day) continue;
      for (const c of captures) c.push(f);
      const touched = state.applyShared(f);
      hub.touch(touched);
      // The event moved to another organizer: the dashboard it left changes too.
      if (touched.from) hub.touch({ ...touched, org: touched.from });
    }
  };

  const touchAll = (facts: Fact[]) => {
    for (const f of facts) hub.touch({ tenant: f.tenant, event: f.event, org: f.org, capacity: false, funnel: true });
  };

  /**
   * GDPR erasure: the tenant's hot state for today recomputed from the store (and its Redis keys, `withRedis`).
   * One at a time: a rebuild that read the store before another erasure committed must not swap in after it.
   */
  let rebuilding: Promise<unknown> = Promise.resolve();
  const rebuild = (tenant: number, withRedis: boolean): Promise<Counts> => {
    const run = rebuilding.then(() => rebuildOnce(tenant, withRedis));
    rebuilding = run.catch(() => undefined);
    return run;
  };
  /**
   * Tenants erased while Redis was away: Redis' re-seed only adds (HyperLogLog union, counters by maximum), so
   * their keys are reset from the store once it reports up again.
   */
  const resetLater = new Set<number>();
  let resetTimer: NodeJS.Timeout | null = null;
  const retryResets = () => {
    if (resetTimer || !mirror) return;
    const m = mirror;
    resetTimer = setInterval(() => {
      if (!closed && m.health() !== 'up') return;
      clearInterval(resetTimer!);
      resetTimer = null;
      if (closed) return;
      for (const tenant of [...resetLater]) {
        resetLater.delete(tenant);
        rebuild(tenant, true).catch((err: Error) => {
          log.warn({ err: err.message, tenant }, 'live: deferred Redis reset failed; retrying');
          resetLater.add(tenant);
          retryResets();
        });
      }
    }, RESET_RETRY_MS);
    resetTimer.unref();
  };
  const rebuildOnce = async (tenant: number, withRedis: boolean): Promise<Counts> => {
    const m = withRedis ? mirror : null;
    // Every node rebuilds from the store: what this one kept to send again is not needed, and must not
    // bring an erased person's facts back; the store's facts are not counted again if another node sends one.
    relay?.forget(tenant);
    const counts = await rebuildTenant({
      state,
      tenant,
      recompute: (day, onFacts) =>
        recomputeDay(deps.db, day, pseudo, (facts) => {
          relay?.markSeen(facts);
          onFacts(facts);
        }),
      capture: () => {
        const list: Fact[] = [];
        captures.add(list);
        return () => {
          captures.delete(list);
          return list;
        };
      },
      resetRedis: m?.resetTenant ? (t, day, finalize) => m.resetTenant!(t, day, finalize) : undefined,
    });
    hub.markAll();
    return counts;
  };

  // Facts to and from the other nodes: sent again when a publish failed or a node missed them, applied once.
  const relay = bus ? createRelay({ bus, nodeId, log }) : null;

  const unsubscribe = bus?.subscribe((topic, msg) => {
    if (topic === ERASE) {
      const m = msg as EraseMessage;
      if (m.n === nodeId) return;
      // The erasing node already rewrote Redis; this node rebuilds its own hot state from the store.
      rebuild(m.t, false).catch((err: Error) => log.warn({ err: err.message, tenant: m.t }, 'live: rebuild after another node\'s erasure failed'));
      return;
    }
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
    for (const f of m.f) if (f.org !== null && f.os === 'secret') owners.learn(f.tenant, f.event, { org: f.org, source: 'secret' });
  });

  // After a lost Redis subscription, facts of other nodes may have been missed: the other nodes send again
  // what they shared since (applied once), and, when Redis holds the whole day, the state is reloaded from it.
  resync = (downSince) => {
    relay?.ask(downSince);
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
    verify: (token) => verifyToken(secret, token, Math.floor(now() / 1000)),
    allowed: (scope, topic) => allowed(scope, topic, (tenant, event) => state.getEvent(tenant, event)?.org),
    prepare: (entries) => prefetch(entries),
    addSender: (s) => senders.push(s),
    mintToken: (scope, ttlS) => signToken(secret, scope, ttlS, Math.floor(now() / 1000)),
  };

  let ticking = false;
  let lastRefresh = now();
  const tick = async () => {
    if (ticking) return;
    ticking = true;
    try {
      const t = now();
      rollover(t);
      if (t - lastRefresh >= REFRESH_MS) {
        lastRefresh = t;
        hub.markAll();
      }
      if (mirror) {
        const pending = hub.pending(t);
        if (pending.length > 0) {
          await prefetch(pending);
          hub.flush(now(), pending);
        }
      } else {
        hub.flush(t);
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'live: flush failed');
    } finally {
      ticking = false;
    }
  };
  // Flushes run often; the hub holds each topic to one update per LIVE_COALESCE_MS (leading + trailing edge).
  const timer = setInterval(() => void tick(), Math.max(5, Math.min(25, Math.floor(config.live.coalesceMs / 5))));
  timer.unref();

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
          if (f) facts.push(f);
        }
        if (facts.length === 0) return;
        applyFacts(facts);
        share(facts);
      } catch (err) {
        log.error({ err }, 'live: applying committed rows failed');
      }
    },
    projector: (q, rows) => owners.project(q, rows),
    async restore() {
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
    },
    async erase(ids) {
      if (closed) return {};
      // None of their deleted rows was of today (or yesterday): no live number or Redis key can hold them.
      if (!touchesLive(ids, state.day)) return { live_events_rebuilt: 0, live_facts: 0 };
      // Policy (erase.ts): the store has deleted the person's rows; the live numbers follow it.
      let counts: Counts;
      try {
        counts = await rebuild(ids.tenantId, true);
      } catch (err) {
        // The hot state was rebuilt; Redis could not be reset (down): it is, once it is back and re-seeded.
        if (!mirror) throw err;
        log.warn({ err: (err as Error).message, tenant: ids.tenantId }, 'live: Redis reset after an erasure deferred');
        resetLater.add(ids.tenantId);
        retryResets();
        counts = { redis_reset_deferred: 1 };
      }
      if (bus) {
        const m: EraseMessage = { n: nodeId, t: ids.tenantId };
        // A node that misses this keeps the person's contribution until its next restart or the day's end.
        await bus.publish(ERASE, m).catch((err: Error) => log.warn({ err: err.message }, 'live: erasure could not be sent to the other nodes'));
      }
      return counts;
    },
    register(app, keys) {
      ws = registerWs(app, core);
      if (config.live.socketIo) sio = attachSocketIo(app, core);
      registerLiveRoutes(app, { core, keys, db: deps.db });
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
      clearInterval(timer);
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
