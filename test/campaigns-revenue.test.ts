// The money in campaign reads (issue 18): revenue and ROAS — our tracked revenue, the platforms' claimed revenue
// and every ratio of them — go only to a principal with view_revenue, as the live mirror serves its revenue-free
// variant. An organizer whose tenant removed view_revenue reads spend, sales and tickets; an ad account (seed 003:
// view_ad_analytics, and ROAS is what it steers by) has view_revenue by default.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postJson, request, type Tenant } from './helpers.js';
import { ROAS_REASON } from '../server/campaigns/revenue.js';
import { mintToken } from './live-helpers.js';
import { SUITE_DEFAULTS_ENV } from './campaigns-stores.js';

const REVENUE_KEYS = ['revenue', 'revenue_platform', 'platform_revenue', 'revenue_generated', 'roas', 'roas_tracked', 'roas_platform'];
/** Every key of `v` at any depth. */
const keysOf = (v: unknown): string[] =>
  v === null || typeof v !== 'object' ? [] : Array.isArray(v) ? v.flatMap(keysOf) : Object.entries(v).flatMap(([k, x]) => [k, ...keysOf(x)]);

describe('campaign reads: revenue and ROAS need view_revenue', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  let adKey: string;
  let budgetId: number;
  let campaignId: number;
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const api = (method: string, p: string, body?: unknown, key = t.secret_key) => request(method, `${base}${p}`, body, as(key));

  beforeAll(async () => {
    server = await bootServer({ ...SUITE_DEFAULTS_ENV });
    base = server.url;
    t = await createTenant(base, 'ads-revenue');
    expect((await api('PUT', '/api/v1/catalog/events', { items: [{ id: 'E1', organizer_id: 'O1', title: 'Mine' }] })).status).toBe(200);
    adKey = (await postJson(`${base}/api/v1/keys`, { role: 'ad_account', scope: { organizers: ['O1'] } }, as(t.secret_key))).json.key;
    const b = await api('POST', '/api/v1/campaigns/budgets', { organizer_id: 'O1', event_id: 'E1', total_budget: 500, target_roas: 2 }, adKey);
    expect(b.status, b.text).toBe(201);
    budgetId = b.json.id;
    expect((await api('POST', `/api/v1/campaigns/budgets/${budgetId}/suite`, {}, adKey)).status).toBe(201);
    campaignId = (await api('GET', `/api/v1/campaigns/budgets/${budgetId}`, undefined, adKey)).json.campaigns[0].id;
    // A metrics sync's figures (a snapshot for the series, the campaign's own metrics), a tracked sale and an
    // optimiser decision that saw the ROAS.
    await server.db.query(`INSERT INTO campaign_metric_snapshots (tenant_id, campaign_id, at, impressions, clicks, spend, conversions, revenue) VALUES ($1, $2, now(), 1000, 10, 20, 2, 777)`, [t.tenant_id, campaignId]);
    await server.db.query(`UPDATE automated_campaigns SET budget_spent = 20, performance_metrics = '{"impressions":1000,"clicks":10,"spend":20,"conversions":2,"revenue_generated":777,"roas":38.85}' WHERE id = $1`, [campaignId]);
    await server.db.query(`INSERT INTO campaign_credits (tenant_id, order_id, campaign_id, revenue, tickets, matched_by, occurred_at) VALUES ($1, 'ORD-1', $2, 333, 2, 'utm', now() - interval '1 minute')`, [t.tenant_id, campaignId]);
    await server.db.query(`INSERT INTO campaign_optimization_log (tenant_id, budget_id, campaign_id, window_start, job, rule, action, inputs, params, reason, created_at)
      VALUES ($1, $2, $3, now(), 'campaigns.optimize', 'roas_above_target', 'set_daily_budget', '{"roas":16.65,"target_roas":2,"conversions":2,"revenue":333}', '{"kind":"set_daily_budget","daily_budget":12}', 'ROAS 16.65× is above 2× the target of 2×: daily budget 10 → 12.', now())`, [t.tenant_id, budgetId, campaignId]);
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('an organizer without view_revenue reads spend, sales and tickets, and no revenue or ROAS anywhere', async () => {
    expect((await api('PUT', '/api/v1/roles/organizer', { permissions: { view_revenue: false } })).status).toBe(200);
    const key = (await postJson(`${base}/api/v1/keys`, { role: 'organizer', scope: { organizers: ['O1'] } }, as(t.secret_key))).json.key as string;
    const token = await mintToken(base, t, { role: 'organizer', org_id: 'O1' });
    for (const who of [key, token]) {
      for (const path of ['/api/v1/campaigns/report?organizer_id=O1', `/api/v1/campaigns/budgets/${budgetId}`, `/api/v1/campaigns/${campaignId}`, `/api/v1/campaigns?budget_id=${budgetId}`]) {
        const r = await api('GET', path, undefined, who);
        expect({ path, status: r.status }).toEqual({ path, status: 200 });
        expect({ path, keys: keysOf(r.json).filter((k) => REVENUE_KEYS.includes(k)) }).toEqual({ path, keys: [] });
        expect(r.text.replaceAll(ROAS_REASON, '')).not.toMatch(/ROAS|777|333|38\.85|16\.65/);
      }
      const report = (await api('GET', '/api/v1/campaigns/report?organizer_id=O1', undefined, who)).json;
      expect(report).toMatchObject({ invested: 20, sales: 1, tickets: 2, summary: expect.stringContaining('made 1 sales (2 tickets)') });
      const detail = (await api('GET', `/api/v1/campaigns/budgets/${budgetId}`, undefined, who)).json;
      expect(detail.series[0]).toMatchObject({ spend: 20, sales: 1, conversions_platform: 2 });
      expect(detail.optimization_log[0]).toMatchObject({ rule: 'roas_above_target', inputs: { target_roas: 2, conversions: 2 } });
    }
    expect((await api('PUT', '/api/v1/roles/organizer', { permissions: { view_revenue: null } })).status).toBe(200);
  });

  it('an ad account (view_revenue by default) and the admin read revenue and ROAS', async () => {
    for (const who of [adKey, t.secret_key]) {
      const report = (await api('GET', '/api/v1/campaigns/report?organizer_id=O1', undefined, who)).json;
      expect(report).toMatchObject({ revenue: 333, roas_tracked: 16.65, roas_platform: 38.85 });
      expect((await api('GET', `/api/v1/campaigns/budgets/${budgetId}`, undefined, who)).json.series[0]).toMatchObject({ revenue: 333, revenue_platform: 777 });
    }
  });
});
