// Campaigns and roles (issue 18): a budget's event must belong to the budget's organizer (the same check as the
// tracking codes': one helper), so a key scoped to O1 cannot point a suite at O2's viewers and cart abandoners.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postJson, request, type Tenant } from './helpers.js';
import { SUITE_DEFAULTS_ENV } from './campaigns-stores.js';

describe('campaigns: a budget\'s event is its organizer\'s', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  let adKey: string;
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const api = (method: string, p: string, body?: unknown, key = t.secret_key) => request(method, `${base}${p}`, body, as(key));
  const budget = (event: string) => ({ organizer_id: 'O1', event_id: event, total_budget: 500, allocation_strategy: 'equal_split' });

  beforeAll(async () => {
    server = await bootServer({ ...SUITE_DEFAULTS_ENV });
    base = server.url;
    t = await createTenant(base, 'ads-scope');
    expect((await api('PUT', '/api/v1/catalog/events', { items: [{ id: 'E1', organizer_id: 'O1', title: 'Mine' }, { id: 'E2', organizer_id: 'O2', title: 'Theirs' }, { id: 'E3', title: 'Nobody\'s' }] })).status).toBe(200);
    const k = await postJson(`${base}/api/v1/keys`, { role: 'ad_account', scope: { organizers: ['O1'] } }, as(t.secret_key));
    expect(k.status, k.text).toBe(201);
    adKey = k.json.key;
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('refuses a budget for O1 on O2\'s event (naming event_id, as tracking codes do), from a scoped key and from the admin key', async () => {
    // The admin key is told the owner (400); the key scoped to O1 only that the event is outside its scope (403).
    const r = await api('POST', '/api/v1/campaigns/budgets', budget('E2'));
    expect({ status: r.status, error: r.json?.error }).toMatchObject({ status: 400, error: { code: 'invalid_field', field: 'event_id', message: 'Event E2 belongs to organizer O2, not O1.' } });
    const scoped = await api('POST', '/api/v1/campaigns/budgets', budget('E2'), adKey);
    expect({ status: scoped.status, error: scoped.json?.error }).toMatchObject({ status: 403, error: { code: 'forbidden', field: 'event_id', scope: 'event E2' } });
    expect((await api('GET', '/api/v1/campaigns/budgets', undefined, adKey)).json.budgets).toEqual([]);
    const ok = await api('POST', '/api/v1/campaigns/budgets', budget('E1'), adKey);
    expect(ok.status, ok.text).toBe(201);
    // The tracking codes answer the same refusal (one helper).
    const code = await api('POST', '/api/v1/tracking-codes', { provider: 'meta', organizer_id: 'O1', event_id: 'E2', settings: { pixel_id: '123456789012345' } });
    expect(code.json?.error).toMatchObject({ code: 'invalid_field', field: 'event_id', message: 'Event E2 belongs to organizer O2, not O1.' });
  });

  it('refuses a budget whose event is not a catalog event of its organizer (400 naming event_id), from every key, the admin key included', async () => {
    // The probe's case: {"organizer_id":"O9","event_id":"NOPE"} was 201 — the suite then had no genres, city or page
    // for it and targeted the viewers of an event that does not exist.
    const o9 = await postJson(`${base}/api/v1/keys`, { role: 'ad_account', scope: { organizers: ['O9'] } }, as(t.secret_key));
    for (const key of [t.secret_key, o9.json.key]) {
      const r = await api('POST', '/api/v1/campaigns/budgets', { ...budget('NOPE'), organizer_id: 'O9' }, key);
      expect({ status: r.status, error: r.json?.error }).toMatchObject({ status: 400, error: { code: 'invalid_field', in: 'body', field: 'event_id', message: expect.stringMatching(/^No event "NOPE" in this tenant's catalog/) } });
    }
    // A catalog event without an organizer is no organizer's.
    const none = await api('POST', '/api/v1/campaigns/budgets', budget('E3'));
    expect({ status: none.status, error: none.json?.error }).toMatchObject({ status: 400, error: { field: 'event_id', message: expect.stringMatching(/^Event E3 has no organizer in the catalog/) } });
    expect((await api('GET', '/api/v1/campaigns/budgets?organizer_id=O9')).json.budgets ?? []).toEqual([]);
    // Without an event, a budget is the organizer's alone.
    expect((await api('POST', '/api/v1/campaigns/budgets', { ...budget('E1'), event_id: undefined, organizer_id: 'O9' })).status).toBe(201);
  });
});
