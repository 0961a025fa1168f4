// A budget's end takes effect within a minute (campaigns.end_budgets), not at the next hourly optimiser window:
// before, a budget ending at 10:30 kept delivering until 11:00 (the whole hour after its end on the platforms'
// hourly pacing). Simulated clock and mock platforms (scripts/simulate-campaigns.ts), on the local PostgreSQL.
import { afterAll, describe, expect, it } from 'vitest';
import { cleanWorld, runUntil, setupWorld, SIM_START_MS, stopWorld, TENANT, type SimWorld } from '../scripts/simulate-campaigns.js';

const PG = process.env.PLAIN_PG_URL ? process.env.PLAIN_PG_URL.replace(/\/[^/]*$/, '/postgres') : 'postgres://postgres@127.0.0.1:5432/postgres';
const HOUR = 3_600_000;

describe('budget end', { timeout: 300_000 }, () => {
  const worlds: SimWorld[] = [];
  afterAll(async () => {
    for (const w of worlds) await cleanWorld(w).catch(() => undefined);
  });

  it('completes the campaigns at the first minute window after ends_at', async () => {
    const w = await setupWorld({ days: 2, seed: 3, pgUrl: PG });
    worlds.push(w);
    const svc = w.core.service;
    const endsAt = SIM_START_MS + 10.5 * HOUR;
    const b = await svc.createBudget(TENANT, {
      organizer_id: 'endmid', event_id: null, total_budget: 300, currency: 'EUR', daily_budget_limit: 100, allocation_strategy: 'equal_split', platform_allocations: {},
      target_cpa: null, target_roas: null, payment_reference: null, paid_at: null, started_at: new Date(SIM_START_MS).toISOString(), ends_at: new Date(endsAt).toISOString(), notes: null,
    });
    const suite = await svc.createSuite(TENANT, b.id, 1);
    if (!suite.ok) throw new Error(suite.message);
    await svc.submit(TENANT, b.id);
    expect((await svc.approve(TENANT, suite.value.map((c) => c.id))).ok).toBe(true);
    await runUntil(w, SIM_START_MS + 10.5 * HOUR);
    const log = (await w.db.query<Record<string, unknown>>("SELECT window_start, job FROM campaign_optimization_log WHERE budget_id = $1 AND rule = 'budget_ended'", [b.id])).rows;
    // Its 12 campaigns, and the budget itself (ended).
    expect(log).toHaveLength(13);
    expect(new Set(log.map((r) => `${new Date(String(r.window_start)).toISOString()} ${r.job}`))).toEqual(new Set([`${new Date(endsAt).toISOString()} campaigns.end_budgets`]));
    expect((await svc.campaignsOf(TENANT, b.id)).every((c) => c.status === 'completed')).toBe(true);
    expect([...w.mock.campaigns.values()].filter((c) => c.utm?.startsWith(`txc-${b.id}-`)).every((c) => !c.active)).toBe(true);
    await stopWorld(w, false);
  });

  it('closes the campaigns the budget never ran (pending review, draft) and the budget reads ended', async () => {
    // The probe's case: after end_budgets completed the running campaigns, the others stayed in the review queue
    // (pending_review) and the budget still read "status":"active".
    const w = await setupWorld({ days: 2, seed: 4, pgUrl: PG });
    worlds.push(w);
    const svc = w.core.service;
    const endsAt = SIM_START_MS + 3.5 * HOUR;
    const b = await svc.createBudget(TENANT, {
      organizer_id: 'endpending', event_id: null, total_budget: 300, currency: 'EUR', daily_budget_limit: 100, allocation_strategy: 'equal_split', platform_allocations: {},
      target_cpa: null, target_roas: null, payment_reference: null, paid_at: null, started_at: new Date(SIM_START_MS).toISOString(), ends_at: new Date(endsAt).toISOString(), notes: null,
    });
    const suite = await svc.createSuite(TENANT, b.id, 1);
    if (!suite.ok) throw new Error(suite.message);
    const [draft, ...rest] = suite.value;
    await w.db.query("UPDATE automated_campaigns SET status = 'pending_review' WHERE id = ANY($1::bigint[])", [rest.map((c) => c.id)]);
    const ran = rest.slice(0, 4);
    expect((await svc.approve(TENANT, ran.map((c) => c.id))).ok).toBe(true);
    await runUntil(w, endsAt + 2 * 60_000);
    const after = new Map((await svc.campaignsOf(TENANT, b.id)).map((c) => [c.id, c]));
    for (const c of ran) expect(after.get(c.id)).toMatchObject({ status: 'completed', status_reason: 'budget_ended' });
    for (const c of [draft, ...rest.slice(4)]) expect(after.get(c.id), `campaign ${c.id}`).toMatchObject({ status: 'completed', status_reason: 'budget_ended', external_campaign_id: null });
    expect((await svc.budget(TENANT, b.id))!.status).toBe('ended');
    const queue = (await w.db.query<{ n: number }>("SELECT count(*)::int AS n FROM automated_campaigns WHERE budget_id = $1 AND status = 'pending_review'", [b.id])).rows[0].n;
    expect(queue).toBe(0);
    // Each is a logged decision of the end's window; nothing was sent to a platform for those never published.
    const log = (await w.db.query<Record<string, unknown>>("SELECT campaign_id, action, outcome FROM campaign_optimization_log WHERE budget_id = $1 AND rule = 'budget_ended' ORDER BY id", [b.id])).rows;
    expect(log.map((r) => [Number(r.campaign_id), r.action, r.outcome])).toEqual([
      ...ran.map((c) => [c.id, 'complete', 'applied']),
      ...[draft, ...rest.slice(4)].map((c) => [c.id, 'close', 'applied']),
      [0, 'budget_status', 'applied'],
    ]);
    // An ended budget takes no approval and no new suite.
    expect(await svc.approve(TENANT, [rest[5].id])).toMatchObject({ ok: false, code: 'conflict' });
    expect(await svc.createSuite(TENANT, b.id, 1)).toMatchObject({ ok: false, code: 'conflict' });
    await stopWorld(w, false);
  });
});
