// Which rows claim an order (ingest/orders.ts): order events only, every one of them in row order (the store claims
// each order by its first row with a new event id: a row whose event id is already stored must not stand for it).
import { describe, expect, it } from 'vitest';
import { idDigest } from '../identity/crypto.js';
import type { EventRow } from '../store/events.js';
import { orderClaims } from './orders.js';

const row = (event_id: string, event_name: string, order_id: unknown, tenant_id = 1): EventRow =>
  ({ event_id, event_name, tenant_id, received_at: '2026-11-21T12:00:00.000Z', entities: order_id === undefined ? {} : { order_id } }) as EventRow;

describe('orderClaims', () => {
  it('offers every order event of the commit in row order, not only the first row of an order; a number is its decimal text; tenants and order events are apart', () => {
    const rows = [
      row('a', 'order_completed', 'O1'),
      row('b', 'order_completed', 'O1'),
      row('c', 'order_completed', 4242),
      row('d', 'order_completed', '4242'),
      row('e', 'order_completed', 'O1', 2),
      row('f', 'order_completed_shop', 'O1'),
      row('g', 'payment_succeeded', 'O1'),
      row('h', 'refund_completed', 'O1'),
      row('i', 'order_completed', undefined),
    ];
    const claims = orderClaims(rows);
    expect(claims.map((c) => [c.tenant_id, c.event_id, c.event_name, c.order_id])).toEqual([
      [1, 'a', 'order_completed', 'O1'], [1, 'b', 'order_completed', 'O1'], [1, 'c', 'order_completed', '4242'], [1, 'd', 'order_completed', '4242'],
      [2, 'e', 'order_completed', 'O1'], [1, 'f', 'order_completed_shop', 'O1'],
    ]);
    expect(claims[0].order_sha256).toBe(idDigest(1, 'order', 'O1'));
    // One order, one digest: the store groups a commit's rows of an order by it.
    expect(claims[1].order_sha256).toBe(claims[0].order_sha256);
    expect(claims[3].order_sha256).toBe(claims[2].order_sha256);
    expect(claims[4].order_sha256).not.toBe(claims[0].order_sha256);
  });

  it('claims nothing for a commit without order events', () => {
    expect(orderClaims([row('x', 'page_view', undefined), row('y', 'payment_succeeded', 'O1')])).toEqual([]);
  });
});
