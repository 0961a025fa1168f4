// Carrying out the optimiser's logged decisions (README "Campaigns" → "Once per window"): each decision of a window
// is logged before it is carried out, and ends `applied` (it changed the platform, the campaign or the budget) or
// `superseded` (the campaign's state already said otherwise: nothing sent, nothing changed, and the log says why);
// a platform refusal leaves it to the window's retry, and a refused pause of a budget that stopped (exhausted) to
// every later window too (campaigns.sql unapplied_decisions, jobs.ts optimize). A daily budget is set in the budget's turn, capped by what the
// other campaigns take then (daily-budgets.ts), a window's lowered amounts before its raised ones. Outcomes are values.
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import type { PlatformAdapter } from './adapters/adapter.js';
import type { BudgetTurns } from './budget-turns.js';
import { createDailySetter } from './daily-budgets.js';
import { decimalsOf, floorTo, NEVER_RAN, type Platform } from './model.js';
import { pauseOutcome, type Action, type Decision } from './rules.js';
import type { LowBudgetNotice } from './service.js';
import { campaignStore as S, Q, type Budget, type Campaign, type Decided } from './store.js';

export interface DecideDeps {
  db: Db;
  log: Logger;
  adapters: Record<Platform, PlatformAdapter>;
  now: () => number;
  notify(n: LowBudgetNotice): Promise<void>;
  /** The budget's turns (budget-turns.ts), shared with approvals and hand-set daily budgets. */
  turns: BudgetTurns;
}

/** What carrying out one decision came to (`details` are added to its logged params): `failed` is retried with the window. */
export type Applied = { to: 'applied'; details?: Record<string, unknown> } | { to: 'superseded'; note: string } | { to: 'failed' };

const ext = (c: Campaign) => ({ campaignId: c.external_campaign_id ?? '', adsetId: c.external_adset_id });
const APPLIED: Applied = { to: 'applied' };
const superseded = (note: string): Applied => ({ to: 'superseded', note });

export function createDecider(deps: DecideDeps) {
  const { db, adapters } = deps;
  const now = () => new Date(deps.now());
  const setDaily = createDailySetter({ db, adapters, turns: deps.turns, now });

  /**
   * Logs a window's decisions (once per campaign, window and rule) and carries out those not yet done, with, for a
   * budget that is not active, its budget_exhausted pauses any earlier window or override left unapplied.
   */
  async function decide(b: Budget, window: Date, job: string, decisions: Decision[]): Promise<{ applied: number; failed: number }> {
    if (decisions.length) {
      const rows = decisions.map((d) => ({ campaign_id: d.campaignId, rule: d.rule, action: d.action.kind, inputs: d.inputs, params: d.action, reason: d.reason }));
      await db.query(Q.insert_decisions, [b.tenant_id, b.id, window, job, now(), JSON.stringify(rows)]);
    }
    let applied = 0;
    let failed = 0;
    for (const d of await lowersFirst(b, await S.unapplied(db, b.tenant_id, b.id, window))) {
      const r = await apply(b, d.campaign_id, d.params as unknown as Action);
      if (r.to === 'applied') {
        await db.query(Q.mark_applied, [d.id, now(), JSON.stringify(r.details ?? {})]);
        applied++;
      } else if (r.to === 'superseded') {
        await db.query(Q.mark_superseded, [d.id, r.note.slice(0, 500)]);
      } else failed++;
    }
    return { applied, failed };
  }

  /**
   * The window's daily budgets that lower a campaign's amount (or keep it) first, in the places of its daily-budget
   * decisions (the others keep theirs): a raise carried out first would be capped by amounts about to be lowered.
   */
  async function lowersFirst(b: Budget, todo: Decided[]): Promise<Decided[]> {
    const daily = todo.filter((d) => d.action === 'set_daily_budget');
    if (daily.length < 2) return todo;
    const has = new Map((await S.campaigns(db, b.tenant_id, b.id)).map((c) => [c.id, c.daily_budget]));
    const raises = (d: Decided) => floorTo(Number(d.params.daily_budget), decimalsOf(b.currency)) > (has.get(d.campaign_id) ?? Infinity);
    const ordered = [...daily.filter((d) => !raises(d)), ...daily.filter(raises)];
    let i = 0;
    return todo.map((d) => (d.action === 'set_daily_budget' ? ordered[i++] : d));
  }

  /** One decision on the platform and in the store. */
  async function apply(b: Budget, campaignId: number, a: Action): Promise<Applied> {
    const tenant = b.tenant_id;
    if (a.kind === 'budget_status') return (await db.query(Q.set_budget_status, [tenant, b.id, a.status, now()]), APPLIED);
    if (a.kind === 'notify_low_budget') {
      // Sent before it is marked: a failed send is retried with the window (a crash in between may send it twice).
      if (b.low_notified_at !== null) return superseded('the notice was already sent');
      try {
        await deps.notify({ tenant, budget_id: b.id, organizer_id: b.organizer_id, remaining: a.remaining, remaining_pct: a.remaining_pct, currency: b.currency });
      } catch (err) {
        deps.log.warn({ budget: b.id, err: (err as Error).message }, 'campaign notice not delivered; retried with the window');
        return { to: 'failed' };
      }
      await db.query(Q.mark_low_notified, [tenant, b.id, now()]);
      return APPLIED;
    }
    if (a.kind === 'set_daily_budget') return setDaily(b, campaignId, a.daily_budget);
    const c = await S.campaign(db, tenant, campaignId);
    if (a.kind === 'close') {
      // Never ran: nothing on a platform runs for it (a failed one's objects were created paused).
      if (!c) return superseded('the campaign is gone');
      const [closed] = await S.move(db, tenant, [c.id], NEVER_RAN, 'completed', 'budget_ended', now());
      return closed ? APPLIED : superseded(`not closed: it is ${c.status}`);
    }
    if (!c || !c.external_campaign_id) return superseded('the campaign is not on a platform');
    const adapter = adapters[c.platform];
    const refused = async (r: { ok: boolean; error?: string }): Promise<Applied | null> => {
      if (r.ok) return null;
      await db.query(Q.set_error, [tenant, c.id, String(r.error).slice(0, 1000), now()]);
      return { to: 'failed' };
    };
    const was = `it is ${c.status}${c.status_reason ? ` (${c.status_reason})` : ''}`;
    switch (a.kind) {
      case 'resume': {
        // A rule resumes only its own kind of pause: the daily limit's, or (budget_reopened) the exhaustion's once the
        // budget is active again. One paused by hand (or for CPA) since stays.
        const from = a.from ?? 'daily_limit';
        if (!(c.status === 'paused' && c.status_reason === from)) return superseded(`not resumed: ${was}`);
        if (from === 'budget_exhausted') {
          // Read now: the budget may have stopped again since the decision.
          const status = (await S.budget(db, tenant, b.id))?.status ?? 'gone';
          if (status !== 'active') return superseded(`not resumed: the budget is ${status}`);
        }
        const no = await refused(await adapter.setActive(ext(c), true));
        if (no) return no;
        await S.move(db, tenant, [c.id], ['paused'], 'active', null, now());
        return APPLIED;
      }
      case 'pause': {
        const how = pauseOutcome({ status: c.status, statusReason: c.status_reason }, a.reason);
        if (how === 'superseded') return superseded(`not paused for ${a.reason}: ${was}`);
        if (how === 'replace_reason') {
          // Paused on the platform already: the stronger reason is stored (a daily-limit pause would be resumed).
          const [moved] = await S.move(db, tenant, [c.id], ['paused'], 'paused', a.reason, now());
          return moved ? APPLIED : superseded(`not paused for ${a.reason}: it changed meanwhile`);
        }
        const no = await refused(await adapter.setActive(ext(c), false));
        if (no) return no;
        await S.move(db, tenant, [c.id], ['active'], 'paused', a.reason, now());
        return APPLIED;
      }
      case 'complete': {
        if (c.status !== 'active' && c.status !== 'paused') return superseded(`not completed: ${was}`);
        if (c.status === 'active') {
          const no = await refused(await adapter.setActive(ext(c), false));
          if (no) return no;
        }
        await S.move(db, tenant, [c.id], ['active', 'paused'], 'completed', 'budget_ended', now());
        return APPLIED;
      }
      case 'keep_rotating':
        // A note (at most once a day): nothing to send or change.
        return APPLIED;
      case 'pause_ads': {
        // Creative rotation: the losers' ads are paused one by one, each stored PAUSED as soon as Meta took it, so
        // a window run again (a restart between the calls and applied_at) sends no pause twice.
        if (c.status !== 'active' && c.status !== 'paused') return superseded(`no ads paused: ${was}`);
        if (!adapter.setAdActive) return superseded(`${c.platform} campaigns have no ads here`);
        const ads = (c.external_ads ?? []).map((x) => ({ ...x }));
        // Never the last delivering ad: the winner must still be ours to run and, at the last sync, ACTIVE on Meta.
        const winner = ads.find((x) => x.ad_id === a.winner_ad_id);
        const seen = (Array.isArray(c.performance_metrics.variants) ? (c.performance_metrics.variants as Record<string, unknown>[]) : []).find((x) => x.ad_id === a.winner_ad_id);
        if (!winner || winner.status === 'PAUSED' || a.ad_ids.includes(a.winner_ad_id)) return superseded('no ads paused: the winner is not running');
        if (seen && typeof seen.effective_status === 'string' && seen.effective_status !== 'ACTIVE') return superseded(`no ads paused: the winner's ad is ${seen.effective_status} on Meta`);
        for (const id of a.ad_ids) {
          const ad = ads.find((x) => x.ad_id === id);
          if (!ad || ad.status === 'PAUSED') continue;
          const no = await refused(await adapter.setAdActive(id, false));
          if (no) return no;
          ad.status = 'PAUSED';
          await S.setAds(db, tenant, c.id, ads, now());
        }
        return APPLIED;
      }
    }
  }

  return { decide };
}
