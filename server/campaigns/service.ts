// The campaign lifecycle (seed 002 §2.4): budgets, the suite, review, publishing, pause / resume and manual
// overrides; the optimiser's logged decisions are carried out by decide.ts. Outcomes are values: a
// platform refusal is recorded on the campaign (last_error / failed), not thrown.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db, Queryable } from '../store/db.js';
import type { PlatformAdapter, PublishOutcome } from './adapters/adapter.js';
import { canMove, decimalsOf, floorTo, type CampaignStatus, type Platform, type PlatformAllocations, type Strategy } from './model.js';
import { resolveCodes } from '../tracking/store.js';
import { campaignKey, pixelOf, platformName, PUBLISH_LEASE_MS, publishEnd, publishMove } from './publish.js';
import { createAudienceLinks } from './audience-links.js';
import { createBudgetTurns, storeLease } from './budget-turns.js';
import { capFor, raisedFirst, settleDaily } from './daily-budgets.js';
import { createDecider } from './decide.js';
import { createOverride } from './override.js';
import { approvalRefusal, notPending, resumeRefusal, scheduledNote, startingDailyBudgets, startingRefusal, startsLater } from './review.js';
import { amountProblem } from './schemas.js';
import { campaignStore as S, Q, toBudget, toCampaign, toPublishRow, type Budget, type Campaign, type PublishRow } from './store.js';
import { buildSuite, linkAudiences, suiteCountry, suiteLanding, type Creative, type Targeting } from './suite.js';

/** Campaigns about to start with their daily budget, and those that may not start with the reason (review.ts startingRefusal). */
interface Shares {
  ok: { c: PublishRow; daily: number }[];
  refused: { id: number; reason: string }[];
}

export interface NewBudget {
  organizer_id: string;
  event_id: string | null;
  total_budget: number;
  currency: string;
  daily_budget_limit: number | null;
  allocation_strategy: Strategy;
  platform_allocations: PlatformAllocations;
  target_cpa: number | null;
  target_roas: number | null;
  payment_reference: string | null;
  paid_at: string | null;
  started_at: string | null;
  ends_at: string | null;
  notes: string | null;
}

/** What a suite request may say of its ads (POST …/suite): their landing page and country, over the catalog's. */
export interface SuiteOptions {
  landing_page_url?: string | null;
  country?: string | null;
}

export interface LowBudgetNotice {
  tenant: number;
  budget_id: number;
  organizer_id: string;
  remaining: number;
  remaining_pct: number;
  currency: string;
}

export interface ServiceDeps {
  db: Db;
  log: Logger;
  adapters: Record<Platform, PlatformAdapter>;
  now: () => number;
  /**
   * The landing page of a suite whose budget names no event, or whose event has no url in the catalog
   * (CAMPAIGNS_LANDING_URL); null: such a suite must send landing_page_url.
   */
  fallbackUrl: string | null;
  /** The country targeted when the catalog gives none (CAMPAIGNS_COUNTRY); null: such a suite must send country. */
  fallbackCountry?: string | null;
  notify(n: LowBudgetNotice): Promise<void>;
  /**
   * The smallest daily budget each platform's ad account takes, in its currency (config.ts: META_MIN_DAILY_BUDGET, …);
   * unset: only a zero is refused (the reference gives no figures).
   */
  minDaily?: Partial<Record<Platform, number>>;
}

export type Result<T> =
  | { ok: true; value: T }
  | { ok: false; code: 'not_found' | 'conflict'; message: string }
  /**
   * A refused value: answered 400 invalid_field naming `field` (and `max`, the largest accepted, or `min`, the least,
   * when there is one).
   */
  | { ok: false; code: 'invalid'; field: string; message: string; max?: number; min?: number; cap?: string }
  /**
   * The platform failed or refused the call (a hand pause, resume or daily budget): nothing changed here. Answered
   * 502 platform_error with `platform` and `retriable` (a timeout, 429, 5xx: send it again), never 409, which a
   * client takes for "not allowed now" and does not retry.
   */
  | { ok: false; code: 'platform_error'; platform: Platform; retriable: boolean; message: string };

/** The 502 of a hand action the platform did not take (`what`: "the pause"), saying whether to send it again. */
function platformFailure(c: Campaign, what: string, r: { error: string; retriable: boolean }): Result<never> {
  const told = r.retriable ? `did not take ${what} of campaign ${c.id} (a temporary failure: ${r.error})` : `refused ${what} of campaign ${c.id}: ${r.error}`;
  const state = what === 'the daily budget' ? `its daily budget is still ${c.daily_budget}` : `it is still ${c.status}`;
  return {
    ok: false, code: 'platform_error', platform: c.platform, retriable: r.retriable,
    message: `${c.platform} ${told}. Nothing changed: ${state}. ${r.retriable ? `Send ${what} again.` : 'Fix what the platform says, then send it again.'}`,
  };
}

const ext = (c: Campaign) => ({ campaignId: c.external_campaign_id ?? '', adsetId: c.external_adset_id });

/** A campaign taken for publishing (status publishing, its daily budget, a lease and this attempt's token). */
type Claim = { claimed: Record<string, unknown>; token: string };

export function createService(deps: ServiceDeps) {
  const { db, adapters } = deps;
  const now = () => new Date(deps.now());
  const links = createAudienceLinks(db, now);
  // One budget's approvals, hand-set daily budgets and the optimiser's daily budgets check and write what a day takes
  // one after another, on every node sharing the store (budget-turns.ts).
  const turns = createBudgetTurns({ lease: storeLease(db), now: deps.now, log: deps.log });
  // The optimiser's decisions, carried out and marked applied or superseded (decide.ts).
  const { decide } = createDecider({ db, log: deps.log, adapters, now: deps.now, notify: deps.notify, turns });
  const { overrideBudget } = createOverride({ db, log: deps.log, now: deps.now, decide, minDaily: deps.minDaily });

  async function createBudget(tenant: number, b: NewBudget): Promise<Budget> {
    const t = now();
    const r = await db.query(Q.insert_budget, [tenant, b.organizer_id, b.event_id, b.total_budget, b.currency, b.daily_budget_limit, b.allocation_strategy,
      JSON.stringify(b.platform_allocations), b.target_cpa, b.target_roas, b.payment_reference, b.paid_at, b.started_at ?? t, b.ends_at, b.notes, t]);
    return toBudget(r.rows[0] as Record<string, unknown>);
  }

  /**
   * The budget's suite (drafts). Its ads' landing page and country are never assumed (suite.ts suiteLanding,
   * suiteCountry): the request's, else the catalog's, else the deployment's setting; else 400 naming the field.
   */
  async function createSuite(tenant: number, budgetId: number, lookalikePct: number, opts: SuiteOptions = {}): Promise<Result<Campaign[]>> {
    const b = await S.budget(db, tenant, budgetId);
    if (!b) return { ok: false, code: 'not_found', message: `No budget ${budgetId} for this tenant.` };
    if (b.status !== 'active') return { ok: false, code: 'conflict', message: `Budget ${budgetId} is ${b.status}: a suite is created for an active budget.` };
    const ev = b.event_id ? ((await db.query(Q.event_for_suite, [tenant, b.event_id])).rows[0] as Record<string, unknown> | undefined) : undefined;
    const landing = suiteLanding(opts.landing_page_url ?? null, b.event_id, (ev?.url as string | null) ?? null, deps.fallbackUrl);
    if ('problem' in landing) return { ok: false, code: 'invalid', field: 'landing_page_url', message: landing.problem };
    const venueCountry = (ev?.country as string | null) ?? null;
    const organizerCountries = opts.country || venueCountry ? [] : (await db.query<{ country: string }>(Q.organizer_countries, [tenant, b.organizer_id])).rows.map((r) => r.country);
    const country = suiteCountry(opts.country ?? null, venueCountry, organizerCountries, deps.fallbackCountry ?? null);
    if ('problem' in country) return { ok: false, code: 'invalid', field: 'country', message: country.problem };
    const candidates = await S.audienceCandidates(db, tenant, b.organizer_id);
    const built = buildSuite({
      budgetId, organizerId: b.organizer_id, platformAllocations: b.platform_allocations, lookalikePct, landingUrl: landing.url, country: country.country,
      event: { id: b.event_id, title: (ev?.title as string | null) ?? null, genres: (ev?.genres as string[] | undefined) ?? [], city: (ev?.city as string | null) ?? null, country: venueCountry, url: (ev?.url as string | null) ?? null },
    });
    // Audiences already built and synced by the remarketing module are referenced at once; the others later.
    const drafts = built.map((d) => ({ ...d, targeting: linkAudiences(d.targeting, d.platform, b.organizer_id, candidates) }));
    await db.query(Q.insert_campaigns, [tenant, budgetId, b.organizer_id, b.event_id, b.ends_at, now(), JSON.stringify(drafts)]);
    return { ok: true, value: await S.campaigns(db, tenant, budgetId) };
  }

  /** Moves campaigns of a budget; those not in a state that allows it are left and listed. */
  async function move(tenant: number, ids: number[], to: CampaignStatus, reason: string | null): Promise<Campaign[]> {
    const from = (['draft', 'pending_review', 'publishing', 'active', 'paused', 'completed', 'failed'] as CampaignStatus[]).filter((s) => canMove(s, to));
    return S.move(db, tenant, ids, from, to, reason, now());
  }

  async function submit(tenant: number, budgetId: number): Promise<Result<Campaign[]>> {
    const cs = await S.campaigns(db, tenant, budgetId);
    if (cs.length === 0) return { ok: false, code: 'not_found', message: `Budget ${budgetId} has no campaigns: create its suite first.` };
    await move(tenant, cs.filter((c) => c.status === 'draft' || c.status === 'failed').map((c) => c.id), 'pending_review', null);
    return { ok: true, value: await S.campaigns(db, tenant, budgetId) };
  }

  /**
   * Approves pending campaigns (the marketplace admin): each is published and started, or marked failed. A campaign
   * left `publishing` by an attempt that stopped (its lease ran out) is finished instead; one an attempt is working
   * on now is left to it (never published twice). Refused (409, nothing sent to a platform) while the budget is not
   * active or has ended, and for a campaign whose share of the day would be zero or below its platform's minimum.
   * A budget that starts later gets its campaigns `scheduled` (published by resumePublishing once it starts), each
   * checked against its share of the budget's first day as it is published then (paced from the start).
   */
  async function approve(tenant: number, ids: number[]): Promise<Result<Campaign[]>> {
    const t = deps.now();
    const loaded = (await Promise.all(ids.map((id) => S.publishRow(db, tenant, id)))).filter((c): c is PublishRow => c !== null);
    if (loaded.length === 0) return { ok: false, code: 'not_found', message: `No campaign ${ids.join(', ')} for this tenant.` };
    const todo = loaded.filter((c) => ['start', 'resume'].includes(publishMove(c, t)));
    if (todo.length === 0) {
      const busy = loaded.find((c) => publishMove(c, t) === 'busy');
      if (busy) return { ok: false, code: 'conflict', message: `Campaign ${busy.id} is being published; it ends active or failed without another approval.` };
      const waiting = loaded.find((c) => c.status === 'scheduled');
      if (waiting) return { ok: false, code: 'conflict', message: scheduledNote(waiting, await S.budget(db, tenant, waiting.budget_id), t) };
      return { ok: false, code: 'conflict', message: notPending(loaded[0]) };
    }
    const out: Campaign[] = [];
    const refusals: string[] = [];
    for (const budgetId of new Set(todo.map((c) => c.budget_id))) {
      // The shares and claims in the budget's turn; the platform calls after it (claimBatch).
      const { b, claims } = await turns(tenant, budgetId, async () => {
        const b = (await S.budget(db, tenant, budgetId))!;
        // Read again in the budget's turn: an approval that ran meanwhile may have started some of them.
        const mine = (await Promise.all(todo.filter((c) => c.budget_id === budgetId).map((c) => S.publishRow(db, tenant, c.id))))
          .filter((c): c is PublishRow => c !== null && ['start', 'resume'].includes(publishMove(c, t)));
        let fresh = mine.filter((c) => c.status === 'pending_review');
        const refusal = fresh.length ? approvalRefusal(b, t) : null;
        if (refusal) refusals.push(refusal);
        if (refusal || (fresh.length && startsLater(b, t))) {
          const shares = refusal ? null : await startingShares(tenant, b, fresh, t);
          refusals.push(...(shares?.refused.map((r) => r.reason) ?? []));
          if (shares?.ok.length) out.push(...(await S.move(db, tenant, shares.ok.map((x) => x.c.id), ['pending_review'], 'scheduled', null, now())));
          fresh = [];
        }
        const r = await claimBatch(tenant, b, mine.filter((c) => c.status !== 'pending_review'), fresh, t);
        refusals.push(...r.refused.map((x) => x.reason));
        return { b, claims: r.claims };
      });
      out.push(...(await finishAll(tenant, b, claims)));
    }
    if (out.length === 0) return { ok: false, code: 'conflict', message: refusals.join(' ') || 'Someone else decided on these campaigns first.' };
    return { ok: true, value: out };
  }

  /** The share of the day each of `fresh` (campaigns of budget `b`) would start with at `t`, or why it may not start. */
  async function startingShares(tenant: number, b: Budget, fresh: PublishRow[], t: number): Promise<Shares> {
    const all = await S.campaigns(db, tenant, b.id);
    const daily = startingDailyBudgets(b, all, fresh, t);
    const out: Shares = { ok: [], refused: [] };
    for (const c of fresh) {
      const start = floorTo(daily.get(c.id) ?? 0, decimalsOf(b.currency));
      const reason = startingRefusal(b, all, c, start, t, deps.minDaily?.[c.platform] ?? null);
      if (reason) out.refused.push({ id: c.id, reason });
      else out.ok.push({ c, daily: start });
    }
    return out;
  }

  /**
   * Claims `resumed` (left publishing, with the daily budget they started with) and `fresh` ones (pending review, or
   * scheduled once the budget started) with their share of the day, their audiences linked once more first (one
   * built since the approval is sent too); a fresh one whose share is zero or below its platform's minimum is not
   * claimed and returned with its reason. Store work only, done in the budget's turn: a claimed campaign is
   * `publishing` with its daily budget, which the next turn's shares count; finishPublish then talks to the platform
   * outside the turn (a slow platform never holds the budget's other approvals).
   */
  async function claimBatch(tenant: number, b: Budget, resumed: PublishRow[], fresh: PublishRow[], t: number): Promise<{ claims: Claim[]; refused: Shares['refused'] }> {
    const claims: Claim[] = [];
    for (const c of resumed) {
      const k = await claimPublish(tenant, b, c, c.daily_budget);
      if (k) claims.push(k);
    }
    if (fresh.length === 0) return { claims, refused: [] };
    const shares = await startingShares(tenant, b, fresh, t);
    await links.linkBeforePublish(tenant, b.organizer_id, shares.ok.map((x) => x.c));
    for (const { c, daily } of shares.ok) {
      const k = await claimPublish(tenant, b, c, daily);
      if (k) claims.push(k);
    }
    return { claims, refused: shares.refused };
  }

  /** Finishes claimed campaigns on their platforms, one after another. */
  async function finishAll(tenant: number, b: Budget, claims: Claim[]): Promise<Campaign[]> {
    const done: Campaign[] = [];
    for (const k of claims) {
      const c = await finishPublish(tenant, b, k);
      if (c) done.push(c);
    }
    return done;
  }

  /**
   * Publishes one campaign, crash-safe: takes it (status publishing, a lease, a token) before any platform call,
   * stores each platform id as the platform returns it, and ends it active or failed. Null when another attempt
   * holds it or it is no longer to publish. An attempt that stops half-way (an exception, the store away, a lost
   * lease, a crash) leaves it publishing with what it stored: resumed by the next approval or the job; so does a
   * temporary platform failure (429, 5xx, a timeout) at any step, released for the job's next run (publishEnd).
   */
  async function claimPublish(tenant: number, b: Budget, c: Campaign, daily: number): Promise<Claim | null> {
    const token = randomUUID();
    const t0 = deps.now();
    // The split works in cents; a campaign gets whole minor units of its currency (JPY 1190, not 1190.47).
    const start = floorTo(daily, decimalsOf(b.currency));
    const claimed = (await db.query<Record<string, unknown>>(Q.claim_publish, [tenant, c.id, token, new Date(t0), new Date(t0 + PUBLISH_LEASE_MS), start, b.total_budget])).rows[0];
    return claimed ? { claimed, token } : null;
  }

  /** The platform part of publishing a claimed campaign (see claimPublish). */
  async function finishPublish(tenant: number, b: Budget, { claimed, token }: Claim): Promise<Campaign | null> {
    const lease = () => new Date(deps.now() + PUBLISH_LEASE_MS);
    const row = toPublishRow(claimed);
    const key = campaignKey(row);
    let r: PublishOutcome;
    try {
      const pixelId = row.platform === 'google_ads' ? null : pixelOf(await resolveCodes(db, tenant, { organizerId: row.organizer_id, eventId: row.event_id }), row.platform);
      r = await adapters[row.platform].publish(
        {
          name: platformName(row.name, key), key, campaignType: row.campaign_type, dailyBudget: row.daily_budget, currency: b.currency,
          targeting: row.targeting as unknown as Targeting, creative: row.creative as unknown as Creative, pixelId,
        },
        {
          existing: { campaignId: row.external_campaign_id, adsetId: row.external_adset_id, ads: row.external_ads ?? [] },
          async save(ids) {
            const ads = ids.ads === undefined ? null : JSON.stringify(ids.ads);
            const saved = await db.query(Q.save_publish_step, [tenant, row.id, token, ids.campaignId ?? null, ids.adsetId ?? null, lease(), now(), ads]);
            if (saved.rows.length === 0) throw new Error(`campaign ${row.id}: another attempt took over its publishing`);
          },
        },
      );
    } catch (err) {
      deps.log.warn({ campaign: row.id, platform: row.platform, err: (err as Error).message }, 'publishing a campaign stopped half-way; it is resumed once its lease runs out');
      return toCampaign(claimed);
    }
    const end = publishEnd(r, { startedAt: row.publish_started_at, now: deps.now() });
    if (end.to === 'active') {
      const done = (await db.query(Q.set_published, [tenant, row.id, end.campaignId, end.adsetId, now(), token])).rows[0];
      return done ? toCampaign(done as Record<string, unknown>) : S.campaign(db, tenant, row.id);
    }
    deps.log.warn({ campaign: row.id, platform: row.platform, err: end.error, retried: end.to === 'retry' }, 'publishing a campaign failed');
    const q = end.to === 'retry' ? Q.release_publish : Q.set_publish_failed;
    const after = (await db.query(q, [tenant, row.id, token, end.error, now()])).rows[0];
    return after ? toCampaign(after as Record<string, unknown>) : S.campaign(db, tenant, row.id);
  }

  /**
   * campaigns.resume_publishing: finishes campaigns left publishing whose lease ran out, and publishes the scheduled
   * campaigns of budgets whose start has come (any tenant). A scheduled campaign of a budget no longer active or
   * already ended fails with the reason; one whose share of the day is zero or below its platform's minimum goes
   * back to pending review with the reason (last_error), for the reviewer to approve again once it fits.
   */
  async function resumePublishing(limit: number): Promise<number> {
    const due = (await db.query<Record<string, unknown>>(Q.publishing_due, [now(), limit])).rows.map(toPublishRow);
    let done = 0;
    for (const c of due) {
      const b = await S.budget(db, c.tenant_id, c.budget_id);
      if (!b) continue;
      const k = await claimPublish(c.tenant_id, b, c, c.daily_budget);
      const r = k ? await finishPublish(c.tenant_id, b, k) : null;
      if (r && r.status !== 'publishing') done++;
    }
    const scheduled = (await db.query<Record<string, unknown>>(Q.scheduled_due, [now(), limit])).rows.map(toPublishRow);
    for (const key of new Set(scheduled.map((c) => `${c.tenant_id}:${c.budget_id}`))) {
      const mine = scheduled.filter((c) => `${c.tenant_id}:${c.budget_id}` === key);
      const { b, claims, moved } = await turns(mine[0].tenant_id, mine[0].budget_id, () => claimScheduled(mine));
      done += moved;
      if (b) done += (await finishAll(b.tenant_id, b, claims)).filter((c) => c.status !== 'publishing').length;
    }
    return done;
  }

  /** resumePublishing's part for one budget's scheduled campaigns in the budget's turn: claims, or moves them. */
  async function claimScheduled(mine: PublishRow[]): Promise<{ b: Budget | null; claims: Claim[]; moved: number }> {
    const b = await S.budget(db, mine[0].tenant_id, mine[0].budget_id);
    if (!b) return { b, claims: [], moved: 0 };
    const t = deps.now();
    const refusal = approvalRefusal(b, t);
    if (refusal) {
      // A paused budget may resume: its campaigns wait; one exhausted, cancelled or ended never publishes them.
      await db.query(Q.set_error_many, [b.tenant_id, mine.map((c) => c.id), refusal, now()]);
      const failed = b.status !== 'paused' ? (await S.move(db, b.tenant_id, mine.map((c) => c.id), ['scheduled'], 'failed', 'budget_not_active', now())).length : 0;
      return { b: null, claims: [], moved: failed };
    }
    const r = await claimBatch(b.tenant_id, b, [], mine, t);
    let done = 0;
    for (const x of r.refused) {
      const [back] = await S.move(db, b.tenant_id, [x.id], ['scheduled'], 'pending_review', null, now());
      if (!back) continue;
      await db.query(Q.set_error, [b.tenant_id, x.id, `${x.reason} It is back in the approval queue.`.slice(0, 1000), now()]);
      done++;
    }
    return { b, claims: r.claims, moved: done };
  }

  /** Back to draft with the reviewer's note: a campaign pending review, or approved and scheduled (not yet published). */
  async function reject(tenant: number, ids: number[], note: string | null): Promise<Result<Campaign[]>> {
    const moved = await S.move(db, tenant, ids, ['pending_review', 'scheduled'], 'draft', note, now());
    if (moved.length) return { ok: true, value: moved };
    const known = (await Promise.all(ids.map((id) => S.campaign(db, tenant, id)))).filter((c): c is Campaign => c !== null);
    if (known.length === 0) return { ok: false, code: 'not_found', message: `No campaign ${ids.join(', ')} for this tenant.` };
    return { ok: false, code: 'conflict', message: `Campaign ${known[0].id} is ${known[0].status}, not pending review.` };
  }

  /** Pause or resume by hand (also the admin's manual override). */
  async function setActive(tenant: number, id: number, active: boolean): Promise<Result<Campaign>> {
    const c = await S.campaign(db, tenant, id);
    if (!c) return { ok: false, code: 'not_found', message: `No campaign ${id} for this tenant.` };
    const to: CampaignStatus = active ? 'active' : 'paused';
    if (!active && c.status === 'paused' && c.external_campaign_id && c.status_reason !== 'manual') {
      // Paused by a rule (the daily limit, which resumes it the next day; CPA; exhaustion): the hand takes over, and
      // a manual pause is never resumed by a rule. The platform gets the (absolute) pause again; it is paused there.
      const r = await adapters[c.platform].setActive(ext(c), false);
      if (!r.ok) return platformFailure(c, 'the pause', r);
      const [held] = await S.move(db, tenant, [id], ['paused'], 'paused', 'manual', now());
      return held ? { ok: true, value: held } : { ok: false, code: 'conflict', message: `Campaign ${id} changed meanwhile; read it again.` };
    }
    if (!canMove(c.status, to) || !c.external_campaign_id) return { ok: false, code: 'conflict', message: `Campaign ${id} is ${c.status}: it cannot be ${active ? 'resumed' : 'paused'}.` };
    if (active) {
      const b = (await S.budget(db, tenant, c.budget_id))!;
      if (b.status !== 'active') return { ok: false, code: 'conflict', message: resumeRefusal(b) };
    }
    const r = await adapters[c.platform].setActive(ext(c), active);
    if (!r.ok) return platformFailure(c, active ? 'the resume' : 'the pause', r);
    const [moved] = await S.move(db, tenant, [id], [c.status], to, active ? null : 'manual', now());
    return { ok: true, value: moved ?? c };
  }

  /**
   * A daily budget set by hand: never more than the budget's headroom (allocate.ts dailyBudgetCap: what is left of
   * the total, the daily limit and the platform's daily_limit, each minus what the budget's other spending campaigns
   * take a day). Above it: refused with the cap and its numbers, nothing sent to the platform.
   */
  async function setDailyBudget(tenant: number, id: number, amount: number): Promise<Result<Campaign>> {
    const c0 = await S.campaign(db, tenant, id);
    if (!c0) return { ok: false, code: 'not_found', message: `No campaign ${id} for this tenant.` };
    // Checked (and a raise written) in the budget's turn, each request seeing the amounts the ones before it set;
    // sent to the platform after it. A refused raise is put back, a lowering written once the platform took it
    // (daily-budgets.ts settleDaily), each unless something changed the amount since.
    const held = await turns(tenant, c0.budget_id, () => reserveDailyBudget(tenant, id, amount));
    if (!held.ok) return held;
    const { c, b, before } = held.value;
    const r = await adapters[c.platform].setDailyBudget(ext(c), amount, b.currency);
    await settleDaily(db, tenant, id, before, amount, r.ok, now());
    if (!r.ok) return platformFailure({ ...c, daily_budget: before }, 'the daily budget', r);
    return { ok: true, value: (await S.campaign(db, tenant, id)) ?? { ...c, daily_budget: amount } };
  }

  /** setDailyBudget's check and write, in its budget's turn: the headroom read after every earlier change was made. */
  async function reserveDailyBudget(tenant: number, id: number, amount: number): Promise<Result<{ c: Campaign; b: Budget; before: number }>> {
    const c = await S.campaign(db, tenant, id);
    if (!c) return { ok: false, code: 'not_found', message: `No campaign ${id} for this tenant.` };
    if (!c.external_campaign_id || (c.status !== 'active' && c.status !== 'paused')) return { ok: false, code: 'conflict', message: `Campaign ${id} is ${c.status}: only a published campaign has a daily budget.` };
    const b = (await S.budget(db, tenant, c.budget_id))!;
    const bad = amountProblem(amount, 'daily_budget', b.currency);
    if (bad && !bad.ok) return { ok: false, code: 'invalid', field: 'daily_budget', message: bad.error.message };
    const min = deps.minDaily?.[c.platform];
    if (min !== undefined && amount < min) return { ok: false, code: 'invalid', field: 'daily_budget', message: `daily_budget ${amount} ${b.currency} is below the ${c.platform} minimum daily budget of ${min} ${b.currency}.` };
    const cap = capFor(b, await S.campaigns(db, tenant, b.id), c);
    if (amount > cap.max) {
      return {
        ok: false, code: 'invalid', field: 'daily_budget', max: cap.max, cap: cap.by,
        message: `daily_budget ${amount} ${b.currency} is above the most campaign ${id} may get: ${cap.max} ${b.currency} a day, set by ${cap.by} (${cap.detail.join('; ')}).`,
      };
    }
    const set = raisedFirst(c.daily_budget, amount) ? await S.setDaily(db, tenant, id, amount, now()) : c;
    return set ? { ok: true, value: { c: set, b, before: c.daily_budget } } : { ok: false, code: 'not_found', message: `No campaign ${id} for this tenant.` };
  }

  return { linkPending: links.linkPending, createBudget, createSuite, submit, approve, resumePublishing, reject, setActive, setDailyBudget, overrideBudget, decide, db: db as Queryable };
}

export type CampaignService = ReturnType<typeof createService>;
