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
    expect(log).toHaveLength(12);
    expect(new Set(log.map((r) => `${new Date(String(r.window_start)).toISOString()} ${r.job}`))).toEqual(new Set([`${new Date(endsAt).toISOString()} campaigns.end_budgets`]));
    expect((await svc.campaignsOf(TENANT, b.id)).every((c) => c.status === 'completed')).toBe(true);
    expect([...w.mock.campaigns.values()].filter((c) => c.utm?.startsWith(`txc-${b.id}-`)).every((c) => !c.active)).toBe(true);
    await stopWorld(w, false);
  });
});
