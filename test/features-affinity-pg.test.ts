// Affinities on the machine's PostgreSQL 15 (a fresh database per run, dropped after), the jobs run with an
// injected clock. Ties: the genres (and artists) of one person weighed by the same rows have the same score, bit
// for bit, whichever order the sum met the rows in, so "highest first, then by name" orders them by name, the
// same after an incremental run and a full recompute (features.sql insert_affinity_*: scores rounded to 1e-9).
// Future-dated rows (accepted up to FUTURE_HOURS ahead) count from their time on: the incremental run after it
// recomputes their persons, as features.full would (features.sql arrived_person_keys).
import { describe, expect, it } from 'vitest';
import { featuresOnPostgres } from './features-pg-helpers.js';

const GENRES = ['g1', 'g2', 'g3', 'g4', 'g5', 'g6', 'g7', 'g8'];

describe('affinities on PostgreSQL', () => {
  const pg = featuresOnPostgres('fsties');
  const jobsOf = () => pg.jobsOf();
  const ctxAt = (now: number) => pg.ctxAt(now, 'features.persons');

  it('genres weighed by the same rows tie exactly and are listed by name', async () => {
    await pg.db.query("INSERT INTO catalog_events (tenant_id, id, artist_ids, genres) VALUES (1, 'E1', '{A1,A2,A3,A4}', $1)", [GENRES]);
    // 400 rows of every weighed kind over 89 days: long sums, whose float result depends on the order of the terms.
    await pg.db.query(`INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, visitor_id, person_id, consent_snapshot, entities)
      SELECT gen_random_uuid(), (ARRAY['event_view','add_to_cart','checkout_started','order_completed','entry_granted'])[1 + i % 5],
        now() - (i * 0.2225 || ' days')::interval - (i * 37 % 3600 || ' seconds')::interval, 1, 'web', 'v1', 7, '{}', '{"event_entity_id":"E1"}'
      FROM generate_series(1, 400) i`);
    await jobsOf().full(ctxAt(Date.now()));
    const stored = (await pg.db.query<{ genre: string; s: number }>('SELECT genre, score_at_last AS s FROM fs_person_affinity_genre_raw WHERE person_id = 7')).rows;
    expect(stored).toHaveLength(GENRES.length);
    expect(new Set(stored.map((r) => r.s)).size).toBe(1);
    const artists = (await pg.db.query<{ s: number }>('SELECT score_at_last AS s FROM fs_person_affinity_artist_raw WHERE person_id = 7')).rows;
    expect(new Set(artists.map((r) => r.s)).size).toBe(1);
    const listed = (await pg.db.query<{ genre: string }>('SELECT genre FROM fs_person_affinity_genre WHERE person_id = 7 ORDER BY affinity_score DESC, genre')).rows;
    expect(listed.map((g) => g.genre)).toEqual(GENRES);
  });

  it('a future-dated row counts in the affinities from the first incremental run after its time, as in a full recompute', async () => {
    await pg.db.query("INSERT INTO catalog_events (tenant_id, id, artist_ids, genres) VALUES (1, 'E2', '{A9}', '{jazz}')");
    const t0 = Date.now();
    await pg.db.query(`INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, visitor_id, person_id, consent_snapshot, entities)
      VALUES (gen_random_uuid(), 'order_completed', $1, 1, 'backend', 'v8', 8, '{}', '{"event_entity_id":"E2"}')`, [new Date(t0 + 3_600_000).toISOString()]);
    const persons = jobsOf().jobs().find((j) => j.name === 'features.persons')!;
    const affinity = async () => (await pg.db.query('SELECT artist_id, score_at_last, purchases_count FROM fs_person_affinity_artist_raw WHERE person_id = 8')).rows;
    await persons.run(ctxAt(t0));
    expect(await affinity()).toEqual([]);
    // Two hours later: no row stored since, but the order's time has come.
    await persons.run(ctxAt(t0 + 7_200_000));
    const incremental = await affinity();
    expect(incremental).toEqual([{ artist_id: 'A9', score_at_last: 10, purchases_count: 1 }]);
    await jobsOf().full(ctxAt(t0 + 7_200_000));
    expect(await affinity()).toEqual(incremental);
  });

  it('engagement: a component that is 0 adds 0 (not the share of persons at 0), so no activity ranks lowest', async () => {
    // Tenant 2: person 20 one view without a session; person 21 two views in a session and 1 s of active time.
    await pg.db.query(`INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, visitor_id, session_id, person_id, consent_snapshot, payload)
      VALUES (gen_random_uuid(), 'event_view', now() - interval '1 day', 2, 'web', 'v20', NULL, 20, '{}', '{}'),
        (gen_random_uuid(), 'event_view', now() - interval '1 day', 2, 'web', 'v21', 's21', 21, '{}', '{}'),
        (gen_random_uuid(), 'event_view', now() - interval '1 day', 2, 'web', 'v21', 's21', 21, '{}', '{}'),
        (gen_random_uuid(), 'page_engagement', now() - interval '1 day', 2, 'web', 'v21', 's21', 21, '{}', '{"active_ms":1000}')`);
    await jobsOf().recountScores(2, Date.now());
    const e = (await pg.db.query<{ person_id: string; e: number }>('SELECT person_id::text AS person_id, engagement_score AS e FROM fs_person_scores WHERE tenant_id = 2 ORDER BY 1')).rows;
    // Sessions 0 and active time 0 add nothing; interactions 1 of 2 is cume_dist 0.5. Person 21 tops all three.
    expect(e).toEqual([{ person_id: '20', e: 0.5 / 3 }, { person_id: '21', e: 1 }]);
  });
});
