// Money in funnels and experiment results (issue 18): a breakdown or filter that reads an amount needs
// view_revenue — a money key anywhere in the path, and also a container whose registry rule holds one at any
// depth (`payload.items`: the items' prices). Without it an artist key listed item prices as breakdown values
// and bisected them with `contains`. Experiment results check their metrics' filters with the same function.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postEvents, postJson, request, webEvent, type Tenant } from './helpers.js';

describe('funnels and experiments: amounts need view_revenue', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  let artist: string;
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const api = (method: string, p: string, body?: unknown, key = t.secret_key) => request(method, `${base}${p}`, body, as(key));
  const from = new Date(Date.now() - 86_400_000).toISOString();
  const to = new Date(Date.now() + 60_000).toISOString();
  const funnel = (extra: Record<string, unknown>) => ({ steps: [{ event_name: 'event_view' }, { event_name: 'add_to_cart' }], window_s: 3600, from, to, ...extra });

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'money');
    const r = await postEvents(base, t, [
      webEvent({ visitor_id: 'v1', session_id: 's1', occurred_at: new Date(Date.now() - 60_000).toISOString() }),
      webEvent({ event_name: 'add_to_cart', visitor_id: 'v1', session_id: 's1', entities: { event_entity_id: 'E1', cart_id: 'c1' }, payload: { items: [{ ticket_type_id: 'GA', qty: 1, price: 777 }], currency: 'EUR', cart_value: 777 } }),
    ]);
    expect(r.rejected, JSON.stringify(r.texts)).toEqual([]);
    const k = await postJson(`${base}/api/v1/keys`, { role: 'artist', scope: { artists: ['A1'] } }, as(t.secret_key));
    expect(k.status, k.text).toBe(201);
    artist = k.json.key;
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('refuses a breakdown or a filter on payload.items (item prices inside) to a key without view_revenue, naming the field', async () => {
    for (const [body, field] of [
      [funnel({ breakdown: 'payload.items' }), 'breakdown'],
      [funnel({ steps: [{ event_name: 'event_view' }, { event_name: 'add_to_cart', filters: [{ field: 'payload.items', op: 'contains', value: '777' }] }] }), 'steps[1].filters[0].field'],
      [funnel({ breakdown: 'payload.cart_value' }), 'breakdown'],
    ] as const) {
      const r = await api('POST', '/api/v1/analytics/funnels', body, artist);
      expect({ field, status: r.status, error: r.json?.error }).toMatchObject({ field, status: 403, error: { code: 'forbidden', permission: 'view_revenue', field } });
      expect(r.text).not.toContain('777');
    }
    // Not money: the item count, and what is no container of amounts.
    expect((await api('POST', '/api/v1/analytics/funnels', funnel({ breakdown: 'payload.currency' }), artist)).status).toBe(200);
    // The admin key (view_revenue) reads the items.
    const admin = await api('POST', '/api/v1/analytics/funnels', funnel({ breakdown: 'payload.items' }));
    expect(admin.status, admin.text).toBe(200);
  });

  it('experiment results whose metric filters on an amount need view_revenue too (same check)', async () => {
    const start = new Date(Date.now() - 86_400_000).toISOString();
    for (const [key, filter] of [['exp-items', { field: 'payload.items', op: 'contains', value: '777' }], ['exp-value', { field: 'payload.cart_value', op: 'gt', value: 500 }]] as const) {
      const c = await api('POST', '/api/v1/experiments', {
        key, variants: [{ key: 'control', weight: 0.5 }, { key: 'b', weight: 0.5 }], start, metric_window_s: 3600,
        success_metrics: [{ event_name: 'add_to_cart', filters: [filter] }],
      });
      expect(c.status, c.text).toBe(201);
    }
    // The artist role may read every analytics resource here, but not amounts.
    expect((await api('PUT', '/api/v1/roles/artist', { permissions: { view_all_analytics: true } })).status).toBe(200);
    for (const key of ['exp-items', 'exp-value']) {
      const r = await api('GET', `/api/v1/experiments/${key}/results`, undefined, artist);
      expect({ key, status: r.status, error: r.json?.error }).toMatchObject({ key, status: 403, error: { code: 'forbidden', permission: 'view_revenue', field: 'success_metrics[0].steps[0].filters[0].field' } });
      expect((await api('GET', `/api/v1/experiments/${key}/results`)).status).toBe(200);
    }
  });

  it('a breakdown or filter on payload.customer (a customer\'s external id, contact digests, match keys) or a browser, click id or IP in context needs view_persons', async () => {
    // The artist role gets view_revenue here, so only the customer part can refuse.
    expect((await api('PUT', '/api/v1/roles/artist', { permissions: { view_revenue: true } })).status).toBe(200);
    for (const [body, field] of [
      [funnel({ breakdown: 'payload.customer' }), 'breakdown'],
      [funnel({ breakdown: 'payload.customer.external_id' }), 'breakdown'],
      [funnel({ breakdown: 'context.fbp' }), 'breakdown'],
      [funnel({ breakdown: 'context.ga_client_id' }), 'breakdown'],
      [funnel({ breakdown: 'context.click_ids.gclid' }), 'breakdown'],
      [funnel({ steps: [{ event_name: 'event_view', filters: [{ field: 'context.ip', op: 'eq', value: '203.0.113.0' }] }, { event_name: 'add_to_cart' }] }), 'steps[0].filters[0].field'],
      [funnel({ steps: [{ event_name: 'event_view' }, { event_name: 'order_completed', filters: [{ field: 'payload.customer.external_id', op: 'eq', value: 'cust-42' }] }] }), 'steps[1].filters[0].field'],
    ] as const) {
      const r = await api('POST', '/api/v1/analytics/funnels', body, artist);
      expect({ field, status: r.status, error: r.json?.error }).toMatchObject({ field, status: 403, error: { code: 'forbidden', permission: 'view_persons', field } });
    }
    expect((await api('POST', '/api/v1/analytics/funnels', funnel({ breakdown: 'payload.customer' }))).status).toBe(200);
    expect((await api('POST', '/api/v1/analytics/funnels', funnel({ breakdown: 'context.utm.source' }), artist)).status).toBe(200);
    expect((await api('PUT', '/api/v1/roles/artist', { permissions: { view_revenue: null } })).status).toBe(200);
  });
});
