// Retention: the TimescaleDB retention policy on tx_events follows RETENTION_MONTHS, and since the policy's
// background job may not run in the embedded store, each node also drops expired chunks on a timer.
// A server never accepts events older than its retention (BACKFILL_DAYS must stay under it: config), so the
// expired data here is what an operator has after lowering RETENTION_MONTHS: posted under a long retention,
// then the same DATA_DIR started with one month.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, bootServer, createTenant, eventsOf, until, webEvent, type Tenant } from './helpers.js';
import { api, batch } from './identity-helpers.js';

const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString();

describe('retention', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  const env = { RETENTION_MONTHS: '1', RETENTION_INTERVAL_S: '2' };
  const WEEK = String(7 * 86_400);

  /**
   * Posts `events` (then waits until `session` is projected) on a server that keeps 24 months and backfills
   * 400 days, and closes it: its DATA_DIR and tenant are then started with the test's retention. Its retention
   * job's windows are a week long, so it does not run in the meantime (a window is claimed only near its start).
   */
  const seeded = async (events: Record<string, unknown>[], session: string) => {
    const seed = await bootServer({ RETENTION_MONTHS: '24', BACKFILL_DAYS: '400', RETENTION_INTERVAL_S: WEEK });
    try {
      const tenant = await createTenant(seed.url, `seeded-${session}`);
      expect((await batch(seed.url, tenant, events)).json.accepted).toBe(events.length);
      expect((await api(seed.url, tenant, 'GET', `/api/v1/sessions/${session}`)).status).toBe(200);
      return { dataDir: seed.dataDir, tenant };
    } finally {
      await seed.close();
    }
  };
  const old = [webEvent({ occurred_at: daysAgo(90), session_id: 's-old', visitor_id: 'v-old' }), webEvent({ occurred_at: daysAgo(60), session_id: 's-old', visitor_id: 'v-old' })];
  const recent = [webEvent({ occurred_at: daysAgo(2), session_id: 's-new', visitor_id: 'v-new' }), webEvent({ session_id: 's-new', visitor_id: 'v-new' })];

  const policy = async () => {
    const { rows } = await server.db.query<{ drop_after: string }>(
      "SELECT config->>'drop_after' AS drop_after FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_name = 'tx_events'",
    );
    return rows.map((r) => r.drop_after);
  };

  beforeAll(async () => {
    const seed = await seeded([...old, ...recent], 's-old');
    server = await bootServer({ ...env, DATA_DIR: seed.dataDir });
    t = seed.tenant;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('registers a retention policy on tx_events for RETENTION_MONTHS', async () => {
    expect(await until(async () => ((await policy()).length ? policy() : null))).toEqual(['1 mon']);
  });

  it('refuses at start a BACKFILL_DAYS reaching past RETENTION_MONTHS, whose events it would accept and then delete', async () => {
    await expect(bootServer({ ...env, BACKFILL_DAYS: '400' })).rejects.toThrow(/BACKFILL_DAYS=400 must be less than RETENTION_MONTHS × 28 days/);
  });

  it('drops expired chunks and sessions on its timer and keeps recent data', async () => {
    // No request: the timer alone removes the old rows.
    await until(async () => (await eventsOf(server.url, t)).length === 2, 30_000, 250);
    expect((await eventsOf(server.url, t)).map((e) => e.event_id).sort()).toEqual(recent.map((e) => e.event_id).sort());
    await until(async () => (await api(server.url, t, 'GET', '/api/v1/sessions/s-old')).status === 404, 10_000, 250);
    expect((await api(server.url, t, 'GET', '/api/v1/sessions/s-new')).json.events_count).toBe(2);
  });

  it('runs on demand for the operator, dropping exactly the expired data and reporting it', async () => {
    // Two expired events 20 days apart (two 7-day chunks) in one session, one expired rejected event, and recent data.
    const older = [webEvent({ occurred_at: daysAgo(120), session_id: 's-older' }), webEvent({ occurred_at: daysAgo(100), session_id: 's-older' })];
    const newer = [webEvent({ occurred_at: daysAgo(3), session_id: 's-recent' }), webEvent({ session_id: 's-recent' })];
    const seed = await seeded([...older, ...newer], 's-older');
    // Its own server with a timer that does not fire during the test: what is dropped is the run's doing.
    const own = await bootServer({ ...env, DATA_DIR: seed.dataDir, RETENTION_INTERVAL_S: WEEK });
    try {
      const ot = seed.tenant;
      expect((await api(own.url, null, 'POST', '/api/admin/retention/run', undefined, { authorization: 'Bearer nope' })).status).toBe(401);
      await own.db.query("INSERT INTO tx_rejected_events (tenant_id, raw_body, reasons, received_at) VALUES ($1, '{}', '[]', now() - interval '60 days')", [ot.tenant_id]);
      await own.db.query("INSERT INTO tx_rejected_events (tenant_id, raw_body, reasons) VALUES ($1, '{}', '[]')", [ot.tenant_id]);

      const run = () => api(own.url, null, 'POST', '/api/admin/retention/run', undefined, { authorization: `Bearer ${ADMIN}` });
      const r = await run();
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ retention_months: 1, sessions: 1, rejected_events: 1 });
      expect(r.json.dropped_chunks).toHaveLength(2);
      // Exactly the expired rows are gone; the recent ones are all there.
      expect((await eventsOf(own.url, ot)).map((e) => e.event_id).sort()).toEqual(newer.map((e) => e.event_id).sort());
      expect((await api(own.url, ot, 'GET', '/api/v1/sessions/s-older')).status).toBe(404);
      expect((await api(own.url, ot, 'GET', '/api/v1/sessions/s-recent')).json.events_count).toBe(2);
      const left = await own.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tx_rejected_events WHERE tenant_id = $1', [ot.tenant_id]);
      expect(left.rows[0].n).toBe(1);
      // A second run has nothing left to drop, and says so.
      expect((await run()).json).toMatchObject({ dropped_chunks: [], sessions: 0, rejected_events: 0 });
    } finally {
      await own.close();
    }
  });

  it('follows a changed RETENTION_MONTHS on the next start', async () => {
    const dataDir = server.dataDir;
    await server.close();
    server = await bootServer({ ...env, DATA_DIR: dataDir, RETENTION_MONTHS: '3' });
    expect(await until(async () => ((await policy())[0] === '3 mons' ? policy() : null))).toEqual(['3 mons']);
  });
});
