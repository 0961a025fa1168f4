// A large sync of venues (1000 × 500 gates, 6.4 MB: within the documented limits) held the embedded store's one
// session 7–15 s in one statement, and every tenant's ingest waited for it. It is now stored in transactions of
// bounded size (CATALOG_BYTES_PER_TX) with other statements in between, and still answers per item. A page of
// them (?limit=1000, 20 MB of JSON) is read in parts alike (VENUE_LIST_BYTES_PER_READ). The tests count transactions
// and reads; the waits they log are for reading, not asserted (timing belongs to benchmarks).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkItems } from '../server/catalog/schemas.js';
import { CATALOG_BYTES_PER_TX, createCatalogStore } from '../server/catalog/store.js';
import type { Db } from '../server/store/db.js';
import { scratchEmbedded } from './store-suites.js';

describe('a large venues sync on the embedded store', () => {
  let scratch: Awaited<ReturnType<typeof scratchEmbedded>>;
  let db: Db;
  let tenant: number;
  let txs = 0;
  let reads = 0;
  // Another tenant's statement (ingest's, say) issued again and again while `work` runs: the longest it waited.
  const longestWait = async (work: () => Promise<unknown>) => {
    let waited = 0;
    let running = true;
    const other = (async () => {
      while (running) {
        const t = performance.now();
        await db.query('SELECT 1');
        waited = Math.max(waited, performance.now() - t);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await work().finally(() => { running = false; });
    await other;
    return waited;
  };
  const venues = (name: (i: number) => string) => Array.from({ length: 1000 }, (_, i) => ({
    id: `V${String(i).padStart(4, '0')}`, name: name(i), gates: Array.from({ length: 500 }, (_, g) => ({ id: `G${g}`, name: `Gate ${g}`, capacity: 100 })),
  }));
  const sync = async (items: unknown[]) => {
    const { valid, rejected } = checkItems('venues', items, Date.now());
    expect(rejected).toEqual([]);
    const counting: Db = { ...db, tx: (fn) => { txs++; return db.tx(fn); } };
    return createCatalogStore(counting).upsert(tenant, 'venues', valid, new Date());
  };

  beforeAll(async () => {
    scratch = await scratchEmbedded('catalog-venues');
    db = scratch.db;
    tenant = Number((await db.query<{ tenant_id: string }>("INSERT INTO tenants (name) VALUES ('v') RETURNING tenant_id")).rows[0].tenant_id);
  }, 60_000);
  afterAll(async () => {
    await scratch?.close();
  });

  it('stores 1000 venues of 500 gates in bounded transactions, lets other statements run in between, answers per item', async () => {
    const items = venues(() => 'Hall');
    const bytes = JSON.stringify(items).length;
    let first: Awaited<ReturnType<typeof sync>> | undefined;
    const waited = await longestWait(async () => { first = await sync(items); });
    expect(first?.changed.venues).toHaveLength(1000);
    expect(txs).toBeGreaterThanOrEqual(Math.floor(bytes / CATALOG_BYTES_PER_TX));
    // One statement took 7–15 s; a batch takes about 0.15 s. Not asserted (a busy machine stretches any time):
    // the bound is the transactions' count above.
    console.log(`longest wait of another statement during the sync: ${Math.round(waited)} ms`);
    // Per item: the same sync again changes nothing; ten renamed venues are exactly the ten changed.
    const again = await sync(venues((i) => (i % 100 === 7 ? 'Renamed' : 'Hall')));
    expect(again.changed.venues).toEqual(Array.from({ length: 10 }, (_, k) => `V${String(k * 100 + 7).padStart(4, '0')}`));
    expect(await createCatalogStore(db).get(tenant, 'venues', 'V0907')).toMatchObject({ name: 'Renamed' });
    expect((await createCatalogStore(db).get(tenant, 'venues', 'V0999'))?.gates).toHaveLength(500);
  }, 180_000);

  it('reads a page of 1000 such venues in parts, other statements in between: every venue once, in id order', async () => {
    const counting: Db = { ...db, query: (sql, params) => { reads++; return db.query(sql, params); } };
    const store = createCatalogStore(counting);
    let page: Awaited<ReturnType<typeof store.list>> | undefined;
    const waited = await longestWait(async () => { page = await store.list(tenant, 'venues', null, 1000); });
    const ids = Array.from({ length: 1000 }, (_, i) => `V${String(i).padStart(4, '0')}`);
    expect(page?.rows.map((r) => r.id)).toEqual(ids);
    expect(page?.last).toBeNull();
    expect(page?.rows[999].gates).toHaveLength(500);
    expect(reads).toBeGreaterThan(5);
    console.log(`longest wait of another statement during the read: ${Math.round(waited)} ms`);
    // Pages that end within a part continue after their last id.
    const small = await store.list(tenant, 'venues', 'V0500', 3);
    expect(small).toMatchObject({ rows: [{ id: 'V0501' }, { id: 'V0502' }, { id: 'V0503' }], last: 'V0503' });
    expect(await store.list(tenant, 'venues', 'V0998', 5)).toMatchObject({ rows: [{ id: 'V0999' }], last: null });
  }, 120_000);
});
