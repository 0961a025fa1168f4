// Raw-event retention (RETENTION_MONTHS): a TimescaleDB retention policy on tx_events, plus a job
// (`gdpr.retention`, every RETENTION_INTERVAL_S, on the job runner: once per window across the nodes) that drops
// what is past retention itself, because the policy's background job does not run in the embedded store.
// Sessions and rejected events past retention go in the same job. On plain PostgreSQL (db.plain, README
// "Plain PostgreSQL mode") there is no policy: the job drops whole monthly partitions (store/partitions.ts).
import type { Logger } from 'pino';
import type { Job } from '../jobs/runner.js';
import type { Db } from '../store/db.js';
import { createPartitions, retentionCutoff } from '../store/partitions.js';
import { queries } from '../store/queries.js';

const Q = queries('retention.sql', [
  'load_timescaledb', 'retention_lock', 'retention_job', 'remove_retention_policy', 'add_retention_policy',
  'drop_old_chunks', 'delete_old_sessions', 'delete_old_rejected',
]);

export interface Retention {
  /**
   * Makes sure the TimescaleDB retention policy on tx_events matches `months`. On plain PostgreSQL there is no
   * policy (job_id null): the gdpr.retention job drops the expired partitions.
   */
  applyPolicy(): Promise<{ job_id: number | null; drop_after: string; changed: boolean }>;
  /**
   * Drops what is past retention now (the policy's job may not run in the embedded store). On plain PostgreSQL
   * dropped_chunks are the monthly partitions dropped, and default_rows the expired rows deleted from the DEFAULT one.
   */
  run(): Promise<{ dropped_chunks: string[]; default_rows?: number; sessions: number; rejected_events: number; cutoff: string }>;
  /** Applies the policy in the background. */
  start(): void;
  /** The periodic run, for the job runner. */
  job(): Job;
  close(): Promise<void>;
}

export interface RetentionDeps {
  db: Db;
  log: Logger;
  months: number;
  intervalS: number;
}

export function createRetention(deps: RetentionDeps): Retention {
  const { db, log, months } = deps;
  let starting: Promise<void> = Promise.resolve();

  const applyPolicy: Retention['applyPolicy'] = async () => {
    if (db.plain) return { job_id: null, drop_after: `${months} months`, changed: false };
    // PGlite quirk: after reopening a persisted data directory, TimescaleDB's licensed (TSL) module is not
    // loaded until the library is loaded explicitly, and every policy function fails with a license error.
    if (db.kind === 'embedded') await db.exec(Q.load_timescaledb);
    return db.tx(async (q) => {
      await q.query(Q.retention_lock);
      const { rows } = await q.query<{ job_id: number; drop_after: string; matches: boolean }>(Q.retention_job, [months]);
      if (rows.length === 1 && rows[0].matches) return { job_id: Number(rows[0].job_id), drop_after: rows[0].drop_after, changed: false };
      if (rows.length > 0) await q.query(Q.remove_retention_policy);
      const added = await q.query<{ job_id: number }>(Q.add_retention_policy, [months]);
      return { job_id: Number(added.rows[0].job_id), drop_after: `${months} months`, changed: true };
    });
  };

  const partitions = db.plain
    ? createPartitions({ db, log })
    : null;

  const run: Retention['run'] = async () => {
    const cutoff = retentionCutoff(new Date(), months);
    let dropped: string[];
    let defaultRows: number | undefined;
    if (partitions) {
      const r = await partitions.dropExpired(cutoff);
      dropped = r.dropped;
      defaultRows = r.deleted;
    } else {
      dropped = (await db.query<{ chunk: string }>(Q.drop_old_chunks, [months])).rows.map((r) => r.chunk);
    }
    const sessions = (await db.query<{ n: number }>(Q.delete_old_sessions, [months])).rows[0].n;
    const rejected = (await db.query<{ n: number }>(Q.delete_old_rejected, [months])).rows[0].n;
    if (dropped.length || sessions || rejected) log.info({ dropped_chunks: dropped.length, sessions, rejected }, 'retention applied');
    return { dropped_chunks: dropped, ...(defaultRows === undefined ? {} : { default_rows: defaultRows }), sessions, rejected_events: rejected, cutoff: cutoff.toISOString() };
  };

  return {
    applyPolicy,
    run,
    start() {
      // Plain PostgreSQL has no policy: the job alone drops expired partitions.
      if (partitions) return;
      // In the background: the policy is bookkeeping and must not delay the listening socket.
      starting = applyPolicy()
        .then((p) => {
          if (p.changed) log.info({ months, job_id: p.job_id }, 'retention policy on tx_events set');
        })
        .catch((err: Error) => log.warn({ err: err.message }, 'could not set the TimescaleDB retention policy; the retention timer still drops expired chunks'));
    },
    job: () => ({
      // The policy's background job does not run in the embedded store: drop expired chunks in a job too.
      // drop_chunks removes whole chunks (no row loop); the two DELETEs touch only rows past retention.
      name: 'gdpr.retention',
      schedule: { every: deps.intervalS },
      timeoutS: 600,
      run: async () => {
        const r = await run();
        return r.dropped_chunks.length + (r.default_rows ?? 0) + r.sessions + r.rejected_events;
      },
    }),
    async close() {
      await starting;
    },
  };
}
