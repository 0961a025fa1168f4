// Retention: the TimescaleDB retention policy on tx_events follows RETENTION_MONTHS, and since the policy's
// background job may not run in the embedded store, each node also drops expired chunks on a timer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, bootServer, createTenant, eventsOf, until, webEvent, type Tenant } from './helpers.js';
import { api, batch } from './identity-helpers.js';

const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString();

describe('retention', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  const env = { RETENTION_MONTHS: '1', RETENTION_INTERVAL_S: '2', BACKFILL_DAYS: '400' };

  const policy = async () => {
    const { rows } = await server.db.query<{ drop_after: string }>(
      "SELECT config->>'drop_after' AS drop_after FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_name = 'tx_events'",
    );
    return rows.map((r) => r.drop_after);
  };

  beforeAll(async () => {
    server = await bootServer(env);
    t = await createTenant(server.url, 'retention');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('registers a retention policy on tx_events for RETENTION_MONTHS', async () => {
    expect(await until(async () => ((await policy()).length ? policy() : null))).toEqual(['1 mon']);
  });

  it('drops expired chunks and sessions on its timer and keeps recent data', async () => {
    const old = [webEvent({ occurred_at: daysAgo(90), session_id: 's-old', visitor_id: 'v-old' }), webEvent({ occurred_at: daysAgo(60), session_id: 's-old', visitor_id: 'v-old' })];
    const recent = [webEvent({ occurred_at: daysAgo(2), session_id: 's-new', visitor_id: 'v-new' }), webEvent({ session_id: 's-new', visitor_id: 'v-new' })];
    expect((await batch(server.url, t, [...old, ...recent])).json.accepted).toBe(4);
    // No request: the timer alone removes the old rows.
    await until(async () => (await eventsOf(server.url, t)).length === 2, 30_000, 250);
    expect((await eventsOf(server.url, t)).map((e) => e.event_id).sort()).toEqual(recent.map((e) => e.event_id).sort());
    await until(async () => (await api(server.url, t, 'GET', '/api/v1/sessions/s-old')).status === 404, 10_000, 250);
    expect((await api(server.url, t, 'GET', '/api/v1/sessions/s-new')).json.events_count).toBe(2);
  });

  it('runs on demand for the operator, dropping exactly the expired data and reporting it', async () => {
    // Its own server with a timer that does not fire during the test: what is dropped is the run's doing.
    const own = await bootServer({ ...env, RETENTION_INTERVAL_S: String(7 * 86_400) });
    try {
      const ot = await createTenant(own.url, 'on-demand');
      expect((await api(own.url, null, 'POST', '/api/admin/retention/run', undefined, { authorization: 'Bearer nope' })).status).toBe(401);
      // Two expired events 20 days apart (two 7-day chunks) in one session, one expired rejected event, and recent data.
      const old = [webEvent({ occurred_at: daysAgo(120), session_id: 's-older' }), webEvent({ occurred_at: daysAgo(100), session_id: 's-older' })];
      const recent = [webEvent({ occurred_at: daysAgo(3), session_id: 's-recent' }), webEvent({ session_id: 's-recent' })];
      expect((await batch(own.url, ot, [...old, ...recent])).json.accepted).toBe(4);
      // Wait until projected: sessions follow the commit (deferred projector); a session read waits for it.
      expect((await api(own.url, ot, 'GET', '/api/v1/sessions/s-older')).status).toBe(200);
      await own.db.query("INSERT INTO tx_rejected_events (tenant_id, raw_body, reasons, received_at) VALUES ($1, '{}', '[]', now() - interval '60 days')", [ot.tenant_id]);
      await own.db.query("INSERT INTO tx_rejected_events (tenant_id, raw_body, reasons) VALUES ($1, '{}', '[]')", [ot.tenant_id]);

      const run = () => api(own.url, null, 'POST', '/api/admin/retention/run', undefined, { authorization: `Bearer ${ADMIN}` });
      const r = await run();
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ retention_months: 1, sessions: 1, rejected_events: 1 });
      expect(r.json.dropped_chunks).toHaveLength(2);
      // Exactly the expired rows are gone; the recent ones are all there.
      expect((await eventsOf(own.url, ot)).map((e) => e.event_id).sort()).toEqual(recent.map((e) => e.event_id).sort());
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
