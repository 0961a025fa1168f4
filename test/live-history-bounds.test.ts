// History over rows stored before the registry bounded every number (issue 8.4): an order with
// gross_amount 1e308 must not turn the per-minute history into a 500 for the next 24 h, and the row adds
// nothing, as in the live sums.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventStore, type EventRow } from '../server/store/events.js';
import { bootServer, createTenant, getJson, type Tenant } from './helpers.js';

describe('live history with absurd amounts already stored', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  beforeAll(async () => {
    server = await bootServer({ DEMO_TENANT: '0' });
    t = await createTenant(server.url, 'bounds');
  });
  afterAll(async () => server?.close());

  const order = (amount: number, qty: number, at: string): EventRow => ({
    event_id: crypto.randomUUID(), event_name: 'order_completed', event_version: 1, occurred_at: at, received_at: at,
    sent_at: null, tenant_id: t.tenant_id, site_id: null, source_system: 'backend', visitor_id: null, session_id: null,
    sequence_no: null, prev_event_id: null, person_id: null,
    consent_snapshot: { analytics: false, marketing: false, data_processing: true }, context: {},
    entities: { event_entity_id: 'HB1', order_id: crypto.randomUUID() },
    payload: { gross_amount: amount, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty, price: 1 }] },
    idempotency_key: null, is_bot: false,
  });

  it('answers 200 and counts only the sane rows', async () => {
    const at = new Date(Date.now() - 5 * 60_000).toISOString();
    await createEventStore().insert(server.db, [order(1e308, 1e300, at), order(-1e308, 2, at), order(120.5, 3, at)]);
    const r = await getJson(`${server.url}/api/v1/live/events/HB1/history?minutes=60`, { authorization: `Bearer ${t.secret_key}` });
    expect(r.status).toBe(200);
    const series = r.json.series as Record<string, any>[];
    const sum = (k: string) => series.reduce((n, m) => n + m[k], 0);
    expect(sum('orders')).toBe(3);
    expect(sum('tickets_sold')).toBe(5);
    expect(series.reduce((n, m) => n + (m.revenue.EUR ?? 0), 0)).toBe(120.5);
    const json = JSON.stringify(r.json);
    expect(json).not.toMatch(/null|Infinity|e\+/);
  });
});
