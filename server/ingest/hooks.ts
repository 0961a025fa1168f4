// Writer hooks: where a domain adds work to every commit of events (ingest/writer.ts). Each hook is named,
// runs in the order it is declared in (the composition root, app.ts), and has its time on /metrics
// (tx_writer_hook_seconds{hook=…}).
//
// The contract, for every enricher and projector:
//  - Same transaction: it runs inside the commit's transaction, with the commit's Queryable. A throw rolls the
//    whole commit back; the writer then retries each request of the group on its own, and a request whose
//    commit still throws is answered with the error. Never open another connection or transaction.
//  - Idempotent: a commit retried after a data error, or a spool replay after an outage, runs it again on rows
//    it may already have seen. Writes are upserts or ON CONFLICT; nothing is counted twice.
//  - Bounded cost: a fixed number of set-based queries per commit (rows ≤ maxRows), never one query per row and
//    never a network call outside the store: every request queued behind the commit waits for it.
// Enrichers run before the insert on every row of the group (duplicates included: the store decides which are
// new) and may fill server-side fields (person_id). Projectors run after it, only with the rows that were new.
// Each attempt's rows are the writer's shallow copies of the rows as received: set a row's field, or replace its
// context / entities / payload with a changed copy, never change those objects in place (a retried or spooled
// group would carry the change of an attempt that was rolled back).
// Rejected rows are not events and no hook sees them: the writer itself clears a rejected body of an erased
// person's ids before it is kept (gdpr/late-rejected.ts), as the identity enricher anonymises a valid late copy.
//
// Deferred projectors run out of the commit, in their own transaction, with committed rows read back after a
// durable cursor (ingest/projector.ts): exactly once, restart safe, a few hundred milliseconds behind the commit.
// Same contract as projectors (set-based, idempotent is not needed but harmless); rows carry what is stored at
// the time of the pass (a person stamped later by identity stitching included), narrowed to what deferred
// projectors read: entities empty, context and payload cut to the keys listed at `projector_rows` (events.sql;
// a new deferred projector adds the keys it reads there). Use them for work nothing in the commit depends on:
// the commit no longer waits for it.
//
// Committed hooks run after the commit, outside the transaction, with the rows that were new, on the writer's
// own turn: synchronous and cheap. The rows are already kept, so a hook that throws is logged and counted and
// the next hook still runs (an error there must neither fail the commit nor starve later hooks).
import type { Logger } from 'pino';
import type { Queryable } from '../store/db.js';
import type { EventRow } from '../store/events.js';

/** An enricher or a projector (see the contract above). */
export interface WriterHook {
  /** Unique among the writer's hooks; the `hook` label on /metrics. */
  name: string;
  run(q: Queryable, rows: EventRow[]): Promise<void>;
}

/** Runs after a commit with its new rows (e.g. the live layer). */
export interface CommittedHook {
  name: string;
  run(rows: EventRow[]): void;
}

export type HookStage = 'enrich' | 'project' | 'deferred' | 'committed';

/** Cumulative per-hook figures since start (exposed on /metrics). */
export interface HookStats {
  name: string;
  stage: HookStage;
  /** Runs, including those that threw. */
  count: number;
  seconds: number;
  errors: number;
}

export class DuplicateHookError extends Error {
  constructor(readonly hook: string) {
    super(`writer hook "${hook}" is declared twice: hook names label /metrics and must be unique`);
    this.name = 'DuplicateHookError';
  }
}

export interface WriterHooks {
  enrichers?: WriterHook[];
  projectors?: WriterHook[];
  /** Out of the commit, from a durable cursor (one cursor per hook, named after it). */
  deferred?: WriterHook[];
  committed?: CommittedHook[];
}

export interface HookRunner {
  /** Runs the enrichers in order (inside the commit's transaction, before the insert). */
  enrich(q: Queryable, rows: EventRow[]): Promise<void>;
  /** Runs the projectors in order with the new rows; none runs when there are none. */
  project(q: Queryable, added: EventRow[]): Promise<void>;
  /** Runs the committed hooks in order; a throw is logged and counted, never passed on. */
  committed(rows: EventRow[]): void;
  readonly hasProjectors: boolean;
  /** The deferred hooks, each timed under its name (ingest/projector.ts runs them). */
  deferred(): WriterHook[];
  stats(): HookStats[];
}

/** `now` in milliseconds (performance.now by default), injected so tests can measure with a fake clock. */
export function createHookRunner(hooks: WriterHooks, deps: { log: Logger; now?: () => number }): HookRunner {
  const now = deps.now ?? (() => performance.now());
  const enrichers = hooks.enrichers ?? [];
  const projectors = hooks.projectors ?? [];
  const committed = hooks.committed ?? [];
  const stats = new Map<string, HookStats>();
  const declare = (name: string, stage: HookStage) => {
    if (stats.has(name)) throw new DuplicateHookError(name);
    stats.set(name, { name, stage, count: 0, seconds: 0, errors: 0 });
  };
  for (const h of enrichers) declare(h.name, 'enrich');
  for (const h of projectors) declare(h.name, 'project');
  for (const h of hooks.deferred ?? []) declare(h.name, 'deferred');
  for (const h of committed) declare(h.name, 'committed');

  const timed = async (h: WriterHook, q: Queryable, rows: EventRow[]) => {
    const s = stats.get(h.name)!;
    const started = now();
    try {
      await h.run(q, rows);
    } catch (err) {
      s.errors++;
      throw err;
    } finally {
      s.count++;
      s.seconds += (now() - started) / 1000;
    }
  };

  return {
    async enrich(q, rows) {
      for (const h of enrichers) await timed(h, q, rows);
    },
    async project(q, added) {
      if (added.length === 0) return;
      for (const h of projectors) await timed(h, q, added);
    },
    committed(rows) {
      for (const h of committed) {
        const s = stats.get(h.name)!;
        const started = now();
        try {
          h.run(rows);
        } catch (err) {
          s.errors++;
          deps.log.error({ hook: h.name, err: (err as Error).message, rows: rows.length }, 'committed hook failed; its rows are kept');
        } finally {
          s.count++;
          s.seconds += (now() - started) / 1000;
        }
      }
    },
    hasProjectors: projectors.length > 0,
    deferred: () => (hooks.deferred ?? []).map((h) => ({ name: h.name, run: (q: Queryable, rows: EventRow[]) => timed(h, q, rows) })),
    stats: () => [...stats.values()].map((s) => ({ ...s })),
  };
}
