// The router with a fake uWS app: declared auth, params parsed by name (strict percent-decoding), the JSON
// body and its schema, and the one error mapping (typed errors, store unavailable, anything else).
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { SpoolFullError } from '../store/spool.js';
import type { KeyCheck, Tenant } from '../store/tenants.js';
import type { KeyResolver } from './auth.js';
import { ConflictError, NotFoundError, ValidationError } from './errors.js';
import { id, text } from './params.js';
import { createRouter, paramPositions, parseParams, type RouterDeps } from './router.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from './uws.js';

const tenant = { tenant_id: 7, allowed_origins: [] } as unknown as Tenant;
const KEYS: Record<string, KeyCheck> = {
  tx_sk_good: { ok: true, lookup: { tenant, kind: 'secret', key_id: 1, site_id: null } },
  tx_pk_good: { ok: true, lookup: { tenant, kind: 'write', key_id: 2, site_id: null } },
  tx_sk_old: { ok: false, code: 'revoked_key' },
};
const keys: KeyResolver = {
  check: async (k) => KEYS[k] ?? { ok: false, code: 'invalid_key' },
  resolve: async () => null,
  forget: () => undefined,
  invalidate: () => undefined,
};

type Sent = { status: string; headers: Record<string, string>; body: unknown };

/** A fake uWS app: records handlers; `call` runs one with headers and a body and resolves what was sent. */
function fakeApp() {
  const routes = new Map<string, (res: HttpResponse, req: HttpRequest) => void>();
  const register = (m: string) => (pattern: string, h: (res: HttpResponse, req: HttpRequest) => void) => routes.set(`${m} ${pattern}`, h);
  const app = { get: register('get'), post: register('post'), put: register('put'), del: register('del'), patch: register('patch') } as unknown as TemplatedApp;
  const call = (route: string, url: string, opts: { headers?: Record<string, string>; body?: string; query?: string } = {}) =>
    new Promise<Sent>((resolve) => {
      const sent: Sent = { status: '', headers: {}, body: undefined };
      let onData: ((chunk: ArrayBuffer, last: boolean) => void) | null = null;
      const res = {
        onAborted: () => res,
        onData: (cb: typeof onData) => {
          onData = cb;
          return res;
        },
        getRemoteAddressAsText: () => new TextEncoder().encode('127.0.0.1').buffer,
        cork: (f: () => void) => f(),
        writeStatus: (s: string) => ((sent.status = s), res),
        writeHeader: (k: string, v: string) => ((sent.headers[k] = v), res),
        end: (b: string) => {
          sent.body = JSON.parse(b);
          resolve(sent);
        },
        endWithoutBody: () => resolve(sent),
      } as unknown as HttpResponse;
      const headers = opts.headers ?? {};
      const req = {
        forEach: (cb: (k: string, v: string) => void) => Object.entries(headers).forEach(([k, v]) => cb(k, v)),
        getMethod: () => route.split(' ')[0],
        getUrl: () => url,
        getQuery: () => opts.query ?? '',
      } as unknown as HttpRequest;
      routes.get(route)!(res, req);
      if (onData) (onData as (c: ArrayBuffer, l: boolean) => void)(new TextEncoder().encode(opts.body ?? '').buffer as ArrayBuffer, true);
    });
  return { app, call };
}

const deps = (app: TemplatedApp): RouterDeps => ({ app, log: pino({ level: 'silent' }), trustProxy: false, keys, adminToken: 'admin-secret' });

describe('router', () => {
  it('finds params by name and decodes them strictly', () => {
    expect(paramPositions('/api/admin/tenants/:tenant_id/keys')).toEqual({ tenant_id: 3 });
    expect(parseParams('/api/admin/tenants/12/keys', { tenant_id: 3 }, { tenant_id: id })).toEqual({ ok: true, value: { tenant_id: 12 } });
    expect(parseParams('/api/admin/tenants/x/keys', { tenant_id: 3 }, { tenant_id: id })).toMatchObject({ ok: false, error: { code: 'invalid_field', in: 'path', field: 'tenant_id' } });
    expect(parseParams('/a/%ZZ', { s: 1 }, { s: (w, f, raw) => text(w, f, raw, { max: 9 }) })).toMatchObject({ ok: false, error: { in: 'path' } });
    expect(parseParams('/a/b%2Fc', { s: 1 }, { s: (w, f, raw) => text(w, f, raw, { max: 9 }) })).toEqual({ ok: true, value: { s: 'b/c' } });
  });

  it('refuses a route whose path names a param without a parser, at registration', () => {
    const { app } = fakeApp();
    expect(() => createRouter(deps(app)).add({ method: 'get', path: '/x/:id', auth: 'none', handler: async () => ({ status: 200 }) })).toThrow(/no parser for :id/);
  });

  it('refuses a secret or token route without a declared permission, or with path params but no resource, at registration (issue 18)', () => {
    const { app } = fakeApp();
    const router = createRouter(deps(app));
    expect(() => router.add({ method: 'get', path: '/s', auth: 'secret', handler: async () => ({ status: 200 }) })).toThrow(/declare its permission/);
    expect(() => router.add({ method: 'get', path: '/t', auth: 'token', handler: async () => ({ status: 200 }) })).toThrow(/declare its permission/);
    expect(() => router.add({ method: 'get', path: '/e/:id', auth: 'secret', permission: 'view_event_analytics', params: { id }, handler: async () => ({ status: 200 }) })).toThrow(/declare its resource/);
    expect(() => router.add({ method: 'get', path: '/e/:id', auth: 'secret', permission: 'view_event_analytics', resource: { event: 'other' }, params: { id }, handler: async () => ({ status: 200 }) })).toThrow(/not in the path/);
    router.add({ method: 'get', path: '/ok/:id', auth: 'secret', permission: 'view_event_analytics', resource: { event: 'id' }, params: { id }, query: [], handler: async () => ({ status: 200 }) });
    router.add({ method: 'get', path: '/open', auth: 'none', query: ['q'], handler: async () => ({ status: 200 }) });
    expect(router.routes()).toEqual([
      { method: 'get', path: '/ok/:id', auth: 'secret', permission: 'view_event_analytics', resource: { event: 'id' }, query: [], body: null },
      { method: 'get', path: '/open', auth: 'none', permission: null, resource: null, query: ['q'], body: null },
    ]);
  });

  it('resolves the declared auth before anything else', async () => {
    const { app, call } = fakeApp();
    const router = createRouter(deps(app));
    router.add({ method: 'get', path: '/admin/:id', auth: 'admin', params: { id }, query: [], handler: async ({ params }) => ({ status: 200, body: { id: params.id } }) });
    router.add({ method: 'get', path: '/secret', auth: 'secret', permission: 'none', query: [], handler: async ({ principal }) => ({ status: 200, body: { tenant: principal.tenant.tenant_id } }) });
    expect(await call('get /admin/:id', '/admin/x')).toMatchObject({ status: '401 Unauthorized', body: { error: { code: 'invalid_admin_token' } } });
    expect(await call('get /admin/:id', '/admin/x', { headers: { authorization: 'Bearer admin-secret' } })).toMatchObject({ status: '400 Bad Request', body: { error: { code: 'invalid_field', field: 'id', in: 'path' } } });
    expect(await call('get /admin/:id', '/admin/5', { headers: { authorization: 'Bearer admin-secret' } })).toMatchObject({ body: { id: 5 } });
    expect(await call('get /secret', '/secret')).toMatchObject({ body: { error: { code: 'missing_key' } } });
    expect(await call('get /secret', '/secret', { headers: { authorization: 'Bearer tx_sk_old' } })).toMatchObject({ body: { error: { code: 'revoked_key' } } });
    expect(await call('get /secret', '/secret', { headers: { authorization: 'Bearer tx_pk_good' } })).toMatchObject({ status: '403 Forbidden', body: { error: { code: 'write_key_not_allowed' } } });
    expect(await call('get /secret', '/secret', { headers: { authorization: 'Bearer tx_sk_good' } })).toMatchObject({ body: { tenant: 7 } });
  });

  it('resolves write keys (origin checked) and dashboard tokens or the secret key for token routes', async () => {
    const { app, call } = fakeApp();
    const router = createRouter({
      ...deps(app),
      tokens: { prefix: 'v1.', verify: (t) => (t === 'v1.ok' ? { ok: true, scope: { role: 'organizer', tenant: 7, org: 'O1' } } : { ok: false, reason: t === 'v1.old' ? 'expired' : 'bad_signature' }) },
    });
    router.add({ method: 'get', path: '/w', auth: 'write', query: ['key'], handler: async ({ principal }) => ({ status: 200, body: { tenant: principal.tenant.tenant_id } }) });
    router.add({ method: 'get', path: '/t', auth: 'token', permission: 'none', query: ['token'], handler: async ({ principal }) => ({ status: 200, body: principal.scope }) });
    expect(await call('get /w', '/w')).toMatchObject({ status: '401 Unauthorized', body: { error: { code: 'missing_key' } } });
    expect(await call('get /w', '/w', { headers: { 'x-tx-key': 'tx_sk_good' } })).toMatchObject({ status: '403 Forbidden', body: { error: { code: 'wrong_key_kind' } } });
    expect(await call('get /w', '/w', { query: 'key=tx_pk_good' })).toMatchObject({ body: { tenant: 7 } });
    expect(await call('get /t', '/t', { query: 'token=v1.ok' })).toMatchObject({ body: { role: 'organizer', org: 'O1' } });
    expect(await call('get /t', '/t', { headers: { authorization: 'Bearer v1.old' } })).toMatchObject({ body: { error: { code: 'token_expired' } } });
    expect(await call('get /t', '/t', { headers: { authorization: 'Bearer v1.forged' } })).toMatchObject({ body: { error: { code: 'invalid_token' } } });
    expect(await call('get /t', '/t', { headers: { authorization: 'Bearer tx_sk_good' } })).toMatchObject({ body: { role: 'tenant', tenant: 7 } });
  });

  it('refuses a get route without a query declaration, or one omitting its query_event, at registration', () => {
    const { app } = fakeApp();
    const router = createRouter(deps(app));
    expect(() => router.add({ method: 'get', path: '/q', auth: 'none', handler: async () => ({ status: 200 }) })).toThrow(/GET \/q must declare the query parameters/);
    expect(() => router.add({ method: 'get', path: '/q', auth: 'none', query: ['a', 'a'], handler: async () => ({ status: 200 }) })).toThrow(/each parameter once/);
    expect(() => router.add({ method: 'get', path: '/q', auth: 'secret', permission: 'view_raw_events', resource: { query_event: 'event' }, query: ['limit'], handler: async () => ({ status: 200 }) })).toThrow(/\?event=, which query must list/);
    // Other methods take no query parameter unless they declare some.
    router.add({ method: 'post', path: '/p', auth: 'none', handler: async () => ({ status: 200 }) });
    expect(router.routes()).toEqual([{ method: 'post', path: '/p', auth: 'none', permission: null, resource: null, query: [], body: null }]);
  });

  it('refuses a query parameter the route does not declare, after auth and the path, naming it and listing the others', async () => {
    const { app, call } = fakeApp();
    const router = createRouter(deps(app));
    router.add({ method: 'get', path: '/l/:id', auth: 'admin', params: { id }, query: ['limit', 'cursor'], handler: async ({ info }) => ({ status: 200, body: { limit: info.query.get('limit') } }) });
    router.add({ method: 'post', path: '/none', auth: 'none', handler: async () => ({ status: 200, body: { ran: true } }) });
    const admin = { authorization: 'Bearer admin-secret' };
    expect(await call('get /l/:id', '/l/1', { headers: admin, query: 'limit=5&cursor=' })).toMatchObject({ status: '200 OK', body: { limit: '5' } });
    expect(await call('get /l/:id', '/l/1', { headers: admin, query: 'limit=5&bogus=1' })).toEqual({
      status: '400 Bad Request', headers: expect.anything(),
      body: { error: { code: 'invalid_field', in: 'query', field: 'bogus', message: 'Unknown query parameter "bogus": this route takes limit, cursor.' } },
    });
    // Auth first (no key: 401, not a hint at the route's parameters), then the path param.
    expect(await call('get /l/:id', '/l/1', { query: 'bogus=1' })).toMatchObject({ status: '401 Unauthorized' });
    expect(await call('get /l/:id', '/l/x', { headers: admin, query: 'bogus=1' })).toMatchObject({ body: { error: { field: 'id', in: 'path' } } });
    // The name as decoded, cut to 40 characters; exact (no case folding).
    expect(await call('get /l/:id', '/l/1', { headers: admin, query: 'Limit=5' })).toMatchObject({ body: { error: { field: 'Limit' } } });
    expect(await call('get /l/:id', '/l/1', { headers: admin, query: `${'%C3%A9'.repeat(50)}=1` })).toMatchObject({ body: { error: { field: 'é'.repeat(40) } } });
    // A parameter without a name is the query string's fault: `field` is `$`, never empty.
    expect(await call('get /l/:id', '/l/1', { headers: admin, query: 'limit=5&=x' })).toMatchObject({
      status: '400 Bad Request', body: { error: { in: 'query', field: '$', message: 'A query parameter has no name (as in ?=value): remove it; this route takes limit, cursor.' } },
    });
    // A route that takes none says so, and the handler (here one that acts) never runs.
    expect(await call('post /none', '/none', { query: 'dry_run=1' })).toMatchObject({
      status: '400 Bad Request', body: { error: { field: 'dry_run', message: 'Unknown query parameter "dry_run": this route takes no query parameters.' } },
    });
    expect(await call('post /none', '/none')).toMatchObject({ body: { ran: true } });
  });

  it('parses the JSON body with its schema and refuses it with field paths', async () => {
    const { app, call } = fakeApp();
    createRouter(deps(app)).add({
      method: 'post', path: '/b', auth: 'none',
      body: { limit: 100, parse: (v) => (typeof (v as { n?: unknown }).n === 'number' ? { ok: true, value: (v as { n: number }).n } : { ok: false, error: { code: 'invalid_field', in: 'body', field: 'n', message: 'n must be a number.' } }) },
      handler: async ({ body }) => ({ status: 200, body: { twice: body * 2 } }),
    });
    expect(await call('post /b', '/b', { body: '{"n":4}' })).toMatchObject({ body: { twice: 8 } });
    expect(await call('post /b', '/b', { body: '{"n":"4"}' })).toMatchObject({ status: '400 Bad Request', body: { error: { code: 'invalid_field', field: 'n', in: 'body' } } });
    // Not JSON: the whole body (`in` body, `field` $), where it breaks and what to send; not V8's own text.
    expect(await call('post /b', '/b', { body: '{"n":' })).toMatchObject({
      status: '400 Bad Request',
      body: { error: { code: 'invalid_json', in: 'body', field: '$', message: 'The body is not valid JSON: the body ends before its JSON value does at position 5 (line 1, column 6). Send the body as JSON, e.g. {"name": "value"} (JSON.stringify), encoded as UTF-8.' } },
    });
    expect(await call('post /b', '/b', { body: '{' })).toMatchObject({ body: { error: { code: 'invalid_json', in: 'body', field: '$', message: expect.stringMatching(/^The body is not valid JSON: .* at position 1 \(line 1, column 2\)/) } } });
    expect(await call('post /b', '/b', { body: '{"s":"\\u0000"}' })).toMatchObject({ body: { error: { code: 'invalid_field', field: 's' } } });
    expect(await call('post /b', '/b', { body: JSON.stringify({ n: 'x'.repeat(200) }) })).toMatchObject({ status: '413 Payload Too Large', body: { error: { code: 'body_too_large', limit: 100 } } });
  });

  it('refuses a body that is not a JSON object (array, string, number, null, boolean) with 400 invalid_body naming the whole body "$", before the schema runs', async () => {
    const { app, call } = fakeApp();
    const router = createRouter(deps(app));
    let parsed = 0;
    router.add({
      method: 'put', path: '/o', auth: 'none',
      body: { parse: (v) => ((parsed++, { ok: true, value: v })) },
      handler: async ({ body }) => ({ status: 200, body: { got: body } }),
    });
    router.add({ method: 'post', path: '/list', auth: 'none', body: { arrays: true }, handler: async ({ body }) => ({ status: 200, body: { got: body } }) });
    const sent: [string, string][] = [['[]', 'an array'], ['[1,2]', 'an array'], ['"x"', 'a string ("x")'], ['1', 'a number (1)'], ['null', 'null'], ['true', 'true']];
    for (const [body, got] of sent) {
      expect(await call('put /o', '/o', { body })).toEqual({
        status: '400 Bad Request', headers: expect.anything(),
        body: { error: { code: 'invalid_body', in: 'body', field: '$', message: `The body must be a JSON object ({"name": value, …}); got ${got}.` } },
      });
    }
    expect(parsed).toBe(0);
    // An object, or no body at all ({}), reaches the schema.
    expect(await call('put /o', '/o', { body: '{"a":1}' })).toMatchObject({ status: '200 OK', body: { got: { a: 1 } } });
    expect(await call('put /o', '/o')).toMatchObject({ status: '200 OK', body: { got: {} } });
    expect(parsed).toBe(2);
    // A route that takes a list says so; anything else is still refused.
    expect(await call('post /list', '/list', { body: '[1]' })).toMatchObject({ status: '200 OK', body: { got: [1] } });
    expect(await call('post /list', '/list', { body: '"x"' })).toMatchObject({
      status: '400 Bad Request', body: { error: { code: 'invalid_body', field: '$', message: 'The body must be a JSON object or an array; got a string ("x").' } },
    });
    // A key refused at the top level names the whole body too, never an empty field.
    expect(await call('put /o', '/o', { body: '{"a\\u0000":1}' })).toMatchObject({ body: { error: { code: 'invalid_field', in: 'body', field: '$' } } });
    // The registry says which routes take a body and of what shape.
    expect(router.routes().map((r) => [r.path, r.body])).toEqual([['/o', 'object'], ['/list', 'object_or_array']]);
  });

  it('refuses raw bytes that are not UTF-8 in the path or the query (uWS hands them over as U+FFFD), as it refuses malformed percent-encoding', async () => {
    const { app, call } = fakeApp();
    const router = createRouter(deps(app));
    router.add({ method: 'get', path: '/s/:s', auth: 'none', params: { s: (w: 'path', f: string, raw: string) => text(w, f, raw, { max: 9 }) }, query: ['v'], handler: async ({ params, info }) => ({ status: 200, body: { s: params.s, v: info.query.get('v') } }) });
    const encoded = await call('get /s/:s', '/s/%FF%FE');
    expect(encoded).toMatchObject({ status: '400 Bad Request', body: { error: { code: 'invalid_field', in: 'path', field: 'path' } } });
    // getUrl() decodes the request line's bytes as UTF-8 and replaces \xff\xfe by U+FFFD U+FFFD before we see it.
    expect(await call('get /s/:s', '/s/\uFFFD\uFFFD')).toMatchObject({
      status: '400 Bad Request', body: { error: { code: 'invalid_field', in: 'path', field: 'path', message: expect.stringMatching(/not valid UTF-8.*percent-encode/) } },
    });
    expect(await call('get /s/:s', '/s/a', { query: 'v=\uFFFD' })).toMatchObject({
      status: '400 Bad Request', body: { error: { code: 'invalid_field', in: 'query', field: 'v', message: expect.stringMatching(/not valid UTF-8/) } },
    });
    expect(await call('get /s/:s', '/s/a', { query: 'v\uFFFD=1' })).toMatchObject({ status: '400 Bad Request', body: { error: { in: 'query', field: 'v\uFFFD' } } });
    // U+FFFD sent percent-encoded (%EF%BF%BD) is a character like any other; so are raw UTF-8 characters.
    expect(await call('get /s/:s', '/s/%EF%BF%BD', { query: 'v=%EF%BF%BD' })).toMatchObject({ status: '200 OK', body: { s: '\uFFFD', v: '\uFFFD' } });
    expect(await call('get /s/:s', '/s/caf\u00e9', { query: 'v=\u00e9' })).toMatchObject({ status: '200 OK', body: { s: 'caf\u00e9', v: '\u00e9' } });
  });

  it('maps thrown errors in one place: typed → their status, store unavailable → 503, anything else → 500 without details', async () => {
    const { app, call } = fakeApp();
    const router = createRouter(deps(app));
    const throwing = (err: unknown) => async () => {
      throw err;
    };
    router.add({ method: 'get', path: '/nf', auth: 'none', query: [], handler: throwing(new NotFoundError('not_found', 'No such thing.')) });
    router.add({ method: 'get', path: '/c', auth: 'none', query: [], handler: throwing(new ConflictError('Taken.')) });
    router.add({ method: 'get', path: '/v', auth: 'none', query: [], handler: throwing(new ValidationError({ code: 'invalid_field', in: 'query', field: 'a.b[0]', message: 'No.' })) });
    router.add({ method: 'get', path: '/u', auth: 'none', query: [], handler: throwing(new SpoolFullError('full')) });
    router.add({ method: 'get', path: '/x', auth: 'none', query: [], handler: throwing(new Error('secret detail')) });
    expect(await call('get /nf', '/nf')).toMatchObject({ status: '404 Not Found', body: { error: { code: 'not_found', message: 'No such thing.' } } });
    expect(await call('get /c', '/c')).toMatchObject({ status: '409 Conflict', body: { error: { code: 'conflict' } } });
    expect(await call('get /v', '/v')).toMatchObject({ status: '400 Bad Request', body: { error: { code: 'invalid_field', field: 'a.b[0]', in: 'query' } } });
    expect(await call('get /u', '/u')).toMatchObject({ status: '503 Service Unavailable', headers: { 'Retry-After': '5' }, body: { error: { code: 'store_unavailable' } } });
    const x = await call('get /x', '/x');
    expect(x).toMatchObject({ status: '500 Internal Server Error', body: { error: { code: 'internal', message: 'Internal error.' } } });
    expect(JSON.stringify(x.body)).not.toContain('secret detail');
  });
});

describe('whole-tenant resources', () => {
  it('a scope without ids is the whole tenant; any listed id limits it', async () => {
    const { isLimited } = await import('./router.js');
    expect(isLimited({})).toBe(false);
    expect(isLimited({ organizers: [] })).toBe(false);
    expect(isLimited({ organizers: ['O1'] })).toBe(true);
    expect(isLimited({ events: ['E1'] })).toBe(true);
  });
});
