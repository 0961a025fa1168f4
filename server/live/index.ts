// The live layer: committed rows → hot state → coalesced topic updates over /ws, Socket.IO and REST.
// With REDIS_URL the state is mirrored in Redis (warm.ts) and nodes exchange facts over Redis pub/sub
// (bus-redis.ts), so every node holds the combined numbers and pushes them to its own subscribers.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { KeyResolver } from '../http/auth.js';
import type { TemplatedApp } from '../http/uws.js';
import type { Db } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import type { LiveBus } from './bus.js';
import { toFact, utcDay, type Fact } from './facts.js';
import { Hub, type Built, type TopicEntry } from './hub.js';
import { recomputeDay } from './recompute.js';
import { registerLiveRoutes } from './routes.js';
import { LiveState } from './state.js';
import { resolveTokenSecret, signToken, verifyToken, type Scope, type VerifyResult } from './token.js';
import { allowed, type Topic } from './topics.js';
import { registerWs, type WsServer } from './ws.js';

export type { LiveBus } from './bus.js';
export type { Topic } from './topics.js';

/** Redis mirror of the hot state (warm.ts); absent on a single node without Redis. */
export interface Mirror {
  /** Queues facts for the next pipelined flush; `onFlushed` runs once they are in Redis. */
  write(facts: Fact[], onFlushed: () => void): void;
  /** Loads today's state; false when Redis holds nothing for today. */
  restore(state: LiveState, day: string): Promise<boolean>;
  /** Writes a whole (recomputed) state. */
  seed(state: LiveState, day: string): Promise<void>;
  /** Reads the unique-visitor counts (PFCOUNT) these topics need into the state's uvSource. */
  prefetch(entries: { tenant: number; topic: Topic }[]): Promise<void>;
  close(): Promise<void>;
}

export interface LiveDeps {
  config: Config;
  db: Db;
  log: Logger;
  /** Injected clock (epoch ms). */
  now?: () => number;
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
  /** Makes sure what a snapshot of these topics needs is loaded (Redis counts). */
  prepare(entries: { tenant: number; topic: Topic }[]): Promise<void>;
  /** Transports register how to deliver a serialised message to a topic key's subscribers. */
  addSender(send: (key: string, message: string) => void): void;
  mintToken: (scope: Exclude<Scope, { role: 'tenant' }>, ttlS: number) => { token: string; expires_at: string };
}

export interface Live {
  /** Feed: rows newly committed to the store (the writer's onCommitted). */
  onCommitted(rows: EventRow[]): void;
  /** Restores from Redis, or recomputes today from the store. Call before the writer starts. */
  restore(): Promise<{ source: 'redis' | 'store'; rows?: number }>;
  /** /ws, Socket.IO and REST routes; register before the catch-all 404. */
  register(app: TemplatedApp, keys: KeyResolver): void;
  core: LiveCore;
  stats(): { topics: number; subscribers: number; sockets: number; sent: number };
  close(): Promise<void>;
}

const REFRESH_MS = 5000;
const FACTS = 'facts';

export async function createLive(deps: LiveDeps): Promise<Live> {
  const { config, log } = deps;
  const now = deps.now ?? Date.now;
  const secret = resolveTokenSecret(config.live.tokenSecret, config.dataDir, log);
  const state = new LiveState(utcDay(now()));
  const mirror = deps.mirror ?? null;
  const bus = deps.bus ?? null;
  const nodeId = crypto.randomBytes(8).toString('hex');
  const senders: ((key: string, message: string) => void)[] = [];

  const build = (tenant: number, t: Topic, at: number): Built => {
    if (t.kind === 'dashboard') {
      const o = state.getOrg(tenant, t.org);
      let updatedAt = 0;
      for (const id of o?.events ?? []) updatedAt = Math.max(updatedAt, state.latestUpdate(tenant, id));
      return { data: state.dashboardData(tenant, t.org, at), updatedAt };
    }
    const updatedAt = state.latestUpdate(tenant, t.event);
    return { data: t.kind === 'event' ? state.eventData(tenant, t.event, at) : state.capacityData(tenant, t.event, at), updatedAt };
  };
  const hub = new Hub({ build, send: (key, m) => senders.forEach((s) => s(key, m)) });

  const rollover = (at: number) => {
    const day = utcDay(at);
    if (day === state.day) return;
    log.info({ from: state.day, to: day }, 'live: new UTC day, counters start again');
    state.reset(day);
    hub.markAll();
  };

  const applyFacts = (facts: Fact[]) => {
    for (const f of facts) {
      if (f.at !== undefined && utcDay(f.at) !== state.day) continue;
      hub.touch(state.apply(f));
    }
  };

  // Facts committed on other nodes.
  const unsubscribe = bus?.subscribe((topic, msg) => {
    if (topic !== FACTS) return;
    const m = msg as { n: string; f: Fact[] };
    if (m.n === nodeId) return;
    rollover(now());
    applyFacts(m.f);
  });

  const core: LiveCore = {
    hub,
    state,
    config,
    log,
    now,
    verify: (token) => verifyToken(secret, token, Math.floor(now() / 1000)),
    allowed: (scope, topic) => allowed(scope, topic, (tenant, event) => state.getEvent(tenant, event)?.org),
    prepare: async (entries) => {
      if (mirror) await mirror.prefetch(entries);
    },
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
      if (mirror) await mirror.prefetch(hub.pending());
      hub.flush(now());
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'live: flush failed');
    } finally {
      ticking = false;
    }
  };
  const timer = setInterval(() => void tick(), config.live.coalesceMs);
  timer.unref();

  let ws: WsServer | null = null;
  let extraClose: (() => Promise<void>)[] = [];

  return {
    core,
    onCommitted(rows) {
      const t = now();
      rollover(t);
      const facts: Fact[] = [];
      for (const r of rows) {
        const f = toFact(r, state.day);
        if (f) facts.push(f);
      }
      if (facts.length === 0) return;
      applyFacts(facts);
      if (mirror) {
        // Other nodes hear about the facts once Redis holds them, so their PFCOUNTs include them.
        mirror.write(facts, () => {
          for (const f of facts) hub.touch({ tenant: f.tenant, event: f.event, org: state.getEvent(f.tenant, f.event)?.org ?? null, capacity: false, funnel: true });
          bus?.publish(FACTS, { n: nodeId, f: facts }).catch((err: Error) => log.warn({ err: err.message }, 'live: bus publish failed'));
        });
      } else if (bus) {
        bus.publish(FACTS, { n: nodeId, f: facts }).catch((err: Error) => log.warn({ err: err.message }, 'live: bus publish failed'));
      }
    },
    async restore() {
      const day = utcDay(now());
      state.reset(day);
      if (mirror && (await mirror.restore(state, day))) {
        log.info({ events: state.events.size }, 'live: state restored from Redis');
        return { source: 'redis' };
      }
      let n = 0;
      const t0 = Date.now();
      n = await recomputeDay(deps.db, day, applyFacts);
      log.info({ rows: n, events: state.events.size, ms: Date.now() - t0 }, 'live: state recomputed from the store');
      if (mirror) await mirror.seed(state, day);
      return { source: 'store', rows: n };
    },
    register(app, keys) {
      ws = registerWs(app, core);
      registerLiveRoutes(app, { core, keys });
    },
    stats() {
      let subscribers = 0;
      let topics = 0;
      for (const e of hub.entries.values()) {
        if (e.subs > 0) topics++;
        subscribers += e.subs;
      }
      return { topics, subscribers, sockets: ws?.sockets() ?? 0, sent: hub.sent };
    },
    async close() {
      clearInterval(timer);
      unsubscribe?.();
      ws?.close();
      for (const c of extraClose) await c();
      extraClose = [];
      await mirror?.close();
      await bus?.close();
    },
  };
}

export type { TopicEntry };
