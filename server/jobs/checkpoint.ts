// store.checkpoint (embedded store only). PGlite runs Postgres in single-user mode: there is no checkpointer
// process, so while the server runs no checkpoint ever happens. Measured (PGlite's 1 MB WAL segments): 800k rows
// left 438 segments in pg_wal and none was ever recycled; a crash would replay all of it at the next start. This
// job checkpoints from the job runner when enough WAL has accumulated, or some WAL and enough time. A checkpoint
// holds the one session (ingest waits) for as long as it flushes, which grows with the WAL since the last one
// but is capped by the dirty part of shared_buffers (128 MB): measured 36 ms at 17 MB of WAL, 160 ms at 130 MB,
// 330 ms at 556 MB. A bound of 256 MB (PostgreSQL's max_wal_size is 1 GB) keeps disk use and a crash's replay
// small while few, not many, stalls reach a busy server; the 15 s period keeps the bound close.
import type { Logger } from 'pino';
import { DEFAULT_CHECKPOINT_WAL_MB } from '../config/index.js';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import { iso } from '../store/rows.js';
import type { Job } from './runner.js';

const Q = queries('checkpoint.sql', ['wal_since_checkpoint', 'checkpoint']);

export interface CheckpointPolicy {
  /** Checkpoint once this much WAL was written since the last one. */
  maxWalBytes: number;
  /** Or once the last one is this old and any WAL was written since (PostgreSQL's checkpoint_timeout). */
  maxAgeMs: number;
}

/** PostgreSQL's own defaults are 1 GB / 5 min (see above for the bound). */
export const DEFAULT_CHECKPOINT_POLICY: CheckpointPolicy = { maxWalBytes: DEFAULT_CHECKPOINT_WAL_MB * 1024 * 1024, maxAgeMs: 5 * 60_000 };

/** Some WAL is written even while idle (the job runner's own rows): up to one page of it is not activity. */
const IDLE_WAL_BYTES = 8192;

/** Whether to checkpoint now. Pure. */
export function checkpointDue(walBytes: number, lastAt: number, now: number, policy: CheckpointPolicy = DEFAULT_CHECKPOINT_POLICY): boolean {
  if (walBytes >= policy.maxWalBytes) return true;
  return walBytes > IDLE_WAL_BYTES && now - lastAt >= policy.maxAgeMs;
}

export function checkpointJob(deps: { db: Db; log: Logger; policy?: CheckpointPolicy }): Job {
  const policy = deps.policy ?? DEFAULT_CHECKPOINT_POLICY;
  return {
    name: 'store.checkpoint',
    schedule: { every: 15 },
    timeoutS: 300,
    async run(ctx) {
      const { rows } = await deps.db.query<{ wal_bytes: string; checkpoint_time: Date | string }>(Q.wal_since_checkpoint);
      const walBytes = Number(rows[0]?.wal_bytes ?? 0);
      const lastAt = Date.parse(iso(rows[0]?.checkpoint_time ?? new Date(0)));
      if (!checkpointDue(walBytes, lastAt, ctx.now(), policy)) return 0;
      const started = performance.now();
      await deps.db.query(Q.checkpoint);
      deps.log.info({ wal_mb: Math.round(walBytes / 1048576), ms: Math.round(performance.now() - started) }, 'checkpoint');
      return 1;
    },
  };
}
