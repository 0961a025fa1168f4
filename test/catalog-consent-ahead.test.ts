// A person's synced marketing consent may not be dated ahead of the clock (README "Catalog" → Persons): the
// newest statement wins, so a consent synced with marketing_consent_at 2199 outranked every later checkout
// opt-out and kept the person going to ad platforms. Such an item is now refused like an updated_at more than
// 1 h ahead; a consent stored so before the check is taken as stated at its sync (migration 054), after which
// the recompute lets a later order's opt-out replace it.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recomputePersonStats } from '../server/catalog/index.js';
import { readMigrations } from '../server/store/migrate.js';
import { bootServer, createTenant, orderEvent, type Tenant } from './helpers.js';
import { api, minutesAgo, serverEvents } from './identity-helpers.js';

describe('marketing consent dated ahead of the clock', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  const put = (items: unknown[]) => api(base, t, 'PUT', '/api/v1/catalog/persons', { items });
  const person = async (ext: string) => (await api(base, t, 'GET', `/api/v1/catalog/persons/${ext}`)).json;
  const order = (ext: string, at: string, consent: boolean) => orderEvent({
    occurred_at: at,
    payload: { gross_amount: 10, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, consent_marketing: consent, customer: { external_id: ext, email: `${ext}@example.org` } },
  });

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'consent-ahead');
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('refuses a synced marketing_consent_at more than 1 h ahead, naming the field; a checkout opt-out then wins over the synced opt-in', async () => {
    const ext = 'cy4-' + crypto.randomUUID().slice(0, 8);
    const r = await put([{ id: ext, marketing_consent: true, marketing_consent_at: '2199-01-01T00:00:00Z' }]);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ upserted: 0, unchanged: 0, rejected: [{ index: 0, id: ext, errors: [{ code: 'invalid_field', field: 'marketing_consent_at' }] }] });
    expect(r.json.rejected[0].errors).toHaveLength(1);
    expect(r.json.rejected[0].errors[0].message).toMatch(/^marketing_consent_at 2199-01-01T00:00:00.000Z is more than 1 h after the server's clock/);
    // Within the hour it is taken; the opt-out at a checkout after it replaces it.
    const soon = new Date(Date.now() + 30 * 60_000).toISOString();
    expect((await put([{ id: ext, marketing_consent: true, marketing_consent_at: soon }])).json).toMatchObject({ upserted: 1, rejected: [] });
    expect(await person(ext)).toMatchObject({ marketing_consent: true, marketing_consent_at: soon, synced_fields: ['marketing_consent'] });
    const optOut = new Date(Date.now() + 40 * 60_000).toISOString();
    expect((await serverEvents(base, t, { events: [order(ext, optOut, false)] })).json).toMatchObject({ accepted: 1 });
    expect(await person(ext)).toMatchObject({ marketing_consent: false, marketing_consent_at: optOut, synced_fields: [] });
  });

  it('migration 054 dates a stored far-future synced consent by its sync, so a later checkout opt-out replaces it', async () => {
    const ext = 'cy5-' + crypto.randomUUID().slice(0, 8);
    const derived = 'cy6-' + crypto.randomUUID().slice(0, 8);
    expect((await put([{ id: ext, marketing_consent: true }])).json.upserted).toBe(1);
    // What a sync before the check stored: the consent dated 2199, synced two hours ago.
    const syncedAt = minutesAgo(120);
    await server.db.query("UPDATE persons SET marketing_consent_at = '2199-01-01T00:00:00Z', synced_at = $3 WHERE tenant_id = $1 AND external_id = $2", [t.tenant_id, ext, syncedAt]);
    const optOut = minutesAgo(60);
    expect((await serverEvents(base, t, { events: [order(ext, optOut, false)] })).json).toMatchObject({ accepted: 1 });
    expect(await person(ext)).toMatchObject({ marketing_consent: true, marketing_consent_at: '2199-01-01T00:00:00.000Z' });
    // An order's own consent (not synced) dated ahead is the order's: the migration leaves it.
    const ahead = new Date(Date.now() + 5 * 3_600_000).toISOString();
    expect((await serverEvents(base, t, { events: [order(derived, ahead, true)] })).json).toMatchObject({ accepted: 1 });
    expect(await person(derived)).toMatchObject({ marketing_consent: true, marketing_consent_at: ahead, synced_fields: [] });

    const m = readMigrations().find((x) => x.version === 54);
    expect(m?.name).toBe('054_consent_ahead_clamp.sql');
    await server.db.exec(m!.sql);
    expect(await person(ext)).toMatchObject({ marketing_consent: true, marketing_consent_at: syncedAt, synced_fields: ['marketing_consent'] });
    expect(await person(derived)).toMatchObject({ marketing_consent_at: ahead });
    // The persons.stats job's recompute: the opt-out stated after the sync wins.
    await recomputePersonStats(server.db, t.tenant_id);
    expect(await person(ext)).toMatchObject({ marketing_consent: false, marketing_consent_at: optOut, synced_fields: [] });
  });
});
