// Tracked credit of the largest order ingest takes (README "Campaigns" → "Credit"), on the embedded store and on
// PostgreSQL, against the mock platforms. Ingest accepts a gross_amount up to MAX_AMOUNT (10 000 000 000), but
// campaign_credits.revenue was numeric(13,3) (at most 9 999 999 999.999): one such order, attributed to a campaign,
// made credit_from_attributions — one statement for every tenant, run by every metrics sync — fail with "numeric
// field overflow" for the 2 days it stayed in the look-back, and with it campaigns.sync_metrics and
// campaigns.optimize of every tenant: the probe saw another tenant's budget spend 66.52 of 50 and stay active.
// Migration 047 widens the columns that hold order amounts; the credit step runs per tenant, so one tenant's row
// that cannot be credited (a legacy quantity beyond an int) stops neither the others' credits nor the jobs: that
// tenant's credits wait for a later sync, logged.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_AMOUNT } from '../server/ingest/registry.js';
import { approvedMetaBudget, campaignsCoreSuite } from './campaigns-stores.js';

const HOUR = 3_600_000;
const [A, B, C] = [1, 2, 3];

describe.each(['embedded', 'postgres'] as const)('credit of the largest order (%s store)', (kind) => {
  const env = campaignsCoreSuite(kind, 'creditmax', 3);
  const { t0, clock, logged } = env;

  /** A budget of `tenant` on Meta with its suite approved (active, started at t0). */
  async function running(tenant: number, total: number) {
    const r = await approvedMetaBudget(env.core, tenant, total);
    expect(r.campaigns.every((c) => c.status === 'active')).toBe(true);
    return r;
  }

  /** An order_completed of `tenant` as ingest stores it, attributed by its utm_campaign (conversions domain). */
  async function order(tenant: number, orderId: string, at: number, utm: string, payload: Record<string, unknown>) {
    const ev = randomUUID();
    await env.store.db.query(`INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, consent_snapshot, entities, payload)
      VALUES ($1, 'order_completed', $2, $3, 'backend', '{}', $4, $5)`, [ev, new Date(at), tenant, JSON.stringify({ order_id: orderId }), JSON.stringify(payload)]);
    await env.store.db.query('INSERT INTO conversion_attributions (tenant_id, event_id, order_id, occurred_at, utm) VALUES ($1, $2, $3, $4, $5)',
      [tenant, ev, orderId, new Date(at), JSON.stringify({ utm_campaign: utm })]);
  }

  it('an order of MAX_AMOUNT is credited exactly; sync and optimize go on, and another tenant\'s budget still stops at its total', async () => {
    const a = await running(A, 20_000);
    const b = await running(B, 50);
    const c = await running(C, 500);
    const utm = (x: { budgetId: number; campaigns: { campaign_type: string }[] }) => `txc-${x.budgetId}-meta-${x.campaigns[0].campaign_type}`;
    expect(MAX_AMOUNT).toBe(10_000_000_000);
    await order(A, 'BIG-1', t0 + HOUR, utm(a), { gross_amount: MAX_AMOUNT, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 10_000, price: 1_000_000 }] });
    await order(A, 'SMALL-1', t0 + HOUR, utm(a), { gross_amount: 99.5, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1, price: 99.5 }] });
    await order(B, 'B-1', t0 + HOUR, utm(b), { gross_amount: 40, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2, price: 20 }] });
    // Tenant C's order stored before ingest bounded quantities: its tickets do not fit an int, so it cannot be credited.
    await order(C, 'C-LEGACY', t0 + HOUR, utm(c), { gross_amount: 10, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 3_000_000_000 }] });
    await order(C, 'C-1', t0 + HOUR, utm(c), { gross_amount: 12.5, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }] });

    // Tenant B's campaigns spent all its 50 on the platform: the next optimize must stop the budget there.
    clock.now = t0 + 2 * HOUR;
    env.mock.advanceTo(clock.now);
    const bExt = b.campaigns[0].external_campaign_id!;
    env.mock.campaigns.get(bExt)!.spend = 50;
    for (const x of b.campaigns.slice(1)) env.mock.campaigns.get(x.external_campaign_id!)!.spend = 0;
    await env.core.runners.optimize(new Date(clock.now));

    const credit = (await env.store.db.query<{ order_id: string; revenue: string; tickets: number }>(
      'SELECT order_id, revenue::text AS revenue, tickets FROM campaign_credits WHERE tenant_id = $1 ORDER BY order_id', [A])).rows;
    expect(credit).toEqual([{ order_id: 'BIG-1', revenue: '10000000000.000', tickets: 10_000 }, { order_id: 'SMALL-1', revenue: '99.500', tickets: 1 }]);
    expect((await env.core.creditsOf(A, a.campaigns.map((x) => x.id))).get(a.campaigns[0].id)).toEqual({ orders: 2, tickets: 10_001, revenue: 10_000_000_099.5 });
    // The other tenants are credited too; C's credits (one statement per tenant) wait for the next sync, logged.
    expect((await env.store.db.query('SELECT order_id FROM campaign_credits WHERE tenant_id = $1', [B])).rows).toEqual([{ order_id: 'B-1' }]);
    expect((await env.store.db.query('SELECT order_id FROM campaign_credits WHERE tenant_id = $1', [C])).rows).toEqual([]);
    expect(logged.some((l) => l.tenant_id === C && /credit/i.test(String(l.msg)))).toBe(true);
    // Tenant B's budget rules ran: exhausted at 50 of 50, its campaigns paused here and on Meta.
    expect(await env.core.service.budget(B, b.budgetId)).toMatchObject({ status: 'exhausted', spent_budget: 50 });
    expect((await env.core.service.campaignsOf(B, b.budgetId)).map((x) => [x.status, x.status_reason])).toEqual(b.campaigns.map(() => ['paused', 'budget_exhausted']));
    expect(env.mock.campaigns.get(bExt)!.active).toBe(false);

    // The half-hourly sync runs on its own too (the look-back still holds the order), and the optimizer's next hour.
    clock.now = t0 + 2.5 * HOUR;
    await expect(env.core.runners.syncMetrics(new Date(clock.now))).resolves.toBeGreaterThan(0);
    clock.now = t0 + 3 * HOUR;
    await expect(env.core.runners.optimize(new Date(clock.now))).resolves.toBeGreaterThanOrEqual(0);
  });

  it('a platform claim and a campaign\'s credited tickets beyond the old bounds are kept and summed', async () => {
    const a = (await env.store.db.query<{ id: string }>('SELECT id FROM automated_campaigns WHERE tenant_id = $1 ORDER BY id LIMIT 1', [A])).rows[0];
    // Meta reports the purchase values we sent it (the conversions API): one MAX_AMOUNT order is over the old numeric(13,3).
    await env.store.db.query('INSERT INTO campaign_metric_snapshots (tenant_id, campaign_id, at, impressions, clicks, spend, conversions, revenue) VALUES ($1, $2, $3, 1, 1, 1, 3, $4)',
      [A, a.id, new Date(t0 + 10 * HOUR), String(3 * MAX_AMOUNT)]);
    expect((await env.store.db.query('SELECT revenue::text AS r FROM campaign_metric_snapshots WHERE campaign_id = $1 AND at = $2', [a.id, new Date(t0 + 10 * HOUR)])).rows).toEqual([{ r: '30000000000.000' }]);
    // 1 100 orders of 200 lines × 10 000 tickets (what ingest allows): 2.2 billion tickets, more than an int sums to.
    await env.store.db.query(`INSERT INTO campaign_credits (tenant_id, order_id, campaign_id, revenue, tickets, matched_by, occurred_at)
      SELECT $1, 'MANY-' || g, $2, 1, 2000000, 'utm', $3 FROM generate_series(1, 1100) g`, [A, a.id, new Date(t0 + HOUR)]);
    const sums = (await env.core.creditsOf(A, [Number(a.id)])).get(Number(a.id))!;
    expect(sums).toEqual({ orders: 1102, tickets: 1100 * 2_000_000 + 10_001, revenue: 10_000_000_099.5 + 1100 });
    clock.now = t0 + 4 * HOUR;
    await expect(env.core.runners.optimize(new Date(clock.now))).resolves.toBeGreaterThanOrEqual(0);
  });
});
