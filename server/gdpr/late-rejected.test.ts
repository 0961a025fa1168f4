import { describe, expect, it } from 'vitest';
import type { RejectedRow } from '../store/events.js';
import { anonymousRawEvent, forgetInRejected, namedIds, NOT_KEPT, type Tombstones } from './late-rejected.js';

const ERASED_AT = Date.parse('2026-03-01T12:00:00Z');
const before = '2026-03-01T11:00:00Z';
const after = '2026-03-01T13:00:00Z';
const erased: Tombstones = new Map([
  ['7:visitor:v-ana', ERASED_AT],
  ['7:customer:cust-ana', ERASED_AT],
  ['7:order:O-ana-1', ERASED_AT],
]);
const row = (body: unknown, reasons: unknown = [], raw?: string): RejectedRow => ({
  tenant_id: 7, event_id: null, event_name: null, raw_body: raw ?? JSON.stringify(body), reasons, received_at: after,
});
const web = (over: Record<string, unknown> = {}) => ({
  event_id: 'e1', event_name: 'add_to_cart', occurred_at: before, source_system: 'web', visitor_id: 'v-ana', session_id: 's-ana', sequence_no: 3,
  context: { ip: '203.0.113.0', user_agent: 'UA', fbc: 'fb.1.1.Click', page: { path: '/e', url: 'https://x.example/e?fbclid=Click' } },
  entities: { event_entity_id: 'E1', cart_id: 'cart-ana' }, payload: { items: 'bad', email_sha256: 'a'.repeat(64), note: `sha256:${'b'.repeat(64)} wrote` },
  unknown_top: 'v-ana',
  ...over,
});

describe('late rejected copies of an erased person', () => {
  it('finds visitor, customer and order ids as the values of their fields, in JSON or not', () => {
    const n = namedIds('{"events":[{"visitor_id":"v-ana","payload":{"customer":{"external_id":123}},"entities":{"order_id":"O-1"}},{"data":{"metadata":{"tx_vid":"v-b"}}');
    expect([...n.visitor]).toEqual(['v-ana', 'v-b']);
    expect([...n.customer]).toEqual(['123']);
    expect([...n.order]).toEqual(['O-1']);
    expect(namedIds('{"source_system":"web","v-ana":1}')).toEqual({ visitor: new Set(), customer: new Set(), order: new Set() });
    // An id with a NUL names nobody (none is ever stored) and is never sent to the store as a parameter.
    expect([...namedIds('{"visitor_id":"v\\u0000x","entities":{"order_id":"O\\u0000"}}').visitor]).toEqual([]);
  });

  it('keeps a past event of an erased visitor as a stored anonymised late copy would be, with its reasons', () => {
    const r = row(web(), [{ code: 'invalid_type', field: 'payload.items', message: 'got "v-ana" here' }]);
    expect(forgetInRejected(r, erased)).toBe(true);
    expect(JSON.parse(r.raw_body)).toEqual({
      event_id: 'e1', event_name: 'add_to_cart', occurred_at: before, source_system: 'web', sequence_no: 3, visitor_id: null, session_id: null,
      context: { page: { path: '/e', url: 'https://x.example/e' }, anonymised: true },
      entities: { event_entity_id: 'E1' },
      payload: { items: 'bad', note: 'sha256:<erased> wrote' },
    });
    expect(r.reasons).toEqual([{ code: 'invalid_type', field: 'payload.items', message: 'got "<erased>" here' }]);
    // Idempotent: nothing left to find (a retried commit, a spool replay).
    const again = r.raw_body;
    expect(forgetInRejected(r, erased)).toBe(false);
    expect(r.raw_body).toBe(again);
  });

  it('anonymises each event of a list on its own: one dated after the erasure is new data and is kept', () => {
    const late = web({ event_id: 'e-after', occurred_at: after, session_id: 's-new' });
    const r = row({ events: [web(), late, web({ visitor_id: 'v-other' })] });
    forgetInRejected(r, erased);
    const out = JSON.parse(r.raw_body).events;
    expect(out[0]).toMatchObject({ event_id: 'e1', visitor_id: null });
    expect(out[1]).toEqual(late);
    expect(out[2].visitor_id).toBe('v-other');
  });

  it('counts an event without a readable occurred_at as the erased past', () => {
    const r = row([web({ occurred_at: 'yesterday' }), web({ occurred_at: undefined })]);
    forgetInRejected(r, erased);
    expect(JSON.parse(r.raw_body).map((e: { visitor_id: unknown }) => e.visitor_id)).toEqual([null, null]);
  });

  it('drops the customer of an erased customer, and an erased order\'s id whenever the event occurred', () => {
    const order = row({ event_name: 'order_completed', occurred_at: before, entities: { order_id: 'O-new' }, payload: { customer: { external_id: 'cust-ana', match_keys: { meta: {} } }, gross_amount: 1 } });
    forgetInRejected(order, erased);
    expect(JSON.parse(order.raw_body)).toMatchObject({ entities: { order_id: 'O-new' }, payload: { gross_amount: 1 } });
    expect(order.raw_body).not.toContain('cust-ana');
    const refund = row({ event_name: 'refund_completed', occurred_at: after, entities: { order_id: 'O-ana-1' }, payload: { amount: 'x', metadata: { order_id: 'O-ana-1' } } });
    forgetInRejected(refund, erased);
    expect(JSON.parse(refund.raw_body)).toEqual({ event_name: 'refund_completed', occurred_at: after, context: { anonymised: true }, entities: {}, payload: { amount: 'x', metadata: {} } });
  });

  it('keeps only a placeholder of a body that is not JSON, or names an erased id outside an event\'s own fields', () => {
    const broken = row(null, [], '{"events":[{"visitor_id":"v-ana","event_name":');
    forgetInRejected(broken, erased);
    expect(broken.raw_body).toBe(NOT_KEPT);
    const stripe = row({ type: 'charge.refunded', data: { object: { metadata: { tx_vid: 'v-ana', order_id: 'O-x' } } } });
    forgetInRejected(stripe, erased);
    expect(stripe.raw_body).toBe(NOT_KEPT);
  });

  it('leaves bodies of other visitors, and of another tenant, as they are', () => {
    for (const r of [row(web({ visitor_id: 'v-other', payload: { customer: { external_id: 'cust-other' } } })), { ...row(web()), tenant_id: 8 }]) {
      const raw = r.raw_body;
      expect(forgetInRejected(r, erased)).toBe(false);
      expect(r.raw_body).toBe(raw);
    }
  });

  it('keeps a context that is not an object only as the anonymised marker', () => {
    expect(anonymousRawEvent({ event_name: 'x', context: 'ip 1.2.3.4' })).toEqual({ event_name: 'x', context: { anonymised: true } });
  });
});
