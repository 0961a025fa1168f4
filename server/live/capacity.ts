// Gate capacity from scanner events. Pure; `now` is always passed in.
//
// Per lane: the newest `capacity_snapshot` (by occurred_at) is the base — a late, older snapshot never
// replaces it — and `entry_granted` / `entry_denied` that occurred after it are added on top (an exit scan
// takes one off `inside`). Scans at or before the base are already inside its totals. The result does not
// depend on arrival order, so the live numbers and a recompute from the store in occurred_at order agree.
//
// A lane is one scanner session at a gate (`gate\0session`: its scans and snapshots carry that
// scanner_session_id, and its snapshots count that session only), or the gate itself (no session: its
// snapshots count the whole gate). A gate's figures are the sum of its session lanes — several devices, shift
// changes — unless the gate has a gate-wide snapshot: that one then counts every scan before it, whatever
// its session, and session snapshots are not added to it.
import { laneGate, type GateSnapshot, type ScanKind } from './facts.js';

export const RATE_WINDOW_MS = 60_000;
/** Safety cap for gates that never send snapshots: the oldest scans are folded into a base count. */
const MAX_SCANS = 200_000;

export interface Scan {
  at: number;
  kind: ScanKind;
}

export interface GateState {
  snap: (GateSnapshot & { at: number }) | null;
  scans: Scan[];
  /** Scans folded away by the cap (never covered by a later snapshot). */
  folded: Record<ScanKind, number>;
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
  /** Null for a catalog gate no scanner has reported yet (catalog.ts capacityWithMeta shows it empty). */
  updated_at: string | null;
}

export interface CapacityView extends CapacityFigures {
  /**
   * The scanners' newest stated venue_capacity, null when none stated one. `capacity` is it when stated, else the
   * gates' sum: kept apart so the catalog's gates (catalog.ts capacityWithMeta) can add to that sum.
   */
  venue_capacity: number | null;
  gates: Record<string, GateView>;
}

export const emptyGate = (): GateState => ({ snap: null, scans: [], folded: { g: 0, x: 0, d: 0 }, lastAt: 0 });

const gateOf = (s: CapacityState, gate: string): GateState => {
  let g = s.get(gate);
  if (!g) {
    g = emptyGate();
    s.set(gate, g);
  }
  return g;
};

/**
 * Whether a fact of this lane is counted (README "Live layer", Limits): a lane the event already has always; a new
 * one while the event has fewer than `max` lanes (LIVE_MAX_GATE_LANES), and, when `known` says the catalog names
 * its gate, up to twice that: gate ids made up through the write key fill the first `max`, not the catalog's
 * gates. First come, first counted: a recompute in occurred_at order counts the same lanes unless more were seen.
 * The bound keeps an event's memory and its capacity message (one line per gate) small. Pure.
 */
export function admitsLane(s: CapacityState, lane: string, max: number, known: (gate: string) => boolean = () => false): boolean {
  if (s.has(lane) || s.size < max) return true;
  return s.size < 2 * max && known(laneGate(lane));
}

/** Applies a gate snapshot; returns false when it is older than (or as old as) the one already held. */
export function applySnapshot(s: CapacityState, gate: string, at: number, snap: GateSnapshot): boolean {
  const g = gateOf(s, gate);
  if (g.snap && g.snap.at >= at) return false;
  g.snap = { ...snap, at };
  g.lastAt = Math.max(g.lastAt, at);
  return true;
}

export function applyScan(s: CapacityState, gate: string, at: number, kind: ScanKind): void {
  const g = gateOf(s, gate);
  g.scans.push({ at, kind });
  g.lastAt = Math.max(g.lastAt, at);
  if (g.scans.length > MAX_SCANS) {
    g.scans.sort((a, b) => a.at - b.at);
    for (const sc of g.scans.splice(0, g.scans.length - MAX_SCANS)) g.folded[sc.kind]++;
  }
}

/** Up to when a snapshot's totals include a kind of scan (exits are only in `inside`, which is always sent). */
const coverAt = (snap: GateState['snap'], kind: ScanKind): number => {
  if (!snap) return -Infinity;
  const total = kind === 'g' ? snap.entries : kind === 'd' ? snap.denied : snap.inside;
  return total === null ? -Infinity : snap.at;
};

/** Drops scans that can no longer change any number: covered by the snapshot that counts them and out of the rate window. */
export function prune(s: CapacityState, now: number): void {
  const horizon = now - RATE_WINDOW_MS;
  for (const [lane, g] of s) {
    // Under a gate-wide snapshot, session lanes are counted from it, not from their own snapshots.
    const gateWide = lane === laneGate(lane) ? null : (s.get(laneGate(lane))?.snap ?? null);
    const by = gateWide ?? g.snap;
    const cover = (kind: ScanKind) => Math.min(coverAt(by, kind), horizon);
    const c = { g: cover('g'), x: cover('x'), d: cover('d') };
    if (g.scans.some((sc) => sc.at <= c[sc.kind])) g.scans = g.scans.filter((sc) => sc.at > c[sc.kind]);
  }
}

/**
 * A stated capacity, null when none: 0 is none, wherever it is stated (a scanner's gate or venue capacity, the
 * catalog's), as a sum of 0 always was — a percentage over it is meaningless and "N of 0 inside" a misreading.
 */
export const known = (c: number | null | undefined): number | null => (c != null && c > 0 ? c : null);

/**
 * The people a snapshot counts inside: nobody is inside who did not enter, so at most its total_entries when it
 * states them (a gate system's 10,000,000 inside after 0 entries is a fault, not a crowd). A session's negative
 * net (an exit device) is within that bound.
 */
const snapInside = (snap: NonNullable<GateState['snap']>): number => (snap.entries === null ? snap.inside : Math.min(snap.inside, snap.entries));

export const pct = (inside: number, capacity: number | null): number | null =>
  capacity && capacity > 0 ? Math.round((inside / capacity) * 1000) / 10 : null;

/**
 * A lane's figures and its net flow: people in minus people out, which a lane of exits (a dedicated exit
 * device, the late shift) makes negative. Shown `inside` is never below 0; the nets are what add up across a
 * gate's lanes and an event's gates, floored once at the end (a per-lane floor lost every exit scanned on
 * another device than the entry).
 */
function gateCalc(g: GateState, now: number): { view: GateView; net: number } {
  const snapAt = g.snap ? g.snap.at : -Infinity;
  const cg = coverAt(g.snap, 'g');
  const cd = coverAt(g.snap, 'd');
  let grantsAfterSnap = 0;
  let exitsAfterSnap = 0;
  let entries = g.snap?.entries ?? 0;
  let denied = g.snap?.denied ?? 0;
  let recent = 0;
  for (const sc of g.scans) {
    if (sc.kind === 'g') {
      if (sc.at > cg) entries++;
      if (sc.at > snapAt) grantsAfterSnap++;
      if (sc.at > now - RATE_WINDOW_MS && sc.at <= now) recent++;
    } else if (sc.kind === 'x') {
      if (sc.at > snapAt) exitsAfterSnap++;
    } else if (sc.at > cd) {
      denied++;
    }
  }
  if (cg === -Infinity) entries += g.folded.g;
  if (cd === -Infinity) denied += g.folded.d;
  const net = (g.snap ? snapInside(g.snap) : 0) + grantsAfterSnap - exitsAfterSnap + (g.snap ? 0 : g.folded.g - g.folded.x);
  const inside = Math.max(0, net);
  // The scanner's own rate is trusted while it is fresh; individual entries give the rate otherwise.
  const snapRate = g.snap && g.snap.rate_per_minute !== null && now - g.snap.at <= RATE_WINDOW_MS ? g.snap.rate_per_minute : 0;
  const capacity = known(g.snap?.capacity);
  const view = {
    inside,
    entries,
    denied,
    rate_per_minute: Math.max(recent, snapRate),
    capacity,
    percent: pct(inside, capacity),
    updated_at: new Date(g.lastAt).toISOString(),
  };
  return { view, net };
}

/** Each gate's lanes, its own (the gate-wide one, when it has scans or snapshots) first. */
function byGate(s: CapacityState): Map<string, { own: GateState | null; lanes: GateState[] }> {
  const out = new Map<string, { own: GateState | null; lanes: GateState[] }>();
  for (const [lane, g] of s) {
    const gate = laneGate(lane);
    let e = out.get(gate);
    if (!e) out.set(gate, (e = { own: null, lanes: [] }));
    if (lane === gate) {
      e.own = g;
      e.lanes.unshift(g);
    } else {
      e.lanes.push(g);
    }
  }
  return out;
}

const sum = <T>(xs: T[], f: (x: T) => number): number => xs.reduce((n, x) => n + f(x), 0);
const lastOf = (lanes: GateState[]): number => Math.max(...lanes.map((g) => g.lastAt));

/** One gate's figures from its lanes (see the header). */
function gateFigures(own: GateState | null, lanes: GateState[], now: number): { view: GateView; net: number } {
  if (lanes.length === 1) return gateCalc(lanes[0], now);
  if (own?.snap) {
    // The gate-wide snapshot counts every scan before it, whatever its lane.
    const folded = { g: sum(lanes, (g) => g.folded.g), x: sum(lanes, (g) => g.folded.x), d: sum(lanes, (g) => g.folded.d) };
    return gateCalc({ snap: own.snap, scans: lanes.flatMap((g) => g.scans), folded, lastAt: lastOf(lanes) }, now);
  }
  const calcs = lanes.map((g) => gateCalc(g, now));
  const views = calcs.map((c) => c.view);
  // Capacities are stated by the scanners, not counted: the newest snapshot's.
  const snap = lanes.reduce<GateState['snap']>((best, g) => (g.snap && (!best || g.snap.at > best.at) ? g.snap : best), null);
  const net = sum(calcs, (c) => c.net);
  const inside = Math.max(0, net);
  const capacity = known(snap?.capacity);
  return { net, view: {
    inside,
    entries: sum(views, (v) => v.entries),
    denied: sum(views, (v) => v.denied),
    rate_per_minute: sum(views, (v) => v.rate_per_minute),
    capacity,
    percent: pct(inside, capacity),
    updated_at: new Date(lastOf(lanes)).toISOString(),
  } };
}

/** What the catalog knows of an event's capacity (catalog.ts EventMeta): the event's own (else its venue's) and the venue's gates. */
export interface CatalogCapacity {
  capacity: number | null;
  gates: { capacity: number | null }[];
}

/** A sum of capacities, null when one is unknown or 0 (a percentage over a partial total overstates the fill). */
const total = (xs: (number | null)[]): number | null => {
  let n = 0;
  for (const x of xs) {
    const c = known(x);
    if (c === null) return null;
    n += c;
  }
  return n > 0 ? n : null;
};

/**
 * The event's capacity (README "capacity"), whatever the transport or topic: the one rule.
 * `venue` is the scanners' newest `venue_capacity`; `gates` each shown gate's capacity as a scanner stated it and
 * as its catalog gate has it. A scanner's statement comes first: its `venue_capacity`, else, once a scanner
 * states a gate's capacity, the sum of the shown gates' (each the scanner's, else its catalog gate's) — the gate
 * lines and the total then agree. When scanners state none, the catalog's: the event's, else its venue's, else
 * the sum of the venue's gates. A sum with an unknown part is no capacity; with scanner-stated gates the
 * catalog's gate sum is no fallback (it contradicts the stated gates), the event's or venue's own still is.
 * A capacity of 0 is none wherever it is stated (`known`).
 */
export function eventCapacity(venue: number | null, gates: { scanner: number | null; catalog: number | null }[], catalog: CatalogCapacity | null): number | null {
  if (known(venue) !== null) return venue;
  const stated = gates.some((g) => known(g.scanner) !== null);
  const own = known(catalog?.capacity);
  if (stated) return total(gates.map((g) => known(g.scanner) ?? g.catalog)) ?? own;
  if (!catalog) return null;
  return own ?? (catalog.gates.length > 0 ? total(catalog.gates.map((g) => g.capacity)) : null);
}

export function capacityView(s: CapacityState, now: number): CapacityView {
  // Gate ids are the tenant's: on a null-prototype object `__proto__` is a key like any other (on `{}` its
  // assignment set the prototype and the gate was missing), and no gate reads an inherited property.
  const gates: Record<string, GateView> = Object.create(null);
  let inside = 0;
  let entries = 0;
  let denied = 0;
  let rate = 0;
  let venue: { at: number; value: number } | null = null;
  const groups = byGate(s);
  for (const id of [...groups.keys()].sort()) {
    const { own, lanes } = groups.get(id)!;
    const { view: v, net } = gateFigures(own, lanes, now);
    gates[id] = v;
    inside += net;
    entries += v.entries;
    denied += v.denied;
    rate += v.rate_per_minute;
    for (const g of lanes) {
      const vc = known(g.snap?.venue_capacity);
      if (vc !== null && (!venue || g.snap!.at > venue.at)) venue = { at: g.snap!.at, value: vc };
    }
  }
  // Scanner figures only: the catalog is added after (catalog.ts capacityWithMeta, by the same rule).
  const capacity = eventCapacity(venue?.value ?? null, Object.values(gates).map((g) => ({ scanner: g.capacity, catalog: null })), null);
  // People who left through another gate than they came in: the nets add up, the event is never below 0.
  inside = Math.max(0, inside);
  return { inside, entries, denied, rate_per_minute: Math.round(rate * 100) / 100, capacity, percent: pct(inside, capacity), venue_capacity: venue?.value ?? null, gates };
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
