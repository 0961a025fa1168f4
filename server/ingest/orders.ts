// An order is one event: the writer claims each order in the order ledger (tx_order_ids, migration 049) in the
// commit that stores it, and an order event whose order the tenant already stored is a duplicate, whatever its
// event_id and occurred_at (SPEC: `order_completed_{order_id}` maps to one event id; a backend that puts a new
// random event_id on a re-sent order must not get it counted twice by the live layer, the feature store, daily
// analytics and funnels). Pure; the statement is events.sql insert_events_orders.
import { idDigest } from '../identity/crypto.js';
import type { EventRow, OrderClaim } from '../store/events.js';

/**
 * The events that are once per order by definition: a completed ticket order and a completed shop order. Not
 * payment_succeeded (an order may be paid in several payments: instalments, a split tender, a second attempt after
 * a reversal), nor refund_completed (partial refunds), chargeback_opened or shipments (several per order): those
 * repeat legitimately under one order id, and a retry of one is caught by its own event_id or idempotency key.
 */
export const ONCE_PER_ORDER: ReadonlySet<string> = new Set(['order_completed', 'order_completed_shop']);

// A number is its decimal text, as migration 049's backfill and the held_by lookup read it (jsonb ->>): they agree
// because validation takes only safe integers as numeric ids (validate.ts `id`), which String() never writes with
// an exponent (1e21 would be "1e+21" here and "1000000000000000000000" there; it is refused, out_of_range).
const orderIdOf = (r: EventRow): string | null => {
  const o = r.entities?.order_id;
  return typeof o === 'string' || typeof o === 'number' ? String(o) : null;
};

/**
 * The claims of `rows` on their orders: one per order event naming an order, in row order, keyed by (tenant, event
 * name, order id). Every row takes part: which one claims its order is the store's to decide (events.sql
 * insert_events_orders: the first whose event id is new; a row whose event id is already stored, whatever event
 * that id is, is a plain duplicate and claims nothing), so a retry's reused event id cannot keep the order's next
 * row from being stored. Read from the rows as received, never the enriched copies: an erased order's late copy
 * loses its order id there (identity/persons.ts applyTombstones), and must still find its order claimed, on every
 * attempt and on a spool replay. `rows` hold distinct event ids (the writer dedupes them first).
 */
export function orderClaims(rows: readonly EventRow[]): OrderClaim[] {
  const claims: OrderClaim[] = [];
  for (const r of rows) {
    if (!ONCE_PER_ORDER.has(r.event_name)) continue;
    const orderId = orderIdOf(r);
    if (orderId === null) continue;
    claims.push({ tenant_id: r.tenant_id, event_id: r.event_id, event_name: r.event_name, order_id: orderId, order_sha256: idDigest(r.tenant_id, 'order', orderId), received_at: r.received_at });
  }
  return claims;
}
