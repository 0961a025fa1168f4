// Segments on both stores (probe findings): `did` and `activity` windows end now — an event dated after now (ingest
// accepts them within FUTURE_HOURS) or a day after today is not "in the last N days", in the SQL as in the
// evaluator; and a GDPR erasure recounts the versions the person left in its transaction (member_count and
// size_estimate were stale until the next evaluation, for ever with auto_refresh off). Through a server with
// Redis: the cached summaries are rewritten after the erasure.
import crypto from 'node:crypto';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGdprRegistry, type PersonIds } from '../server/gdpr/registry.js';
import { registerSegmentTables } from '../server/segments/gdpr.js';
import { evaluate, type Filter, type PersonRecord } from '../server/segments/grammar.js';
import { createSegmentStore } from '../server/segments/store.js';
import { cacheKey } from '../server/segments/cache-map.js';
import { deletePrefix, randomPrefix, REDIS_URL } from '../server/live/redis-test-utils.js';
import type { Db } from '../server/store/db.js';
import { createTenantStore } from '../server/store/tenants.js';
import { bootServer, createTenant, tmpDir, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';
import { onBothStores } from './store-suites.js';

const DAY = 86_400_000;
// Noon of the real UTC day: the stored events sit in chunks and partitions around today.
const TODAY = Math.floor(Date.now() / DAY) * DAY;
const NOW = new Date(TODAY + 12 * 3_600_000);
const FUTURE = TODAY + DAY + 3_600_000; // tomorrow 01:00, 13 h ahead: within FUTURE_HOURS (24)
const RECENT = NOW.getTime() - 3_600_000;

const blank = (over: Partial<PersonRecord>): PersonRecord => ({
  city: null, total_orders: 0, events_attended: 0, avg_order_value: null, last_purchase_at: null, marketing_consent: true,
  artist: {}, genre: {}, daily: [], scores: null, events: [], ...over,
});
const day = (at: number, views: number) => ({ day: Math.floor(at / DAY) * DAY, views, carts: 0, checkouts: 0, purchases: 0, attendance: 0 });
/** The evaluator's view of the seeded persons (ahead: a view tomorrow only; recent: a view an hour ago). */
const RECORDS: Record<string, PersonRecord> = {
  ahead: blank({ events: [{ name: 'event_view', event_id: 'E1', at: FUTURE }], daily: [day(FUTURE, 1)] }),
  recent: blank({ events: [{ name: 'event_view', event_id: 'E1', at: RECENT }], daily: [day(RECENT, 1)] }),
  c3: blank({ city: 'Erase' }),
  c4: blank({ city: 'Erase' }),
};

async function seed(db: Db): Promise<number> {
  const tenant = (await db.tx((q) => createTenantStore().create(q, 'segfix', []))).tenant_id;
  for (const [ext, r] of Object.entries(RECORDS)) {
    const id = Number((await db.query<{ person_id: string }>(`INSERT INTO persons (tenant_id, external_id, city, marketing_consent, total_orders, events_attended)
      VALUES ($1, $2, $3, true, 0, 0) RETURNING person_id`, [tenant, ext, r.city])).rows[0].person_id);
    for (const e of r.events) {
      await db.query(`INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, person_id, consent_snapshot, entities)
        VALUES ($1, $2, $3, $4, 'web', $5, '{}', $6)`, [crypto.randomUUID(), e.name, new Date(e.at), tenant, id, JSON.stringify({ event_entity_id: e.event_id })]);
    }
    // Plain PostgreSQL: fs_person_daily is a table the feature jobs fill; embedded, a real-time aggregate of tx_events.
    const plain = (await db.query<{ table: boolean }>("SELECT relkind = 'r' AS table FROM pg_class WHERE oid = 'fs_person_daily'::regclass")).rows[0].table;
    if (!plain) continue;
    for (const d of r.daily) {
      await db.query(`INSERT INTO fs_person_daily (tenant_id, person_id, date, currency, views_count, carts_count, checkouts_count, purchases_count, attendance_count, gross_amount, net_amount, discount_orders, affiliate_orders)
        VALUES ($1, $2, $3, NULL, $4, 0, 0, 0, 0, 0, 0, 0, 0)`, [tenant, id, new Date(d.day), d.views]);
    }
  }
  return tenant;
}

const personIds = async (db: Db, tenant: number): Promise<Record<string, number>> =>
  Object.fromEntries((await db.query<{ external_id: string; person_id: string }>('SELECT external_id, person_id FROM persons WHERE tenant_id = $1', [tenant])).rows
    .map((r) => [r.external_id, Number(r.person_id)]));

onBothStores('segment windows and erasure counts', 'segfix', seed, (ctx) => {
  it('did and activity windows end now: a view dated tomorrow is not in the last N days, as in the evaluator', async () => {
    const { db, tenant } = ctx();
    const store = createSegmentStore(db);
    const ids = await personIds(db, tenant);
    const filters: Filter[] = [
      { did: 'event_view', within_days: 1 }, { did: 'event_view', within_days: 7 },
      { activity: 'views', within_days: 1, gte: 1 }, { activity: 'views', within_days: 7, gte: 1 },
    ];
    for (const f of filters) {
      const want = Object.entries(RECORDS).filter(([, r]) => evaluate(f, r, NOW.getTime())).map(([k]) => ids[k]);
      expect(want, JSON.stringify(f)).toEqual([ids.recent]);
      const s = await store.create(tenant, { name: 'w', filters: f, marketingOnly: false }, false, NOW);
      expect(await store.members(tenant, s.id, 1, 0, 100), JSON.stringify(f)).toEqual(want);
      expect(s.size_estimate).toBe(1);
      // Once the view's time has come it counts (and today's view, within 1 day, no longer does).
      const then = FUTURE + 60_000;
      const wantThen = Object.entries(RECORDS).filter(([, r]) => evaluate(f, r, then)).map(([k]) => ids[k]).sort((a, b) => a - b);
      expect(wantThen).toContain(ids.ahead);
      const later = await store.create(tenant, { name: 'w', filters: f, marketingOnly: false }, false, new Date(then));
      expect((await store.members(tenant, later.id, 1, 0, 100)).sort((a, b) => a - b), JSON.stringify(f)).toEqual(wantThen);
    }
  });

  it('an erasure recounts member_count and size_estimate of every version the person was in, in its transaction', async () => {
    const { db, tenant } = ctx();
    const store = createSegmentStore(db);
    const ids = await personIds(db, tenant);
    const erase = { attribute: 'city', op: 'eq', value: 'Erase' } as const;
    const s = await store.create(tenant, { name: 'erase', filters: erase, marketingOnly: false }, false, NOW);
    await store.edit(tenant, s.id, { name: 'erase 2' }, NOW);
    const other = await store.create(tenant, { name: 'recent', filters: { did: 'event_view', within_days: 1 }, marketingOnly: false }, false, NOW);
    for (const v of [1, 2]) expect(await store.get(tenant, s.id, v)).toMatchObject({ member_count: 2, size_estimate: 2 });

    const registry = createGdprRegistry();
    registerSegmentTables(registry);
    const entry = registry.tables().find((t) => t.name === 'segment_members')!;
    const person: PersonIds = {
      tenantId: tenant, personId: ids.c4, externalId: 'c4', emailSha256: null, phoneSha256: null, visitorIds: [], sessionIds: [], orderIds: [], eventIds: [],
    };
    const out = await db.tx((q) => entry.erase(q, person));
    expect(out).toEqual({ removed: 2, touched: ['segment_members'] });
    for (const v of [1, 2]) {
      expect(await store.members(tenant, s.id, v, 0, 100)).toEqual([ids.c3]);
      expect(await store.get(tenant, s.id, v), `version ${v}`).toMatchObject({ member_count: 1, size_estimate: 1 });
    }
    // A segment the person was not in keeps its count; erasing nobody's memberships changes nothing.
    expect(await store.get(tenant, other.id, 1)).toMatchObject({ member_count: 1 });
    expect(await db.tx((q) => entry.erase(q, person))).toEqual({ removed: 0, touched: [] });
    expect(await store.get(tenant, s.id, 2)).toMatchObject({ member_count: 1, size_estimate: 1 });
  });
});

describe('segment counts after an erasure, through a server with the Redis cache', () => {
  const prefix = randomPrefix();
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  const call = (method: string, p: string, body?: unknown) => api(server.url, t, method, p, body);

  beforeAll(async () => {
    server = await bootServer({ DATA_DIR: tmpDir(), REDIS_URL, LIVE_TOKEN_SECRET: crypto.randomBytes(32).toString('hex'), LIVE_REDIS_PREFIX: prefix });
    t = await createTenant(server.url, 'segfix-cache');
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await deletePrefix(prefix);
  });

  it('GET /api/v1/segments/{id} and the cached entry count one member fewer once DELETE /api/v1/persons/{id} returns', async () => {
    const items = ['c3', 'c4'].map((id) => ({ id, city: 'Erase', marketing_consent: true }));
    expect((await call('PUT', '/api/v1/catalog/persons', { items })).status).toBe(200);
    const c = await call('POST', '/api/v1/segments', { name: 'erase', filters: { attribute: 'city', op: 'eq', value: 'Erase' }, auto_refresh: false });
    expect(c.json.size_estimate).toBe(2);
    expect((await call('GET', `/api/v1/segments/${c.json.id}`)).json).toMatchObject({ member_count: 2, size_estimate: 2 });
    const c4 = Number((await server.db.query<{ person_id: string }>("SELECT person_id FROM persons WHERE tenant_id = $1 AND external_id = 'c4'", [t.tenant_id])).rows[0].person_id);
    expect((await call('DELETE', `/api/v1/persons/${c4}`)).status).toBe(200);
    expect((await call('GET', `/api/v1/segments/${c.json.id}`)).json).toMatchObject({ member_count: 1, size_estimate: 1 });
    expect((await call('GET', '/api/v1/segments')).json.segments[0]).toMatchObject({ id: c.json.id, member_count: 1 });
    const redis = createClient({ url: REDIS_URL });
    await redis.connect();
    try {
      const cached = JSON.parse((await redis.hGetAll(cacheKey(prefix, t.tenant_id))).segments) as { id: number; member_count: number }[];
      expect(cached.find((x) => x.id === c.json.id)).toMatchObject({ member_count: 1 });
    } finally {
      await redis.quit();
    }
  }, 120_000);
});
