// The job runner: periodic work that runs once per window across all nodes, claimed in the store (job_runs).
// Why our own and not a library: pg-boss ≥ 11 and graphile-worker ≥ 0.17 need Node ≥ 22, graphile-worker
// needs a pg Pool (no PGlite), BullMQ needs Redis, which the embedded default does not have (README, Jobs).
//
//   const runner = createJobRunner({ store: createJobStore(db), log });
//   runner.register({ name: 'ingest.ledger_prune', schedule: { every: 3600 }, timeoutS: 600,
//     run: (ctx) => ctx.chunk((limit) => store.pruneEventIds(before, limit)) });
//   runner.start();
//
// Each poll (the one timer; POLL_MS) a node tries to claim the due window of every job (INSERT … ON CONFLICT DO
// NOTHING: one node wins), then takes over runs whose lease expired (their node died) or whose retry is due.
// While an attempt runs its node extends the lease (heartbeat every lease/3); an attempt that loses its lease
// is abandoned and its result discarded. Execution is at least once per window (a node that dies mid-run is
// replaced), so jobs are idempotent; the claim, and so the normal case, is exactly once.
// An attempt holds its job while its lease is live, and no claim (window, manual run, takeover, on any node)
// starts a held job. A timed-out attempt is recorded failed at its timeout; a body that ignores ctx.signal keeps
// running, and until it returns its node starts nothing of the job and keeps heartbeating the lease (the row is
// `overrunning`), so the retry or the next window starts only after it (README "Jobs").
import crypto from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import { checkSchedule, DEFAULT_RETRY, describeSchedule, dueWindow, nextRunAt, retryAt, windowAt, type RetryPolicy, type Schedule } from './schedule.js';
import type { JobStore, RunRecord } from './store.js';

export interface JobContext {
  job: string;
  windowStart: Date;
  manual: boolean;
  attempt: number;
  /**
   * Aborted on timeout, on a lost lease and on shutdown: stop at the next chunk. A body that ignores it keeps
   * the job busy (no retry, window or manual run of it starts) until it returns.
   */
  signal: AbortSignal;
  log: Logger;
  now(): number;
  /**
   * Bounded chunks: calls step(limit) until it returns fewer than `limit` rows, yielding to the event loop
   * between chunks (on the embedded store, ingest's queued commits run between two chunks); returns the total.
   */
  chunk(step: (limit: number) => Promise<number>, limit?: number): Promise<number>;
}

export interface Job {
  name: string;
  schedule: Schedule;
  /** An attempt running longer fails with "timed out" (and retries if its window leaves time). */
  timeoutS: number;
  retry?: Partial<RetryPolicy>;
  /**
   * When it acts, if its windows do not say it (GET /api/admin/jobs shows it after the schedule): an hourly check
   * that acts once a day per tenant says so here.
   */
  acts?: string;
  /** Rows affected (recorded in job_runs.rows), or nothing. Must be idempotent. */
  run(ctx: JobContext): Promise<number | void>;
}

export interface JobInfo {
  name: string;
  schedule: string;
  timeout_s: number;
  last_run: RunRecord | null;
  next_run_at: string;
}

export interface JobMetrics {
  name: string;
  succeeded: number;
  failed: number;
  /** Attempts abandoned because another node took the lease over. */
  lost: number;
  running: number;
  seconds: number;
  lastSuccessS: number | null;
}

export interface JobRunner {
  register(job: Job): void;
  has(name: string): boolean;
  start(): void;
  /** Stops polling, aborts running attempts and waits for them to be recorded (not for bodies ignoring the abort). */
  close(): Promise<void>;
  list(): Promise<JobInfo[]>;
  /** Runs `name` now as a manual run; waits up to waitMs for it: `finished` false means still running. */
  runNow(name: string, waitMs: number): Promise<{ finished: boolean; run: RunRecord }>;
  page(name: string, limit: number, beforeId: number | null): Promise<RunRecord[]>;
  metrics(): JobMetrics[];
  /** One poll (tests call it instead of waiting for the timer). */
  tick(): Promise<void>;
  readonly node: string;
}

export interface RunnerDeps {
  store: JobStore;
  log: Logger;
  node?: string;
  pollMs?: number;
  /** Lease of an attempt; a dead node's window is taken over this long after its last heartbeat. */
  leaseS?: number;
  now?: () => number;
}

/** A manual run asked for while an attempt of the job is running (on this node or, with a live lease, another). */
export class JobBusyError extends Error {
  constructor(readonly job: string, readonly runId: number | null) {
    super(`job ${job} is already running${runId === null ? '' : ` (run ${runId})`}`);
    this.name = 'JobBusyError';
  }
}

export class UnknownJobError extends Error {
  constructor(readonly job: string) {
    super(`no job named ${job}`);
    this.name = 'UnknownJobError';
  }
}

class AttemptAborted extends Error {
  constructor(message: string, readonly lost = false) {
    super(message);
    this.name = 'AttemptAborted';
  }
}

export const DEFAULT_POLL_MS = 1000;
export const DEFAULT_LEASE_S = 30;
const TAKEOVERS_PER_POLL = 10;

const yieldTurn = () => new Promise<void>((r) => setImmediate(r));

/** Whether `p` settled before `deadline` (Date.now() ms); a rejection counts as settled. */
async function before(p: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), Math.max(0, deadline - Date.now()));
  });
  const settled = p.then(() => true, () => true);
  const out = await Promise.race([settled, late]);
  clearTimeout(timer);
  return out;
}

export function createJobRunner(deps: RunnerDeps): JobRunner {
  const { store, log } = deps;
  const now = deps.now ?? Date.now;
  const node = deps.node ?? `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
  const leaseS = deps.leaseS ?? DEFAULT_LEASE_S;
  const jobs = new Map<string, Job>();
  const stats = new Map<string, JobMetrics>();
  /** Newest window start known to be claimed (by any node), so each window costs one INSERT per node. */
  const seen = new Map<string, number>();
  /** Attempts on this node until their body has returned (a timed-out body that ignores the abort included). */
  const active = new Map<number, { job: string; controller: AbortController; recorded: Promise<RunRecord | null>; idle: Promise<void>; stopBeat(): void }>();
  let timer: NodeJS.Timeout | null = null;
  let ticking: Promise<void> | null = null;
  let closed = false;

  const policy = (job: Job): RetryPolicy => ({ ...DEFAULT_RETRY, ...job.retry });
  const windowEnd = (job: Job, run: RunRecord): number | null => (run.manual ? null : windowAt(job.schedule, Date.parse(run.window_start)).end);
  /** The id of the attempt of `name` running on this node, if any. */
  const localRun = (name: string): number | null => [...active.entries()].find(([, a]) => a.job === name)?.[0] ?? null;
  const runningLocally = (name: string) => localRun(name) !== null;
  /** The last manual run of each job waiting for its turn on this node (they start one after another). */
  const manualTurns = new Map<string, Promise<void>>();
  /** Settles when every attempt of `name` running on this node has ended (its body returned). */
  const idleLocally = (name: string) => Promise.all([...active.values()].filter((a) => a.job === name).map((a) => a.idle));

  /**
   * Runs one attempt; resolves with its record once it is recorded (at its timeout, for a body that ignores the
   * abort). The job stays busy on this node (`active`) until the body itself has returned: a timed-out body still
   * running holds the job (no retry, window or manual run of it starts here) and, recorded `overrunning`, keeps
   * its lease heartbeated so that no other node starts it either; released once the body returns.
   */
  function execute(job: Job, run: RunRecord): Promise<RunRecord | null> {
    const controller = new AbortController();
    const jlog = log.child({ job: job.name, run_id: run.id, attempt: run.attempt });
    const s = stats.get(job.name)!;
    const started = now();
    s.running++;
    /** The job's body; settled at once when it never starts (attempts used up). */
    let body: Promise<unknown> = Promise.resolve();
    let bodyRunning = false;
    /** A timed-out attempt whose body still runs: its lease is kept (heartbeats) until release. */
    let holding = false;
    let beat: NodeJS.Timeout | undefined;
    const stopBeat = () => {
      clearInterval(beat);
      beat = undefined;
    };
    const recorded = (async (): Promise<RunRecord | null> => {
      if (run.attempt > policy(job).maxAttempts) {
        return store.finish(run, { status: 'failed', error: `gave up after ${run.attempt - 1} attempts`, rows: null, retryAt: null });
      }
      beat = setInterval(() => {
        store.heartbeat(run, leaseS).then(
          (held) => {
            // A late answer after the attempt stopped heartbeating (recorded, or released) means nothing.
            if (held || beat === undefined) return;
            if (!controller.signal.aborted) return controller.abort(new AttemptAborted('lease lost: another node took this run over', true));
            // Overrunning, and another node took the run over after all (this node stalled past its lease).
            stopBeat();
            jlog.warn('the lease of a timed-out job attempt still running here was taken over; the job stays busy on this node until its body returns');
          },
          (err: Error) => jlog.warn({ err: err.message }, 'job heartbeat failed; the lease expires unless the next one succeeds'),
        );
      }, (leaseS * 1000) / 3);
      const timeout = setTimeout(() => controller.abort(new AttemptAborted(`timed out after ${job.timeoutS} s`)), job.timeoutS * 1000);
      const aborted = new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true }));
      aborted.catch(() => undefined);
      const ctx: JobContext = {
        job: job.name, windowStart: new Date(run.window_start), manual: run.manual, attempt: run.attempt, signal: controller.signal, log: jlog, now,
        async chunk(step, limit = 1000) {
          let total = 0;
          for (;;) {
            controller.signal.throwIfAborted();
            const n = await step(limit);
            total += n;
            if (n < limit) return total;
            await yieldTurn();
          }
        },
      };
      bodyRunning = true;
      const running = (async () => job.run(ctx))();
      // Before the race's own callbacks: when the race settles, bodyRunning says whether the body had returned.
      body = running.then(() => void (bodyRunning = false), () => void (bodyRunning = false));
      let outcome: { status: 'succeeded' | 'failed'; error: string | null; rows: number | null };
      let overrun = false;
      try {
        const rows = await Promise.race([running, aborted]);
        outcome = { status: 'succeeded', error: null, rows: typeof rows === 'number' ? rows : null };
      } catch (err) {
        if (err instanceof AttemptAborted && err.lost) {
          stopBeat();
          s.lost++;
          jlog.warn(bodyRunning ? 'job attempt abandoned: its lease was taken over; its body ignores the abort, and the job stays busy on this node until it returns' : 'job attempt abandoned: its lease was taken over');
          return store.get(run.id);
        }
        outcome = { status: 'failed', error: err instanceof Error ? err.message : String(err), rows: null };
        // Timed out, and the body ignores ctx.signal. (A node shutting down does not hold the job: it goes away.)
        overrun = bodyRunning && err instanceof AttemptAborted && !closed;
      } finally {
        clearTimeout(timeout);
      }
      holding = overrun;
      if (!overrun) stopBeat();
      const retry = outcome.status === 'failed' ? retryAt(run.attempt, now(), windowEnd(job, run), policy(job)) : null;
      const rec = await store.finish(run, { ...outcome, retryAt: retry, overrunning: overrun });
      if (!rec) {
        holding = false;
        stopBeat();
        s.lost++;
        jlog.warn('job attempt finished after its lease was taken over; its result is discarded');
        return store.get(run.id);
      }
      if (overrun) {
        jlog.warn({ timeout_s: job.timeoutS, retry_at: rec.retry_at },
          'job attempt timed out but its body ignores the abort and still runs: the job stays busy (no retry, window or manual run of it starts on any node) until the body returns');
      }
      s.seconds += (now() - started) / 1000;
      if (rec.status === 'succeeded') {
        s.succeeded++;
        s.lastSuccessS = Math.floor(now() / 1000);
        // A run that found nothing to do is recorded (admin jobs API, /metrics) but not logged at info: the
        // frequent jobs (conversions every 5 s) would fill an idle server's log with them.
        const level = rec.rows === 0 && !run.manual ? 'debug' : 'info';
        jlog[level]({ rows: rec.rows, duration_ms: rec.duration_ms }, 'job run succeeded');
      } else {
        s.failed++;
        jlog.warn({ err: rec.error, retry_at: rec.retry_at }, rec.retry_at ? 'job attempt failed; retrying' : 'job run failed');
      }
      return rec;
    })().catch((err: Error) => {
      jlog.error({ err: err.message }, 'recording the job run failed; its lease expires and another attempt follows');
      return null;
    });
    // Free once recorded and the body has returned; an overrunning attempt's lease is released then.
    const idle = (async () => {
      await recorded;
      await body;
      stopBeat();
      if (!holding || closed) return;
      const end = windowEnd(job, run);
      const late = end !== null && now() >= end;
      const released = await store.release(run, late).catch((err: Error) => {
        jlog.warn({ err: err.message }, 'releasing a timed-out job attempt failed; its lease expires instead');
        return false;
      });
      if (released) jlog.info({ retry_dropped: late }, 'the body of a timed-out job attempt returned; the job is free again');
    })().finally(() => {
      s.running--;
      active.delete(run.id);
    });
    active.set(run.id, { job: job.name, controller, recorded, idle, stopBeat });
    return recorded;
  }

  async function poll(): Promise<void> {
    const t = now();
    for (const job of jobs.values()) {
      if (closed) return;
      const w = dueWindow(job.schedule, t);
      // One attempt of a job at a time per node: a slow run is not piled on; another node may take the window.
      if (!w || seen.get(job.name) === w.start || runningLocally(job.name)) continue;
      const run = await store.claimWindow(job.name, w.start, node, leaseS);
      // Held by an attempt on another node: the window is tried again at the next polls while it is claimable.
      if (run === 'busy') continue;
      seen.set(job.name, w.start);
      if (run) void execute(job, run);
    }
    for (let i = 0; i < TAKEOVERS_PER_POLL && !closed; i++) {
      // The same rule for a taken-over attempt: never beside one of the job running here (a manual run, say).
      const names = [...jobs.keys()].filter((n) => !runningLocally(n));
      if (names.length === 0) break;
      const run = await store.takeOver(names, node, leaseS);
      if (!run) break;
      log.info({ job: run.job, run_id: run.id, attempt: run.attempt, window_start: run.window_start }, 'job run taken over (lease expired or retry due)');
      void execute(jobs.get(run.job)!, run);
    }
  }

  const tick = (): Promise<void> => {
    // Polls never overlap: a slow store delays the next poll instead of stacking claims.
    ticking ??= poll()
      .catch((err: Error) => log.warn({ err: err.message }, 'job poll failed; retrying on the next poll'))
      .finally(() => {
        ticking = null;
      });
    return ticking;
  };

  return {
    node,
    register(job) {
      if (jobs.has(job.name)) throw new Error(`job ${job.name} is registered twice`);
      checkSchedule(job.schedule);
      if (!(job.timeoutS > 0)) throw new Error(`job ${job.name}: timeoutS must be positive`);
      jobs.set(job.name, job);
      stats.set(job.name, { name: job.name, succeeded: 0, failed: 0, lost: 0, running: 0, seconds: 0, lastSuccessS: null });
    },
    has: (name) => jobs.has(name),
    start() {
      if (timer || closed) return;
      // The only periodic timer of the server's jobs: it polls for due windows, retries and dead leases.
      timer = setInterval(() => void tick(), deps.pollMs ?? DEFAULT_POLL_MS);
      timer.unref();
      void tick();
    },
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      timer = null;
      await ticking;
      for (const a of active.values()) a.controller.abort(new AttemptAborted('the node is shutting down'));
      await Promise.all([...active.values()].map((a) => a.recorded));
      // A body that ignores the abort is not waited for; the lease of a timed-out one still running expires.
      for (const a of active.values()) a.stopBeat();
    },
    async list() {
      const names = [...jobs.keys()];
      const [last, windows] = await Promise.all([store.lastRuns(names), store.lastWindows(names)]);
      const t = now();
      return [...jobs.values()].map((j) => ({
        name: j.name,
        schedule: describeSchedule(j.schedule) + (j.acts ? `; ${j.acts}` : ''),
        timeout_s: j.timeoutS,
        last_run: last.get(j.name) ?? null,
        next_run_at: new Date(nextRunAt(j.schedule, t, windows.get(j.name) ?? null)).toISOString(),
      }));
    },
    async runNow(name, waitMs) {
      const job = jobs.get(name);
      if (!job) throw new UnknownJobError(name);
      // Real time, not the injected clock: this bounds how long the caller waits.
      const deadline = Date.now() + waitMs;
      // Manual runs of a job on this node take turns; a turn ends once its run has started (or it gave up).
      const prev = manualTurns.get(name) ?? Promise.resolve();
      let release!: () => void;
      const turn = new Promise<void>((r) => (release = r));
      const chained = prev.then(() => turn);
      manualTurns.set(name, chained);
      let run: RunRecord | null = null;
      try {
        if (!(await before(prev, deadline))) throw new JobBusyError(name, localRun(name));
        while (run === null) {
          if (runningLocally(name)) {
            if (!(await before(idleLocally(name), deadline))) throw new JobBusyError(name, localRun(name));
            continue;
          }
          run = await store.claimManual(name, node, leaseS);
          if (run) break;
          // Running on another node (a live lease): wait for it while the caller's wait lasts.
          if (Date.now() >= deadline) throw new JobBusyError(name, (await store.lastRuns([name])).get(name)?.id ?? null);
          await new Promise((r) => setTimeout(r, Math.min(250, Math.max(1, deadline - Date.now()))));
        }
      } finally {
        release();
        if (manualTurns.get(name) === chained) manualTurns.delete(name);
      }
      const done = execute(job, run);
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<null>((r) => {
        timer = setTimeout(() => r(null), Math.max(0, deadline - Date.now()));
      });
      const rec = await Promise.race([done, waited]);
      clearTimeout(timer);
      return rec ? { finished: rec.status !== 'running', run: rec } : { finished: false, run };
    },
    page: (name, limit, beforeId) => store.page(name, limit, beforeId),
    metrics: () => [...stats.values()].map((s) => ({ ...s })),
    tick,
  };
}
