// A budget override (PATCH /api/v1/campaigns/budgets/{id}) on a running server and the mock ad platforms (issue
// 16, README "Campaigns" → Budget overrides, Tolerance, low_budget): a total lowered to within an hour of the spend
// stops the budget at once (before, its campaigns kept spending past the new total until the next hourly window);
// a daily limit cut below what the running campaigns take lowers their daily budgets; a top-up back to 20 % or
// more re-arms the low-budget notice (before, it was sent once per budget, ever). And pause, resume and submit
// refuse a body they do not take (before, any body was 200).
import { describe, expect, it } from 'vitest';
import { campaignsApp } from './campaigns-app-helpers.js';

const DAY = 24 * 3_600_000;

describe('campaign budget overrides', { timeout: 240_000 }, () => {
  const app = campaignsApp({ tenant: 'override', notices: true });
  const { notices, api, job, deliver, read } = app;
  const noticesOf = (budget: number) => notices.filter((n) => n.budget_id === budget);

  /** A budget of organizer O1 whose whole suite (12 campaigns) was approved and runs. */
  async function running(extra: Record<string, unknown>): Promise<{ budget: number; campaigns: any[] }> {
    const b = await api('POST', '/api/v1/campaigns/budgets', { organizer_id: 'O1', allocation_strategy: 'equal_split', ends_at: new Date(Date.now() + 7 * DAY).toISOString(), ...extra });
    expect(b.status, b.text).toBe(201);
    const s = await api('POST', `/api/v1/campaigns/budgets/${b.json.id}/suite`, {});
    expect(s.status, s.text).toBe(201);
    expect((await api('POST', `/api/v1/campaigns/budgets/${b.json.id}/submit`)).status).toBe(200);
    for (const c of s.json.campaigns) {
      const a = await api('POST', `/api/v1/campaigns/${c.id}/approve`);
      expect(a.json.campaign?.status, a.text).toBe('active');
    }
    const { campaigns } = await read(b.json.id);
    expect(campaigns).toHaveLength(12);
    return { budget: b.json.id, campaigns };
  }

  it('a total lowered to within an hour of the spend stops the budget at once: the next hour delivers nothing past it', async () => {
    // The probe's case: 12 campaigns at 7.50 a day (90 a day), 67-ish spent; the total lowered to spent + 1.
    const { budget, campaigns } = await running({ total_budget: 700, daily_budget_limit: 90 });
    expect(campaigns.reduce((s: number, c: any) => s + c.daily_budget, 0)).toBeCloseTo(90, 1);
    await deliver(18);
    const spent = (await read(budget)).budget.spent_budget;
    expect(spent).toBeGreaterThan(50);
    const total = Math.round((spent + 1) * 100) / 100;
    const r = await api('PATCH', `/api/v1/campaigns/budgets/${budget}`, { total_budget: total, daily_budget_limit: 50 });
    expect(r.status, r.text).toBe(200);
    // Even at the new limit's 50 a day, one more hour (2.50 with the pacing margin) would reach the total.
    expect(r.json).toMatchObject({ total_budget: total, daily_budget_limit: 50, status: 'exhausted' });
    const after = await read(budget);
    expect(after.campaigns.map((c: any) => [c.status, c.status_reason])).toEqual(campaigns.map(() => ['paused', 'budget_exhausted']));
    expect(after.campaigns.every((c: any) => app.mock.campaigns.get(c.external_campaign_id)?.active === false)).toBe(true);
    const stop = after.optimization_log.find((d: any) => d.rule === 'budget_exhausted' && d.campaign_id === 0);
    expect(stop).toMatchObject({ job: 'campaigns.budget_override', action: 'budget_status', outcome: 'applied' });
    expect(stop.reason).toBe(`Spent ${spent.toFixed(2)} of ${total.toFixed(2)}; another hour would reach the total, so the budget stops here.`);
    // Running out is told to the organizer with it.
    expect(noticesOf(budget)).toEqual([expect.objectContaining({ type: 'campaign_budget_low', budget_id: budget })]);
    await deliver(1);
    await job('campaigns.optimize');
    expect((await read(budget)).budget.spent_budget).toBeLessThanOrEqual(total);
  });

  it('a daily limit cut below what the running campaigns take lowers their daily budgets in proportion, on the platforms too', async () => {
    const { budget, campaigns } = await running({ total_budget: 700, daily_budget_limit: 60 });
    expect(campaigns.map((c: any) => c.daily_budget)).toEqual(campaigns.map(() => 5));
    const r = await api('PATCH', `/api/v1/campaigns/budgets/${budget}`, { daily_budget_limit: 30 });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ daily_budget_limit: 30, status: 'active' });
    const after = await read(budget);
    expect(after.campaigns.map((c: any) => [c.status, c.daily_budget])).toEqual(campaigns.map(() => ['active', 2.5]));
    expect(after.campaigns.map((c: any) => app.mock.campaigns.get(c.external_campaign_id)?.daily)).toEqual(campaigns.map(() => 2.5));
    const cut = after.optimization_log.filter((d: any) => d.rule === 'daily_limit_lowered');
    expect(cut).toHaveLength(12);
    expect(cut.every((d: any) => d.outcome === 'applied' && d.job === 'campaigns.budget_override')).toBe(true);
    expect(cut[0].reason).toBe('The daily limit is now 30.00, below the 60.00 a day the budget\'s campaigns take: daily budget 5.00 → 2.50 (each lowered in proportion until the next rebalance).');
    // Raised again: nothing is lowered (the next rebalance splits the day).
    expect((await api('PATCH', `/api/v1/campaigns/budgets/${budget}`, { daily_budget_limit: 60 })).status).toBe(200);
    expect((await read(budget)).campaigns.map((c: any) => c.daily_budget)).toEqual(campaigns.map(() => 2.5));
  });

  it('tells the organizer again after a top-up, once the budget falls below 20 % again', async () => {
    // 300 over 7 days: 42.86 a day across 12 campaigns, no daily limit.
    const { budget } = await running({ total_budget: 300 });
    await deliver(24);
    const spent = (await read(budget)).budget.spent_budget;
    // 15 % left (far more than an hour's spend): the organizer is told, once.
    expect((await api('PATCH', `/api/v1/campaigns/budgets/${budget}`, { total_budget: Math.ceil((spent / 0.85) * 100) / 100 })).json.status).toBe('active');
    await job('campaigns.optimize');
    expect(noticesOf(budget)).toHaveLength(1);
    expect((await read(budget)).budget.low_notified_at).not.toBeNull();
    // Topped up to 300 again: more than 20 % left, the notice is armed again.
    const up = await api('PATCH', `/api/v1/campaigns/budgets/${budget}`, { total_budget: 300 });
    expect(up.json, up.text).toMatchObject({ total_budget: 300, status: 'active', low_notified_at: null });
    // Five days later it is below 20 % again: the hourly optimiser tells the organizer a second time.
    await deliver(125);
    const now = (await read(budget)).budget;
    expect(now.spent_budget).toBeGreaterThan(240);
    expect(now.spent_budget).toBeLessThan(295);
    await job('campaigns.optimize');
    expect(noticesOf(budget)).toHaveLength(2);
    expect(noticesOf(budget)[1]).toMatchObject({ type: 'campaign_budget_low', remaining: expect.any(Number) });
    expect(noticesOf(budget)[1].remaining_pct).toBeLessThan(20);
  });

  it('pause, resume and submit take no fields: an unknown field or a body that is not JSON is 400 naming it', async () => {
    const b = await api('POST', '/api/v1/campaigns/budgets', { organizer_id: 'O1', total_budget: 700, allocation_strategy: 'equal_split', ends_at: new Date(Date.now() + 7 * DAY).toISOString() });
    const s = await api('POST', `/api/v1/campaigns/budgets/${b.json.id}/suite`, {});
    const bogus = await api('POST', `/api/v1/campaigns/budgets/${b.json.id}/submit`, { bogus: 1 });
    expect({ status: bogus.status, error: bogus.json.error }).toMatchObject({ status: 400, error: { code: 'invalid_field', in: 'body', field: 'bogus' } });
    expect((await read(b.json.id)).campaigns.every((c: any) => c.status === 'draft')).toBe(true);
    expect((await api('POST', `/api/v1/campaigns/budgets/${b.json.id}/submit`, {})).status).toBe(200);
    const c = s.json.campaigns[0];
    expect((await api('POST', `/api/v1/campaigns/${c.id}/approve`)).json.campaign?.status).toBe('active');

    const status = await api('POST', `/api/v1/campaigns/${c.id}/pause`, { status: 'active' });
    expect({ status: status.status, error: status.json.error }).toMatchObject({ status: 400, error: { code: 'invalid_field', in: 'body', field: 'status' } });
    const text = await api('POST', `/api/v1/campaigns/${c.id}/pause`, 'not json at all');
    expect({ status: text.status, code: text.json.error?.code, in: text.json.error?.in }).toEqual({ status: 400, code: 'invalid_json', in: 'body' });
    expect((await api('GET', `/api/v1/campaigns/${c.id}`)).json.campaign.status).toBe('active');
    // Nothing, or {}: as documented.
    expect((await api('POST', `/api/v1/campaigns/${c.id}/pause`)).json.campaign).toMatchObject({ status: 'paused', status_reason: 'manual' });
    const junk = await api('POST', `/api/v1/campaigns/${c.id}/resume`, 'not json at all');
    expect({ status: junk.status, code: junk.json.error?.code }).toEqual({ status: 400, code: 'invalid_json' });
    const extra = await api('POST', `/api/v1/campaigns/${c.id}/resume`, { force: true });
    expect({ status: extra.status, field: extra.json.error?.field }).toEqual({ status: 400, field: 'force' });
    expect((await api('GET', `/api/v1/campaigns/${c.id}`)).json.campaign.status).toBe('paused');
    expect((await api('POST', `/api/v1/campaigns/${c.id}/resume`, {})).json.campaign?.status).toBe('active');
  });
});
