// The embedded store vacuums from the job runner (jobs/vacuum.ts): PGlite runs no autovacuum, so without the job
// space freed by deletes and updates is never reused and files only grow.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, bootServer, createTenant, jobContext, request, silent, until, webEvent } from './helpers.js';
import { batch } from './identity-helpers.js';

describe('store.vacuum on the embedded store', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  const admin = { authorization: `Bearer ${ADMIN}` };
  const runJob = async () => (await request('POST', `http://127.0.0.1:${server.port}/api/admin/jobs/store.vacuum/run`, undefined, admin)).json as { status: string; rows: number };
  const size = async (table: string) => Number((await server.db.query<{ n: string }>(`SELECT pg_relation_size('${table}')::text AS n`)).rows[0].n);
  /** What a recompute does (the feature store's windows): delete the rows, insert them again. */
  const recompute = (table: string, round: number) => server.db.tx(async (q) => {
    await q.query(`DELETE FROM ${table}`);
    await q.query(`INSERT INTO ${table} SELECT 1, g, ${round} FROM generate_series(1, 5000) g`);
  });

  beforeAll(async () => {
    server = await bootServer();
    // The baseline is a TEMP table: the job skips those, so the scheduled run (at boot, then every 5 min) cannot
    // vacuum it between two rounds and make it grow less than a table nobody vacuums (the embedded store is one
    // session, so it lives as long as the server).
    await server.db.query('CREATE TEMP TABLE vacuum_probe_off (tenant_id bigint NOT NULL, hour int NOT NULL, n int NOT NULL, PRIMARY KEY (tenant_id, hour))');
    await server.db.query('CREATE TABLE vacuum_probe_on (tenant_id bigint NOT NULL, hour int NOT NULL, n int NOT NULL, PRIMARY KEY (tenant_id, hour))');
  });
  afterAll(async () => server?.close());

  it('lets rewritten rows reuse the space of the rows they replaced: the table stops growing', async () => {
    const listed = await request('GET', `http://127.0.0.1:${server.port}/api/admin/jobs`, undefined, admin);
    expect(listed.json.jobs.map((j: { name: string }) => j.name)).toContain('store.vacuum');
    // Without a vacuum in between, each round appends a whole copy.
    for (let i = 0; i < 8; i++) await recompute('vacuum_probe_off', i);
    const grown = await size('vacuum_probe_off');
    await recompute('vacuum_probe_on', 0);
    const one = await size('vacuum_probe_on');
    expect(grown).toBeGreaterThanOrEqual(6 * one);
    // With the job between rounds, the freed space is reused.
    for (let i = 1; i < 8; i++) {
      const run = await runJob();
      expect(run.status).toBe('succeeded');
      expect(run.rows).toBeGreaterThan(0);
      await recompute('vacuum_probe_on', i);
    }
    expect(await size('vacuum_probe_on')).toBeLessThanOrEqual(3 * one);
  });

  it('vacuums every table of the server, the hypertable chunks included', async () => {
    const t = await createTenant(`http://127.0.0.1:${server.port}`, 'vacuum');
    expect((await batch(`http://127.0.0.1:${server.port}`, t, [webEvent({ visitor_id: 'vac-1' })])).json.accepted).toBe(1);
    const chunks = await server.db.query<{ rel: string }>(`SELECT c.oid::regclass::text AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '_timescaledb_internal' AND c.relkind = 'r' AND c.relname LIKE '%chunk'`);
    expect(chunks.rows.length).toBeGreaterThan(0);
    // Runs until none is left: one run stops starting VACUUMs after its 2 s budget (a loaded machine may not get
    // through every table in one), and a scheduled job (the feature store's) may create a chunk after a run.
    const neverVacuumed = async () => (await server.db.query<{ rel: string }>(`
      SELECT c.oid::regclass::text AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
      WHERE c.relkind = 'r' AND n.nspname IN ('public', '_timescaledb_internal') AND NOT c.relhassubclass AND s.last_vacuum IS NULL`)).rows;
    let left: { rel: string }[] | null = null;
    await until(async () => {
      await runJob();
      left = await neverVacuumed();
      return left.length === 0;
    }, 60_000, 200).catch(() => undefined); // the assertion below says what is missing
    expect(left).toEqual([]);
  }, 120_000);

  it('skips a table dropped between the listing and its turn (retention drops chunks while it runs)', async () => {
    await server.db.query('CREATE TABLE vacuum_probe_gone (tenant_id bigint NOT NULL)');
    // Its turn comes first (never vacuumed); it is gone by then.
    const { vacuumJob } = await import('../server/jobs/vacuum.js');
    let dropped = false;
    const db = {
      ...server.db,
      query: async (sql: string, params?: unknown[]) => {
        if (!dropped && sql.startsWith('VACUUM')) {
          dropped = true;
          await server.db.query('DROP TABLE vacuum_probe_gone');
        }
        return server.db.query(sql, params);
      },
    } as typeof server.db;
    const job = vacuumJob({ db, log: silent });
    const n = await job.run(jobContext(job.name));
    expect(dropped).toBe(true);
    expect(n).toBeGreaterThan(0);
  });
});
