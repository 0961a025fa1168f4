// A row's live time (facts.ts liveTime): occurred_at, never more than the skew tolerance after the server
// received it. Pure: rows in, facts and state out.
import { describe, expect, it } from 'vitest';
import { SKEW_TOLERANCE_MS } from '../ingest/validate.js';
import { liveTime, toFact, utcDay } from './facts.js';
import { MIN, NOW, row } from './rows.fixture.js';
import { LiveState } from './state.js';

const HOUR = 60 * MIN;
const DAY = utcDay(NOW);
/** A row that occurred at `at` and reached the server at `received`. */
const sent = (name: string, at: number, received: number, over: Parameters<typeof row>[2] = {}) =>
  ({ ...row(name, at, over), received_at: new Date(received).toISOString() });

describe('live time of a row', () => {
  it('is occurred_at, never later than received_at + the skew tolerance', () => {
    expect(liveTime(NOW - MIN, NOW)).toBe(NOW - MIN);
    expect(liveTime(NOW + 1500, NOW)).toBe(NOW + 1500);
    expect(liveTime(NOW + 8 * HOUR, NOW)).toBe(NOW + SKEW_TOLERANCE_MS);
    expect(liveTime(NOW, Number.NaN)).toBe(NOW);
    expect(toFact(sent('event_view', NOW + 8 * HOUR, NOW, { entities: { event_entity_id: 'E1' } }), DAY)?.at).toBe(NOW + SKEW_TOLERANCE_MS);
  });

  it('a capacity_snapshot dated hours ahead does not freeze the gate: later scans still count', () => {
    const s = new LiveState(DAY);
    const gate = (name: string, at: number, received: number, payload: Record<string, unknown> = {}) =>
      s.apply(toFact(sent(name, at, received, { source_system: 'scanner', entities: { event_entity_id: 'E1' }, payload: { gate_id: 'G1', ...payload } }), DAY)!);
    gate('entry_granted', NOW - 10_000, NOW - 10_000);
    gate('capacity_snapshot', NOW + 8 * HOUR, NOW, { current_inside: 0, total_entries: 0, total_denied: 0 });
    for (let i = 1; i <= 7; i++) gate('entry_granted', NOW + i * 10_000, NOW + i * 10_000);
    const at = NOW + 70_000;
    const e = s.getEvent(1, 'E1')!;
    expect(s.capacityView(e, at).gates.G1).toMatchObject({ inside: 7, entries: 7, rate_per_minute: 6 });
  });

  it('a checkout dated an hour ahead is active like one started when it was received, and an order completes it', () => {
    const s = new LiveState(DAY);
    const ent = { event_entity_id: 'E1', cart_id: 'C1' };
    s.apply(toFact(sent('checkout_started', NOW + HOUR, NOW, { entities: ent }), DAY)!);
    const e = s.getEvent(1, 'E1')!;
    expect(s.funnelView(e, NOW).funnel).toMatchObject({ checkouts_started: 1, active_checkouts: 1 });
    // Its 30 minutes run from the receive time, not from an hour ahead.
    expect(s.funnelView(e, NOW + 31 * MIN).funnel.active_checkouts).toBe(0);
    s.apply(toFact(sent('checkout_started', NOW + HOUR, NOW + 32 * MIN, { entities: { ...ent, cart_id: 'C2' } }), DAY)!);
    s.apply(toFact(sent('order_completed', NOW + 33 * MIN, NOW + 33 * MIN, { entities: { ...ent, cart_id: 'C2' }, payload: { gross_amount: 1, currency: 'EUR', items: [] } }), DAY)!);
    expect(s.funnelView(e, NOW + 34 * MIN).funnel.active_checkouts).toBe(0);
  });
});
