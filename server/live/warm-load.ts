// The mirror's reads at a start or a resynchronisation: today's events listed in the day index, read back in
// batches of 200 (one pipeline each) and applied to a fresh hot state. Apart from warm.ts because it is the
// only code that turns Redis' shapes back into LiveState's; false when Redis no longer holds the whole day.
import type { ChainableCommander, Redis } from 'ioredis';
import { asClaimSource } from './facts.js';
import { emptyGate } from './capacity.js';
import { CHECKOUT_WINDOW_MS, COUNTER_NAMES, type LiveState, type TickerEntry } from './state.js';
import { dayKeys, keys, type Keys } from './redis-keys.js';

/** Replies read per event, in the order queueReads asks for them. */
const READS = 7;

/** Loads the day's state into `state`; false when something expired (then the caller recomputes). */
export async function loadDay(redis: Redis, prefix: string, now: () => number, state: LiveState, day: string): Promise<boolean> {
  const members = await redis.smembers(dayKeys(prefix).events(day));
  const t = now();
  for (let i = 0; i < members.length; i += 200) {
    const batch = members.slice(i, i + 200).map((m) => {
      const tab = m.indexOf('\t');
      return { tenant: Number(m.slice(0, tab)), event: m.slice(tab + 1) };
    });
    const pl = redis.pipeline();
    for (const { tenant, event } of batch) queueReads(pl, keys(prefix, tenant), event, t);
    const res = (await pl.exec()) ?? [];
    for (let j = 0; j < batch.length; j++) {
      const r = res.slice(j * READS, j * READS + READS).map(([err, v]) => {
        if (err) throw err;
        return v;
      });
      const live = r[0] as Record<string, string>;
      if (!live.day) return false; // expired after 30 quiet minutes: the store has it, Redis no longer
      if (live.day !== day) continue;
      applyEvent(state, batch[j].tenant, batch[j].event, live, r);
    }
  }
  return true;
}

/** The READS commands that read one event's keys (checkouts and completions of the window only). */
function queueReads(pl: ChainableCommander, k: Keys, event: string, t: number): void {
  pl.hgetall(k.live(event));
  pl.zrangebyscore(k.checkouts(event), String(t - CHECKOUT_WINDOW_MS), '+inf', 'WITHSCORES');
  pl.hgetall(k.checkoutIds(event));
  pl.zrangebyscore(k.completed(event), String(t - CHECKOUT_WINDOW_MS), '+inf', 'WITHSCORES');
  pl.hgetall(k.gates(event));
  pl.zrange(k.scans(event), '0', '-1', 'WITHSCORES');
  pl.zrange(k.ticker(event), '0', '-1');
}

/** One event's replies (in queueReads' order) into the hot state. */
function applyEvent(state: LiveState, tenant: number, event: string, live: Record<string, string>, r: unknown[]): void {
  const e = state.ensureEvent(tenant, event);
  for (const n of COUNTER_NAMES) e.counters[n] = Number(live[n] ?? 0);
  for (const [f, v] of Object.entries(live)) if (f.startsWith('rev:')) e.revenue.set(f.slice(4), Number(v));
  e.venue = live.venue_id ?? null;
  e.updatedAt = Number(live.updated_at ?? 0);
  if (live.organizer_id) state.linkOrg(e, live.organizer_id, asClaimSource(live.owner_source));
  const ids = r[2] as Record<string, string>;
  for (const [key, at] of pairs(r[1] as string[])) e.checkouts.set(key, { at, ids: (ids[key] ?? '').split('\t').filter(Boolean) });
  for (const [id, at] of pairs(r[3] as string[])) e.completed.set(id, at);
  for (const [gate, json] of Object.entries(r[4] as Record<string, string>)) {
    const snap = JSON.parse(json);
    e.capacity.set(gate, { ...emptyGate(), snap, lastAt: snap.at });
  }
  for (const [m, at] of pairs(r[5] as string[])) {
    const [gate, kind] = m.split('\t');
    let g = e.capacity.get(gate);
    if (!g) e.capacity.set(gate, (g = emptyGate()));
    g.scans.push({ at, kind: kind === 'g' || kind === 'x' ? kind : 'd' });
    g.lastAt = Math.max(g.lastAt, at);
  }
  e.ticker = (r[6] as string[]).map((j) => JSON.parse(j) as TickerEntry).sort((a, b) => (a.ts === b.ts ? (a.id < b.id ? 1 : -1) : a.ts < b.ts ? 1 : -1));
}

function pairs(flat: string[]): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i], Number(flat[i + 1])]);
  return out;
}
