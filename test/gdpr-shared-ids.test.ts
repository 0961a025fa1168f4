// GDPR export and erasure touch only the person's own data when their ids are shared with, or look like, other
// people's: a visitor id "web" or a session id "EUR" (common strings in every body) claims no other rejected
// event, and a session that also holds another visitor's events is recounted from those, not deleted.
// On both stores: PostgreSQL's sessions come from the deferred projector (a cursor the recount must respect).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, webEvent, type Tenant } from './helpers.js';
import { api, batch, identify, minutesAgo } from './identity-helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

describe.each(['embedded', 'postgres'])('GDPR with ids shared with other people (%s store)', (store) => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let scratch: ScratchDatabase | undefined;
  let base: string;
  let t: Tenant;

  beforeAll(async () => {
    if (store === 'postgres') scratch = await scratchDatabase('gdpr_shared');
    server = await bootServer(scratch ? { DATABASE_URL: scratch.url } : {});
    base = server.url;
    t = await createTenant(base, 'gdpr-shared');
  });
  afterAll(async () => {
    await server?.close();
    await scratch?.drop();
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
  it('a session shared with another visitor is recounted from their events, not deleted', async () => {
    const at = (m: number) => minutesAgo(m);
    const a = webEvent({ visitor_id: 'v-sh-a', session_id: 'sshare1', occurred_at: at(10), event_name: 'page_view', entities: {}, payload: {}, context: { page: { path: '/a' } } });
    const b = webEvent({ visitor_id: 'v-sh-b', session_id: 'sshare1', occurred_at: at(9), event_name: 'page_view', entities: {}, payload: {}, context: { page: { path: '/b' } } });
    expect((await batch(base, t, [a, b])).json.accepted).toBe(2);
    const pid = (await identify(base, t, { visitor_id: 'v-sh-b', external_id: 'cust-sh-b' })).json.person_id;
    expect((await api(base, t, 'DELETE', `/api/v1/persons/${pid}`)).json.removed).toMatchObject({ events: 1, sessions: 0 });
    const s = await api(base, t, 'GET', '/api/v1/sessions/sshare1');
    expect(s.status).toBe(200);
    expect(s.json).toMatchObject({ visitor_id: 'v-sh-a', person_id: null, events_count: 1, page_views: 1, entry_page: '/a', exit_page: '/a' });
    expect(s.json.first_seen_at).toBe(a.occurred_at);
    expect(s.json.last_seen_at).toBe(a.occurred_at);
  });

  it('a visitor linked to A then B: erasing A keeps the session holding B\'s later event, recounted', async () => {
    const v = 'v-sh-ab';
    const e1 = webEvent({ visitor_id: v, session_id: 'sshare2', occurred_at: minutesAgo(20), event_name: 'page_view', entities: {}, payload: {}, context: { page: { path: '/1' } } });
    await batch(base, t, [e1]);
    const pa = (await identify(base, t, { visitor_id: v, external_id: 'cust-sh-A' })).json.person_id;
    const pb = (await identify(base, t, { visitor_id: v, external_id: 'cust-sh-B' })).json.person_id;
    const e2 = webEvent({ visitor_id: v, session_id: 'sshare2', occurred_at: minutesAgo(5), event_name: 'page_view', entities: {}, payload: {}, context: { page: { path: '/2' } } });
    await batch(base, t, [e2]);
    expect((await api(base, t, 'GET', '/api/v1/sessions/sshare2')).json).toMatchObject({ events_count: 2, person_id: pb });
    expect((await api(base, t, 'DELETE', `/api/v1/persons/${pa}`)).json.removed).toMatchObject({ events: 1, sessions: 0 });
    const s = await api(base, t, 'GET', '/api/v1/sessions/sshare2');
    expect(s.status).toBe(200);
    expect(s.json).toMatchObject({ person_id: pb, events_count: 1, entry_page: '/2', first_seen_at: e2.occurred_at });
    // Erasing the person of the last events removes the session.
    expect((await api(base, t, 'DELETE', `/api/v1/persons/${pb}`)).json.removed).toMatchObject({ events: 1, sessions: 1 });
    expect((await api(base, t, 'GET', '/api/v1/sessions/sshare2')).status).toBe(404);
  });
});
