// How a GDPR erasure runs across the live layer (the policy and the rebuild itself: erase.ts). The erasing node
// rebuilds the tenant's hot state for today from the store and resets its Redis keys, then tells the other
// nodes on the bus (ERASE), and each of them rebuilds its own hot state from the store (Redis is done).
// Rebuilds run one at a time: one that read the store before another erasure committed must not swap in
// after it. When Redis is away, its reset waits until Redis answers again (its re-seed only adds).
import type { Logger } from 'pino';
import type { LiveBus } from './bus.js';
import type { Relay } from './bus-relay.js';
import type { Mirror } from './core.js';
import { rebuildTenant, touchesLive, type Counts, type EraseRequest } from './erase.js';
import type { Fact } from './facts.js';
import type { Hub } from './hub.js';
import type { LiveState } from './state.js';

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
  resetRetryMs?: number;
}

export interface EraseProtocol {
  /** Every fact applied to the hot state passes here: a rebuild reading the store meanwhile replays it. */
  record(f: Fact): void;
  /** Erases a person from the live layer (this node, Redis, and over the bus every other node). */
  erase(ids: EraseRequest): Promise<Counts>;
  /** An ERASE message from the bus (this node's own are ignored). */
  onMessage(msg: EraseMessage): void;
  close(): void;
}

export function createEraseProtocol(d: EraseProtocolDeps): EraseProtocol {
  const { state, hub, mirror, bus, relay, nodeId, log } = d;
  let closed = false;

  /** Facts applied while a GDPR rebuild reads the store (erase.ts rebuildTenant). */
  const captures = new Set<Fact[]>();

  let rebuilding: Promise<unknown> = Promise.resolve();
  const rebuild = (tenant: number, withRedis: boolean): Promise<Counts> => {
    const run = rebuilding.then(() => rebuildOnce(tenant, withRedis));
    // The chain only orders the rebuilds; each caller handles its own failure.
    rebuilding = run.catch(() => undefined);
    return run;
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
      if (bus) {
        const m: EraseMessage = { n: nodeId, t: ids.tenantId };
        // A node that misses this keeps the person's contribution until its next restart or the day's end.
        await bus.publish(ERASE, m).catch((err: Error) => log.warn({ err: err.message }, 'live: erasure could not be sent to the other nodes'));
      }
      return counts;
    },
    onMessage(m) {
      if (m.n === nodeId) return;
      // The erasing node already rewrote Redis; this node rebuilds its own hot state from the store.
      rebuild(m.t, false).catch((err: Error) => log.warn({ err: err.message, tenant: m.t }, "live: rebuild after another node's erasure failed"));
    },
    close() {
      closed = true;
      if (resetTimer) clearInterval(resetTimer);
      resetTimer = null;
    },
  };
}
