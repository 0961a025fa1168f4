// The job runner across processes (issue 11 item 6): two node processes (test/jobs-node.ts) on one fresh
// database of the machine's PostgreSQL 15. The server itself refuses PostgreSQL without TimescaleDB, but the
// runner needs only job_runs: the test applies its migrations alone.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SQL_DIR } from '../server/store/migrate.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const PG = process.env.JOBS_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';
let scratch: ScratchDatabase | undefined;
let url: string;
// A client, not a pool: pg.Pool#end resolves before its sockets close, and the DROP … WITH (FORCE) below would
// then kill a connection still closing, an 'error' nobody listens to.
let db: pg.Client;
const children: ChildProcess[] = [];

const until = async <T>(fn: () => Promise<T | null | false | undefined>, ms: number, what: string): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/** How long a node process may take to print "ready": tsx compiling on a busy 2-core machine has taken over a minute. */
const BOOT_MS = 180_000;

/** Starts a node process; resolves once its runner polls. */
function startNode(nodeId: string, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/jobs-node.ts'], {
    cwd: path.resolve(SQL_DIR, '..'),
    env: { ...process.env, DATABASE_URL: url, NODE_ID: nodeId, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${nodeId} not ready after ${BOOT_MS} ms`)), BOOT_MS);
    child.stdout!.on('data', (d: Buffer) => {
      if (!d.toString().includes('ready')) return;
      clearTimeout(timer);
      resolve(child);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node ${nodeId} exited with ${code}`));
    });
  });
}

const runsOf = async (job: string) =>
  (await db.query('SELECT id, window_start, node, status, attempt, error, failures, rows FROM job_runs WHERE job = $1 ORDER BY window_start', [job])).rows;

describe('job runner on two node processes sharing PostgreSQL', () => {
  beforeAll(async () => {
    scratch = await scratchDatabase('jobs', `${PG}/postgres`);
    url = scratch.url;
    db = new pg.Client({ connectionString: url });
    await db.connect();
    for (const m of ['006_jobs.sql', '051_job_runs_overrun.sql']) await db.query(fs.readFileSync(path.join(SQL_DIR, m), 'utf8'));
    await db.query('CREATE TABLE job_effects (job text NOT NULL, window_start timestamptz NOT NULL, node text NOT NULL)');
  }, 30_000);
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  afterAll(async () => {
    await db?.end();
    await scratch?.drop();
  });

  it('runs 30 one-second windows of a job, each once across both nodes (a window both nodes miss is skipped), and retries failures within the window', async () => {
    // The production lease (30 s): a node stalled for a second or two by the loaded machine keeps its run; only a
    // dead node's run is taken over (the next test), so every run here is a first attempt.
    const env = { JOBS: 'tick,flaky,broken', LEASE_S: '30' };
    await Promise.all([startNode('node-a', env), startNode('node-b', env)]);
    const from = Math.ceil(Date.now() / 1000) * 1000;
    // The first 30 windows claimed from then on, once none of them is still running (a stalled node may finish
    // its window after the other node has run the next ones).
    const done = await until(async () => {
      const runs = (await runsOf('tick')).filter((r) => new Date(r.window_start).getTime() >= from).slice(0, 30);
      return runs.length === 30 && runs.every((r) => r.status !== 'running') ? runs : null;
    }, 120_000, '30 windows of tick');
    const first = done[0].window_start;
    const last = done[29].window_start;
    const windows = done.map((r) => new Date(r.window_start).getTime());
    // One-second windows on whole seconds, each claimed once (strictly increasing). A window both nodes were too
    // busy to claim within its second is skipped, as the runner should (it claims only the current window), so
    // the steps are whole seconds, not necessarily one; but the job does run in consecutive windows.
    expect(windows.every((w) => w % 1000 === 0)).toBe(true);
    const steps = windows.slice(1).map((w, i) => w - windows[i]);
    expect(steps.every((d) => d > 0 && d % 1000 === 0)).toBe(true);
    expect(steps).toContain(1000);
    // Each run succeeded on its first attempt, and recorded its one effect.
    expect(done.filter((r) => r.status !== 'succeeded' || r.attempt !== 1 || Number(r.rows) !== 1)).toEqual([]);
    // The effect of each window happened exactly once, on the node that holds its row, and no effect without a run.
    const effects = (await db.query("SELECT window_start, node FROM job_effects WHERE job = 'tick' AND window_start >= $1 AND window_start <= $2", [first, last])).rows;
    expect(effects.map((e) => `${new Date(e.window_start).getTime()}@${e.node}`).sort()).toEqual(done.map((r) => `${new Date(r.window_start).getTime()}@${r.node}`).sort());
    const byNode = Object.fromEntries(['node-a', 'node-b'].map((n) => [n, done.filter((r) => r.node === n).length]));
    console.info(`tick windows by node: ${JSON.stringify(byNode)}; skipped windows: ${(windows[29] - windows[0]) / 1000 - 29}`);

    // flaky: the first attempt failed, the retry (backoff 300 ms) succeeded; the failure is recorded with its error.
    // (The window the nodes started in may end before its retry is due, 300 ms later: that run stays failed, and
    // the next window's is the one retried.)
    const flaky = await until(async () => (await runsOf('flaky')).find((r) => r.status === 'succeeded'), 80_000, 'flaky retried');
    expect(flaky).toMatchObject({ status: 'succeeded', attempt: 2, error: null });
    expect(flaky.failures).toMatchObject([{ attempt: 1, error: 'flaky: the first attempt fails' }]);
    // broken: both attempts failed; the run is final, recorded as failed with its error.
    const broken = await until(async () => (await runsOf('broken')).find((r) => r.status === 'failed' && r.attempt === 2), 80_000, 'broken given up');
    expect(broken).toMatchObject({ status: 'failed', attempt: 2, error: 'broken: always fails' });
    expect(broken.failures.map((f: { error: string }) => f.error)).toEqual(['broken: always fails', 'broken: always fails']);
  }, BOOT_MS + 180_000);

  it('finishes the window of a node killed mid-run on the other node once the lease expires', async () => {
    const env = { JOBS: 'slow', SLOW_MS: '4000', LEASE_S: '2' };
    const nodes = new Map<string, ChildProcess>();
    await Promise.all(['node-c', 'node-d'].map(async (n) => nodes.set(n, await startNode(n, env))));
    const held = await until(async () => (await runsOf('slow')).find((r) => r.status === 'running'), 20_000, 'slow claimed');
    const holder = held.node as string;
    nodes.get(holder)!.kill('SIGKILL');
    const finished = await until(async () => {
      const r = (await db.query('SELECT * FROM job_runs WHERE id = $1', [held.id])).rows[0];
      return r.status === 'succeeded' ? r : null;
    }, 30_000, 'the window finished by the other node');
    const other = holder === 'node-c' ? 'node-d' : 'node-c';
    expect(finished).toMatchObject({ node: other, attempt: 2, status: 'succeeded' });
    expect(finished.failures).toMatchObject([{ attempt: 1, node: holder, error: expect.stringMatching(/lease expired/) }]);
    // The killed node never finished its attempt: the window's effect is the survivor's, once.
    const effects = (await db.query("SELECT node FROM job_effects WHERE job = 'slow' AND window_start = $1", [held.window_start])).rows;
    expect(effects).toEqual([{ node: other }]);
  }, BOOT_MS + 60_000);
});
