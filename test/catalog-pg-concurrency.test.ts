// Catalog writes racing on a Postgres server (pg driver, PostgreSQL 15): artist syncs whose events share artists
// re-derive the same events' genres at once. They must lock those events in one order (no deadlock, no 500) and
// each derive from the artists as committed, not from the snapshot its statement began with.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkItems, type Kind } from '../server/catalog/schemas.js';
import { createCatalogStore } from '../server/catalog/store.js';
import { openPostgres, type Db } from '../server/store/db.js';
import { migrate } from '../server/store/migrate.js';
import { silent } from './helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

describe('catalog concurrency on PostgreSQL 15', () => {
  let scratch: ScratchDatabase | undefined;
  let db: Db;
  let tenant: number;
  const sync = async (kind: Kind, items: unknown[]) => {
    const { valid, rejected } = checkItems(kind, items);
    expect(rejected).toEqual([]);
    return createCatalogStore(db).upsert(tenant, kind, valid, new Date());
  };

  beforeAll(async () => {
    scratch = await scratchDatabase('catalog_race');
    db = await openPostgres(scratch.url, 12, silent, { plain: true });
    await migrate(db, silent);
    tenant = Number((await db.query<{ tenant_id: string }>("INSERT INTO tenants (name) VALUES ('race') RETURNING tenant_id")).rows[0].tenant_id);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it('concurrent artist syncs sharing 600 events all succeed, and the events end with every artist\'s last genres', async () => {
    const artists = Array.from({ length: 10 }, (_, i) => `A${i}`);
    await sync('artists', artists.map((id) => ({ id, genres: [`${id}-0`] })));
    // Each event lists the same artists in its own order, so the events' physical order is not their id order.
    const shuffled = (seed: number) => [...artists].sort((a, b) => ((a.charCodeAt(1) * 7 + seed) % 11) - ((b.charCodeAt(1) * 7 + seed) % 11));
    const events = Array.from({ length: 600 }, (_, j) => ({ id: `E${String((j * 379) % 600).padStart(4, '0')}`, artist_ids: shuffled(j) }));
    await sync('events', events);
    const failures: string[] = [];
    const worker = async (w: number) => {
      for (let k = 1; k <= 15; k++) {
        const id = artists[(w + k) % artists.length];
        await sync('artists', [{ id, genres: [`${id}-${w}-${k}`] }]).catch((err: Error) => failures.push(err.message));
      }
    };
    await Promise.all(Array.from({ length: 6 }, (_, w) => worker(w)));
    expect(failures).toEqual([]);
    // Every event derives from the artists' genres as finally stored (no sync computed them from a stale snapshot).
    const now = (await db.query<{ genres: string[] }>('SELECT genres FROM catalog_artists WHERE tenant_id = $1 ORDER BY id', [tenant])).rows.flatMap((r) => r.genres).sort();
    const stale = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM catalog_events WHERE tenant_id = $1 AND genres <> $2::text[]', [tenant, now])).rows[0].n;
    expect(stale).toBe(0);
  }, 120_000);
});
