// Manual job runs on a PostgreSQL server (pg driver, READ COMMITTED): two nodes asking for a manual run of the
// same job at the same moment get one running attempt between them (README "Jobs": the other waits or gets 409).
// And GET /api/admin/jobs's lookups (last_runs, last_windows) read one row per job, not the retained history.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobStore, type RunRecord } from '../server/jobs/store.js';
import { openPostgres, type Db, type Queryable } from '../server/store/db.js';
import { migrate } from '../server/store/migrate.js';
import { queries } from '../server/store/queries.js';
import { silent } from './helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const Q = queries('jobs.sql', ['last_runs', 'last_windows']);

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}
const nodesOf = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodesOf)];

describe('manual job claims on PostgreSQL', () => {
  let scratch: ScratchDatabase | undefined;
  let db: Db;

  beforeAll(async () => {
    scratch = await scratchDatabase('jobs');
    db = await openPostgres(scratch.url, 4, silent, { plain: true });
    await migrate(db, silent);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it('gives one of two concurrent manual claims of a job the run; the other gets nothing', async () => {
    let second: Promise<RunRecord | null> | undefined;
    // Node A's claim, its transaction held open (not yet committed) while node B claims on another connection.
    const first = await db.tx(async (q) => {
      const inTx: Queryable & Pick<Db, 'tx'> = { query: (s, p) => q.query(s, p), exec: (s) => q.exec(s), tx: (fn) => fn(q) };
      const run = await createJobStore(inTx).claimManual('demo.job', 'node-a', 30);
      const b = createJobStore(db).claimManual('demo.job', 'node-b', 30);
      second = b;
      // B either answered already or waits on a lock held by A's open transaction: commit only then.
      let settled = false;
      void b.then(() => (settled = true), () => (settled = true));
      for (;;) {
        if (settled) break;
        const waiting = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
        if (waiting.rows[0].n > 0) break;
        await new Promise((r) => setImmediate(r));
      }
      return run;
    });
    expect(first).toMatchObject({ job: 'demo.job', node: 'node-a', status: 'running', manual: true });
    expect(await second).toBeNull();
    const running = await db.query("SELECT node FROM job_runs WHERE job = 'demo.job' AND status = 'running'");
    expect(running.rows).toEqual([{ node: 'node-a' }]);
  });

  it('finds the newest run and the newest scheduled window of each job with one index probe per job, not by reading its history', async () => {
    // 60,000 finished runs of three jobs (30 days of the default jobs leave ~900k), and a job with none.
    await db.query(`INSERT INTO job_runs (job, window_start, manual, node, status, lease_until, finished_at)
      SELECT 'hist.' || (g % 3), timestamptz '2026-01-01' + g * interval '5 s', g % 10 = 0, 'n', 'succeeded', now(), now()
      FROM generate_series(1, 60000) g`);
    await db.query('ANALYZE job_runs');
    const names = ['hist.0', 'hist.1', 'hist.2', 'hist.none'];
    for (const sql of [Q.last_runs, Q.last_windows]) {
      // Row counts, not timings: EXPLAIN ANALYZE with TIMING OFF.
      const { rows } = await db.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${sql}`, [names]);
      const scans = nodesOf(rows[0]['QUERY PLAN'][0].Plan).filter((n) => n['Relation Name'] === 'job_runs');
      expect(scans.map((n) => n['Node Type'])).not.toContain('Seq Scan');
      // At most a row per job asked for (EXPLAIN shows per-loop rows, rounded: 3 rows in 4 probes show as 1 × 4).
      const read = scans.reduce((sum, n) => sum + (n['Actual Rows'] + (n['Rows Removed by Filter'] ?? 0)) * n['Actual Loops'], 0);
      expect(read).toBeLessThanOrEqual(names.length);
    }
    const store = createJobStore(db);
    expect((await store.lastRuns(names)).get('hist.0')).toMatchObject({ window_start: new Date(Date.parse('2026-01-01T00:00:00Z') + 60_000 * 5000).toISOString(), manual: true });
    expect((await store.lastWindows(names)).get('hist.0')).toBe(Date.parse('2026-01-01T00:00:00Z') + 59_997 * 5000);
  });
});
