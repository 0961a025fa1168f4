// The embedded store gathers planner statistics from the job runner (jobs/analyze.ts): PGlite runs no
// autovacuum, so without the job every table and chunk stays "never analyzed".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, bootServer, createTenant, jobContext, request, silent, webEvent, type Tenant } from './helpers.js';
import { batch } from './identity-helpers.js';

describe('store.analyze on the embedded store', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  const admin = { authorization: `Bearer ${ADMIN}` };
  const base = () => `http://127.0.0.1:${server.port}`;
  const runJob = async () => (await request('POST', `${base()}/api/admin/jobs/store.analyze/run`, undefined, admin)).json as { status: string; rows: number };
  const send = async (tag: string, batches: number) => {
    for (let i = 0; i < batches; i++) {
      const r = await batch(base(), t, Array.from({ length: 100 }, (_, k) => webEvent({ visitor_id: `an-${tag}-${i}-${k}`, payload: { note: 'x'.repeat(300) } })));
      expect(r.json.accepted).toBe(100);
    }
  };

  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(base(), 'analyze');
  });
  afterAll(async () => server?.close());

  it('analyzes the tables never analyzed, then only those that grew by a fifth since', async () => {
    const listed = await request('GET', `${base()}/api/admin/jobs`, undefined, admin);
    expect(listed.json.jobs.map((j: { name: string }) => j.name)).toContain('store.analyze');
    await send('a', 10);
    // What the writes filled is analyzed (by this run or a scheduled one); a table the first runs filled (the
    // audit log of the manual run) may take one more. Then nothing is due.
    let rows = -1;
    for (let i = 0; i < 4 && rows !== 0; i++) {
      const r = await runJob();
      expect(r.status).toBe('succeeded');
      rows = r.rows;
    }
    expect(rows).toBe(0);
    // The events' chunk and the idempotency ledger double: due again.
    await send('b', 12);
    const third = await runJob();
    expect(third.status).toBe('succeeded');
    expect(third.rows).toBeGreaterThanOrEqual(2);
    expect((await runJob()).rows).toBe(0);
  });

  it('skips a table dropped between the listing and its turn (retention drops chunks while it runs)', async () => {
    await server.db.query('CREATE TABLE analyze_probe_gone AS SELECT g AS n FROM generate_series(1, 100) g');
    const { analyzeJob } = await import('../server/jobs/analyze.js');
    let dropped = false;
    const db = {
      ...server.db,
      tx: async (fn: Parameters<typeof server.db.tx>[0]) => {
        if (!dropped) {
          dropped = true;
          await server.db.query('DROP TABLE analyze_probe_gone');
        }
        return server.db.tx(fn);
      },
    } as typeof server.db;
    const job = analyzeJob({ db, log: silent });
    await expect(job.run(jobContext(job.name))).resolves.toBeGreaterThanOrEqual(0);
    expect(dropped).toBe(true);
  });
});
