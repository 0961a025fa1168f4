// A cursor belongs to the page it came from: its list, its filters, and (admin key lists) its tenant. A next_cursor
// of `?event_entity_id=EPG` passed with `?visitor_id=vss` used to answer 200 from that key on, silently leaving out
// the visitor's events newer than it; the admin and tenant key lists (and two tenants' admin lists) took each
// other's cursors; and a catalog list refused its own next_cursor after a 128-character CJK id (the 512-character
// cap). Also the messages of the routes whose cursors these are: an unknown body field is named, a missing kind
// is said to be missing, time_zone shows what it got.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, bootServer, createTenant, getJson, postJson, request, until, webEvent, type Tenant } from './helpers.js';

describe('cursors carry the list and the filters they were made under', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  let t2: Tenant;
  const auth = (key = t.secret_key) => ({ authorization: `Bearer ${key}` });
  const admin = { authorization: `Bearer ${ADMIN}` };
  const T0 = Date.now() - 10 * 60_000;
  // Event i (0 newest, one second apart): visitor vss when i is even, else vzz; entity EPG when i % 3 === 1, else E2.
  const N = 12;
  const visitorOf = (i: number) => (i % 2 === 0 ? 'vss' : 'vzz');
  const entityOf = (i: number) => (i % 3 === 1 ? 'EPG' : 'E2');
  const eventIds: string[] = [];

  /** Follows next_cursor from `path` (filters included, unchanged) to the end; every row of every page. */
  async function walk(path: string, list: string, headers = auth()): Promise<any[]> {
    const rows: any[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 100; i++) {
      const r = await getJson(`${base}${path}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, headers);
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      rows.push(...r.json[list]);
      cursor = r.json.next_cursor;
      if (!cursor) return rows;
    }
    throw new Error('paging did not end');
  }

  const firstCursor = async (path: string, headers = auth()): Promise<string> => {
    const r = await getJson(`${base}${path}`, headers);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.next_cursor).toEqual(expect.any(String));
    return r.json.next_cursor as string;
  };

  const otherFilters = { code: 'invalid_field', in: 'query', field: 'cursor', message: expect.stringMatching(/other filters: send the same filters/) };

  beforeAll(async () => {
    server = await bootServer({ RATE_LIMIT_EVENTS_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' });
    base = server.url;
    t = await createTenant(base, 'paging-filters');
    t2 = await createTenant(base, 'paging-filters-2');
    const events = Array.from({ length: N }, (_, i) =>
      webEvent({ occurred_at: new Date(T0 - i * 1000).toISOString(), visitor_id: visitorOf(i), session_id: `s-${String(i).padStart(2, '0')}`, entities: { event_entity_id: entityOf(i) } }),
    );
    eventIds.push(...events.map((e) => e.event_id));
    const r = await postJson(`${base}/api/tx/events/batch`, { events }, { 'x-tx-key': t.write_key });
    expect(r.json.accepted).toBe(N);
    // The sessions of those events are projected after the commit.
    await until(async () => (await getJson(`${base}/api/v1/sessions?limit=1000`, auth())).json.sessions?.length === N);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('refuses an events cursor made under other filters (it skipped the newest row), and pages every row once with the same ones', async () => {
    const vss = Array.from({ length: N }, (_, i) => i).filter((i) => visitorOf(i) === 'vss').map((i) => eventIds[i]);
    const all = await getJson(`${base}/api/v1/tx/events?visitor_id=vss`, auth());
    expect(all.json.events.map((e: any) => e.event_id)).toEqual(vss);
    // The newest EPG event is event 1: from its key on, visitor vss's list lacks event 0.
    const c = await firstCursor('/api/v1/tx/events?limit=1&event_entity_id=EPG');
    const mixed = await getJson(`${base}/api/v1/tx/events?visitor_id=vss&cursor=${c}`, auth());
    expect({ status: mixed.status, error: mixed.json.error }).toEqual({ status: 400, error: otherFilters });
    // One filter more, one less, or none: refused too.
    for (const q of ['event_entity_id=EPG&visitor_id=vss', '']) {
      const r = await getJson(`${base}/api/v1/tx/events?${q}&cursor=${c}`, auth());
      expect({ q, status: r.status, field: r.json.error?.field }).toEqual({ q, status: 400, field: 'cursor' });
    }
    // An unfiltered page's cursor under a filter, likewise.
    const plain = await firstCursor('/api/v1/tx/events?limit=1');
    expect((await getJson(`${base}/api/v1/tx/events?visitor_id=vss&cursor=${plain}`, auth())).json.error).toEqual(otherFilters);
    // The same filters: the rest of the list, every row once.
    const epg = await walk('/api/v1/tx/events?limit=1&event_entity_id=EPG', 'events');
    expect(epg.map((e) => e.event_id)).toEqual([1, 4, 7, 10].map((i) => eventIds[i]));
    const walked = await walk('/api/v1/tx/events?limit=4&visitor_id=vss', 'events');
    expect(walked.map((e) => e.event_id)).toEqual(vss);
    // No filter: as before.
    expect((await walk('/api/v1/tx/events?limit=5', 'events')).map((e) => e.event_id)).toEqual(eventIds);
    // `before` is a filter: the same instant however it is spelt is the same filter, another instant is not.
    const at = new Date(T0 - 500).toISOString();
    const b = await firstCursor(`/api/v1/tx/events?limit=2&before=${encodeURIComponent(at)}`);
    const offset = new Date(T0 - 500 + 2 * 3600_000).toISOString().replace('Z', '+02:00');
    const same = await getJson(`${base}/api/v1/tx/events?limit=100&before=${encodeURIComponent(offset)}&cursor=${b}`, auth());
    expect(same.json.events.map((e: any) => e.event_id)).toEqual(eventIds.slice(3));
    const later = await getJson(`${base}/api/v1/tx/events?before=${encodeURIComponent(new Date(T0 + 1000).toISOString())}&cursor=${b}`, auth());
    expect(later.json.error).toEqual(otherFilters);
  });

  it('refuses a sessions cursor made under other filters, and pages every session once with the same ones', async () => {
    const c = await firstCursor('/api/v1/sessions?limit=1&visitor_id=vzz');
    const r = await getJson(`${base}/api/v1/sessions?visitor_id=vss&cursor=${c}`, auth());
    expect({ status: r.status, error: r.json.error }).toEqual({ status: 400, error: otherFilters });
    const vss = await walk('/api/v1/sessions?limit=4&visitor_id=vss', 'sessions');
    const ids = vss.map((s) => s.session_id);
    expect(ids.length).toBe(N / 2);
    expect(new Set(ids).size).toBe(N / 2);
    expect(vss.every((s) => s.visitor_id === 'vss')).toBe(true);
    expect((await walk('/api/v1/sessions?limit=5', 'sessions')).length).toBe(N);
  });

  it('refuses a tracking-codes cursor made under other filters', async () => {
    for (let i = 1; i <= 4; i++) {
      const made = await request('POST', `${base}/api/v1/tracking-codes`, { provider: 'gtm', organizer_id: `O${i}`, settings: { container_id: `GTM-AB12CD${i}` } }, auth());
      expect(made.status, made.text).toBe(201);
    }
    const c = await firstCursor('/api/v1/tracking-codes?limit=1&provider=gtm');
    const r = await getJson(`${base}/api/v1/tracking-codes?organizer_id=O1&cursor=${c}`, auth());
    expect({ status: r.status, error: r.json.error }).toEqual({ status: 400, error: otherFilters });
    const gtm = await walk('/api/v1/tracking-codes?limit=1&provider=gtm', 'items');
    expect(gtm.map((x) => x.organizer_id)).toEqual(['O1', 'O2', 'O3', 'O4']);
  });

  it('keeps the key lists apart: admin and tenant, and one tenant from another', async () => {
    const adminCursor = await firstCursor(`/api/admin/tenants/${t.tenant_id}/keys?limit=1`, admin);
    const tenantCursor = await firstCursor('/api/v1/keys?limit=1');
    for (const [path, headers, c] of [
      ['/api/v1/keys', auth(), adminCursor],
      [`/api/admin/tenants/${t2.tenant_id}/keys`, admin, adminCursor],
      [`/api/admin/tenants/${t.tenant_id}/keys`, admin, tenantCursor],
    ] as const) {
      const r = await getJson(`${base}${path}?cursor=${c}`, headers);
      expect({ path, status: r.status, field: r.json.error?.field }).toEqual({ path, status: 400, field: 'cursor' });
    }
    // Each on its own list: the rest of it.
    expect((await getJson(`${base}/api/admin/tenants/${t.tenant_id}/keys?cursor=${adminCursor}`, admin)).status).toBe(200);
    expect((await getJson(`${base}/api/v1/keys?cursor=${tenantCursor}`, auth())).status).toBe(200);
  });

  it('takes back the next_cursor of a catalog page that ends on a 128-character CJK id', async () => {
    const long = ['顾'.repeat(128), `${'顾'.repeat(127)}顿`];
    const ascii = Array.from({ length: 57 }, (_, i) => `P${String(i).padStart(2, '0')}`);
    for (const kind of ['persons', 'organizers']) {
      const put = await request('PUT', `${base}/api/v1/catalog/${kind}`, { items: [...long, ...ascii].map((id) => ({ id })) }, auth());
      expect(put.status, put.text).toBe(200);
      const first = await getJson(`${base}/api/v1/catalog/${kind}?limit=58`, auth());
      expect(first.json.next_cursor.length).toBeGreaterThan(512);
      const rest = await getJson(`${base}/api/v1/catalog/${kind}?limit=58&cursor=${first.json.next_cursor}`, auth());
      expect({ kind, status: rest.status, ids: rest.json.items?.map((x: any) => x.id), next: rest.json.next_cursor }).toEqual({ kind, status: 200, ids: [long[1]], next: null });
      expect([...first.json.items, ...rest.json.items].map((x: any) => x.id)).toEqual([...ascii, ...long]);
    }
  });

  it('names an unknown body field, a missing kind and what time_zone got', async () => {
    const newKey = await postJson(`${base}/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'write', source: ['web'] }, admin);
    expect(newKey.json.error).toMatchObject({ field: 'source', message: expect.stringMatching(/^Unknown field "source"; /) });
    const noKind = await postJson(`${base}/api/admin/tenants/${t.tenant_id}/keys`, {}, admin);
    expect(noKind.json.error).toMatchObject({ field: 'kind', message: expect.stringMatching(/^kind is missing/) });
    const nullKind = await postJson(`${base}/api/admin/tenants/${t.tenant_id}/keys`, { kind: null }, admin);
    expect(nullKind.json.error.message).toMatch(/got null\.$/);
    const change = await request('PATCH', `${base}/api/admin/tenants/${t.tenant_id}`, { nmae: 'x' }, admin);
    expect(change.json.error.message).toMatch(/^Unknown field "nmae"; /);
    const tenant = await postJson(`${base}/api/admin/tenants`, { name: 'x', allowed_origin: [] }, admin);
    expect(tenant.json.error.message).toMatch(/^Unknown field "allowed_origin"; /);
    for (const [zone, got] of [[[], 'an array'], [null, 'null'], [123, 'a number (123)'], [{}, 'an object'], ['Mars/Olympus', '"Mars/Olympus"']] as const) {
      const r = await postJson(`${base}/api/admin/tenants`, { name: 'x', time_zone: zone }, admin);
      expect({ zone, status: r.status, message: r.json.error?.message }).toEqual({ zone, status: 400, message: expect.stringMatching(new RegExp(`; got ${got.replace(/[()[\]{}]/g, '\\$&')}\\.$`)) });
    }
    const scoped = await postJson(`${base}/api/v1/keys`, { role: 'admin', kind: 'write' }, auth());
    expect(scoped.json.error.message).toMatch(/^Unknown field "kind"; /);
    const identify = await postJson(`${base}/api/v1/identify`, { visitor_id: 'v', external_id: 'x', emial: 'a@b.c' }, auth());
    expect(identify.json.error).toMatchObject({ field: 'emial', in: 'body', message: expect.stringMatching(/^Unknown field "emial"; identify takes /) });
  });
});
