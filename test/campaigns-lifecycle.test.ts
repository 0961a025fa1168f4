// A campaign's life against its budget's state (issue 16, README "Campaigns"), on a running server and the mock ad
// platforms: approval refused (409) for a budget that is not active, has ended or has no day's budget left, and
// nothing sent to a platform then; a budget that starts later publishes its approved campaigns when it starts (the
// resume_publishing job); an override never reopens a budget without raising its total above what was spent; one
// campaign and its own log, and the campaign list, read with the budget reads' permission and scope; unknown ids 404.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postJson, request, type Tenant } from './helpers.js';
import { mockPlatformsEnv } from './campaigns-stores.js';
import { startMockPlatforms, type MockPlatforms } from './mock-ad-platforms/index.js';

describe('campaign lifecycle against its budget', { timeout: 180_000 }, () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let mock: MockPlatforms;
  let t: Tenant;
  let adKey: string;
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const api = (method: string, p: string, body?: unknown, key = t.secret_key) => request(method, `${server.url}${p}`, body, as(key));
  const job = (name: string) => request('POST', `${server.url}/api/admin/jobs/${name}/run`, undefined, { authorization: `Bearer ${server.adminToken}` });
  const DAY = 86_400_000;

  /** A budget of organizer O1 with its suite submitted: the pending campaigns. */
  async function pending(extra: Record<string, unknown> = {}, organizer = 'O1'): Promise<{ budget: number; campaigns: any[] }> {
    const b = await api('POST', '/api/v1/campaigns/budgets', { organizer_id: organizer, total_budget: 700, daily_budget_limit: 60, allocation_strategy: 'equal_split', ends_at: new Date(Date.now() + 7 * DAY).toISOString(), ...extra });
    expect(b.status, b.text).toBe(201);
    const s = await api('POST', `/api/v1/campaigns/budgets/${b.json.id}/suite`, {});
    expect(s.status, s.text).toBe(201);
    expect((await api('POST', `/api/v1/campaigns/budgets/${b.json.id}/submit`)).status).toBe(200);
    return { budget: b.json.id, campaigns: s.json.campaigns };
  }
  const platformCalls = () => mock.calls.filter((c) => c.method === 'POST').length;

  beforeAll(async () => {
    mock = await startMockPlatforms({ seed: 2, startMs: Date.now(), rates: () => ({ cpm: 5, ctr: 0.01, cvr: 0.03, aov: 60, claimFactor: 1.2 }) });
    server = await bootServer({
      ...mockPlatformsEnv(mock.url),
    });
    t = await createTenant(server.url, 'lifecycle');
    const k = await postJson(`${server.url}/api/v1/keys`, { role: 'ad_account', scope: { organizers: ['O1'] } }, as(t.secret_key));
    expect(k.status, k.text).toBe(201);
    adKey = k.json.key;
  });
  afterAll(async () => {
    await server?.close();
    await mock?.close();
  });

  it('answers 404 for a campaign that does not exist, 409 for one that is not pending', async () => {
    for (const verb of ['approve', 'reject']) {
      const r = await api('POST', `/api/v1/campaigns/999999/${verb}`);
      expect({ status: r.status, code: r.json.error?.code }).toEqual({ status: 404, code: 'not_found' });
    }
    const { campaigns } = await pending();
    const c = campaigns[0];
    expect((await api('POST', `/api/v1/campaigns/${c.id}/approve`)).json.campaign?.status).toBe('active');
    for (const verb of ['approve', 'reject']) expect((await api('POST', `/api/v1/campaigns/${c.id}/${verb}`)).status).toBe(409);
  });

  it('refuses to approve for a budget that is exhausted or has ended, sending nothing to a platform', async () => {
    const ex = await pending();
    await server.db.query("UPDATE ad_campaign_budgets SET status = 'exhausted', spent_budget = 700 WHERE id = $1", [ex.budget]);
    const before = platformCalls();
    const r = await api('POST', `/api/v1/campaigns/${ex.campaigns[0].id}/approve`);
    expect({ status: r.status, code: r.json.error?.code }).toEqual({ status: 409, code: 'conflict' });
    expect(r.json.error.message).toMatch(/exhausted/);
    const ended = await pending();
    await server.db.query("UPDATE ad_campaign_budgets SET ends_at = now() - interval '1 hour' WHERE id = $1", [ended.budget]);
    const r2 = await api('POST', `/api/v1/campaigns/${ended.campaigns[0].id}/approve`);
    expect({ status: r2.status, code: r2.json.error?.code }).toEqual({ status: 409, code: 'conflict' });
    expect(r2.json.error.message).toMatch(/ended/);
    expect(platformCalls()).toBe(before);
    const left = (await api('GET', `/api/v1/campaigns/budgets/${ex.budget}`)).json.campaigns;
    expect(left.every((c: any) => c.status === 'pending_review')).toBe(true);
  });

  it('never publishes a zero daily budget: refused while the running campaigns hold the day', async () => {
    const { budget, campaigns } = await pending();
    const [first, second] = campaigns;
    expect((await api('POST', `/api/v1/campaigns/${first.id}/approve`)).json.campaign?.status).toBe('active');
    // The first campaign now holds the whole day's target (60, the daily limit).
    await server.db.query('UPDATE automated_campaigns SET daily_budget = 60 WHERE id = $1', [first.id]);
    const before = platformCalls();
    const r = await api('POST', `/api/v1/campaigns/${second.id}/approve`);
    expect({ status: r.status, code: r.json.error?.code }).toEqual({ status: 409, code: 'conflict' });
    expect(r.json.error.message).toMatch(/daily budget/);
    expect(platformCalls()).toBe(before);
    expect((await api('GET', `/api/v1/campaigns/budgets/${budget}`)).json.campaigns.find((c: any) => c.id === second.id).status).toBe('pending_review');
  });

  it('keeps a budget\'s campaigns within its daily limit when approvals and hand-set daily budgets arrive at once', async () => {
    const { budget, campaigns } = await pending();
    const running = () => api('GET', `/api/v1/campaigns/budgets/${budget}`).then((r) => r.json.campaigns.filter((c: any) => c.status === 'active'));
    const sum = (cs: any[]) => Math.round(cs.reduce((n, c) => n + Number(c.daily_budget), 0) * 100) / 100;
    // Twelve approvals at once: each starts with its share of what the others already took, never beyond the day.
    const approvals = await Promise.all(campaigns.map((c: any) => api('POST', `/api/v1/campaigns/${c.id}/approve`)));
    expect(approvals.every((r) => r.status === 200 || r.status === 409)).toBe(true);
    expect(sum(await running())).toBeLessThanOrEqual(60);
    // Two lowered by hand leave some headroom; then four raises at once, each alone within it: only one is taken.
    const [low1, low2, ...rest] = await running();
    for (const c of [low1, low2]) expect((await api('PUT', `/api/v1/campaigns/${c.id}/daily-budget`, { daily_budget: 1 })).status).toBe(200);
    const headroom = Math.round((60 - sum(await running())) * 100) / 100;
    expect(headroom).toBeGreaterThan(1);
    const four = rest.slice(0, 4);
    const set = await Promise.all(four.map((c: any) => api('PUT', `/api/v1/campaigns/${c.id}/daily-budget`, { daily_budget: Math.round((Number(c.daily_budget) + headroom) * 100) / 100 })));
    expect(set.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of set) if (r.status !== 200) expect([r.status, r.json.error.field]).toEqual([400, 'daily_budget']);
    expect(sum(await running())).toBeLessThanOrEqual(60);
  });

  it('publishes the campaigns of a budget that starts later only once it starts, by the resume_publishing job', async () => {
    const start = new Date(Date.now() + 2 * DAY).toISOString();
    const { budget, campaigns } = await pending({ started_at: start, ends_at: new Date(Date.now() + 9 * DAY).toISOString() });
    const before = platformCalls();
    const r = await api('POST', `/api/v1/campaigns/${campaigns[0].id}/approve`);
    expect(r.status, r.text).toBe(200);
    expect(r.json.campaign).toMatchObject({ status: 'scheduled', external_campaign_id: null });
    expect((await api('POST', `/api/v1/campaigns/${campaigns[0].id}/approve`)).status).toBe(409);
    expect((await job('campaigns.resume_publishing')).json.status).toBe('succeeded');
    expect(platformCalls()).toBe(before);
    expect((await api('GET', `/api/v1/campaigns/${campaigns[0].id}`)).json.campaign.status).toBe('scheduled');
    // The start arrives: the job publishes it with its share of the day (700 over the 7 days left, 12 campaigns).
    await server.db.query("UPDATE ad_campaign_budgets SET started_at = now() - interval '1 minute' WHERE id = $1", [budget]);
    expect((await job('campaigns.resume_publishing')).json.status).toBe('succeeded');
    const c = (await api('GET', `/api/v1/campaigns/${campaigns[0].id}`)).json.campaign;
    expect(c).toMatchObject({ status: 'active' });
    expect(c.external_campaign_id).toBeTruthy();
    expect(c.daily_budget).toBeGreaterThan(0);
    expect(mock.campaigns.get(c.external_campaign_id)?.active).toBe(true);
  });

  it('reopens an exhausted budget only when the total is raised above what was spent', async () => {
    const { budget } = await pending();
    await server.db.query("UPDATE ad_campaign_budgets SET status = 'exhausted', total_budget = 100, spent_budget = 98.79 WHERE id = $1", [budget]);
    const limit = await api('PATCH', `/api/v1/campaigns/budgets/${budget}`, { daily_budget_limit: 90 });
    expect(limit.status, limit.text).toBe(200);
    expect(limit.json).toMatchObject({ status: 'exhausted', daily_budget_limit: 90 });
    const low = await api('PATCH', `/api/v1/campaigns/budgets/${budget}`, { total_budget: 98.79 });
    expect({ status: low.status, code: low.json.error?.code }, low.text).toEqual({ status: 409, code: 'conflict' });
    const raised = await api('PATCH', `/api/v1/campaigns/budgets/${budget}`, { total_budget: 150 });
    expect(raised.json).toMatchObject({ status: 'active', total_budget: 150 });
    // A total below what an active budget already spent is refused: the total is never left below the spend.
    await server.db.query('UPDATE ad_campaign_budgets SET spent_budget = 60.17 WHERE id = $1', [budget]);
    const below = await api('PATCH', `/api/v1/campaigns/budgets/${budget}`, { total_budget: 50, daily_budget_limit: 20 });
    expect({ status: below.status, code: below.json.error?.code }, below.text).toEqual({ status: 409, code: 'conflict' });
    expect(below.json.error.message).toMatch(/60\.17/);
    expect((await api('GET', `/api/v1/campaigns/budgets/${budget}`)).json.budget).toMatchObject({ status: 'active', total_budget: 150 });
  });

  it('reads one campaign with its own decisions, and lists campaigns by budget and status, within the key\'s scope', async () => {
    const mine = await pending();
    const theirs = await pending({}, 'O2');
    const [a, b] = mine.campaigns;
    await server.db.query(`INSERT INTO campaign_optimization_log (tenant_id, budget_id, campaign_id, window_start, job, rule, action, reason)
      VALUES ($1, $2, $3, now(), 'campaigns.optimize', 'cpa_above_limit', 'pause', 'CPA 40 > 2x target'), ($1, $2, $4, now(), 'campaigns.optimize', 'roas_above_target', 'set_daily_budget', 'ROAS 5')`,
    [t.tenant_id, mine.budget, a.id, b.id]);
    const one = await api('GET', `/api/v1/campaigns/${a.id}`, undefined, adKey);
    expect(one.status, one.text).toBe(200);
    expect(one.json.campaign).toMatchObject({ id: a.id, budget_id: mine.budget, status: 'pending_review' });
    expect(one.json.optimization_log.map((d: any) => [d.campaign_id, d.rule])).toEqual([[a.id, 'cpa_above_limit']]);
    expect((await api('GET', `/api/v1/campaigns/${theirs.campaigns[0].id}`, undefined, adKey)).status).toBe(403);
    expect((await api('GET', '/api/v1/campaigns/999999')).status).toBe(404);

    const page1 = await api('GET', `/api/v1/campaigns?budget_id=${mine.budget}&status=pending_review&limit=5`, undefined, adKey);
    expect(page1.status, page1.text).toBe(200);
    expect(page1.json.campaigns).toHaveLength(5);
    const all = [...page1.json.campaigns];
    let cursor = page1.json.next_cursor;
    while (cursor) {
      const next = await api('GET', `/api/v1/campaigns?budget_id=${mine.budget}&status=pending_review&limit=5&cursor=${cursor}`, undefined, adKey);
      all.push(...next.json.campaigns);
      cursor = next.json.next_cursor;
    }
    expect(all.map((c) => c.id).sort((x, y) => x - y)).toEqual(mine.campaigns.map((c) => c.id).sort((x, y) => x - y));
    // A scoped key lists only its organizers' campaigns; the secret key every one.
    const scoped = await api('GET', '/api/v1/campaigns?limit=500', undefined, adKey);
    expect(scoped.json.campaigns.every((c: any) => c.organizer_id === 'O1')).toBe(true);
    expect((await api('GET', '/api/v1/campaigns?limit=500')).json.campaigns.some((c: any) => c.organizer_id === 'O2')).toBe(true);
    expect((await api('GET', '/api/v1/campaigns?status=dancing')).json.error?.field).toBe('status');
    expect((await api('GET', '/api/v1/campaigns?budget_id=x')).json.error?.field).toBe('budget_id');
    // The fixed paths next to /:id still answer.
    expect((await api('GET', '/api/v1/campaigns/review-queue')).status).toBe(200);
    expect((await api('GET', '/api/v1/campaigns/report?organizer_id=O1')).status).toBe(200);
  });

  it('links an audience built after the approval to a scheduled campaign: daily, and once more as it is published', async () => {
    const later = { started_at: new Date(Date.now() + 2 * DAY).toISOString(), ends_at: new Date(Date.now() + 9 * DAY).toISOString() };
    const excluded = async (id: number) => (await api('GET', `/api/v1/campaigns/${id}`)).json.campaign.targeting.excluded_audiences[0].audience_id;
    const buyers = async (organizer: string, ext: string) => {
      const a = await api('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'ticket_buyers', organizer_id: organizer, external_audience_id: ext });
      expect(a.status, a.text).toBe(201);
      return a.json.id as number;
    };
    // campaigns.refresh_audiences links the scheduled campaign as it does the pending one.
    const one = await pending(later, 'O5');
    const [scheduled, waiting] = one.campaigns.filter((c) => c.platform === 'meta');
    expect((await api('POST', `/api/v1/campaigns/${scheduled.id}/approve`)).json.campaign?.status).toBe('scheduled');
    const aud = await buyers('O5', '5005');
    expect((await job('campaigns.refresh_audiences')).json.status).toBe('succeeded');
    expect([await excluded(scheduled.id), await excluded(waiting.id)]).toEqual([aud, aud]);
    // Built after the daily run: linked as the budget starts and the campaign is published, and sent to Meta.
    const two = await pending(later, 'O6');
    const meta = two.campaigns.find((c) => c.platform === 'meta');
    expect((await api('POST', `/api/v1/campaigns/${meta.id}/approve`)).json.campaign?.status).toBe('scheduled');
    const aud6 = await buyers('O6', '5006');
    await server.db.query("UPDATE ad_campaign_budgets SET started_at = now() - interval '1 minute' WHERE id = $1", [two.budget]);
    expect((await job('campaigns.resume_publishing')).json.status).toBe('succeeded');
    const published = (await api('GET', `/api/v1/campaigns/${meta.id}`)).json.campaign;
    expect(published).toMatchObject({ status: 'active' });
    expect(published.targeting.excluded_audiences[0]).toMatchObject({ audience_id: aud6, external_id: '5006' });
    const adset = mock.calls.filter((c) => c.method === 'POST' && /\/adsets$/.test(c.path)).map((c) => JSON.stringify(c.body)).find((b) => b.includes(`txc-${two.budget}-meta`));
    expect(adset).toContain('"excluded_custom_audiences":[{"id":"5006"}]');
  });

  it('lets an ad_account key without ids (the tenant\'s own ad team) read and manage every organizer\'s campaigns', async () => {
    const k = await postJson(`${server.url}/api/v1/keys`, { role: 'ad_account' }, as(t.secret_key));
    expect(k.status, k.text).toBe(201);
    const team = k.json.key;
    const o1 = await pending();
    const o2 = await pending({}, 'O2');
    const listed = (await api('GET', '/api/v1/campaigns?limit=500', undefined, team)).json.campaigns.map((c: any) => c.organizer_id);
    expect(new Set(listed)).toEqual(new Set((await api('GET', '/api/v1/campaigns?limit=500')).json.campaigns.map((c: any) => c.organizer_id)));
    expect(listed).toEqual(expect.arrayContaining(['O1', 'O2']));
    const budgets = (await api('GET', '/api/v1/campaigns/budgets?limit=500', undefined, team)).json.budgets.map((b: any) => b.id);
    expect(budgets).toEqual(expect.arrayContaining([o1.budget, o2.budget]));
    for (const p of [`/api/v1/campaigns/${o2.campaigns[0].id}`, `/api/v1/campaigns/budgets/${o2.budget}`, '/api/v1/campaigns/report?organizer_id=O2']) {
      const r = await api('GET', p, undefined, team);
      expect(r.status, `${p} ${r.text}`).toBe(200);
    }
    const patched = await api('PATCH', `/api/v1/campaigns/budgets/${o2.budget}`, { daily_budget_limit: 50 }, team);
    expect(patched.json, patched.text).toMatchObject({ id: o2.budget, daily_budget_limit: 50 });
    // A scoped ad_account key stays within its organizers.
    expect((await api('GET', `/api/v1/campaigns/budgets/${o2.budget}`, undefined, adKey)).status).toBe(403);
  });

  it('names the refused field: log_cursor, an unknown body field, an unknown report currency', async () => {
    const { budget, campaigns } = await pending();
    for (const p of [`/api/v1/campaigns/${campaigns[0].id}?log_cursor=zzz`, `/api/v1/campaigns/budgets/${budget}?log_cursor=zzz`]) {
      expect((await api('GET', p)).json.error, p).toMatchObject({ code: 'invalid_field', in: 'query', field: 'log_cursor' });
    }
    expect((await api('PUT', `/api/v1/campaigns/${campaigns[0].id}/daily-budget`, { daily_budget: 25, x: 1 })).json.error).toMatchObject({ field: 'x' });
    expect((await api('POST', `/api/v1/campaigns/${campaigns[0].id}/reject`, { notes: 'typo' })).json.error).toMatchObject({ field: 'notes' });
    expect((await api('POST', `/api/v1/campaigns/budgets/${budget}/suite`, { lookalike: 2 })).json.error).toMatchObject({ field: 'lookalike' });
    const zzz = await api('GET', '/api/v1/campaigns/report?organizer_id=O1&currency=ZZZ');
    expect({ status: zzz.status, error: zzz.json.error }).toMatchObject({ status: 400, error: { field: 'currency', message: expect.stringMatching(/not an ISO 4217 currency in use/) } });
  });
});
