// Remarketing audiences and their organizer (issue 14 probe): an audience of an event belongs to the event's catalog
// organizer, so its sync uses that organizer's tracking code token (not only a marketplace code); an organizer_id
// that disagrees with the event's (or a lookalike's seed's) is refused; a lookalike takes its seed's organizer; a
// catalog move of the event moves the audience (its view and the token its next sync uses).
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postEvents, webEvent, type Tenant } from './helpers.js';
import { api, identify } from './identity-helpers.js';

/** Meta's Graph API, answering every upload and lookalike creation, recording the token each request carried. */
async function graph() {
  const seen: { path: string; token: string }[] = [];
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ path: req.url!, token: String(req.headers.authorization ?? '').replace(/^Bearer /, '') });
      const lal = /^\/v25\.0\/act_\d+\/customaudiences$/.test(req.url!);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(lal ? { id: `LAL${seen.length}` } : { num_received: 1, num_invalid_entries: 0 }));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, seen, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

describe('remarketing audiences and the organizer of their event', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let mock: Awaited<ReturnType<typeof graph>>;
  let base: string;
  let t: Tenant;
  const call = (method: string, p: string, body?: unknown) => api(base, t, method, p, body);
  const sync = (id: number) => call('POST', `/api/v1/remarketing-audiences/${id}/sync`);
  const tokensSince = (n: number) => mock.seen.slice(n).map((r) => r.token);

  beforeAll(async () => {
    mock = await graph();
    server = await bootServer({ ENCRYPTION_KEY: crypto.randomBytes(32).toString('hex'), META_GRAPH_URL: mock.url });
    base = server.url;
    t = await createTenant(base, 'remarketing-organizer');
    expect((await call('PUT', '/api/v1/catalog/events', { items: [{ id: 'E1', organizer_id: 'O1' }] })).status).toBe(200);
    expect((await postEvents(base, t, [webEvent({ visitor_id: 'ov1', session_id: 'os1', occurred_at: new Date(Date.now() - 3_600_000).toISOString() })])).rejected).toEqual([]);
    await identify(base, t, { visitor_id: 'ov1', external_id: 'o1', email: 'o1@example.org' });
    await call('PUT', '/api/v1/catalog/persons', { items: [{ id: 'o1', marketing_consent: true }] });
    // Each organizer has its own Meta token; the marketplace has no Meta code at all.
    for (const o of ['O1', 'O2']) {
      expect((await call('POST', '/api/v1/tracking-codes', { provider: 'meta', organizer_id: o, settings: { pixel_id: '123456789012345' }, secrets: { access_token: `token-${o}` } })).status).toBe(201);
    }
  }, 180_000);
  afterAll(async () => {
    await server?.close();
    await mock?.close();
  });

  it('an audience of an event takes its catalog organizer and syncs with that organizer\'s token; a disagreeing organizer_id is a 400', async () => {
    const a = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'event_viewers', event_id: 'E1', external_audience_id: '9101' });
    expect(a.status).toBe(201);
    expect(a.json).toMatchObject({ event_id: 'E1', organizer_id: 'O1', member_count: 1 });
    const before = mock.seen.length;
    const s = await sync(a.json.id);
    expect(s.status).toBe(200);
    expect(s.json).toMatchObject({ ok: true, added: 1 });
    expect(tokensSince(before)).toEqual(['token-O1']);

    // The same organizer, named: accepted; another one: refused, naming the field.
    const same = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'ticket_buyers', event_id: 'E1', organizer_id: 'O1', external_audience_id: '9102' });
    expect(same.status).toBe(201);
    const other = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'ticket_buyers', event_id: 'E1', organizer_id: 'O2', external_audience_id: '9103' });
    expect(other.status).toBe(400);
    expect(other.json.error).toMatchObject({ code: 'invalid_field', field: 'organizer_id' });
    expect(other.json.error.message).toContain('"O1"');

    // A lookalike takes its seed's organizer (its origin audience lives in that organizer's ad account).
    const lal = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'lookalike', account_id: '555', criteria: { lookalike_source_id: a.json.id, lookalike_country: 'RO' } });
    expect(lal.status).toBe(201);
    expect(lal.json.organizer_id).toBe('O1');
    const n = mock.seen.length;
    expect((await sync(lal.json.id)).json).toMatchObject({ ok: true });
    expect(tokensSince(n)).toEqual(['token-O1']);
    const badLal = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'lookalike', organizer_id: 'O2', account_id: '555', criteria: { lookalike_source_id: a.json.id, lookalike_country: 'RO' } });
    expect(badLal.status).toBe(400);
    expect(badLal.json.error).toMatchObject({ code: 'invalid_field', field: 'organizer_id' });
  });

  it('a catalog move of the event moves its audiences: the view and the next sync follow the new organizer', async () => {
    const a = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'event_viewers', event_id: 'E1', external_audience_id: '9201' });
    expect(a.json.organizer_id).toBe('O1');
    expect((await call('PUT', '/api/v1/catalog/events', { items: [{ id: 'E1', organizer_id: 'O2' }] })).status).toBe(200);
    expect((await call('GET', `/api/v1/remarketing-audiences/${a.json.id}`)).json.organizer_id).toBe('O2');
    const before = mock.seen.length;
    expect((await sync(a.json.id)).json).toMatchObject({ ok: true, added: 1 });
    expect(tokensSince(before)).toEqual(['token-O2']);
    expect((await call('PUT', '/api/v1/catalog/events', { items: [{ id: 'E1', organizer_id: 'O1' }] })).status).toBe(200);
  });
});
