// The feature jobs on a fresh database of the machine's PostgreSQL in plain mode (no TimescaleDB), migrated and
// dropped after the block, the jobs run with an injected clock. Call featuresOnPostgres inside the describe
// block: it registers that block's beforeAll/afterAll; `db` is set once beforeAll has run.
import { afterAll, beforeAll } from 'vitest';
import { createAggregates } from '../server/features/aggregates.js';
import { createFeatureJobs } from '../server/features/jobs.js';
import type { JobContext } from '../server/jobs/index.js';
import { openPostgres, type Db } from '../server/store/db.js';
import { migrate } from '../server/store/migrate.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';
import { silent } from './helpers.js';

export interface FeaturesOnPostgres {
  db: Db;
  /** The feature jobs, future-dated rows accepted up to `futureHours` ahead. */
  jobsOf(futureHours?: number): ReturnType<typeof createFeatureJobs>;
  /** A run of job `job` whose clock says `now`. */
  ctxAt(now: number, job: string): JobContext;
}

/** `prefix` names the scratch database (txl_{prefix}_…). */
export function featuresOnPostgres(prefix: string): FeaturesOnPostgres {
  let scratch: ScratchDatabase | undefined;
  const pg = {
    jobsOf: (futureHours = 24) => createFeatureJobs({ db: pg.db, log: silent, aggregates: createAggregates({ db: pg.db, log: silent, futureHours }), backfillDays: 7 }),
    ctxAt: (now: number, job: string) => ({ job, now: () => now, signal: new AbortController().signal, log: silent }) as unknown as JobContext,
  } as FeaturesOnPostgres;
  beforeAll(async () => {
    scratch = await scratchDatabase(prefix);
    pg.db = await openPostgres(scratch.url, 4, silent, { plain: true });
    await migrate(pg.db, silent);
  }, 90_000);
  afterAll(async () => {
    await pg.db?.close();
    await scratch?.drop();
  });
  return pg;
}
