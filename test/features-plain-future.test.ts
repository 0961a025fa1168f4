// The plain-PostgreSQL aggregates on the machine's PostgreSQL 15 (a fresh database per run, dropped after), the
// jobs run with an injected clock. Ingest accepts occurred_at up to FUTURE_HOURS after its receipt; TimescaleDB's
// real-time aggregates count such a row at once, so the plain tables must too: a refresh (incremental or
// features.full) rewrites through the day of now + FUTURE_HOURS, not only through the current UTC day.
// Also: features.scores reports the persons it scored as its run's rows, as the other feature jobs report keys.
import { describe, expect, it } from 'vitest';
import { featuresOnPostgres } from './features-pg-helpers.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
// 10:00 UTC three days ago: the rows' times lie in the past of the machine's clock (tx_events' partitions exist),
// the jobs' clock is injected.
const NOW = Math.floor(Date.now() / DAY) * DAY - 3 * DAY + 10 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();

describe('plain PostgreSQL aggregates and future-dated rows', () => {
  const pg = featuresOnPostgres('fsfut');
  const { jobsOf } = pg;
  const ctxAt = (now: number, job = 'features.refresh') => pg.ctxAt(now, job);
  const viewAt = (tenant: number, event: string, person: number, at: number) =>
    pg.db.query(`INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, visitor_id, person_id, consent_snapshot, entities)
      VALUES (gen_random_uuid(), 'event_view', $1, $2, 'web', $3, $4, '{}', $5)`, [iso(at), tenant, `v${person}`, person, { event_entity_id: event }]);
  const eventDays = async (tenant: number) => (await pg.db.query<{ date: Date; views: string }>(
    'SELECT date, views::text AS views FROM fs_event_daily WHERE tenant_id = $1 ORDER BY date', [tenant])).rows.map((r) => [iso(new Date(r.date).getTime()), Number(r.views)]);
  const personDays = async (tenant: number) => (await pg.db.query<{ date: Date; views: string }>(
    'SELECT date, views_count::text AS views FROM fs_person_daily WHERE tenant_id = $1 ORDER BY date', [tenant])).rows.map((r) => [iso(new Date(r.date).getTime()), Number(r.views)]);
  const hourly = async (tenant: number) => (await pg.db.query<{ hour: Date; n: string }>(
    'SELECT hour, page_views::text AS n FROM fs_event_funnel_hourly WHERE tenant_id = $1 ORDER BY hour', [tenant])).rows.map((r) => [iso(new Date(r.hour).getTime()), Number(r.n)]);

  const today = Math.floor(NOW / DAY) * DAY;

  it('a view dated 20 h ahead (the next UTC day) is in the daily and hourly tables after features.full and after features.refresh', async () => {
    await viewAt(1, 'E1', 1, NOW - HOUR);
    await viewAt(1, 'E1', 1, NOW + 20 * HOUR);
    const expected = { daily: [[iso(today), 1], [iso(today + DAY), 1]], hourly: [[iso(NOW - HOUR), 1], [iso(NOW + 20 * HOUR), 1]] };

    await jobsOf().full(ctxAt(NOW, 'features.full'));
    expect(await eventDays(1)).toEqual(expected.daily);
    expect(await personDays(1)).toEqual(expected.daily);
    expect(await hourly(1)).toEqual(expected.hourly);

    // The incremental refresh, from its first run (every row new) and again after a new future-dated row.
    const refresh = jobsOf().jobs().find((j) => j.name === 'features.refresh')!;
    await pg.db.exec('DELETE FROM fs_event_daily; DELETE FROM fs_person_daily; DELETE FROM fs_event_funnel_hourly');
    await refresh.run(ctxAt(NOW));
    expect(await eventDays(1)).toEqual(expected.daily);
    await viewAt(1, 'E1', 1, NOW + 21 * HOUR);
    await refresh.run(ctxAt(NOW + 60_000));
    expect(await eventDays(1)).toEqual([[iso(today), 1], [iso(today + DAY), 2]]);
    expect(await personDays(1)).toEqual([[iso(today), 1], [iso(today + DAY), 2]]);
  });

  it('the window follows the configured FUTURE_HOURS: a row 40 h ahead counts with 48, in its day', async () => {
    await viewAt(2, 'E2', 2, NOW + 40 * HOUR);
    await jobsOf(48).full(ctxAt(NOW, 'features.full'));
    // NOW is 10:00, so 40 h later is 02:00 two days on.
    expect(await eventDays(2)).toEqual([[iso(today + 2 * DAY), 1]]);
    expect(await personDays(2)).toEqual([[iso(today + 2 * DAY), 1]]);
  });

  it('features.scores reports the persons it scored as its rows', async () => {
    const scores = jobsOf().jobs().find((j) => j.name === 'features.scores')!;
    const n = await scores.run(ctxAt(NOW + 2 * DAY, 'features.scores'));
    const scored = Number((await pg.db.query<{ n: string }>('SELECT count(*)::text AS n FROM fs_person_scores')).rows[0].n);
    expect(scored).toBe(2);
    expect(n).toBe(scored);
  });
});
