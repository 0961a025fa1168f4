// job_runs' claims on both stores (sql/queries/jobs.sql through server/jobs/store.ts): an attempt holds its job
// while its lease is live (running, or a timed-out attempt whose body still runs: overrunning), and no claim of
// any node starts a held job: a window, a manual run, a retry's or a dead node's takeover. The runner's side is
// server/jobs/runner.test.ts (in memory); the newest-run lookups of GET /api/admin/jobs are checked here too.
import { expect, it } from 'vitest';
import { createJobStore, type JobStore, type RunRecord } from '../server/jobs/store.js';
import { onBothStores } from './store-suites.js';

const W = Date.parse('2026-03-01T10:00:00Z');
const MIN = 60_000;

onBothStores('job claims', 'jobs-store', async () => 0, (ctx) => {
  const store = (): JobStore => createJobStore(ctx().db);
  const finish = (s: JobStore, run: RunRecord, status: 'succeeded' | 'failed', more: { retryAt?: number | null; overrunning?: boolean } = {}) =>
    s.finish(run, { status, error: status === 'failed' ? 'timed out after 2 s' : null, rows: null, retryAt: more.retryAt ?? null, overrunning: more.overrunning });

  it('claims a window only while no other attempt of the job holds a live lease: busy meanwhile, claimed once it has finished', async () => {
    const s = store();
    const manual = (await s.claimManual('claims.a', 'n1', 30))!;
    expect(await s.claimWindow('claims.a', W, 'n2', 30)).toBe('busy');
    await finish(s, manual, 'succeeded');
    const run = await s.claimWindow('claims.a', W, 'n2', 30);
    expect(run).toMatchObject({ job: 'claims.a', node: 'n2', status: 'running', manual: false, window_start: new Date(W).toISOString() });
    // The window's own claimant: another node gets nothing (claimed), not busy.
    expect(await s.claimWindow('claims.a', W, 'n3', 30)).toBeNull();
    // A window that runs holds the next one and manual runs.
    expect(await s.claimWindow('claims.a', W + MIN, 'n3', 30)).toBe('busy');
    expect(await s.claimManual('claims.a', 'n3', 30)).toBeNull();
    // An attempt whose lease expired (its node died) holds nothing.
    expect(await s.heartbeat(run as RunRecord, 0)).toBe(true);
    expect(await s.claimWindow('claims.a', W + MIN, 'n3', 30)).toMatchObject({ node: 'n3' });
  });

  it('holds a timed-out attempt whose body still runs: no window, manual run or takeover of its retry on any node until it is released', async () => {
    const s = store();
    const run = (await s.claimWindow('claims.b', W, 'n1', 30)) as RunRecord;
    const rec = await finish(s, run, 'failed', { retryAt: Date.now() - MIN, overrunning: true });
    expect(rec).toMatchObject({ status: 'failed', error: 'timed out after 2 s', attempt: 1 });
    expect(await s.heartbeat(run, 30)).toBe(true);
    expect(await s.claimWindow('claims.b', W + MIN, 'n2', 30)).toBe('busy');
    expect(await s.claimManual('claims.b', 'n2', 30)).toBeNull();
    expect(await s.takeOver(['claims.b'], 'n2', 30)).toBeNull();
    // The body returned: the retry, due, is taken over; the released attempt heartbeats no more.
    expect(await s.release(run, false)).toBe(true);
    expect(await s.heartbeat(run, 30)).toBe(false);
    expect(await s.takeOver(['claims.b'], 'n2', 30)).toMatchObject({ id: run.id, node: 'n2', status: 'running', attempt: 2 });
  });

  it('frees an overrunning attempt whose node stopped heartbeating once its lease expires; a release after the window drops the retry', async () => {
    const s = store();
    const run = (await s.claimWindow('claims.c', W, 'n1', 30)) as RunRecord;
    await finish(s, run, 'failed', { retryAt: Date.now() - MIN, overrunning: true });
    expect(await s.heartbeat(run, 0)).toBe(true); // its last heartbeat: the lease runs out now
    expect(await s.takeOver(['claims.c'], 'n2', 30)).toMatchObject({ node: 'n2', attempt: 2 });

    const late = (await s.claimWindow('claims.d', W, 'n1', 30)) as RunRecord;
    await finish(s, late, 'failed', { retryAt: Date.now() - MIN, overrunning: true });
    expect(await s.release(late, true)).toBe(true);
    expect(await s.get(late.id)).toMatchObject({ status: 'failed', retry_at: null });
    expect(await s.takeOver(['claims.d'], 'n2', 30)).toBeNull();
    expect(await s.claimWindow('claims.d', W + MIN, 'n2', 30)).toMatchObject({ node: 'n2' });
  });

  it('takes over a dead node\'s attempt only once no other attempt of the job holds a live lease', async () => {
    const s = store();
    const dead = (await s.claimWindow('claims.e', W, 'n1', 30)) as RunRecord;
    await s.heartbeat(dead, 0);
    const live = (await s.claimManual('claims.e', 'n2', 30))!;
    expect(await s.takeOver(['claims.e'], 'n3', 30)).toBeNull();
    await finish(s, live, 'succeeded');
    expect(await s.takeOver(['claims.e'], 'n3', 30)).toMatchObject({ id: dead.id, node: 'n3', attempt: 2 });
  });

  it('answers the newest run and the newest scheduled window of each job asked for', async () => {
    const s = store();
    const w1 = (await s.claimWindow('last.a', W, 'n1', 30)) as RunRecord;
    await finish(s, w1, 'succeeded');
    const w2 = (await s.claimWindow('last.a', W + MIN, 'n1', 30)) as RunRecord;
    await finish(s, w2, 'succeeded');
    const m = (await s.claimManual('last.a', 'n1', 30))!;
    const b = (await s.claimManual('last.b', 'n1', 30))!;
    const runs = await s.lastRuns(['last.a', 'last.b', 'last.none']);
    expect([...runs.keys()].sort()).toEqual(['last.a', 'last.b']);
    expect(runs.get('last.a')).toMatchObject({ id: m.id, manual: true, status: 'running' });
    expect(runs.get('last.b')).toMatchObject({ id: b.id });
    const windows = await s.lastWindows(['last.a', 'last.b', 'last.none']);
    expect([...windows.entries()]).toEqual([['last.a', W + MIN]]);
  });
});
