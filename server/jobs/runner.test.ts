// The runner's decisions with an in-memory job_runs and an injected clock: one claim per window, timeout and
// retry inside the window, a lost lease discards the attempt, bounded chunks, shutdown. The SQL itself is
// covered by test/jobs-nodes.test.ts (two processes on PostgreSQL) and test/jobs-admin.test.ts (embedded).
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createJobRunner, type Job } from './runner.js';
import type { JobStore, RunRecord } from './store.js';

const log = pino({ level: 'silent' });

/** job_runs in memory; lease and retry times follow the injected clock like now() in the database. */
function memoryStore(clock: () => number) {
  const rows: (RunRecord & { lease_until: number })[] = [];
  let id = 0;
  const iso = (ms: number) => new Date(ms).toISOString();
  const fresh = (job: string, windowStart: number, manual: boolean, node: string, leaseS: number) => {
    const r = { id: ++id, job, window_start: iso(windowStart), manual, node, status: 'running' as const, attempt: 1, started_at: iso(clock()), finished_at: null, error: null, failures: [], rows: null, duration_ms: null, retry_at: null, lease_until: clock() + leaseS * 1000 };
    rows.push(r);
    return { ...r };
  };
  const store: JobStore = {
    async claimWindow(job, windowStart, node, leaseS) {
      if (rows.some((r) => r.job === job && !r.manual && r.window_start === iso(windowStart))) return null;
      return fresh(job, windowStart, false, node, leaseS);
    },
    async claimManual(job, node, leaseS) {
      if (rows.some((r) => r.job === job && r.status === 'running' && r.lease_until > clock())) return null;
      return fresh(job, clock(), true, node, leaseS);
    },
    async takeOver(jobs, node, leaseS) {
      const r = rows.find((x) => jobs.includes(x.job) && ((x.status === 'running' && x.lease_until < clock()) || (x.status === 'failed' && x.retry_at !== null && Date.parse(x.retry_at) <= clock())));
      if (!r) return null;
      if (r.status === 'running') r.failures = [...r.failures, { attempt: r.attempt, node: r.node, error: 'lease expired: the node stopped heartbeating', at: iso(clock()) }];
      Object.assign(r, { node, status: 'running', attempt: r.attempt + 1, lease_until: clock() + leaseS * 1000, retry_at: null, error: null, finished_at: null });
      return { ...r };
    },
    async heartbeat(run, leaseS) {
      const r = rows.find((x) => x.id === run.id && x.node === run.node && x.attempt === run.attempt && x.status === 'running');
      if (r) r.lease_until = clock() + leaseS * 1000;
      return !!r;
    },
    async finish(run, out) {
      const r = rows.find((x) => x.id === run.id && x.node === run.node && x.attempt === run.attempt && x.status === 'running');
      if (!r) return null;
      Object.assign(r, { status: out.status, error: out.error, rows: out.rows, retry_at: out.retryAt === null ? null : iso(out.retryAt), finished_at: iso(clock()) });
      if (out.status === 'failed') r.failures = [...r.failures, { attempt: r.attempt, node: r.node, error: out.error!, at: iso(clock()) }];
      return { ...r };
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
