// Manual job runs on a PostgreSQL server (pg driver, READ COMMITTED): two nodes asking for a manual run of the
// same job at the same moment get one running attempt between them (README "Jobs": the other waits or gets 409).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobStore, type RunRecord } from '../server/jobs/store.js';
import { openPostgres, type Db, type Queryable } from '../server/store/db.js';
import { migrate } from '../server/store/migrate.js';
import { silent } from './helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

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
});
