// The jobs domain: the runner on the store (runner.ts, store.ts, schedule.ts), its admin routes, its /metrics
// lines, the jobs that belong to no other domain (the idempotency ledger's pruning, old job_runs rows) and the
// persons' derived stats (persons-stats.ts).
// Other domains hand their jobs to `register` from the composition root (retention: gdpr/retention.ts).
import type { Logger } from 'pino';
import type { Router } from '../http/router.js';
import type { Db } from '../store/db.js';
import { createJobRunner, type Job, type JobMetrics, type JobRunner } from './runner.js';
import { registerJobRoutes } from './routes.js';
import { personStatsJob } from './persons-stats.js';
import { createJobStore, type JobStore } from './store.js';

export { createJobRunner, type Job, type JobContext, type JobRunner } from './runner.js';
export { createJobStore } from './store.js';

export interface JobsDeps {
  db: Db;
  log: Logger;
  /** Ids younger than this many days stay in tx_event_ids (BACKFILL_DAYS + 2). */
  ledgerKeepDays: number;
  pollMs?: number;
  leaseS?: number;
  /** POST …/run answers 202 after this long (RUN_WAIT_MS). */
  runWaitMs?: number;
}

export interface Jobs {
  runner: JobRunner;
  register(job: Job): void;
  registerRoutes(router: Router): void;
  start(): void;
  close(): Promise<void>;
}

/** How long finished job_runs rows are kept. */
export const JOB_RUNS_KEEP_DAYS = 30;
const DAY_MS = 86_400_000;

/** The jobs of this domain; `now` is the ctx's clock. */
export function builtinJobs(store: JobStore, ledgerKeepDays: number): Job[] {
  return [
    {
      // The idempotency ledger only needs ids young enough to be accepted again.
      name: 'ingest.ledger_prune',
      schedule: { every: 3600 },
      timeoutS: 600,
      run: (ctx) => ctx.chunk((limit) => store.pruneEventIds(new Date(ctx.now() - ledgerKeepDays * DAY_MS), limit), 5000),
    },
    {
      name: 'jobs.prune_runs',
      schedule: { daily: '03:30', tz: 'UTC' },
      timeoutS: 600,
      run: (ctx) => ctx.chunk((limit) => store.pruneRuns(new Date(ctx.now() - JOB_RUNS_KEEP_DAYS * DAY_MS), limit), 5000),
    },
  ];
}

export function createJobs(deps: JobsDeps): Jobs {
  const store = createJobStore(deps.db);
  const runner = createJobRunner({ store, log: deps.log, pollMs: deps.pollMs, leaseS: deps.leaseS });
  for (const job of builtinJobs(store, deps.ledgerKeepDays)) runner.register(job);
  runner.register(personStatsJob(deps.db));
  return {
    runner,
    register: (job) => runner.register(job),
    registerRoutes: (router) => registerJobRoutes(router, { runner, waitMs: deps.runWaitMs }),
    start: () => runner.start(),
    close: () => runner.close(),
  };
}

/** The /metrics lines of the jobs this node ran since it started. Pure. */
export function jobMetricLines(metrics: JobMetrics[]): string[] {
  const l = (job: string) => `job="${job}"`;
  return [
    '# HELP tx_job_runs_total Job attempts this node finished, by outcome (lost: another node took the lease over).',
    '# TYPE tx_job_runs_total counter',
    ...metrics.flatMap((m) => (['succeeded', 'failed', 'lost'] as const).map((k) => `tx_job_runs_total{${l(m.name)},status="${k}"} ${m[k]}`)),
    '# TYPE tx_job_running gauge',
    ...metrics.map((m) => `tx_job_running{${l(m.name)}} ${m.running}`),
    '# HELP tx_job_run_seconds_sum Time in finished job attempts on this node.',
    '# TYPE tx_job_run_seconds_sum counter',
    ...metrics.map((m) => `tx_job_run_seconds_sum{${l(m.name)}} ${m.seconds.toFixed(6)}`),
    '# TYPE tx_job_last_success_timestamp_seconds gauge',
    ...metrics.filter((m) => m.lastSuccessS !== null).map((m) => `tx_job_last_success_timestamp_seconds{${l(m.name)}} ${m.lastSuccessS}`),
  ];
}
