// Test-only builders of committed rows (EventRow) for the pure live tests.
import crypto from 'node:crypto';
import type { EventRow } from '../store/events.js';

export function row(event_name: string, at: number, over: Partial<EventRow> & { entities?: Record<string, unknown>; payload?: Record<string, unknown> } = {}): EventRow {
  return {
    event_id: crypto.randomUUID(),
    event_name,
    event_version: 1,
    occurred_at: new Date(at).toISOString(),
    received_at: new Date(at).toISOString(),
    sent_at: null,
    tenant_id: 1,
    site_id: null,
    source_system: 'web',
    visitor_id: null,
    session_id: null,
    sequence_no: null,
    prev_event_id: null,
    person_id: null,
    consent_snapshot: {},
    context: {},
    entities: {},
    payload: {},
    idempotency_key: null,
    is_bot: false,
    ...over,
  };
}

export const NOW = Date.parse('2025-06-01T12:00:00Z');
export const MIN = 60_000;

export interface Plan {
  event: string;
  org: string | null;
  views: number;
  repeatViews: number;
  selects: number;
  carts: number;
  checkouts: number;
  /** Of the checkouts: how many started > 30 min ago (expired) and never completed. */
  expired: number;
  attempts: number;
  failures: number;
  orders: number;
  qty: number;
  price: number;
  currency: string;
}

/** 50 visitors walking the funnel of one event; visitor i reaches step k when i < count(k). */
export function funnelRows(p: Plan): EventRow[] {
  const rows: EventRow[] = [];
  const ent = (i: number, extra: Record<string, unknown> = {}) => ({ event_entity_id: p.event, ...(p.org ? { organizer_id: p.org } : {}), ...extra });
  for (let i = 0; i < 50; i++) {
    const v = { visitor_id: `${p.event}-v${i}`, session_id: `${p.event}-s${i}` };
    const cart = `${p.event}-cart${i}`;
    // Checkouts that expire started 40 min ago; everything else in the last 10 minutes.
    const expired = i >= p.checkouts - p.expired && i < p.checkouts && i >= p.orders;
    const t0 = expired ? NOW - 45 * MIN : NOW - 10 * MIN;
    if (i < p.views) rows.push(row('event_view', t0, { ...v, entities: ent(i) }));
    if (i < p.repeatViews) rows.push(row('event_view', t0 + 1000, { ...v, entities: ent(i) }));
    if (i < p.selects) rows.push(row('ticket_type_selected', t0 + 2000, { ...v, entities: ent(i), payload: { ticket_type_id: 'GA', qty: p.qty } }));
    if (i < p.carts) rows.push(row('add_to_cart', t0 + 3000, { ...v, entities: ent(i, { cart_id: cart }), payload: { items: [], cart_value: 1, currency: p.currency } }));
    if (i < p.checkouts) rows.push(row('checkout_started', t0 + 5 * MIN, { ...v, entities: ent(i, { cart_id: cart }), payload: { cart_value: 1, currency: p.currency } }));
    if (i < p.attempts) rows.push(row('payment_attempted', t0 + 6 * MIN, { ...v, entities: ent(i, { order_id: `${p.event}-o${i}` }), payload: { amount: 1, currency: p.currency } }));
    if (i < p.failures) rows.push(row('payment_failed', t0 + 6 * MIN + 500, { source_system: 'payments', entities: ent(i, { order_id: `${p.event}-o${i}` }), payload: { provider: 'x' } }));
    if (i < p.orders) {
      rows.push(
        row('order_completed', t0 + 7 * MIN, {
          source_system: 'backend',
          entities: ent(i, { order_id: `${p.event}-o${i}`, cart_id: cart }),
          payload: { gross_amount: p.qty * p.price, currency: p.currency, items: [{ ticket_type_id: 'GA', qty: p.qty, price: p.price }] },
        }),
      );
    }
  }
  // Bot traffic on the same event never counts.
  for (let i = 0; i < 30; i++) rows.push(row('event_view', NOW - MIN, { is_bot: true, visitor_id: `bot${i}`, entities: ent(0) }));
  for (let i = 0; i < 3; i++) rows.push(row('order_completed', NOW - MIN, { is_bot: true, entities: ent(0, { order_id: `bot-o${i}` }), payload: { gross_amount: 999, currency: p.currency, items: [{ ticket_type_id: 'GA', qty: 9 }] } }));
  return rows;
}

export const E1: Plan = { event: 'E1', org: 'O1', views: 50, repeatViews: 10, selects: 40, carts: 30, checkouts: 20, expired: 3, attempts: 12, failures: 2, orders: 10, qty: 2, price: 50, currency: 'EUR' };
export const E2: Plan = { event: 'E2', org: 'O1', views: 48, repeatViews: 0, selects: 35, carts: 24, checkouts: 16, expired: 0, attempts: 9, failures: 1, orders: 8, qty: 3, price: 33.3, currency: 'RON' };

