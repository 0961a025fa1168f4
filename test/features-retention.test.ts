// The feature store's retention settings (README "Feature store": retention) on the embedded TimescaleDB and on
// plain PostgreSQL 15: what /health says each does, the archive of a month retention will drop next (gzipped
// NDJSON + manifest), keyed pseudonyms in old raw rows, aggregate retention (and no recount bringing the pruned
// days back), and (TimescaleDB) compression.
// Rows older than the backfill window cannot come through ingest: the test writes them with SQL.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilities, monthsBefore, personPseudonym, pseudonym, pseudonymCutoff, recountFrom } from '../server/features/retention.js';
import { ADMIN, bootServer, createTenant, request, tmpDir, type Tenant } from './helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const DAY = 86_400_000;
const admin = { authorization: `Bearer ${ADMIN}` };

describe('retention settings: pure parts', () => {
  it('pseudonymises whole UTC days: the cutoff is the midnight at or before now − days, whatever time the job runs', () => {
    const at = (iso: string) => Date.parse(iso);
    expect(new Date(pseudonymCutoff(at('2026-12-01T04:45:00Z'), 90)).toISOString()).toBe('2026-09-02T00:00:00.000Z');
    expect(new Date(pseudonymCutoff(at('2026-12-01T23:59:59.999Z'), 90)).toISOString()).toBe('2026-09-02T00:00:00.000Z');
    expect(new Date(pseudonymCutoff(at('2026-12-01T00:00:00Z'), 1)).toISOString()).toBe('2026-11-30T00:00:00.000Z');
  });
  it('recounts whole days from the first one at or after the aggregate retention cutoff, never before', () => {
    const at = (iso: string) => Date.parse(iso);
    const day = (ms: number) => new Date(ms).toISOString();
    expect(day(recountFrom(at('2025-06-15T12:00:00Z'), at('2025-12-01T04:00:00Z')))).toBe('2025-12-02T00:00:00.000Z');
    expect(day(recountFrom(at('2025-06-15T12:00:00Z'), at('2025-12-01T00:00:00Z')))).toBe('2025-12-01T00:00:00.000Z');
    expect(day(recountFrom(at('2026-01-10T12:00:00Z'), at('2025-12-01T04:00:00Z')))).toBe('2026-01-10T00:00:00.000Z');
    expect(day(recountFrom(at('2025-06-15T12:00:00Z'), null))).toBe('2025-06-15T00:00:00.000Z');
  });
  it('says what each setting does, and what a plain PostgreSQL or a missing key cannot', () => {
    const s = { aggregateRetentionMonths: 24, compressAfterDays: 30, archiveDir: '/a', pseudonymizeAfterDays: 90 };
    expect(capabilities(s, false, true)).toEqual({ aggregate_retention: '24 months', compression: 'after 30 days', archive: 'to /a', pseudonymize: 'after 90 days' });
    expect(capabilities(s, true, false).compression).toMatch(/^unsupported/);
    expect(capabilities(s, true, false).pseudonymize).toMatch(/^unsupported/);
    expect(capabilities({ ...s, compressAfterDays: 0, archiveDir: null, pseudonymizeAfterDays: 0 }, true, true)).toMatchObject({ compression: 'off', archive: 'off', pseudonymize: 'off' });
  });

  it('keys pseudonyms: stable per id, different per id, kind and key; person pseudonyms are negative', () => {
    const k = crypto.randomBytes(32);
    expect(pseudonym(k, 'visitor', 'v1')).toBe(pseudonym(k, 'visitor', 'v1'));
    expect(pseudonym(k, 'visitor', 'v1')).toMatch(/^px_[0-9a-f]{32}$/);
    expect(new Set([pseudonym(k, 'visitor', 'v1'), pseudonym(k, 'visitor', 'v2'), pseudonym(k, 'session', 'v1'), pseudonym(crypto.randomBytes(32), 'visitor', 'v1')]).size).toBe(4);
    expect(BigInt(personPseudonym(k, '1', '7')) < 0n).toBe(true);
    expect(monthsBefore(Date.parse('2026-03-31T00:00:00Z'), 1)).toBe(Date.parse('2026-03-03T00:00:00Z'));
  });
});

const stores = [
  { name: 'embedded TimescaleDB', plain: false },
  { name: 'plain PostgreSQL', plain: true },
];

describe.each(stores)('retention jobs on $name', ({ plain }) => {
  let scratch: ScratchDatabase | undefined;
  const archiveDir = tmpDir('fs-archive-');
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  // ~13 months: its month starts before now - (RETENTION_MONTHS - 1) = 13 months (archived), and it is younger than
  // RETENTION_MONTHS (not dropped), older than AGGREGATE_RETENTION_MONTHS (its aggregates pruned). Noon (UTC) of
  // that day: its 50 minutes of rows stay in one day and one month whatever time the test runs (from 23:10 on,
  // now − 400 days kept the time of day, and on a month's last day the rows spanned two months).
  const old = Math.floor((Date.now() - 400 * DAY) / DAY) * DAY + DAY / 2;
  const run = async (job: string) => {
    const r = await request('POST', `${server.url}/api/admin/jobs/${job}/run`, undefined, admin);
    expect(r.json?.status, `${job}: ${r.text}`).toBe('succeeded');
    return r.json;
  };

  beforeAll(async () => {
    const env: Record<string, string> = {
      DATA_DIR: tmpDir(), DEMO_TENANT: '0', RETENTION_MONTHS: '14', RETENTION_INTERVAL_S: '604800', AGGREGATE_RETENTION_MONTHS: '12', ARCHIVE_DIR: archiveDir,
      PSEUDONYMIZE_AFTER_DAYS: '30', COMPRESS_AFTER_DAYS: '30', ENCRYPTION_KEY: crypto.randomBytes(32).toString('hex'),
    };
    if (plain) {
      scratch = await scratchDatabase('fsr');
      env.DATABASE_URL = scratch.url;
    }
    server = await bootServer(env);
    t = await createTenant(server.url, 'fsr');
    // 50 old rows over two hours of one day, 3 visitors, persons 1/2; and 5 recent rows of a visitor that must stay raw.
    await server.db.query(`INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, visitor_id, session_id, person_id, consent_snapshot, entities)
      SELECT gen_random_uuid(), 'event_view', $2::timestamptz + (i || ' minutes')::interval, $1, 'web', 'v' || (i % 3), 's' || (i % 3), CASE WHEN i % 3 = 0 THEN NULL ELSE i % 3 END,
        '{}'::jsonb, '{"event_entity_id":"E1"}'::jsonb FROM generate_series(1, 50) i`, [t.tenant_id, new Date(old).toISOString()]);
    await server.db.query(`INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, visitor_id, consent_snapshot, entities)
      SELECT gen_random_uuid(), 'event_view', now() - (i || ' hours')::interval, $1, 'web', 'recent', '{}'::jsonb, '{"event_entity_id":"E1"}'::jsonb FROM generate_series(1, 5) i`, [t.tenant_id]);
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    if (plain) await scratch?.drop().catch(() => undefined);
  });

  it('reports in /health what each setting does here', async () => {
    const h = (await request('GET', `${server.url}/health`)).json;
    expect(h.feature_store.aggregate_retention).toBe('12 months');
    expect(h.feature_store.compression).toBe(plain ? 'unsupported: plain PostgreSQL has no TimescaleDB compression' : 'after 30 days');
    expect(h.feature_store.archive).toBe(`to ${archiveDir}`);
    expect(h.feature_store.pseudonymize).toBe('after 30 days');
  });

  it('archives the old month once as gzipped NDJSON with a manifest of its row count', async () => {
    await run('features.archive');
    const manifest = JSON.parse(fs.readFileSync(path.join(archiveDir, 'manifest.json'), 'utf8'));
    expect(manifest).toHaveLength(1);
    expect(manifest[0]).toMatchObject({ tenant_id: t.tenant_id, month: new Date(old).toISOString().slice(0, 7), rows: 50 });
    const lines = zlib.gunzipSync(fs.readFileSync(path.join(archiveDir, manifest[0].file))).toString().trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(50);
    expect(new Set(lines.map((l) => l.event_id)).size).toBe(50);
    expect(crypto.createHash('sha256').update(fs.readFileSync(path.join(archiveDir, manifest[0].file))).digest('hex')).toBe(manifest[0].sha256);
    await run('features.archive');
    expect(JSON.parse(fs.readFileSync(path.join(archiveDir, 'manifest.json'), 'utf8'))).toHaveLength(1);
  });

  it('keeps aggregates AGGREGATE_RETENTION_MONTHS, then drops them', async () => {
    await run('features.full');
    const count = async () => Number((await server.db.query<{ n: string }>('SELECT count(*) AS n FROM fs_event_daily WHERE tenant_id = $1 AND date < now() - interval \'300 days\'', [t.tenant_id])).rows[0].n);
    expect(await count()).toBeGreaterThan(0);
    await run('features.aggregate_retention');
    expect(await count()).toBe(0);
    const recent = await server.db.query('SELECT 1 FROM fs_event_daily WHERE tenant_id = $1 AND date > now() - interval \'2 days\'', [t.tenant_id]);
    expect(recent.rows.length).toBeGreaterThan(0);
  });

  it('replaces visitor, session and person ids of rows past PSEUDONYMIZE_AFTER_DAYS by keyed pseudonyms, consistently', async () => {
    await run('features.pseudonymize');
    const rows = (await server.db.query<{ visitor_id: string; session_id: string | null; person_id: string | null; recent: boolean }>(
      'SELECT visitor_id, session_id, person_id::text AS person_id, occurred_at > now() - interval \'1 day\' AS recent FROM tx_events WHERE tenant_id = $1', [t.tenant_id])).rows;
    const oldRows = rows.filter((r) => !r.recent);
    expect(oldRows).toHaveLength(50);
    expect(oldRows.every((r) => /^px_/.test(r.visitor_id) && /^px_/.test(r.session_id!))).toBe(true);
    expect(new Set(oldRows.map((r) => r.visitor_id)).size).toBe(3);
    expect(oldRows.filter((r) => r.person_id !== null).every((r) => BigInt(r.person_id!) < 0n)).toBe(true);
    expect(new Set(oldRows.filter((r) => r.person_id !== null).map((r) => r.person_id)).size).toBe(2);
    expect(rows.filter((r) => r.recent).every((r) => r.visitor_id === 'recent')).toBe(true);
  });

  it.skipIf(plain)('compresses raw chunks older than COMPRESS_AFTER_DAYS; their rows stay readable', async () => {
    await run('features.compress');
    const chunks = (await server.db.query<{ is_compressed: boolean; range_end: string }>(
      "SELECT is_compressed, range_end FROM timescaledb_information.chunks WHERE hypertable_name = 'tx_events'")).rows;
    expect(chunks.filter((c) => new Date(c.range_end).getTime() < Date.now() - 30 * DAY).every((c) => c.is_compressed)).toBe(true);
    expect(chunks.some((c) => c.is_compressed)).toBe(true);
    expect(chunks.filter((c) => new Date(c.range_end).getTime() > Date.now()).every((c) => !c.is_compressed)).toBe(true);
    const n = (await server.db.query<{ n: string }>('SELECT count(*) AS n FROM tx_events WHERE tenant_id = $1', [t.tenant_id])).rows[0].n;
    expect(Number(n)).toBe(55);
    // A GDPR erasure deletes rows inside compressed chunks.
    await server.db.query("DELETE FROM tx_events WHERE tenant_id = $1 AND occurred_at < now() - interval '300 days' AND visitor_id = (SELECT min(visitor_id) FROM tx_events WHERE tenant_id = $1 AND occurred_at < now() - interval '300 days')", [t.tenant_id]);
    const left = (await server.db.query<{ n: string }>('SELECT count(*) AS n FROM tx_events WHERE tenant_id = $1', [t.tenant_id])).rows[0].n;
    expect(Number(left)).toBeLessThan(55);
  });
});

// AGGREGATE_RETENTION_MONTHS (12) below RETENTION_MONTHS (24): the raw rows of the days between the two stay, their
// aggregates go. No recount may bring those days back: features.full (daily at 03:15, before the retention job at
// 04:00), the incremental jobs on rows they have not seen yet, and the pseudonymisation's refresh of the days it
// changed. Both stores answer the same.
const answers = new Map<string, unknown>();

describe.each(stores)('aggregates pruned by retention stay pruned on $name', ({ name, plain }) => {
  let scratch: ScratchDatabase | undefined;
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  // Noon (UTC) of the day 400 days ago: older than 12 months, younger than 24.
  const old = Math.floor((Date.now() - 400 * DAY) / DAY) * DAY + DAY / 2;
  const day = (ms: number) => new Date(Math.floor(ms / DAY) * DAY).toISOString();
  const run = async (job: string) => {
    const r = await request('POST', `${server.url}/api/admin/jobs/${job}/run`, undefined, admin);
    expect(r.json?.status, `${job}: ${r.text}`).toBe('succeeded');
  };
  const oldViews = async () => {
    const r = await request('GET', `${server.url}/api/v1/analytics/events/E1?bucket=day&from=${day(old - DAY)}&to=${day(old + 2 * DAY)}`, undefined,
      { authorization: `Bearer ${t.secret_key}` });
    expect(r.status, r.text).toBe(200);
    return r.json.series.map((p: { page_views: number }) => p.page_views);
  };
  /** Rows of each aggregate and timing table: dated before 300 days ago (the old day), and since. */
  const rows = async () => {
    const out: Record<string, [number, number]> = {};
    for (const [table, col] of [['fs_event_funnel_hourly', 'hour'], ['fs_event_daily', 'date'], ['fs_person_daily', 'date'], ['fs_event_funnel_timings', 'hour'], ['fs_person_daily_timings', 'date']]) {
      const r = (await server.db.query<{ old: number; recent: number }>(
        `SELECT count(*) FILTER (WHERE ${col} < now() - interval '300 days')::int AS old, count(*) FILTER (WHERE ${col} >= now() - interval '300 days')::int AS recent
         FROM ${table} WHERE tenant_id = $1`, [t.tenant_id])).rows[0];
      out[table] = [r.old, r.recent];
    }
    return out;
  };
  /** rows() once the old day is pruned: none before, the recent rows as features.full left them. */
  let pruned: Record<string, [number, number]>;

  beforeAll(async () => {
    const env: Record<string, string> = {
      DATA_DIR: tmpDir(), DEMO_TENANT: '0', RETENTION_INTERVAL_S: '604800', AGGREGATE_RETENTION_MONTHS: '12',
      PSEUDONYMIZE_AFTER_DAYS: '30', ENCRYPTION_KEY: crypto.randomBytes(32).toString('hex'),
    };
    if (plain) {
      scratch = await scratchDatabase('fsrfull');
      env.DATABASE_URL = scratch.url;
    }
    server = await bootServer(env);
    t = await createTenant(server.url, 'fsr-full');
    // Old and recent alike: person 4 views E1; person 5 views E2, adds to cart and orders a minute apart (a
    // funnel timing and a decision time). The recent rows two hours ago, from other visitors (their own first steps).
    const insert = `INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, visitor_id, session_id, person_id, consent_snapshot, entities)
      SELECT gen_random_uuid(), e.name, $2::timestamptz + (e.i || ' minutes')::interval, $1, 'web', e.v || $3, e.v || $3, e.p, '{}'::jsonb, jsonb_build_object('event_entity_id', e.ev)
      FROM (VALUES ('event_view', 0, 'v4', 4, 'E1'), ('event_view', 1, 'v5', 5, 'E2'), ('add_to_cart', 2, 'v5', 5, 'E2'), ('order_completed', 3, 'v5', 5, 'E2'))
        AS e(name, i, v, p, ev)`;
    await server.db.query(insert, [t.tenant_id, new Date(old).toISOString(), '']);
    await server.db.query(insert, [t.tenant_id, new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000).toISOString(), 'r']);
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await scratch?.drop();
  });

  it('features.full counts the old day; features.aggregate_retention removes it', async () => {
    await run('features.full');
    expect(await oldViews()).toEqual([0, 1, 0]);
    const full = await rows();
    for (const [table, [before, since]] of Object.entries(full)) expect([table, before > 0, since > 0]).toEqual([table, true, true]);
    pruned = Object.fromEntries(Object.entries(full).map(([table, [, since]]) => [table, [0, since]]));
    await run('features.aggregate_retention');
    expect(await oldViews()).toEqual([0, 0, 0]);
    expect(await rows()).toEqual(pruned);
  });

  it('features.full after the retention job leaves the pruned days pruned', async () => {
    await run('features.full');
    expect(await oldViews()).toEqual([0, 0, 0]);
    expect(await rows()).toEqual(pruned);
  });

  it('nor do the incremental jobs (on rows they had not seen) or the pseudonymisation (which refreshes the days it changed)', async () => {
    for (const job of ['features.refresh', 'features.timings', 'features.persons', 'features.attendance', 'features.pseudonymize']) await run(job);
    expect(await oldViews()).toEqual([0, 0, 0]);
    expect(await rows()).toEqual(pruned);
    await run('features.full');
    expect(await oldViews()).toEqual([0, 0, 0]);
    expect(await rows()).toEqual(pruned);
    answers.set(name, { views: await oldViews(), rows: await rows() });
  });
});

describe('aggregates pruned by retention, both stores', () => {
  it('answer the same', () => {
    expect(answers.size).toBe(2);
    const [a, b] = [...answers.values()];
    expect(a).toEqual(b);
  });
});
