// The catalog's SQL on a Postgres server (pg driver, PostgreSQL 15) as well as on the embedded store: upserts of
// every kind, updated_at ordering, derived genres, event metadata, person attributes and their recompute.
// The test machine's PostgreSQL has no TimescaleDB, so the schema is the real migrations without the one
// create_hypertable call (tx_events stays a plain table; the catalog does not depend on it being a hypertable).
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEventMeta, recomputePersonStats } from '../server/catalog/index.js';
import { checkItems, type Kind } from '../server/catalog/schemas.js';
import { createCatalogStore, personStatsProjector } from '../server/catalog/store.js';
import type { EventRow } from '../server/store/events.js';
import { openPostgres, type Db } from '../server/store/db.js';
import { migrate } from '../server/store/migrate.js';
import { silent } from './helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

describe('catalog on PostgreSQL 15 (pg driver)', () => {
  let scratch: ScratchDatabase | undefined;
  let db: Db;
  let tenant: number;
  const store = () => createCatalogStore(db);
  const sync = async (kind: Kind, items: unknown[]) => {
    const { valid, rejected } = checkItems(kind, items);
    expect(rejected).toEqual([]);
    return store().upsert(tenant, kind, valid, new Date());
  };

  beforeAll(async () => {
    scratch = await scratchDatabase('catalog');
    // A PostgreSQL 15 without TimescaleDB: the plain flavour of the schema, as the server would choose it.
    db = await openPostgres(scratch.url, 4, silent, { plain: true });
    await migrate(db, silent);
    tenant = Number((await db.query<{ tenant_id: string }>("INSERT INTO tenants (name) VALUES ('pg') RETURNING tenant_id")).rows[0].tenant_id);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  it('upserts every kind, ignores an older update, derives genres and answers event metadata', async () => {
    await sync('organizers', [{ id: 'O1', name: 'Org', updated_at: '2026-05-02T00:00:00Z' }]);
    expect((await sync('organizers', [{ id: 'O1', name: 'old', updated_at: '2026-05-01T00:00:00Z' }])).changed.organizers).toEqual([]);
    await sync('venues', [{ id: 'V1', name: 'Hall', capacity: 900, gates: [{ id: 'G1', name: 'Main', capacity: 900 }], lat: 1.5, lon: 2.5 }]);
    // The same item again writes nothing: the row version (xmin) stays, so a full re-sync leaves no dead rows.
    const xmin = async () => (await db.query<{ xmin: string }>("SELECT xmin::text AS xmin FROM catalog_venues WHERE id = 'V1'")).rows[0].xmin;
    const before = await xmin();
    expect((await sync('venues', [{ id: 'V1', name: 'Hall', capacity: 900, gates: [{ id: 'G1', name: 'Main', capacity: 900 }], lat: 1.5, lon: 2.5 }])).changed.venues).toEqual([]);
    expect(await xmin()).toBe(before);
    await sync('artists', [{ id: 'A1', genres: ['pop'] }, { id: 'A2', genres: ['jazz', 'pop'] }]);
    expect((await sync('events', [{ id: 'E1', organizer_id: 'O1', venue_id: 'V1', artist_ids: ['A1', 'A2'], title: 'Gala', starts_at: '2026-07-01T18:00:00Z', status: 'on_sale' }])).changed.events).toEqual(['E1']);
    expect((await sync('events', [{ id: 'E1', organizer_id: 'O1', venue_id: 'V1', artist_ids: ['A1', 'A2'], title: 'Gala', starts_at: '2026-07-01T18:00:00Z', status: 'on_sale' }])).changed.events).toEqual([]);
    expect((await sync('artists', [{ id: 'A1', genres: ['rock'] }])).changed).toEqual({ artists: ['A1'], events: ['E1'] });
    await sync('ticket_types', [{ id: 'T1', event_id: 'E1', category: 'VIP', price: 120.5, currency: 'EUR', quota: 50 }]);
    await sync('products', [{ id: 'P1', name: 'Shirt', price: 20, currency: 'EUR' }]);
    expect(await store().get(tenant, 'events', 'E1')).toMatchObject({ genres: ['jazz', 'pop', 'rock'], genres_derived: true });
    expect(await store().get(tenant, 'ticket_types', 'T1')).toMatchObject({ price: 120.5, currency: 'EUR', quota: 50 });
    expect(await getEventMeta(db, tenant, ['E1'])).toEqual([{
      id: 'E1', organizer_id: 'O1', organizer_name: 'Org', title: 'Gala', venue_id: 'V1', capacity: 900,
      gates: [{ id: 'G1', name: 'Main', capacity: 900 }], starts_at: '2026-07-01T18:00:00.000Z', status: 'on_sale',
    }]);
    // The only product fills a page of 1 exactly: it is the last page, so there is no cursor.
    const page = await store().list(tenant, 'products', null, 1);
    expect(page).toMatchObject({ rows: [{ id: 'P1', price: 20 }], last: null });
    expect(await store().remove(tenant, 'products', 'P1')).toEqual(['P1']);
  });

  it('derives person stats from stored orders (projector), keeps a synced override through a recompute', async () => {
    const personId = Number((await db.query<{ person_id: string }>("INSERT INTO persons (tenant_id, external_id) VALUES ($1, 'C1') RETURNING person_id", [tenant])).rows[0].person_id);
    const row = (order: string, amount: number, at: string): EventRow => ({
      event_id: crypto.randomUUID(), event_name: 'order_completed', event_version: 1, occurred_at: at, received_at: at, sent_at: null, tenant_id: tenant,
      site_id: null, source_system: 'backend', visitor_id: null, session_id: null, sequence_no: null, prev_event_id: null, person_id: personId,
      consent_snapshot: {}, context: {}, entities: { order_id: order }, payload: { gross_amount: amount, currency: 'EUR', consent_marketing: true }, idempotency_key: null, is_bot: false,
    });
    const rows = [row('O-1', 10, '2026-11-01T10:00:00Z'), row('O-2', 30, '2026-11-02T10:00:00Z')];
    for (const r of rows) {
      await db.query(
        'INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, person_id, consent_snapshot, entities, payload) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)',
        [r.event_id, r.event_name, r.occurred_at, r.tenant_id, r.source_system, r.person_id, r.consent_snapshot, r.entities, r.payload],
      );
    }
    await db.tx((q) => personStatsProjector.run(q, rows));
    expect(await store().get(tenant, 'persons', 'C1')).toMatchObject({ total_orders: 2, avg_order_value: 20, last_purchase_at: '2026-11-02T10:00:00.000Z', marketing_consent: true });
    expect((await sync('persons', [{ id: 'C1', avg_order_value: 99.5 }, { id: 'C2', city: 'Arad' }])).changed.persons?.sort()).toEqual(['C1', 'C2']);
    await recomputePersonStats(db, null);
    expect(await store().get(tenant, 'persons', 'C1')).toMatchObject({ total_orders: 2, avg_order_value: 99.5, synced_fields: ['avg_order_value'] });
    expect(await store().get(tenant, 'persons', 'C2')).toMatchObject({ city: 'Arad', total_orders: 0 });
  });

  it('counts a twice-stored order once, lets a later order\'s consent supersede a synced one, holds a synced city, deletes once', async () => {
    const personId = Number((await db.query<{ person_id: string }>("INSERT INTO persons (tenant_id, external_id) VALUES ($1, 'C20') RETURNING person_id", [tenant])).rows[0].person_id);
    const row = (order: string, amount: number, at: string, consent?: boolean): EventRow => ({
      event_id: crypto.randomUUID(), event_name: 'order_completed', event_version: 1, occurred_at: at, received_at: at, sent_at: null, tenant_id: tenant,
      site_id: null, source_system: 'backend', visitor_id: null, session_id: null, sequence_no: null, prev_event_id: null, person_id: personId,
      consent_snapshot: {}, context: {}, entities: { order_id: order }, payload: { gross_amount: amount, currency: 'EUR', ...(consent === undefined ? {} : { consent_marketing: consent }) },
      idempotency_key: null, is_bot: false,
    });
    const store_ = async (rows: EventRow[]) => {
      for (const r of rows) {
        await db.query('INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, person_id, consent_snapshot, entities, payload) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)',
          [r.event_id, r.event_name, r.occurred_at, r.tenant_id, r.source_system, r.person_id, r.consent_snapshot, r.entities, r.payload]);
      }
      await db.tx((q) => personStatsProjector.run(q, rows));
    };
    await sync('persons', [{ id: 'C20', marketing_consent: true, city: 'Cluj-Synced', updated_at: '2026-11-01T00:00:00Z' }]);
    await store_([row('ORDD', 100, '2026-11-05T10:00:00Z'), row('ORDD', 100, '2026-11-05T10:00:00Z'), row('ORDD', 100, '2026-11-05T10:00:00Z'), row('ORDE', 500, '2026-11-06T10:00:00Z', false)]);
    expect(await store().get(tenant, 'persons', 'C20')).toMatchObject({
      total_orders: 2, avg_order_value: 300, last_purchase_at: '2026-11-06T10:00:00.000Z', city: 'Cluj-Synced',
      marketing_consent: false, marketing_consent_at: '2026-11-06T10:00:00.000Z', synced_fields: ['city'],
    });
    await recomputePersonStats(db, tenant);
    expect(await store().get(tenant, 'persons', 'C20')).toMatchObject({ avg_order_value: 300, marketing_consent: false, synced_fields: ['city'] });
    // A sync older than that order leaves the consent; a newer one holds it against an older, late order.
    expect((await sync('persons', [{ id: 'C20', marketing_consent: true, updated_at: '2026-11-05T00:00:00Z' }])).changed.persons).toEqual([]);
    await sync('persons', [{ id: 'C20', marketing_consent: true, updated_at: '2026-11-07T00:00:00Z' }]);
    await store_([row('ORDF', 50, '2026-11-06T12:00:00Z', false)]);
    expect(await store().get(tenant, 'persons', 'C20')).toMatchObject({ marketing_consent: true, marketing_consent_at: '2026-11-07T00:00:00.000Z', synced_fields: ['city', 'marketing_consent'] });
    expect(await store().remove(tenant, 'persons', 'C20')).toEqual(['C20']);
    expect(await store().remove(tenant, 'persons', 'C20')).toEqual([]);
    expect(await store().get(tenant, 'persons', 'C20')).toMatchObject({ marketing_consent: false, city: 'Cluj-Synced', synced_fields: [] });
  });
});
