// PSEUDONYMIZE_AFTER_DAYS and GDPR erasure together (README "Feature store": retention, GDPR), on the embedded
// TimescaleDB (continuous aggregates) and on plain PostgreSQL 15: pseudonymised raw rows no longer name the
// customer in their payload, the person features of the days they cover move to the pseudonym as a full
// recompute would, and an erasure removes every fs_person_daily row of the person it reports removed (a day
// whose raw rows are gone included). Rows older than the backfill window cannot come through ingest: the test
// writes them with SQL. The server runs without PSEUDONYMIZE_AFTER_DAYS and the test runs features.pseudonymize
// itself, so the scheduler's catch-up of the daily 04:45 run cannot pseudonymise the rows early.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFeatures } from '../server/features/index.js';
import { pseudonymCutoff } from '../server/features/retention.js';
import type { JobContext } from '../server/jobs/index.js';
import { ADMIN, bootServer, createTenant, request, silent, tmpDir, type Tenant } from './helpers.js';
import { identify } from './identity-helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const DAY = 86_400_000;
const admin = { authorization: `Bearer ${ADMIN}` };
const dayAt = (daysAgo: number, h: number) => new Date(Math.floor(Date.now() / DAY) * DAY - daysAgo * DAY + h * 3_600_000).toISOString();
const IDENTIFIERS = ['external_id', 'email_sha256', 'phone_sha256', 'match_keys'];

describe.each([
  { name: 'embedded TimescaleDB', plain: false },
  { name: 'plain PostgreSQL', plain: true },
])('pseudonymisation and erasure on $name', ({ plain }) => {
  let scratch: ScratchDatabase | undefined;
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  let person: number;
  const cutoff = new Date(pseudonymCutoff(Date.now(), 30)).toISOString();
  const run = async (job: string) => {
    const r = await request('POST', `${server.url}/api/admin/jobs/${job}/run`, undefined, admin);
    expect(r.json?.status, `${job}: ${r.text}`).toBe('succeeded');
  };
  const insert = (name: string, at: string, personId: number | null, visitor: string, entities: object, payload: object = {}) =>
    server.db.query(`INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, visitor_id, session_id, person_id, consent_snapshot, entities, payload)
      VALUES (gen_random_uuid(), $1, $2, $3, 'backend', $4, $4, $5, '{}', $6, $7)`, [name, at, t.tenant_id, visitor, personId, JSON.stringify(entities), JSON.stringify(payload)]);
  const personTables = async (): Promise<Record<string, string[]>> => Object.fromEntries(await Promise.all(['fs_person_ticket_pref', 'fs_person_daily_timings', 'fs_person_affinity_artist_raw'].map(async (tb) =>
    [tb, (await server.db.query<{ r: unknown }>(`SELECT to_jsonb(x) - 'computed_at' AS r FROM ${tb} x WHERE tenant_id = $1 ORDER BY 1`, [t.tenant_id])).rows.map((r) => JSON.stringify(r.r)).sort()])));

  beforeAll(async () => {
    const env: Record<string, string> = { DATA_DIR: tmpDir(), DEMO_TENANT: '0' };
    if (plain) {
      scratch = await scratchDatabase('fsp');
      env.DATABASE_URL = scratch.url;
    }
    server = await bootServer(env);
    t = await createTenant(server.url, 'fsp');
    person = (await identify(server.url, t, { visitor_id: 'vp', external_id: 'cust-p' })).json.person_id;
    const customer = { external_id: 'cust-p', email_sha256: 'e'.repeat(64), phone_sha256: 'f'.repeat(64), city: 'Cluj', match_keys: { meta: { em: 'a'.repeat(64) } } };
    // 50 days ago: a view whose raw rows go below (as retention drops a month the aggregates outlive).
    await insert('event_view', dayAt(50, 10), person, 'vp', { event_entity_id: 'E1' });
    // 40 days ago (pseudonymised): a view, then an order naming the customer; a points row naming them only by id.
    await insert('event_view', dayAt(40, 10), person, 'vp', { event_entity_id: 'E1' });
    await insert('order_completed', dayAt(40, 11), person, 'vp', { event_entity_id: 'E1', order_id: 'o-old' },
      { gross_amount: 100, net_amount: 90, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], customer });
    await insert('points_earned', dayAt(40, 12), null, 'pts', {}, { customer_external_id: 'cust-p', points: 10 });
    // 2 days ago (not pseudonymised): a view.
    await insert('event_view', dayAt(2, 10), person, 'vp', { event_entity_id: 'E1' });
    await run('features.full');
    await server.db.query('DELETE FROM tx_events WHERE tenant_id = $1 AND occurred_at < $2', [t.tenant_id, dayAt(49, 0)]);
    const features = createFeatures({
      db: server.db, log: silent, backfillDays: 7, futureHours: 24, rawRetentionMonths: 14, encryptionKey: crypto.randomBytes(32),
      settings: { aggregateRetentionMonths: 24, compressAfterDays: 0, archiveDir: null, pseudonymizeAfterDays: 30 },
    });
    const ctx = { job: 'features.pseudonymize', now: () => Date.now(), signal: new AbortController().signal, log: silent } as unknown as JobContext;
    await features.jobList().find((j) => j.name === 'features.pseudonymize')!.run(ctx);
  }, 180_000);
  afterAll(async () => {
    await server?.close();
    if (plain) await scratch?.drop().catch(() => undefined);
  });

  it('pseudonymised rows no longer name the customer in their payload (external id, contact digests, match keys)', async () => {
    const old = (await server.db.query<{ event_name: string; payload: Record<string, any> }>(
      'SELECT event_name, payload FROM tx_events WHERE tenant_id = $1 AND occurred_at < $2 ORDER BY occurred_at', [t.tenant_id, cutoff])).rows;
    expect(old.map((r) => r.event_name)).toEqual(['event_view', 'order_completed', 'points_earned']);
    expect(old[1].payload.customer).toEqual({ city: 'Cluj' });
    expect(old[1].payload.gross_amount).toBe(100);
    expect(old[2].payload).toEqual({ points: 10 });
    expect(JSON.stringify(old)).not.toMatch(new RegExp(['cust-p', ...IDENTIFIERS].join('|')));
  });

  it('the person features of pseudonymised days move to the pseudonym, as a full recompute leaves them', async () => {
    const daily = (await server.db.query<{ person_id: string; purchases_count: number }>(
      'SELECT person_id::text AS person_id, purchases_count::int AS purchases_count FROM fs_person_daily WHERE tenant_id = $1 AND date = $2', [t.tenant_id, dayAt(40, 0)])).rows;
    // Two rows (the view under currency null, the order under EUR), both the pseudonym's.
    expect(daily.map((r) => r.purchases_count).sort()).toEqual([0, 1]);
    expect(new Set(daily.map((r) => r.person_id)).size).toBe(1);
    expect(BigInt(daily[0].person_id) < 0n).toBe(true);
    const after = await personTables();
    // The old order's ticket preference is the pseudonym's, no longer the person's (the person has no other order).
    expect(after.fs_person_ticket_pref).toHaveLength(1);
    expect(after.fs_person_ticket_pref[0]).not.toContain(`"person_id":${person},`);
    expect(after.fs_person_ticket_pref[0]).toMatch(/"person_id":-\d+,/);
    await run('features.full');
    expect(await personTables()).toEqual(after);
  });

  it('an erasure removes every fs_person_daily row of the person, as many as it reports, and no pseudonymised row', async () => {
    const count = async (sql: string, args: unknown[]) => Number((await server.db.query<{ n: string }>(sql, args)).rows[0].n);
    const rows = await count('SELECT count(*) AS n FROM fs_person_daily WHERE tenant_id = $1 AND person_id = $2', [t.tenant_id, person]);
    expect(rows).toBe(2); // 50 days ago (its raw rows gone) and 2 days ago
    const old = await count('SELECT count(*) AS n FROM tx_events WHERE tenant_id = $1 AND occurred_at < $2', [t.tenant_id, cutoff]);
    const r = await request('DELETE', `${server.url}/api/v1/persons/${person}`, undefined, { authorization: `Bearer ${t.secret_key}` });
    expect(r.status, r.text).toBe(200);
    expect(r.json.removed.features.fs_person_daily).toBe(rows);
    expect(await count('SELECT count(*) AS n FROM fs_person_daily WHERE tenant_id = $1 AND person_id = $2', [t.tenant_id, person])).toBe(0);
    expect(await count('SELECT count(*) AS n FROM tx_events WHERE tenant_id = $1 AND occurred_at < $2', [t.tenant_id, cutoff])).toBe(old);
  });
});
