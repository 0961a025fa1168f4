// store.partitions (plain PostgreSQL mode only, README "Plain PostgreSQL mode"): daily, creates tx_events' monthly
// partitions ahead (current month + 2) and back as far as backfill reaches, and moves rows that landed in the
// DEFAULT partition into their month (store/partitions.ts). Idempotent: a month that exists is left alone.
// Returns the partitions created plus the rows moved. Expired months are gdpr.retention's job.
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import { createPartitions, type PartitionPolicy } from '../store/partitions.js';
import type { Job } from './runner.js';

export function partitionsJob(deps: { db: Db; log: Logger; policy: PartitionPolicy }): Job {
  const partitions = createPartitions({ db: deps.db, log: deps.log });
  return {
    name: 'store.partitions',
    // Daily is plenty with two months ahead; the boot-time run (app.ts) covers a fresh database.
    schedule: { daily: '02:45', tz: 'UTC' },
    timeoutS: 600,
    async run(ctx) {
      const r = await partitions.ensure(new Date(ctx.now()), deps.policy);
      return r.created.length + r.moved;
    },
  };
}
