// Campaign API (issue 16) on a running server against the mock ad platforms: budget → suite (genres from the
// catalog) → review queue → approval publishes on Meta, Google Ads and TikTok → pause / resume / overrides →
// organizer report; scope of ad_account keys, admin-only approval, audit entries, bad input answered 400 with
// the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postJson, request, type Tenant } from './helpers.js';
import { LiveClient, mintToken } from './live-helpers.js';
import { noticeSink, type NoticeSink, SUITE_DEFAULTS_ENV } from './campaigns-stores.js';
import { startMockPlatforms, type MockPlatforms } from './mock-ad-platforms/index.js';

describe('campaigns API', { timeout: 180_000 }, () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let mock: MockPlatforms;
  let base: string;
  let t: Tenant;
  let adKey: string;
  let hook: NoticeSink;
  const notices: any[] = [];
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const api = (method: string, p: string, body?: unknown, key = t.secret_key) => request(method, `${base}${p}`, body, as(key));

  beforeAll(async () => {
    hook = await noticeSink(notices);
    mock = await startMockPlatforms({ seed: 1, startMs: Date.now(), rates: () => ({ cpm: 5, ctr: 0.01, cvr: 0.03, aov: 60, claimFactor: 1.2 }) });
    server = await bootServer({
      ...SUITE_DEFAULTS_ENV,
      CAMPAIGNS_WEBHOOK_URL: hook.url,
      META_GRAPH_URL: mock.url, GOOGLE_ADS_URL: mock.url, TIKTOK_API_URL: mock.url,
      META_AD_ACCOUNT_ID: 'act_1001', META_ADS_TOKEN: 'tok', GOOGLE_ADS_CUSTOMER_ID: '200-200-2002', GOOGLE_ADS_TOKEN: 'tok', GOOGLE_ADS_DEVELOPER_TOKEN: 'dev', TIKTOK_ADVERTISER_ID: '3003', TIKTOK_ADS_TOKEN: 'tok',
      META_PIXEL_ID: '123456789012345', TIKTOK_PIXEL_ID: 'CABC123DEF456GHI789J', TIKTOK_LOCATION_IDS: '798549',
    });
    base = server.url;
    t = await createTenant(base, 'ads');
    expect((await api('PUT', '/api/v1/catalog/events', { items: [{ id: 'E1', organizer_id: 'O1', title: 'Rock Night', genres: ['rock', 'indie'], city: 'Cluj', url: 'https://tickets.example/e1' }] })).status).toBe(200);
    const k = await postJson(`${base}/api/v1/keys`, { role: 'ad_account', scope: { organizers: ['O1'] } }, as(t.secret_key));
    expect(k.status, k.text).toBe(201);
    adKey = k.json.key;
  });
  afterAll(async () => {
    await server?.close();
    await mock?.close();
    await hook?.close();
  });

  it('runs the flow from budget to published suite, with overrides and the report', async () => {
    const b = await api('POST', '/api/v1/campaigns/budgets', {
      organizer_id: 'O1', event_id: 'E1', total_budget: 700, daily_budget_limit: 60, allocation_strategy: 'manual', target_cpa: 15, target_roas: 2,
      platform_allocations: { meta: { percentage: 50 }, google_ads: { percentage: 30 }, tiktok: { percentage: 20, daily_limit: 10 } },
      ends_at: new Date(Date.now() + 7 * 86_400_000).toISOString(), payment_reference: 'TRF-1',
    }, adKey);
    expect(b.status, b.text).toBe(201);
    const id = b.json.id;
    expect(b.json).toMatchObject({ status: 'active', total_budget: 700, allocation_strategy: 'manual' });

    // An audience the remarketing module already built and synced to Meta is referenced by id.
    await server.db.query(`INSERT INTO remarketing_audiences (tenant_id, organizer_id, event_id, platform, audience_type, name, criteria, external_audience_id, status)
      VALUES ($1, 'O1', 'E1', 'meta', 'event_viewers', 'E1 viewers', '{}', '23840001', 'active')`, [t.tenant_id]);
    const suite = await api('POST', `/api/v1/campaigns/budgets/${id}/suite`, { lookalike_pct: 2 }, adKey);
    expect(suite.status, suite.text).toBe(201);
    expect(suite.json.campaigns).toHaveLength(12);
    const pro = suite.json.campaigns.find((c: any) => c.platform === 'meta' && c.campaign_type === 'prospecting');
    expect(pro.targeting.interests).toEqual(['rock', 'indie']);
    expect(pro.status).toBe('draft');
    const rt = suite.json.campaigns.find((c: any) => c.platform === 'meta' && c.campaign_type === 'retargeting');
    expect(rt.targeting.custom_audiences[0]).toMatchObject({ type: 'event_viewers', external_id: '23840001' });
    expect(suite.json.campaigns.find((c: any) => c.platform === 'tiktok' && c.campaign_type === 'retargeting').targeting.custom_audiences[0].audience_id).toBeNull();
    // A second call creates nothing new.
    expect((await api('POST', `/api/v1/campaigns/budgets/${id}/suite`, {}, adKey)).json.campaigns).toHaveLength(12);

    expect((await api('POST', `/api/v1/campaigns/budgets/${id}/submit`, undefined, adKey)).json.campaigns.every((c: any) => c.status === 'pending_review')).toBe(true);
    // The approval queue is the marketplace admin's.
    expect((await api('GET', '/api/v1/campaigns/review-queue', undefined, adKey)).status).toBe(403);
    const queue = await api('GET', '/api/v1/campaigns/review-queue');
    expect(queue.json.campaigns.map((c: any) => c.id).sort()).toEqual(suite.json.campaigns.map((c: any) => c.id).sort());
    // Each row names its organizer from the catalog (the approvals table shows "Name (id)"); null without a name.
    expect(queue.json.campaigns.every((c: any) => c.organizer_name === null)).toBe(true);
    expect((await api('PUT', '/api/v1/catalog/organizers', { items: [{ id: 'O1', name: 'Rock Promotions' }] })).status).toBe(200);
    expect(new Set((await api('GET', '/api/v1/campaigns/review-queue')).json.campaigns.map((c: any) => c.organizer_name))).toEqual(new Set(['Rock Promotions']));
    expect((await api('POST', `/api/v1/campaigns/${pro.id}/approve`, undefined, adKey)).status).toBe(403);

    for (const c of suite.json.campaigns) {
      const r = await api('POST', `/api/v1/campaigns/${c.id}/approve`);
      expect(r.status, r.text).toBe(200);
      expect(r.json.campaign.status).toBe('active');
      expect(r.json.campaign.external_campaign_id).toBeTruthy();
    }
    expect(mock.campaigns.size).toBe(12);
    expect([...mock.campaigns.values()].every((c) => c.active)).toBe(true);
    // The manual split: never above the daily limit, TikTok within its own cap.
    const daily = [...mock.campaigns.values()];
    expect(daily.reduce((s, c) => s + c.daily, 0)).toBeLessThanOrEqual(60);
    expect(daily.filter((c) => c.platform === 'tiktok').reduce((s, c) => s + c.daily, 0)).toBeLessThanOrEqual(10);
    expect(mock.calls.some((c) => /^\/v25\.0\/act_1001\/campaigns$/.test(c.path))).toBe(true);
    expect(mock.calls.some((c) => /^\/v22\/customers\/2002002002\/campaignBudgets:mutate$/.test(c.path))).toBe(true);
    expect(mock.calls.some((c) => c.path === '/open_api/v1.3/campaign/create/')).toBe(true);

    // Pause, resume, daily budget override, on the platform.
    const ext = (cid: number) => [...mock.campaigns.values()].find((m) => m.utm?.endsWith('-meta-prospecting') && cid > 0)!;
    expect((await api('POST', `/api/v1/campaigns/${pro.id}/pause`, undefined, adKey)).json.campaign).toMatchObject({ status: 'paused', status_reason: 'manual' });
    expect(ext(pro.id).active).toBe(false);
    expect((await api('POST', `/api/v1/campaigns/${pro.id}/pause`, undefined, adKey)).status).toBe(409);
    expect((await api('POST', `/api/v1/campaigns/${pro.id}/resume`, undefined, adKey)).json.campaign.status).toBe('active');
    expect(ext(pro.id).active).toBe(true);
    // Paused by the daily-limit rule, then by hand: the manual pause is taken (it was 409 "is paused") and no rule
    // resumes it, not even the optimiser on a day under the limit.
    await server.db.query("UPDATE automated_campaigns SET status = 'paused', status_reason = 'daily_limit' WHERE id = $1", [pro.id]);
    ext(pro.id).active = false;
    const held = await api('POST', `/api/v1/campaigns/${pro.id}/pause`, undefined, adKey);
    expect(held.status, held.text).toBe(200);
    expect(held.json.campaign).toMatchObject({ status: 'paused', status_reason: 'manual' });
    const opt = await request('POST', `${base}/api/admin/jobs/campaigns.optimize/run`, undefined, { authorization: `Bearer ${server.adminToken}` });
    expect(opt.json.status, opt.text).toBe('succeeded');
    expect((await api('GET', `/api/v1/campaigns/budgets/${id}`, undefined, adKey)).json.campaigns.find((c: any) => c.id === pro.id)).toMatchObject({ status: 'paused', status_reason: 'manual' });
    expect(ext(pro.id).active).toBe(false);
    expect((await api('POST', `/api/v1/campaigns/${pro.id}/resume`, undefined, adKey)).json.campaign.status).toBe('active');
    expect(ext(pro.id).active).toBe(true);
    expect((await api('PUT', `/api/v1/campaigns/${pro.id}/daily-budget`, { daily_budget: 7.5 }, adKey)).json.campaign.daily_budget).toBe(7.5);
    expect(ext(pro.id).daily).toBe(7.5);
    // A hand-set daily budget never passes the budget's headroom: the daily limit (60) minus what the other
    // running campaigns take a day, what is left of the total, and the platform's own daily_limit (TikTok 10).
    const huge = await api('PUT', `/api/v1/campaigns/${pro.id}/daily-budget`, { daily_budget: 5000 }, adKey);
    expect(huge.status, huge.text).toBe(400);
    expect(huge.json.error).toMatchObject({ code: 'invalid_field', field: 'daily_budget', cap: 'daily_budget_limit' });
    const others = [...mock.campaigns.values()].filter((m) => !m.utm?.endsWith('-meta-prospecting')).reduce((s2, m) => s2 + m.daily, 0);
    expect(huge.json.error.max).toBeCloseTo(Math.floor((60 - others) * 100 + 1e-6) / 100, 2);
    expect(huge.json.error.message).toContain('daily_budget_limit 60');
    expect(ext(pro.id).daily).toBe(7.5);
    expect((await api('PUT', `/api/v1/campaigns/${pro.id}/daily-budget`, { daily_budget: Math.round((huge.json.error.max + 0.01) * 100) / 100 }, adKey)).status).toBe(400);
    expect((await api('PUT', `/api/v1/campaigns/${pro.id}/daily-budget`, { daily_budget: huge.json.error.max }, adKey)).json.campaign.daily_budget).toBe(huge.json.error.max);
    expect((await api('PUT', `/api/v1/campaigns/${pro.id}/daily-budget`, { daily_budget: 7.5 }, adKey)).json.campaign.daily_budget).toBe(7.5);
    const tk = suite.json.campaigns.find((c: any) => c.platform === 'tiktok' && c.campaign_type === 'prospecting');
    const tkOthers = [...mock.campaigns.values()].filter((m) => m.platform === 'tiktok' && !m.utm?.endsWith('-tiktok-prospecting')).reduce((s2, m) => s2 + m.daily, 0);
    const tkr = await api('PUT', `/api/v1/campaigns/${tk.id}/daily-budget`, { daily_budget: 10 - tkOthers + 0.5 }, adKey);
    expect(tkr.status, tkr.text).toBe(400);
    expect(tkr.json.error).toMatchObject({ field: 'daily_budget', cap: 'platform_allocations.tiktok.daily_limit' });
    expect((await api('PATCH', `/api/v1/campaigns/budgets/${id}`, { total_budget: 900 }, adKey)).json.total_budget).toBe(900);
    // An amount below a cent would be stored as 0.00: refused with the field, not a 500 from the database.
    for (const tiny of [1e-10, 5e-324, 0.001]) {
      const r = await api('PATCH', `/api/v1/campaigns/budgets/${id}`, { total_budget: tiny }, adKey);
      expect({ status: r.status, field: r.json.error?.field }).toEqual({ status: 400, field: 'total_budget' });
    }
    // A daily limit above the total is refused on a change as at creation, whichever of the two moves.
    const limit0 = (await api('GET', `/api/v1/campaigns/budgets/${id}`, undefined, adKey)).json.budget.daily_budget_limit;
    expect((await api('PATCH', `/api/v1/campaigns/budgets/${id}`, { daily_budget_limit: 50 }, adKey)).status).toBe(200);
    for (const [change, field] of [[{ daily_budget_limit: 901 }, 'daily_budget_limit'], [{ total_budget: 49 }, 'total_budget'], [{ total_budget: 10, daily_budget_limit: 20 }, 'daily_budget_limit']] as const) {
      const r = await api('PATCH', `/api/v1/campaigns/budgets/${id}`, change, adKey);
      expect({ status: r.status, field: r.json.error?.field }).toEqual({ status: 400, field });
    }
    expect((await api('PATCH', `/api/v1/campaigns/budgets/${id}`, { daily_budget_limit: limit0 }, adKey)).status).toBe(200);
    expect((await api('GET', `/api/v1/campaigns/budgets/${id}`, undefined, adKey)).json.budget).toMatchObject({ total_budget: 900, daily_budget_limit: limit0 });

    // Metrics sync by hand: spend and the platform's claim reach the campaigns; the report speaks plainly.
    mock.advanceTo(Date.now() + 48 * 3_600_000);
    const run = await request('POST', `${base}/api/admin/jobs/campaigns.sync_metrics/run`, undefined, { authorization: `Bearer ${server.adminToken}` });
    expect(run.status, run.text).toBe(200);
    const got = await api('GET', `/api/v1/campaigns/budgets/${id}`, undefined, adKey);
    expect(got.json.budget.spent_budget).toBeGreaterThan(0);
    expect(got.json.campaigns.every((c: any) => typeof c.performance_metrics.impressions === 'number')).toBe(true);
    expect(got.json.series.length).toBeGreaterThan(0);
    const rep = await api('GET', '/api/v1/campaigns/report?organizer_id=O1', undefined, adKey);
    expect(rep.status, rep.text).toBe(200);
    expect(rep.json.invested).toBeGreaterThan(0);
    expect(rep.json.summary).toMatch(/^You invested \d+\.\d\d EUR and made \d+ sales \(\d+ tickets\)/);
    // Below 20 % left: the daily rebalance tells the organizer once (webhook) and logs why.
    // The organizer's live dashboard gets it as a notice too (README "Topics"); another organizer's does not, nor a
    // promoter of O1 who reads its dashboard but not its campaigns (no view_ad_analytics).
    const spent = got.json.budget.spent_budget;
    const dash = await LiveClient.open(base, await mintToken(base, t, { role: 'organizer', org_id: 'O1' }));
    const other = await LiveClient.open(base, await mintToken(base, t, { role: 'organizer', org_id: 'O2' }));
    const promoter = await LiveClient.open(base, await mintToken(base, t, { role: 'promoter', org_ids: ['O1'] }));
    try {
      expect((await dash.subscribe('analytics:dashboard:O1')).type).toBe('snapshot');
      expect((await other.subscribe('analytics:dashboard:O2')).type).toBe('snapshot');
      expect((await promoter.subscribe('analytics:dashboard:O1')).type).toBe('snapshot');
      expect((await api('PATCH', `/api/v1/campaigns/budgets/${id}`, { total_budget: Math.ceil(spent * 110) / 100 })).status).toBe(200);
      const reb = await request('POST', `${base}/api/admin/jobs/campaigns.rebalance/run`, undefined, { authorization: `Bearer ${server.adminToken}` });
      expect(reb.json.status, reb.text).toBe('succeeded');
      expect(notices).toEqual([expect.objectContaining({ type: 'campaign_budget_low', budget_id: id, organizer_id: 'O1', currency: 'EUR' })]);
      const n = await dash.next((m) => m.type === 'notice');
      expect(n).toMatchObject({ topic: 'analytics:dashboard:O1', ts: expect.any(Number), data: { kind: 'campaign_budget_low', budget_id: id, organizer_id: 'O1', currency: 'EUR', remaining: notices[0].remaining } });
      expect(n.data).not.toHaveProperty('tenant');
      expect(other.messages.some((m) => m.type === 'notice')).toBe(false);
      expect(promoter.messages.some((m) => m.type === 'notice')).toBe(false);
    } finally {
      dash.close();
      other.close();
      promoter.close();
    }
    const after = await api('GET', `/api/v1/campaigns/budgets/${id}`, undefined, adKey);
    expect(after.json.budget.low_notified_at).not.toBeNull();
    expect(after.json.optimization_log.some((d: any) => d.rule === 'low_budget' && /left/.test(d.reason) && d.applied_at)).toBe(true);
    await request('POST', `${base}/api/admin/jobs/campaigns.rebalance/run`, undefined, { authorization: `Bearer ${server.adminToken}` });
    expect(notices).toHaveLength(1);
    const audit = await api('GET', '/api/v1/audit?limit=100');
    const actions = audit.json.audit.map((e: any) => e.action);
    for (const a of ['campaigns.budget_created', 'campaigns.approved', 'campaigns.paused', 'campaigns.daily_budget_changed', 'campaigns.budget_changed']) expect(actions).toContain(a);
  });

  it('keeps a scoped key to its organizers', async () => {
    const r = await api('POST', '/api/v1/campaigns/budgets', { organizer_id: 'O2', total_budget: 100 }, adKey);
    expect(r.status).toBe(403);
    expect(r.json.error).toMatchObject({ code: 'forbidden', permission: 'create_campaigns', scope: 'organizer O2' });
    const theirs = await api('POST', '/api/v1/campaigns/budgets', { organizer_id: 'O2', total_budget: 100 });
    expect((await api('GET', `/api/v1/campaigns/budgets/${theirs.json.id}`, undefined, adKey)).status).toBe(403);
    expect((await api('GET', '/api/v1/campaigns/report?organizer_id=O2', undefined, adKey)).status).toBe(403);
    const list = await api('GET', '/api/v1/campaigns/budgets', undefined, adKey);
    expect(list.json.budgets.every((b: any) => b.organizer_id === 'O1')).toBe(true);
  });

  it('answers bad input with 400 naming the field, never 5xx', async () => {
    const cases: [unknown, string][] = [
      [{ organizer_id: 'O1', total_budget: -5 }, 'total_budget'],
      [{ organizer_id: 'O1', total_budget: 1e12 }, 'total_budget'],
      [{ organizer_id: 'O1\u0000', total_budget: 10 }, 'organizer_id'],
      [{ organizer_id: 'O1', total_budget: 10, surprise: 1 }, 'surprise'],
      [{ organizer_id: 'O1', total_budget: 10, allocation_strategy: 'yolo' }, 'allocation_strategy'],
      [{ organizer_id: 'O1', total_budget: 10, platform_allocations: { myspace: { percentage: 100 } } }, 'platform_allocations.myspace'],
      [{ organizer_id: 'O1', total_budget: 10, platform_allocations: { meta: { percentage: 60 } } }, 'platform_allocations'],
      [{ organizer_id: 'O1', total_budget: 10, daily_budget_limit: 20 }, 'daily_budget_limit'],
      [{ organizer_id: 'O1', total_budget: 10, ends_at: 'tomorrow' }, 'ends_at'],
      [{ organizer_id: 'O1', total_budget: 10, ends_at: '2027-02-30T00:00:00Z' }, 'ends_at'],
      [{ organizer_id: 'O1', total_budget: 10, ends_at: new Date(Date.now() - 60_000).toISOString() }, 'ends_at'],
      [{ organizer_id: 'O1', total_budget: 10, currency: 'euro' }, 'currency'],
      [{ total_budget: 10 }, 'organizer_id'],
      // equal_split splits the day evenly: uneven percentages would be ignored, so they are refused.
      [{ organizer_id: 'O1', total_budget: 10, platform_allocations: { meta: { percentage: 70 }, tiktok: { percentage: 30 } } }, 'platform_allocations.meta.percentage'],
    ];
    for (const [body, field] of cases) {
      const r = await api('POST', '/api/v1/campaigns/budgets', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.field).toBe(field);
    }
    expect((await api('PUT', '/api/v1/campaigns/1/daily-budget', { daily_budget: 'lots' })).json.error.field).toBe('daily_budget');
    expect((await api('POST', '/api/v1/campaigns/budgets/1/suite', { lookalike_pct: 7 })).json.error.field).toBe('lookalike_pct');
    expect((await api('GET', '/api/v1/campaigns/report')).json.error.field).toBe('organizer_id');
    expect((await api('GET', '/api/v1/campaigns/budgets/999999')).status).toBe(404);
    expect((await api('POST', '/api/v1/campaigns/999999/approve')).status).toBe(404);
  });

  it('takes amounts in the currency\'s own minor units, and sends them so to every platform', async () => {
    const make = (body: Record<string, unknown>) => api('POST', '/api/v1/campaigns/budgets', { organizer_id: 'OJ', allocation_strategy: 'equal_split', ends_at: new Date(Date.now() + 7 * 86_400_000).toISOString(), ...body });
    // The yen has no minor unit; the Kuwaiti dinar has three; ZZZ is no currency.
    for (const [body, field] of [[{ total_budget: 150000.55, currency: 'JPY' }, 'total_budget'], [{ total_budget: 150000, daily_budget_limit: 15000.25, currency: 'JPY' }, 'daily_budget_limit'],
      [{ total_budget: 500.1255, currency: 'KWD' }, 'total_budget'], [{ total_budget: 100, currency: 'ZZZ' }, 'currency'], [{ total_budget: 10.005, currency: 'EUR' }, 'total_budget']] as const) {
      const r = await make(body);
      expect({ status: r.status, field: r.json.error?.field }, JSON.stringify(body)).toEqual({ status: 400, field });
    }
    const kwd = await make({ total_budget: 500.125, currency: 'KWD' });
    expect(kwd.status, kwd.text).toBe(201);
    expect(kwd.json.total_budget).toBe(500.125);
    expect((await api('PATCH', `/api/v1/campaigns/budgets/${kwd.json.id}`, { total_budget: 600.375 })).json.total_budget).toBe(600.375);
    expect((await api('PATCH', `/api/v1/campaigns/budgets/${kwd.json.id}`, { total_budget: 600.3755 })).json.error?.field).toBe('total_budget');

    const jpy = await make({ total_budget: 100000, currency: 'JPY' });
    expect(jpy.status, jpy.text).toBe(201);
    expect((await api('PATCH', `/api/v1/campaigns/budgets/${jpy.json.id}`, { total_budget: 100000.5 })).json.error?.field).toBe('total_budget');
    const suite = await api('POST', `/api/v1/campaigns/budgets/${jpy.json.id}/suite`, {});
    await api('POST', `/api/v1/campaigns/budgets/${jpy.json.id}/submit`);
    const before = mock.calls.length;
    const daily: number[] = [];
    for (const c of suite.json.campaigns) {
      const r = await api('POST', `/api/v1/campaigns/${c.id}/approve`);
      expect(r.json.campaign?.status, r.text).toBe('active');
      daily.push(r.json.campaign.daily_budget);
    }
    // 100000 JPY over 7 days split 12 ways: 1190 yen each (1190.47 before, sent to Meta as 119047).
    expect(daily.every((d) => Number.isInteger(d) && d === 1190)).toBe(true);
    const sent = mock.calls.slice(before);
    const metaBudgets = sent.filter((c) => /\/act_1001\/campaigns$/.test(c.path) && c.method === 'POST').map((c) => c.body.daily_budget);
    expect(metaBudgets).toEqual([1190, 1190, 1190, 1190]);
    const googleMicros = sent.filter((c) => c.path.endsWith('/campaignBudgets:mutate')).map((c) => c.body.operations[0].create.amountMicros);
    expect(googleMicros).toEqual(['1190000000', '1190000000', '1190000000', '1190000000']);
    expect(sent.filter((c) => c.path === '/open_api/v1.3/campaign/create/').map((c) => c.body.budget)).toEqual([1190, 1190, 1190, 1190]);
    // A daily budget by hand: whole yen only; the platform gets it as such.
    const meta = suite.json.campaigns.find((c: any) => c.platform === 'meta');
    expect((await api('PUT', `/api/v1/campaigns/${meta.id}/daily-budget`, { daily_budget: 1000.5 })).json.error?.field).toBe('daily_budget');
    expect((await api('PUT', `/api/v1/campaigns/${meta.id}/daily-budget`, { daily_budget: 1000 })).json.campaign?.daily_budget).toBe(1000);
    expect(mock.calls.at(-1)!.body).toMatchObject({ daily_budget: 1000 });
  });

  it('reports one currency at a time: amounts in EUR and USD are never added up', async () => {
    for (const [total, currency] of [[1000, 'EUR'], [7, 'USD']] as const) {
      expect((await api('POST', '/api/v1/campaigns/budgets', { organizer_id: 'OCUR', total_budget: total, currency })).status).toBe(201);
    }
    const main = await api('GET', '/api/v1/campaigns/report?organizer_id=OCUR');
    expect(main.status, main.text).toBe(200);
    expect(main.json).toMatchObject({ currency: 'EUR', budget_total: 1000, currencies: ['EUR', 'USD'] });
    expect((await api('GET', '/api/v1/campaigns/report?organizer_id=OCUR&currency=USD')).json).toMatchObject({ currency: 'USD', budget_total: 7 });
    expect((await api('GET', '/api/v1/campaigns/report?organizer_id=OCUR&currency=usd')).json.error.field).toBe('currency');
    const overview = (await api('GET', '/api/v1/campaigns/overview')).json.organizers.filter((o: any) => o.organizer_id === 'OCUR');
    expect(overview.map((o: any) => [o.currency, o.total_budget])).toEqual([['EUR', 1000], ['USD', 7]]);
  });
});
