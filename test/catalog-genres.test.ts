// Derived event genres over HTTP on the embedded store (README "Catalog"): an event sent without genres takes its
// artists' (at most 50: those carried by the most of its artists, then by name, listed by name), derived again
// when one of those artists changes or is deleted. The store derives them in batches of bounded work
// (GENRE_REFS_PER_TX); on a random mix the result equals the definition, run here as the one statement it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENRE_REFS_PER_TX, genreBatches } from '../server/catalog/store.js';
import { bootServer, createTenant, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';

/** The definition (migration 032), per event: the genres carried by the most distinct artists of the event, then by name; stored by name. */
const DEFINITION = `
SELECT e.id, ARRAY(SELECT g FROM (
    SELECT g, count(DISTINCT a.id) AS n FROM catalog_artists a, unnest(a.genres) g
    WHERE a.tenant_id = e.tenant_id AND a.id = ANY(e.artist_ids) GROUP BY g ORDER BY n DESC, g LIMIT 50) top ORDER BY g) AS genres
FROM catalog_events e WHERE e.tenant_id = $1 AND e.genres_derived AND e.id LIKE $2 ORDER BY e.id`;

describe('derived event genres', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  const put = (kind: string, items: unknown[]) => api(base, t, 'PUT', `/api/v1/catalog/${kind}`, { items });
  const get = (p: string) => api(base, t, 'GET', `/api/v1/catalog/${p}`);
  const del = (p: string) => api(base, t, 'DELETE', `/api/v1/catalog/${p}`);
  // The events of the random mix (ids R…), as stored and as defined.
  const stored = async (derived: boolean) =>
    (await server.db.query<{ id: string; genres: string[] }>("SELECT id, genres FROM catalog_events WHERE tenant_id = $1 AND genres_derived = $2 AND id LIKE 'R%' ORDER BY id", [t.tenant_id, derived])).rows;
  const defined = async () => (await server.db.query<{ id: string; genres: string[] }>(DEFINITION, [t.tenant_id, 'R%'])).rows;

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'catalog-genres');
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('takes a deleted artist\'s genres off the events deriving theirs from it, and leaves sent genres and artist_ids alone', async () => {
    expect((await put('artists', [{ id: 'DA1', genres: ['rock', 'indie'] }, { id: 'DA2', genres: ['techno', 'rock'] }])).json.rejected).toEqual([]);
    expect((await put('events', [
      { id: 'DE1', artist_ids: ['DA1', 'DA2'] },
      { id: 'DE2', artist_ids: ['DA2'] },
      { id: 'DE3', artist_ids: ['DA2'], genres: ['jazz'] },
    ])).json.upserted).toBe(3);
    expect((await get('events/DE1')).json).toMatchObject({ genres: ['indie', 'rock', 'techno'], genres_derived: true });
    expect((await del('artists/DA2')).json).toEqual({ deleted: 1 });
    // The tenant's list of artists stays as sent; only what derives from the deleted artist goes.
    expect((await get('events/DE1')).json).toMatchObject({ artist_ids: ['DA1', 'DA2'], genres: ['indie', 'rock'], genres_derived: true });
    expect((await get('events/DE2')).json).toMatchObject({ artist_ids: ['DA2'], genres: [], genres_derived: true });
    expect((await get('events/DE3')).json).toMatchObject({ genres: ['jazz'], genres_derived: false });
    // Synced again, the artist counts again.
    expect((await put('artists', [{ id: 'DA2', genres: ['house'] }])).json.upserted).toBe(1);
    expect((await get('events/DE1')).json.genres).toEqual(['house', 'indie', 'rock']);
    expect((await get('events/DE2')).json.genres).toEqual(['house']);
  });

  it('equals the definition on a random mix (caps, ties, genres shared and listed twice, shared lists), synced in several batches', async () => {
    let seed = 20261201; // mulberry32
    const rnd = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
      return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
    };
    const int = (n: number) => Math.floor(rnd() * n);
    // 80 genres: an event of many artists carries more than 50 (the cap), with ties. Drawn with replacement, so an
    // artist may list a genre twice (it still counts once for that artist).
    const genresOf = () => Array.from({ length: int(51) }, () => `g${String(int(80)).padStart(2, '0')}`);
    const artists = Array.from({ length: 300 }, (_, i) => ({ id: `RA${i}`, genres: genresOf() }));
    const listOf = (n: number) => [...new Set(Array.from({ length: n }, () => (rnd() < 0.03 ? `ghost${int(5)}` : `RA${int(300)}`)))];
    const tour = listOf(120);
    const events = [
      ...Array.from({ length: 120 }, (_, i) => ({ id: `RE${i}`, artist_ids: listOf(int(201)) })),
      ...Array.from({ length: 30 }, (_, i) => ({ id: `RT${i}`, artist_ids: tour })),
      ...Array.from({ length: 10 }, (_, i) => ({ id: `RS${i}`, artist_ids: listOf(50), genres: [`sent${i}`] })),
    ];
    const derives = (e: { artist_ids: string[]; genres?: string[] }) => (e.genres ? null : { key: JSON.stringify(e.artist_ids), refs: e.artist_ids.length });
    const byId = [...events].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    // More work than one transaction takes: the sync below is stored in several.
    expect(genreBatches(byId, derives).length).toBeGreaterThan(2);
    expect(events.reduce((s, e) => s + (derives(e)?.refs ?? 0), 0)).toBeGreaterThan(2 * GENRE_REFS_PER_TX);

    expect((await put('artists', artists)).json.rejected).toEqual([]);
    expect((await put('events', events)).json).toEqual({ upserted: events.length, unchanged: 0, rejected: [] });
    const sent = await stored(false);
    expect(sent.filter((e) => e.id.startsWith('RS')).map((e) => e.genres)).toEqual(Array.from({ length: 10 }, (_, i) => [`sent${i}`]));
    const first = await stored(true);
    expect(first.filter((e) => e.genres.length === 50).length).toBeGreaterThan(20);
    expect(first).toEqual(await defined());

    // An event stored with an artist listed twice (rows from before the API kept each once) still counts it once.
    await server.db.query("INSERT INTO catalog_events (tenant_id, id, artist_ids, genres_derived) VALUES ($1, 'RDUP', ARRAY['RA1', 'RA1', 'RA2'], true)", [t.tenant_id]);

    // Half the artists change (most events re-derived, in several transactions), then three are deleted.
    const changed = artists.filter((_, i) => i % 2 === 0).map((a) => ({ ...a, genres: genresOf() }));
    changed.push({ id: 'RA1', genres: ['g00', 'g00', 'g01'] }, { id: 'ghost1', genres: ['g79'] });
    expect((await put('artists', changed)).json.rejected).toEqual([]);
    const second = await stored(true);
    expect(second).toEqual(await defined());
    expect(second.find((e) => e.id === 'RDUP')?.genres).toEqual(expect.arrayContaining(['g00', 'g01']));
    expect(second).not.toEqual(first);
    for (const id of ['RA3', 'RA5', tour.find((a) => a.startsWith('RA') && a !== 'RA3' && a !== 'RA5')!]) expect((await del(`artists/${id}`)).json.deleted).toBe(1);
    expect(await stored(true)).toEqual(await defined());
    expect(await stored(false)).toEqual(sent);
  }, 60_000);
});
