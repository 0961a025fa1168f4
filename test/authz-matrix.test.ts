// Issue 18: the permission table enforced by the router, generated from the router's own registry. Every
// /api/v1 route × every role × an in-scope and an out-of-scope resource → allow or deny as the permission
// table (authz/roles.ts) and the scope rules (authz/principal.ts) say. A route added without a declared
// permission cannot register (the server would not start), and the listing check below names it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { can, inScope } from '../server/authz/principal.js';
import { ROLES, type Role } from '../server/authz/roles.js';
import { createTenantStore } from '../server/store/tenants.js';
import type { RouteInfo } from '../server/http/router.js';
import type { Scope } from '../server/live/token.js';
import { allowed, topicFor, type EventOwnership, type Topic } from '../server/live/topics.js';
import { bootServer, createTenant, request, type Tenant } from './helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

// E1 belongs to O1, happens at V1 with A1; E2 to O2 at V2 with A2. Each non-admin key has one kind of scope
// pointing at E1's side (the role's natural kind), so "in scope" is E1/O1 and "out of scope" E2/O2.
const SCOPE_OF: Record<Role, Record<string, string[]>> = {
  admin: {},
  organizer: { organizers: ['O1'] },
  venue: { venues: ['V1'] },
  venue_manager: { venues: ['V1'] },
  artist: { artists: ['A1'] },
  promoter: { events: ['E1'] },
  ad_account: { organizers: ['O1'] },
  media: { events: ['E1'] },
  gate: { events: ['E1'] },
};
// Dashboard tokens of every role (POST /api/v1/tokens, minted by the admin key), each on E1's side like the keys;
// media and admin tokens carry no ids. They go to the `auth: 'token'` routes only (the others take the key alone).
const TOKEN_OF: Record<Role, Record<string, unknown>> = {
  admin: { role: 'admin' },
  organizer: { role: 'organizer', org_id: 'O1' },
  venue: { role: 'venue', venue_ids: ['V1'] },
  venue_manager: { role: 'venue_manager', venue_ids: ['V1'] },
  artist: { role: 'artist', artist_ids: ['A1'] },
  promoter: { role: 'promoter', event_ids: ['E1'] },
  ad_account: { role: 'ad_account', org_ids: ['O1'] },
  media: { role: 'media' },
  gate: { role: 'gate', event_ids: ['E1'] },
};
const TOKEN_SCOPE_OF: Record<Role, Record<string, string[]>> = { ...SCOPE_OF, media: {} };
/** The token's scope as the server verifies it (live/token.ts), for the topic rule. */
const tokenScope = (role: Role, tenant: number): Scope => {
  const b = TOKEN_OF[role] as { org_id?: string; venue_ids?: string[]; artist_ids?: string[]; event_ids?: string[]; org_ids?: string[] };
  switch (role) {
    case 'organizer': return { role, tenant, org: b.org_id! };
    case 'venue': case 'venue_manager': return { role, tenant, venues: b.venue_ids! };
    case 'artist': return { role, tenant, artists: b.artist_ids! };
    case 'promoter': return { role, tenant, events: b.event_ids ?? [], orgs: b.org_ids ?? [] };
    case 'ad_account': return { role, tenant, orgs: b.org_ids! };
    case 'gate': return { role, tenant, events: b.event_ids! };
    case 'media': case 'admin': return { role, tenant };
  }
};
const OWNERS: Record<string, EventOwnership> = { E1: { org: 'O1', venue: 'V1', artists: ['A1'] }, E2: { org: 'O2', venue: 'V2', artists: ['A2'] } };

// Path params that name no scoped resource: any valid value will do (the check comes before the handler).
const OTHER_PARAMS: Record<string, string> = { kind: 'events', id: 'x-1', session_id: 'x-1', role: 'venue', person_id: 'x-1' };

type Side = 'in' | 'out';

function urlFor(r: RouteInfo, side: Side): string {
  const res = r.resource;
  let path = r.path.replace(/:(\w+)/g, (_m, name: string) => {
    if (res && typeof res === 'object' && 'event' in res && res.event === name) return side === 'in' ? 'E1' : 'E2';
    if (res && typeof res === 'object' && 'organizer' in res && res.organizer === name) return side === 'in' ? 'O1' : 'O2';
    if (res && typeof res === 'object' && 'venue' in res && res.venue === name) return side === 'in' ? 'V1' : 'V2';
    if (res && typeof res === 'object' && 'artist' in res && res.artist === name) return side === 'in' ? 'A1' : 'A2';
    return encodeURIComponent(OTHER_PARAMS[name] ?? 'x-1');
  });
  if (res && typeof res === 'object' && 'query_event' in res) path += `?${res.query_event}=${side === 'in' ? 'E1' : 'E2'}`;
  return path;
}

/** What the permission table and the scope rules say for `role` on route `r` with the resource on `side`. */
function expected(r: RouteInfo, role: Role, side: Side, scopes = SCOPE_OF): 'allow' | 'deny_permission' | 'deny_scope' {
  if (r.permission === 'none' || r.permission === null) return 'allow';
  if (!can({ role }, r.permission)) return 'deny_permission';
  const res = r.resource;
  if (res === 'tenant' || res === null) return 'allow';
  // Every non-admin key of the matrix is limited to one side: whole-tenant data is refused on both.
  if (res === 'whole_tenant') return role === 'admin' || Object.keys(scopes[role]).length === 0 ? 'allow' : 'deny_scope';
  const resource = 'event' in res || 'query_event' in res
    ? { event: side === 'in' ? { id: 'E1', organizer_id: 'O1', venue_id: 'V1', artist_ids: ['A1'] } : { id: 'E2', organizer_id: 'O2', venue_id: 'V2', artist_ids: ['A2'] } }
    : 'venue' in res ? { venue: side === 'in' ? 'V1' : 'V2' }
    : 'artist' in res ? { artist: side === 'in' ? 'A1' : 'A2' }
    : { organizer: side === 'in' ? 'O1' : 'O2' };
  return inScope({ role, scope: scopes[role] }, resource) ? 'allow' : 'deny_scope';
}

/**
 * A token on a route: as a key of its role with the token's scope, and on the live mirror also the topic's own
 * rule (topics.ts: a venue token reads capacity only, …), which refuses with a bare 403 (`deny_topic`).
 */
function expectedForToken(r: RouteInfo, role: Role, side: Side, tokenScope: Scope): string {
  const want = expected(r, role, side, TOKEN_SCOPE_OF);
  if (want !== 'allow' || !r.path.startsWith('/api/v1/live/')) return want;
  const id = side === 'in' ? '1' : '2';
  const topic: Topic = r.path.includes('/dashboard/') ? { kind: 'dashboard', org: `O${id}` } : r.path.endsWith('/capacity') ? { kind: 'capacity', event: `E${id}` } : { kind: 'event', event: `E${id}` };
  return allowed(tokenScope, topicFor(tokenScope, topic), (_t, e) => OWNERS[e]) ? 'allow' : 'deny_topic';
}

// The embedded store, and a plain PostgreSQL server (migration 008 and the authz queries through the pg driver).
describe.each([['embedded'], ['plain postgres']])('authorization matrix (every /api/v1 route × role × scope) on %s', (flavour) => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  const keys = {} as Record<Role, string>;
  const tokens = {} as Record<Role, string>;
  let scratch: ScratchDatabase | undefined;

  beforeAll(async () => {
    if (flavour === 'embedded') server = await bootServer();
    else {
      scratch = await scratchDatabase('authz');
      server = await bootServer({ DATABASE_URL: scratch.url });
    }
    t = await createTenant(server.url, 'authz-matrix');
    const put = (kind: string, items: unknown[]) => request('PUT', `${server.url}/api/v1/catalog/${kind}`, { items }, { authorization: `Bearer ${t.secret_key}` });
    expect((await put('events', [
      { id: 'E1', title: 'One', organizer_id: 'O1', venue_id: 'V1', artist_ids: ['A1'] },
      { id: 'E2', title: 'Two', organizer_id: 'O2', venue_id: 'V2', artist_ids: ['A2'] },
    ])).status).toBe(200);
    // Scoped keys straight through the tenant store (POST /api/v1/keys is the keys engineer's route).
    const store = createTenantStore();
    for (const role of ROLES) {
      keys[role] = (await store.createKey(server.db, t.tenant_id, { kind: 'secret', role, scope: SCOPE_OF[role] })).key;
      const minted = await request('POST', `${server.url}/api/v1/tokens`, TOKEN_OF[role], { authorization: `Bearer ${t.secret_key}` });
      expect({ role, status: minted.status }).toEqual({ role, status: 201 });
      tokens[role] = minted.json.token;
    }
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await scratch?.drop();
  });

  const tenantRoutes = () => server.routes().filter((r) => r.path.startsWith('/api/v1/') && (r.auth === 'secret' || r.auth === 'token'));

  it('lists every tenant route with a declared permission and a resource for its path params', () => {
    const routes = tenantRoutes();
    expect(routes.length).toBeGreaterThan(20);
    const undeclared = routes.filter((r) => r.permission === null || (r.permission !== 'none' && r.resource === null)).map((r) => `${r.method} ${r.path}`);
    expect(undeclared).toEqual([]);
    // The live mirror and the read-back are scoped, not only permission-gated.
    const scoped = routes.filter((r) => typeof r.resource === 'object' && r.resource !== null).map((r) => `${r.method} ${r.path}`);
    expect(scoped).toEqual(expect.arrayContaining(['get /api/v1/live/events/:event_id', 'get /api/v1/live/events/:event_id/capacity', 'get /api/v1/live/dashboard/:org_id', 'get /api/v1/tx/events']));
  });

  it('allows and denies every route for every role, in and out of scope, as the permission table says', async () => {
    const mismatches: string[] = [];
    const tally: Record<string, number> = {};
    let checked = 0;
    for (const r of tenantRoutes()) {
      for (const role of ROLES) {
        for (const side of ['in', 'out'] as const) {
          const want = expected(r, role, side);
          const method = r.method === 'del' ? 'DELETE' : r.method.toUpperCase();
          const body = ['post', 'put', 'patch'].includes(r.method) ? {} : undefined;
          const res = await request(method, server.url + urlFor(r, side), body, { authorization: `Bearer ${keys[role]}` });
          const err = res.json?.error;
          const got = res.status === 403 && err?.code === 'forbidden'
            ? (err.scope !== undefined ? 'deny_scope' : err.permission === r.permission ? 'deny_permission' : `403 ${JSON.stringify(err)}`)
            : res.status === 401 || res.status >= 500 ? `${res.status} ${res.text.slice(0, 120)}` : 'allow';
          checked++;
          tally[want] = (tally[want] ?? 0) + 1;
          if (got !== want) mismatches.push(`${method} ${urlFor(r, side)} as ${role}: want ${want}, got ${got}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBeGreaterThan(300);
    // The table exercises all three outcomes, not only allows.
    expect(Object.keys(tally).sort()).toEqual(['allow', 'deny_permission', 'deny_scope']);
    console.log('authz matrix', checked, 'requests', JSON.stringify(tally));
  }, 120_000);

  it('allows and denies every token route for a dashboard token of every role as for a key of the role, plus the topic rule', async () => {
    const mismatches: string[] = [];
    const tally: Record<string, number> = {};
    const routes = tenantRoutes().filter((r) => r.auth === 'token');
    expect(routes.length).toBeGreaterThan(10);
    for (const r of routes) {
      for (const role of ROLES) {
        for (const side of ['in', 'out'] as const) {
          const want = expectedForToken(r, role, side, tokenScope(role, t.tenant_id));
          const method = r.method === 'del' ? 'DELETE' : r.method.toUpperCase();
          const body = ['post', 'put', 'patch'].includes(r.method) ? {} : undefined;
          const res = await request(method, server.url + urlFor(r, side), body, { authorization: `Bearer ${tokens[role]}` });
          const err = res.json?.error;
          const got = res.status === 403 && err?.code === 'forbidden'
            ? (err.scope !== undefined ? 'deny_scope' : err.permission === r.permission ? 'deny_permission' : err.permission === undefined ? 'deny_topic' : `403 ${JSON.stringify(err)}`)
            : res.status === 401 || res.status >= 500 ? `${res.status} ${res.text.slice(0, 120)}` : 'allow';
          tally[want] = (tally[want] ?? 0) + 1;
          if (got !== want) mismatches.push(`${method} ${urlFor(r, side)} as ${role} token: want ${want}, got ${got}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    // No token is refused by a topic rule its role's key would pass (a venue token reads the revenue-free funnel
    // of its venues' events, as a venue key does): every denial is a permission or a scope.
    expect(Object.keys(tally).sort()).toEqual(['allow', 'deny_permission', 'deny_scope']);
    console.log('authz matrix (tokens)', JSON.stringify(tally));
  }, 120_000);

  it('a denial is 403 naming the missing permission and the role', async () => {
    const r = await request('GET', `${server.url}/api/v1/live/events/E1`, undefined, { authorization: `Bearer ${keys.media}` });
    expect(r.status).toBe(403);
    expect(r.json.error).toMatchObject({ code: 'forbidden', permission: 'view_event_analytics', role: 'media' });
  });

  it('a venue key sees its venue\'s event capacity and nothing of another venue', async () => {
    const get = (p: string) => request('GET', `${server.url}${p}`, undefined, { authorization: `Bearer ${keys.venue}` });
    expect((await get('/api/v1/live/events/E1/capacity')).status).toBe(200);
    const other = await get('/api/v1/live/events/E2/capacity');
    expect({ status: other.status, code: other.json.error.code, permission: other.json.error.permission }).toEqual({ status: 403, code: 'forbidden', permission: 'view_capacity' });
    expect((await get('/api/v1/live/events/E2')).status).toBe(403);
    expect((await get('/api/v1/live/dashboard/O2')).status).toBe(403);
  });

  it('shows an event\'s revenue only to a role with view_revenue, and refuses the organizer roll-up without it', async () => {
    const get = (p: string, role: Role) => request('GET', `${server.url}${p}`, undefined, { authorization: `Bearer ${keys[role]}` });
    const full = await get('/api/v1/live/events/E1', 'organizer');
    expect(full.status).toBe(200);
    expect(full.json.data).toHaveProperty('revenue');
    for (const role of ['venue', 'artist'] as const) {
      const r = await get('/api/v1/live/events/E1', role);
      expect({ role, status: r.status, revenue: 'revenue' in r.json.data, funnel: Object.keys(r.json.data).length > 3 }).toEqual({ role, status: 200, revenue: false, funnel: true });
      const h = await get('/api/v1/live/events/E1/history?minutes=2', role);
      expect({ role, status: h.status, revenue: h.json.series.some((p: object) => 'revenue' in p) }).toEqual({ role, status: 200, revenue: false });
    }
    expect((await get('/api/v1/live/events/E1/history?minutes=2', 'organizer')).json.series[0]).toHaveProperty('revenue');
    // A venue key scoped to the organizer sees the funnel but not the roll-up (it has no revenue-free variant).
    const store = createTenantStore();
    const key = (await store.createKey(server.db, t.tenant_id, { kind: 'secret', role: 'venue', scope: { organizers: ['O1'] } })).key;
    const roll = await request('GET', `${server.url}/api/v1/live/dashboard/O1`, undefined, { authorization: `Bearer ${key}` });
    expect({ status: roll.status, permission: roll.json.error?.permission }).toEqual({ status: 403, permission: 'view_revenue' });
    expect((await get('/api/v1/live/dashboard/O1', 'organizer')).status).toBe(200);
    // Granted view_revenue, an artist key and an artist token both read the money on the REST mirror.
    const admin = { authorization: `Bearer ${t.secret_key}` };
    expect((await request('PUT', `${server.url}/api/v1/roles/artist`, { permissions: { view_revenue: true } }, admin)).status).toBe(200);
    try {
      for (const auth of [keys.artist, tokens.artist]) {
        const r = await request('GET', `${server.url}/api/v1/live/events/E1`, undefined, { authorization: `Bearer ${auth}` });
        expect({ kind: auth === keys.artist ? 'key' : 'token', status: r.status, revenue: 'revenue' in (r.json.data ?? {}) }).toEqual({ kind: auth === keys.artist ? 'key' : 'token', status: 200, revenue: true });
      }
    } finally {
      await request('PUT', `${server.url}/api/v1/roles/artist`, { permissions: { view_revenue: null } }, admin);
    }
  });

  it('per-tenant overrides grant and remove permissions for a role, never for admin', async () => {
    const admin = { authorization: `Bearer ${t.secret_key}` };
    const asMedia = () => request('GET', `${server.url}/api/v1/live/events/E1`, undefined, { authorization: `Bearer ${keys.media}` });
    expect((await asMedia()).status).toBe(403);
    const put = await request('PUT', `${server.url}/api/v1/roles/media`, { permissions: { view_event_analytics: true } }, admin);
    expect(put.status).toBe(200);
    expect(put.json.role.permissions).toContain('view_event_analytics');
    expect((await asMedia()).status).toBe(200);
    // Still scoped: an event outside the key's scope stays closed.
    expect((await request('GET', `${server.url}/api/v1/live/events/E2`, undefined, { authorization: `Bearer ${keys.media}` })).status).toBe(403);
    // null goes back to the default.
    expect((await request('PUT', `${server.url}/api/v1/roles/media`, { permissions: { view_event_analytics: null } }, admin)).status).toBe(200);
    expect((await asMedia()).status).toBe(403);
    // Removing a default permission.
    expect((await request('PUT', `${server.url}/api/v1/roles/venue`, { permissions: { view_capacity: false } }, admin)).status).toBe(200);
    const cap = await request('GET', `${server.url}/api/v1/live/events/E1/capacity`, undefined, { authorization: `Bearer ${keys.venue}` });
    expect(cap.json.error).toMatchObject({ code: 'forbidden', permission: 'view_capacity' });
    expect((await request('PUT', `${server.url}/api/v1/roles/venue`, { permissions: { view_capacity: null } }, admin)).status).toBe(200);
    // Admin is fixed; a role without manage_permissions cannot change overrides.
    const adminPut = await request('PUT', `${server.url}/api/v1/roles/admin`, { permissions: { view_audit: false } }, admin);
    expect({ status: adminPut.status, field: adminPut.json.error.field }).toEqual({ status: 400, field: 'role' });
    const byOrganizer = await request('PUT', `${server.url}/api/v1/roles/organizer`, { permissions: { manage_keys: true } }, { authorization: `Bearer ${keys.organizer}` });
    expect(byOrganizer.json.error).toMatchObject({ code: 'forbidden', permission: 'manage_permissions' });
    const list = await request('GET', `${server.url}/api/v1/roles`, undefined, admin);
    expect(list.json.roles.map((r: { role: string }) => r.role)).toEqual([...ROLES]);
  });

  it('refuses hostile override bodies with 400 naming the field', async () => {
    const admin = { authorization: `Bearer ${t.secret_key}` };
    const cases: [string, unknown, string][] = [
      ['/api/v1/roles/venue', { permissions: { 'view\u0000x': true } }, 'permissions.view\u0000x'],
      ['/api/v1/roles/venue', { permissions: { view_revenue: 'yes' } }, 'permissions.view_revenue'],
      ['/api/v1/roles/venue', { permissions: [] }, 'permissions'],
      ['/api/v1/roles/venue', { permissions: {} }, 'permissions'],
      ['/api/v1/roles/nobody', { permissions: { view_revenue: true } }, 'role'],
      ['/api/v1/roles/a%00b', { permissions: { view_revenue: true } }, 'role'],
    ];
    for (const [path, body, field] of cases) {
      const r = await request('PUT', `${server.url}${path}`, body, admin);
      expect({ path, status: r.status }).toEqual({ path, status: 400 });
      if (!String(body && JSON.stringify(body)).includes('\\u0000')) expect(r.json.error.field).toBe(field);
    }
  });
});
