// Budget overrides and hand actions on a running server and the mock ad platforms (issue 16, README "Campaigns" →
// Budget overrides, Statuses, Bad input): a topped-up exhausted budget resumes the campaigns its exhaustion paused
// and splits the day across them (before, they stayed paused `budget_exhausted` for good); a platform failing a
// pause, resume or daily budget is 502 platform_error saying whether to retry (before, 409, which no client retries:
// an emergency pause silently did not happen); a daily limit too small for the running campaigns' smallest daily
// budgets is refused naming the least it may be; an ended budget's total no longer changes; and the refusals of
// approve and of a daily budget name what is wrong and what to do.
import { describe, expect, it } from 'vitest';
import { campaignsApp } from './campaigns-app-helpers.js';
import type { MockCall } from './mock-ad-platforms/index.js';

const DAY = 24 * 3_600_000;
/** TikTok's answer refusing a call (code not 0, not retriable). */
const REFUSED = { status: 200, body: { code: 40013, message: 'The campaign status cannot be updated now', data: {} } };
/** A temporary failure (retriable). */
const DOWN = { status: 503, body: { code: 50002, message: 'Service temporarily unavailable', data: {} } };

describe('reopening budgets, platform failures and refusals', { timeout: 300_000 }, () => {
  const app = campaignsApp({ tenant: 'reopen' });
  const { api, job, deliver, read } = app;
  const statusCalls = (ext: string) => (c: MockCall) => c.path.includes('campaign/status/update') && JSON.stringify(c.body).includes(`"${ext}"`);
  const budgetCalls = (ext: string) => (c: MockCall) => c.path.includes('campaign/update') && JSON.stringify(c.body).includes(`"${ext}"`);

  /** A TikTok budget of 4 running campaigns (the probe's: total 200), `hours` delivered. */
  async function running(total: number, hours: number, extra: Record<string, unknown> = {}): Promise<{ budget: number; campaigns: any[]; spent: number }> {
    const b = await api('POST', '/api/v1/campaigns/budgets', { organizer_id: 'O1', allocation_strategy: 'equal_split', platform_allocations: { tiktok: { percentage: 100 } }, total_budget: total, ends_at: new Date(Date.now() + 7 * DAY).toISOString(), ...extra });
    expect(b.status, b.text).toBe(201);
    const s = await api('POST', `/api/v1/campaigns/budgets/${b.json.id}/suite`, {});
    expect(s.status, s.text).toBe(201);
    expect((await api('POST', `/api/v1/campaigns/budgets/${b.json.id}/submit`)).status).toBe(200);
    for (const c of s.json.campaigns) expect((await api('POST', `/api/v1/campaigns/${c.id}/approve`)).json.campaign?.status).toBe('active');
    if (hours > 0) await deliver(hours);
    const r = await read(b.json.id);
    expect(r.campaigns.map((c: any) => c.status)).toEqual(['active', 'active', 'active', 'active']);
    return { budget: b.json.id, campaigns: r.campaigns, spent: r.budget.spent_budget };
  }

  it('a top-up of an exhausted budget resumes the campaigns its exhaustion paused, on the platform, and splits the day across them', async () => {
    const { budget, campaigns, spent } = await running(200, 12);
    expect(spent).toBeGreaterThan(5);
    const cut = await api('PATCH', `/api/v1/campaigns/budgets/${budget}`, { total_budget: Math.round((spent + 0.3) * 100) / 100 });
    expect(cut.json, cut.text).toMatchObject({ status: 'exhausted' });
    let now = await read(budget);
    expect(now.campaigns.map((c: any) => [c.status, c.status_reason])).toEqual(campaigns.map(() => ['paused', 'budget_exhausted']));
    // Resuming one by hand meanwhile says how the budget reopens (there is no route that "resumes the budget").
    const early = await api('POST', `/api/v1/campaigns/${campaigns[0].id}/resume`);
    expect(early.status).toBe(409);
    expect(early.json.error.message).toBe(`Budget ${budget} is exhausted: raise its total above what it spent (PATCH /api/v1/campaigns/budgets/${budget} {"total_budget": …}); that resumes the campaigns its exhaustion paused.`);

    const up = await api('PATCH', `/api/v1/campaigns/budgets/${budget}`, { total_budget: 300 });
    expect(up.json, up.text).toMatchObject({ total_budget: 300, status: 'active' });
    now = await read(budget);
    expect(now.campaigns.map((c: any) => [c.status, c.status_reason])).toEqual(campaigns.map(() => ['active', null]));
    expect(now.campaigns.every((c: any) => app.mock.campaigns.get(c.external_campaign_id)?.active === true)).toBe(true);
    const reopened = now.optimization_log.filter((d: any) => d.rule === 'budget_reopened');
    expect(reopened.map((d: any) => [d.campaign_id, d.action, d.job, d.outcome]).sort()).toEqual(campaigns.map((c: any) => [c.id, 'resume', 'campaigns.budget_override', 'applied']).sort());
    expect(reopened[0].reason).toMatch(/^The budget's total was raised to 300\.00 \(\d+\.\d\d left\): it runs again, resumed\.$/);
    // The day is split across all four, not left to whichever one is resumed first.
    const split = now.optimization_log.filter((d: any) => d.rule === 'rebalance_equal_split' && d.job === 'campaigns.budget_override');
    expect(split).toHaveLength(4);
    const dayTarget = split[0].inputs.day_target;
    expect(dayTarget).toBeGreaterThan(30);
    const daily = now.campaigns.map((c: any) => c.daily_budget);
    expect(daily.reduce((s: number, x: number) => s + x, 0)).toBeLessThanOrEqual(dayTarget + 1e-9);
    expect(Math.min(...daily)).toBeGreaterThan(dayTarget / 4 - 0.02);
    expect(now.campaigns.map((c: any) => app.mock.campaigns.get(c.external_campaign_id)?.daily)).toEqual(daily);
    // The next hour keeps them running.
    await deliver(1);
    await job('campaigns.optimize');
    expect((await read(budget)).campaigns.map((c: any) => c.status)).toEqual(campaigns.map(() => 'active'));
  });

  it('a resume the platform refuses at the top-up is carried out by the next hourly window', async () => {
    const { budget, campaigns, spent } = await running(200, 12);
    expect((await api('PATCH', `/api/v1/campaigns/budgets/${budget}`, { total_budget: Math.round((spent + 0.3) * 100) / 100 })).json.status).toBe('exhausted');
    const ext = campaigns[1].external_campaign_id;
    app.mock.failOn(statusCalls(ext), REFUSED);
    expect((await api('PATCH', `/api/v1/campaigns/budgets/${budget}`, { total_budget: 300 })).json.status).toBe('active');
    let now = await read(budget);
    expect(now.campaigns.map((c: any) => c.status)).toEqual(['active', 'paused', 'active', 'active']);
    expect(now.campaigns[1].last_error).toContain('40013');
    await deliver(1);
    await job('campaigns.optimize');
    now = await read(budget);
    expect(now.campaigns.map((c: any) => [c.status, c.status_reason])).toEqual(campaigns.map(() => ['active', null]));
    expect(app.mock.campaigns.get(ext)?.active).toBe(true);
  });

  it('a platform failing a hand pause, resume or daily budget is 502 platform_error, retriable or not; nothing changes here', async () => {
    const { campaigns } = await running(700, 0);
    const [c] = campaigns;
    const ext = c.external_campaign_id;
    app.mock.failOn(statusCalls(ext), DOWN);
    const down = await api('POST', `/api/v1/campaigns/${c.id}/pause`);
    expect(down.status, down.text).toBe(502);
    expect(down.json.error).toMatchObject({ code: 'platform_error', platform: 'tiktok', retriable: true });
    expect(down.json.error.message).toMatch(new RegExp(`^tiktok did not take the pause of campaign ${c.id} \\(a temporary failure: .*\\)\\. Nothing changed: it is still active\\. Send the pause again\\.$`));
    expect(down.headers.get('retry-after')).toBe('10');
    expect((await api('GET', `/api/v1/campaigns/${c.id}`)).json.campaign.status).toBe('active');
    expect(app.mock.campaigns.get(ext)?.active).toBe(true);

    app.mock.failOn(statusCalls(ext), REFUSED);
    const no = await api('POST', `/api/v1/campaigns/${c.id}/pause`);
    expect(no.status).toBe(502);
    expect(no.json.error).toMatchObject({ code: 'platform_error', platform: 'tiktok', retriable: false });
    expect(no.json.error.message).toContain('tiktok refused the pause of campaign');
    expect(no.headers.get('retry-after')).toBeNull();
    // The retry goes through.
    expect((await api('POST', `/api/v1/campaigns/${c.id}/pause`)).json.campaign).toMatchObject({ status: 'paused', status_reason: 'manual' });

    app.mock.failOn(statusCalls(ext), DOWN);
    const resume = await api('POST', `/api/v1/campaigns/${c.id}/resume`);
    expect({ status: resume.status, code: resume.json.error.code, retriable: resume.json.error.retriable }).toEqual({ status: 502, code: 'platform_error', retriable: true });
    expect((await api('GET', `/api/v1/campaigns/${c.id}`)).json.campaign.status).toBe('paused');

    const other = campaigns[1];
    app.mock.failOn(budgetCalls(other.external_campaign_id), DOWN);
    const daily = await api('PUT', `/api/v1/campaigns/${other.id}/daily-budget`, { daily_budget: 10 });
    expect({ status: daily.status, code: daily.json.error.code, retriable: daily.json.error.retriable }).toEqual({ status: 502, code: 'platform_error', retriable: true });
    expect((await api('GET', `/api/v1/campaigns/${other.id}`)).json.campaign.daily_budget).toBe(other.daily_budget);
    // A move the status does not allow stays 409.
    const twice = await api('POST', `/api/v1/campaigns/${c.id}/pause`);
    expect({ status: twice.status, code: twice.json.error.code }).toEqual({ status: 409, code: 'conflict' });
  });

  it('a daily limit below the least the running campaigns can take is refused naming that least; one that fits is kept', async () => {
    const { budget, campaigns } = await running(700, 0);
    const r = await api('PATCH', `/api/v1/campaigns/budgets/${budget}`, { daily_budget_limit: 0.03 });
    expect(r.status, r.text).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'invalid_field', field: 'daily_budget_limit', min: 0.04 });
    expect(r.json.error.message).toBe(`daily_budget_limit 0.03 EUR cannot hold budget ${budget}'s 4 running campaigns: each needs at least 0.01 EUR a day (the smallest amount in EUR), 0.04 EUR together. Set daily_budget_limit to at least 0.04, or pause campaigns first.`);
    expect((await read(budget)).budget.daily_budget_limit).toBeNull();
    const ok = await api('PATCH', `/api/v1/campaigns/budgets/${budget}`, { daily_budget_limit: 0.05 });
    expect(ok.status, ok.text).toBe(200);
    const after = (await read(budget)).campaigns.map((c: any) => c.daily_budget);
    expect(after.reduce((s: number, x: number) => s + x, 0)).toBeLessThanOrEqual(0.05 + 1e-9);
    expect(after.every((x: number) => x >= 0.01)).toBe(true);
    expect(after).toHaveLength(campaigns.length);
  });

  it('an ended budget\'s total and limit no longer change: 409 naming its status, and nothing audited', async () => {
    const b = await api('POST', '/api/v1/campaigns/budgets', { organizer_id: 'O1', total_budget: 100, ends_at: new Date(Date.now() + 1500).toISOString() });
    expect(b.status, b.text).toBe(201);
    await new Promise((r) => setTimeout(r, 1700));
    const passed = await api('PATCH', `/api/v1/campaigns/budgets/${b.json.id}`, { total_budget: 500 });
    expect({ status: passed.status, code: passed.json.error?.code }).toEqual({ status: 409, code: 'conflict' });
    expect(passed.json.error.message).toBe(`Budget ${b.json.id} ended at ${b.json.ends_at}: its total and daily limit no longer change. Create a new budget to spend more.`);
    await job('campaigns.end_budgets');
    expect((await read(b.json.id)).budget.status).toBe('ended');
    const ended = await api('PATCH', `/api/v1/campaigns/budgets/${b.json.id}`, { daily_budget_limit: 5 });
    expect({ status: ended.status, message: ended.json.error?.message }).toEqual({ status: 409, message: passed.json.error.message });
    expect((await read(b.json.id)).budget).toMatchObject({ total_budget: 100, daily_budget_limit: null });
    const audit = await api('GET', '/api/v1/audit?limit=500');
    expect(audit.json.audit.filter((e: any) => e.action === 'campaigns.budget_changed' && e.target === `budget:${b.json.id}`)).toEqual([]);
  });

  it('approving a campaign that is not pending review names it, its status and the step it needs; a daily budget of 0 names its rule', async () => {
    const { campaigns } = await running(700, 0);
    const again = await api('POST', `/api/v1/campaigns/${campaigns[0].id}/approve`);
    expect({ status: again.status, message: again.json.error?.message }).toEqual({ status: 409, message: `Campaign ${campaigns[0].id} is active: it was approved and published already.` });
    const b = await api('POST', '/api/v1/campaigns/budgets', { organizer_id: 'O1', total_budget: 100, platform_allocations: { meta: { percentage: 100 } }, ends_at: new Date(Date.now() + 7 * DAY).toISOString() });
    const s = await api('POST', `/api/v1/campaigns/budgets/${b.json.id}/suite`, {});
    const draft = await api('POST', `/api/v1/campaigns/${s.json.campaigns[0].id}/approve`);
    expect(draft.json.error.message).toBe(`Campaign ${s.json.campaigns[0].id} is a draft, not pending review: submit it first (POST /api/v1/campaigns/budgets/${b.json.id}/submit), then approve it.`);
    const zero = await api('PUT', `/api/v1/campaigns/${campaigns[0].id}/daily-budget`, { daily_budget: 0 });
    expect(zero.json.error).toMatchObject({ code: 'invalid_field', field: 'daily_budget' });
    expect(zero.json.error.message).toMatch(/^daily_budget 0 EUR is below 0\.01 EUR, the smallest amount it takes \(an amount in EUR from 0\.01 to 1000000/);
  });
});
