// Unknown query parameters are refused on every route of the router (README "Bad input is a 400 that names it"):
// a mistyped filter (`?action=` on the audit log, `?organizer_id=` on the catalog) used to answer 200 with the
// unfiltered list. Walks the router's own registry (`RunningServer.routes()`), so a route added later is covered
// without touching this file: each refuses `?bogus=1` with a 400 naming it and listing what it takes, and takes
// every name it declares. The README's examples only use names their route declares.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteInfo } from '../server/http/router.js';
import { ADMIN, bootServer, createTenant, request, type Tenant } from './helpers.js';

// A value each path param's parser takes (the router checks the query before the handler looks anything up).
const PARAM_VALUES: Record<string, string> = { kind: 'events', role: 'venue', name: 'ingest.ledger_prune', key: 'exp-1', session_id: 's-1', event_id: 'E1', org_id: 'O1' };

const urlOf = (r: RouteInfo, query: string) => `${r.path.replace(/:(\w+)/g, (_m, name: string) => encodeURIComponent(PARAM_VALUES[name] ?? '1'))}?${query}`;
const methodOf = (r: RouteInfo) => (r.method === 'del' ? 'DELETE' : r.method.toUpperCase());
const takes = (r: RouteInfo) => (r.query.length > 0 ? `this route takes ${r.query.join(', ')}.` : 'this route takes no query parameters.');

describe('unknown query parameters on every route', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;

  beforeAll(async () => {
    server = await bootServer({ ENCRYPTION_KEY: crypto.randomBytes(32).toString('hex') });
    t = await createTenant(server.url, 'unknown-query');
  });
  afterAll(async () => {
    await server?.close();
  });

  /** The route's own credential: the operator token, the write key, or the tenant's admin secret key. */
  const headersFor = (r: RouteInfo): Record<string, string> =>
    r.auth === 'admin' ? { authorization: `Bearer ${ADMIN}` }
    : r.auth === 'write' ? { 'x-tx-key': t.write_key }
    : r.auth === 'none' ? {}
    : { authorization: `Bearer ${t.secret_key}` };
  const call = (r: RouteInfo, query: string) =>
    request(methodOf(r), server.url + urlOf(r, query), ['post', 'put', 'patch'].includes(r.method) ? {} : undefined, headersFor(r));

  it('lists every route with the query parameters it takes', () => {
    const routes = server.routes();
    expect(routes.length).toBeGreaterThan(80);
    for (const r of routes) expect({ route: `${r.method} ${r.path}`, query: Array.isArray(r.query) }).toEqual({ route: `${r.method} ${r.path}`, query: true });
    // The router's own reads are declared: a resource named by the query, the REST mirror's ?token=, the write key.
    const byPath = (m: string, p: string) => routes.find((r) => r.method === m && r.path === p)?.query;
    expect(byPath('get', '/api/v1/tx/events')).toContain('event_entity_id');
    expect(byPath('get', '/api/v1/live/events/:event_id')).toEqual(['token']);
    expect(byPath('get', '/api/tx/tracking-config')).toContain('key');
    expect(byPath('get', '/api/tx/experiments')).toEqual(['visitor_id', 'key']);
  });

  it('refuses ?bogus=1 on every route with a 400 naming it and listing what the route takes', async () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const r of server.routes()) {
      const res = await call(r, 'bogus=1');
      checked++;
      const e = res.json?.error;
      const got = e ? { status: res.status, code: e.code, in: e.in, field: e.field, message: e.message } : { status: res.status, text: res.text.slice(0, 200) };
      const want = { status: 400, code: 'invalid_field', in: 'query', field: 'bogus', message: `Unknown query parameter "bogus": ${takes(r)}` };
      if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${methodOf(r)} ${urlOf(r, 'bogus=1')}: ${JSON.stringify(got)}`);
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(80);
  }, 120_000);

  it('takes every parameter a route declares (a bad value may be refused, never as unknown)', async () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const r of server.routes()) {
      for (const name of r.query) {
        const res = await call(r, `${encodeURIComponent(name)}=1`);
        checked++;
        const message = String(res.json?.error?.message ?? '');
        if (res.status >= 500 || message.startsWith('Unknown query parameter')) wrong.push(`${methodOf(r)} ${urlOf(r, `${name}=1`)}: ${res.status} ${res.text.slice(0, 200)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  }, 120_000);

  it('refuses the reported mistakes instead of answering everything', async () => {
    const secret = { authorization: `Bearer ${t.secret_key}` };
    const audit = await request('GET', `${server.url}/api/v1/audit?action=key.created`, undefined, secret);
    expect({ status: audit.status, field: audit.json.error.field, message: audit.json.error.message }).toEqual({ status: 400, field: 'action', message: 'Unknown query parameter "action": this route takes limit, cursor.' });
    const catalog = await request('GET', `${server.url}/api/v1/catalog/events?organizer_id=O1`, undefined, secret);
    expect({ status: catalog.status, field: catalog.json.error.field, in: catalog.json.error.in }).toEqual({ status: 400, field: 'organizer_id', in: 'query' });
    // The declared names still work, and a name is compared exactly (no case folding).
    expect((await request('GET', `${server.url}/api/v1/audit?limit=5`, undefined, secret)).status).toBe(200);
    expect((await request('GET', `${server.url}/api/v1/catalog/events?limit=5`, undefined, secret)).status).toBe(200);
    const upper = await request('GET', `${server.url}/api/v1/audit?Limit=5`, undefined, secret);
    expect({ status: upper.status, field: upper.json.error.field }).toEqual({ status: 400, field: 'Limit' });
    // A long name is named cut to 40 characters, like the other query refusals.
    const long = await request('GET', `${server.url}/api/v1/audit?${'x'.repeat(100)}=1`, undefined, secret);
    expect({ status: long.status, field: long.json.error.field }).toEqual({ status: 400, field: 'x'.repeat(40) });
    // Auth comes first: without a key the answer is still 401, whatever the query.
    expect((await request('GET', `${server.url}/api/v1/audit?bogus=1`)).status).toBe(401);
    // A refusal on a public /api/tx route keeps its CORS headers.
    const pub = await fetch(`${server.url}/api/tx/experiments?visitor_id=v1&vistor=1`, { headers: { 'x-tx-key': t.write_key, origin: 'https://shop.example' } });
    expect({ status: pub.status, field: ((await pub.json()) as { error: { field: string } }).error.field, cors: pub.headers.get('access-control-allow-origin') !== null }).toEqual({ status: 400, field: 'vistor', cors: true });
    // A dashboard token in the URL is still taken where documented (the live REST mirror).
    const minted = await request('POST', `${server.url}/api/v1/tokens`, { role: 'organizer', org_id: 'O1' }, secret);
    expect(minted.status).toBe(201);
    expect((await request('GET', `${server.url}/api/v1/live/dashboard/O1?token=${encodeURIComponent(minted.json.token)}`)).status).toBe(200);
  });

  it('uses only declared names in the README\'s examples', () => {
    const readme = fs.readFileSync(path.resolve(import.meta.dirname, '..', 'README.md'), 'utf8');
    const routes = server.routes().map((r) => ({ r, re: new RegExp(`^${r.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:\w+/g, '[^/]+')}$`) }));
    const wrong: string[] = [];
    let matched = 0;
    // Lines showing a refusal (`?action=` on the audit log) are examples of what is refused.
    const examples = readme.split('\n').filter((line) => !line.includes('Unknown query parameter')).join('\n');
    for (const [example] of examples.matchAll(/\/api\/[^\s?"'`)]*\?[^\s"'`)]*/g)) {
      const [p, q] = [example.slice(0, example.indexOf('?')), example.slice(example.indexOf('?') + 1)];
      const candidates = routes.filter(({ re }) => re.test(p.replace(/\{[^}]*\}/g, 'x')));
      // Paths of no router route (ingest's /api/tx/events/batch, `/api/v1/live/…/history`) are not checked here.
      if (candidates.length === 0) continue;
      matched++;
      for (const name of q.split('&').map((part) => part.split('=')[0]).filter(Boolean)) {
        if (!candidates.some(({ r }) => r.query.includes(name))) wrong.push(`${example}: ${name}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(matched).toBeGreaterThan(20);
  });
});
