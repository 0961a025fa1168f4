// One runner node for test/jobs-nodes.test.ts: a separate process with its own pool on the shared PostgreSQL
// database, running the test jobs named in JOBS. Prints "ready <node id>" once its runner polls.
//   tick    every 1 s: records (window, node) in job_effects
//   slow    every 60 s: sleeps SLOW_MS (heartbeating) and then records its effect
//   flaky   every 60 s: the first attempt of a window fails, the retry succeeds
//   broken  every 60 s: always fails (2 attempts)
import pino from 'pino';
import { createJobRunner, type Job } from '../server/jobs/runner.js';
import { createJobStore } from '../server/jobs/store.js';
import { openPostgres } from '../server/store/db.js';

const env = process.env;
const log = pino({ level: env.TEST_LOG_LEVEL ?? 'error' }, pino.destination(2));
const db = await openPostgres(env.DATABASE_URL!, 4, log);
const node = env.NODE_ID!;
const effect = async (job: string, w: Date) => {
  await db.query('INSERT INTO job_effects (job, window_start, node) VALUES ($1, $2, $3)', [job, w.toISOString(), node]);
  return 1;
};
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });

const all: Job[] = [
  { name: 'tick', schedule: { every: 1 }, timeoutS: 10, run: (ctx) => effect('tick', ctx.windowStart) },
  {
    name: 'slow', schedule: { every: 60 }, timeoutS: 60,
    run: async (ctx) => {
      await sleep(Number(env.SLOW_MS ?? 4000), ctx.signal);
      return effect('slow', ctx.windowStart);
    },
  },
  {
    name: 'flaky', schedule: { every: 60 }, timeoutS: 10, retry: { baseMs: 300 },
    run: async (ctx) => {
      if (ctx.attempt === 1) throw new Error('flaky: the first attempt fails');
      return effect('flaky', ctx.windowStart);
    },
  },
  {
    name: 'broken', schedule: { every: 60 }, timeoutS: 10, retry: { baseMs: 300, maxAttempts: 2 },
    run: async () => {
      throw new Error('broken: always fails');
    },
  },
];

const runner = createJobRunner({ store: createJobStore(db), log, node, pollMs: Number(env.POLL_MS ?? 100), leaseS: Number(env.LEASE_S ?? 2) });
const wanted = (env.JOBS ?? 'tick').split(',');
for (const j of all) if (wanted.includes(j.name)) runner.register(j);
runner.start();
process.stdout.write(`ready ${node}\n`);
process.on('SIGTERM', () => {
  void runner.close().then(() => db.close()).then(() => process.exit(0));
});
