// GDPR export and erasure touch only the person's own data when their ids are shared with, or look like, other
// people's: a visitor id "web" or a session id "EUR" (common strings in every body) claims no other rejected
// event, and a session that also holds another visitor's events is recounted from those, not deleted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, webEvent, type Tenant } from './helpers.js';
import { api, batch, identify, minutesAgo } from './identity-helpers.js';

describe('GDPR with ids shared with other people', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'gdpr-shared');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a visitor id "web" and a session id "EUR" export and erase no one else\'s rejected events', async () => {
    // Others' events the validator refuses: each names source_system "web" and currency "EUR".
    const others = Array.from({ length: 3 }, (_, i) =>
      webEvent({ visitor_id: `v-other-${i}`, session_id: `s-other-${i}`, event_name: 'add_to_cart', payload: { cart_value: 'lots', currency: 'EUR' } }));
    expect((await batch(base, t, others)).json.rejected).toHaveLength(3);
    // The person: visitor "web" (a tx_vid cookie set by hand), session "EUR"; one event of theirs rejected too.
    const mine = webEvent({ visitor_id: 'web', session_id: 'EUR', event_name: 'page_view', entities: {}, payload: {}, context: { page: { path: '/' } } });
    const myBad = webEvent({ visitor_id: 'web', session_id: 'EUR', event_name: 'add_to_cart', payload: { cart_value: 'x' } });
    expect((await batch(base, t, [mine, myBad])).json).toMatchObject({ accepted: 1, rejected: [{ index: 1 }] });
    const pid = (await identify(base, t, { visitor_id: 'web', external_id: 'cust-web' })).json.person_id;

    const ex = await api(base, t, 'GET', `/api/v1/persons/${pid}/export`);
    expect(ex.status).toBe(200);
    expect(ex.json.rejected_events.map((r: any) => r.event_id)).toEqual([myBad.event_id]);

    const del = await api(base, t, 'DELETE', `/api/v1/persons/${pid}`);
    expect(del.json.removed).toMatchObject({ events: 1, rejected_events: 1 });
    const left = await api(base, t, 'GET', '/api/v1/tx/rejected?limit=100');
    expect(left.json.rejected.map((r: any) => r.event_id).sort()).toEqual(others.map((e) => e.event_id).sort());
  });
});
