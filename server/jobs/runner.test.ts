// The runner's decisions with an in-memory job_runs and an injected clock: one claim per window, timeout and
// retry inside the window, a lost lease discards the attempt, bounded chunks, shutdown. The SQL itself is
// covered by test/jobs-nodes.test.ts (two processes on PostgreSQL) and test/jobs-admin.test.ts (embedded).
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createJobRunner, type Job, type JobContext } from './runner.js';
import type { JobStore, RunRecord } from './store.js';

const log = pino({ level: 'silent' });

/**
 * job_runs in memory, as sql/queries/jobs.sql does it; lease and retry times follow the injected clock like now()
 * in the database. An attempt holds its job while its lease is live: running, or overrunning its timeout.
 */
function memoryStore(clock: () => number) {
  const rows: (RunRecord & { lease_until: number; overrunning: boolean })[] = [];
  let id = 0;
  const iso = (ms: number) => new Date(ms).toISOString();
  const fresh = (job: string, windowStart: number, manual: boolean, node: string, leaseS: number) => {
    const r = { id: ++id, job, window_start: iso(windowStart), manual, node, status: 'running' as const, attempt: 1, started_at: iso(clock()), finished_at: null, error: null, failures: [], rows: null, duration_ms: null, retry_at: null, lease_until: clock() + leaseS * 1000, overrunning: false };
    rows.push(r);
    return { ...r };
  };
  const held = (job: string, except = 0) => rows.some((r) => r.job === job && r.id !== except && (r.status === 'running' || r.overrunning) && r.lease_until > clock());
  const due = (x: (typeof rows)[number]) =>
    (x.status === 'running' && x.lease_until < clock()) || (x.status === 'failed' && x.retry_at !== null && Date.parse(x.retry_at) <= clock() && (!x.overrunning || x.lease_until < clock()));
  const store: JobStore = {
    async claimWindow(job, windowStart, node, leaseS) {
      if (rows.some((r) => r.job === job && !r.manual && r.window_start === iso(windowStart))) return null;
      if (held(job)) return 'busy';
      return fresh(job, windowStart, false, node, leaseS);
    },
    async claimManual(job, node, leaseS) {
      if (held(job)) return null;
      return fresh(job, clock(), true, node, leaseS);
    },
    async takeOver(jobs, node, leaseS) {
      const r = rows.find((x) => jobs.includes(x.job) && due(x) && !held(x.job, x.id));
      if (!r) return null;
      if (r.status === 'running') r.failures = [...r.failures, { attempt: r.attempt, node: r.node, error: 'lease expired: the node stopped heartbeating', at: iso(clock()) }];
      Object.assign(r, { node, status: 'running', overrunning: false, attempt: r.attempt + 1, lease_until: clock() + leaseS * 1000, retry_at: null, error: null, finished_at: null });
      return { ...r };
    },
    async heartbeat(run, leaseS) {
      const r = rows.find((x) => x.id === run.id && x.node === run.node && x.attempt === run.attempt && (x.status === 'running' || x.overrunning));
      if (r) r.lease_until = clock() + leaseS * 1000;
      return !!r;
    },
    async finish(run, out) {
      const r = rows.find((x) => x.id === run.id && x.node === run.node && x.attempt === run.attempt && x.status === 'running');
      if (!r) return null;
      Object.assign(r, { status: out.status, error: out.error, rows: out.rows, retry_at: out.retryAt === null ? null : iso(out.retryAt), overrunning: out.overrunning ?? false, finished_at: iso(clock()) });
      if (out.status === 'failed') r.failures = [...r.failures, { attempt: r.attempt, node: r.node, error: out.error!, at: iso(clock()) }];
      return { ...r };
    },
    async release(run, dropRetry) {
      const r = rows.find((x) => x.id === run.id && x.node === run.node && x.attempt === run.attempt && x.overrunning);
      if (!r) return false;
      Object.assign(r, { overrunning: false, retry_at: dropRetry ? null : r.retry_at });
      return true;
    },
    async get(runId) {
      const r = rows.find((x) => x.id === runId);
      return r ? { ...r } : null;
    },
    async lastRuns(jobs) {
      const out = new Map<string, RunRecord>();
      for (const r of rows) if (jobs.includes(r.job) && (out.get(r.job)?.id ?? 0) < r.id) out.set(r.job, { ...r });
      return out;
    },
    async lastWindows() {
      return new Map();
    },
    async page() {
      return [];
    },
    async pruneRuns() {
      return 0;
    },
    async pruneEventIds() {
      return 0;
    },
  };
  return { store, rows };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

/** Waits (polling, real time) until `cond` holds: for a timeout to fire, not to time anything. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 500) throw new Error('condition never held');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A job body that ignores ctx.signal: each call waits until the test lets it return (`finish()`). */
function deafBody(block: (ctx: JobContext) => boolean = () => true) {
  const state = { bodies: 0, running: 0, most: 0, gates: [] as (() => void)[] };
  const run = async (ctx: JobContext) => {
    state.bodies++;
    state.most = Math.max(state.most, ++state.running);
    if (block(ctx)) await new Promise<void>((r) => state.gates.push(r));
    state.running--;
    return 1;
  };
  const finish = () => state.gates.splice(0).forEach((r) => r());
  return { state, run, finish };
}

describe('job runner', () => {
  it('claims each window once across two runners on one store, and again in the next window', async () => {
    let t = Date.parse('2026-03-01T10:00:00.100Z');
    const { store, rows } = memoryStore(() => t);
    const runs: string[] = [];
    const job = (node: string): Job => ({ name: 'j', schedule: { every: 60 }, timeoutS: 5, run: async (ctx) => void runs.push(`${node}@${ctx.windowStart.toISOString()}`) });
    const a = createJobRunner({ store, log, node: 'a', now: () => t });
    const b = createJobRunner({ store, log, node: 'b', now: () => t });
    a.register(job('a'));
    b.register(job('b'));
    await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
    await settle();
    t += 60_000;
    await Promise.all([b.tick(), a.tick()]);
    await settle();
    expect(runs).toHaveLength(2);
    expect(rows.map((r) => [r.window_start, r.status, r.attempt])).toEqual([
      ['2026-03-01T10:00:00.000Z', 'succeeded', 1],
      ['2026-03-01T10:01:00.000Z', 'succeeded', 1],
    ]);
  });

  it('fails an attempt that outlives its timeout and retries it inside the window', async () => {
    let t = Date.parse('2026-03-01T10:00:00Z');
    const { store, rows } = memoryStore(() => t);
    const r = createJobRunner({ store, log, node: 'a', now: () => t });
    let calls = 0;
    r.register({
      name: 'slow-once', schedule: { every: 3600 }, timeoutS: 0.05, retry: { baseMs: 1000 },
      run: async (ctx) => {
        calls++;
        if (calls === 1) await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
        return 3;
      },
    });
    await r.tick();
    await new Promise((res) => setTimeout(res, 120));
    expect(rows[0]).toMatchObject({ status: 'failed', error: 'timed out after 0.05 s', retry_at: '2026-03-01T10:00:01.000Z' });
    t += 999;
    await r.tick();
    await settle();
    expect(rows[0].status).toBe('failed');
    t += 1;
    await r.tick();
    await settle();
    expect(rows[0]).toMatchObject({ status: 'succeeded', attempt: 2, rows: 3, error: null });
    expect(rows[0].failures.map((f) => f.error)).toEqual(['timed out after 0.05 s']);
  });

  it('keeps a job busy on its node while a timed-out body that ignores the abort still runs: no retry or manual run beside it; the retry starts once the body returns', async () => {
    let t = Date.parse('2026-03-01T10:00:00Z');
    const { store, rows } = memoryStore(() => t);
    const a = createJobRunner({ store, log, node: 'a', now: () => t });
    const deaf = deafBody((ctx) => ctx.attempt === 1 && ctx.windowStart.toISOString() === '2026-03-01T10:00:00.000Z');
    a.register({ name: 'deaf', schedule: { every: 60 }, timeoutS: 0.05, retry: { baseMs: 1000 }, run: deaf.run });
    await a.tick();
    // Recorded failed at its timeout, with its retry, while its body still runs.
    await until(() => rows[0].status === 'failed');
    expect(rows[0]).toMatchObject({ error: 'timed out after 0.05 s', retry_at: '2026-03-01T10:00:01.000Z', attempt: 1, overrunning: true });
    expect(deaf.state.running).toBe(1);
    t += 5_000; // the retry is due
    await a.tick();
    await settle();
    expect(deaf.state.bodies).toBe(1);
    expect(rows[0]).toMatchObject({ status: 'failed', attempt: 1 });
    await expect(a.runNow('deaf', 50)).rejects.toMatchObject({ name: 'JobBusyError', runId: rows[0].id });
    expect(a.metrics()[0]).toMatchObject({ running: 1, failed: 1 });
    // The body returns: the job is free again and its retry runs.
    deaf.finish();
    await settle();
    expect(rows[0].overrunning).toBe(false);
    await a.tick();
    await settle();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'succeeded', attempt: 2, rows: 1 });
    expect(deaf.state).toMatchObject({ bodies: 2, most: 1 });
    await a.close();
  });

  it('holds a timed-out job on the other nodes while its body runs: no takeover of its retry, no window, no manual run; the next window once it returns', async () => {
    let t = Date.parse('2026-03-01T10:00:00Z');
    const { store, rows } = memoryStore(() => t);
    const a = createJobRunner({ store, log, node: 'a', now: () => t, leaseS: 600 });
    const b = createJobRunner({ store, log, node: 'b', now: () => t, leaseS: 600 });
    const deaf = deafBody((ctx) => ctx.attempt === 1 && ctx.windowStart.toISOString() === '2026-03-01T10:00:00.000Z');
    const job = { name: 'deaf', schedule: { every: 60 }, timeoutS: 0.05, retry: { baseMs: 1000 }, run: deaf.run };
    a.register(job);
    b.register(job);
    await a.tick();
    await until(() => rows[0].status === 'failed');
    t += 5_000; // the retry is due
    await b.tick();
    await expect(b.runNow('deaf', 50)).rejects.toMatchObject({ name: 'JobBusyError' });
    t += 60_000; // the next window (10:01) is due; the body of 10:00 still runs on node a
    await b.tick();
    await settle();
    expect(rows.map((r) => [r.window_start, r.node, r.status, r.attempt])).toEqual([['2026-03-01T10:00:00.000Z', 'a', 'failed', 1]]);
    deaf.finish();
    await settle();
    // Its window ended meanwhile: the retry is dropped (it would run in the next window's time), the run stays failed.
    expect(rows[0]).toMatchObject({ overrunning: false, retry_at: null });
    await b.tick();
    await settle();
    expect(rows.map((r) => [r.window_start, r.node, r.status, r.attempt])).toEqual([
      ['2026-03-01T10:00:00.000Z', 'a', 'failed', 1],
      ['2026-03-01T10:01:00.000Z', 'b', 'succeeded', 1],
    ]);
    expect(deaf.state).toMatchObject({ bodies: 2, most: 1 });
    await a.close();
    await b.close();
  });

  it('starts nothing of a job beside the body of an attempt whose lease was lost, until that body returns', async () => {
    let t = Date.parse('2026-03-01T10:00:00Z');
    const { store, rows } = memoryStore(() => t);
    const deaf = deafBody();
    const a = createJobRunner({ store, log, node: 'a', now: () => t, leaseS: 0.03 });
    a.register({ name: 'deaf', schedule: { every: 60 }, timeoutS: 600, run: deaf.run });
    await a.tick();
    // Node a stalls past its lease; node b takes the window over and finishes it.
    t += 1_000;
    const b = createJobRunner({ store, log, node: 'b', now: () => t, leaseS: 0.03 });
    b.register({ name: 'deaf', schedule: { every: 60 }, timeoutS: 600, run: async () => 2 });
    await b.tick();
    await until(() => a.metrics()[0].lost === 1);
    expect(rows[0]).toMatchObject({ node: 'b', attempt: 2, status: 'succeeded' });
    // Node a's abandoned body still runs: it neither claims the next window nor runs the job by hand.
    t += 60_000;
    await a.tick();
    await settle();
    expect(rows).toHaveLength(1);
    await expect(a.runNow('deaf', 50)).rejects.toMatchObject({ name: 'JobBusyError' });
    deaf.finish();
    await settle();
    await a.tick();
    await settle();
    expect(rows.map((r) => [r.window_start, r.node])).toEqual([['2026-03-01T10:00:00.000Z', 'b'], ['2026-03-01T10:01:00.000Z', 'a']]);
    deaf.finish();
    await a.close();
    await b.close();
  });

  it('claims a window only once no other node runs the job: a job slower than its period runs on one node at a time, its next window later in that window', async () => {
    let t = Date.parse('2026-03-01T10:00:00Z');
    const { store, rows } = memoryStore(() => t);
    const slow = deafBody();
    const job = { name: 'slow', schedule: { every: 60 }, timeoutS: 600, run: slow.run };
    const a = createJobRunner({ store, log, node: 'a', now: () => t, leaseS: 600 });
    const b = createJobRunner({ store, log, node: 'b', now: () => t, leaseS: 600 });
    a.register(job);
    b.register(job);
    await a.tick();
    t += 60_000; // window 10:01 is due while 10:00 still runs on node a
    await b.tick();
    await b.tick();
    await settle();
    expect(rows).toHaveLength(1);
    slow.finish();
    await settle();
    t += 30_000;
    await b.tick();
    await settle();
    expect(rows.map((r) => [r.window_start, r.node])).toEqual([['2026-03-01T10:00:00.000Z', 'a'], ['2026-03-01T10:01:00.000Z', 'b']]);
    expect(slow.state).toMatchObject({ bodies: 2, most: 1 });
    slow.finish();
    await a.close();
    await b.close();
  });

  it('discards the result of an attempt whose lease another node took over', async () => {
    let t = Date.parse('2026-03-01T10:00:00Z');
    const { store, rows } = memoryStore(() => t);
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    const a = createJobRunner({ store, log, node: 'a', now: () => t, leaseS: 30 });
    a.register({ name: 'j', schedule: { every: 3600 }, timeoutS: 600, run: async () => (await gate, 1) });
    await a.tick();
    // Node a stalls past its lease (no heartbeat reached the store); node b takes the window over and finishes it.
    t += 31_000;
    const b = createJobRunner({ store, log, node: 'b', now: () => t, leaseS: 30 });
    b.register({ name: 'j', schedule: { every: 3600 }, timeoutS: 600, run: async () => 2 });
    await b.tick();
    await settle();
    release();
    await settle();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ node: 'b', attempt: 2, status: 'succeeded', rows: 2 });
    expect(a.metrics()[0]).toMatchObject({ lost: 1, succeeded: 0 });
  });

  it('never takes over a crashed attempt of a job beside a run of it on this node (a manual run, say); it takes it over after', async () => {
    let t = Date.parse('2026-03-01T10:00:00Z');
    const { store, rows } = memoryStore(() => t);
    // Node a claims the window, then dies (its attempt never ends, its lease runs out).
    const a = createJobRunner({ store, log, node: 'a', now: () => t, leaseS: 30 });
    a.register({ name: 'j', schedule: { every: 3600 }, timeoutS: 600, run: () => new Promise<number>(() => undefined) });
    await a.tick();
    t += 31_000;
    let running = 0;
    let most = 0;
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    const b = createJobRunner({ store, log, node: 'b', now: () => t, leaseS: 30 });
    b.register({ name: 'j', schedule: { every: 3600 }, timeoutS: 600, run: async () => {
      most = Math.max(most, ++running);
      await gate;
      running--;
      return 1;
    } });
    const manual = b.runNow('j', 10_000);
    await settle();
    await b.tick(); // the crashed window is due for takeover, but a run of j is going on here
    await settle();
    expect(rows.find((r) => !r.manual)).toMatchObject({ node: 'a', attempt: 1 });
    release();
    expect((await manual).run.status).toBe('succeeded');
    await b.tick();
    await settle();
    expect(rows.find((r) => !r.manual)).toMatchObject({ node: 'b', attempt: 2, status: 'succeeded' });
    expect(most).toBe(1);
    await b.close();
  });

  it('works through a job in bounded chunks until a short one', async () => {
    const t = Date.parse('2026-03-01T10:00:00Z');
    const { store, rows } = memoryStore(() => t);
    const r = createJobRunner({ store, log, node: 'a', now: () => t });
    const limits: number[] = [];
    let left = 2500;
    r.register({
      name: 'chunky', schedule: { every: 3600 }, timeoutS: 10,
      run: (ctx) => ctx.chunk(async (limit) => {
        limits.push(limit);
        const n = Math.min(limit, left);
        left -= n;
        return n;
      }, 1000),
    });
    const out = await r.runNow('chunky', 5000);
    expect(out).toMatchObject({ finished: true, run: { status: 'succeeded', rows: 2500, manual: true } });
    expect(limits).toEqual([1000, 1000, 1000]);
    expect(rows).toHaveLength(1);
  });

  it('runs concurrent manual runs of a job one after another, never two at once', async () => {
    const t = Date.parse('2026-03-01T10:00:00Z');
    const { store, rows } = memoryStore(() => t);
    let running = 0;
    let most = 0;
    const r = createJobRunner({ store, log, node: 'a', now: () => t });
    r.register({ name: 'busy', schedule: { every: 3600 }, timeoutS: 60, run: async () => {
      most = Math.max(most, ++running);
      await new Promise((res) => setTimeout(res, 30));
      running--;
      return 1;
    } });
    const out = await Promise.all([r.runNow('busy', 10_000), r.runNow('busy', 10_000), r.runNow('busy', 10_000)]);
    expect(out.map((o) => o.run.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(most).toBe(1);
    expect(rows).toHaveLength(3);
    await r.close();
  });

  it('refuses a manual run that cannot start within its wait: concurrent requests, and another node with a live lease', async () => {
    let t = Date.parse('2026-03-01T10:00:00Z');
    const { store, rows } = memoryStore(() => t);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const job = { name: 'slow', schedule: { every: 3600 }, timeoutS: 60, run: async () => (await gate, 1) };
    const a = createJobRunner({ store, log, node: 'a', now: () => t });
    const b = createJobRunner({ store, log, node: 'b', now: () => t });
    a.register(job);
    b.register(job);
    const results = await Promise.allSettled([a.runNow('slow', 10), a.runNow('slow', 10), a.runNow('slow', 10), b.runNow('slow', 10)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason);
    expect(refused).toHaveLength(3);
    for (const e of refused) expect(e).toMatchObject({ name: 'JobBusyError', job: 'slow', runId: rows[0].id });
    expect(rows).toHaveLength(1);
    release();
    await settle();
    // Once it has finished, the next manual run starts.
    t += 1000;
    expect((await b.runNow('slow', 1000)).run.manual).toBe(true);
    expect(rows).toHaveLength(2);
    await a.close();
    await b.close();
  });

  it('aborts running attempts on close and records them for a retry by another node', async () => {
    const t = Date.parse('2026-03-01T10:00:00Z');
    const { store, rows } = memoryStore(() => t);
    const r = createJobRunner({ store, log, node: 'a', now: () => t });
    r.register({ name: 'forever', schedule: { every: 3600 }, timeoutS: 600, run: (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))) });
    await r.tick();
    await r.close();
    expect(rows[0]).toMatchObject({ status: 'failed', error: 'the node is shutting down' });
    expect(rows[0].retry_at).not.toBeNull();
  });
});
