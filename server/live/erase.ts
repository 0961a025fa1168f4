// GDPR erasure of one person from the live layer.
//
// Policy (README, GDPR): an erasure DELETES the person's events from the store, and every number follows the
// store: history drops them at once, and so do the live numbers. rebuildTenant() recomputes the tenant's live
// state for today from the store after the erasure committed (counters, revenue, checkouts, ticker, gates
// and the unique-visitor sketches, memory and Redis HyperLogLogs alike, rebuilt without the erased visitors,
// since a sketch cannot forget one member; the exact visitor SETs beside Redis' HyperLogLogs are deleted and
// rebuilt with them, so an erased visitor leaves the exact count too) and swaps it in; every other node does
// the same on the bus.
//
// Why not rename: the live layer only holds pseudonyms (pseudo.ts), and renaming the person's away kept
// every number, but then live numbers disagreed with the store, which deleted the rows, and the HyperLogLogs
// still answered "already counted" for the erased visitors. One policy, everywhere: delete.
import type { Fact } from './facts.js';
import { LiveState } from './state.js';

/** The person's ids as the identity domain gathers them (its PersonIds, or any superset of these fields). */
export interface EraseRequest {
  tenantId: number;
  visitorIds: string[];
  sessionIds: string[];
  orderIds: string[];
  eventIds: string[];
  /** UTC days of the person's deleted events; absent: unknown (then the live state is always rebuilt). */
  eventDays?: string[];
}

/**
 * Whether an erasure can have changed the live layer: it holds today, and Redis may still hold yesterday's
 * keys for up to 30 minutes after their last write (the reset deletes every key of the tenant).
 */
export function touchesLive(ids: EraseRequest, today: string): boolean {
  if (!ids.eventDays) return true;
  const yesterday = new Date(Date.parse(`${today}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  return ids.eventDays.includes(today) || ids.eventDays.includes(yesterday);
}

export type Counts = Record<string, number>;

/** Replaces everything `state` holds for `tenant` (events and organizers) with what `fresh` holds. */
export function swapTenant(state: LiveState, fresh: LiveState, tenant: number): void {
  for (const [k, e] of state.events) if (e.tenant === tenant) state.events.delete(k);
  for (const [k, o] of state.orgs) if (o.tenant === tenant) state.orgs.delete(k);
  for (const [k, e] of fresh.events) if (e.tenant === tenant) state.events.set(k, e);
  for (const [k, o] of fresh.orgs) if (o.tenant === tenant) state.orgs.set(k, o);
}

export interface RebuildDeps {
  state: LiveState;
  tenant: number;
  /** Today's facts from the store, page by page (recomputeDay, the same path a restart takes). */
  recompute: (day: string, onFacts: (facts: Fact[]) => void) => Promise<unknown>;
  /** Starts recording the facts applied to `state` meanwhile; the returned function stops and returns them. */
  capture: () => () => Fact[];
  /**
   * The Redis mirror's reset of the tenant: holds new writes, deletes every key of the tenant, calls
   * `finalize` (synchronously, so no fact slips between) and writes the facts it returns in their place.
   */
  resetRedis?: (tenant: number, day: string, finalize: () => Fact[]) => Promise<Counts>;
}

/**
 * Recomputes the tenant's live state for today from the store and swaps it in (memory), then rewrites its
 * Redis keys from the same facts. Facts committed while the store is read are captured and replayed unless
 * the recompute already read them (same fact id), so nothing is lost or counted twice. With Redis, holds the
 * tenant's facts of the day in memory for the rewrite. Returns what was rebuilt, by kind.
 */
export async function rebuildTenant(d: RebuildDeps): Promise<Counts> {
  const { state, tenant } = d;
  const day = state.day;
  const fresh = new LiveState(day, state.options);
  // Kept only for the Redis rewrite: without Redis the tenant's day is never held in memory twice.
  const facts: Fact[] = [];
  let applied = 0;
  const seen = new Set<string>();
  const take = (f: Fact) => {
    if (f.tenant !== tenant || seen.has(f.id) || new Date(f.at).toISOString().slice(0, 10) !== day) return;
    seen.add(f.id);
    // A copy: applyShared annotates the fact (organizer, link), and the captured one is the hot state's.
    const own = { ...f };
    delete own.link;
    delete own.from;
    fresh.applyShared(own);
    applied++;
    if (d.resetRedis) facts.push(own);
  };
  const stop = d.capture();
  let stopped: Fact[] | null = null;
  const finalize = (): Fact[] => {
    if (stopped === null) {
      stopped = stop();
      for (const f of stopped) take(f);
      // The day rolled over meanwhile: the reset already emptied the state; nothing to swap in.
      if (state.day === day) swapTenant(state, fresh, tenant);
    }
    return facts;
  };
  try {
    await d.recompute(day, (page) => page.forEach(take));
  } catch (err) {
    stop();
    throw err;
  }
  let counts: Counts = {};
  try {
    if (d.resetRedis) counts = await d.resetRedis(tenant, day, finalize);
  } finally {
    // Also when Redis failed: the hot state is rebuilt all the same (the caller reports the Redis error).
    finalize();
  }
  return { live_events_rebuilt: [...fresh.events.values()].filter((e) => e.tenant === tenant).length, live_facts: applied, ...counts };
}
