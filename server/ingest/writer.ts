// Group-commit writer: requests that arrive while a commit is in flight share the next one (one multi-row
// insert in one transaction). Each caller's promise resolves only after its rows are committed, or fsynced to
// the spool when the database is unreachable. A background loop replays the spool when the database returns.
// Up to `lanes` commits are in flight at once (PostgreSQL: one connection each; the embedded store has one
// session, so one lane). Groups are answered in the order they were formed, whichever commits first, so a
// request is never acknowledged before one queued ahead of it; two lanes racing on one event_id store it once
// because the ledger's primary key decides (the second insert waits for the first and then skips it). An order
// event is stored once per order (ingest/orders.ts): one naming an order the tenant already stored, or an earlier row
// of the same commit stored, is a duplicate whatever its event_id; the order ledger's primary key decides the same way.
// Domains add work to every commit, replays included, through named hooks (contract and timings: hooks.ts).
import type { Logger } from 'pino';
import { forgetErasedInRejected } from '../gdpr/late-rejected.js';
import { isUnavailable, ShuttingDownError, StoreUnavailableError, type Db, type Queryable } from '../store/db.js';
import { eventKey, type EventRow, type EventStore, type HeldOrder, type RejectedRow } from '../store/events.js';
import type { Spool, SpoolRecord } from '../store/spool.js';
import { createHookRunner, type HookStats, type WriterHooks } from './hooks.js';
import { createAckLedger } from './ledger.js';
import { orderClaims } from './orders.js';
import { createProjectionRunner, enterWriterCommit, type ProjectionRunner, type ProjectionStats } from './projector.js';

export interface Batch {
  events: EventRow[];
  rejected: RejectedRow[];
}

export interface AppendResult {
  /** Per input event: true when it was new, false when it was a duplicate. */
  fresh: boolean[];
  /** True when the batch went to the local spool instead of the database. */
  spooled: boolean;
  /**
   * Per input event, when it was a duplicate because its order was already stored (its event_id was new): the
   * order and the event holding it. Absent when no event was; never set for a spooled batch (the database decides).
   */
  held?: (HeldOrder | undefined)[];
}

export interface EventSink {
  append(batch: Batch): Promise<AppendResult>;
  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void>;
  status(): { storeUp: boolean; spoolBytes: number; queued: number; commits: CommitStats; hooks: HookStats[]; projections: ProjectionStats[] };
  /** Resolves once the deferred projectors have caught up with every row committed before the call (bounded wait). */
  projected(): Promise<void>;
  /** One pass of every deferred projector now (the ingest.project job); resolves with the rows projected. */
  project(): Promise<number>;
  /** Stops the recovery loop and waits for pending writes. */
  close(): Promise<void>;
}

/** Cumulative commit statistics (exposed on /metrics). */
export interface CommitStats {
  count: number;
  rows: number;
  requests: number;
  seconds: number;
  maxSeconds: number;
}

interface Pending {
  batch: Batch;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

export interface WriterDeps {
  db: Db;
  events: EventStore;
  spool: Spool;
  log: Logger;
  /** Upper bound of rows per commit. */
  maxRows?: number;
  /** How often to probe the database while it is down. */
  retryMs?: number;
  /** How many recently kept event keys to remember for answering retries while the database is down. */
  ledgerMax?: number;
  /** Named enrichers, projectors and committed hooks, each run in declared order (contract: hooks.ts). */
  hooks?: WriterHooks;
  /** Clock for the hooks' timings, in milliseconds (performance.now by default). */
  now?: () => number;
  /** Commits in flight at once (1 by default; PostgreSQL only: WRITER_LANES). */
  lanes?: number;
}

/** Lock-order conflicts between lanes (deadlock, serialization failure): the group is simply committed again. */
const RETRYABLE_SQLSTATE = new Set(['40P01', '40001']);
const RETRIES = 5;
const retryable = (err: unknown) => RETRYABLE_SQLSTATE.has(String((err as { code?: unknown })?.code ?? ''));

/** What answers a group's callers once every group formed before it is answered. */
type Settle = () => void;

export function createGroupWriter(deps: WriterDeps): EventSink {
  const { db, events, spool, log } = deps;
  const maxRows = deps.maxRows ?? 5000;
  const retryMs = deps.retryMs ?? 1000;
  const lanes = Math.max(1, Math.floor(deps.lanes ?? 1));
  let queue: Pending[] = [];
  let inFlight = 0;
  // Groups formed but not answered yet; `order` settles them in the order they were formed.
  let unsettled = 0;
  let order: Promise<void> = Promise.resolve();
  let storeUp = true;
  let recovery: NodeJS.Timeout | null = null;
  let closed = false;
  let idleWaiters: (() => void)[] = [];
  const stats: CommitStats = { count: 0, rows: 0, requests: 0, seconds: 0, maxSeconds: 0 };
  const ledger = createAckLedger(deps.ledgerMax ?? 100_000);
  // The keys answered `accepted` from the spool (this run's, and those of a spool left by an earlier run): a
  // commit that finds one of them new to the database stores a replay's row early, and its sender's retry is a
  // duplicate. Not `ledger`, which also holds the keys of groups committed on other lanes: a duplicate there
  // settling first would turn the accepted answer of the lane that stored the row into a second duplicate.
  const spooled = createAckLedger(deps.ledgerMax ?? 100_000);
  const hooks = createHookRunner(deps.hooks ?? {}, { log, now: deps.now });
  const deferredHooks = hooks.deferred();
  const deferred: ProjectionRunner[] = deferredHooks.map((h) => createProjectionRunner({ db, log, name: h.name, projectors: [h], storeUp: () => storeUp }));
  // The embedded store has one session: a pass out of the commit cannot run beside it, and reading the rows back
  // costs more than folding them in the commit (bench/RESULTS.md). There the deferred hooks run at the end of the
  // commit with its new rows and move their cursors in it: exactly once all the same, and no lag.
  const inline = db.kind === 'embedded' && deferredHooks.length > 0;
  // A spool left by an earlier run holds acknowledged events: learn their keys before answering from the spool.
  const ledgerReady: Promise<void> =
    spool.pendingBytes() > 0
      ? spool
          .rewrite((r) => {
            const keys = r.events.map((e) => eventKey(e.tenant_id, e.event_id));
            ledger.add(keys);
            spooled.add(keys);
            return r;
          })
          .then(
            (n) => log.info({ keys: ledger.size(), changed: n }, 'spool left by an earlier run: keys loaded'),
            (err: Error) => log.error({ err: err.message }, 'could not read the spool left by an earlier run; its retries may be answered accepted'),
          )
      : Promise.resolve();

  /**
   * One attempt at committing `received` (a group, or a chunk of the spool). The rows come back as the hooks left
   * them (person ids, anonymised late copies): what the committed hooks are given.
   */
  const write = async (
    q: Queryable,
    received: readonly EventRow[],
    rejected: RejectedRow[],
  ): Promise<{ fresh: Set<string>; held: Map<string, HeldOrder>; rows: EventRow[] }> => {
    // Before any id is drawn: readers that follow tx_events by id (deferred projectors, the feature jobs) wait
    // for this commit before reading past its ids (projector.ts horizon).
    await enterWriterCommit(db, q);
    // From the rows as received: an erased order's late copy loses its order id to the enricher, and must still
    // find its order held.
    const orders = orderClaims(received);
    // The hooks fill and strip the attempt's own copies (hooks.ts: they replace a row's objects, never change
    // them in place). A group committed again after a deadlock or a neighbour's data error, or spooled after a
    // failed commit and replayed, is the rows as received: not the person ids of a rolled-back attempt, nor a late
    // copy that lost its order id and would be stored as a second order.
    const rows = received.map((r) => ({ ...r }));
    await hooks.enrich(q, rows);
    // Every row is offered: the statement claims each order by its first row with a new event id (a row whose
    // event id is already stored claims nothing), and answers the order's other new rows held by what holds it.
    const { fresh, held } = await events.insert(q, rows, orders);
    // Rejected bodies too: a late copy of an erased person's past is kept without their ids and data, as the
    // enricher stores a valid one (gdpr/late-rejected.ts: set-based, no statement unless a body names a visitor,
    // customer or order). Not a declared hook: every writer owes it, whatever its hooks.
    await forgetErasedInRejected(q, rejected);
    await events.insertRejected(q, rejected);
    const added = fresh.size > 0 ? rows.filter((e) => fresh.has(eventKey(e.tenant_id, e.event_id))) : [];
    if (hooks.hasProjectors && added.length > 0) await hooks.project(q, added);
    if (inline && added.length > 0) {
      // Sent back to back: the session runs them in the order sent, without a round trip through this
      // (busy) event loop between them. Each hook's first statement goes out in declared order.
      await Promise.all([...deferredHooks.map((h) => h.run(q, added)), ...deferred.map((d) => d.advanceInCommit(q))]);
    }
    return { fresh, held, rows: added };
  };

  const commitOnce = async (rows: readonly EventRow[], rejected: RejectedRow[]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await db.tx((q) => write(q, rows, rejected));
      } catch (err) {
        if (!retryable(err) || attempt >= RETRIES) throw err;
        log.warn({ err: (err as Error).message, attempt }, 'commit conflicted with another lane; committing the group again');
      }
    }
  };

  /** Commits a group (or spools it); returns how to answer its callers, called in group order. */
  const commit = async (items: Pending[]): Promise<Settle> => {
    // Dedupe across the whole group: the first occurrence of an id wins, later ones are duplicates.
    const seen = new Set<string>();
    const rows: EventRow[] = [];
    const rejected: RejectedRow[] = [];
    const firstIn = items.map((p) =>
      p.batch.events.map((e) => {
        const k = eventKey(e.tenant_id, e.event_id);
        if (seen.has(k)) return false;
        seen.add(k);
        rows.push(e);
        return true;
      }),
    );
    for (const p of items) rejected.push(...p.batch.rejected);

    if (storeUp) {
      try {
        const started = performance.now();
        const { fresh, held, rows: added } = await commitOnce(rows, rejected);
        const took = (performance.now() - started) / 1000;
        stats.count++;
        stats.rows += rows.length;
        stats.requests += items.length;
        stats.seconds += took;
        stats.maxSeconds = Math.max(stats.maxSeconds, took);
        return () => {
          // New to the database but answered from the spool means it still waits there (the replay will find
          // it stored): the sender's retry is a duplicate all the same.
          const answer = (k: string) => fresh.has(k) && !spooled.has(k);
          const answers = items.map((p, i) => p.batch.events.map((e, j) => firstIn[i][j] && answer(eventKey(e.tenant_id, e.event_id))));
          const heldOf = (p: Pending, i: number) =>
            held.size === 0 ? undefined : p.batch.events.map((e, j) => (firstIn[i][j] ? held.get(eventKey(e.tenant_id, e.event_id)) : undefined));
          // Every row of a committed group is now kept, whether it was new or a duplicate.
          ledger.add(rows.map((e) => eventKey(e.tenant_id, e.event_id)));
          items.forEach((p, i) => {
            const h = heldOf(p, i);
            p.resolve(h && h.some(Boolean) ? { spooled: false, fresh: answers[i], held: h } : { spooled: false, fresh: answers[i] });
          });
          hooks.committed(added);
          if (fresh.size > 0 && !inline) for (const d of deferred) d.kick();
        };
      } catch (err) {
        if (!isUnavailable(err)) {
          // A data error in one request must not fail its neighbours: retry each on its own.
          if (items.length > 1) {
            const each: Settle[] = [];
            for (const p of items) each.push(await commit([p]));
            return () => each.forEach((f) => f());
          }
          return () => items[0].reject(err);
        }
        markDown(err);
      }
    }
    try {
      // The database cannot say what it already holds: the ledger answers for what this process kept.
      await ledgerReady;
      const unknown = rows.filter((e) => !ledger.has(eventKey(e.tenant_id, e.event_id)));
      const isNew = new Set(unknown.map((e) => eventKey(e.tenant_id, e.event_id)));
      if (unknown.length > 0 || rejected.length > 0) await spool.append({ events: unknown, rejected });
      ledger.add(isNew);
      spooled.add(isNew);
      return () =>
        items.forEach((p, i) =>
          p.resolve({ spooled: true, fresh: p.batch.events.map((e, j) => firstIn[i][j] && isNew.has(eventKey(e.tenant_id, e.event_id))) }),
        );
    } catch (err) {
      log.error({ err: (err as Error).message }, 'spool append failed: store and spool both unavailable');
      const e = new StoreUnavailableError(`database and spool both unavailable: ${(err as Error).message}`, err);
      return () => items.forEach((p) => p.reject(e));
    }
  };

  /** The next group: queued requests up to maxRows (a single larger request goes alone). */
  const takeGroup = (): Pending[] => {
    let n = 0;
    let take = 0;
    while (take < queue.length && (take === 0 || n + queue[take].batch.events.length <= maxRows)) {
      n += queue[take].batch.events.length;
      take++;
    }
    const items = queue.slice(0, take);
    queue = queue.slice(take);
    return items;
  };

  const pump = () => {
    while (queue.length > 0 && inFlight < lanes) {
      const items = takeGroup();
      inFlight++;
      unsettled++;
      const done = commit(items).then(
        (settle) => settle,
        (err: unknown) => () => items.forEach((p) => p.reject(err)),
      );
      // A lane is free as soon as its commit ends; its callers are answered after every earlier group's.
      void done.then(() => {
        inFlight--;
        pump();
      });
      const prev = order;
      order = Promise.all([prev, done]).then(([, settle]) => {
        settle();
        unsettled--;
        if (unsettled === 0 && queue.length === 0) {
          const waiters = idleWaiters;
          idleWaiters = [];
          for (const w of waiters) w();
        }
      });
    }
  };

  const markDown = (err: unknown) => {
    if (storeUp) log.error({ err: (err as Error).message }, 'database unreachable: acknowledging into the local spool');
    storeUp = false;
    scheduleRecovery();
  };

  const scheduleRecovery = () => {
    if (recovery || closed) return;
    recovery = setTimeout(async () => {
      recovery = null;
      try {
        await db.query('SELECT 1');
        await drainSpool();
        storeUp = true;
        for (const d of deferred) d.kick();
        // Records spooled while the first drain ran are replayed now that new writes go to the database.
        await drainSpool();
        log.info('database reachable again; spool drained');
      } catch (err) {
        if (!isUnavailable(err)) log.error({ err: (err as Error).message }, 'spool replay failed');
        scheduleRecovery();
      }
    }, retryMs);
    recovery.unref();
  };

  const drainSpool = () =>
    spool.drain(async (records: SpoolRecord[]) => {
      // Replay in bounded transactions; the idempotency ledger makes a repeated replay a no-op.
      let chunk: SpoolRecord[] = [];
      let n = 0;
      const flush = async () => {
        if (chunk.length === 0) return;
        const rows = chunk.flatMap((r) => r.events);
        const rejected = chunk.flatMap((r) => r.rejected);
        const { fresh, rows: added } = await db.tx((q) => write(q, dedupe(rows), rejected));
        hooks.committed(added);
        if (fresh.size > 0 && !inline) for (const d of deferred) d.kick();
        chunk = [];
        n = 0;
      };
      for (const r of records) {
        chunk.push(r);
        n += r.events.length;
        if (n >= maxRows) await flush();
      }
      await flush();
    });

  // Rows committed before a crash (or by another node) and not yet projected: a first pass at start.
  for (const d of deferred) d.kick();
  // A spool left by an earlier run is replayed as soon as the database answers.
  if (spool.pendingBytes() > 0) {
    storeUp = false;
    scheduleRecovery();
  }

  return {
    append(batch) {
      // A request that reached the writer after shutdown began (HTTP answers 503 shutting_down, not a 500).
      if (closed) return Promise.reject(new ShuttingDownError('the server is shutting down: no more events are taken; send them again (another node, or this one once restarted)'));
      return new Promise<AppendResult>((resolve, reject) => {
        queue.push({ batch, resolve, reject });
        pump();
      });
    },
    idle() {
      if (unsettled === 0 && queue.length === 0) return Promise.resolve();
      return new Promise((r) => idleWaiters.push(r));
    },
    status: () => ({
      storeUp, spoolBytes: spool.pendingBytes(), queued: queue.length, commits: { ...stats }, hooks: hooks.stats(), projections: deferred.map((d) => d.stats()),
    }),
    projected: async () => void (await Promise.all(deferred.map((d) => d.projected()))),
    project: async () => (await Promise.all(deferred.map((d) => d.pass()))).reduce((a, b) => a + b, 0),
    async close() {
      closed = true;
      if (recovery) clearTimeout(recovery);
      recovery = null;
      while (unsettled > 0 || queue.length > 0) await new Promise<void>((r) => idleWaiters.push(r));
      await Promise.all(deferred.map((d) => d.close()));
    },
  };
}

function dedupe(rows: EventRow[]): EventRow[] {
  const seen = new Set<string>();
  return rows.filter((e) => {
    const k = eventKey(e.tenant_id, e.event_id);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
