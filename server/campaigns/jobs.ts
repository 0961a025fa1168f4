// The campaign jobs on the job runner (seed 002 §2.7), each once per window across the nodes:
//   campaigns.sync_metrics  every 30 min   platform figures → campaigns, snapshots, budgets' spend; tracked credits
//   campaigns.optimize      hourly         sync, then the hourly rules (rules.ts) for every active budget, the
//                                          low-budget notice included (a budget can run out between two rebalances),
//                                          and the stopped budgets' pauses a platform refused, sent again
//   campaigns.rebalance     hourly check   each budget once a day at 06:00 in its tenant's time zone (days.ts):
//                                          low-budget notice, exhaustion, the day's split (allocate.ts)
//   campaigns.refresh_audiences daily 03:00 UTC  links built remarketing audiences to campaigns not yet published
//   campaigns.resume_publishing every 60 s  finishes campaigns an approval left publishing (crash, lost connection)
//   campaigns.end_budgets   every 60 s     budgets whose ends_at has passed: completes their running campaigns,
//                                          closes those never run, marks the budget ended
// Decisions are logged per (campaign, window, rule) before they are carried out, so an attempt run again for the
// same window (lease lost, retry, restart) finds them and never acts twice.
import type { Logger } from 'pino';
import type { Job } from '../jobs/runner.js';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import type { ExternalAd, PlatformAdapter } from './adapters/adapter.js';
import { NOT_LISTED, type VariantView } from './rotation.js';
import { rebalanceDay, rebalanceDue, tenantDayStart } from './days.js';
import type { Platform, Stats } from './model.js';
import { hash32, prng } from './rng.js';
import { dailyDecisions, endDecisions, hourlyDecisions, type BudgetView, type CampaignView } from './rules.js';
import type { CampaignService } from './service.js';
import { budgetView, campaignStore as S, platformStats, Q, toBudget, type Budget, type Campaign } from './store.js';

const J = queries('campaigns.sql', ['stopped_budgets']);
/** The stopped budgets whose refused pauses one optimiser window sends again (the rest wait for the next). */
const STOPPED_PER_WINDOW = 500;

/** Where tracked sales come from: by default the conversions domain's attributions (issue 15). */
export interface CreditSource {
  /**
   * Credits the sales since `since`; answers how many. A tenant whose sales could not be credited is reported to
   * `log` and left to the next sync, the other tenants' are credited (without `log`, the first such error is thrown
   * once every tenant was tried).
   */
  pull(db: Db, since: Date, until: Date, log?: Logger): Promise<number>;
}

export const attributionCredits: CreditSource = {
  async pull(db, since, _until, log) {
    const present = (await db.query<{ present: boolean }>(Q.has_attributions)).rows[0]?.present;
    if (!present) return 0;
    // Per tenant: one statement for all of them let a single row that cannot be written (before migration 047, an
    // order of MAX_AMOUNT) fail every tenant's credits, and with them every tenant's metrics sync and optimiser.
    const tenants = (await db.query<{ tenant_id: string | number }>(Q.credit_tenants)).rows.map((r) => Number(r.tenant_id));
    let credited = 0;
    let first: unknown = null;
    for (const tenant of tenants) {
      try {
        credited += (await db.query(Q.credit_from_attributions, [since, tenant])).rows.length;
      } catch (err) {
        // The tenant's credits stay as they were (one statement); its orders are tried again at the next sync.
        if (log) log.error({ err, tenant_id: tenant, since: since.toISOString() }, 'campaign credits of a tenant could not be written; the next sync tries again');
        else first ??= err;
      }
    }
    if (first !== null) throw first;
    return credited;
  },
};

export interface JobDeps {
  db: Db;
  log: Logger;
  service: CampaignService;
  adapters: Record<Platform, PlatformAdapter>;
  credits: CreditSource;
}

const CHUNK = 100;

/**
 * A campaign's variant ads with their last synced figures and Meta status (performance_metrics.variants), for the
 * rotation: `running` is false once we paused it; `metaStatus` is Meta's effective_status (NOT_LISTED: deleted or
 * archived), null when no sync has read it yet.
 */
export function variantViews(c: Campaign): VariantView[] {
  const figures = Array.isArray(c.performance_metrics.variants) ? (c.performance_metrics.variants as Record<string, unknown>[]) : [];
  const n = (v: unknown) => (typeof v === 'number' ? v : Number(v ?? 0)) || 0;
  return (c.external_ads ?? []).filter((a) => a.ad_id).map((a) => {
    const f = figures.find((x) => x.ad_id === a.ad_id) ?? {};
    const metaStatus = typeof f.effective_status === 'string' && f.effective_status ? f.effective_status : null;
    return { variant: a.variant, adId: a.ad_id!, running: a.status !== 'PAUSED', metaStatus, stats: { impressions: n(f.impressions), clicks: n(f.clicks), spend: n(f.spend), conversions: n(f.conversions), revenue: n(f.revenue) } };
  });
}

type VariantFigures = { variant: number; ad_id: string | null; effective_status?: string | null; status_read_at?: string } & Stats;
const ZERO: Stats = { impressions: 0, clicks: 0, spend: 0, conversions: 0, revenue: 0 };

/**
 * This sync's per-ad figures and statuses of a campaign, from the last ones (`prev`): an ad without an insights row
 * keeps its last figures (Meta leaves a deleted ad out of level=ad insights; its lifetime figures cannot shrink);
 * an ad the status read does not list is NOT_LISTED (deleted or archived); a failed read keeps the last value. Pure.
 */
export function mergeVariants(ads: ExternalAd[], prev: unknown, stats: Map<string, Stats> | null, statuses: Map<string, string> | null, at: Date): VariantFigures[] {
  const last = Array.isArray(prev) ? (prev as Record<string, unknown>[]) : [];
  const n = (v: unknown) => (typeof v === 'number' ? v : Number(v ?? 0)) || 0;
  return ads.map((a) => {
    const p = last.find((x) => x.ad_id === a.ad_id);
    const before: Stats = p ? { impressions: n(p.impressions), clicks: n(p.clicks), spend: n(p.spend), conversions: n(p.conversions), revenue: n(p.revenue) } : ZERO;
    const s = stats?.get(a.ad_id!) ?? before;
    const status = statuses ? statuses.get(a.ad_id!) ?? NOT_LISTED : typeof p?.effective_status === 'string' ? p.effective_status : null;
    const readAt = statuses ? at.toISOString() : typeof p?.status_read_at === 'string' ? p.status_read_at : undefined;
    return { variant: a.variant, ad_id: a.ad_id, ...s, effective_status: status, ...(readAt ? { status_read_at: readAt } : {}) };
  });
}
/** Credits look back this far each sync (a sale is attributed a little after it happened). */
const CREDIT_LOOKBACK_MS = 2 * 86_400_000;

export function createCampaignJobs(deps: JobDeps) {
  const { db, log } = deps;

  async function syncMetrics(at: Date): Promise<number> {
    const rows = (await db.query<Record<string, unknown>>(Q.synced_campaigns)).rows;
    type Synced = { id: number; ext: string; ads: ExternalAd[]; prev: unknown };
    const byPlatform = new Map<Platform, Synced[]>();
    for (const r of rows) {
      const p = r.platform as Platform;
      const ads = (typeof r.external_ads === 'string' ? JSON.parse(r.external_ads) : r.external_ads ?? []) as ExternalAd[];
      const prev = typeof r.variants === 'string' ? JSON.parse(r.variants) : r.variants;
      byPlatform.set(p, [...(byPlatform.get(p) ?? []), { id: Number(r.id), ext: String(r.external_campaign_id), ads: ads.filter((a) => a.ad_id), prev }]);
    }
    const figures: (Stats & { id: number; variants?: unknown[] })[] = [];
    let failures = 0;
    for (const [p, list] of byPlatform) {
      for (let i = 0; i < list.length; i += CHUNK) {
        const part = list.slice(i, i + CHUNK);
        const r = await deps.adapters[p].fetchMetrics(part.map((x) => x.ext));
        if (!r.ok) {
          failures++;
          log.warn({ platform: p, err: r.error }, 'campaign metrics fetch failed');
          continue;
        }
        // Per ad, for the campaigns that have ads (creative rotation): figures and delivery status. A failed read
        // keeps the last sync's values; an ad without a row keeps its figures, one not listed is NOT_LISTED.
        const withAds = part.filter((x) => x.ads.length);
        const fetchAds = deps.adapters[p].fetchAdMetrics;
        const fetchStatuses = deps.adapters[p].fetchAdStatuses;
        const ads = withAds.length && fetchAds ? await fetchAds(withAds.map((x) => x.ext)) : null;
        if (ads && !ads.ok) log.warn({ platform: p, err: ads.error }, 'campaign ad metrics fetch failed');
        const states = withAds.length && fetchStatuses ? await fetchStatuses(withAds.map((x) => x.ext)) : null;
        if (states && !states.ok) log.warn({ platform: p, err: states.error }, 'campaign ad statuses fetch failed');
        for (const x of part) {
          const s = r.value.get(x.ext);
          if (!s) continue;
          const per = ads?.ok ? ads.value.get(x.ext) ?? new Map<string, Stats>() : null;
          const st = states?.ok ? states.value.get(x.ext) ?? new Map<string, string>() : null;
          const variants = x.ads.length && (per || st) ? mergeVariants(x.ads, x.prev, per, st, at) : undefined;
          figures.push({ id: x.id, ...s, ...(variants ? { variants } : {}) });
        }
      }
    }
    if (figures.length) await db.query(Q.write_metrics, [at, JSON.stringify(figures)]);
    await deps.credits.pull(db, new Date(at.getTime() - CREDIT_LOOKBACK_MS), at, log);
    if (failures > 0 && figures.length === 0 && rows.length > 0) throw new Error(`metrics sync failed on ${failures} platform call(s)`);
    return figures.length;
  }

  // At the top of each hour the half-hourly sync and the optimiser's own sync are for the same window; on one node
  // they share one sync (one round of platform calls), whichever starts first. A failed sync is not shared: the
  // next caller syncs again. Another node, or a restart, syncs for itself.
  let shared: { at: number; run: Promise<number> } | null = null;
  function syncWindow(at: Date): Promise<number> {
    if (shared?.at === at.getTime()) return shared.run;
    const entry = { at: at.getTime(), run: syncMetrics(at) };
    shared = entry;
    entry.run.catch(() => {
      if (shared === entry) shared = null;
    });
    return entry.run;
  }

  /** The optimiser's view: tracked sales when the budget has any, else the platform's own claim. */
  async function views(b: Budget): Promise<{ budget: BudgetView; campaigns: CampaignView[]; list: Campaign[] }> {
    const list = await S.campaigns(db, b.tenant_id, b.id);
    const credits = await S.credits(db, b.tenant_id, list.map((c) => c.id));
    const raises = await S.lastRaises(db, b.tenant_id, b.id);
    const withAds = list.some((c) => (c.external_ads ?? []).filter((a) => a.ad_id).length >= 2);
    const rotations = withAds ? await S.lastRotations(db, b.tenant_id, b.id) : new Map<number, number>();
    const tracked = credits.size > 0;
    const campaigns = list.map((c): CampaignView => {
      const p = platformStats(c);
      const cr = credits.get(c.id);
      const stats = tracked ? { ...p, conversions: cr?.orders ?? 0, revenue: cr?.revenue ?? 0 } : p;
      const view: CampaignView = { id: c.id, platform: c.platform, status: c.status, statusReason: c.status_reason, dailyBudget: c.daily_budget, stats, lastRaiseAt: raises.get(c.id) ?? null };
      const variants = variantViews(c);
      return variants.length ? { ...view, variants, startedAt: c.started_at ? Date.parse(c.started_at) : null, lastRotationAt: rotations.get(c.id) ?? null } : view;
    });
    return { budget: budgetView(b), campaigns, list };
  }

  /** Active budgets with campaigns on a platform, with their tenant's zone and their last rebalanced day. */
  const liveBudgets = async () => (await db.query<Record<string, unknown>>(Q.live_budgets)).rows.map((r) => ({
    b: toBudget(r),
    tz: String(r.tenant_time_zone),
    rebalancedFor: r.rebalanced_for ? new Date(r.rebalanced_for as string | Date).getTime() : null,
  }));

  /**
   * One budget's turn of a job over every live budget. A budget whose rows cannot be read or written (a store
   * error) counts as one failed decision and is logged; the budgets after it still get their turn (their daily
   * limits and exhaustion must not wait for another tenant's), and the window is retried.
   */
  async function eachBudget(b: Budget, job: string, run: () => Promise<{ applied: number; failed: number }>): Promise<{ applied: number; failed: number }> {
    try {
      return await run();
    } catch (err) {
      log.error({ err, job, tenant_id: b.tenant_id, budget_id: b.id }, 'a budget could not be optimised; the other budgets were, the window retries it');
      return { applied: 0, failed: 1 };
    }
  }

  async function optimize(window: Date): Promise<number> {
    await syncWindow(window);
    let acted = 0;
    let failed = 0;
    // A budget is marked exhausted as it stops, before its campaigns' pauses are sent (nothing more is approved or
    // resumed meanwhile); a pause the platform refuses stays unapplied, its campaign still spending. A stopped budget
    // is in no live_budgets window again and that pause's window (an hour's, an override's) is not run again, so
    // every window carries such pauses out again, whichever window or override logged them, until the platform takes
    // them (decide.ts with no new decisions: campaigns.sql unapplied_decisions). Before, the campaign spent past the
    // total for good. First, so that a budget stopped below and refused is not sent the same pause twice in one run.
    for (const b of (await db.query<Record<string, unknown>>(J.stopped_budgets, [STOPPED_PER_WINDOW])).rows.map(toBudget)) {
      const r = await eachBudget(b, 'campaigns.optimize', () => deps.service.decide(b, window, 'campaigns.optimize', []));
      acted += r.applied;
      failed += r.failed;
    }
    for (const { b, tz } of await liveBudgets()) {
      const r = await eachBudget(b, 'campaigns.optimize', async () => {
        const v = await views(b);
        const today = await S.spendSince(db, b.tenant_id, b.id, new Date(tenantDayStart(window.getTime(), tz)));
        const spentToday = [...today.values()].reduce((s, x) => s + x, 0);
        return deps.service.decide(b, window, 'campaigns.optimize', hourlyDecisions({ budget: v.budget, campaigns: v.campaigns, spentToday, now: window.getTime() }));
      });
      acted += r.applied;
      failed += r.failed;
    }
    if (failed > 0) throw new Error(`${failed} decision(s) could not be carried out on the platforms; the window retries them`);
    return acted;
  }

  /**
   * campaigns.rebalance, an hourly check: each budget whose tenant's 06:00 has come (days.ts) and whose day is not
   * yet rebalanced, with that 06:00 as the decisions' window; a day is marked done once all its decisions were
   * carried out (a platform refusal leaves it to the next attempt or the next hour, until 12:00 there). A manual
   * run (`manual`) rebalances every budget now, `window` being now, and counts as its tenant's day.
   */
  async function rebalance(window: Date, manual = false): Promise<number> {
    let acted = 0;
    let failed = 0;
    for (const { b, tz, rebalancedFor } of await liveBudgets()) {
      const due = manual ? window.getTime() : rebalanceDue(window.getTime(), tz, rebalancedFor);
      if (due === null) continue;
      const at = new Date(due);
      const r = await eachBudget(b, 'campaigns.rebalance', async () => {
        const v = await views(b);
        const rand = prng(hash32(`rebalance:${b.id}:${at.toISOString()}`));
        return deps.service.decide(b, at, 'campaigns.rebalance', dailyDecisions({ budget: v.budget, campaigns: v.campaigns, now: due, rand }));
      });
      acted += r.applied;
      failed += r.failed;
      if (r.failed === 0) await db.query(Q.set_rebalanced_for, [b.tenant_id, b.id, new Date(manual ? rebalanceDay(due, tz) : due)]);
    }
    if (failed > 0) throw new Error(`${failed} decision(s) could not be carried out on the platforms; the window retries them`);
    return acted;
  }

  /**
   * campaigns.end_budgets (every minute): a budget whose ends_at has passed completes its campaigns now, not at the
   * next hourly optimiser window (which let a whole hour past the end be delivered). Logged like every decision.
   */
  async function endBudgets(window: Date): Promise<number> {
    let acted = 0;
    let failed = 0;
    for (const b of (await db.query<Record<string, unknown>>(Q.ended_budgets, [window])).rows.map(toBudget)) {
      const v = await views(b);
      const r = await deps.service.decide(b, window, 'campaigns.end_budgets', endDecisions(v.budget, v.campaigns, window.getTime()) ?? []);
      acted += r.applied;
      failed += r.failed;
    }
    if (failed > 0) throw new Error(`${failed} decision(s) could not be carried out on the platforms; the window retries them`);
    return acted;
  }

  const jobs: Job[] = [
    { name: 'campaigns.sync_metrics', schedule: { every: 1800 }, timeoutS: 600, run: (ctx) => syncWindow(ctx.windowStart) },
    { name: 'campaigns.optimize', schedule: { every: 3600 }, timeoutS: 900, run: (ctx) => optimize(ctx.windowStart) },
    // Hourly: each budget's 06:00 is its tenant's (days.ts); a missed check is caught up within the hour's first half.
    { name: 'campaigns.rebalance', schedule: { every: 3600, catchUp: true }, acts: "each budget daily at 06:00 in its tenant's time zone", timeoutS: 900, run: (ctx) => rebalance(ctx.windowStart, ctx.manual) },
    // RefreshAudiences (seed §2.7): audiences the remarketing module built since are linked to campaigns not yet
    // published; that module itself refreshes and syncs the audiences' members (remarketing.refresh).
    { name: 'campaigns.refresh_audiences', schedule: { daily: '03:00', tz: 'UTC' }, timeoutS: 600, run: () => deps.service.linkPending(5000) },
    // An approval cut short (a crash between two platform calls, a lost connection while starting it) leaves its
    // campaigns publishing with the ids stored so far; once their lease ran out they are finished here, from what
    // exists on the platform (README "Campaigns" → "Publishing"). Usually one indexed read that finds nothing.
    { name: 'campaigns.resume_publishing', schedule: { every: 60 }, timeoutS: 600, run: () => deps.service.resumePublishing(200) },
    // An end date takes effect within a minute (one indexed read of the budgets that finds nothing, usually).
    { name: 'campaigns.end_budgets', schedule: { every: 60 }, timeoutS: 600, run: (ctx) => endBudgets(ctx.windowStart) },
  ];
  return { jobs, syncMetrics, optimize, rebalance, endBudgets };
}
