// The mirror's writes: a batch of facts as the pipelined Redis commands that add them to the warm state
// (counters, visitor HLLs and their exact sets, funnel stream, checkouts, completions, gates, ticker, organizer sets, day
// indexes). Only command building, on a pipeline the caller executes: the flush loop and the GDPR tenant reset
// (warm.ts) send the same commands, and the key layout itself is in redis-keys.ts.
import type { ChainableCommander } from 'ioredis';
import { scanKind, SOURCE_RANK, toMilli, utcDay, type Fact } from './facts.js';
import { checkoutKey, completionIds, counterDeltas, safeAdd, TICKER_SIZE, type TickerEntry } from './state.js';
import { dayKeys, dayTtlS, DAY_TTL_S, eventKeys, keys, orgKeys, STREAM_MAX } from './redis-keys.js';
import { EXACT_LIMIT } from './uniq.js';

// The Lua scripts (txDay, txCount, txSnap, txMax, txOwner, txUnlink, txUv, txUvCount) are in lua/*.lua, each
// with its KEYS/ARGV header.
export interface Scripted {
  txOwner(k: string, org: string, source: string): ChainableCommander;
  txUnlink(events: string, uv: string, uvExact: string, event: string, uvPrefix: string, limit: number): ChainableCommander;
  /** Visitors into an HLL and its exact SET (numKeys = 2 + 2 per merged pair; then EXACT_LIMIT, the visitors). */
  txUv(numKeys: number, ...args: (string | number)[]): ChainableCommander;
  txUvCount(uv: string, uvExact: string): ChainableCommander;
  txDay(numKeys: number, ...args: (string | number)[]): ChainableCommander;
  /** An event's day, counters and funnel steps, each fact once while the day is being seeded (lua/count.lua). */
  txCount(numKeys: number, ...args: (string | number)[]): ChainableCommander;
  txSnap(k1: string, k2: string, lane: string, at: number, json: string, now: number): ChainableCommander;
  txMax(k: string, field: string, value: number): ChainableCommander;
}

/** The facts of one organizer in a batch: its visitors, its events and the events newly linked to it. */
interface OrgGroup {
  tenant: number;
  org: string;
  day: string;
  visitors: Set<string>;
  events: Set<string>;
  links: Set<string>;
}

/**
 * Queues on `pl` the commands that write `facts` to the mirror under `prefix` (events first, then organizers).
 * `dedup(f)`: while the day is being seeded, f counts only if no other write counted it (by id, lua/count.lua);
 * false for the seeder's rows too old to race with any node's write, and for a tenant's reset (written as is).
 */
export function writeFacts(pl: ChainableCommander, facts: Fact[], prefix: string, now: () => number, dedup: (f: Fact) => boolean = () => true): void {
  const s = pl as ChainableCommander & Scripted;
  const idx = dayKeys(prefix).events;
  const orgIdx = dayKeys(prefix).orgs;
  const byEvent = new Map<string, Fact[]>();
  const orgs = new Map<string, OrgGroup>();
  // A batch may hold facts of two days (queued across midnight, or the next day's first fact dated just ahead of
  // it): each goes to its own day's keys, the earlier day first, so the keys end with the later day (lua/day.lua
  // starts it) and none of its facts is added to the day before's. The sort is stable: a day keeps its order.
  const dated = facts.map((f) => ({ f, day: utcDay(f.at) })).sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
  const days = new Set<string>();
  for (const { f, day } of dated) {
    const k = `${f.tenant}\t${f.event}\t${day}`;
    const list = byEvent.get(k);
    if (list) list.push(f);
    else byEvent.set(k, [f]);
    days.add(day);
    if (f.org !== null) {
      const ok = `${f.tenant}\t${f.org}\t${day}`;
      let g = orgs.get(ok);
      if (!g) orgs.set(ok, (g = { tenant: f.tenant, org: f.org, day, visitors: new Set(), events: new Set(), links: new Set() }));
      if (f.visitor) g.visitors.add(f.visitor);
      g.events.add(f.event);
      if (f.link) g.links.add(f.event);
    }
  }
  // Day by day, an organizer after its events (a link merges the event's visitors of that day into it).
  for (const day of days) {
    for (const list of byEvent.values()) if (utcDay(list[0].at) === day) writeEvent(s, list, prefix, now, dedup);
    for (const g of orgs.values()) if (g.day === day) writeOrg(s, g, prefix, now);
  }
  // Events that moved away from an organizer (after the writes above, which may still name it).
  for (const f of facts) {
    if (!f.from) continue;
    const k = keys(prefix, f.tenant);
    s.txUnlink(k.orgEvents(f.from), k.orgUv(f.from), k.orgUvExact(f.from), f.event, `${prefix}${f.tenant}:analytics:event:`, EXACT_LIMIT);
  }
  for (const day of days) {
    pl.expire(idx(day), DAY_TTL_S);
    pl.expire(orgIdx(day), DAY_TTL_S);
  }
}

/**
 * One fact's part of txCount's ARGV (lua/count.lua): its member of the day's SET ('' = never deduplicated), funnel
 * step, at, visitor, session, id, then its counter increments (revenue in thousandths).
 */
function countArgs(f: Fact, dedup: boolean): (string | number)[] {
  const step = f.kind !== 'touch' && f.kind !== 'grant' && f.kind !== 'deny' && f.kind !== 'snapshot' ? f.kind : '';
  const pairs: (string | number)[] = [];
  for (const [n, v] of Object.entries(counterDeltas(f))) if (v !== 0) pairs.push(n, v);
  if (f.kind === 'order') {
    const milli = safeAdd(0, toMilli(f.amount ?? 0));
    if (milli !== 0) pairs.push(`rev:${f.currency ?? 'XXX'}`, milli);
  }
  return [dedup ? `${f.tenant}\t${f.id}` : '', step, f.at, f.visitor ?? '', f.session ?? '', f.id, pairs.length / 2, ...pairs];
}

/** One event's facts of the batch (all of one tenant, event and day). */
function writeEvent(s: ChainableCommander & Scripted, list: Fact[], prefix: string, now: () => number, dedup: (f: Fact) => boolean): void {
  const pl: ChainableCommander = s;
  const dk = dayKeys(prefix);
  const { tenant, event } = list[0];
  const d = new Date(list[0].at).toISOString().slice(0, 10);
  const k = keys(prefix, tenant);
  const all = eventKeys(k, event);
  // First: it starts the event's day (as txDay) before the writes below add to its keys.
  const rest = all.filter((key) => key !== k.live(event) && key !== k.funnel(event));
  s.txCount(4 + rest.length, k.live(event), k.funnel(event), dk.seeding(d), dk.seedSeen(d), ...rest, d, STREAM_MAX, ...list.flatMap((f) => countArgs(f, dedup(f))));
  const meta: Record<string, string> = {};
  let owner: Fact | null = null;
  let updated = 0;
  const visitors = new Set<string>();
  for (const f of list) {
    if (f.org && (owner === null || SOURCE_RANK[f.os ?? 'public'] >= SOURCE_RANK[owner.os ?? 'public'])) owner = f;
    if (f.venue) meta.venue_id = f.venue;
    updated = Math.max(updated, f.at);
    if (f.visitor) visitors.add(f.visitor);
    switch (f.kind) {
      case 'checkout': {
        const key = checkoutKey(f);
        pl.zadd(k.checkouts(event), 'GT', f.at, key);
        pl.hset(k.checkoutIds(event), key, completionIds(f).join('\t'));
        break;
      }
      case 'order': {
        for (const id of completionIds(f)) pl.zadd(k.completed(event), 'GT', f.at, id);
        const cur = f.currency ?? 'XXX';
        const t: TickerEntry = { ts: new Date(f.at).toISOString(), event_id: event, tickets: f.tickets ?? 0, amount: f.amount ?? 0, currency: cur, ...(f.cat ? { category: f.cat } : {}), id: f.id };
        pl.zadd(k.ticker(event), f.at, JSON.stringify(t));
        break;
      }
      case 'grant':
      case 'deny':
        pl.zadd(k.scans(event), f.at, `${f.gate}\t${scanKind(f)}\t${f.id}`);
        break;
      case 'snapshot': {
        s.txSnap(k.gates(event), k.scans(event), f.gate!, f.at, JSON.stringify({ ...f.snap, at: f.at }), now());
        break;
      }
    }
  }
  if (list.some((f) => f.kind === 'order')) pl.zremrangebyrank(k.ticker(event), 0, -(TICKER_SIZE + 1));
  if (Object.keys(meta).length > 0) pl.hset(k.live(event), meta);
  if (owner) s.txOwner(k.live(event), owner.org!, owner.os ?? 'public');
  s.txMax(k.live(event), 'updated_at', updated);
  if (visitors.size > 0) s.txUv(2, k.uv(event), k.uvExact(event), EXACT_LIMIT, ...visitors);
  for (const key of all) pl.expire(key, dayTtlS(d, now()));
  pl.sadd(dk.events(d), `${tenant}\t${event}`);
}

/** One organizer's part of the batch: its day marker, visitors, events and the visitors of newly linked events. */
function writeOrg(s: ChainableCommander & Scripted, g: OrgGroup, prefix: string, now: () => number): void {
  const pl: ChainableCommander = s;
  const { day } = g;
  const orgIdx = dayKeys(prefix).orgs;
  const k = keys(prefix, g.tenant);
  const all = orgKeys(k, g.org);
  s.txDay(all.length, ...all, day);
  // The batch's visitors and, for an event linked to its organizer now, what it saw before: one union.
  const merged = [...g.links].flatMap((e) => [k.uv(e), k.uvExact(e)]);
  if (g.visitors.size > 0 || merged.length > 0) s.txUv(2 + merged.length, k.orgUv(g.org), k.orgUvExact(g.org), ...merged, EXACT_LIMIT, ...g.visitors);
  pl.sadd(k.orgEvents(g.org), ...g.events);
  for (const key of all) pl.expire(key, dayTtlS(day, now()));
  pl.sadd(orgIdx(day), `${g.tenant}\t${g.org}`);
}
