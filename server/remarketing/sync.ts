// Audience sync to the ad platforms: removals first (who left, withdrew consent or was erased), then additions,
// each in batches of the platform's limit, one request per batch and identifier kind. A retryable answer (429,
// 5xx, Graph throttling, network) is retried in place with the conversions' jittered exponential backoff, up to
// MAX_ATTEMPTS, and within `budgetMs` when the caller bounds the sync's wall time (a manual sync: each request
// and each wait ends within what is left of it, so the HTTP request is not held for minutes; the daily job tries
// again); what the platform acknowledged is recorded at
// once (remarketing_synced), so a sync that stops half-way resumes with the remaining deltas. One sync of an
// audience runs at a time across nodes: it claims the audience's lease (renewed before each request) or is
// refused as busy. A removal-only sync (erased persons, a deletion) sends no additions and keeps the status
// (expired stays expired); a full sync of an expired audience (its status, or its expires_at passed before the
// daily job marked it) is refused. A Meta lookalike is created on the
// platform from its synced seed (platforms.ts buildLookalikeRequest) instead of being sent members.
// Outcomes are values.
import { randomUUID } from 'node:crypto';
import { backoffMs } from '../conversions/backoff.js';
import {
  BATCH, buildLookalikeRequest, buildRequest, classify, destinationProblem, KINDS, LOOKALIKE_PLATFORMS, type Destination, type Kind, type PlatformRequest, type PlatformUrls,
} from './platforms.js';
import { sourceGoneMessage, type AudienceRow, type RemarketingStore } from './store.js';

export const MAX_ATTEMPTS = 5;
/** How long a sync's claim holds without a renewal (a crashed node's claim lapses after it). */
export const LEASE_MS = 10 * 60_000;
/** The wall-time budget of a sync asked for over HTTP (POST …/sync, DELETE): requests and retries end within it. */
export const MANUAL_BUDGET_MS = 15_000;
/** How long one platform request may take in a sync without a budget (the daily job). */
export const REQUEST_TIMEOUT_MS = 30_000;

export interface SyncDeps {
  store: RemarketingStore;
  urls: PlatformUrls;
  /** The platform token of the audience's organizer (else the marketplace's), from its tracking code. */
  token(a: AudienceRow): Promise<string | null>;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Backoff base and cap (ms): 10 s … 5 min by default, as for conversions. */
  backoff?: { base: number; cap: number };
  now?: () => Date;
  /** Rewrites tables on disk (Db.purge, embedded store): erased persons' digests must leave the files once deleted. */
  purge?: (tables: string[]) => Promise<void>;
  /** The signal ending a request after `ms` (AbortSignal.timeout). */
  timeout?: (ms: number) => AbortSignal;
}

export interface SyncOptions {
  /** Only removals (erased persons' digests, a deleted audience's): no additions, the status stays. */
  removalsOnly?: boolean;
  /** Give up retrying when the next wait would end past this many ms after the sync began. */
  budgetMs?: number;
  /** A claim the caller already holds (it releases it); without one the sync claims and releases the audience. */
  claim?: string;
}

export type SyncOutcome =
  | { ok: true; added: number; removed: number; requests: number }
  | { ok: false; error: string; added: number; removed: number; requests: number; busy?: true };

/** Whether `a`'s expires_at has passed (the daily job marks it expired; a sync before that must not send additions). */
export const expired = (a: AudienceRow, at: Date): boolean => a.expires_at != null && new Date(a.expires_at as string | Date).getTime() <= at.getTime();

export const busyError = (id: number) => `A sync of remarketing audience ${id} is in progress (sync in progress): try again when it has finished.`;

export function createSync(deps: SyncDeps) {
  const http = deps.fetch ?? fetch;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = deps.now ?? (() => new Date());
  const b = deps.backoff ?? { base: 10_000, cap: 300_000 };
  const timeout = deps.timeout ?? ((ms: number) => AbortSignal.timeout(ms));
  const secs = (ms: number) => `${Math.round(ms / 1000)} s`;

  interface Ctx {
    a: AudienceRow;
    claim: string;
    deadline: number | null;
    budgetMs: number | null;
    count: { requests: number };
  }

  /** One request with retries: null and the answer's body, or the reason it failed. */
  async function send(c: Ctx, req: () => PlatformRequest): Promise<{ error: string | null; body: unknown }> {
    for (let attempt = 1; ; attempt++) {
      // A budgeted sync's request gets what is left of the budget: none left, nothing more is sent (what was is recorded).
      const left = c.deadline === null ? REQUEST_TIMEOUT_MS : Math.min(REQUEST_TIMEOUT_MS, c.deadline - now().getTime());
      if (left <= 0) {
        return { error: `stopped after ${c.count.requests} request(s) to answer within ${secs(c.budgetMs!)}; what was sent is recorded, the next sync (or the daily remarketing.refresh job) sends the rest`, body: null };
      }
      const r = req();
      await deps.store.renew(c.a.id, c.claim, LEASE_MS);
      c.count.requests++;
      let answer;
      let body: unknown = null;
      try {
        const res = await http(r.url, { method: r.method, headers: r.headers, body: JSON.stringify(r.body), signal: timeout(left) });
        const text = await res.text();
        try {
          body = JSON.parse(text);
        } catch {
          body = text.slice(0, 200);
        }
        answer = classify(c.a.platform, res.status, body, res.headers.get('retry-after'));
      } catch (err) {
        answer = { kind: 'retry' as const, reason: `network: ${(err as Error).message}` };
      }
      if (answer.kind === 'ok') return { error: null, body };
      if (answer.kind === 'fail' || attempt >= MAX_ATTEMPTS) return { error: answer.reason, body };
      const wait = Math.max(backoffMs(attempt, Math.random, b.base, b.cap), Math.min(answer.retryAfterMs ?? 0, b.cap));
      if (c.deadline !== null && now().getTime() + wait > c.deadline) {
        return { error: `${answer.reason} (stopped retrying after ${attempt} attempts to answer in time; the daily remarketing.refresh job syncs again)`, body };
      }
      await deps.store.renew(c.a.id, c.claim, wait + LEASE_MS);
      await sleep(wait);
    }
  }

  async function run(a: AudienceRow, c: Ctx, removalsOnly: boolean): Promise<SyncOutcome> {
    let added = 0;
    let removed = 0;
    const t = Number(a.tenant_id);
    if (!removalsOnly && (a.status === 'expired' || a.status === 'deleting' || expired(a, now()))) {
      // Its expires_at passed before the daily job marked it: marked now, as the job would.
      if (a.status !== 'expired' && a.status !== 'deleting') await deps.store.setStatus(t, a.id, 'expired');
      const error = `Remarketing audience ${a.id} has expired: it is no longer synced (erased persons are still removed from the platform by the daily job).`;
      return { ok: false, error, added, removed, requests: 0 };
    }
    // A full sync shows `syncing`, then `active` or back to what it was; a removal-only one keeps the status.
    const prior = removalsOnly ? a.status : a.status === 'active' ? 'active' : 'ready';
    const fail = async (error: string): Promise<SyncOutcome> => {
      await deps.store.setFailed(t, a.id, prior, error);
      return { ok: false, error, added, removed, requests: c.count.requests };
    };
    if (a.audience_type === 'lookalike') return removalsOnly ? { ok: true, added, removed, requests: 0 } : lookalike(a, c, fail);
    // A custom_segment whose segment is gone keeps the members it had (store.refresh): they are not synced as if
    // current (erased persons still leave the platform: removal-only syncs go on).
    if (!removalsOnly && a.audience_type === 'custom_segment'
      && (await deps.store.segmentProblem(t, Number(a.criteria.segment_id), a.criteria.segment_version ?? null)) !== null) {
      return fail(sourceGoneMessage(a));
    }
    const problem = destinationProblem(a.platform, { externalAudienceId: a.external_audience_id ?? '', accountId: a.account_id });
    const token = problem ? null : await deps.token(a);
    if (problem || !token) return fail(problem ?? `no ${a.platform} access token: set one on the organizer's (or the marketplace's) ${a.platform} tracking code`);
    const d: Destination = { externalAudienceId: a.external_audience_id!, accountId: a.account_id, token };
    if (!removalsOnly) await deps.store.setStatus(t, a.id, 'syncing');
    const limit = BATCH[a.platform];
    let erasedGone = false;
    // A digest another member still holds (two persons sharing an email) stays on the platform.
    await deps.store.relink(t, a.id);
    for (;;) {
      const rm = await deps.store.removes(t, a.id, limit);
      if (rm.length === 0) break;
      erasedGone ||= rm.some((r) => r.erased);
      for (const kind of ['email', 'phone'] as const) {
        const part = rm.filter((r) => r.kind === kind);
        if (!part.length) continue;
        // A kind this platform never received (phones outside Meta) is only forgotten.
        if (KINDS[a.platform].includes(kind)) {
          const r = await send(c, () => buildRequest(a.platform, 'remove', kind, part.map((x) => x.digest), d, deps.urls));
          if (r.error) return fail(r.error);
        }
        await deps.store.markRemoved(a.id, part);
        removed += part.length;
      }
      if (rm.length < limit) break;
    }
    if (erasedGone && deps.purge) await deps.purge(['remarketing_synced']);
    if (removalsOnly) {
      await deps.store.setCleaned(t, a.id, now());
      return { ok: true, added, removed, requests: c.count.requests };
    }
    for (;;) {
      const add = await deps.store.adds(t, a.id, KINDS[a.platform], limit);
      if (add.length === 0) break;
      for (const kind of KINDS[a.platform]) {
        const part = add.filter((r) => r.kind === kind);
        if (!part.length) continue;
        const r = await send(c, () => buildRequest(a.platform, 'add', kind, part.map((x) => x.digest), d, deps.urls));
        if (r.error) return fail(r.error);
        await deps.store.markAdded(t, a.id, part, now());
        added += part.length;
      }
      if (add.length < limit) break;
    }
    await deps.store.setSynced(t, a.id, now());
    return { ok: true, added, removed, requests: c.count.requests };
  }

  /** A lookalike is created once on the platform from its seed's platform audience; nothing is uploaded to it. */
  async function lookalike(a: AudienceRow, c: Ctx, fail: (e: string) => Promise<SyncOutcome>): Promise<SyncOutcome> {
    const t = Number(a.tenant_id);
    const done = async (): Promise<SyncOutcome> => {
      await deps.store.setSynced(t, a.id, now());
      return { ok: true, added: 0, removed: 0, requests: c.count.requests };
    };
    if (a.external_audience_id) return done();
    if (!LOOKALIKE_PLATFORMS.includes(a.platform)) {
      return fail(`${a.platform} lookalikes are not created by this server (no documented lookalike call for ${a.platform}); build it in ${a.platform}'s own tools from the seed audience, or use a meta lookalike.`);
    }
    if (!a.criteria.lookalike_country) return fail(`A ${a.platform} lookalike needs criteria.lookalike_country (ISO 3166-1 alpha-2, like "RO"): the country the platform draws it from.`);
    const seedId = Number(a.criteria.lookalike_source_id);
    const seed = await deps.store.get(t, seedId);
    if (!seed) return fail(`The lookalike's seed audience ${seedId} no longer exists.`);
    if (seed.platform !== a.platform) return fail(`The origin of a ${a.platform} lookalike is a ${a.platform} audience: its seed, audience ${seedId}, is a ${seed.platform} audience.`);
    if (!seed.external_audience_id || !seed.last_synced_at) {
      return fail(`Sync the seed audience ${seedId} first (POST /api/v1/remarketing-audiences/${seedId}/sync): its ${a.platform} audience is the lookalike's origin.`);
    }
    if (!a.account_id) return fail(`A ${a.platform} lookalike needs account_id: the ad account it is created in.`);
    const token = await deps.token(a);
    if (!token) return fail(`no ${a.platform} access token: set one on the organizer's (or the marketplace's) ${a.platform} tracking code`);
    await deps.store.setStatus(t, a.id, 'syncing');
    const spec = { name: a.name, accountId: a.account_id, originAudienceId: seed.external_audience_id, percentage: Number(a.criteria.lookalike_percentage ?? 1), country: String(a.criteria.lookalike_country) };
    const r = await send(c, () => buildLookalikeRequest(spec, token, deps.urls));
    if (r.error) return fail(r.error);
    const id = (r.body as { id?: unknown } | null)?.id;
    if (typeof id !== 'string' && typeof id !== 'number') return fail(`${a.platform} created the lookalike but answered no id: ${JSON.stringify(r.body).slice(0, 200)}`);
    await deps.store.setExternal(t, a.id, String(id));
    return done();
  }

  return {
    /** Syncs `a` (re-read once claimed): refused as busy while another sync of it holds the lease. */
    async sync(a: AudienceRow, opts: SyncOptions = {}): Promise<SyncOutcome> {
      const t = Number(a.tenant_id);
      const claim = opts.claim ?? randomUUID();
      if (!opts.claim && !(await deps.store.claim(t, a.id, claim, LEASE_MS))) return { ok: false, busy: true, error: busyError(a.id), added: 0, removed: 0, requests: 0 };
      try {
        const cur = await deps.store.getAny(t, a.id);
        if (!cur) return { ok: false, error: `Remarketing audience ${a.id} no longer exists.`, added: 0, removed: 0, requests: 0 };
        const budgetMs = opts.budgetMs ?? null;
        const c: Ctx = { a: cur, claim, deadline: budgetMs === null ? null : now().getTime() + budgetMs, budgetMs, count: { requests: 0 } };
        return await run(cur, c, opts.removalsOnly === true);
      } finally {
        if (!opts.claim) await deps.store.release(a.id, claim);
      }
    },
  };
}

export type Sync = ReturnType<typeof createSync>;
