// The catalog sync API over HTTP on the embedded store (README "Catalog"): upsert by id, idempotent, an older
// updated_at never overwrites a newer one, per-item refusals, keyset paging, delete; event metadata for the
// live layer; person attributes derived from orders, overridden by sync, exported and erased with the person.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEventMeta, recomputePersonStats } from '../server/catalog/index.js';
import { bootServer, createTenant, orderEvent, type Tenant } from './helpers.js';
import { api, identify, minutesAgo, serverEvents } from './identity-helpers.js';

describe('catalog sync API', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  let other: Tenant;
  const put = (kind: string, items: unknown[], who = t) => api(base, who, 'PUT', `/api/v1/catalog/${kind}`, { items });
  const get = (p: string, who = t) => api(base, who, 'GET', `/api/v1/catalog/${p}`);

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'catalog');
    other = await createTenant(base, 'catalog-other');
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('upserts by id, answers the same sync again as unchanged, and keeps tenants apart', async () => {
    const venue = { id: 'V1', name: 'Arena', city: 'Cluj', country: 'RO', lat: 46.77, lon: 23.6, capacity: 12000, gates: [{ id: 'G1', name: 'North', capacity: 8000 }, { id: 'G2', name: 'South', capacity: 4000 }] };
    const r1 = await put('venues', [venue]);
    expect(r1.status).toBe(200);
    expect(r1.json).toEqual({ upserted: 1, unchanged: 0, rejected: [] });
    expect((await put('venues', [venue])).json).toEqual({ upserted: 0, unchanged: 1, rejected: [] });
    const one = await get('venues/V1');
    expect(one.json).toMatchObject({ ...venue, updated_at: expect.any(String), synced_at: expect.any(String) });
    expect((await get('venues/V1', other)).status).toBe(404);
    expect((await put('venues', [{ ...venue, capacity: 13000 }])).json).toEqual({ upserted: 1, unchanged: 0, rejected: [] });
  });

  it('never lets an older updated_at overwrite a newer one', async () => {
    const newer = { id: 'O1', name: 'Live Nation RO', updated_at: '2026-05-02T10:00:00Z' };
    expect((await put('organizers', [newer])).json.upserted).toBe(1);
    expect((await put('organizers', [{ id: 'O1', name: 'stale name', updated_at: '2026-05-01T10:00:00Z' }])).json).toEqual({ upserted: 0, unchanged: 1, rejected: [] });
    expect((await get('organizers/O1')).json).toMatchObject({ name: 'Live Nation RO', updated_at: '2026-05-02T10:00:00.000Z' });
    expect((await put('organizers', [{ id: 'O1', name: 'Live Nation Romania', updated_at: '2026-05-03T10:00:00+02:00' }])).json.upserted).toBe(1);
    expect((await get('organizers/O1')).json.name).toBe('Live Nation Romania');
  });

  it('derives an event\'s genres from its artists when absent, and again when an artist changes', async () => {
    await put('artists', [{ id: 'A1', name: 'Band', genres: ['rock', 'indie'] }, { id: 'A2', name: 'DJ', genres: ['techno', 'rock'] }]);
    const ev = { id: 'E1', organizer_id: 'O1', venue_id: 'V1', artist_ids: ['A1', 'A2'], title: 'Summer Fest 2026', starts_at: '2026-07-01T18:00:00Z', ends_at: '2026-07-02T02:00:00Z', status: 'on_sale', city: 'Cluj', url: 'https://example.org/e1' };
    const explicit = { ...ev, id: 'E2', genres: ['jazz'], capacity: 500 };
    expect((await put('events', [ev, explicit])).json).toEqual({ upserted: 2, unchanged: 0, rejected: [] });
    expect((await get('events/E1')).json).toMatchObject({ genres: ['indie', 'rock', 'techno'], genres_derived: true, starts_at: '2026-07-01T18:00:00.000Z' });
    expect((await get('events/E2')).json.genres).toEqual(['jazz']);
    await put('artists', [{ id: 'A2', name: 'DJ', genres: ['house'] }]);
    expect((await get('events/E1')).json.genres).toEqual(['house', 'indie', 'rock']);
    expect((await get('events/E2')).json.genres).toEqual(['jazz']);
  });

  it('keeps at most 50 derived genres: the most frequent across the event\'s artists, then by name', async () => {
    // 60 artists, each with its own genre u00…u59, and the last three also with 'zz-shared' (3 artists) and 'zy' (2).
    const own = (i: number) => `u${String(i).padStart(2, '0')}`;
    const artists = Array.from({ length: 60 }, (_, i) => ({ id: `GA${i}`, name: `A${i}`, genres: i >= 57 ? [own(i), 'zz-shared', ...(i >= 58 ? ['zy'] : [])] : [own(i)] }));
    expect((await put('artists', artists)).json.rejected).toEqual([]);
    const ev = { id: 'GE1', organizer_id: 'O1', artist_ids: artists.map((a) => a.id), title: 'Many artists' };
    expect((await put('events', [ev])).json.rejected).toEqual([]);
    const first = Array.from({ length: 48 }, (_, i) => own(i));
    expect((await get('events/GE1')).json).toMatchObject({ genres: [...first, 'zy', 'zz-shared'], genres_derived: true });
    // Re-derived when an artist changes: GA0 now also carries 'zy' (3 artists, ties 'zz-shared'), still 50.
    expect((await put('artists', [{ ...artists[0], genres: ['u00', 'zy'] }])).json.upserted).toBe(1);
    expect((await get('events/GE1')).json.genres).toEqual([...first, 'zy', 'zz-shared']);
    expect((await put('artists', [{ ...artists[0], genres: ['zx'] }])).json.upserted).toBe(1);
    expect((await get('events/GE1')).json.genres).toEqual([...first.slice(1), 'u48', 'zy', 'zz-shared']);
  });

  it('gives the live layer event metadata: organizer name, capacity from the event or its venue, gates', async () => {
    const meta = await getEventMeta(server.db, t.tenant_id, ['E1', 'E2', 'nope']);
    const by = Object.fromEntries(meta.map((m) => [m.id, m]));
    expect(Object.keys(by).sort()).toEqual(['E1', 'E2']);
    expect(by.E1).toEqual({
      id: 'E1', organizer_id: 'O1', organizer_name: 'Live Nation Romania', title: 'Summer Fest 2026', venue_id: 'V1', capacity: 13000,
      gates: [{ id: 'G1', name: 'North', capacity: 8000 }, { id: 'G2', name: 'South', capacity: 4000 }], starts_at: '2026-07-01T18:00:00.000Z', status: 'on_sale',
    });
    expect(by.E2.capacity).toBe(500);
    expect(await getEventMeta(server.db, other.tenant_id, ['E1'])).toEqual([]);
  });

  it('answers per item: refused fields by name, duplicate ids, the rest stored', async () => {
    const r = await put('ticket_types', [
      { id: 'T1', event_id: 'E1', name: 'GA', category: 'GA', price: 49.9, currency: 'EUR', quota: 1000 },
      { id: 'T2', event_id: 'E1', name: 'VIP', category: 'VIP', price: -1, currency: 'euro', quota: 20_000_000 },
      { id: 'T1', name: 'again' },
      { name: 'no id' },
      'not an object',
      { id: 'T3', event_id: 'E1', price: 1e11, currency: 'EUR' },
    ]);
    expect(r.status).toBe(200);
    expect(r.json.upserted).toBe(1);
    expect(r.json.unchanged).toBe(0);
    const fields = Object.fromEntries(r.json.rejected.map((x: any) => [x.index, x.errors.map((e: any) => e.field).sort()]));
    expect(fields).toEqual({ 1: ['currency', 'price', 'quota'], 2: ['id'], 3: ['id'], 4: ['$'], 5: ['price'] });
    expect(r.json.rejected[1]).toMatchObject({ index: 2, id: 'T1', errors: [{ code: 'duplicate_id' }] });
    expect((await get('ticket_types/T1')).json).toMatchObject({ price: 49.9, currency: 'EUR', quota: 1000 });

    const bad = await put('events', [
      { id: 'E9', starts_at: '2026-02-30T00:00:00Z' },
      { id: 'E9b', starts_at: '2026-07-02T00:00:00Z', ends_at: '2026-07-01T00:00:00Z' },
      { id: 'E9c', starts_at: '9999-01-01T00:00:00Z', url: 'javascript:alert(1)' },
      { id: 'x'.repeat(129) },
      { id: 'tab\there' },
    ]);
    expect(bad.json.rejected.map((x: any) => [x.index, x.errors.map((e: any) => e.field).sort()])).toEqual([[0, ['starts_at']], [1, ['ends_at']], [2, ['starts_at', 'url']], [3, ['id']], [4, ['id']]]);
    const venue = await put('venues', [{ id: 'V9', lat: 91, lon: -181, capacity: 10_000_001, gates: [{ name: 'no id' }] }]);
    expect(venue.json.rejected[0].errors.map((e: any) => e.field).sort()).toEqual(['capacity', 'gates[0].id', 'lat', 'lon']);
  });

  it('refuses the request itself: unknown kind, no items array, more than 1000 items, a NUL anywhere', async () => {
    expect((await put('widgets', [])).json.error).toMatchObject({ code: 'invalid_field', in: 'path', field: 'kind' });
    expect((await api(base, t, 'PUT', '/api/v1/catalog/venues', { item: [] })).json.error).toMatchObject({ code: 'invalid_field', field: 'items' });
    const many = await put('products', Array.from({ length: 1001 }, (_, i) => ({ id: `P${i}` })));
    expect(many.status).toBe(413);
    expect(many.json.error).toMatchObject({ code: 'too_many_items', limit: 1000 });
    expect((await put('products', [{ id: 'P\u0000' }])).status).toBe(400);
    expect((await api(base, t, 'PUT', '/api/v1/catalog/products', { items: [{ id: 'P1' }] }, { authorization: `Bearer ${t.write_key}` })).status).toBe(403);
  });

  it('pages with a keyset cursor in id order, and deletes', async () => {
    const items = Array.from({ length: 25 }, (_, i) => ({ id: `P${String(i).padStart(2, '0')}`, name: `Product ${i}`, price: i, currency: 'RON' }));
    expect((await put('products', items)).json.upserted).toBe(25);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await get(`products?limit=10${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.json.items.map((p: any) => p.id));
      cursor = page.json.next_cursor;
    } while (cursor);
    expect(seen).toEqual(items.map((p) => p.id));
    expect((await get('products?cursor=WyJldmVudHMiLCIiLCIiXQ')).json.error).toMatchObject({ field: 'cursor' });
    expect((await api(base, t, 'DELETE', '/api/v1/catalog/products/P03')).json).toEqual({ deleted: 1 });
    expect((await api(base, t, 'DELETE', '/api/v1/catalog/products/P03')).json).toEqual({ deleted: 0 });
    expect((await get('products/P03')).status).toBe(404);
  });

  it('keeps a person\'s average order value to the thousandth, as a 3-decimal currency (KWD) needs', async () => {
    const ext = 'kwd-' + crypto.randomUUID().slice(0, 8);
    const customer = { external_id: ext, email: `${ext}@example.org` };
    const order = (gross_amount: number) => orderEvent({ payload: { gross_amount, currency: 'KWD', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, customer } });
    expect((await serverEvents(base, t, { events: [order(1.234), order(2.347)] })).json).toMatchObject({ accepted: 2 });
    expect((await get(`persons/${ext}`)).json).toMatchObject({ total_orders: 2, avg_order_value: 1.791 });
    expect((await serverEvents(base, t, { events: [order(2.001)] })).json).toMatchObject({ accepted: 1 });
    expect((await get(`persons/${ext}`)).json).toMatchObject({ total_orders: 3, avg_order_value: 1.861 });
  });

  it('derives person stats from orders, lets a sync override them, exports and erases them with the person', async () => {
    const ext = 'cust-' + crypto.randomUUID().slice(0, 8);
    const customer = { external_id: ext, email: `${ext}@example.org` };
    const at1 = new Date(Date.now() - 3 * 3_600_000).toISOString();
    const at2 = new Date(Date.now() - 2 * 3_600_000).toISOString();
    const o1 = orderEvent({ occurred_at: at1, payload: { gross_amount: 100, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2 }], consent_data_processing: true, consent_marketing: true, customer } });
    const o2 = orderEvent({ occurred_at: at2, payload: { gross_amount: 50, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, customer } });
    expect((await serverEvents(base, t, { events: [o1, o2] })).json).toMatchObject({ accepted: 2 });
    const p = (await get(`persons/${ext}`)).json;
    expect(p).toMatchObject({ id: ext, total_orders: 2, avg_order_value: 75, last_purchase_at: at2, marketing_consent: true, synced_fields: [] });

    // Synced values win over the derivation, also across a full recompute; null gives the derivation back.
    const s = await put('persons', [{ id: ext, total_orders: 7, city: 'Brasov', marketing_consent: false }]);
    expect(s.json).toEqual({ upserted: 1, unchanged: 0, rejected: [] });
    await recomputePersonStats(server.db, t.tenant_id);
    expect((await get(`persons/${ext}`)).json).toMatchObject({ total_orders: 7, avg_order_value: 75, city: 'Brasov', marketing_consent: false, marketing_consent_at: expect.any(String), synced_fields: ['city', 'marketing_consent', 'total_orders'] });
    await put('persons', [{ id: ext, total_orders: null }]);
    expect((await get(`persons/${ext}`)).json).toMatchObject({ total_orders: 2, synced_fields: ['city', 'marketing_consent'] });

    const pid = p.person_id;
    const ex = await api(base, t, 'GET', `/api/v1/persons/${pid}/export`);
    expect(ex.json.person).toMatchObject({ city: 'Brasov', total_orders: 2, avg_order_value: 75, marketing_consent: false, last_purchase_at: at2 });
    expect((await api(base, t, 'DELETE', `/api/v1/persons/${pid}`)).status).toBe(200);
    expect((await get(`persons/${ext}`)).status).toBe(404);
    // A sync carrying an update from before the erasure cannot bring the person back.
    const late = await put('persons', [{ id: 'bad', total_orders: -1 }, { id: ext, city: 'Iasi', updated_at: at2 }]);
    expect(late.json).toMatchObject({ upserted: 0, unchanged: 0, rejected: [{ index: 0, id: 'bad' }, { index: 1, id: ext, errors: [{ code: 'person_erased' }] }] });
    expect((await get(`persons/${ext}`)).status).toBe(404);
  });

  it('lets the newest marketing consent statement win: a sync against the consent of the person\'s orders, both ways', async () => {
    const ext = 'C30-' + crypto.randomUUID().slice(0, 8);
    const customer = { external_id: ext, email: `${ext}@example.org` };
    const order = (at: string, consent: boolean) => orderEvent({ occurred_at: at, payload: { gross_amount: 10, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, consent_marketing: consent, customer } });
    const person = async () => (await get(`persons/${ext}`)).json;
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000).toISOString();
    expect((await put('persons', [{ id: ext, marketing_consent: true, updated_at: twoDaysAgo }])).json.upserted).toBe(1);
    expect(await person()).toMatchObject({ marketing_consent: true, marketing_consent_at: twoDaysAgo, synced_fields: ['marketing_consent'] });
    // An opt-out at checkout after the synced opt-in supersedes it (remarketing and audiences read this column).
    const optOut = minutesAgo(60);
    expect((await serverEvents(base, t, { events: [order(optOut, false)] })).json).toMatchObject({ accepted: 1 });
    expect(await person()).toMatchObject({ marketing_consent: false, marketing_consent_at: optOut, synced_fields: [] });
    await recomputePersonStats(server.db, t.tenant_id);
    expect(await person()).toMatchObject({ marketing_consent: false, synced_fields: [] });
    // A sync older than that order changes nothing; a newer one wins, and keeps winning over a late, older order.
    expect((await put('persons', [{ id: ext, marketing_consent: true, updated_at: minutesAgo(90) }])).json).toEqual({ upserted: 0, unchanged: 1, rejected: [] });
    expect(await person()).toMatchObject({ marketing_consent: false, marketing_consent_at: optOut, synced_fields: [] });
    // Not taken, it is not the person's latest statement either: an item older than it that carries something else is.
    expect((await put('persons', [{ id: ext, city: 'Iasi', updated_at: minutesAgo(100) }])).json.upserted).toBe(1);
    expect(await person()).toMatchObject({ city: 'Iasi', marketing_consent: false, synced_fields: ['city'] });
    expect((await put('persons', [{ id: ext, city: null, updated_at: minutesAgo(95) }])).json.upserted).toBe(1);
    expect(await person()).toMatchObject({ marketing_consent: false, synced_fields: [] });
    const synced = minutesAgo(30);
    expect((await put('persons', [{ id: ext, marketing_consent: true, updated_at: synced }])).json.upserted).toBe(1);
    expect(await person()).toMatchObject({ marketing_consent: true, marketing_consent_at: synced, synced_fields: ['marketing_consent'] });
    expect((await serverEvents(base, t, { events: [order(minutesAgo(45), false)] })).json).toMatchObject({ accepted: 1 });
    await recomputePersonStats(server.db, t.tenant_id);
    expect(await person()).toMatchObject({ marketing_consent: true, marketing_consent_at: synced, synced_fields: ['marketing_consent'] });
    // A synced opt-out loses to a newer opt-in at checkout, too.
    expect((await put('persons', [{ id: ext, marketing_consent: false, updated_at: minutesAgo(20) }])).json.upserted).toBe(1);
    expect(await person()).toMatchObject({ marketing_consent: false, synced_fields: ['marketing_consent'] });
    const optIn = minutesAgo(10);
    expect((await serverEvents(base, t, { events: [order(optIn, true)] })).json).toMatchObject({ accepted: 1 });
    expect(await person()).toMatchObject({ marketing_consent: true, marketing_consent_at: optIn, synced_fields: [] });
  });

  it('counts an order stored several times once: in total_orders, the average order value and the last purchase', async () => {
    const ext = 'C20-' + crypto.randomUUID().slice(0, 8);
    const customer = { external_id: ext, email: `${ext}@example.org` };
    const ordd = 'ORDD-' + crypto.randomUUID().slice(0, 8);
    const at1 = minutesAgo(120);
    const at2 = minutesAgo(60);
    const order = (id: string, amount: number, at: string) => orderEvent({ occurred_at: at, entities: { order_id: id, event_entity_id: 'E1' }, payload: { gross_amount: amount, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, customer } });
    // ORDD sent three times under new event ids (the last resend stamped later than ORDE), then ORDE: ingest stores
    // an order once (README "The envelope": the order ledger), the re-sends are duplicates.
    const sent = [order(ordd, 100, at1), order(ordd, 100, at1), order('ORDE-' + ordd, 500, at2), order(ordd, 100, minutesAgo(30))];
    expect((await serverEvents(base, t, { events: sent })).json).toMatchObject({ accepted: 2, duplicates: 2 });
    expect((await get(`persons/${ext}`)).json).toMatchObject({ total_orders: 2, avg_order_value: 300, last_purchase_at: at2 });
    // A copy an older version stored (before the ledger) under a new event id, stamped later than ORDE: the
    // recompute still counts the order once, at its first row.
    await server.db.query(`INSERT INTO tx_events SELECT (jsonb_populate_record(NULL::tx_events,
        to_jsonb(e) || jsonb_build_object('event_id', gen_random_uuid(), 'occurred_at', $3::timestamptz))).*
      FROM tx_events e WHERE tenant_id = $1 AND event_name = 'order_completed' AND entities->>'order_id' = $2`, [t.tenant_id, ordd, minutesAgo(30)]);
    const copies = await server.db.query("SELECT 1 FROM tx_events WHERE tenant_id = $1 AND event_name = 'order_completed' AND entities->>'order_id' = $2", [t.tenant_id, ordd]);
    expect(copies.rows).toHaveLength(2);
    await recomputePersonStats(server.db, t.tenant_id);
    expect((await get(`persons/${ext}`)).json).toMatchObject({ total_orders: 2, avg_order_value: 300, last_purchase_at: at2 });
  });

  it('holds a synced city against the cities of later orders and logins until it is synced as null', async () => {
    const ext = 'C1-' + crypto.randomUUID().slice(0, 8);
    const customer = (city: string) => ({ external_id: ext, email: `${ext}@example.org`, city });
    const order = (city: string) => orderEvent({ payload: { gross_amount: 10, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, customer: customer(city) } });
    expect((await serverEvents(base, t, { events: [order('Arad')] })).json).toMatchObject({ accepted: 1 });
    expect((await get(`persons/${ext}`)).json).toMatchObject({ city: 'Arad', synced_fields: [] });
    expect((await put('persons', [{ id: ext, city: 'Cluj-Synced' }])).json.upserted).toBe(1);
    expect((await get(`persons/${ext}`)).json).toMatchObject({ city: 'Cluj-Synced', synced_fields: ['city'] });
    expect((await serverEvents(base, t, { events: [order('Iasi')] })).json).toMatchObject({ accepted: 1 });
    expect((await identify(base, t, { visitor_id: 'v-' + ext, external_id: ext, city: 'Brasov', consent_data_processing: true })).status).toBe(200);
    expect((await get(`persons/${ext}`)).json).toMatchObject({ city: 'Cluj-Synced', synced_fields: ['city'] });
    // Synced as null: no city until an order or a login brings one again.
    expect((await put('persons', [{ id: ext, city: null }])).json.upserted).toBe(1);
    expect((await get(`persons/${ext}`)).json).toMatchObject({ city: null, synced_fields: [] });
    expect((await serverEvents(base, t, { events: [order('Iasi')] })).json).toMatchObject({ accepted: 1 });
    expect((await get(`persons/${ext}`)).json).toMatchObject({ city: 'Iasi', synced_fields: [] });
  });

  it('deletes a person\'s synced attributes once: a second delete answers 0', async () => {
    const ext = 'CD-' + crypto.randomUUID().slice(0, 8);
    expect((await put('persons', [{ id: ext, city: 'Sibiu', total_orders: 3 }])).json.upserted).toBe(1);
    expect((await api(base, t, 'DELETE', `/api/v1/catalog/persons/${ext}`)).json).toEqual({ deleted: 1 });
    expect((await get(`persons/${ext}`)).json).toMatchObject({ city: 'Sibiu', total_orders: 0, synced_fields: [] });
    expect((await api(base, t, 'DELETE', `/api/v1/catalog/persons/${ext}`)).json).toEqual({ deleted: 0 });
    expect((await api(base, t, 'DELETE', '/api/v1/catalog/persons/nobody-' + ext)).json).toEqual({ deleted: 0 });
  });

  it('creates a person from a sync alone', async () => {
    const r = await put('persons', [{ id: 'sync-only', city: 'Timisoara', marketing_consent: true, marketing_consent_at: '2026-01-01T00:00:00Z' }, { id: 'bare' }]);
    expect(r.json).toEqual({ upserted: 2, unchanged: 0, rejected: [] });
    expect((await get('persons/sync-only')).json).toMatchObject({ city: 'Timisoara', total_orders: 0, marketing_consent: true, marketing_consent_at: '2026-01-01T00:00:00.000Z' });
    expect((await put('persons', [{ id: 'bare' }])).json).toEqual({ upserted: 0, unchanged: 1, rejected: [] });
    expect((await api(base, t, 'DELETE', '/api/v1/catalog/persons/sync-only')).json).toEqual({ deleted: 1 });
    expect((await get('persons/sync-only')).json).toMatchObject({ marketing_consent: null, city: 'Timisoara' });
  });
});
