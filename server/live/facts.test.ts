// A row's live time (facts.ts liveTime): occurred_at, never more than the skew tolerance after the server
// received it. Pure: rows in, facts and state out.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SKEW_TOLERANCE_MS } from '../ingest/validate.js';
import { decimalToMilli, liveTime, toFact, toMilli, utcDay } from './facts.js';
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

/**
 * Reference for the live money rounding: what sql/queries/live.sql computes for the stored JSON number,
 * round(numeric * 1000), written with BigInt remainders (ties away from zero) on the number's decimal text.
 */
function referenceMilli(text: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(text)!;
  const digits = BigInt(m[2] + (m[3] ?? ''));
  const exp = Number(m[4] ?? 0) - (m[3] ?? '').length + 3;
  let q: bigint;
  if (exp >= 0) q = digits * 10n ** BigInt(exp);
  else {
    const d = 10n ** BigInt(-exp);
    q = digits / d;
    if ((digits % d) * 2n >= d) q += 1n;
  }
  return m[1] === '-' ? -q : q;
}

describe('order amounts in thousandths (toMilli) round as the per-minute history does', () => {
  it('rounds the amount as written (its JSON text) to thousandths, ties away from zero', () => {
    expect(4.0005 * 1000).toBeLessThan(4000.5); // the double product that used to round down
    expect(toMilli(4.0005)).toBe(4001);
    expect(toMilli(0.0005)).toBe(1);
    expect(toMilli(0.0004)).toBe(0);
    expect(toMilli(1.0015)).toBe(1002);
    expect(toMilli(2.675)).toBe(2675);
    expect(toMilli(1.2345)).toBe(1235);
    expect(toMilli(1e-7)).toBe(0);
    expect(toMilli(5e-324)).toBe(0);
    expect(toMilli(123456789.9995)).toBe(123456790000);
    expect(toMilli(10_000_000_000)).toBe(10_000_000_000_000);
    expect(toMilli(0)).toBe(0);
  });

  it('rounds a negative amount (a row stored before amounts were bounded) away from zero, as round(numeric) does', () => {
    expect(toMilli(-4.0005)).toBe(-4001);
    expect(toMilli(-0.0004)).toBe(0);
    expect(Object.is(toMilli(-0.0004), 0)).toBe(true);
    expect(toMilli(-2.5e-3)).toBe(-3);
  });

  it('gives an amount too large for exact thousandths a total the sums leave out (not a safe integer)', () => {
    expect(Number.isSafeInteger(toMilli(1e300))).toBe(false);
    expect(Number.isSafeInteger(toMilli(9007199254740.992))).toBe(false);
    expect(toMilli(9007199254740.99)).toBe(9007199254740990);
    expect(decimalToMilli('9007199254740.991')).toBe(Number.MAX_SAFE_INTEGER);
    expect(Number.isSafeInteger(decimalToMilli('9007199254740.9915'))).toBe(false);
    expect(Number.isSafeInteger(decimalToMilli('-9007199254740.9915'))).toBe(false);
    expect(Number.isNaN(toMilli(Number.NaN))).toBe(true);
  });

  it('reads a decimal text exactly (decimalToMilli), exponent notation included', () => {
    expect(decimalToMilli('4.0005')).toBe(4001);
    expect(decimalToMilli('4.00049999999999999999')).toBe(4000);
    expect(decimalToMilli('1e-7')).toBe(0);
    expect(decimalToMilli('1.5e-3')).toBe(2);
    expect(decimalToMilli('1e+21')).toBe(1e24);
    expect(decimalToMilli('3.579')).toBe(3579);
    expect(decimalToMilli('-0.0015')).toBe(-2);
    expect(Number.isNaN(decimalToMilli('abc'))).toBe(true);
    expect(Number.isNaN(decimalToMilli(''))).toBe(true);
  });

  it('agrees with exact decimal rounding for any amount (property)', () => {
    const decimal = fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 17n }), fc.integer({ min: 0, max: 12 }), fc.boolean())
      .map(([digits, scale, neg]) => (neg ? -1 : 1) * Number(`${digits}e-${scale}`));
    fc.assert(fc.property(fc.oneof(decimal, fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 })), (amount) => {
      const want = referenceMilli(String(amount));
      const got = toMilli(amount);
      if (want > BigInt(Number.MAX_SAFE_INTEGER) || want < -BigInt(Number.MAX_SAFE_INTEGER)) expect(Number.isSafeInteger(got)).toBe(false);
      else expect(got).toBe(Number(want) || 0);
    }), { numRuns: 20_000 });
  });

  it('two orders of 4.0005 CHF make 8.002 live, as in the per-minute history', () => {
    const s = new LiveState(DAY);
    for (const i of [1, 2]) {
      s.apply(toFact(row('order_completed', NOW - i * MIN, { source_system: 'backend', entities: { event_entity_id: 'E3', order_id: `o${i}` }, payload: { gross_amount: 4.0005, currency: 'CHF', items: [{ ticket_type_id: 'GA', qty: 1 }] } }), DAY)!);
    }
    expect((s.eventData(1, 'E3', NOW) as { revenue: Record<string, number> }).revenue).toEqual({ CHF: 8.002 });
  });
});
