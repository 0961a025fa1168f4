// GDPR erasure of one person from the live layer.
//
// Policy (README, GDPR): an erasure DELETES the person's events from the store, and every number follows the
// store: history drops them at once, and so do the live numbers. rebuildTenant() recomputes the tenant's live
// state for today from the store after the erasure committed (counters, revenue, checkouts, ticker, gates
// and the unique-visitor sketches, memory and Redis HyperLogLogs alike, rebuilt without the erased visitors,
// since a sketch cannot forget one member) and swaps it in; every other node does the same on the bus.
//
// Before that policy (kept below, still used by the Redis mirror's erase of older keys): pseudonyms were
// renamed away and every number kept.
//
// The live layer only ever holds pseudonyms (pseudo.ts), so erasure first computes the person's pseudonyms
// from their raw ids, then finds every entry that names one of them, and swaps those pseudonyms for tokens
// from a one-off renamer (keyed by a random nonce nobody keeps). Renaming rather than deleting keeps every
// number the same: a renamed visitor still counts once in the exact unique-visitor sets, a checkout and the
// completion that closed it are renamed alike so it stays completed (or active), and an order in the ticker
// keeps its place. Counters and revenue never held ids. HyperLogLogs (memory and Redis) hold only registers
// derived from pseudonyms: they cannot give an id back, so nothing is done there.
//
// Carts: the person's ids name their visitors, sessions, orders and events, not their carts. A cart is found
// through a checkout that also names one of their sessions or visitors (its completion ids), or through the
// completions an order fact wrote with one of theirs (cart, session, visitor: all at the order's time).
// Renaming is applied alike to every structure, so an id taken in by mistake (another order at the very same
// millisecond) changes no number either.
import type { Fact } from './facts.js';
import type { Pseudonymizer } from './pseudo.js';
import { LiveState, tickerOrder } from './state.js';

/** The person's ids as the identity domain gathers them (its PersonIds, or any superset of these fields). */
export interface EraseRequest {
  tenantId: number;
  visitorIds: string[];
  sessionIds: string[];
  orderIds: string[];
  eventIds: string[];
}

/** What the live layer holds of one person: pseudonyms only. */
export interface ErasureTargets {
  tenant: number;
  /** Visitor pseudonyms: unique-visitor set members, the funnel streams' `v` field. */
  visitors: Set<string>;
  /** Session pseudonyms: the funnel streams' `s` field. */
  sessions: Set<string>;
  /** Event-id pseudonyms (fact ids): ticker entries, the funnel streams' `id` field, gate scans. */
  events: Set<string>;
  /** Checkout keys / completion ids (`v:`, `s:`, `c:`, `e:` + pseudonym); grows as carts are found. */
  completion: Set<string>;
}

export type Counts = Record<string, number>;

export function targetsOf(req: EraseRequest, pseudo: Pseudonymizer): ErasureTargets {
  const t = req.tenantId;
  const visitors = new Set(req.visitorIds.map((v) => pseudo(t, 'visitor', v)));
  const sessions = new Set(req.sessionIds.map((s) => pseudo(t, 'session', s)));
  const events = new Set(req.eventIds.map((e) => pseudo(t, 'event', e)));
  // Order ids appear in facts only (in flight); no structure keeps them, so they need no pseudonym here.
  const completion = new Set<string>([...[...visitors].map((v) => `v:${v}`), ...[...sessions].map((s) => `s:${s}`), ...[...events].map((e) => `e:${e}`)]);
  return { tenant: t, visitors, sessions, events, completion };
}

export const isEmpty = (t: ErasureTargets): boolean => t.visitors.size === 0 && t.sessions.size === 0 && t.events.size === 0 && t.completion.size === 0;

/** Adds the completion ids of checkouts that name one of the person's, and carts closed by their orders. */
export function expandFromState(state: LiveState, t: ErasureTargets): void {
  for (const e of state.events.values()) {
    if (e.tenant !== t.tenant) continue;
    for (const [key, c] of e.checkouts) {
      if (t.completion.has(key) || c.ids.some((id) => t.completion.has(id))) {
        t.completion.add(key);
        for (const id of c.ids) t.completion.add(id);
      }
    }
    addSameOrderIds(e.completed, t.completion);
  }
}

/** The completion ids an order writes share its time: takes in those completed when one of the person's was. */
export function addSameOrderIds(completed: Iterable<[string, number]>, completion: Set<string>): void {
  const entries = [...completed];
  const times = new Set(entries.filter(([id]) => completion.has(id)).map(([, at]) => at));
  if (times.size === 0) return;
  for (const [id, at] of entries) if (times.has(at)) completion.add(id);
}

/**
 * Renames the person's pseudonyms in the hot state of their tenant. Returns what changed, by kind:
 * checkouts, completion_ids, visitor_entries (exact unique-visitor set members), ticker_entries.
 */
export function eraseFromState(state: LiveState, t: ErasureTargets, rename: (x: string) => string): Counts {
  const counts: Counts = { checkouts: 0, completion_ids: 0, visitor_entries: 0, ticker_entries: 0 };
  const mapped = (id: string) => (t.completion.has(id) ? rename(id) : id);
  for (const e of state.events.values()) {
    if (e.tenant !== t.tenant) continue;
    const hits = [...e.checkouts].filter(([key, c]) => t.completion.has(key) || c.ids.some((id) => t.completion.has(id)));
    for (const [key] of hits) e.checkouts.delete(key);
    for (const [key, c] of hits) {
      const next = mapped(key);
      const held = e.checkouts.get(next);
      e.checkouts.set(next, held && held.at >= c.at ? held : { at: c.at, ids: c.ids.map(mapped) });
      counts.checkouts++;
    }
    const done = [...e.completed].filter(([id]) => t.completion.has(id));
    for (const [id] of done) e.completed.delete(id);
    for (const [id, at] of done) {
      const next = rename(id);
      e.completed.set(next, Math.max(e.completed.get(next) ?? -Infinity, at));
      counts.completion_ids++;
    }
    for (const v of t.visitors) if (e.uv.replace(v, rename(v))) counts.visitor_entries++;
    let ticker = false;
    for (const entry of e.ticker) {
      if (!t.events.has(entry.id)) continue;
      entry.id = rename(entry.id);
      counts.ticker_entries++;
      ticker = true;
    }
    if (ticker) e.ticker.sort(tickerOrder);
  }
  for (const o of state.orgs.values()) {
    if (o.tenant !== t.tenant) continue;
    for (const v of t.visitors) if (o.uv.replace(v, rename(v))) counts.visitor_entries++;
  }
  return counts;
}

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
 * the recompute already read them (same fact id), so nothing is lost or counted twice. Holds the tenant's
 * facts of the day in memory for the Redis rewrite. Returns what was rebuilt, by kind.
 */
export async function rebuildTenant(d: RebuildDeps): Promise<Counts> {
  const { state, tenant } = d;
  const day = state.day;
  const fresh = new LiveState(day);
  const facts: Fact[] = [];
  const seen = new Set<string>();
  const take = (f: Fact) => {
    if (f.tenant !== tenant || seen.has(f.id) || new Date(f.at).toISOString().slice(0, 10) !== day) return;
    seen.add(f.id);
    // A copy: applyShared annotates the fact (organizer, link), and the captured one is the hot state's.
    const own = { ...f };
    delete own.link;
    delete own.from;
    fresh.applyShared(own);
    facts.push(own);
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
  return { live_events_rebuilt: [...fresh.events.values()].filter((e) => e.tenant === tenant).length, live_facts: facts.length, ...counts };
}
