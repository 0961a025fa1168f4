// store.vacuum (embedded store only). PGlite runs Postgres in single-user mode, without autovacuum, and nothing
// else ever vacuums. Its main cost is disk that only grows: a deleted or updated row's space is reusable only
// once VACUUM has recorded it in the free space map, so every recompute that deletes and reinserts a window (the
// feature store's tables), every prune (the idempotency ledger, job runs, the audit log) and every upsert adds
// to the file instead (bench/vacuum.ts: 30 delete-and-reinsert rounds of 20k rows left a 25.3 MB table, 1.7 MB
// with a VACUUM after each).
// This job does autovacuum's part: each run vacuums the server's tables (those it has not vacuumed longest
// first), and any table, system catalogs included, whose xid age passed FREEZE_AGE with FREEZE, as autovacuum
// would before transaction id wraparound. That keeps this database's rows readable, but it cannot move the
// cluster's wraparound limit: PGlite's initdb leaves the `postgres` and `template0` databases with no frozen xid
// (datfrozenxid 0), which pins the limit at ≈2^31 transaction ids from the data directory's creation
// (pg_control_checkpoint().oldest_xid is 0 after any VACUUM). The job warns as that nears (XID_WARN).
// A VACUUM holds the one session while it runs, so one table per statement (ingest's commits run in between)
// and a budget per run; a table whose pages are all visible and unchanged since is skipped page by page by the
// visibility map, so a run over unchanged tables costs milliseconds each.
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import { eachTable } from './maintenance.js';
import type { Job } from './runner.js';

const Q = queries('vacuum.sql', ['vacuum_candidates', 'vacuum_next_xid']);

export interface VacuumCandidate {
  rel: string;
  /** Not a system catalog. */
  app: boolean;
  /** age(relfrozenxid). */
  xidAge: number;
  /** Epoch ms of its last vacuum; null when never (or not since the statistics were reset). */
  lastVacuumMs: number | null;
}

/** Half of autovacuum_freeze_max_age: freezing starts with room to spare even if some runs are missed. */
export const FREEZE_AGE = 100_000_000;
/** One run stops starting new VACUUMs after this long (wraparound ones excepted); the rest are first next run. */
const RUN_BUDGET_MS = 2_000;

/** PostgreSQL stops accepting writes 3M ids short of 2^31 past the cluster's oldest xid (0 here): warn from here. */
export const XID_WARN = 1_500_000_000;
const XID_LIMIT = 2 ** 31 - 3_000_000;

/** Transaction ids used so far, from pg_control_checkpoint()'s next_xid ("epoch:xid"); null when unreadable. Pure. */
export function xidsUsed(nextXid: string | null | undefined): number | null {
  const m = /^(\d+):(\d+)$/.exec(nextXid ?? '');
  return m ? Number(m[1]) * 2 ** 32 + Number(m[2]) : null;
}

export interface VacuumStep {
  rel: string;
  freeze: boolean;
}

/**
 * What one run vacuums, in order: tables whose xid age passed `freezeAge` first (oldest first, with FREEZE),
 * then the server's tables, never vacuumed first, then the longest ago. System catalogs only for their age. Pure.
 */
export function vacuumPlan(candidates: VacuumCandidate[], freezeAge = FREEZE_AGE): VacuumStep[] {
  const urgent = candidates.filter((c) => c.xidAge >= freezeAge).sort((a, b) => b.xidAge - a.xidAge);
  const routine = candidates
    .filter((c) => c.app && c.xidAge < freezeAge)
    .sort((a, b) => (a.lastVacuumMs ?? -Infinity) - (b.lastVacuumMs ?? -Infinity) || a.rel.localeCompare(b.rel));
  return [...urgent.map((c) => ({ rel: c.rel, freeze: true })), ...routine.map((c) => ({ rel: c.rel, freeze: false }))];
}

/** `rel` is regclass text (already quoted where it needs to be). */
export const vacuumStatement = (s: VacuumStep): string => (s.freeze ? `VACUUM (FREEZE) ${s.rel}` : `VACUUM ${s.rel}`);

export function vacuumJob(deps: { db: Db; log: Logger }): Job {
  return {
    name: 'store.vacuum',
    schedule: { every: 300 },
    timeoutS: 600,
    async run(ctx) {
      const { rows } = await deps.db.query<{ rel: string; app: boolean; xid_age: string; last_vacuum_ms: number | null }>(Q.vacuum_candidates);
      const plan = vacuumPlan(rows.map((r) => ({ rel: r.rel, app: r.app, xidAge: Number(r.xid_age), lastVacuumMs: r.last_vacuum_ms })));
      const started = ctx.now();
      let frozen = 0;
      // Not in a transaction: VACUUM cannot run in one.
      const done = await eachTable(ctx, plan, RUN_BUDGET_MS, async (step) => {
        await deps.db.query(vacuumStatement(step));
        if (step.freeze) frozen++;
      }, (step) => step.freeze);
      deps.log.debug({ vacuumed: done, frozen, planned: plan.length, ms: Math.round(ctx.now() - started) }, 'vacuum');
      if (frozen > 0) deps.log.info({ frozen }, 'vacuum froze tables near transaction id wraparound');
      const used = xidsUsed((await deps.db.query<{ next_xid: string }>(Q.vacuum_next_xid)).rows[0]?.next_xid);
      if (used !== null && used >= XID_WARN) {
        deps.log.warn({ xids_used: used, xids_left: XID_LIMIT - used }, 'the embedded store nears its transaction id limit (≈2.1 billion over its life; it then refuses writes): move to a PostgreSQL server (DATABASE_URL)');
      }
      return done;
    },
  };
}
