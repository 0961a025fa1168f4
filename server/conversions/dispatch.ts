// The `conversions-dispatch` job: sends due outbox rows, a few destinations at once (CONCURRENT_DESTINATIONS),
// in batches within each provider's limit. A slow or hanging provider holds only its own destinations: one
// provider takes at most all workers but one while others' destinations wait, a destination whose request failed
// transiently (the timeout, 429, 5xx, a network error) sends nothing more in the run and this node leaves it out
// of its next runs for a backoff (`resting`), its destinations are taken after the other providers' for the rest
// of the run, and one destination's time in a run is bounded (DESTINATION_BUDGET_MS). Per batch:
// claim (rows become `sending` under a lease, their attempt counted), drop the rows the provider would refuse
// (dead, with the reason), spend one call of the destination's rate window, send, then mark in one statement:
// sent, back to pending after a backoff, or dead. A batch refused as a whole for its content is split in two
// and each half sent again until the bad row is alone (bisection). The split lives on the rows, not in memory:
// they go back to pending, due at once, each with the batch size it may be sent in next (batch_cap, half the
// refused batch; migration 045), and claim_split sends them among themselves, never with rows queued since.
// Each half is a call of the rate budget, so a split that outlives the budget goes on at the next slots where
// it stopped; when rows being split and others both wait, they take turns (alternating batches in a run, and
// the first call of each slot by the slot's parity, RateLimiter.slot), so neither holds the other up. A
// refusal of the destination itself (its credential or permission) holds the destination instead
// (conversion_holds): its rows stay pending, nothing more is sent this run (nor the rest of a split), and
// due_destinations leaves it out until the hold ends (a backoff up to an hour, holdDelayMs) or its tracking
// code is updated; rows that wait past the provider's limit are dead. An accepted request ends the hold.
// Delivery is at least once: a crash between the provider's answer and the mark leaves the rows `sending`;
// when the lease ends they are sent again with the same event_id, which the providers deduplicate (Meta and
// TikTok within 48 h, Google by transactionId); an acknowledged row is never claimed again. GA4 deduplicates
// nothing and takes one request per client: each acknowledged request's rows are marked sent before the next
// request goes out (Adapter.send's `sent` callback), so a crash re-sends at most the one request whose answer
// had not been marked yet (README "Server-side conversions": what can be sent twice). A GA4 request that left and
// got no answer (the timeout) is not sent again either: its rows are dead as `unconfirmed:` (GA4 may have
// counted them), where the providers that deduplicate retry.
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import type { Adapter, CodeSecrets, Destination, HttpPost, OutboxItem, Provider, SendOutcome } from './adapter.js';
import { BACKOFF_BASE_MS, backoffMs, holdDelayMs, nextRetry, RETRY_FOR_MS } from './backoff.js';
import { fillBrowserIds } from './browser-ids.js';
import type { RateLimiter } from './ratelimit.js';
import type { ConversionStats } from './stats.js';

const Q = queries('conversions.sql', ['due_destinations', 'code_for_destination', 'claim_batch', 'claim_split', 'mark_sent', 'mark_failed', 'extend_lease', 'hold_destination', 'release_hold', 'expire_held']);

/** Destinations looked at per run, and batches per destination per run (the next run continues). */
export const DESTINATIONS_PER_RUN = 200;
export const BATCHES_PER_DESTINATION = 20;
/**
 * Destinations dispatched at once: a provider that hangs (each request may take the 10 s timeout) holds at most
 * all of them but one while other providers' destinations are due, the others go on. And the run's budget: no
 * destination is started after it; one destination's time in a run: no batch (nor GA4 request) is started after
 * it. So a run ends within RUN_BUDGET_MS + DESTINATION_BUDGET_MS + one request (≈ 270 s; the job's timeout is
 * 300 s); the next run, 5 s later, takes up the rest.
 */
export const CONCURRENT_DESTINATIONS = 4;
export const RUN_BUDGET_MS = 200_000;
export const DESTINATION_BUDGET_MS = 60_000;
/** The longest a destination rests after transient failures (`resting`): a retry by hand waits at most this. */
export const REST_CAP_MS = 60_000;
/** A claimed batch's lease; extended before each request (of a bisection, and each GA4 client's). */
export const LEASE_S = 60;

export interface CodeRow {
  id: string | number;
  tenant_id: number;
  provider: string;
  organizer_id: string | null;
  event_id: string | null;
  enabled: boolean;
  settings: Record<string, unknown>;
  secrets_enc: string | null;
}

export interface DispatchDeps {
  db: Db;
  log: Logger;
  adapters: Record<Provider, Adapter>;
  http: HttpPost;
  rate: RateLimiter;
  stats: ConversionStats;
  /** The code's decrypted secrets, or why they cannot be read. */
  secrets(tenantId: number, code: CodeRow): CodeSecrets | { error: string };
  now?: () => number;
  rand?: () => number;
  leaseS?: number;
  concurrency?: number;
  runBudgetMs?: number;
  destinationBudgetMs?: number;
}

/** A claimed row; `cap`: being split (the largest batch it may go in), `lastError` as claimed. */
type Claimed = OutboxItem & { firstAt: number; cap: number | null; lastError: string | null };
/**
 * `clear`: a dead row's digests (user_data) are dropped at once: the provider refused the row itself (too old,
 * nothing to match, a bad field), so a retry cannot help. Rows dead for their destination's sake or out of
 * retry time keep them, for a retry after the fix (conversions.prune clears them KEEP_DEAD_DIGESTS_DAYS on).
 * `cap`: the row's batch was refused as a whole, it is sent next in a batch of at most this many.
 */
type Failure = { id: number; dead: boolean; next_at: string | null; error: string; clear?: boolean; cap?: number };
/** Which rows a batch is claimed from: those being split (claim_split), or the others (claim_batch). */
type Kind = 'rest' | 'split';

/** One destination's dispatch in a run: what it sends with, and its hold. */
interface Run {
  dest: Destination;
  adapter: Adapter;
  /** The code's version (updated_at as the store prints it). */
  version: string;
  /** Refusals in a row of this version of the code (0: not held), and whether a hold row exists at all. */
  holds: number;
  holdRow: boolean;
  /** Held during this run: nothing more is sent. */
  held: boolean;
  /** The rate budget refused a call during this run: nothing more can be sent before the next slot. */
  limited: boolean;
  /** A batch was split since the destination's last claim: rows being split are due. */
  split: boolean;
  /** A request failed transiently (timeout, 429, 5xx, network) during this run: nothing more is sent. */
  failed: boolean;
  /** No batch (nor a further GA4 request) is started after this time (DESTINATION_BUDGET_MS). */
  deadline: number;
}

interface DueRow {
  tenant_id: string | number;
  destination: string;
  provider: Provider;
  code_id: string | number;
}

export interface Dispatcher {
  /** One pass over the due destinations; returns the rows it settled (sent or dead). */
  runOnce(signal?: AbortSignal): Promise<number>;
}

const toItem = (r: Record<string, unknown>): Claimed => ({
  id: Number(r.id),
  event_id: String(r.event_id),
  event_name: String(r.event_name),
  occurred_at: new Date(r.occurred_at as string).toISOString(),
  legal_basis: r.legal_basis as OutboxItem['legal_basis'],
  data: (r.data ?? {}) as OutboxItem['data'],
  user_data: (r.user_data ?? null) as OutboxItem['user_data'],
  attempts: Number(r.attempts),
  firstAt: new Date(r.first_at as string).getTime(),
  cap: r.batch_cap === null || r.batch_cap === undefined ? null : Number(r.batch_cap),
  lastError: (r.last_error ?? null) as string | null,
});

const LABEL: Record<Provider, string> = { meta: 'Meta', tiktok: 'TikTok', google_ads: 'Google Ads', ga4: 'GA4' };

export function createDispatcher(deps: DispatchDeps): Dispatcher {
  const { db, log, stats } = deps;
  const now = deps.now ?? Date.now;
  const rand = deps.rand ?? Math.random;
  const leaseS = deps.leaseS ?? LEASE_S;

  /**
   * Destinations whose last request failed transiently (timeout, 429, 5xx, network): this node leaves them out
   * of its runs until `until`, a backoff per failure in a row (backoff.ts' from 10 s, doubling, at most
   * REST_CAP_MS, at least a Retry-After up to that cap), and takes them after the others once it is over, so
   * their due rows do not take the workers and a 10 s timeout each, run after run, ahead of the healthy
   * destinations; an accepted request ends it. In memory: a restart or another node tries them at once.
   */
  const resting = new Map<string, { failures: number; until: number }>();
  const restKey = (tenantId: number | string, destination: string) => `${Number(tenantId)}|${destination}`;
  function backOff(run: Run, retryAfterMs?: number): void {
    const k = restKey(run.dest.tenantId, run.dest.name);
    const failures = (resting.get(k)?.failures ?? 0) + 1;
    const delay = Math.max(backoffMs(failures, rand, BACKOFF_BASE_MS, REST_CAP_MS), Math.min(retryAfterMs ?? 0, REST_CAP_MS));
    resting.set(k, { failures, until: now() + delay });
  }

  const fail = async (rows: Failure[]) => {
    if (rows.length) await db.query(Q.mark_failed, [JSON.stringify(rows)]);
  };
  const dead = (provider: Provider, items: OutboxItem[], error: string, clear: boolean): Promise<void> => {
    stats.add(provider, 'dead', items.length);
    return fail(items.map((i) => ({ id: i.id, dead: true, next_at: null, error, clear })));
  };

  /** Marks one answer; `invalid` of several rows splits them. Returns the rows settled. */
  async function settle(run: Run, items: Claimed[], out: SendOutcome): Promise<number> {
    const { dest } = run;
    if (out.kind === 'partial') {
      const sent = new Set(out.sent);
      const done = items.filter((i) => sent.has(i.id));
      await settle(run, done, { kind: 'ok' });
      return done.length + (await settle(run, items.filter((i) => !sent.has(i.id)), out.rest));
    }
    if (out.kind === 'deferred') {
      // Not sent: the destination's time in this run was up. Due again at once; the rows keep their last error.
      const at = new Date(now()).toISOString();
      await fail(items.map((i) => ({ id: i.id, dead: false, next_at: at, error: i.lastError ?? out.error })));
      return 0;
    }
    stats.request(dest.provider, out.kind);
    if (out.kind === 'ok') {
      await db.query(Q.mark_sent, [items.map((i) => i.id)]);
      stats.add(dest.provider, 'sent', items.length);
      resting.delete(restKey(dest.tenantId, dest.name));
      if (run.holdRow) {
        await db.query(Q.release_hold, [dest.tenantId, dest.name]);
        run.holdRow = false;
        run.holds = 0;
      }
      return items.length;
    }
    if (out.kind === 'held') return hold(run, items, out.error);
    if (out.kind === 'invalid' && items.length === 1) {
      // Refused alone: the row's own fault, a retry cannot help (its digests go).
      await dead(dest.provider, items, out.error, true);
      return items.length;
    }
    if (out.kind === 'invalid') return split(run, items, out.error);
    // A transient failure: the destination sends nothing more this run and rests (this node) for its backoff.
    if (!run.failed) backOff(run, out.retryAfterMs);
    run.failed = true;
    const t = now();
    // Rows whose request left without an answer, of a provider that deduplicates nothing (GA4): it may have
    // counted them, and would count a copy again, so they are not sent again (a retry by hand can).
    const unconfirmed = new Set(out.unconfirmed ?? []);
    const rows = items.map((i): Failure => {
      if (unconfirmed.has(i.id)) {
        return {
          id: i.id, dead: true, next_at: null,
          error: `unconfirmed: the request left but no answer came (${out.error.slice(0, 300)}); ${LABEL[dest.provider]} deduplicates nothing and may have counted it, `
            + `so it is not sent again. If it is missing there, POST /api/v1/conversions/${i.id}/retry sends it once more`,
        };
      }
      const d = nextRetry({ attempts: i.attempts, firstAt: i.firstAt, now: t, rand, retryAfterMs: out.retryAfterMs });
      return d.kind === 'dead'
        ? { id: i.id, dead: true, next_at: null, error: `no success within 24 h; last: ${out.error}` }
        : { id: i.id, dead: false, next_at: new Date(d.at).toISOString(), error: out.error };
    });
    const gaveUp = rows.filter((r) => r.dead).length;
    stats.add(dest.provider, 'dead', gaveUp);
    stats.add(dest.provider, 'retried', rows.length - gaveUp);
    await fail(rows);
    return gaveUp;
  }

  /**
   * A batch refused as a whole for its content (several rows): its rows go back to pending, due at once, each
   * to be sent next in a batch of at most half this one (batch_cap) among the rows being split only; the run
   * goes on with them while the rate budget lasts, the next runs after. So the split's progress survives a
   * spent budget, a restart or a crash (a crash before this mark: the lease ends, the batch is sent again whole
   * and split again), and rows queued meanwhile never join it. Their last_error is the provider's refusal.
   */
  async function split(run: Run, items: Claimed[], error: string): Promise<number> {
    const cap = Math.ceil(items.length / 2);
    const at = new Date(now()).toISOString();
    const message = `${error.slice(0, 800)} — a batch of ${items.length} refused as a whole: split, sent again in batches of at most ${cap} until the row at fault is alone (it is then dead with this error, the others are sent)`;
    await fail(items.map((i) => ({ id: i.id, dead: false, next_at: at, error: message, cap })));
    run.split = true;
    return 0;
  }

  /** What the status API and the held rows say: the provider's answer, and how to fix it. */
  const holdMessage = (run: Run, error: string, delayMs: number): string => {
    const { dest, adapter } = run;
    const wait = adapter.maxAgeMs ? `their events are ${Math.round(adapter.maxAgeMs / 3_600_000)} h old` : `${RETRY_FOR_MS / 3_600_000} h after their first try`;
    return `${error.slice(0, 800)} — the destination is held: the provider refused its credential or permission, not the rows. `
      + `They stay pending (tried again in ${Math.max(1, Math.round(delayMs / 60_000))} min, then at most hourly) until ${wait}. `
      + `Fix: update tracking code ${dest.codeId} (PUT /api/v1/tracking-codes/${dest.codeId} with a new secrets.${adapter.secret}, or the settings `
      + `or the platform permission the error names); the next run then sends them.`;
  };

  /** The destination refused: it is held, the rows wait (pending), and those past the provider's limit are dead. */
  async function hold(run: Run, items: Claimed[], error: string): Promise<number> {
    const { dest, adapter } = run;
    const holds = run.holds + 1;
    const delay = holdDelayMs(holds, rand);
    const message = holdMessage(run, error, delay);
    await db.query(Q.hold_destination, [dest.tenantId, dest.name, dest.codeId, run.version, holds, new Date(now() + delay).toISOString(), message]);
    Object.assign(run, { holds, holdRow: true, held: true });
    await park(run, items, message);
    const limit = adapter.maxAgeMs ? `the provider's limit (events up to ${Math.round(adapter.maxAgeMs / 3_600_000)} h old)` : `the ${RETRY_FOR_MS / 3_600_000} h retry budget`;
    const expired = (await db.query<{ n: number }>(Q.expire_held, [
      dest.tenantId, dest.name, RETRY_FOR_MS / 1000, adapter.maxAgeMs ? Math.floor(adapter.maxAgeMs / 1000) : null,
      `held past ${limit}: the destination was not fixed in time; last: ${error.slice(0, 800)}`,
    ])).rows[0].n;
    stats.add(dest.provider, 'dead', expired);
    return expired;
  }

  /** Rows of a held destination back to pending, due as soon as the hold ends (due_destinations waits for it). */
  async function park(run: Run, items: Claimed[], message?: string): Promise<number> {
    stats.add(run.dest.provider, 'held', items.length);
    const at = new Date(now()).toISOString();
    await fail(items.map((i) => ({ id: i.id, dead: false, next_at: at, error: message ?? 'the destination is held (see GET /api/v1/conversions counts)' })));
    return 0;
  }

  /**
   * One request (after a call of the destination's rate budget); the rows wait for the next slot when none is
   * left. Rows being split keep the provider's refusal as their last_error (the split's message), not this wait.
   */
  async function deliver(run: Run, items: Claimed[]): Promise<number> {
    const { dest, adapter } = run;
    const call = await deps.rate.take(db, dest.tenantId, dest.name, dest.provider, now());
    if (!call.ok) {
      run.limited = true;
      stats.add(dest.provider, 'rate_limited', items.length);
      const at = new Date(call.until).toISOString();
      const wait = `rate limit: ${call.limit.calls} calls per ${call.limit.periodMs / 1000} s for this destination, spread as one call every ${Math.round(call.slotMs / 100) / 10} s (and a few more for bursts); sent with the next call`;
      await fail(items.map((i) => ({ id: i.id, dead: false, next_at: at, error: i.cap !== null && i.lastError ? i.lastError : wait })));
      return 0;
    }
    await db.query(Q.extend_lease, [items.map((i) => i.id), leaseS]);
    // An adapter that sends several requests (GA4, one per client) has each acknowledged one marked sent here
    // before it sends the next: a crash then re-sends at most the request in flight, not the whole batch.
    const early = new Set<number>();
    let settledEarly = 0;
    const recordSent = async (ids: number[]) => {
      const done = items.filter((i) => ids.includes(i.id) && !early.has(i.id));
      settledEarly += await settle(run, done, { kind: 'ok' });
      for (const i of done) early.add(i.id);
    };
    // Before each further request: none once the destination's time in the run is up (the rest are deferred).
    const extend = async (ids: number[]) => {
      if (now() >= run.deadline) return false;
      await db.query(Q.extend_lease, [ids, leaseS]);
      return true;
    };
    const out = await adapter.send(dest, items, deps.http, recordSent, extend);
    if (early.size === 0) return settle(run, items, out);
    const rest = items.filter((i) => !early.has(i.id));
    if (rest.length === 0) return settledEarly;
    const left = out.kind === 'partial' ? { ...out, sent: out.sent.filter((id) => !early.has(id)) } : out;
    return settledEarly + (await settle(run, rest, left));
  }

  async function loadDestination(d: DueRow): Promise<{ run: Run | null; problem: string | null }> {
    const tenantId = Number(d.tenant_id);
    const adapter = deps.adapters[d.provider];
    type Found = CodeRow & { version: string; holds: number | null; held_version: string | null };
    const found = (await db.query<Found>(Q.code_for_destination, [tenantId, Number(d.code_id), d.destination])).rows[0];
    const code = found ? { ...found, tenant_id: tenantId } : undefined;
    if (!code || !code.enabled) return { run: null, problem: 'the tracking code was deleted or disabled' };
    const secrets = deps.secrets(tenantId, code);
    if ('error' in secrets) return { run: null, problem: String(secrets.error) };
    const dest: Destination = { tenantId, name: d.destination, provider: d.provider, codeId: Number(d.code_id), settings: code.settings ?? {}, secrets };
    // Refusals in a row count for the version of the code that was refused; an update starts again.
    const holds = code.holds !== null && code.held_version === code.version ? Number(code.holds) : 0;
    const run: Run = {
      dest, adapter, version: code.version, holds, holdRow: code.holds !== null, held: false, limited: false, split: false, failed: false,
      deadline: now() + (deps.destinationBudgetMs ?? DESTINATION_BUDGET_MS),
    };
    return { run, problem: adapter.configProblem(dest) };
  }

  /** One destination's batches in this run; `failed`: a request failed transiently (it stopped there). */
  async function destination(d: DueRow, signal?: AbortSignal): Promise<{ settled: number; failed: boolean }> {
    const adapter = deps.adapters[d.provider];
    const { run, problem } = await loadDestination(d);
    const dest = run?.dest ?? null;
    const deadline = run?.deadline ?? now() + (deps.destinationBudgetMs ?? DESTINATION_BUDGET_MS);
    let settled = 0;
    // Rows being split and the others go in batches of their own, taking turns: the first batch of the run is
    // the others' in an even slot of the provider's rate budget and the split's in an odd one, then they
    // alternate while both have due rows (a spent budget stops the run at the first refused call).
    let order: Kind[] = deps.rate.slot(d.provider, now()) % 2 === 0 ? ['rest', 'split'] : ['split', 'rest'];
    const done: Record<Kind, boolean> = { rest: false, split: false };
    for (let b = 0; b < BATCHES_PER_DESTINATION && !(done.rest && done.split);) {
      signal?.throwIfAborted();
      // Its time in this run is up: the worker moves on, the next run goes on with it.
      if (b > 0 && now() >= deadline) break;
      const kind = done[order[0]] ? order[1] : order[0];
      const claim = kind === 'split' ? Q.claim_split : Q.claim_batch;
      const rows = (await db.query(claim, [Number(d.tenant_id), d.destination, adapter.maxBatch, leaseS])).rows.map(toItem);
      if (rows.length === 0) {
        done[kind] = true;
        continue;
      }
      b++;
      // A backend purchase carries no browser cookie: the visitor's earlier events' ids (fbp, ttp, GA4's).
      const claimed = problem || !dest ? rows : await fillBrowserIds(db, Number(d.tenant_id), d.provider, rows);
      if (problem || !dest) {
        await dead(d.provider, claimed, problem ?? 'no destination', false);
        settled += claimed.length;
      } else {
        const t = now();
        const verdicts = claimed.map((i) => ({ i, why: adapter.check(dest, i, t) }));
        const refused = verdicts.filter((v) => v.why !== null);
        stats.add(d.provider, 'dead', refused.length);
        await fail(refused.map((v) => ({ id: v.i.id, dead: true, next_at: null, error: v.why!, clear: true })));
        const good = verdicts.filter((v) => v.why === null).map((v) => v.i);
        settled += refused.length + (good.length && run ? await deliver(run, good) : 0);
      }
      // Held: the rest of the destination's rows wait for the hold to end (one request per try). Out of calls:
      // they wait for the next slot, unclaimed. A transient failure (timeout, 429, 5xx): they wait for its backoff.
      if (run?.held || run?.limited || run?.failed) break;
      if (kind === 'rest' && claimed.length < adapter.maxBatch) done.rest = true;
      if (run?.split) {
        done.split = false;
        run.split = false;
      }
      order = kind === 'rest' ? ['split', 'rest'] : ['rest', 'split'];
    }
    return { settled, failed: run?.failed ?? false };
  }

  return {
    async runOnce(signal) {
      const started = now();
      for (const [k, r] of resting) if (r.until < started - 3_600_000) resting.delete(k);
      // The resting destinations are read too and left out, so they do not take the places of the others.
      const due = (await db.query<DueRow>(Q.due_destinations, [DESTINATIONS_PER_RUN + resting.size])).rows
        .filter((d) => (resting.get(restKey(d.tenant_id, d.destination))?.until ?? 0) <= started)
        .slice(0, DESTINATIONS_PER_RUN);
      const budget = deps.runBudgetMs ?? RUN_BUDGET_MS;
      let settled = 0;
      const n = Math.max(1, Math.min(deps.concurrency ?? CONCURRENT_DESTINATIONS, due.length));
      // A few workers take the due destinations, oldest first, except that one provider takes at most all workers
      // but one while another provider's destination waits, and a destination that failed transiently before (its
      // rest over, no success since) or of a provider whose request failed so in this run is taken after the
      // others: a slow or hanging provider (each request up to the 10 s timeout) holds its own destinations only.
      const share = Math.max(1, n - 1);
      const busy = new Map<Provider, number>();
      const failing = new Set<Provider>();
      const pick = (): DueRow | undefined => {
        let best = -1;
        let score = Infinity;
        for (let i = 0; i < due.length && score > 0; i++) {
          const p = due[i].provider;
          const suspect = failing.has(p) || resting.has(restKey(due[i].tenant_id, due[i].destination));
          const s = (suspect ? 2 : 0) + ((busy.get(p) ?? 0) >= share ? 1 : 0);
          if (s < score) [best, score] = [i, s];
        }
        return best < 0 ? undefined : due.splice(best, 1)[0];
      };
      const worker = async () => {
        while (due.length && now() - started < budget) {
          signal?.throwIfAborted();
          const d = pick()!;
          busy.set(d.provider, (busy.get(d.provider) ?? 0) + 1);
          try {
            const r = await destination(d, signal); // (not `settled += await …`: that reads `settled` before the wait)
            settled += r.settled;
            if (r.failed) failing.add(d.provider);
          } catch (err) {
            if (signal?.aborted) throw err;
            // One destination's failure (store hiccup) must not starve the others; its rows' leases expire.
            log.error({ err: (err as Error).message, destination: d.destination, tenant_id: d.tenant_id }, 'conversions: dispatching a destination failed');
          } finally {
            busy.set(d.provider, (busy.get(d.provider) ?? 1) - 1);
          }
        }
      };
      const runs = await Promise.allSettled(Array.from({ length: n }, worker));
      const failed = runs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      await deps.rate.prune(db, now());
      await stats.refreshPending(db);
      return settled;
    },
  };
}
