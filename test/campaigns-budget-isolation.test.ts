// The hourly optimiser goes over every live budget of every tenant (README "Campaigns" → "Optimiser"). A budget
// whose turn fails with an error from the store (not a platform refusal, which is a failed decision already) used
// to end the run there: every budget after it, of any tenant, kept spending past its daily limit or total until
// the failure went away. Now that budget is logged and counted as failed (the window is retried), and the budgets
// after it get their turn.
import { describe, expect, it } from 'vitest';
import { createGoogleAdapter } from '../server/campaigns/adapters/google.js';
import { createMetaAdapter } from '../server/campaigns/adapters/meta.js';
import { createTiktokAdapter } from '../server/campaigns/adapters/tiktok.js';
import { attributionCredits, createCampaignJobs } from '../server/campaigns/jobs.js';
import { approvedMetaBudget, campaignsCoreSuite } from './campaigns-stores.js';

const HOUR = 3_600_000;
const [A, B] = [1, 2];

describe('the optimiser over many budgets', () => {
  const env = campaignsCoreSuite('embedded', 'budgetiso', 5);
  const { t0, clock, logged, log, config } = env;

  const running = (tenant: number, total: number) => approvedMetaBudget(env.core, tenant, total);

  it('a budget whose turn fails is logged and retried, and the next tenant\'s budget still stops at its total', async () => {
    const a = await running(A, 1000);
    const b = await running(B, 50);
    clock.now = t0 + 2 * HOUR;
    env.mock.advanceTo(clock.now);
    env.mock.campaigns.get(b.campaigns[0].external_campaign_id!)!.spend = 50;
    for (const x of b.campaigns.slice(1)) env.mock.campaigns.get(x.external_campaign_id!)!.spend = 0;

    // Tenant A's budget comes first (lower id) and its turn fails in the store.
    expect(a.budgetId).toBeLessThan(b.budgetId);
    const cfg = config();
    const service = { ...env.core.service, decide: (async (budget, ...rest) => {
      if (budget.tenant_id === A) throw new Error('relation lock timeout (simulated)');
      return env.core.service.decide(budget, ...rest);
    }) as typeof env.core.service.decide };
    const jobs = createCampaignJobs({ db: env.store.db, log, service, credits: attributionCredits,
      adapters: { meta: createMetaAdapter(cfg), google_ads: createGoogleAdapter(cfg), tiktok: createTiktokAdapter(cfg) } });

    await expect(jobs.optimize(new Date(clock.now))).rejects.toThrow(/1 decision\(s\) could not be carried out/);
    expect(await env.core.service.budget(B, b.budgetId)).toMatchObject({ status: 'exhausted', spent_budget: 50 });
    expect((await env.core.service.campaignsOf(B, b.budgetId)).every((x) => x.status === 'paused')).toBe(true);
    expect(logged.some((l) => l.tenant_id === A && l.budget_id === a.budgetId && l.job === 'campaigns.optimize')).toBe(true);
    expect(await env.core.service.budget(A, a.budgetId)).toMatchObject({ status: 'active' });
  });
});
