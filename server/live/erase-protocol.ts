// How a GDPR erasure runs across the live layer (the policy and the rebuild itself: erase.ts). The erasing node
// rebuilds the tenant's hot state for today from the store and resets its Redis keys, then tells the other
// nodes on the bus (ERASE), and each of them rebuilds its own hot state from the store (Redis is done).
// Rebuilds run one at a time: one that read the store before another erasure committed must not swap in
// after it. When Redis is away, its reset waits until Redis answers again (its re-seed only adds).
// Redis pub/sub keeps nothing: an ERASE that could not be published is published again until it goes out, and
// a node that could not hear it (its bus subscription or its Redis was away) catches up once it is back
// (catchUp): the erasures are in the store (gdpr_erasures), so it rebuilds every tenant erased since it went
// away, and, when its re-seed after the outage pushed its hot state into Redis (redis-recovery.ts), resets their
// Redis keys too before Redis counts as up again.
import type { Logger } from 'pino';
import { ERASURE_MARGIN_MS } from '../gdpr/erased.js';
import type { Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import type { LiveBus } from './bus.js';
import type { Relay } from './bus-relay.js';
import type { Mirror } from './core.js';
import { rebuildTenant, touchesLive, type Counts, type EraseRequest } from './erase.js';
import type { Fact } from './facts.js';
import type { Hub } from './hub.js';
import type { LiveState } from './state.js';

const Q = queries('live.sql', ['erased_tenants_since']);

/** The bus topic of erasures. */
export const ERASE = 'erase';
/** How often a Redis reset deferred by an outage checks whether Redis is back. */
export const RESET_RETRY_MS = 1000;

/** An erasure another node ran (its tenant): every node rebuilds that tenant's hot state from the store. */
export interface EraseMessage {
  n: string;
  t: number;
}

export interface EraseProtocolDeps {
  state: LiveState;
  hub: Pick<Hub, 'markAll'>;
  /** Today's facts from the store, page by page (recompute.ts recomputeDay). */
  recompute: (day: string, onFacts: (facts: Fact[]) => void) => Promise<unknown>;
  mirror: Mirror | null;
  bus: LiveBus | null;
  relay: Relay | null;
  nodeId: string;
  log: Logger;
  /** The store, for the erasures a node cut off from the bus may have missed (gdpr_erasures); none: no catch-up. */
  db?: Queryable;
  resetRetryMs?: number;
}

export interface EraseProtocol {
  /** Every fact applied to the hot state passes here: a rebuild reading the store meanwhile replays it. */
  record(f: Fact): void;
  /** Erases a person from the live layer (this node, Redis, and over the bus every other node). */
  erase(ids: EraseRequest): Promise<Counts>;
  /** An ERASE message from the bus (this node's own are ignored). */
  onMessage(msg: EraseMessage): void;
  /**
   * This node may have missed ERASE messages since `since` (epoch ms, its clock): its Redis or its bus
   * subscription was away. Rebuilds from the store every tenant erased since then (less ERASURE_MARGIN_MS:
   * an erasure is dated when it starts, and clocks differ), with `withRedis` also their Redis keys. Resolves
   * with how many tenants were rebuilt; rejects when the store or Redis failed (the caller tries again).
   */
  catchUp(since: number, withRedis: boolean): Promise<number>;
  /** The bus subscription is back after going away at `since`: catchUp without Redis, tried until it succeeds. */
  resubscribed(since: number): void;
  close(): void;
}

export function createEraseProtocol(d: EraseProtocolDeps): EraseProtocol {
  const { state, hub, mirror, bus, relay, nodeId, log } = d;
  let closed = false;

  /** Facts applied while a GDPR rebuild reads the store (erase.ts rebuildTenant). */
  const captures = new Set<Fact[]>();

  let rebuilding: Promise<unknown> = Promise.resolve();
  /**
   * Rebuilds asked for but not started yet, by tenant: another ask joins it (it reads the store after both
   * asks), with Redis if either wants it. An ERASE heard and a catch-up after an outage then rebuild once.
   */
  const waiting = new Map<number, { withRedis: boolean; run: Promise<Counts> }>();
  const rebuild = (tenant: number, withRedis: boolean): Promise<Counts> => {
    const queued = waiting.get(tenant);
    if (queued) {
      queued.withRedis ||= withRedis;
      return queued.run;
    }
    const entry = { withRedis, run: Promise.resolve<Counts>({}) };
    entry.run = rebuilding.then(() => {
      waiting.delete(tenant);
      return rebuildOnce(tenant, entry.withRedis);
    });
    waiting.set(tenant, entry);
    // The chain only orders the rebuilds; each caller handles its own failure.
    rebuilding = entry.run.catch(() => undefined);
    return entry.run;
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
        d.recompute(day, (facts) => {
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
    }, d.resetRetryMs ?? RESET_RETRY_MS);
    resetTimer.unref();
  };

  /** Tenants whose ERASE could not be published (Redis away): published again until it goes out. */
  const unsent = new Set<number>();
  let publishTimer: NodeJS.Timeout | null = null;
  const publish = async (tenant: number): Promise<void> => {
    if (!bus || closed) return;
    const m: EraseMessage = { n: nodeId, t: tenant };
    try {
      await bus.publish(ERASE, m);
    } catch (err) {
      if (!unsent.has(tenant)) log.warn({ err: (err as Error).message, tenant }, 'live: erasure could not be sent to the other nodes; sending it again');
      unsent.add(tenant);
      publishLater();
    }
  };
  const publishLater = () => {
    if (publishTimer || closed) return;
    publishTimer = setTimeout(() => {
      publishTimer = null;
      const tenants = [...unsent];
      unsent.clear();
      // A failure puts the tenant back and sets the timer again.
      for (const t of tenants) void publish(t);
    }, d.resetRetryMs ?? RESET_RETRY_MS);
    publishTimer.unref();
  };

  const catchUp = async (since: number, withRedis: boolean): Promise<number> => {
    if (closed || !d.db) return 0;
    const { rows } = await d.db.query<{ tenant_id: string }>(Q.erased_tenants_since, [new Date(since - ERASURE_MARGIN_MS)]);
    const tenants = rows.map((r) => Number(r.tenant_id));
    if (tenants.length === 0) return 0;
    log.info({ tenants: tenants.length, redis: withRedis }, 'live: rebuilding from the store the tenants erased while this node was cut off');
    // Every rebuild is awaited, and the first failure reported: the caller tries them all again.
    const runs = await Promise.allSettled(tenants.map((t) => rebuild(t, withRedis)));
    const failed = runs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return tenants.length;
  };

  const resubscribed = (since: number) => {
    if (closed) return;
    catchUp(since, false).catch((err: Error) => {
      log.warn({ err: err.message }, 'live: catching up on erasures after a reconnect failed; retrying');
      setTimeout(() => resubscribed(since), d.resetRetryMs ?? RESET_RETRY_MS).unref();
    });
  };

  return {
    record(f) {
      for (const c of captures) c.push(f);
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
      // Sent again until it goes out; a node not subscribed meanwhile catches up from the store (catchUp).
      await publish(ids.tenantId);
      return counts;
    },
    onMessage(m) {
      if (m.n === nodeId) return;
      // The erasing node already rewrote Redis; this node rebuilds its own hot state from the store.
      rebuild(m.t, false).catch((err: Error) => log.warn({ err: err.message, tenant: m.t }, "live: rebuild after another node's erasure failed"));
    },
    catchUp,
    resubscribed,
    close() {
      closed = true;
      if (resetTimer) clearInterval(resetTimer);
      resetTimer = null;
      if (publishTimer) clearTimeout(publishTimer);
      publishTimer = null;
    },
  };
}
