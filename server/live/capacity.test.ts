import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { admitsLane, applyScan, applySnapshot, capacityView, eventCapacity, prune, type CapacityState } from './capacity.js';
import { laneKey, sessionInside, type GateSnapshot, type ScanKind } from './facts.js';

const NOW = Date.parse('2025-06-01T20:00:00Z');
const S = 1000;
const snap = (o: Partial<GateSnapshot>): GateSnapshot => ({ inside: 0, entries: null, denied: null, rate_per_minute: null, capacity: null, venue_capacity: null, ...o });

describe('sessionInside', () => {
  it('takes a device session\'s net flow from its totals when current_inside is their floor; a gate-wide count as sent', () => {
    expect(sessionInside({ scanner_session_id: 'exit-dev', current_inside: 0, total_entries: 0, total_exits: 4 })).toBe(-4);
    expect(sessionInside({ scanner_session_id: 'dev', current_inside: 6, total_entries: 10, total_exits: 4 })).toBe(6);
    // A count the device was told (not its floor) is kept; so is a gate-wide snapshot's.
    expect(sessionInside({ scanner_session_id: 'dev', current_inside: 3, total_entries: 0, total_exits: 4 })).toBe(3);
    expect(sessionInside({ current_inside: 0, total_entries: 0, total_exits: 4 })).toBe(0);
    expect(sessionInside({ scanner_session_id: 'dev', current_inside: 5 })).toBe(5);
  });
});

describe('capacity', () => {
  it('an exit scanned on another device, gate or shift than the entry takes one off inside: lanes add their nets, the total is floored once', () => {
    const s: CapacityState = new Map();
    const [inN, outN, lateN, outS] = [laneKey('N', 'in'), laneKey('N', 'out'), laneKey('N', 'late'), laneKey('S', 'dev-s')];
    for (let i = 0; i < 10; i++) applyScan(s, inN, NOW - 60 * S + i * S, 'g');
    for (let i = 0; i < 4; i++) applyScan(s, outN, NOW - 30 * S + i * S, 'x'); // an exit-only device at N
    let v = capacityView(s, NOW);
    expect(v.gates.N.inside).toBe(6);
    expect(v.inside).toBe(6);
    // The devices' own session snapshots (the exit device's net is −4) change nothing.
    applySnapshot(s, inN, NOW - 20 * S, snap({ inside: 10, entries: 10, denied: 0 }));
    applySnapshot(s, outN, NOW - 20 * S, snap({ inside: -4, entries: 0, denied: 0 }));
    expect(capacityView(s, NOW).inside).toBe(6);
    // Two leave through gate S (they came in at N): the event has 4 inside; gate S alone shows 0, not −2.
    applyScan(s, outS, NOW - 10 * S, 'x');
    applyScan(s, outS, NOW - 9 * S, 'x');
    v = capacityView(s, NOW);
    expect(v.inside).toBe(4);
    expect(v.gates.S.inside).toBe(0);
    // The late shift at N scans 3 more out: nobody is left.
    for (let i = 0; i < 3; i++) applyScan(s, lateN, NOW - 5 * S + i * S, 'x');
    v = capacityView(s, NOW);
    expect(v).toMatchObject({ inside: 1, entries: 10 });
    for (let i = 0; i < 3; i++) applyScan(s, lateN, NOW - 2 * S + i * 100, 'x');
    expect(capacityView(s, NOW).inside).toBe(0);
  });

  it('sums the latest snapshot of each gate; a late snapshot never overwrites a newer one', () => {
    const s: CapacityState = new Map();
    expect(applySnapshot(s, 'A', NOW - 10 * S, snap({ inside: 100, entries: 120, denied: 3, capacity: 500 }))).toBe(true);
    expect(applySnapshot(s, 'B', NOW - 8 * S, snap({ inside: 50, entries: 55, denied: 1, capacity: 300 }))).toBe(true);
    // Late (older) snapshot for A arrives after the newer one.
    expect(applySnapshot(s, 'A', NOW - 30 * S, snap({ inside: 10, entries: 10, denied: 0, capacity: 500 }))).toBe(false);
    const v = capacityView(s, NOW);
    expect(v).toMatchObject({ inside: 150, entries: 175, denied: 4, capacity: 800, percent: 18.8 });
    expect(v.gates.A).toMatchObject({ inside: 100, entries: 120, denied: 3, capacity: 500, percent: 20 });
  });

  it('adds entries and denials that occurred after the snapshot, not those it already counts', () => {
    const s: CapacityState = new Map();
    applySnapshot(s, 'A', NOW - 10 * S, snap({ inside: 100, entries: 120, denied: 3 }));
    applyScan(s, 'A', NOW - 20 * S, 'g'); // before the snapshot: already in its totals
    applyScan(s, 'A', NOW - 5 * S, 'g');
    applyScan(s, 'A', NOW - 4 * S, 'g');
    applyScan(s, 'A', NOW - 3 * S, 'd');
    const v = capacityView(s, NOW);
    expect(v).toMatchObject({ inside: 102, entries: 122, denied: 4, capacity: null, percent: null });
  });

  it('gates without snapshots count scans; rate per minute is a sliding minute', () => {
    const s: CapacityState = new Map();
    for (let i = 0; i < 30; i++) applyScan(s, 'C', NOW - 90 * S + i * S, 'g'); // 90..61 s ago
    for (let i = 0; i < 12; i++) applyScan(s, 'C', NOW - 50 * S + i * S, 'g'); // within the minute
    applyScan(s, 'C', NOW - 2 * S, 'd');
    let v = capacityView(s, NOW);
    expect(v).toMatchObject({ inside: 42, entries: 42, denied: 1, rate_per_minute: 12 });
    v = capacityView(s, NOW + 20 * S);
    expect(v.rate_per_minute).toBe(1); // of the scans 50..39 s ago only the one 39 s ago is in the last minute 20 s later
    prune(s, NOW + 120 * S);
    expect(capacityView(s, NOW + 120 * S)).toMatchObject({ inside: 42, entries: 42, denied: 1, rate_per_minute: 0 });
  });

  it("uses a fresh snapshot's own rate and the venue capacity when sent", () => {
    const s: CapacityState = new Map();
    applySnapshot(s, 'A', NOW - 5 * S, snap({ inside: 400, rate_per_minute: 30, capacity: 500, venue_capacity: 1000 }));
    applySnapshot(s, 'B', NOW - 4 * S, snap({ inside: 100, rate_per_minute: 12 }));
    const v = capacityView(s, NOW);
    expect(v).toMatchObject({ inside: 500, capacity: 1000, percent: 50, rate_per_minute: 42 });
    expect(capacityView(s, NOW + 120 * S).rate_per_minute).toBe(0);
  });

  it('pruning never changes the numbers', () => {
    const s: CapacityState = new Map();
    applySnapshot(s, 'A', NOW - 100 * S, snap({ inside: 10, entries: 10, denied: 0 }));
    for (let i = 0; i < 200; i++) applyScan(s, 'A', NOW - 200 * S + i * S, i % 7 === 0 ? 'd' : 'g');
    const before = capacityView(s, NOW);
    prune(s, NOW);
    expect(s.get('A')!.scans.length).toBeLessThan(200);
    expect(capacityView(s, NOW)).toEqual(before);
  });

  it('takes an exit scan off inside, not counting it as an entry or in the rate; a snapshot covers the exits before it', () => {
    const s: CapacityState = new Map();
    for (let i = 0; i < 5; i++) applyScan(s, 'A', NOW - 50 * S + i * S, 'g');
    applyScan(s, 'A', NOW - 40 * S, 'x');
    applyScan(s, 'A', NOW - 39 * S, 'x');
    applyScan(s, 'A', NOW - 38 * S, 'g'); // a re-entry is an entry
    applyScan(s, 'A', NOW - 37 * S, 'd');
    expect(capacityView(s, NOW)).toMatchObject({ inside: 4, entries: 6, denied: 1, rate_per_minute: 6 });
    applySnapshot(s, 'A', NOW - 30 * S, snap({ inside: 4, entries: 6, denied: 1 }));
    applyScan(s, 'A', NOW - 20 * S, 'x');
    expect(capacityView(s, NOW)).toMatchObject({ inside: 3, entries: 6, denied: 1 });
    // More exits than anyone seen going in (a scanner that started mid-event) never goes below zero.
    const t: CapacityState = new Map();
    applyScan(t, 'B', NOW - 5 * S, 'x');
    expect(capacityView(t, NOW).gates.B.inside).toBe(0);
  });

  it('sums the scanner sessions at a gate: two devices and a shift change each count their own', () => {
    const s: CapacityState = new Map();
    const a1 = laneKey('north', 'dev-a-1');
    const b1 = laneKey('north', 'dev-b-1');
    const a2 = laneKey('north', 'dev-a-2');
    for (let i = 0; i < 10; i++) applyScan(s, a1, NOW - 100 * S + i * S, 'g');
    for (let i = 0; i < 3; i++) applyScan(s, b1, NOW - 100 * S + i * S, 'g');
    expect(capacityView(s, NOW).gates.north.inside).toBe(13);
    applySnapshot(s, a1, NOW - 80 * S, snap({ inside: 10, entries: 10, denied: 0, capacity: 500 }));
    expect(capacityView(s, NOW).gates.north).toMatchObject({ inside: 13, entries: 13, capacity: 500 });
    applySnapshot(s, b1, NOW - 79 * S, snap({ inside: 3, entries: 3, denied: 0, capacity: 500 }));
    expect(capacityView(s, NOW).gates.north.inside).toBe(13);
    // Device A's next shift is a new session starting from zero.
    applyScan(s, a2, NOW - 10 * S, 'g');
    applySnapshot(s, a2, NOW - 9 * S, snap({ inside: 1, entries: 1, denied: 0, capacity: 500 }));
    const v = capacityView(s, NOW);
    expect(v).toMatchObject({ inside: 14, entries: 14, capacity: 500, percent: 2.8 });
    expect(Object.keys(v.gates)).toEqual(['north']);
  });

  it('under a gate-wide snapshot (no session) every scan before it is counted by it, session snapshots are not added', () => {
    const s: CapacityState = new Map();
    for (let i = 0; i < 10; i++) applyScan(s, laneKey('south', 'dev-1'), NOW - 100 * S + i * S, 'g');
    applySnapshot(s, laneKey('south', 'dev-1'), NOW - 85 * S, snap({ inside: 10, entries: 10, denied: 0 }));
    applySnapshot(s, 'south', NOW - 60 * S, snap({ inside: 250, entries: 260, denied: 2 }));
    applyScan(s, laneKey('south', 'dev-1'), NOW - 30 * S, 'g');
    applyScan(s, 'south', NOW - 20 * S, 'x');
    const before = capacityView(s, NOW);
    expect(before.gates.south).toMatchObject({ inside: 250, entries: 261, denied: 2 });
    prune(s, NOW + 200 * S);
    expect(capacityView(s, NOW + 200 * S)).toMatchObject({ inside: 250, entries: 261, denied: 2 });
  });

  it('a snapshot counts nobody inside who did not enter: current_inside is bounded by its total_entries when it has one', () => {
    const s: CapacityState = new Map();
    applySnapshot(s, 'MX', NOW - 30 * S, snap({ inside: 10_000_000, entries: 0, denied: 0, capacity: 1 }));
    expect(capacityView(s, NOW).gates.MX).toMatchObject({ inside: 0, entries: 0, capacity: 1, percent: 0 });
    applyScan(s, 'MX', NOW - 10 * S, 'g');
    expect(capacityView(s, NOW)).toMatchObject({ inside: 1, entries: 1, percent: 100 });
    // Without total_entries there is no bound to apply: the count is taken as sent.
    applySnapshot(s, 'NX', NOW - 30 * S, snap({ inside: 40 }));
    expect(capacityView(s, NOW).gates.NX.inside).toBe(40);
    // A session's negative net (an exit device) is within its bound.
    applySnapshot(s, laneKey('OX', 'out'), NOW - 30 * S, snap({ inside: -3, entries: 0, denied: 0 }));
    applySnapshot(s, laneKey('OX', 'in'), NOW - 30 * S, snap({ inside: 5, entries: 5, denied: 0 }));
    expect(capacityView(s, NOW).gates.OX.inside).toBe(2);
  });

  it('a stated capacity or venue_capacity of 0 is none: no "N of 0", and it does not hide an earlier real one', () => {
    const s: CapacityState = new Map();
    applySnapshot(s, 'A', NOW - 20 * S, snap({ inside: 5, entries: 5, denied: 0, capacity: 0, venue_capacity: 1000 }));
    applySnapshot(s, 'B', NOW - 10 * S, snap({ inside: 5, entries: 5, denied: 0, capacity: 0, venue_capacity: 0 }));
    const v = capacityView(s, NOW);
    expect(v).toMatchObject({ capacity: 1000, venue_capacity: 1000, percent: 1 });
    expect(v.gates.A).toMatchObject({ capacity: null, percent: null });
    const only0: CapacityState = new Map();
    applySnapshot(only0, 'A', NOW - 20 * S, snap({ inside: 5, entries: 5, denied: 0, venue_capacity: 0 }));
    expect(capacityView(only0, NOW)).toMatchObject({ capacity: null, venue_capacity: null, percent: null });
  });

  it("keeps gates named like Object's own properties (__proto__, toString, constructor) as gates on the wire", () => {
    const s: CapacityState = new Map();
    applyScan(s, '__proto__', NOW - 10 * S, 'g');
    applyScan(s, '__proto__', NOW - 9 * S, 'g');
    applyScan(s, 'toString', NOW - 8 * S, 'g');
    applyScan(s, laneKey('toString', 'dev'), NOW - 7 * S, 'g');
    applyScan(s, 'constructor', NOW - 6 * S, 'g');
    applyScan(s, 'constructor', NOW - 5 * S, 'g');
    const v = capacityView(s, NOW);
    expect(v.inside).toBe(6);
    expect(Object.keys(v.gates)).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.getPrototypeOf(v.gates)).toBeNull();
    // Every gate is an own key of the JSON sent, and nothing else is: an unknown gate reads as absent.
    const wire = JSON.parse(JSON.stringify(v)) as typeof v;
    expect(Object.keys(wire.gates)).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.getOwnPropertyDescriptor(wire.gates, '__proto__')?.value).toMatchObject({ inside: 2, entries: 2 });
    expect(wire.gates.toString).toMatchObject({ inside: 2, entries: 2 });
    expect(wire.gates.constructor).toMatchObject({ inside: 2, entries: 2 });
    expect(Object.getPrototypeOf(wire)).toBe(Object.prototype);
    expect(v.gates.hasOwnProperty).toBeUndefined();
  });

  it('is independent of arrival order, and pruning never changes the numbers, with sessions and exits', () => {
    type Op = { gate: string; at: number; kind: ScanKind | 's'; inside: number; entries: number };
    const op = fc.record({
      gate: fc.constantFrom('A', 'B', 'C', laneKey('A', 's1'), laneKey('A', 's2'), laneKey('B', 's1')),
      at: fc.integer({ min: NOW - 600 * S, max: NOW }),
      kind: fc.constantFrom<ScanKind | 's'>('g', 'g', 'x', 'd', 's'),
      inside: fc.nat(1000),
      entries: fc.nat(1000),
    });
    // Viewed at NOW (scans inside the rate window) and two minutes later, pruned first or not.
    const run = (ops: Op[], at: number, pruned = false) => {
      const s: CapacityState = new Map();
      for (const o of ops) {
        if (o.kind === 's') applySnapshot(s, o.gate, o.at, snap({ inside: o.inside, entries: o.entries, denied: 0, capacity: 2000 }));
        else applyScan(s, o.gate, o.at, o.kind);
      }
      if (pruned) prune(s, at);
      return capacityView(s, at);
    };
    fc.assert(
      fc.property(
        fc.uniqueArray(op, { maxLength: 60, selector: (o) => `${o.gate}:${o.at}:${o.kind === 's'}` }).chain((ops) =>
          fc.tuple(fc.constant(ops), fc.shuffledSubarray(ops, { minLength: ops.length, maxLength: ops.length })),
        ),
        ([ops, shuffled]) => {
          for (const at of [NOW, NOW + 120 * S]) {
            expect(run(shuffled, at)).toEqual(run(ops, at));
            expect(run(ops, at, true)).toEqual(run(ops, at));
          }
        },
      ),
    );
  });
});

describe('eventCapacity: one rule for the event\'s capacity (README "capacity")', () => {
  const gate = (scanner: number | null, catalog: number | null = null) => ({ scanner, catalog });
  it("a scanner's venue_capacity first, then the sum of the gates once a scanner states one, each the scanner's else its catalog gate's", () => {
    expect(eventCapacity(900, [gate(200, 100), gate(null, 50)], { capacity: 300, gates: [] })).toBe(900);
    // The probe's case: G1 stated 200 by its scanner, G2 only in the catalog (50): the total is the gates shown.
    expect(eventCapacity(null, [gate(200, 100), gate(null, 50)], { capacity: null, gates: [{ capacity: 100 }, { capacity: 50 }] })).toBe(250);
    // A scanner-stated gate comes before the catalog event's own capacity, as a fully stated event's always did.
    expect(eventCapacity(null, [gate(200, 100), gate(null, 50)], { capacity: 300, gates: [{ capacity: 100 }, { capacity: 50 }] })).toBe(250);
    expect(eventCapacity(null, [gate(200), gate(100)], null)).toBe(300);
  });
  it('a gate with neither: the catalog event\'s (or venue\'s) own capacity, never a partial sum nor the catalog gates contradicting a stated one', () => {
    expect(eventCapacity(null, [gate(200, 100), gate(null, null)], { capacity: 300, gates: [{ capacity: 100 }] })).toBe(300);
    expect(eventCapacity(null, [gate(200, 100), gate(null, null)], { capacity: null, gates: [{ capacity: 100 }] })).toBeNull();
    expect(eventCapacity(null, [gate(200), gate(null)], null)).toBeNull();
  });
  it("when scanners state none, the catalog's: the event's, else the sum of the venue's gates", () => {
    expect(eventCapacity(null, [gate(null, 100)], { capacity: 300, gates: [{ capacity: 100 }, { capacity: 50 }] })).toBe(300);
    expect(eventCapacity(null, [gate(null, 100)], { capacity: null, gates: [{ capacity: 100 }, { capacity: 50 }] })).toBe(150);
    expect(eventCapacity(null, [gate(null, 100)], { capacity: null, gates: [{ capacity: 100 }, { capacity: null }] })).toBeNull();
    expect(eventCapacity(null, [gate(null)], null)).toBeNull();
    expect(eventCapacity(null, [], null)).toBeNull();
  });
  it('a capacity of 0 is no capacity, wherever it is stated (as a sum of 0 already was)', () => {
    expect(eventCapacity(0, [gate(200)], null)).toBe(200);
    expect(eventCapacity(0, [], null)).toBeNull();
    // A gate stated 0 is a gate of unknown capacity: its catalog gate's counts, else the sum is none.
    expect(eventCapacity(null, [gate(0), gate(200)], null)).toBeNull();
    expect(eventCapacity(null, [gate(0, 100), gate(200)], null)).toBe(300);
    expect(eventCapacity(null, [gate(0)], { capacity: 300, gates: [] })).toBe(300);
    expect(eventCapacity(null, [gate(null)], { capacity: 0, gates: [{ capacity: 100 }] })).toBe(100);
    expect(eventCapacity(null, [gate(null)], { capacity: 0, gates: [{ capacity: 0 }, { capacity: 100 }] })).toBeNull();
  });
});

describe('admitsLane (LIVE_MAX_GATE_LANES)', () => {
  it('takes in lanes it has and new ones below the limit; a catalog gate\'s up to twice the limit', () => {
    const s: CapacityState = new Map();
    for (const g of ['A', 'B']) applyScan(s, g, NOW, 'g');
    expect(admitsLane(s, 'A', 2)).toBe(true);
    expect(admitsLane(s, 'C', 2)).toBe(false);
    expect(admitsLane(s, 'C', 3)).toBe(true);
    const known = (gate: string) => gate === 'North';
    expect(admitsLane(s, laneKey('North', 'dev-1'), 2, known)).toBe(true);
    applyScan(s, 'North', NOW, 'g');
    applyScan(s, laneKey('North', 'dev-1'), NOW, 'g');
    expect(admitsLane(s, laneKey('North', 'dev-2'), 2, known)).toBe(false);
  });
});
