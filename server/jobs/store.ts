// job_runs in the store (sql/006_jobs.sql, sql/queries/jobs.sql): claim, take over, heartbeat, finish, list.
// Works the same on the embedded store and on pg: plain SQL, times from the database clock.
import type { Db, Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import { iso, isoOrNull, num } from '../store/rows.js';

const Q = queries('jobs.sql', [
  'claim_window', 'lock_job_claims', 'claim_manual', 'take_over', 'heartbeat', 'finish', 'get_run', 'last_runs', 'last_windows', 'runs_page',
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

export interface JobStore {
  /** The window's row when this node claimed it; null when another node already has it. */
  claimWindow(job: string, windowStart: number, node: string, leaseS: number): Promise<RunRecord | null>;
  /** A manual run's row; null while an attempt of the job runs with a live lease (on any node). */
  claimManual(job: string, node: string, leaseS: number): Promise<RunRecord | null>;
  /** One run of `jobs` whose lease expired or whose retry is due, now held by `node`; null when there is none. */
  takeOver(jobs: string[], node: string, leaseS: number): Promise<RunRecord | null>;
  /** False when the lease was lost. */
  heartbeat(run: RunRecord, leaseS: number): Promise<boolean>;
  /** The finished record; null when the lease was lost meanwhile (another node's attempt counts). */
  finish(run: RunRecord, out: { status: 'succeeded' | 'failed'; error: string | null; rows: number | null; retryAt: number | null }): Promise<RunRecord | null>;
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
      return one((await q.query<Row>(Q.claim_window, [job, new Date(windowStart).toISOString(), node, leaseS])).rows);
    },
    async claimManual(job, node, leaseS) {
      return q.tx(async (t) => {
        await t.query(Q.lock_job_claims, [job]);
        return one((await t.query<Row>(Q.claim_manual, [job, node, leaseS])).rows);
      });
    },
    async takeOver(jobs, node, leaseS) {
      return one((await q.query<Row>(Q.take_over, [jobs, node, leaseS])).rows);
    },
    async heartbeat(run, leaseS) {
      return (await q.query(Q.heartbeat, [run.id, run.node, run.attempt, leaseS])).rows.length === 1;
    },
    async finish(run, out) {
      const retry = out.retryAt === null ? null : new Date(out.retryAt).toISOString();
      return one((await q.query<Row>(Q.finish, [run.id, run.node, run.attempt, out.status, out.error, out.rows, retry])).rows);
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
