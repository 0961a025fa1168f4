// Segment filters that would silently match nobody are refused (README "Segments"): an RFM segment label the
// feature store never gives (`VIP` for `vip`), and a `did` leaf's event_id that names no event of the tenant
// (the check remarketing audiences make of their event_id). Both are 400 invalid_field with the filter's path.
// Stored definitions are not re-checked: a segment saved before the label check stays editable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postEvents, webEvent, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';

describe('segment filter validation', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  const call = (method: string, p: string, body?: unknown) => api(server.url, t, method, p, body);
  const create = (filters: unknown) => call('POST', '/api/v1/segments', { name: 'x', filters, marketing_only: false });

  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'segments-validation');
    expect((await call('PUT', '/api/v1/catalog/events', { items: [{ id: 'CAT1', title: 'Fest', starts_at: new Date(Date.now() + 30 * 86_400_000).toISOString() }] })).status).toBe(200);
    // An event id known only from a tracked event (not in the catalog).
    const posted = await postEvents(server.url, t, [webEvent({ event_name: 'add_to_cart', entities: { event_entity_id: 'TRK1', cart_id: 'c1' }, payload: { items: [{ ticket_type_id: 'GA', qty: 1 }], cart_value: 50, currency: 'EUR' } })]);
    expect(posted.rejected).toEqual([]);
    expect(posted.accepted).toBe(1);
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('refuses an RFM segment label that is not one of the feature store\'s, naming the path and the labels', async () => {
    const r = await create({ rfm: 'segment', in: ['VIP'] });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'invalid_field', in: 'body', field: 'filters.in[0]' });
    expect(r.json.error.message).toContain('lower-case: vip');
    expect(r.json.error.message).toContain('prospect, vip, new, loyal, lost, at_risk, regular');
    const nested = await create({ or: [{ consent: 'marketing' }, { not: { rfm: 'segment', in: ['loyal', 'champions'] } }] });
    expect(nested.status).toBe(400);
    expect(nested.json.error.field).toBe('filters.or[1].not.in[1]');
    expect((await create({ rfm: 'segment', in: ['vip', 'at_risk'] })).status).toBe(201);
  });

  it('refuses a did event_id that names no event in the catalog or tracked events, on create and on edit', async () => {
    const r = await create({ did: 'add_to_cart', event_id: 'NOPE', within_days: 14 });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({
      code: 'invalid_field', in: 'body', field: 'filters.event_id',
      message: 'No event "NOPE" in this tenant\'s catalog or tracked events (PUT /api/v1/catalog/events syncs the catalog).',
    });
    const nested = await create({ and: [{ did: 'event_view', event_id: 'CAT1', within_days: 3 }, { not: { did: 'order_completed', event_id: 'NOPE', within_days: 3 } }] });
    expect(nested.status).toBe(400);
    expect(nested.json.error.field).toBe('filters.and[1].not.event_id');
    expect((await call('GET', '/api/v1/segments')).json.segments).toEqual([expect.objectContaining({ name: 'x', current_version: 1 })]);

    const ok = await create({ or: [{ did: 'event_view', event_id: 'CAT1', within_days: 3 }, { did: 'add_to_cart', event_id: 'TRK1', within_days: 3 }] });
    expect(ok.status).toBe(201);
    expect(ok.json.size_estimate).toBe(0);
    const edit = await call('PUT', `/api/v1/segments/${ok.json.id}`, { filters: { did: 'add_to_cart', event_id: 'NOPE', within_days: 3 } });
    expect(edit.status).toBe(400);
    expect(edit.json.error.field).toBe('filters.event_id');
    expect((await call('GET', `/api/v1/segments/${ok.json.id}`)).json.version).toBe(1);
    // A segment that does not exist is a 404 before its body's event ids are looked at.
    expect((await call('PUT', '/api/v1/segments/999999', { filters: { did: 'add_to_cart', event_id: 'NOPE', within_days: 3 } })).status).toBe(404);
    // Another tenant's event is not this tenant's.
    const other = await createTenant(server.url, 'segments-validation-other');
    const theirs = await api(server.url, other, 'POST', '/api/v1/segments', { name: 'y', filters: { did: 'event_view', event_id: 'CAT1', within_days: 3 } });
    expect(theirs.status).toBe(400);
    expect(theirs.json.error.field).toBe('filters.event_id');
  });

  it('keeps a segment stored before the label check editable', async () => {
    const s = await create({ rfm: 'segment', in: ['vip'] });
    expect(s.status).toBe(201);
    await server.db.query(`UPDATE segment_versions SET filters = $2 WHERE segment_id = $1`, [s.json.id, JSON.stringify({ rfm: 'segment', in: ['VIP'] })]);
    const renamed = await call('PUT', `/api/v1/segments/${s.json.id}`, { name: 'renamed' });
    expect(renamed.status).toBe(200);
    expect(renamed.json.version).toBe(2);
  });
});
