// The jobs admin API through the real server on the embedded store: list, run now (finished → 200 with the
// run record, longer than the wait → 202 with the run id), runs paging, refusals, and the /metrics lines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../server/app.js';
import { loadConfig } from '../server/config/index.js';
import { ADMIN, createTenant, orderEvent, request, silent, tmpDir, until } from './helpers.js';
import { serverEvents } from './identity-helpers.js';

/** HH:MM (UTC) twelve hours from now. */
const AWAY = new Date(Date.now() + 12 * 3_600_000).toISOString().slice(11, 16);

describe('jobs admin API', () => {
  let server: RunningServer;
  const admin = { authorization: `Bearer ${ADMIN}` };
  const get = (p: string) => request('GET', `${server.url}${p}`, undefined, admin);
  const post = (p: string) => request('POST', `${server.url}${p}`, undefined, admin);

  beforeAll(async () => {
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: tmpDir('jobs-admin-'), ADMIN_TOKEN: ADMIN });
    server = await startServer(config, { log: silent, jobRunWaitMs: 300 });
    const sleep = (ms: number, signal: AbortSignal) => new Promise((r, j) => {
      const t = setTimeout(r, ms);
      signal.addEventListener('abort', () => (clearTimeout(t), j(signal.reason)));
    });
    // The test jobs run only when asked: their scheduled window opens 12 h from now, never while the test runs
    // (a window is claimed only in its first minutes, so a window opening now would add scheduled runs).
    server.jobs.register({ name: 'test.slow', schedule: { daily: AWAY, tz: 'UTC' }, timeoutS: 30, run: async (ctx) => (await sleep(1500, ctx.signal), 7) });
    server.jobs.register({ name: 'test.fail', schedule: { daily: AWAY, tz: 'UTC' }, timeoutS: 30, run: async () => { throw new Error('test.fail: refused'); } });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('lists every job with its schedule, last run and next run, for the operator only', async () => {
    expect((await request('GET', `${server.url}/api/admin/jobs`)).status).toBe(401);
    const r = await get('/api/admin/jobs');
    expect(r.status).toBe(200);
    const byName = Object.fromEntries(r.json.jobs.map((j: { name: string }) => [j.name, j]));
    expect(Object.keys(byName)).toEqual(expect.arrayContaining(['ingest.ledger_prune', 'jobs.prune_runs', 'gdpr.retention', 'persons.stats', 'test.slow']));
    expect(byName['ingest.ledger_prune']).toMatchObject({ schedule: 'every 3600 s', timeout_s: 600 });
    expect(byName['jobs.prune_runs'].schedule).toBe('daily at 03:30 UTC');
    expect(byName['test.slow'].schedule).toBe(`daily at ${AWAY} UTC`);
    // An hourly check that acts once a day per tenant says so.
    expect(byName['campaigns.rebalance'].schedule).toBe("every 3600 s; each budget daily at 06:00 in its tenant's time zone");
    for (const j of r.json.jobs) {
      expect(Date.parse(j.next_run_at)).toBeGreaterThan(Date.now() - 5 * 60_000);
      expect(j).toHaveProperty('last_run');
    }
  });

  it('runs a job now and answers with the finished run: the expired ledger ids are pruned', async () => {
    const old = new Date(Date.now() - 400 * 86_400_000).toISOString();
    await server.db.query(
      "INSERT INTO tx_event_ids (tenant_id, event_id, received_at) SELECT 1, gen_random_uuid(), $1 FROM generate_series(1, 3)",
      [old],
    );
    await server.db.query('INSERT INTO tx_event_ids (tenant_id, event_id) VALUES (1, gen_random_uuid())');
    const r = await post('/api/admin/jobs/ingest.ledger_prune/run');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ job: 'ingest.ledger_prune', manual: true, status: 'succeeded', rows: 3, error: null, attempt: 1 });
    expect(Date.parse(r.json.finished_at)).toBeGreaterThanOrEqual(Date.parse(r.json.started_at));
    const left = await server.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tx_event_ids');
    expect(left.rows[0].n).toBe(1);
    // The list shows it as the last run.
    const list = (await get('/api/admin/jobs')).json.jobs.find((j: { name: string }) => j.name === 'ingest.ledger_prune');
    expect(list.last_run).toMatchObject({ id: r.json.id, status: 'succeeded', rows: 3 });
  });

  it('recomputes the persons\' derived stats in persons.stats', async () => {
    const t = await createTenant(server.url, 'jobs-stats');
    const order = orderEvent({ payload: { ...orderEvent().payload, consent_data_processing: true, customer: { external_id: 'C-stats' } } });
    const sent = await serverEvents(server.url, t, { events: [order] });
    expect(sent.json, JSON.stringify(sent.json)).toMatchObject({ accepted: 1 });
    const person = async () => (await server.db.query<{ total_orders: number }>('SELECT total_orders FROM persons WHERE tenant_id = $1 AND external_id = $2', [t.tenant_id, 'C-stats'])).rows[0];
    expect((await person()).total_orders).toBe(1);
    // Drift the projector cannot see (e.g. a later stitching): the job puts the derived value back.
    await server.db.query('UPDATE persons SET total_orders = 0 WHERE tenant_id = $1', [t.tenant_id]);
    const r = await post('/api/admin/jobs/persons.stats/run');
    expect(r.json).toMatchObject({ status: 'succeeded', error: null });
    expect(r.json.rows).toBeGreaterThanOrEqual(1);
    expect((await person()).total_orders).toBe(1);
  });

  it('records a failing manual run with its error', async () => {
    const r = await post('/api/admin/jobs/test.fail/run');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'failed', error: 'test.fail: refused', retry_at: null });
    expect(r.json.failures).toMatchObject([{ attempt: 1, error: 'test.fail: refused' }]);
  });

  it('answers 202 with the run id when the run outlasts the wait, and the run finishes afterwards', async () => {
    const r = await post('/api/admin/jobs/test.slow/run');
    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({ status: 'running' });
    expect(typeof r.json.id).toBe('number');
    const done = await until(async () => {
      const runs = (await get('/api/admin/jobs/test.slow/runs')).json.runs;
      return runs.find((x: { id: number; status: string }) => x.id === r.json.id && x.status === 'succeeded');
    }, 20_000);
    expect(done).toMatchObject({ rows: 7, error: null });
  });

  it('pages through the runs of a job, newest first', async () => {
    for (let i = 0; i < 3; i++) expect((await post('/api/admin/jobs/jobs.prune_runs/run')).status).toBe(200);
    const first = await get('/api/admin/jobs/jobs.prune_runs/runs?limit=2');
    expect(first.status).toBe(200);
    expect(first.json.runs).toHaveLength(2);
    expect(first.json.runs[0].id).toBeGreaterThan(first.json.runs[1].id);
    const second = await get(`/api/admin/jobs/jobs.prune_runs/runs?limit=2&cursor=${first.json.next_cursor}`);
    expect(second.json.runs.length).toBeGreaterThanOrEqual(1);
    expect(second.json.runs[0].id).toBeLessThan(first.json.runs[1].id);
    // A cursor of another job's list is refused.
    const other = await get(`/api/admin/jobs/ingest.ledger_prune/runs?cursor=${first.json.next_cursor}`);
    expect({ status: other.status, field: other.json.error.field }).toEqual({ status: 400, field: 'cursor' });
  });

  it('refuses unknown jobs, malformed names and bad paging with 4xx naming the problem', async () => {
    const unknown = await post('/api/admin/jobs/no.such.job/run');
    expect({ status: unknown.status, code: unknown.json.error.code }).toEqual({ status: 404, code: 'unknown_job' });
    expect((await get('/api/admin/jobs/no.such.job/runs')).status).toBe(404);
    for (const bad of ['a%00b', '%ZZ', 'UPPER', 'x'.repeat(65)]) {
      const r = await post(`/api/admin/jobs/${bad}/run`);
      expect(r.status).toBe(400);
      expect(['name', 'path']).toContain(r.json.error.field);
    }
    const lim = await get('/api/admin/jobs/jobs.prune_runs/runs?limit=100000');
    expect({ status: lim.status, field: lim.json.error.field }).toEqual({ status: 400, field: 'limit' });
    expect((await request('POST', `${server.url}/api/admin/jobs/test.fail/run`, undefined, { authorization: 'Bearer nope' })).status).toBe(401);
  });

  it('exports per-job counters on /metrics', async () => {
    const text = (await request('GET', `${server.url}/metrics`)).text as string;
    expect(text).toMatch(/^tx_job_runs_total\{job="ingest\.ledger_prune",status="succeeded"\} [1-9]\d*$/m);
    expect(text).toMatch(/^tx_job_runs_total\{job="test\.fail",status="failed"\} 1$/m);
    expect(text).toMatch(/^tx_job_last_success_timestamp_seconds\{job="ingest\.ledger_prune"\} \d+$/m);
    expect(text).toMatch(/^tx_job_running\{job="gdpr\.retention"\} 0$/m);
  });
});
