// The `conversions-dispatch` job: sends due outbox rows, a few destinations at once (CONCURRENT_DESTINATIONS;
// one hanging provider holds one worker, not the others), in batches within each provider's limit. Per batch:
// claim (rows become `sending` under a lease, their attempt counted), drop the rows the provider would refuse
// (dead, with the reason), spend one call of the destination's rate window, send, then mark in one statement:
// sent, back to pending after a backoff, or dead. A batch refused as a whole for its content is split in two
// and each half sent again until the bad row is alone (bisection).
// Delivery is at least once: a crash between the provider's answer and the mark leaves the rows `sending`;
// when the lease ends they are sent again with the same event_id, which the providers deduplicate (Meta and
// TikTok within 48 h, Google by transactionId); an acknowledged row is never claimed again. GA4 deduplicates
// nothing and takes one request per client: each acknowledged request's rows are marked sent before the next
// request goes out (Adapter.send's `sent` callback), so a crash re-sends at most the one request whose answer
// had not been marked yet (README "Server-side conversions": what can be sent twice).
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import type { Adapter, CodeSecrets, Destination, HttpPost, OutboxItem, Provider, SendOutcome } from './adapter.js';
import { nextRetry } from './backoff.js';
import { fillBrowserIds } from './browser-ids.js';
import type { RateLimiter } from './ratelimit.js';
import type { ConversionStats } from './stats.js';

const Q = queries('conversions.sql', ['due_destinations', 'code_for_destination', 'claim_batch', 'mark_sent', 'mark_failed', 'extend_lease']);

/** Destinations looked at per run, and batches per destination per run (the next run continues). */
export const DESTINATIONS_PER_RUN = 200;
export const BATCHES_PER_DESTINATION = 20;
/**
 * Destinations dispatched at once: a provider that hangs (each request may take the 10 s timeout) holds only
 * its own worker, the other destinations go on. And the run's budget: no destination is started after it (the
 * job's timeout is 300 s); the next run, 5 s later, takes up the rest.
 */
export const CONCURRENT_DESTINATIONS = 4;
export const RUN_BUDGET_MS = 200_000;
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
}

type Claimed = OutboxItem & { firstAt: number };
/**
 * `clear`: a dead row's digests (user_data) are dropped at once: the provider refused the row itself (too old,
 * nothing to match, a bad field), so a retry cannot help. Rows dead for their destination's sake or out of
 * retry time keep them, for a retry after the fix (conversions.prune clears them KEEP_DEAD_DIGESTS_DAYS on).
 */
type Failure = { id: number; dead: boolean; next_at: string | null; error: string; clear?: boolean };

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
});

export function createDispatcher(deps: DispatchDeps): Dispatcher {
  const { db, log, stats } = deps;
  const now = deps.now ?? Date.now;
  const rand = deps.rand ?? Math.random;
  const leaseS = deps.leaseS ?? LEASE_S;

  const fail = async (rows: Failure[]) => {
    if (rows.length) await db.query(Q.mark_failed, [JSON.stringify(rows)]);
  };
  const dead = (provider: Provider, items: OutboxItem[], error: string, clear: boolean): Promise<void> => {
    stats.add(provider, 'dead', items.length);
    return fail(items.map((i) => ({ id: i.id, dead: true, next_at: null, error, clear })));
  };

  /** Marks one answer; `invalid` of several rows bisects. Returns the rows settled. */
  async function settle(dest: Destination, items: Claimed[], out: SendOutcome, adapter: Adapter): Promise<number> {
    if (out.kind === 'partial') {
      const sent = new Set(out.sent);
      const done = items.filter((i) => sent.has(i.id));
      await settle(dest, done, { kind: 'ok' }, adapter);
      return done.length + (await settle(dest, items.filter((i) => !sent.has(i.id)), out.rest, adapter));
    }
    stats.request(dest.provider, out.kind);
    if (out.kind === 'ok') {
      await db.query(Q.mark_sent, [items.map((i) => i.id)]);
      stats.add(dest.provider, 'sent', items.length);
      return items.length;
    }
    if (out.kind === 'fatal' || (out.kind === 'invalid' && items.length === 1)) {
      // A row refused alone is the row's fault; a fatal answer is the destination's (kept for a retry).
      await dead(dest.provider, items, out.error, out.kind === 'invalid');
      return items.length;
    }
    if (out.kind === 'invalid') {
      const half = Math.ceil(items.length / 2);
      return (await deliver(dest, items.slice(0, half), adapter)) + (await deliver(dest, items.slice(half), adapter));
    }
    const t = now();
    const rows = items.map((i): Failure => {
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

  /** One request (after a call of the rate window); the rows wait for the next window when none is left. */
  async function deliver(dest: Destination, items: Claimed[], adapter: Adapter): Promise<number> {
    const call = await deps.rate.take(db, dest.tenantId, dest.name, dest.provider, now());
    if (!call.ok) {
      stats.add(dest.provider, 'rate_limited', items.length);
      const at = new Date(call.until).toISOString();
      await fail(items.map((i) => ({ id: i.id, dead: false, next_at: at, error: `rate limit: ${call.limit.calls} calls per ${call.limit.periodMs / 1000} s for this destination` })));
      return 0;
    }
    await db.query(Q.extend_lease, [items.map((i) => i.id), leaseS]);
    // An adapter that sends several requests (GA4, one per client) has each acknowledged one marked sent here
    // before it sends the next: a crash then re-sends at most the request in flight, not the whole batch.
    const early = new Set<number>();
    let settledEarly = 0;
    const recordSent = async (ids: number[]) => {
      const done = items.filter((i) => ids.includes(i.id) && !early.has(i.id));
      settledEarly += await settle(dest, done, { kind: 'ok' }, adapter);
      for (const i of done) early.add(i.id);
    };
    const extend = async (ids: number[]) => void (await db.query(Q.extend_lease, [ids, leaseS]));
    const out = await adapter.send(dest, items, deps.http, recordSent, extend);
    if (early.size === 0) return settle(dest, items, out, adapter);
    const rest = items.filter((i) => !early.has(i.id));
    if (rest.length === 0) return settledEarly;
    const left = out.kind === 'partial' ? { ...out, sent: out.sent.filter((id) => !early.has(id)) } : out;
    return settledEarly + (await settle(dest, rest, left, adapter));
  }

  async function loadDestination(d: DueRow): Promise<{ dest: Destination | null; problem: string | null }> {
    const tenantId = Number(d.tenant_id);
    const found = (await db.query<CodeRow>(Q.code_for_destination, [tenantId, Number(d.code_id)])).rows[0];
    const code = found ? { ...found, tenant_id: tenantId } : undefined;
    if (!code || !code.enabled) return { dest: null, problem: 'the tracking code was deleted or disabled' };
    const secrets = deps.secrets(tenantId, code);
    if ('error' in secrets) return { dest: null, problem: String(secrets.error) };
    const dest: Destination = { tenantId, name: d.destination, provider: d.provider, codeId: Number(d.code_id), settings: code.settings ?? {}, secrets };
    return { dest, problem: deps.adapters[d.provider].configProblem(dest) };
  }

  async function destination(d: DueRow, signal?: AbortSignal): Promise<number> {
    const adapter = deps.adapters[d.provider];
    const { dest, problem } = await loadDestination(d);
    let settled = 0;
    for (let b = 0; b < BATCHES_PER_DESTINATION; b++) {
      signal?.throwIfAborted();
      const rows = (await db.query(Q.claim_batch, [Number(d.tenant_id), d.destination, adapter.maxBatch, leaseS])).rows.map(toItem);
      if (rows.length === 0) break;
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
        settled += refused.length + (good.length ? await deliver(dest, good, adapter) : 0);
      }
      if (claimed.length < adapter.maxBatch) break;
    }
    return settled;
  }

  return {
    async runOnce(signal) {
      const due = (await db.query<DueRow>(Q.due_destinations, [DESTINATIONS_PER_RUN])).rows;
      const started = now();
      const budget = deps.runBudgetMs ?? RUN_BUDGET_MS;
      let settled = 0;
      let next = 0;
      // A few workers take the due destinations in order: a slow or hanging provider holds one of them only.
      const worker = async () => {
        while (next < due.length && now() - started < budget) {
          signal?.throwIfAborted();
          const d = due[next++];
          try {
            const n = await destination(d, signal); // (not `settled += await …`: that reads `settled` before the wait)
            settled += n;
          } catch (err) {
            if (signal?.aborted) throw err;
            // One destination's failure (store hiccup) must not starve the others; its rows' leases expire.
            log.error({ err: (err as Error).message, destination: d.destination, tenant_id: d.tenant_id }, 'conversions: dispatching a destination failed');
          }
        }
      };
      const n = Math.max(1, Math.min(deps.concurrency ?? CONCURRENT_DESTINATIONS, due.length));
      const runs = await Promise.allSettled(Array.from({ length: n }, worker));
      const failed = runs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      await deps.rate.prune(db, now());
      await stats.refreshPending(db);
      return settled;
    },
  };
}
