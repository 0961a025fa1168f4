import { describe, expect, it } from 'vitest';
import type { EventRow } from '../store/events.js';
import { idDigest } from './crypto.js';
import { applyTombstones, followsOrder, type ErasedRow } from './persons.js';

const ERASED_AT = '2026-11-30T12:00:00.000Z';
const row = (over: Partial<EventRow>): EventRow => ({
  event_id: 'e1', event_name: 'payment_succeeded', event_version: 1, occurred_at: '2026-11-30T10:00:00.000Z', received_at: '2026-11-30T13:00:00.000Z',
  sent_at: null, tenant_id: 1, site_id: null, source_system: 'payments', visitor_id: null, session_id: null, sequence_no: null, prev_event_id: null,
  person_id: null, consent_snapshot: {}, context: { ip: '203.0.113.0' }, entities: {}, payload: {}, idempotency_key: null, is_bot: false,
  ...over,
});
const erased = (kind: ErasedRow['kind'], kindOfId: string, id: string, tenant = 1): ErasedRow => ({ kind, tenant_id: String(tenant), key: idDigest(tenant, kindOfId, id), at: new Date(ERASED_AT) });

describe('applyTombstones (late copies of an erased person\'s past)', () => {
  it('anonymises an event naming an erased order whenever it occurred, and drops the order id', () => {
    const before = row({ entities: { order_id: 'O1' } });
    const after = row({ occurred_at: '2026-12-01T10:00:00.000Z', entities: { order_id: 'O1', event_entity_id: 'E1' } });
    const otherTenant = row({ tenant_id: 2, entities: { order_id: 'O1' } });
    const otherOrder = row({ entities: { order_id: 'O2' } });
    applyTombstones([before, after, otherTenant, otherOrder], [erased('erased_order', 'order', 'O1')]);
    expect([before.entities, after.entities]).toEqual([{}, { event_entity_id: 'E1' }]);
    expect([before.context, after.context]).toEqual([{ anonymised: true }, { anonymised: true }]);
    expect([otherTenant.entities, otherOrder.entities]).toEqual([{ order_id: 'O1' }, { order_id: 'O2' }]);
    expect(otherTenant.context).toEqual({ ip: '203.0.113.0' });
  });

  it('anonymises an erased visitor\'s events only up to the erasure, keeping an order id that was not erased', () => {
    const late = row({ source_system: 'web', visitor_id: 'v1', session_id: 's1', entities: { order_id: 'O9' } });
    const fresh = row({ source_system: 'web', visitor_id: 'v1', session_id: 's2', occurred_at: '2026-11-30T12:00:00.001Z' });
    applyTombstones([late, fresh], [erased('erased_visitor', 'visitor', 'v1')]);
    expect(late).toMatchObject({ visitor_id: null, session_id: null, entities: { order_id: 'O9' }, context: { anonymised: true } });
    expect(fresh).toMatchObject({ visitor_id: 'v1', session_id: 's2', context: { ip: '203.0.113.0' } });
  });
});

describe('followsOrder (rows that take their order\'s person only, never the visitor\'s link)', () => {
  it('is every row naming an order but the order itself and rows naming their own customer', () => {
    const named = (event_name: string, payload: Record<string, unknown> = {}, order_id: unknown = 'O1') => followsOrder(row({ event_name, entities: { order_id } as EventRow['entities'], payload }));
    expect(['payment_succeeded', 'refund_completed', 'chargeback_opened', 'shipment_created', 'entry_granted', 'page_view'].map((n) => named(n))).toEqual([true, true, true, true, true, true]);
    expect(named('payment_succeeded', {}, 42)).toBe(true);
    expect([named('order_completed'), named('order_completed_shop')]).toEqual([false, false]);
    expect(named('points_earned', { customer_external_id: 'C1' })).toBe(false);
    expect(named('points_earned', { customer_external_id: '' })).toBe(true);
    expect(followsOrder(row({ entities: {} }))).toBe(false);
    expect(named('payment_succeeded', {}, null)).toBe(false);
  });
});
