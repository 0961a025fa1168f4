// Gate capacity from scanner events. Pure; `now` is always passed in.
//
// Per gate: the newest `capacity_snapshot` (by occurred_at) is the base — a late, older snapshot never
// replaces it — and `entry_granted` / `entry_denied` that occurred after it are added on top. Scans at or
// before the base are already inside its totals. The result does not depend on arrival order, so the live
// numbers and a recompute from the store in occurred_at order agree.
import type { GateSnapshot } from './facts.js';

export const RATE_WINDOW_MS = 60_000;
/** Safety cap for gates that never send snapshots: the oldest scans are folded into a base count. */
const MAX_SCANS = 200_000;

export interface Scan {
  at: number;
  kind: 'g' | 'd';
}

export interface GateState {
  snap: (GateSnapshot & { at: number }) | null;
  scans: Scan[];
  /** Scans folded away by the cap (never covered by a later snapshot). */
  folded: { g: number; d: number };
  /** Latest activity (snapshot or scan), epoch ms. */
  lastAt: number;
}

export type CapacityState = Map<string, GateState>;

/** The figures shown for one gate and, summed, for the whole event. */
export interface CapacityFigures {
  inside: number;
  entries: number;
  denied: number;
  rate_per_minute: number;
  capacity: number | null;
  percent: number | null;
}

export interface GateView extends CapacityFigures {
  updated_at: string;
}

export interface CapacityView extends CapacityFigures {
  gates: Record<string, GateView>;
}

const gateOf = (s: CapacityState, gate: string): GateState => {
  let g = s.get(gate);
  if (!g) {
    g = { snap: null, scans: [], folded: { g: 0, d: 0 }, lastAt: 0 };
    s.set(gate, g);
  }
  return g;
};

/** Applies a gate snapshot; returns false when it is older than (or as old as) the one already held. */
export function applySnapshot(s: CapacityState, gate: string, at: number, snap: GateSnapshot): boolean {
  const g = gateOf(s, gate);
  if (g.snap && g.snap.at >= at) return false;
  g.snap = { ...snap, at };
  g.lastAt = Math.max(g.lastAt, at);
  return true;
}

export function applyScan(s: CapacityState, gate: string, at: number, kind: 'g' | 'd'): void {
  const g = gateOf(s, gate);
  g.scans.push({ at, kind });
  g.lastAt = Math.max(g.lastAt, at);
  if (g.scans.length > MAX_SCANS) {
    g.scans.sort((a, b) => a.at - b.at);
    for (const sc of g.scans.splice(0, g.scans.length - MAX_SCANS)) g.folded[sc.kind]++;
  }
}

const coverAt = (g: GateState, kind: 'g' | 'd'): number => {
  if (!g.snap) return -Infinity;
  const total = kind === 'g' ? g.snap.entries : g.snap.denied;
  return total === null ? -Infinity : g.snap.at;
};

/** Drops scans that can no longer change any number: covered by the snapshot and out of the rate window. */
export function prune(s: CapacityState, now: number): void {
  for (const g of s.values()) {
    const horizon = now - RATE_WINDOW_MS;
    const cg = Math.min(coverAt(g, 'g'), horizon);
    const cd = Math.min(coverAt(g, 'd'), horizon);
    if (g.scans.some((sc) => sc.at <= (sc.kind === 'g' ? cg : cd))) {
      g.scans = g.scans.filter((sc) => sc.at > (sc.kind === 'g' ? cg : cd));
    }
  }
}

export const pct = (inside: number, capacity: number | null): number | null =>
  capacity && capacity > 0 ? Math.round((inside / capacity) * 1000) / 10 : null;

export function gateView(g: GateState, now: number): GateView {
  const snapAt = g.snap ? g.snap.at : -Infinity;
  const cg = coverAt(g, 'g');
  const cd = coverAt(g, 'd');
  let grantsAfterSnap = 0;
  let entries = g.snap?.entries ?? 0;
  let denied = g.snap?.denied ?? 0;
  let recent = 0;
  for (const sc of g.scans) {
    if (sc.kind === 'g') {
      if (sc.at > cg) entries++;
      if (sc.at > snapAt) grantsAfterSnap++;
      if (sc.at > now - RATE_WINDOW_MS && sc.at <= now) recent++;
    } else if (sc.at > cd) {
      denied++;
    }
  }
  if (cg === -Infinity) entries += g.folded.g;
  if (cd === -Infinity) denied += g.folded.d;
  const inside = (g.snap?.inside ?? 0) + grantsAfterSnap + (g.snap ? 0 : g.folded.g);
  // The scanner's own rate is trusted while it is fresh; individual entries give the rate otherwise.
  const snapRate = g.snap && g.snap.rate_per_minute !== null && now - g.snap.at <= RATE_WINDOW_MS ? g.snap.rate_per_minute : 0;
  const capacity = g.snap?.capacity ?? null;
  return {
    inside,
    entries,
    denied,
    rate_per_minute: Math.max(recent, snapRate),
    capacity,
    percent: pct(inside, capacity),
    updated_at: new Date(g.lastAt).toISOString(),
  };
}

export function capacityView(s: CapacityState, now: number): CapacityView {
  const gates: Record<string, GateView> = {};
  let inside = 0;
  let entries = 0;
  let denied = 0;
  let rate = 0;
  let gateCapacity: number | null = 0;
  let venue: { at: number; value: number } | null = null;
  for (const id of [...s.keys()].sort()) {
    const g = s.get(id)!;
    const v = gateView(g, now);
    gates[id] = v;
    inside += v.inside;
    entries += v.entries;
    denied += v.denied;
    rate += v.rate_per_minute;
    gateCapacity = v.capacity !== null && gateCapacity !== null ? gateCapacity + v.capacity : null;
    const vc = g.snap?.venue_capacity;
    if (vc != null && (!venue || g.snap!.at > venue.at)) venue = { at: g.snap!.at, value: vc };
  }
  const capacity = venue ? venue.value : s.size > 0 && gateCapacity ? gateCapacity : null;
  return { inside, entries, denied, rate_per_minute: Math.round(rate * 100) / 100, capacity, percent: pct(inside, capacity), gates };
}

/** One event's line in a venue's aggregate (`analytics:venue:{venue_id}:capacity`). */
export interface VenueEventCapacity extends CapacityFigures {
  event_id: string;
  event_title: string | null;
}

export interface VenueCapacity extends CapacityFigures {
  venue_id: string;
  events: VenueEventCapacity[];
}

/**
 * A venue's capacity: every event at it with live capacity today, summed (inside, entries, denied, rate) and
 * listed by event id. The capacity is the sum of the events' capacities, null when one of them is unknown
 * (a percentage over a partial total would overstate the fill). Pure.
 */
export function venueCapacity(venue: string, events: { event_id: string; event_title: string | null; view: CapacityFigures }[]): VenueCapacity {
  const sorted = [...events].sort((a, b) => (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0));
  let inside = 0;
  let entries = 0;
  let denied = 0;
  let rate = 0;
  let capacity: number | null = sorted.length > 0 ? 0 : null;
  const lines: VenueEventCapacity[] = [];
  for (const e of sorted) {
    const v = e.view;
    inside += v.inside;
    entries += v.entries;
    denied += v.denied;
    rate += v.rate_per_minute;
    capacity = capacity !== null && v.capacity !== null ? capacity + v.capacity : null;
    lines.push({ event_id: e.event_id, event_title: e.event_title, inside: v.inside, entries: v.entries, denied: v.denied, rate_per_minute: v.rate_per_minute, capacity: v.capacity, percent: v.percent });
  }
  return { venue_id: venue, inside, entries, denied, rate_per_minute: Math.round(rate * 100) / 100, capacity, percent: pct(inside, capacity), events: lines };
}
