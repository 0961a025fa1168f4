// `npm run demo`'s tally (scripts/demo/traffic.ts) counts an order, its tickets and revenue only once the server took
// it: while the server is down the sender drops a batch after 5 failed attempts, and an order in it was never sold.
// Against a fake server that is down for the first stretch and rejects a few orders afterwards.
import { describe, expect, it } from 'vitest';
import { droppedLine, startDemo } from '../scripts/demo/traffic.js';

describe('demo traffic counts what the server acknowledged', () => {
  it('orders, tickets and revenue equal the accepted order_completed events; the dropped ones are reported', { timeout: 60_000 }, async () => {
    let down = true;
    const accepted: any[] = [];
    let seen = 0;
    const fakeFetch = (async (url: string, init: RequestInit) => {
      const events = JSON.parse(String(init.body)).events as any[];
      const isServer = url.endsWith('/api/v1/server-events');
      if (isServer && down) throw new TypeError('fetch failed');
      // Every third order is answered as rejected (a validation error): answered, so neither sold nor dropped.
      const rejected = isServer ? events.filter((e) => e.event_name === 'order_completed' && seen++ % 3 === 2) : [];
      for (const e of events) if (isServer && !rejected.includes(e)) accepted.push(e);
      return new Response(JSON.stringify({ accepted: events.length - rejected.length, rejected: rejected.map((e) => ({ index: events.indexOf(e), event_id: e.event_id, errors: [{ code: 'invalid_field' }] })) }), { status: 200, headers: { 'content-type': 'application/json' } });
    }) as unknown as typeof fetch;
    const lines: string[] = [];
    const demo = startDemo({ url: 'http://demo.invalid', writeKey: 'tx_pk_x', secretKey: 'tx_sk_x', gates: false, seed: 9, visitorsPerSecond: 20, speed: 20, retryBaseMs: 5, fetch: fakeFetch, log: (l) => lines.push(l) });
    const t0 = Date.now();
    while (Date.now() - t0 < 20_000 && demo.stats.droppedOrders === 0) await new Promise((r) => setTimeout(r, 50));
    down = false;
    const t1 = Date.now();
    while (Date.now() - t1 < 20_000 && (Date.now() - t1 < 1500 || demo.stats.orders < 3)) await new Promise((r) => setTimeout(r, 50));
    const stats = await demo.stop();

    const orders = accepted.filter((e) => e.event_name === 'order_completed');
    const tickets = orders.reduce((s, o) => s + o.payload.items.reduce((n: number, it: any) => n + it.qty, 0), 0);
    const revenue: Record<string, number> = {};
    for (const o of orders) revenue[o.payload.currency] = Math.round(((revenue[o.payload.currency] ?? 0) + o.payload.gross_amount) * 100) / 100;
    expect(stats.droppedOrders).toBeGreaterThan(0);
    expect(stats.rejected).toBeGreaterThan(0);
    expect(stats.orders).toBe(orders.length);
    expect(stats.tickets).toBe(tickets);
    expect(stats.revenue).toEqual(revenue);
    const perEvent = Object.values(stats.perEvent);
    expect(perEvent.reduce((s, p) => s + p.orders, 0)).toBe(orders.length);
    expect(perEvent.reduce((s, p) => s + p.tickets, 0)).toBe(tickets);
    expect(stats.dropped).toBeGreaterThanOrEqual(stats.droppedOrders);
    expect(lines).toContain(droppedLine(stats));
    expect(droppedLine({ dropped: 12, droppedOrders: 1 })).toBe('12 events dropped unsent (their batches failed 5 times or were refused), 1 order among them; orders, tickets and revenue count only what the server accepted.');
  });
});
