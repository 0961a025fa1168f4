// Plain PostgreSQL mode (README "Plain PostgreSQL mode"): the real server on the machine's PostgreSQL 15 without
// TimescaleDB, a fresh database per run (random name, dropped after). tx_events in monthly partitions with a
// DEFAULT one; ingest, read-back, live history, sessions and identity, GDPR erase, the catalog, the jobs
// (store.partitions, gdpr.retention) and a restart on the same database.
import crypto from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPersonDataRegistry } from '../server/app.js';
import { uncovered } from '../server/gdpr/registry.js';
import { decideServerKind, storeKindOf } from '../server/store/db.js';
import { forFlavour } from '../server/store/migrate.js';
import { expiredPartitions, monthOf, monthStart, wantedMonths } from '../server/store/partitions.js';
import { ADMIN, bootServer, createTenant, eventsOf, orderEvent, request, tmpDir, until, webEvent, wireDatabase, type Tenant } from './helpers.js';
import { api, batch, identify, serverEvents } from './identity-helpers.js';
import { mintToken } from './live-helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const DAY = 86_400_000;
const admin = { authorization: `Bearer ${ADMIN}` };

describe('plain PostgreSQL mode: pure parts', () => {
  it('skips timescale-only sections and un-comments plain-only lines on plain PostgreSQL, and the reverse with TimescaleDB', () => {
    const sql = 'CREATE TABLE t (a int)\n-- plain-only: PARTITION BY RANGE (a)\n;\n-- timescale-only\nSELECT create_hypertable(1);\n-- end timescale-only\nSELECT 2;';
    expect(forFlavour(sql, 'plain')).toBe('CREATE TABLE t (a int)\nPARTITION BY RANGE (a)\n;\nSELECT 2;');
    expect(forFlavour(sql, 'timescaledb')).toBe('CREATE TABLE t (a int)\n-- plain-only: PARTITION BY RANGE (a)\n;\nSELECT create_hypertable(1);\nSELECT 2;');
  });

  it('wants the months from backfill (not before the retention cutoff) to two ahead, plus waiting months not past retention', () => {
    const now = new Date('2026-11-30T23:00:00Z');
    expect(wantedMonths(now, { backfillDays: 7, retentionMonths: 24 })).toEqual(['202611', '202612', '202701']);
    expect(wantedMonths(now, { backfillDays: 40, retentionMonths: 24 })).toEqual(['202610', '202611', '202612', '202701']);
    expect(wantedMonths(now, { backfillDays: 3650, retentionMonths: 2 })).toEqual(['202609', '202610', '202611', '202612', '202701']);
    expect(wantedMonths(now, { backfillDays: 7, retentionMonths: 24 }, ['202401', '202502'])).toEqual(['202502', '202611', '202612', '202701']);
  });

  it('is TimescaleDB only with the extension on a database not already set up plain; /health says which store', () => {
    expect(decideServerKind({ timescale: true, partitioned: false })).toBe('timescaledb');
    expect(decideServerKind({ timescale: false, partitioned: false })).toBe('postgres');
    expect(decideServerKind({ timescale: true, partitioned: true })).toBe('postgres'); // the extension appeared later
    expect(storeKindOf({ kind: 'embedded' })).toBe('embedded');
    expect(storeKindOf({ kind: 'postgres', plain: false })).toBe('timescaledb');
    expect(storeKindOf({ kind: 'postgres', plain: true })).toBe('postgres');
  });

  it('drops only partitions whose whole month ends at or before the cutoff, never the DEFAULT one', () => {
    const names = ['tx_events_p202608', 'tx_events_p202609', 'tx_events_default', 'tx_events_p202613'];
    expect(expiredPartitions(names, new Date('2026-09-01T00:00:00Z'))).toEqual(['tx_events_p202608']);
    expect(expiredPartitions(names, new Date('2026-09-30T23:59:59Z'))).toEqual(['tx_events_p202608']);
    expect(expiredPartitions(names, new Date('2026-10-01T00:00:00Z'))).toEqual(['tx_events_p202608', 'tx_events_p202609']);
  });
});

describe('plain PostgreSQL mode: the server on PostgreSQL 15 without TimescaleDB', () => {
  let scratch: ScratchDatabase | undefined;
  let sql: pg.Client;
  let url: string;
  const dataDir = tmpDir();
  const env = () => ({ DATABASE_URL: url, DATA_DIR: dataDir, BACKFILL_DAYS: '90', RETENTION_MONTHS: '12' });
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  const base = () => server.url;
  const partitions = async () =>
    (await sql.query<{ name: string }>("SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'tx_events'::regclass ORDER BY 1")).rows.map((r) => r.name);
  const whereStored = async (eventId: string) =>
    (await sql.query<{ p: string }>('SELECT tableoid::regclass::text AS p FROM tx_events WHERE event_id = $1', [eventId])).rows.map((r) => r.p);
  const runJob = (job: string) => request('POST', `${base()}/api/admin/jobs/${job}/run`, undefined, admin);

  beforeAll(async () => {
    scratch = await scratchDatabase('plain');
    url = scratch.url;
    sql = new pg.Client({ connectionString: url });
    await sql.connect();
    server = await bootServer(env());
    t = await createTenant(base(), 'plain');
  }, 90_000);
  afterAll(async () => {
    await server?.close();
    await sql?.end();
    await scratch?.drop();
  });

  it('reports store "postgres", leaves the extension alone and partitions tx_events by month, current month + 2 ahead and back to backfill', async () => {
    const h = await request('GET', `${base()}/health`);
    expect(h.json).toMatchObject({ status: 'ok', store: 'postgres' });
    expect((await sql.query("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).rowCount).toBe(0);
    const now = new Date();
    const want = wantedMonths(now, { backfillDays: 90, retentionMonths: 12 }).map((m) => `tx_events_p${m}`);
    expect(want).toContain(`tx_events_p${monthOf(now)}`);
    expect(want.length).toBeGreaterThanOrEqual(5); // ≥ 3 months of backfill, this one, 2 ahead
    expect(await partitions()).toEqual([...want, 'tx_events_default'].sort());
  });

  it('covers every table of the plain schema in the GDPR registry; the partitions are tx_events\' own', async () => {
    const tables = (await sql.query<{ name: string; parent: string | null }>(
      `SELECT c.relname AS name, p.relname AS parent FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')`,
    )).rows;
    const partitionsOf = [...new Set(tables.filter((r) => r.parent !== null).map((r) => r.parent))];
    expect(partitionsOf).toEqual(['tx_events']);
    const own = tables.filter((r) => r.parent === null).map((r) => r.name);
    expect(uncovered(createPersonDataRegistry(), own)).toEqual([]);
  });

  it('ingests a batch (new, duplicate, rejected), reads back in pages, keeps an event_id once whatever its occurred_at', async () => {
    const a = webEvent({ visitor_id: 'pv1', session_id: 'ps1', occurred_at: new Date(Date.now() - 60_000).toISOString() });
    const b = webEvent({ visitor_id: 'pv1', session_id: 'ps1', event_name: 'add_to_cart', entities: { event_entity_id: 'PE1', cart_id: 'c1' }, payload: { items: [{ ticket_type_id: 'GA', qty: 1, price: 10 }], cart_value: 10, currency: 'EUR' } });
    const c = webEvent({ visitor_id: 'pv2', session_id: 'ps2', entities: { event_entity_id: 'PE1' } });
    const bad = webEvent({ occurred_at: 'yesterday' });
    const r1 = await batch(base(), t, [a, b, c, bad]);
    expect(r1.status).toBe(200);
    expect(r1.json).toMatchObject({ accepted: 3, duplicates: 0, rejected: [{ index: 3 }] });
    // The same id again, 40 days back (another month's partition): a duplicate, the first copy stays.
    const r2 = await batch(base(), t, [{ ...a, occurred_at: new Date(Date.now() - 40 * DAY).toISOString(), visitor_id: 'other' }, a]);
    expect(r2.json).toMatchObject({ accepted: 0, duplicates: 2, rejected: [] });
    expect(await whereStored(a.event_id)).toEqual([`tx_events_p${monthOf(new Date(a.occurred_at))}`]);

    const first = await request('GET', `${base()}/api/v1/tx/events?limit=2`, undefined, { authorization: `Bearer ${t.secret_key}` });
    expect(first.status).toBe(200);
    expect(first.json.events).toHaveLength(2);
    const second = await request('GET', `${base()}/api/v1/tx/events?limit=2&cursor=${encodeURIComponent(first.json.next_cursor)}`, undefined, { authorization: `Bearer ${t.secret_key}` });
    expect(second.json.events).toHaveLength(1);
    expect([...first.json.events, ...second.json.events].map((e: any) => e.event_id).sort()).toEqual([a.event_id, b.event_id, c.event_id].sort());
    const rej = await request('GET', `${base()}/api/v1/tx/rejected`, undefined, { authorization: `Bearer ${t.secret_key}` });
    expect(rej.status).toBe(200);
    expect(rej.json.rejected.map((r: any) => r.event_id)).toEqual([bad.event_id]);
  });

  it('answers live history per minute (date_bin) from the partitioned table', async () => {
    const token = await mintToken(base(), t, { role: 'organizer', org_id: 'PORG' });
    expect(token).toBeTruthy();
    const r = await request('GET', `${base()}/api/v1/live/events/PE1/history?minutes=5`, undefined, { authorization: `Bearer ${t.secret_key}` });
    expect(r.status).toBe(200);
    expect(r.json.series).toHaveLength(5);
    const sum = (k: string) => r.json.series.reduce((n: number, p: any) => n + p[k], 0);
    expect(sum('views')).toBe(1);
    expect(sum('add_to_carts')).toBe(1);
  });

  it('keeps sessions, stitches identity from an order, erases the person (GDPR) and upserts the catalog', async () => {
    // Sessions are folded after the commit here, and a read waits at most 5 s for that (then answers as it is):
    // read again until the session shows both events, then check it.
    const want = { session_id: 'ps1', visitor_id: 'pv1', events_count: 2 };
    const read = () => api(base(), t, 'GET', '/api/v1/sessions/ps1');
    await until(async () => { const r = await read(); return r.status === 200 && r.json.events_count === want.events_count; }, 30_000, 250).catch(() => undefined);
    const s = await read();
    expect(s.status).toBe(200);
    expect(s.json).toMatchObject(want);
    const order = orderEvent({ visitor_id: 'pv1', session_id: 'ps1', entities: { order_id: 'PO-1', event_entity_id: 'PE1' }, payload: { gross_amount: 20, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, customer: { external_id: 'cust-p', email: 'p@example.com' } } });
    expect((await serverEvents(base(), t, { events: [order] })).json).toMatchObject({ accepted: 1 });
    expect((await identify(base(), t, { visitor_id: 'pv2', external_id: 'cust-q' })).status).toBe(200);
    const pid = (await api(base(), t, 'GET', '/api/v1/persons?external_id=cust-p')).json.person_id;
    expect(typeof pid).toBe('number');
    const del = await api(base(), t, 'DELETE', `/api/v1/persons/${pid}`);
    expect(del.status).toBe(200);
    expect(del.json).toMatchObject({ person_id: pid, removed: { persons: 1 } });
    expect(del.json.removed.events).toBeGreaterThanOrEqual(1);
    expect((await sql.query("SELECT 1 FROM tx_events WHERE visitor_id = 'pv1' OR entities->>'order_id' = 'PO-1'")).rowCount).toBe(0);
    expect((await eventsOf(base(), t, 'visitor_id=pv2')).length).toBe(1);

    const put = await api(base(), t, 'PUT', '/api/v1/catalog/events', { items: [{ id: 'PE1', title: 'Plain Gala', organizer_id: 'PORG', starts_at: '2026-12-24T18:00:00Z' }] });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ upserted: 1, rejected: [] });
    expect((await api(base(), t, 'GET', '/api/v1/catalog/events/PE1')).json).toMatchObject({ id: 'PE1', title: 'Plain Gala' });
  }, 120_000);

  it('stores a row whose month has no partition (DEFAULT partition); store.partitions then moves it into its new month', async () => {
    const when = new Date(Date.now() - 75 * DAY);
    const month = `tx_events_p${monthOf(when)}`;
    // As if upkeep had not reached that month yet: its (empty) partition is gone.
    expect((await sql.query(`SELECT 1 FROM ${month}`)).rowCount).toBe(0);
    await sql.query(`DROP TABLE ${month}`);
    const e = webEvent({ visitor_id: 'pv-late', session_id: 'ps-late', occurred_at: when.toISOString() });
    expect((await batch(base(), t, [e])).json).toMatchObject({ accepted: 1, rejected: [] });
    expect(await whereStored(e.event_id)).toEqual(['tx_events_default']);
    expect((await eventsOf(base(), t, 'visitor_id=pv-late')).map((x) => x.event_id)).toEqual([e.event_id]);

    const jobs = await request('GET', `${base()}/api/admin/jobs`, undefined, admin);
    expect(jobs.json.jobs.map((j: any) => j.name)).toEqual(expect.arrayContaining(['store.partitions', 'gdpr.retention']));
    // The embedded store's stand-ins for a server's own processes: a PostgreSQL server runs its checkpointer and autovacuum.
    for (const own of ['store.checkpoint', 'store.analyze', 'store.vacuum']) expect(jobs.json.jobs.map((j: any) => j.name)).not.toContain(own);
    const run = await runJob('store.partitions');
    expect(run.status).toBe(200);
    expect(run.json).toMatchObject({ job: 'store.partitions', status: 'succeeded', rows: 2 }); // one partition + one row moved
    expect(await whereStored(e.event_id)).toEqual([month]);
    expect((await eventsOf(base(), t, 'visitor_id=pv-late')).map((x) => x.event_id)).toEqual([e.event_id]);
    // Idempotent: nothing left to do.
    expect((await runJob('store.partitions')).json).toMatchObject({ status: 'succeeded', rows: 0 });
  });

  it('loses no row sent to a month without partition while store.partitions attaches that month', async () => {
    const when = new Date(Date.now() - 40 * DAY); // another month than the test above (75 days back)
    const month = `tx_events_p${monthOf(when)}`;
    expect((await sql.query(`SELECT 1 FROM ${month}`)).rowCount).toBe(0);
    await sql.query(`DROP TABLE ${month}`);
    const at = (i: number) => new Date(monthStart(monthOf(when)).getTime() + 3_600_000 + i * 1000).toISOString();
    const early = webEvent({ visitor_id: 'pv-race', occurred_at: at(0) });
    expect((await batch(base(), t, [early])).json).toMatchObject({ accepted: 1 }); // in DEFAULT, to be moved
    // A reader holds the DEFAULT partition, so the job stops at its ATTACH, after moving the rows.
    const reader = new pg.Client({ connectionString: url });
    await reader.connect();
    const waiting = async (rel: string, mode: string) =>
      (await sql.query("SELECT 1 FROM pg_locks WHERE NOT granted AND relation = $1::regclass AND mode = $2", [rel, mode])).rowCount! > 0;
    const poll = async (ok: () => Promise<boolean>) => {
      const deadline = Date.now() + 30_000; // the job and the batch reach their lock wait late on a loaded machine
      while (Date.now() < deadline && !(await ok())) await new Promise((r) => setTimeout(r, 25));
      expect(await ok()).toBe(true);
    };
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM tx_events_default');
      const job = runJob('store.partitions');
      await poll(() => waiting('tx_events_default', 'AccessExclusiveLock'));
      // Rows for that month arrive now: they must wait for the ATTACH and land in the new partition.
      const late = Array.from({ length: 10 }, (_, j) => webEvent({ visitor_id: 'pv-race', occurred_at: at(j + 1) }));
      const sent = batch(base(), t, late);
      await poll(async () => (await waiting('tx_events', 'RowExclusiveLock')) || (await waiting('tx_events_default', 'RowExclusiveLock')));
      await reader.query('COMMIT');
      expect((await job).json).toMatchObject({ status: 'succeeded' });
      expect((await sent).json).toMatchObject({ accepted: 10, duplicates: 0, rejected: [] });
      const stored = (await sql.query<{ event_id: string; p: string }>(
        "SELECT event_id::text AS event_id, tableoid::regclass::text AS p FROM tx_events WHERE visitor_id = 'pv-race'",
      )).rows;
      expect(stored.map((r) => r.event_id).sort()).toEqual([early, ...late].map((e) => e.event_id).sort());
      expect(new Set(stored.map((r) => r.p))).toEqual(new Set([month]));
    } finally {
      await reader.end();
    }
  }, 120_000);

  it('gdpr.retention drops whole months past retention and expired rows left in the DEFAULT partition', async () => {
    // A month well past the 12 months of retention, attached the way the job does, and an old row in DEFAULT.
    await sql.query('CREATE TABLE tx_events_p202001 (LIKE tx_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)');
    await sql.query("ALTER TABLE tx_events ATTACH PARTITION tx_events_p202001 FOR VALUES FROM ('2020-01-01T00:00:00Z') TO ('2020-02-01T00:00:00Z')");
    const row = (id: string, at: string) =>
      sql.query("INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, consent_snapshot) VALUES ($1, 'event_view', $2, $3, 'web', '{}')", [id, at, t.tenant_id]);
    await row(crypto.randomUUID(), '2020-01-15T00:00:00Z');
    const inDefault = crypto.randomUUID();
    await row(inDefault, '2019-06-15T00:00:00Z');
    expect(await whereStored(inDefault)).toEqual(['tx_events_default']);
    const run = await runJob('gdpr.retention');
    expect(run.json).toMatchObject({ job: 'gdpr.retention', status: 'succeeded' });
    expect(run.json.rows).toBeGreaterThanOrEqual(2);
    expect(await partitions()).not.toContain('tx_events_p202001');
    expect(await whereStored(inDefault)).toEqual([]);
    // This month's partition is untouched.
    expect(await partitions()).toContain(`tx_events_p${monthOf(new Date())}`);
    // The operator's route answers what the job did: nothing left now.
    const direct = await request('POST', `${base()}/api/admin/retention/run`, undefined, admin);
    expect(direct.status).toBe(200);
    expect(direct.json).toMatchObject({ policy: { job_id: null, drop_after: '12 months' }, dropped_chunks: [], default_rows: 0 });
  });

  it('starts again on the same database: plain mode kept, migrations not re-applied, data still there', async () => {
    const before = (await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations')).rows[0].n;
    const stored = (await eventsOf(base(), t)).map((e) => e.event_id).sort();
    await server.close();
    server = await bootServer(env());
    expect((await request('GET', `${base()}/health`)).json).toMatchObject({ store: 'postgres' });
    expect((await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations')).rows[0].n).toBe(before);
    expect((await eventsOf(base(), t)).map((e) => e.event_id).sort()).toEqual(stored);
    const e = webEvent({ visitor_id: 'pv-after' });
    expect((await batch(base(), t, [e])).json).toMatchObject({ accepted: 1 });
    expect(await whereStored(e.event_id)).toEqual([`tx_events_p${monthOf(new Date(e.occurred_at))}`]);
  });
});

describe('/health store on a PostgreSQL server with TimescaleDB', () => {
  it('says "timescaledb", keeps the hypertable and registers no store.partitions job', { timeout: 120_000 }, async () => {
    const wire = await wireDatabase();
    const server = await bootServer({ DATABASE_URL: wire.url, DATABASE_POOL_MAX: '1' });
    try {
      expect((await request('GET', `${server.url}/health`)).json).toMatchObject({ store: 'timescaledb' });
      expect(server.db.plain).toBe(false);
      expect((await server.db.query("SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = 'tx_events'")).rows).toHaveLength(1);
      const jobs = (await request('GET', `${server.url}/api/admin/jobs`, undefined, admin)).json.jobs.map((j: any) => j.name);
      expect(jobs).toContain('gdpr.retention');
      expect(jobs).not.toContain('store.partitions');
    } finally {
      await server.close();
      await wire.close();
    }
  });
});
