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

  it('runs on demand for the operator, reporting what it dropped', async () => {
    expect((await api(server.url, null, 'POST', '/api/admin/retention/run', undefined, { authorization: 'Bearer nope' })).status).toBe(401);
    await batch(server.url, t, [webEvent({ occurred_at: daysAgo(120), session_id: 's-older' })]);
    const r = await api(server.url, null, 'POST', '/api/admin/retention/run', undefined, { authorization: `Bearer ${ADMIN}` });
    expect(r.status).toBe(200);
    // The timer may have been first; either way nothing older than a month is left.
    expect(r.json).toMatchObject({ retention_months: 1, policy: { changed: false, drop_after: '1 mon' } });
    expect((await eventsOf(server.url, t)).every((e) => Date.parse(e.occurred_at) > Date.now() - 31 * 86_400_000)).toBe(true);
  });

  it('follows a changed RETENTION_MONTHS on the next start', async () => {
    const dataDir = server.dataDir;
    await server.close();
    server = await bootServer({ ...env, DATA_DIR: dataDir, RETENTION_MONTHS: '3' });
    expect(await until(async () => ((await policy())[0] === '3 mons' ? policy() : null))).toEqual(['3 mons']);
  });
});
