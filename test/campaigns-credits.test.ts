// Tracked credit (README "Campaigns" → "Credit") on a real store: an attributed order credits the campaign its
// utm_campaign names only when it is in the budget's currency and placed at or after the campaign started. Before,
// 250.5 RON + 100 EUR + 100 EUR were reported as 450.5 EUR, and an order placed before publishing was credited.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attributionCredits } from '../server/campaigns/jobs.js';
import { bootServer, createTenant, orderEvent, postEvents, request, until, webEvent, type Tenant } from './helpers.js';
import { SUITE_DEFAULTS_ENV } from './campaigns-stores.js';

describe('campaign credits from attributions', { timeout: 120_000 }, () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  const api = (method: string, p: string, body?: unknown) => request(method, `${server.url}${p}`, body, { authorization: `Bearer ${t.secret_key}` });
  beforeAll(async () => {
    server = await bootServer({ ...SUITE_DEFAULTS_ENV });
    t = await createTenant(server.url, 'credits');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('credits only orders in the budget currency placed after the campaign started', async () => {
    const b = await api('POST', '/api/v1/campaigns/budgets', { organizer_id: 'O1', total_budget: 500, currency: 'EUR' });
    expect(b.status, b.text).toBe(201);
    const suite = await api('POST', `/api/v1/campaigns/budgets/${b.json.id}/suite`, {});
    const c = suite.json.campaigns.find((x: any) => x.platform === 'meta' && x.campaign_type === 'prospecting');
    const started = Date.now() - 10 * 3_600_000;
    await server.db.query("UPDATE automated_campaigns SET status = 'active', started_at = $2, external_campaign_id = '9001' WHERE id = $1", [c.id, new Date(started)]);
    const utm = `txc-${b.json.id}-meta-prospecting`;
    const order = async (id: string, at: number, amount: number, currency: string) => {
      const ev = randomUUID();
      const when = new Date(at);
      await server.db.query(`INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, consent_snapshot, entities, payload)
        VALUES ($1, 'order_completed', $2, $3, 'backend', '{}', $4, $5)`, [ev, when, t.tenant_id, JSON.stringify({ order_id: id }), JSON.stringify({ gross_amount: amount, currency, items: [{ qty: 2 }] })]);
      await server.db.query('INSERT INTO conversion_attributions (tenant_id, event_id, order_id, occurred_at, utm) VALUES ($1, $2, $3, $4, $5)', [t.tenant_id, ev, id, when, JSON.stringify({ utm_campaign: utm })]);
    };
    await order('EUR-1', started + 3_600_000, 100, 'EUR');
    await order('EUR-2', started + 2 * 3_600_000, 100, 'EUR');
    await order('RON-1', started + 3_600_000, 250.5, 'RON');
    await order('EARLY', started - 3_600_000, 80, 'EUR');
    await attributionCredits.pull(server.db, new Date(Date.now() - 2 * 86_400_000), new Date());
    const rows = (await server.db.query<{ order_id: string; revenue: string }>('SELECT order_id, revenue FROM campaign_credits WHERE tenant_id = $1 ORDER BY order_id', [t.tenant_id])).rows;
    expect(rows.map((r) => [r.order_id, Number(r.revenue)])).toEqual([['EUR-1', 100], ['EUR-2', 100]]);
    const rep = await api('GET', '/api/v1/campaigns/report?organizer_id=O1');
    expect(rep.json).toMatchObject({ currency: 'EUR', sales: 2, revenue: 200, tickets: 4 });
    // The budget's series plots our tracked revenue (what the dashboard labels it), the platforms' claim apart.
    const at = (h: number) => new Date(started + h * 3_600_000);
    for (const [h, claim] of [[1.5, 300], [3, 999]] as const) {
      await server.db.query('INSERT INTO campaign_metric_snapshots (tenant_id, campaign_id, at, impressions, clicks, spend, conversions, revenue) VALUES ($1, $2, $3, 1000, 20, $4, 9, $5)', [t.tenant_id, c.id, at(h), 10 * h, claim]);
    }
    const series = (await api('GET', `/api/v1/campaigns/budgets/${b.json.id}`)).json.series;
    expect(series.map((p: any) => [p.revenue, p.sales, p.revenue_platform, p.conversions_platform])).toEqual([[100, 1, 300, 9], [200, 2, 999, 9]]);
    // The admin overview labels the platforms' ROAS and shows ours next to it, as the organizer report does.
    await server.db.query(`UPDATE automated_campaigns SET budget_spent = 50, performance_metrics = '{"conversions": 9, "revenue_generated": 999}' WHERE id = $1`, [c.id]);
    const row = (await api('GET', '/api/v1/campaigns/overview')).json.organizers.find((o: any) => o.organizer_id === 'O1');
    expect(row).toMatchObject({ currency: 'EUR', spend: 50, sales: 2, revenue: 200, roas_tracked: 4, conversions_platform: 9, revenue_platform: 999, roas_platform: 19.98 });
    expect(row).not.toHaveProperty('roas');
  });

  it('credits the campaign of the session\'s first touch when the order has UTMs of its own without a campaign (a newsletter link back)', async () => {
    const b = await api('POST', '/api/v1/campaigns/budgets', { organizer_id: 'O2', total_budget: 500, currency: 'EUR' });
    const suite = await api('POST', `/api/v1/campaigns/budgets/${b.json.id}/suite`, {});
    const c = suite.json.campaigns.find((x: any) => x.platform === 'meta' && x.campaign_type === 'retargeting');
    await server.db.query("UPDATE automated_campaigns SET status = 'active', started_at = $2, external_campaign_id = '9002' WHERE id = $1", [c.id, new Date(Date.now() - 3_600_000)]);
    const campaign = `txc-${b.json.id}-meta-retargeting`;
    const landing = webEvent({ visitor_id: 'v-ft', session_id: 's-ft', occurred_at: new Date(Date.now() - 60_000).toISOString(), context: { utm: { source: 'meta', medium: 'paid', campaign }, page: { url: 'https://tickets.example/e/E1' } } });
    expect((await postEvents(server.url, t, [landing])).accepted).toBe(1);
    const order = orderEvent({ visitor_id: 'v-ft', session_id: 's-ft', context: { utm: { source: 'newsletter' } }, entities: { order_id: 'O-FT-1', event_entity_id: 'E1', organizer_id: 'O2' }, payload: { gross_amount: 240, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 4, price: 60 }] } });
    expect((await postEvents(server.url, t, [order])).accepted).toBe(1);
    await until(async () => (await server.db.query('SELECT 1 FROM conversion_attributions WHERE tenant_id = $1 AND order_id = $2', [t.tenant_id, 'O-FT-1'])).rows.length > 0, 60_000, 200);
    await attributionCredits.pull(server.db, new Date(Date.now() - 2 * 86_400_000), new Date());
    const credit = (await server.db.query<{ campaign_id: string; revenue: string; tickets: number }>('SELECT campaign_id, revenue, tickets FROM campaign_credits WHERE tenant_id = $1 AND order_id = $2', [t.tenant_id, 'O-FT-1'])).rows;
    expect(credit.map((r) => [Number(r.campaign_id), Number(r.revenue), r.tickets])).toEqual([[c.id, 240, 4]]);
  });
});
