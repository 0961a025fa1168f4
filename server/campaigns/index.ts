// Campaign automation (issue 16, README "Campaigns"): an organizer's ad budget, its campaign suite on Meta,
// Google Ads and TikTok, the admin's approval queue, and the jobs that sync metrics, optimise hourly and
// rebalance daily, logging every decision. app.ts builds it with createCampaigns and registers its jobs,
// routes and tables. scripts/simulate-campaigns.ts runs the same core against mock platforms.
import type { Logger } from 'pino';
import type { GdprRegistry, PersonIds } from '../gdpr/registry.js';
import type { Router } from '../http/router.js';
import type { Job } from '../jobs/runner.js';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import { iso } from '../store/rows.js';
import type { PlatformAdapter } from './adapters/adapter.js';
import { createGoogleAdapter } from './adapters/google.js';
import { createMetaAdapter } from './adapters/meta.js';
import { createTiktokAdapter } from './adapters/tiktok.js';
import type { CampaignsConfig } from './config.js';
import { attributionCredits, createCampaignJobs, type CreditSource } from './jobs.js';
import type { Platform } from './model.js';
import { registerCampaignRoutes, type CampaignAccess } from './routes.js';
import { createService, type LowBudgetNotice } from './service.js';
import { campaignStore as S, Q, type Budget, type Campaign } from './store.js';

export { campaignsConfig, type CampaignsConfig } from './config.js';
export type { LowBudgetNotice } from './service.js';

export const CAMPAIGN_TABLES = ['ad_campaign_budgets', 'automated_campaigns', 'campaign_optimization_log', 'campaign_metric_snapshots', 'campaign_credits'];

const G = queries('campaigns.sql', ['person_credits', 'delete_person_credits']);
/** What campaign_credits.order_id holds for a person: their order ids, or an event id for an order without one. */
const creditKeys = (ids: PersonIds) => [...new Set([...ids.orderIds, ...ids.eventIds])];

export function registerCampaignTables(registry: GdprRegistry): void {
  // An order credited to a campaign is the buyer's order (its id, revenue and time): exported with them and
  // deleted with them (README "GDPR", Policy: delete — the campaign's tracked sales and revenue follow the store).
  // Registered after the events eraser, which adds the ids of the orders and events it deleted.
  registry.table({
    name: 'campaign_credits',
    tables: ['campaign_credits'],
    phase: 'rows',
    async erase(q, ids) {
      const keys = creditKeys(ids);
      const n = keys.length ? (await q.query<{ n: number }>(G.delete_person_credits, [ids.tenantId, keys])).rows[0].n : 0;
      return { removed: n, touched: n ? ['campaign_credits'] : [] };
    },
    async export(q, ids) {
      const keys = creditKeys(ids);
      if (!keys.length) return [];
      return (await q.query<Record<string, unknown>>(G.person_credits, [ids.tenantId, keys])).rows.map((r) => ({ ...r, occurred_at: iso(r.occurred_at) }));
    },
  });
  registry.none(CAMPAIGN_TABLES.filter((t) => t !== 'campaign_credits'), 'campaign automation: organizers\' ad budgets, campaign settings, platform totals and optimiser decisions');
}

export interface CoreDeps {
  db: Db;
  log: Logger;
  config: CampaignsConfig;
  now?: () => number;
  /** The landing page of a suite without an event page (the simulation's); else config.landingUrl. */
  fallbackUrl?: string;
  notify?: (n: LowBudgetNotice) => Promise<void>;
  /**
   * After the webhook took a notice: the same notice on the organizer's live dashboard topic (app.ts gives the live
   * layer's notice(); README "Topics"). Kept when `notify` replaces the webhook.
   */
  onNotice?: (n: LowBudgetNotice) => Promise<void>;
  credits?: CreditSource;
  /** Tests: stand-in adapters. */
  adapters?: Record<Platform, PlatformAdapter>;
}

export interface Purchase {
  order_id: string;
  utm_campaign: string;
  revenue: number;
  tickets: number;
  occurred_at: string;
  /** The order's currency; when given, an order in another currency than the budget's is not credited. */
  currency?: string;
}

/**
 * The organizer's notices: logged, and POSTed to CAMPAIGNS_WEBHOOK_URL when set ({"type":"campaign_budget_low",…}).
 * A refused or failed POST throws, so the decision stays unapplied and the job's window retries it.
 */
export function webhookNotify(url: string | null, log: Logger): (n: LowBudgetNotice) => Promise<void> {
  return async (n) => {
    log.info({ notice: n }, 'campaign budget below 20 %');
    if (!url) return;
    const res = await fetch(url, {
      method: 'POST', headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(10_000),
      body: JSON.stringify({ type: 'campaign_budget_low', ...n }),
    });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`CAMPAIGNS_WEBHOOK_URL answered ${res.status}`);
  };
}

export function createCampaignsCore(deps: CoreDeps) {
  const { db, log } = deps;
  const now = deps.now ?? Date.now;
  const adapters = deps.adapters ?? { meta: createMetaAdapter(deps.config), google_ads: createGoogleAdapter(deps.config), tiktok: createTiktokAdapter(deps.config) };
  const sendNotice = deps.notify ?? webhookNotify(deps.config.webhookUrl, log);
  const notify = async (n: LowBudgetNotice) => {
    await sendNotice(n);
    await deps.onNotice?.(n);
  };
  // The ads' landing page and country when the catalog gives none: configured (CAMPAIGNS_LANDING_URL,
  // CAMPAIGNS_COUNTRY) or asked of the suite request; never assumed (README "Campaigns" → The suite).
  const base = createService({ db, log, adapters, now, fallbackUrl: deps.fallbackUrl ?? deps.config.landingUrl ?? null, fallbackCountry: deps.config.country ?? null, notify, minDaily: deps.config.minDaily });
  const service = {
    ...base,
    budget: (tenant: number, id: number): Promise<Budget | null> => S.budget(db, tenant, id),
    campaignsOf: (tenant: number, budgetId: number): Promise<Campaign[]> => S.campaigns(db, tenant, budgetId),
    campaign: (tenant: number, id: number): Promise<Campaign | null> => S.campaign(db, tenant, id),
  };
  const jobs = createCampaignJobs({ db, log, service: base, adapters, credits: deps.credits ?? attributionCredits });
  return {
    service,
    jobs: jobs.jobs as Job[],
    runners: jobs,
    /** Tracked sales whose utm_campaign names one of our campaigns; an order credits once. */
    async recordCredits(tenant: number, rows: Purchase[]): Promise<number> {
      if (rows.length === 0) return 0;
      return (await db.query(Q.insert_credits, [tenant, JSON.stringify(rows)])).rows.length;
    },
    creditsOf: (tenant: number, ids: number[]) => S.credits(db, tenant, ids),
    /** The routes; `access`: the event owners the scope checks read (a budget's event must be its organizer's). */
    register: (router: Router, access: CampaignAccess) => registerCampaignRoutes(router, { service, db, now, ...access }),
  };
}

export type CampaignsCore = ReturnType<typeof createCampaignsCore>;
