// The organizer's campaigns page (/dashboard#campaigns, issue 16 item 6) in Chromium: a budget and its suite created
// through the API, published on the mock ad platforms, two metrics syncs (so the chart has a line), the tracked
// sales credited; the page shows the budget bar, the campaigns with metrics and ROAS, the report's
// recommendations and the audiences with their sync state. The organizer dashboard token reads only its own
// organizer's campaigns and changes nothing. Screenshot in test-output/.
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { readQueue } from '../client/dashboard/approvals-data.js';
import { audienceRows, budgetSummary, campaignRows, formatRoas, liveOrganizerName, organizerLabel, readReport, seriesAxisMax, seriesPoints } from '../client/dashboard/campaigns-data.js';
import { launchChromium, pageErrors, screenshot } from './dashboard-helpers.js';
import { type bootServer, request, type Tenant } from './helpers.js';
import { closeAfterAll, serverOnMockPlatforms } from './campaigns-app-helpers.js';
import type { MockPlatforms } from './mock-ad-platforms/index.js';

declare const document: any;

describe('campaigns page data (pure)', () => {
  it('reads the report and refuses what is not one', () => {
    expect(readReport(null)).toBeNull();
    expect(readReport({ currency: 'EUR' })).toBeNull();
    const r = readReport({ currency: 'EUR', invested: 10, remaining: 90, budget_total: 100, sales: 2, tickets: 3, revenue: 42, roas_tracked: 4.2, roas_platform: null, summary: 's', recommendations: ['a', 7], campaigns: [{ id: 5, orders: 2, revenue: 42 }, { id: 'x' }] })!;
    expect(r.recommendations).toEqual(['a']);
    expect(r.credits.get(5)).toEqual({ orders: 2, revenue: 42 });
    expect(r.credits.size).toBe(1);
    expect(r.roas_platform).toBeNull();
  });

  it('computes the budget bar, capped at the total', () => {
    expect(budgetSummary({ id: 1, total_budget: 100, spent_budget: 25.5, currency: 'RON', status: 'active', daily_budget_limit: null })).toEqual({ id: 1, total: 100, spent: 25.5, remaining: 74.5, spentShare: 0.255, currency: 'RON', status: 'active', daily_limit: null });
    expect(budgetSummary({ id: 2, total_budget: 100, spent_budget: 101 })).toMatchObject({ remaining: 0, spentShare: 1 });
    expect(budgetSummary({ id: 3, total_budget: 0, spent_budget: 0 })!.spentShare).toBe(0);
    expect(budgetSummary({ total_budget: 1 })).toBeNull();
  });

  it('puts tracked sales next to platform figures; ROAS from tracked revenue, none before spend', () => {
    const credits = new Map([[1, { orders: 3, revenue: 84 }]]);
    const rows = campaignRows([
      { id: 1, name: 'A', platform: 'meta', campaign_type: 'prospecting', status: 'active', status_reason: null, budget_spent: 20, performance_metrics: { impressions: 1000, clicks: 10, conversions: 4, spend: 20 } },
      { id: 2, name: 'B', platform: 'tiktok', campaign_type: 'retargeting', status: 'paused', status_reason: 'cpa_above_limit', budget_spent: 0, performance_metrics: {} },
      { name: 'no id' },
    ], credits);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ impressions: 1000, clicks: 10, spend: 20, conversions: 4, sales: 3, roas: 4.2 });
    expect(rows[1]).toMatchObject({ status: 'paused', reason: 'cpa_above_limit', roas: null, sales: 0 });
    expect([formatRoas(4.2), formatRoas(null)]).toEqual(['4.2×', '–']);
  });

  it('says why a campaign failed (the platform\'s error), as it says a rejected draft\'s note', () => {
    const rows = campaignRows([
      { id: 1, status: 'failed', status_reason: null, last_error: 'META_AD_ACCOUNT_ID / META_ADS_TOKEN not configured' },
      { id: 2, status: 'draft', status_reason: 'Headline too long', last_error: null },
      { id: 3, status: 'failed', status_reason: null, last_error: '' },
      { id: 4, status: 'active', status_reason: null, last_error: 'HTTP 500 (retried)' },
    ], new Map());
    expect(rows.map((r) => r.reason)).toEqual(['META_AD_ACCOUNT_ID / META_ADS_TOKEN not configured', 'Headline too long', null, null]);
  });

  it('says why a campaign is back in the approval queue (last_error on pending_review)', () => {
    const rows = campaignRows([
      { id: 1, status: 'pending_review', status_reason: null, last_error: 'No daily budget is left for it today. It is back in the approval queue.' },
      { id: 2, status: 'pending_review', status_reason: null, last_error: null },
      { id: 3, status: 'pending_review', status_reason: null, last_error: ' ' },
    ], new Map());
    expect(rows.map((r) => r.reason)).toEqual(['No daily budget is left for it today. It is back in the approval queue.', null, null]);
  });

  it('names the organizer as the live view does: "Name (id)", the id alone without a catalog name', () => {
    expect(organizerLabel('Tixello Demo Promotions', 'org-demo')).toBe('Tixello Demo Promotions (org-demo)');
    expect([organizerLabel(null, 'org-demo'), organizerLabel('', 'org-demo'), organizerLabel(undefined, 'org-demo')]).toEqual(['org-demo', 'org-demo', 'org-demo']);
    // The campaigns page's header: the name from the live roll-up's REST answer.
    expect(liveOrganizerName({ topic: 'analytics:dashboard:org-demo', type: 'snapshot', data: { organizer_id: 'org-demo', organizer_name: 'Tixello Demo Promotions' } })).toBe('Tixello Demo Promotions');
    expect([liveOrganizerName({ data: { organizer_name: null } }), liveOrganizerName({ data: { organizer_name: '' } }), liveOrganizerName(null), liveOrganizerName({ error: {} })]).toEqual([null, null, null, null]);
    // The approvals table's Organizer column: the review queue row's organizer_name.
    const budget = { id: 1, status: 'active', total_budget: 100, spent_budget: 0 };
    const q = readQueue({ campaigns: [
      { id: 7, organizer_id: 'org-demo', organizer_name: 'Tixello Demo Promotions', budget },
      { id: 8, organizer_id: 'O2', organizer_name: null, budget },
    ], next_cursor: null })!;
    expect(q.items.map((i) => i.organizer)).toEqual(['Tixello Demo Promotions (org-demo)', 'O2']);
  });

  it('labels the performance axis 0, ½, 1 with distinct whole numbers, as the live chart (never "0, 1, 1")', () => {
    for (const pts of [[], [{ at: 1, spend: 0, revenue: 0, sales: 0 }], [{ at: 1, spend: 0.4, revenue: 1, sales: 0 }], [{ at: 1, spend: 3, revenue: 7, sales: 1 }]]) {
      const top = seriesAxisMax(pts);
      expect(new Set([0, 0.5, 1].map((f) => Math.round(top * f))).size, `top ${top}`).toBe(3);
    }
    expect(seriesAxisMax([{ at: 1, spend: 180, revenue: 240, sales: 3 }])).toBe(250);
  });

  it('lists targeted audiences with their sync state', () => {
    const rows = audienceRows([{ name: 'R', platform: 'meta', targeting: {
      custom_audiences: [{ type: 'event_viewers', audience_id: 9, external_id: '2384' }, { type: 'cart_abandoners', audience_id: null, external_id: null }],
      lookalike_audiences: [], excluded_audiences: [{ type: 'buyers', audience_id: 4, external_id: null }],
    } }, { name: 'P', targeting: { interests: ['rock'] } }]);
    expect(rows.map((a) => [a.kind, a.type, a.state])).toEqual([['custom', 'event_viewers', 'synced'], ['custom', 'cart_abandoners', 'waiting'], ['excluded', 'buyers', 'waiting']]);
  });

  it('orders the series by time and drops bad points', () => {
    const pts = seriesPoints([{ at: '2026-01-02T00:00:00Z', spend: 2 }, { at: 'never', spend: 9 }, { at: '2026-01-01T00:00:00Z', spend: 1, revenue: 3 }]);
    expect(pts.map((p) => [p.spend, p.revenue])).toEqual([[1, 3], [2, 0]]);
    expect(seriesPoints({})).toEqual([]);
  });
});

describe('campaigns page in Chromium', { timeout: 600_000 }, () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let mock: MockPlatforms;
  let browser: Browser;
  let t: Tenant;
  let token: string;
  let budgetId: number;
  let other: number;
  const t0 = Date.now();
  const api = (method: string, p: string, body?: unknown, auth = t.secret_key) => request(method, `${server.url}${p}`, body, { authorization: `Bearer ${auth}` });
  const runJob = async (name: string) => {
    const r = await request('POST', `${server.url}/api/admin/jobs/${name}/run`, undefined, { authorization: `Bearer ${server.adminToken}` });
    expect(r.status, r.text).toBe(200);
  };

  beforeAll(async () => {
    // The prospecting campaigns sell well, the rest poorly: distinct ROAS per row.
    const rates = (name: string) => ({ cpm: 6, ctr: 0.012, cvr: /prospecting/.test(name) ? 0.08 : 0.01, aov: 70, claimFactor: 1.3 });
    ({ mock, server, t } = await serverOnMockPlatforms({ seed: 7, startMs: t0, rates }, 'campaigns-dash'));
    expect((await api('PUT', '/api/v1/catalog/events', { items: [{ id: 'E1', organizer_id: 'O1', title: 'Rock Night', genres: ['rock'], url: 'https://tickets.example/e1' }, { id: 'E2', organizer_id: 'O2', title: 'Jazz' }] })).status).toBe(200);
    expect((await api('PUT', '/api/v1/catalog/organizers', { items: [{ id: 'O1', name: 'Rock Promotions' }] })).status).toBe(200);
    const minted = await api('POST', '/api/v1/tokens', { role: 'organizer', org_id: 'O1' });
    expect(minted.status, minted.text).toBe(201);
    token = minted.json.token;
    // An audience the remarketing module has built and synced to Meta: the Meta retargeting campaign links to it.
    await server.db.query(`INSERT INTO remarketing_audiences (tenant_id, organizer_id, event_id, platform, audience_type, name, criteria, external_audience_id, status)
      VALUES ($1, 'O1', 'E1', 'meta', 'event_viewers', 'E1 viewers', '{}', '23840001', 'active')`, [t.tenant_id]);
    const b = await api('POST', '/api/v1/campaigns/budgets', { organizer_id: 'O1', event_id: 'E1', total_budget: 600, daily_budget_limit: 150, allocation_strategy: 'equal_split', target_roas: 2 });
    expect(b.status, b.text).toBe(201);
    budgetId = b.json.id;
    const suite = await api('POST', `/api/v1/campaigns/budgets/${budgetId}/suite`, {});
    expect(suite.status, suite.text).toBe(201);
    expect((await api('POST', `/api/v1/campaigns/budgets/${budgetId}/submit`)).status).toBe(200);
    for (const c of suite.json.campaigns) expect((await api('POST', `/api/v1/campaigns/${c.id}/approve`)).status).toBe(200);
    const tk = suite.json.campaigns.find((c: any) => c.platform === 'tiktok' && c.campaign_type === 'lookalike');
    expect((await api('POST', `/api/v1/campaigns/${tk.id}/pause`)).status).toBe(200);
    // Approved one by one, the first campaign takes the day's headroom; the daily rebalance spreads it.
    await runJob('campaigns.rebalance');
    // Another organizer's budget: never on O1's page.
    other = (await api('POST', '/api/v1/campaigns/budgets', { organizer_id: 'O2', total_budget: 100 })).json.id;
    // Two syncs a day apart give the chart two points; the site's own tracking credits the true purchases.
    for (const hours of [24, 48]) {
      mock.advanceTo(t0 + hours * 3_600_000);
      await server.db.query(`INSERT INTO campaign_credits (tenant_id, order_id, campaign_id, revenue, tickets, matched_by, occurred_at)
        SELECT $1, x.order_id, c.id, x.revenue, x.tickets, 'utm', x.occurred_at
        FROM jsonb_to_recordset($2::jsonb) AS x(order_id text, utm_campaign text, revenue numeric, tickets int, occurred_at timestamptz)
        JOIN automated_campaigns c ON c.tenant_id = $1 AND x.utm_campaign = 'txc-' || c.budget_id || '-' || c.platform || '-' || c.campaign_type
        ON CONFLICT (tenant_id, order_id) DO NOTHING`, [t.tenant_id, JSON.stringify(mock.purchasesSince(0))]);
      await runJob('campaigns.sync_metrics');
    }
    browser = await launchChromium();
  }, 600_000);
  closeAfterAll(() => [browser, server, mock], 120_000);

  it('lets the organizer token read its own campaigns only, and change nothing', async () => {
    expect((await api('GET', '/api/v1/campaigns/report?organizer_id=O1', undefined, token)).status).toBe(200);
    expect((await api('GET', `/api/v1/campaigns/budgets/${budgetId}`, undefined, token)).status).toBe(200);
    const theirs = await api('GET', '/api/v1/campaigns/report?organizer_id=O2', undefined, token);
    expect(theirs.status).toBe(403);
    expect(theirs.json.error).toMatchObject({ code: 'forbidden', permission: 'view_ad_analytics', scope: 'organizer O2' });
    expect((await api('GET', `/api/v1/campaigns/budgets/${other}`, undefined, token)).status).toBe(403);
    const list = await api('GET', '/api/v1/campaigns/budgets', undefined, token);
    expect(list.json.budgets.map((b: any) => b.id)).toEqual([budgetId]);
    // Writes stay on the secret key: a dashboard token is not one.
    const first = (await api('GET', `/api/v1/campaigns/budgets/${budgetId}`)).json.campaigns[0];
    for (const [m, p] of [['POST', `/api/v1/campaigns/${first.id}/pause`], ['PATCH', `/api/v1/campaigns/budgets/${budgetId}`], ['POST', '/api/v1/campaigns/budgets']] as const) {
      const r = await api(m, p, m === 'POST' && p.endsWith('budgets') ? { organizer_id: 'O1', total_budget: 10 } : m === 'PATCH' ? { total_budget: 1 } : undefined, token);
      expect(r.status, `${m} ${p}`).toBe(401);
    }
    expect((await api('GET', `/api/v1/campaigns/budgets/${budgetId}`)).json.campaigns[0].status).toBe(first.status);
  });

  it('shows the budget, the campaigns with metrics, the chart, recommendations and audiences', async () => {
    const detail = (await api('GET', `/api/v1/campaigns/budgets/${budgetId}`)).json;
    const report = (await api('GET', '/api/v1/campaigns/report?organizer_id=O1')).json;
    expect(detail.budget.spent_budget).toBeGreaterThan(0);
    expect(report.recommendations.length).toBeGreaterThan(0);

    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await ctx.newPage();
    const errors = pageErrors(p);
    await p.goto(`${server.url}/dashboard?token=${encodeURIComponent(token)}#campaigns`);
    await p.waitForSelector('#campaigns');
    await p.waitForFunction(() => document.querySelectorAll('#cp-rows tr').length > 0 && document.querySelectorAll('#cp-chart polyline').length === 2, undefined, { timeout: 120_000 });
    // The header names the organizer as the live view does (its catalog name from the live roll-up), not the id alone.
    await p.waitForFunction(() => document.getElementById('who').textContent === 'Organizer Rock Promotions (O1)', undefined, { timeout: 30_000 });

    // Budget bar: spent and remaining as the API says.
    const bar = await p.$eval('#cp-bar-text', (el: any) => ({ spent: Number(el.dataset.spent), remaining: Number(el.dataset.remaining), text: el.textContent }));
    expect(bar.spent).toBe(detail.budget.spent_budget);
    expect(bar.remaining).toBeCloseTo(600 - detail.budget.spent_budget, 2);
    expect(bar.text).toMatch(/^Spent .+ of .+ remaining · daily limit/);
    // Campaigns table: every campaign, with the platform's figures and ROAS from tracked revenue.
    const rows = await p.$$eval('#cp-rows tr', (trs: any[]) => trs.map((tr) => ({ id: Number(tr.dataset.id), status: tr.dataset.status, cells: Array.from(tr.querySelectorAll('td')).map((td: any) => td.dataset.value ?? td.textContent) })));
    expect(rows).toHaveLength(detail.campaigns.length);
    const byId = new Map(report.campaigns.map((c: any) => [c.id, c]));
    for (const c of detail.campaigns) {
      const row = rows.find((r) => r.id === c.id)!;
      expect(row.status).toBe(c.status);
      expect(Number(row.cells[4])).toBe(c.performance_metrics.impressions);
      expect(Number(row.cells[5])).toBe(c.performance_metrics.clicks);
      expect(Number(row.cells[6])).toBe(c.budget_spent);
      const cr: any = byId.get(c.id);
      expect(Number(row.cells[8])).toBe(cr.orders);
      if (c.budget_spent > 0) expect(Number(row.cells[9])).toBeCloseTo(cr.revenue / c.budget_spent, 2);
    }
    expect(rows.some((r) => r.status === 'paused')).toBe(true);
    expect(rows.some((r) => Number(r.cells[9]) > 0)).toBe(true);
    expect(rows.filter((r) => Number(r.cells[6]) > 0).length).toBeGreaterThan(1);
    // The report's plain words, exactly.
    expect(await p.textContent('#cp-summary')).toBe(report.summary);
    expect(await p.$$eval('#cp-recs li', (lis: any[]) => lis.map((li) => li.textContent))).toEqual(report.recommendations);
    // Audiences: Meta's retargeting linked to the synced audience, others waiting.
    const aud = await p.$$eval('#cp-audiences tr', (trs: any[]) => trs.map((tr) => ({ state: tr.dataset.state, text: tr.textContent })));
    expect(aud.some((a) => a.state === 'synced' && /23840001/.test(a.text))).toBe(true);
    expect(aud.some((a) => a.state === 'waiting')).toBe(true);
    // Nothing of O2.
    expect(await p.$$eval('#cp-budget option', (os: any[]) => os.map((o) => Number(o.value)))).toEqual([budgetId]);
    await screenshot(p, 'campaigns-dashboard.png');

    // The nav link from the live view leads back here.
    await p.click('#campaigns .title-row a');
    await p.waitForSelector('#campaigns', { state: 'detached' });
    expect(await p.isVisible('#nav-campaigns')).toBe(true);
    await p.click('#nav-campaigns');
    await p.waitForSelector('#cp-rows tr');
    expect(errors).toEqual([]);
    await ctx.close();
  }, 300_000);

  it('shows an organizer without a budget only the notice: no full "spent" bar, empty tables or chart', async () => {
    const minted = await api('POST', '/api/v1/tokens', { role: 'organizer', org_id: 'O3' });
    expect(minted.status, minted.text).toBe(201);
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await ctx.newPage();
    const errors = pageErrors(p);
    await p.goto(`${server.url}/dashboard?token=${encodeURIComponent(minted.json.token)}#campaigns`);
    await p.waitForSelector('#cp-empty', { state: 'visible', timeout: 120_000 });
    for (const sel of ['#cp-bar', '#cp-budget', '#cp-summary', '#cp-rows', '#cp-chart', '#cp-audiences']) expect(await p.isVisible(sel), sel).toBe(false);
    // The fill has no width of its own until a budget sets one (a div without one is the whole bar).
    expect(await p.$eval('#cp-bar .cp-bar-fill', (el: any) => (globalThis as any).getComputedStyle(el).width)).toBe('0px');
    expect(errors).toEqual([]);
    await ctx.close();
  }, 120_000);
});
