// Facts between nodes over the bus, delivered at least once and applied once. Redis pub/sub keeps nothing:
// a publish fails while Redis is away, and a node whose subscription was down misses what others published
// meanwhile. So each node keeps what it shared recently; it sends again what failed (oldest first, once the
// bus works), and what it shared since a given time when another node asks (after that node's subscription
// came back). A receiver drops facts it has already applied (by tenant and fact id), so sending again, or a
// publish that timed out but was delivered late, never counts anything twice.
import type { Logger } from 'pino';
import type { LiveBus } from './bus.js';
import type { Fact } from './facts.js';

export const FACTS = 'facts';
export const SYNC = 'sync';

export interface FactsMessage {
  n: string;
  f: Fact[];
}

/** A node asking for what was published since `since` (epoch ms, its clock). */
export interface SyncMessage {
  n: string;
  since: number;
}

export interface RelayOptions {
  bus: LiveBus;
  nodeId: string;
  log: Logger;
  /** Wall clock (epoch ms) for "published at"; nodes' clocks may differ by up to SKEW_MS. */
  clock?: () => number;
  retryMs?: number;
  /** Facts kept to send again (failed, and recent); the oldest go beyond this. */
  maxKept?: number;
  /** Facts remembered as applied: between this and twice this many. */
  seenGeneration?: number;
}

export interface Relay {
  /** Publishes this node's facts; on failure keeps them and sends them again. */
  send(facts: Fact[]): void;
  /** Of facts from another node, those not applied yet (remembered as applied from now on). */
  fresh(facts: Fact[]): Fact[];
  /**
   * Facts this node applied from the store (a restore or a tenant's rebuild): the store holds every node's
   * rows, so another node sending one of them again must not count it twice.
   */
  markSeen(facts: Fact[]): void;
  /**
   * The hot state was just emptied and is rebuilt from the store's rows of the day (a start), while facts of
   * other nodes keep arriving: call in the same tick as the reset. Rows since `since` (epoch ms, received) are
   * ones the bus may still bring.
   */
  recompute(since: number): Recompute;
  /**
   * A tenant's hot state was rebuilt from the store on every node (GDPR erasure): what this node kept of it to
   * send again is dropped, so an erased person's facts never come back through the bus.
   */
  forget(tenant: number): void;
  /** Another node asks: sends again this node's facts shared since then (less the clock-skew margin). */
  resend(since: number): void;
  /** This node's subscription is back after going away at `since`: asks the others for what it missed. */
  ask(since: number): void;
  /**
   * This node's subscription came back after a lost connection (Redis restarted: every node was cut off): asks
   * for what it missed and sends again what it shared since. Asking alone is not enough: the node that
   * resubscribes first asks while the others are still unsubscribed, so they never hear it, yet they missed
   * what it published meanwhile. Receivers apply each fact once, so sending more is harmless.
   */
  resubscribed(since: number): void;
  close(): void;
}

/** A recompute's filter of the store's rows (bus-relay.ts recompute). */
export interface Recompute {
  /**
   * Of the rows read (`received`: each one's received_at, epoch ms), those to apply: not the ones the bus
   * delivered since the reset (the state holds them). All are remembered as applied from now on.
   */
  take(facts: Fact[], received?: number[]): Fact[];
  /** The recompute is done (or failed). */
  end(): void;
}

/** Margin for clocks of different nodes: sending a little more is harmless (receivers drop duplicates). */
export const SKEW_MS = 60_000;
/** How long this node keeps what it shared, to send it again to a node that asks. */
export const RETAIN_MS = 5 * 60_000;
const CHUNK = 500;

export function createRelay(o: RelayOptions): Relay {
  const { bus, nodeId, log } = o;
  const clock = o.clock ?? Date.now;
  const retryMs = o.retryMs ?? 1000;
  const maxKept = o.maxKept ?? 100_000;
  const generation = o.seenGeneration ?? 100_000;
  let closed = false;

  // What this node shared, with when (its clock), for resend(): the last RETAIN_MS, at most maxKept facts.
  // A subscription is down for seconds while Redis is up (longer outages fail the publishes, kept in `unsent`).
  let recent: { at: number; facts: Fact[] }[] = [];
  let recentCount = 0;
  const remember = (facts: Fact[]) => {
    const at = clock();
    recent.push({ at, facts });
    recentCount += facts.length;
    let drop = 0;
    while (drop < recent.length - 1 && (recentCount > maxKept || recent[drop].at < at - RETAIN_MS)) recentCount -= recent[drop++].facts.length;
    if (drop > 0) recent = recent.slice(drop);
  };

  // Facts whose publish failed, oldest first, and one retry loop sending them.
  let unsent: Fact[] = [];
  let retrying = false;
  // forget() while a publish is in flight: its facts of that tenant must not be kept when it fails.
  let epoch = 0;
  const forgottenAt = new Map<number, number>();
  const stillWanted = (facts: Fact[], since: number) => facts.filter((f) => (forgottenAt.get(f.tenant) ?? 0) <= since);
  const keep = (facts: Fact[], err: Error) => {
    if (unsent.length === 0) log.warn({ err: err.message }, 'live: bus publish failed; keeping the facts to send when Redis returns');
    for (const f of facts) unsent.push(f);
    if (unsent.length > maxKept) {
      log.warn({ dropped: unsent.length - maxKept }, 'live: too many unsent facts; other nodes miss the oldest until they restart');
      unsent = unsent.slice(unsent.length - maxKept);
    }
    if (!retrying) {
      retrying = true;
      setTimeout(() => void sendUnsent(), retryMs).unref();
    }
  };
  const sendUnsent = async () => {
    while (unsent.length > 0 && !closed) {
      const batch = unsent.splice(0, CHUNK);
      const at = epoch;
      try {
        await bus.publish(FACTS, { n: nodeId, f: batch } satisfies FactsMessage);
      } catch {
        // Still away: keep them in front (oldest first), less tenants forgotten meanwhile, and try again shortly.
        unsent = stillWanted(batch, at).concat(unsent);
        setTimeout(() => void sendUnsent(), retryMs).unref();
        return;
      }
    }
    retrying = false;
  };
  const publish = (facts: Fact[]) => {
    // Sent later means applied out of order by the other nodes, which changes nothing: the state is order-independent.
    const at = epoch;
    bus.publish(FACTS, { n: nodeId, f: facts } satisfies FactsMessage).catch((err: Error) => keep(stillWanted(facts, at), err));
  };

  let seen = new Set<string>();
  let seenBefore = new Set<string>();
  const keyOf = (f: Fact) => `${f.tenant}\t${f.id}`;
  /** Remembers `k` in the newest generation. */
  const note = (k: string) => {
    if (seen.has(k)) return;
    if (seen.size >= generation) {
      seenBefore = seen;
      seen = new Set();
    }
    seen.add(k);
  };
  const firstSeen = (f: Fact): boolean => {
    const k = keyOf(f);
    if (seen.has(k) || seenBefore.has(k)) return false;
    note(k);
    return true;
  };
  /**
   * While a recompute runs: the facts of other nodes applied since its reset (its rows must not apply them again),
   * and its recent rows (whose bus copies may still come). Both exactly, whatever the day's size: remembering every
   * row of a big day turns the generations over, and a fact could drop out of them between its two arrivals.
   */
  let window: { applied: Set<string>; recent: Set<string> } | null = null;
  const fresh = (facts: Fact[]): Fact[] =>
    facts.filter((f) => {
      const k = keyOf(f);
      if (window && (window.applied.has(k) || window.recent.has(k))) return false;
      if (!firstSeen(f)) return false;
      window?.applied.add(k);
      return true;
    });

  // Asking may itself fail (the publisher reconnects on its own schedule): a few tries.
  const ask = (since: number, tries = 30) => {
    if (closed) return;
    bus.publish(SYNC, { n: nodeId, since } satisfies SyncMessage).catch((err: Error) => {
      if (tries <= 1) return log.warn({ err: err.message }, 'live: could not ask the other nodes for facts missed while unsubscribed');
      setTimeout(() => ask(since, tries - 1), retryMs).unref();
    });
  };

  const resend = (since: number) => {
    if (closed) return;
    const from = since - SKEW_MS;
    const facts = recent.filter((b) => b.at >= from).flatMap((b) => b.facts);
    for (let i = 0; i < facts.length; i += CHUNK) publish(facts.slice(i, i + CHUNK));
    if (facts.length > 0) log.info({ facts: facts.length }, 'live: sent again what other nodes may have missed while unsubscribed');
  };

  return {
    send(facts) {
      if (closed || facts.length === 0) return;
      remember(facts);
      publish(facts);
    },
    fresh,
    markSeen(facts) {
      for (const f of facts) firstSeen(f);
    },
    recompute(since) {
      const w = { applied: new Set<string>(), recent: new Set<string>() };
      window = w;
      return {
        take(facts, received) {
          return facts.filter((f, i) => {
            const k = keyOf(f);
            note(k);
            if (received && received[i] >= since) w.recent.add(k);
            return !w.applied.has(k);
          });
        },
        end() {
          if (window === w) window = null;
          // Into the newest generation, after the day's rows: these are the ones another node may send again.
          for (const k of w.applied) note(k);
          for (const k of w.recent) note(k);
        },
      };
    },
    forget(tenant) {
      forgottenAt.set(tenant, ++epoch);
      unsent = unsent.filter((f) => f.tenant !== tenant);
      recent = recent.map((b) => ({ at: b.at, facts: b.facts.filter((f) => f.tenant !== tenant) })).filter((b) => b.facts.length > 0);
      recentCount = recent.reduce((n, b) => n + b.facts.length, 0);
    },
    resend,
    ask: (since) => ask(since),
    resubscribed(since) {
      ask(since);
      resend(since);
    },
    close() {
      closed = true;
    },
  };
}
