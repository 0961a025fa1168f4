// job_runs in the store (sql/006_jobs.sql, sql/queries/jobs.sql): claim, take over, heartbeat, finish, list.
// Works the same on the embedded store and on pg: plain SQL, times from the database clock.
import type { Db, Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import { iso, isoOrNull, num } from '../store/rows.js';

const Q = queries('jobs.sql', [
  'claim_window', 'window_claimed', 'lock_job_claims', 'claim_manual', 'take_over_candidate', 'take_over', 'heartbeat', 'finish', 'release',
  'get_run', 'last_runs', 'last_windows', 'runs_page',
  'prune_runs_chunk', 'prune_event_ids_chunk',
]);

export type RunStatus = 'running' | 'succeeded' | 'failed';

/** One run of a job as the admin API shows it. */
export interface RunRecord {
  id: number;
  job: string;
  window_start: string;
  manual: boolean;
  node: string;
  status: RunStatus;
  attempt: number;
  started_at: string;
  finished_at: string | null;
  error: string | null;
  /** Earlier failed attempts of this window: attempt, node, error, at. */
  failures: { attempt: number; node: string; error: string; at: string }[];
  rows: number | null;
  duration_ms: number | null;
  retry_at: string | null;
}

type Row = Record<string, unknown>;

export function toRun(r: Row): RunRecord {
  const failures = (typeof r.failures === 'string' ? JSON.parse(r.failures) : r.failures) as RunRecord['failures'];
  return {
    id: Number(r.id),
    job: String(r.job),
    window_start: iso(r.window_start),
    manual: Boolean(r.manual),
    node: String(r.node),
    status: r.status as RunStatus,
    attempt: Number(r.attempt),
    started_at: iso(r.started_at),
    finished_at: isoOrNull(r.finished_at),
    error: (r.error as string | null) ?? null,
    failures: failures ?? [],
    rows: num(r.rows),
    duration_ms: num(r.duration_ms),
    retry_at: isoOrNull(r.retry_at),
  };
}

const one = (rows: Row[]): RunRecord | null => (rows.length ? toRun(rows[0]) : null);

/**
 * An attempt holds its job while its lease is live: a running attempt, or a failed one whose body outlived its
 * timeout and still runs (overrunning: its node heartbeats it until release). No claim starts a held job.
 */
export interface JobStore {
  /**
   * The window's row when this node claimed it; null when a node already has it; 'busy' while another attempt
   * of the job holds it (the window is not claimed: try again while it is claimable).
   */
  claimWindow(job: string, windowStart: number, node: string, leaseS: number): Promise<RunRecord | null | 'busy'>;
  /** A manual run's row; null while another attempt of the job holds it (on any node). */
  claimManual(job: string, node: string, leaseS: number): Promise<RunRecord | null>;
  /**
   * One run of `jobs` whose lease expired or whose retry is due (its body returned), of a job no other attempt
   * holds, now held by `node`; null when there is none.
   */
  takeOver(jobs: string[], node: string, leaseS: number): Promise<RunRecord | null>;
  /** False when the lease was lost. Also extends an overrunning attempt's lease. */
  heartbeat(run: RunRecord, leaseS: number): Promise<boolean>;
  /**
   * The finished record; null when the lease was lost meanwhile (another node's attempt counts). `overrunning`:
   * a timed-out attempt whose body still runs, recorded failed but holding the job until release.
   */
  finish(run: RunRecord, out: { status: 'succeeded' | 'failed'; error: string | null; rows: number | null; retryAt: number | null; overrunning?: boolean }): Promise<RunRecord | null>;
  /** An overrunning attempt's body returned: the job is free; `dropRetry` when its window has ended meanwhile. */
  release(run: RunRecord, dropRetry: boolean): Promise<boolean>;
  get(id: number): Promise<RunRecord | null>;
  lastRuns(jobs: string[]): Promise<Map<string, RunRecord>>;
  lastWindows(jobs: string[]): Promise<Map<string, number>>;
  /** Newest first, ids below `beforeId`. */
  page(job: string, limit: number, beforeId: number | null): Promise<RunRecord[]>;
  pruneRuns(before: Date, limit: number): Promise<number>;
  pruneEventIds(before: Date, limit: number): Promise<number>;
}

export function createJobStore(q: Queryable & Pick<Db, 'tx'>): JobStore {
  return {
    async claimWindow(job, windowStart, node, leaseS) {
      const at = new Date(windowStart).toISOString();
      return q.tx(async (t) => {
        await t.query(Q.lock_job_claims, [job]);
        const run = one((await t.query<Row>(Q.claim_window, [job, at, node, leaseS])).rows);
        if (run) return run;
        return (await t.query<{ claimed: boolean }>(Q.window_claimed, [job, at])).rows[0].claimed ? null : 'busy';
      });
    },
    async claimManual(job, node, leaseS) {
      return q.tx(async (t) => {
        await t.query(Q.lock_job_claims, [job]);
        return one((await t.query<Row>(Q.claim_manual, [job, node, leaseS])).rows);
      });
    },
    async takeOver(jobs, node, leaseS) {
      return q.tx(async (t) => {
        const [c] = (await t.query<{ id: unknown; job: string }>(Q.take_over_candidate, [jobs])).rows;
        if (!c) return null;
        await t.query(Q.lock_job_claims, [c.job]);
        return one((await t.query<Row>(Q.take_over, [c.id, node, leaseS])).rows);
      });
    },
    async heartbeat(run, leaseS) {
      return (await q.query(Q.heartbeat, [run.id, run.node, run.attempt, leaseS])).rows.length === 1;
    },
    async finish(run, out) {
      const retry = out.retryAt === null ? null : new Date(out.retryAt).toISOString();
      return one((await q.query<Row>(Q.finish, [run.id, run.node, run.attempt, out.status, out.error, out.rows, retry, out.overrunning ?? false])).rows);
    },
    async release(run, dropRetry) {
      return (await q.query(Q.release, [run.id, run.node, run.attempt, dropRetry])).rows.length === 1;
    },
    async get(id) {
      return one((await q.query<Row>(Q.get_run, [id])).rows);
    },
    async lastRuns(jobs) {
      const { rows } = await q.query<Row>(Q.last_runs, [jobs]);
      return new Map(rows.map((r) => [String(r.job), toRun(r)]));
    },
    async lastWindows(jobs) {
      const { rows } = await q.query<Row>(Q.last_windows, [jobs]);
      return new Map(rows.map((r) => [String(r.job), Date.parse(iso(r.window_start))]));
    },
    async page(job, limit, beforeId) {
      return (await q.query<Row>(Q.runs_page, [job, beforeId, limit])).rows.map(toRun);
    },
    async pruneRuns(before, limit) {
      return (await q.query<{ n: number }>(Q.prune_runs_chunk, [before.toISOString(), limit])).rows[0].n;
    },
    async pruneEventIds(before, limit) {
      return (await q.query<{ n: number }>(Q.prune_event_ids_chunk, [before.toISOString(), limit])).rows[0].n;
    },
  };
}
