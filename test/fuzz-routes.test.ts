// Hostile query, path and body values on every API route (issue 8 item 5), with valid credentials so the
// input reaches the handlers: never a 5xx, and the refusals are real 400s that name the field, not 401s.
import crypto from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, bootServer, createTenant, request, type Tenant } from './helpers.js';
import { api, stripeHeader } from './identity-helpers.js';

const SECRET = 'whsec_' + crypto.randomBytes(24).toString('base64url');

/** Percent-encodes any string byte by byte (encodeURIComponent throws on lone surrogates). */
const enc = (s: string) => [...Buffer.from(s.toWellFormed(), 'utf8')].map((b) => '%' + b.toString(16).padStart(2, '0')).join('');

// Values as they appear in a URL: already-encoded hostile fragments, or hostile text we encode.
const rawFragments = ['%00', '%ZZ', '%', '%E0%A4%A', '%ED%A0%80', '%C0%80', '..', '%2F', '%0A', '%7F', 'a%00b', ''];
const hostileText = [
  '\u0000', 'a\u0000', '\u0001', '\n', ' ', '1', '-1', '0', '1.5', '1e20', '-1e20', '99999999999999999999', '2147483648', '4294967296', '9007199254740991', 'NaN', 'Infinity',
  'March 7', '0000-01-01T00:00:00Z', '2024-02-30T00:00:00Z', '9999-12-31T23:59:59Z', '275760-09-13T00:00:00Z', '1970-01-01',
  'x'.repeat(5000), '__proto__', "' OR 1=1 --", '\ud83d\ude00', 'eyJhIjoxfQ', 'WyJldmVudHMiLCIiLCIiXQ',
];
// Weighted towards the classes that reached Postgres or threw (NUL, bad encoding, lenient dates).
const urlValue = fc.oneof(
  { arbitrary: fc.constantFrom(...rawFragments), weight: 3 },
  { arbitrary: fc.constantFrom(...hostileText).map(enc), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map(enc), weight: 1 },
  { arbitrary: fc.integer().map(String), weight: 1 },
);
const nastyJson = fc.oneof(
  fc.constantFrom<unknown>('\u0000', 'a\u0000b', '\ud800', '', 'x'.repeat(3000), 1e308, -1e308, 1e20, -1e20, 1e-10, 5e-324, 2147483648, 1.5, -1, 0, null, true, [], {}, '0000-01-01T00:00:00Z'),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer(),
  fc.double(),
);

interface Route {
  method: string;
  path: (seg: string) => string;
  query?: string[];
  body?: (v: unknown) => unknown;
  admin?: boolean;
  /** The tenant's write key (X-Tx-Key) instead of the secret key: the public /api/tx routes. */
  write?: boolean;
  /** A dashboard token (artist A1) instead of the secret key: the token branch of a route (key status, scope). */
  token?: boolean;
}

describe('every API route under hostile input', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  let artistToken: string;

  beforeAll(async () => {
    server = await bootServer({ RATE_LIMIT_EVENTS_PER_SEC: '1000000', RATE_LIMIT_BURST: '1000000', ENCRYPTION_KEY: crypto.randomBytes(32).toString('hex') });
    base = server.url;
    t = await createTenant(base, 'fuzz-routes');
    expect((await api(base, t, 'PUT', '/api/v1/settings/stripe', { webhook_secret: SECRET })).status).toBe(200);
    expect((await api(base, t, 'POST', '/api/v1/identify', { visitor_id: 'v-f', external_id: 'C-f' })).status).toBe(200);
    const minted = await api(base, t, 'POST', '/api/v1/tokens', { role: 'artist', artist_ids: ['A1'] });
    expect(minted.status).toBe(201);
    artistToken = minted.json.token;
  });
  afterAll(async () => {
    await server?.close();
  });

  const call = (method: string, path: string, body?: unknown, admin = false, via: 'write' | 'token' | null = null) =>
    request(method, `${base}${path}`, body, via === 'write' ? { 'x-tx-key': t.write_key } : { authorization: `Bearer ${admin ? ADMIN : via === 'token' ? artistToken : t.secret_key}` });

  const signed = (evt: unknown) => {
    const body = JSON.stringify(evt);
    return request('POST', `${base}/api/v1/webhooks/stripe/${t.tenant_id}`, body, { 'stripe-signature': stripeHeader(SECRET, body) });
  };
  const stripeEvent = (extra: Record<string, unknown> = {}, object: Record<string, unknown> = {}) => ({
    id: 'evt_' + crypto.randomBytes(8).toString('hex'), object: 'event', type: 'payment_intent.succeeded', created: Math.floor(Date.now() / 1000),
    data: { object: { id: 'pi_' + crypto.randomBytes(6).toString('hex'), amount: 1000, currency: 'eur', metadata: { order_id: 'O-1' }, ...object } },
    ...extra,
  });

  it('answers the reported reproducers with 400 naming the field (they were 500s)', async () => {
    const deep = `{"events":[${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}]}`;
    const cases: [string, Promise<{ status: number; json: any }>, number, string | null][] = [
      ['events visitor_id NUL', call('GET', '/api/v1/tx/events?visitor_id=%00'), 400, 'visitor_id'],
      ['events before=1', call('GET', '/api/v1/tx/events?before=1'), 400, 'before'],
      ['events before=March 7', call('GET', '/api/v1/tx/events?before=March%207'), 400, 'before'],
      ['events before year 0', call('GET', '/api/v1/tx/events?before=0000-01-01T00:00:00Z'), 400, 'before'],
      ['events forged cursor', call('GET', '/api/v1/tx/events?cursor=WyJldmVudHMiLCIiLCIiXQ'), 400, 'cursor'],
      ['sessions %ZZ', call('GET', '/api/v1/sessions/%ZZ'), 400, 'path'],
      ['sessions NUL id', call('GET', '/api/v1/sessions/a%00b'), 400, 'session_id'],
      ['sessions visitor NUL', call('GET', '/api/v1/sessions?visitor_id=%00'), 400, 'visitor_id'],
      ['persons external NUL', call('GET', '/api/v1/persons?external_id=%00'), 400, 'external_id'],
      ['persons %ZZ', call('GET', '/api/v1/persons/%ZZ/export'), 400, 'person_id'],
      ['identify NUL', call('POST', '/api/v1/identify', { visitor_id: 'v\u0000', external_id: 'C1' }), 400, 'visitor_id'],
      ['identify NUL city', call('POST', '/api/v1/identify', { visitor_id: 'v1', external_id: 'C1', city: 'a\u0000' }), 400, 'city'],
      ['tenant name NUL', call('POST', '/api/admin/tenants', { name: 'evil\u0000' }, true), 400, 'name'],
      ['history to year 0', call('GET', '/api/v1/live/events/E1/history?to=0000-01-01T00:00:00Z'), 400, 'to'],
      ['audit forged cursor', call('GET', '/api/v1/audit?cursor=WyJhdWRpdCIsIngiXQ'), 400, 'cursor'],
      ['audit limit huge', call('GET', '/api/v1/audit?limit=99999999999999999999'), 400, 'limit'],
      ['keys scope NUL id', call('POST', '/api/v1/keys', { role: 'venue', scope: { venues: ['a\u0000'] } }), 400, 'scope.venues[0]'],
      ['keys scope deep', call('POST', '/api/v1/keys', { role: 'venue', scope: { venues: [[[['V1']]]] } }), 400, 'scope.venues'],
      ['keys id %ZZ', call('DELETE', '/api/v1/keys/%ZZ'), 400, 'path'],
      ['keys id huge', call('DELETE', '/api/v1/keys/99999999999999999999999'), 400, 'id'],
      ['token venue ids NUL', call('POST', '/api/v1/tokens', { role: 'venue', venue_ids: ['V\u0000'] }), 400, 'venue_ids[0]'],
      ['token ids of another role', call('POST', '/api/v1/tokens', { role: 'organizer', org_id: 'O1', org_ids: ['O2'] }), 400, 'org_ids'],
      ['token gate with venue_ids', call('POST', '/api/v1/tokens', { role: 'gate', event_ids: ['E1'], venue_ids: ['V2'] }), 400, 'venue_ids'],
    ];
    for (const [name, p, status, field] of cases) {
      const r = await p;
      expect({ name, status: r.status, field: r.json?.error?.field ?? null }).toEqual({ name, status, field });
    }
    const d = await request('POST', `${base}/api/v1/server-events`, deep, { authorization: `Bearer ${t.secret_key}` });
    expect({ status: d.status, code: d.json?.error?.code }).toEqual({ status: 400, code: 'too_deep' });
    expect(d.json.error.field).toMatch(/^events\[0\](\.a){61,63}$/);
  });

  it('refuses a body that is not a JSON object on every route that reads one, with 400 invalid_body and field "$" (never empty)', async () => {
    // Walks the router's registry: a route added later is covered. A value each path param's parser takes, so
    // the request reaches the body (the router reads it after auth, the path and the query, before the handler).
    const PARAM_VALUES: Record<string, string> = { kind: 'events', role: 'venue', name: 'ingest.ledger_prune', key: 'exp-1', session_id: 's-1', event_id: 'E1', org_id: 'O1' };
    const urlOf = (path: string) => path.replace(/:(\w+)/g, (_m, name: string) => encodeURIComponent(PARAM_VALUES[name] ?? '1'));
    const routes = server.routes().filter((r) => r.body !== null);
    expect(routes.length).toBeGreaterThan(20);
    const wrong: string[] = [];
    for (const r of routes) {
      const method = r.method === 'del' ? 'DELETE' : r.method.toUpperCase();
      const headers: Record<string, string> = r.auth === 'admin' ? { authorization: `Bearer ${ADMIN}` } : r.auth === 'write' ? { 'x-tx-key': t.write_key } : { authorization: `Bearer ${t.secret_key}` };
      const sent: [string, string][] = [['"x"', 'a string ("x")'], ['1', 'a number (1)'], ['null', 'null'], ['true', 'true']];
      // POST /api/v1/server-events takes a bare list of events too; every other route a JSON object only.
      if (r.body === 'object') sent.push(['[]', 'an array'], ['[{"a":1}]', 'an array']);
      for (const [body, got] of sent) {
        const res = await request(method, `${base}${urlOf(r.path)}`, body, headers);
        const e = res.json?.error;
        const want = { status: 400, code: 'invalid_body', in: 'body', field: '$', got: true };
        const seen = { status: res.status, code: e?.code, in: e?.in, field: e?.field, got: String(e?.message ?? '').endsWith(`got ${got}.`) };
        if (JSON.stringify(seen) !== JSON.stringify(want)) wrong.push(`${method} ${r.path} ${body}: ${res.status} ${res.text.slice(0, 200)}`);
      }
    }
    expect(wrong).toEqual([]);
    // The reported one, with the message saying what was sent and what is expected.
    const daily = await call('PUT', '/api/v1/campaigns/13/daily-budget', []);
    expect(daily.json.error).toEqual({ code: 'invalid_body', in: 'body', field: '$', message: 'The body must be a JSON object ({"name": value, …}); got an array.' });
    // The routes that take a list still do.
    expect((await call('POST', '/api/v1/server-events', [])).status).toBe(200);
  });

  it('says what was sent when a path id, a catalog kind, a key role or a server-events body is refused', async () => {
    const person = await call('GET', '/api/v1/persons/abc/export');
    expect(person.json.error).toMatchObject({ code: 'invalid_field', in: 'path', field: 'person_id', message: expect.stringMatching(/; got "abc"\.$/) });
    const kind = await call('GET', '/api/v1/catalog/bands');
    expect(kind.json.error).toMatchObject({ code: 'invalid_field', in: 'path', field: 'kind', message: expect.stringMatching(/; got "bands"\.$/) });
    const role = await call('POST', '/api/v1/keys', { role: 'boss', scope: {} });
    expect(role.json.error).toMatchObject({ field: 'role', message: expect.stringMatching(/; got a string \("boss"\)\.$/) });
    const missing = await call('POST', '/api/v1/keys', { scope: {} });
    expect(missing.json.error.message).toMatch(/; got nothing\.$/);
    const events = await call('POST', '/api/v1/server-events', { evnts: [] });
    expect(events.json.error).toMatchObject({ code: 'invalid_body', in: 'body', field: 'events', message: expect.stringMatching(/got an object without "events" or "event_name"\.$/) });
  });

  it('acknowledges validly signed but unusable Stripe events and keeps them as rejected', async () => {
    const bad = [
      stripeEvent({ created: 1e20 }),
      stripeEvent({ created: -1e20 }),
      stripeEvent({ id: 'evt_\u0000' }),
      stripeEvent({}, { id: 'pi_\u0000', metadata: { order_id: 'O-\u0000' } }),
    ];
    const before = (await call('GET', '/api/v1/tx/rejected?limit=1000')).json.rejected.length;
    for (const evt of bad) {
      const r = await signed(evt);
      expect(r.status).toBe(200);
      expect(r.json.received).toBe(true);
    }
    // All four are refused as events: the fourth's metadata.order_id cannot be an order id (README "Stripe webhooks").
    const after = (await call('GET', '/api/v1/tx/rejected?limit=1000')).json.rejected;
    expect(after.length - before).toBe(4);
    expect(after.slice(0, 4).map((x: any) => x.reasons[0].field).sort()).toEqual(['created', 'created', 'data.object.metadata.order_id', 'id']);
  });

  it('never answers 5xx to generated values in query, path and body of every route, and refuses with real 400s', async () => {
    const digits = (s: string) => /^\d+$/.test(decodeURIComponentSafe(s));
    const routes: Route[] = [
      { method: 'GET', path: () => '/api/v1/tx/events', query: ['limit', 'before', 'cursor', 'event_name', 'visitor_id', 'event_entity_id'] },
      { method: 'GET', path: () => '/api/v1/tx/rejected', query: ['limit', 'cursor'] },
      { method: 'GET', path: () => '/api/v1/sessions', query: ['limit', 'visitor_id', 'person_id', 'cursor'] },
      { method: 'GET', path: (s) => `/api/v1/sessions/${s}` },
      { method: 'GET', path: () => '/api/v1/persons', query: ['external_id'] },
      { method: 'GET', path: (s) => `/api/v1/persons/${s}` },
      { method: 'GET', path: (s) => `/api/v1/persons/${s}/export` },
      { method: 'DELETE', path: (s) => `/api/v1/persons/${s}` },
      { method: 'GET', path: (s) => `/api/v1/live/events/${s}` },
      { method: 'GET', path: (s) => `/api/v1/live/events/${s}/capacity` },
      { method: 'GET', path: (s) => `/api/v1/live/events/${s}/history`, query: ['minutes', 'to'] },
      { method: 'GET', path: (s) => `/api/v1/live/dashboard/${s}`, query: ['token'] },
      { method: 'GET', path: (s) => `/api/v1/live/dashboard/${s}/history`, query: ['minutes', 'to'] },
      { method: 'GET', path: (s) => `/api/v1/analytics/events/${s}`, query: ['from', 'to', 'bucket'] },
      { method: 'GET', path: (s) => `/api/v1/analytics/organizers/${s}`, query: ['from', 'to', 'bucket'] },
      { method: 'GET', path: (s) => `/api/v1/analytics/public/events/${s}`, query: ['from', 'to', 'bucket'] },
      { method: 'GET', path: (s) => `/api/v1/features/persons/${s}`, query: ['from', 'to'] },
      { method: 'GET', path: (s) => `/api/v1/analytics/users/${s}`, query: ['from', 'to'] },
      { method: 'GET', path: (s) => `/api/v1/analytics/artists/${s}`, query: ['from', 'to', 'bucket'] },
      { method: 'GET', path: (s) => `/api/v1/analytics/venues/${s}`, query: ['from', 'to'] },
      { method: 'GET', path: () => '/api/v1/analytics/artists/A1', query: ['from', 'to'], token: true },
      { method: 'GET', path: () => '/api/tx/tracking-config', query: ['event_id', 'organizer_id', 'format', 'nonce'], write: true },
      { method: 'POST', path: () => '/api/v1/identify', body: (v) => ({ visitor_id: v, external_id: v, email: v, phone: v, city: v }) },
      { method: 'POST', path: () => '/api/v1/identify', body: (v) => ({ visitor_id: 'v-x', external_id: v }) },
      { method: 'POST', path: () => '/api/v1/server-events', body: (v) => ({ events: [{ event_name: 'order_completed', entities: { order_id: v }, payload: { gross_amount: v, currency: v } }] }) },
      { method: 'POST', path: () => '/api/v1/server-events', body: (v) => v },
      { method: 'POST', path: () => '/api/v1/tokens', body: (v) => ({ role: 'organizer', org_id: v, ttl_s: v }) },
      { method: 'PUT', path: () => '/api/v1/settings/stripe', body: (v) => ({ webhook_secret: v }) },
      { method: 'POST', path: () => '/api/v1/audience/estimate', body: (v) => ({ event_hypothesis: { artist_ids: [v], genres: [v], city: v, price_from: v, price_to: v }, min_propensity: v, model: v }) },
      { method: 'POST', path: () => '/api/v1/audience/estimate', body: (v) => ({ event_id: v, ticket_category: v }) },
      { method: 'POST', path: () => '/api/v1/audience/estimate', body: (v) => ({ event_hypothesis: {}, fresh: v, nested: { a: [[[[{ b: v }]]]] } }) },
      { method: 'POST', path: () => '/api/v1/audience/build', body: (v) => ({ name: v, event_hypothesis: { genres: [v] }, min_propensity: 0.99 }) },
      { method: 'GET', path: (s) => `/api/v1/audiences/${s}/members`, query: ['version', 'limit', 'cursor'] },
      { method: 'POST', path: (s) => `/api/v1/audiences/${s}/rebuild` },
      { method: 'DELETE', path: (s) => `/api/v1/audiences/1/versions/${s}` },
      { method: 'PUT', path: () => '/api/v1/audience/coefficients', body: (v) => ({ a: v, b: 0, c: 0, d: 0, e: 0, f: 0, g: v }) },
      { method: 'GET', path: () => '/api/v1/recommendations', query: ['person_id', 'visitor_id', 'limit'] },
      { method: 'POST', path: () => '/api/v1/segments', body: (v) => ({ name: 'f', filters: { or: [{ attribute: 'city', op: 'eq', value: v }, { affinity: 'genre', id: v, gte: v }, { did: v, within_days: v }] } }) },
      { method: 'PUT', path: (s) => `/api/v1/segments/${s}`, body: (v) => ({ filters: { activity: 'views', within_days: v, gte: v } }) },
      { method: 'GET', path: (s) => `/api/v1/segments/${s}/members`, query: ['version', 'limit', 'cursor'] },
      { method: 'GET', path: () => '/api/v1/segments', query: ['limit', 'cursor'] },
      { method: 'POST', path: () => '/api/v1/remarketing-audiences', body: (v) => ({ platform: 'meta', audience_type: 'ticket_buyers', event_id: v, criteria: { source_events: [v], time_window_days: v, min_actions: v }, expires_at: v }) },
      { method: 'GET', path: (s) => `/api/v1/remarketing-audiences/${s}/export`, query: ['limit', 'cursor'] },
      { method: 'GET', path: () => '/api/v1/remarketing-audiences', query: ['limit', 'cursor'] },
      { method: 'GET', path: () => '/api/v1/audiences', query: ['limit', 'cursor'] },
      { method: 'GET', path: () => '/api/v1/conversions', query: ['status', 'destination', 'cursor', 'limit'] },
      { method: 'POST', path: (s) => `/api/v1/conversions/${s}/retry` },
      { method: 'POST', path: () => '/api/v1/conversions/retry', body: (v) => ({ destination: v }) },
      { method: 'POST', path: () => '/api/v1/conversions/retry', body: (v) => v },
      { method: 'PUT', path: () => '/api/v1/settings/conversions', body: (v) => ({ purchase_basis: v }) },
      { method: 'PUT', path: () => '/api/v1/settings/conversions', body: (v) => v },
      { method: 'GET', path: (s) => `/api/v1/catalog/${s}`, query: ['limit', 'cursor'] },
      { method: 'GET', path: (s) => `/api/v1/catalog/events/${s}` },
      { method: 'DELETE', path: (s) => `/api/v1/catalog/products/${s}` },
      { method: 'PUT', path: (s) => `/api/v1/catalog/${s}`, body: (v) => ({ items: [{ id: v }] }) },
      { method: 'PUT', path: () => '/api/v1/catalog/events', body: (v) => ({ items: [{ id: v, organizer_id: v, artist_ids: [v], genres: [v], title: v, starts_at: v, ends_at: v, capacity: v, url: v, updated_at: v }] }) },
      { method: 'PUT', path: () => '/api/v1/catalog/venues', body: (v) => ({ items: [{ id: 'V-f', lat: v, lon: v, capacity: v, gates: [{ id: v, capacity: v }] }] }) },
      { method: 'PUT', path: () => '/api/v1/catalog/ticket_types', body: (v) => ({ items: [{ id: 'T-f', price: v, currency: v, quota: v }, v] }) },
      { method: 'PUT', path: () => '/api/v1/catalog/persons', body: (v) => ({ items: [{ id: v, total_orders: v, marketing_consent: v, avg_order_value: v, last_purchase_at: v }] }) },
      { method: 'PUT', path: () => '/api/v1/catalog/products', body: (v) => ({ items: v }) },
      { method: 'GET', path: () => '/api/v1/roles' },
      { method: 'PUT', path: (s) => `/api/v1/roles/${s}`, body: (v) => ({ permissions: { view_revenue: v } }) },
      { method: 'PUT', path: () => '/api/v1/roles/media', body: (v) => ({ permissions: v }) },
      { method: 'POST', path: () => '/api/admin/tenants', body: (v) => ({ name: v, allowed_origins: [v] }), admin: true },
      { method: 'GET', path: () => '/api/admin/tenants', query: ['limit', 'cursor'], admin: true },
      { method: 'GET', path: (s) => `/api/admin/tenants/${s}`, admin: true },
      { method: 'PATCH', path: (s) => `/api/admin/tenants/${s}`, body: (v) => ({ name: v, site_id: v, allowed_origins: [v] }), admin: true },
      { method: 'GET', path: (s) => `/api/admin/keys/${s}`, admin: true },
      { method: 'GET', path: () => '/api/v1/audit', query: ['limit', 'cursor'] },
      { method: 'GET', path: () => '/api/v1/keys', query: ['limit', 'cursor'] },
      { method: 'POST', path: () => '/api/v1/keys', body: (v) => ({ role: v, scope: { venues: [v], events: v }, name: v }) },
      { method: 'POST', path: () => '/api/v1/keys', body: (v) => ({ role: 'artist', scope: v }) },
      { method: 'DELETE', path: (s) => `/api/v1/keys/${s}` },
      { method: 'GET', path: () => '/api/v1/tracking-codes', query: ['organizer_id', 'event_id', 'provider', 'owner', 'limit', 'cursor'] },
      { method: 'GET', path: (s) => `/api/v1/tracking-codes/${s}` },
      { method: 'PUT', path: (s) => `/api/v1/tracking-codes/${s}`, body: (v) => ({ enabled: v, settings: v, secrets: { access_token: v } }) },
      { method: 'DELETE', path: (s) => `/api/v1/tracking-codes/${s}` },
      { method: 'POST', path: () => '/api/v1/tracking-codes', body: (v) => ({ provider: 'meta', organizer_id: v, event_id: v, settings: { pixel_id: v, custom_params: { a: v }, conversion_events: [v] }, secrets: { access_token: v } }) },
      { method: 'POST', path: () => '/api/v1/campaigns/budgets', body: (v) => ({ organizer_id: v, event_id: v, total_budget: v, daily_budget_limit: v, allocation_strategy: v, platform_allocations: { meta: { percentage: v, daily_limit: v } }, ends_at: v, target_cpa: v }) },
      { method: 'GET', path: () => '/api/v1/campaigns/budgets', query: ['organizer_id', 'limit', 'cursor'] },
      { method: 'GET', path: (s) => `/api/v1/campaigns/budgets/${s}`, query: ['log_limit', 'log_cursor'] },
      { method: 'PATCH', path: (s) => `/api/v1/campaigns/budgets/${s}`, body: (v) => ({ total_budget: v, daily_budget_limit: v }) },
      { method: 'POST', path: (s) => `/api/v1/campaigns/budgets/${s}/suite`, body: (v) => ({ lookalike_pct: v }) },
      { method: 'POST', path: (s) => `/api/v1/campaigns/${s}/approve`, body: (v) => ({ note: v }) },
      { method: 'POST', path: (s) => `/api/v1/campaigns/${s}/reject`, body: (v) => ({ note: v }) },
      { method: 'GET', path: () => '/api/v1/campaigns/review-queue', query: ['limit', 'cursor'] },
      { method: 'GET', path: (s) => `/api/v1/campaigns/${s}`, query: ['log_limit', 'log_cursor'] },
      { method: 'GET', path: () => '/api/v1/campaigns', query: ['budget_id', 'status', 'limit', 'cursor'] },
      { method: 'POST', path: () => '/api/v1/tokens', body: (v) => ({ role: 'admin', ttl_s: v }) },
      { method: 'PUT', path: (s) => `/api/v1/campaigns/${s}/daily-budget`, body: (v) => ({ daily_budget: v }) },
      { method: 'GET', path: () => '/api/v1/campaigns/report', query: ['organizer_id', 'currency'] },
      { method: 'POST', path: () => '/api/v1/tracking-codes', body: (v) => v },
      { method: 'POST', path: () => '/api/v1/analytics/funnels', body: (v) => ({ steps: [{ event_name: v, filters: [{ field: v, op: v, value: v }] }, { event_name: 'event_view' }], window_s: v, from: v, to: v, by: v, breakdown: v }) },
      { method: 'POST', path: () => '/api/v1/analytics/funnels', body: (v) => ({ steps: [{ event_name: 'event_view', filters: [{ field: 'payload.x', op: 'eq', value: v }, { field: 'payload.y', op: 'gt', value: v }] }, { event_name: 'ticket_link_click', filters: [{ field: 'context.utm.source', op: 'in', value: [v] }] }], window_s: 60, from: '2026-01-01', to: '2026-01-02', breakdown: 'payload.source' }) },
      { method: 'POST', path: () => '/api/v1/analytics/funnels', body: (v) => v },
      { method: 'POST', path: () => '/api/v1/analytics/funnels', body: (v) => ({ preset: 'event_discovery', window_s: 60, from: '2026-01-01', to: '2026-01-02', fresh: v, breakdown: 'context.utm.source' }) },
      { method: 'POST', path: () => '/api/v1/experiments', body: (v) => ({ key: v, variants: [{ key: v, weight: v }, { key: 'b' }], coverage: v, start: v, end: v, success_metrics: [v], metric_window_s: v }) },
      { method: 'GET', path: () => '/api/v1/experiments', query: ['limit', 'cursor'] },
      { method: 'PUT', path: (s) => `/api/v1/experiments/${s}`, body: (v) => v },
      { method: 'GET', path: (s) => `/api/v1/experiments/${s}/results` },
      { method: 'DELETE', path: (s) => `/api/v1/experiments/${s}` },
      { method: 'POST', path: () => '/api/v1/tokens', body: (v) => ({ role: 'venue', venue_ids: [v], ttl_s: v }) },
      { method: 'POST', path: () => '/api/v1/tokens', body: (v) => ({ role: 'artist', artist_ids: v }) },
      { method: 'POST', path: () => '/api/v1/tokens', body: (v) => ({ role: 'venue_manager', venue_ids: v }) },
      { method: 'POST', path: () => '/api/v1/tokens', body: (v) => ({ role: 'promoter', event_ids: [v], org_ids: v }) },
      { method: 'POST', path: () => '/api/v1/tokens', body: (v) => ({ role: 'ad_account', org_ids: [v, v], ttl_s: v }) },
      { method: 'POST', path: () => '/api/v1/tokens', body: (v) => ({ role: v }) },
      { method: 'GET', path: (s) => `/api/admin/tenants/${s}/keys`, query: ['limit', 'cursor'], admin: true },
      { method: 'POST', path: (s) => `/api/admin/tenants/${digits(s) ? '999999' : s}/keys`, body: (v) => ({ kind: v, site_id: v, allowed_origins: [v] }), admin: true },
      { method: 'POST', path: () => `/api/admin/tenants/${t.tenant_id}/keys`, body: (v) => ({ kind: 'write', site_id: v, allowed_origins: v }), admin: true },
      // Never a real key id: revoking this suite's own keys would turn the rest into 401s.
      { method: 'DELETE', path: (s) => `/api/admin/keys/${digits(s) ? '999999' : s}`, admin: true },
      { method: 'GET', path: () => '/api/admin/jobs', query: ['limit', 'cursor'], admin: true },
      { method: 'POST', path: (s) => `/api/admin/jobs/${s}/run`, body: (v) => v, admin: true },
      { method: 'GET', path: (s) => `/api/admin/jobs/${s}/runs`, query: ['limit', 'cursor'], admin: true },
      { method: 'GET', path: () => '/api/admin/jobs/ingest.ledger_prune/runs', query: ['limit', 'cursor'], admin: true },
    ];
    // Mostly one hostile parameter alone, so an earlier parameter's refusal does not hide a later one's crash.
    const param = fc.tuple(fc.nat({ max: 5 }), urlValue);
    const queries = fc.oneof({ arbitrary: fc.array(param, { minLength: 1, maxLength: 1 }), weight: 3 }, { arbitrary: fc.array(param, { maxLength: 3 }), weight: 1 });
    const stripeCase = fc.record({ field: fc.constantFrom('id', 'type', 'created', 'data', 'object.id', 'object.amount', 'object.currency', 'object.metadata'), v: nastyJson });
    const sample = fc.sample(
      fc.oneof(
        fc.record({ kind: fc.constant('route' as const), route: fc.nat({ max: routes.length - 1 }), seg: urlValue, q: queries, v: nastyJson }),
        fc.record({ kind: fc.constant('stripe' as const), c: stripeCase }),
      ),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 400), seed: Number(process.env.FUZZ_SEED ?? 8_5) },
    );
    const statuses: Record<number, number> = {};
    const failures: string[] = [];
    for (const s of sample) {
      let r: { status: number; text: string };
      let what: string;
      if (s.kind === 'route') {
        const route = routes[s.route];
        const qs = (route.query ?? []).length ? s.q.map(([i, v]) => `${route.query![i % route.query!.length]}=${v}`).join('&') : '';
        const path = route.path(s.seg) + (qs ? `?${qs}` : '');
        what = `${route.method} ${path.slice(0, 200)} ${route.body ? JSON.stringify(route.body(s.v))?.slice(0, 200) : ''}`;
        r = await call(route.method, path, route.body ? route.body(s.v) : undefined, route.admin, route.write ? 'write' : route.token ? 'token' : null);
      } else {
        const evt: any = stripeEvent();
        const [head, tail] = s.c.field.split('.');
        if (tail) evt.data.object[tail] = s.c.v;
        else evt[head] = s.c.v;
        what = `stripe ${s.c.field}=${JSON.stringify(s.c.v)?.slice(0, 80)}`;
        r = await signed(evt);
      }
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.status >= 500) failures.push(`${r.status} ${what} → ${r.text.slice(0, 200)}`);
    }
    console.log('fuzz-routes statuses', JSON.stringify(statuses), 'failures', failures.length);
    expect(failures).toEqual([]);
    // The inputs reached the handlers: refusals are validation 400s, never missing/invalid credentials.
    expect(statuses[401] ?? 0).toBe(0);
    expect(statuses[400] ?? 0).toBeGreaterThan(sample.length / 4);
    expect((await request('GET', `${base}/health`)).status).toBe(200);
  });
});

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
