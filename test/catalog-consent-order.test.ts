// A person's synced marketing consent is the newest statement (README "Catalog" → Persons): stated at its
// marketing_consent_at. An item sent later (newer updated_at) whose consent is stated earlier than the stored
// one did replace it when the stored consent was itself synced (true@11-20, then false@11-19 → false@11-19).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkItems } from '../server/catalog/schemas.js';
import { createCatalogStore } from '../server/catalog/store.js';
import type { Db } from '../server/store/db.js';
import { scratchEmbedded } from './store-suites.js';

describe('synced marketing consent: an older statement never replaces a newer one', () => {
  let scratch: Awaited<ReturnType<typeof scratchEmbedded>>;
  let db: Db;
  let tenant: number;
  const now = new Date('2026-11-29T12:00:00Z');
  const sync = async (items: unknown[]) => {
    const { valid, rejected } = checkItems('persons', items, now.getTime());
    expect(rejected).toEqual([]);
    return createCatalogStore(db).upsert(tenant, 'persons', valid, now);
  };
  const get = (id: string) => createCatalogStore(db).get(tenant, 'persons', id);

  beforeAll(async () => {
    scratch = await scratchEmbedded('consent-order');
    db = scratch.db;
    tenant = Number((await db.query<{ tenant_id: string }>("INSERT INTO tenants (name) VALUES ('c') RETURNING tenant_id")).rows[0].tenant_id);
  }, 60_000);
  afterAll(async () => {
    await scratch?.close();
  });

  it('keeps true@11-20 when false@11-19 arrives in a later item (updated_at 11-27), and keeps it synced', async () => {
    await sync([{ id: 'cx1', marketing_consent: true, marketing_consent_at: '2026-11-20T00:00:00Z', updated_at: '2026-11-26T00:00:00Z' }]);
    const r = await sync([{ id: 'cx1', marketing_consent: false, marketing_consent_at: '2026-11-19T00:00:00Z', updated_at: '2026-11-27T00:00:00Z' }]);
    expect(r.changed.persons).toEqual([]);
    expect(await get('cx1')).toMatchObject({ marketing_consent: true, marketing_consent_at: '2026-11-20T00:00:00.000Z', synced_fields: ['marketing_consent'] });
  });

  it('takes the item\'s other fields while leaving the older consent out; a newer consent then wins', async () => {
    await sync([{ id: 'cx2', marketing_consent: true, marketing_consent_at: '2026-11-20T00:00:00Z', updated_at: '2026-11-26T00:00:00Z' }]);
    await sync([{ id: 'cx2', city: 'Arad', marketing_consent: false, marketing_consent_at: '2026-11-19T00:00:00Z', updated_at: '2026-11-27T00:00:00Z' }]);
    expect(await get('cx2')).toMatchObject({ city: 'Arad', marketing_consent: true, marketing_consent_at: '2026-11-20T00:00:00.000Z', synced_fields: ['city', 'marketing_consent'] });
    await sync([{ id: 'cx2', marketing_consent: false, marketing_consent_at: '2026-11-21T00:00:00Z', updated_at: '2026-11-28T00:00:00Z' }]);
    expect(await get('cx2')).toMatchObject({ marketing_consent: false, marketing_consent_at: '2026-11-21T00:00:00.000Z', synced_fields: ['city', 'marketing_consent'] });
  });

  it('dates a consent sent without marketing_consent_at by its item\'s updated_at: a later one replaces the stored one', async () => {
    await sync([{ id: 'cx3', marketing_consent: true, marketing_consent_at: '2026-11-20T00:00:00Z', updated_at: '2026-11-20T00:00:00Z' }]);
    await sync([{ id: 'cx3', marketing_consent: false, updated_at: '2026-11-21T00:00:00Z' }]);
    expect(await get('cx3')).toMatchObject({ marketing_consent: false, marketing_consent_at: '2026-11-21T00:00:00.000Z' });
  });
});
