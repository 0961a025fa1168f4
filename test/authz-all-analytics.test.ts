// view_all_analytics (seed 003: every analytics table, whatever the scope; issue 18): a role the tenant grants it
// reads the analytics of every event, venue and organizer of the tenant — REST mirror, history, daily analytics
// and topics — still without the money unless it also has view_revenue. Before, only funnels and experiment
// results honoured it: the routes and topics answered 403 scope. Tokens minted by such a key stay within the
// key's explicit scope.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, getJson, postJson, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';
import { funnelEvents, LiveClient, liveRest, mintToken, sendEvents } from './live-helpers.js';

describe('view_all_analytics widens the analytics reads to the whole tenant', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  let venueKey: string;
  const clients: LiveClient[] = [];
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const scan = (event: string) => ({
    event_id: crypto.randomUUID(), event_name: 'capacity_snapshot', occurred_at: new Date(Date.now() - 1000).toISOString(), source_system: 'scanner',
    consent_snapshot: { analytics: false, marketing: false, data_processing: true },
    entities: { event_entity_id: event, ticket_id: crypto.randomUUID() },
    payload: { gate_id: 'G1', current_inside: 4, total_entries: 4, total_denied: 0, capacity: 40 },
  });

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'all-analytics');
    expect((await api(base, t, 'PUT', '/api/v1/catalog/venues', { items: [{ id: 'V1' }, { id: 'V2' }] })).status).toBe(200);
    expect((await api(base, t, 'PUT', '/api/v1/catalog/events', {
      items: [{ id: 'E1', organizer_id: 'O1', venue_id: 'V1' }, { id: 'E2', organizer_id: 'O2', venue_id: 'V2' }],
    })).status).toBe(200);
    await sendEvents(base, t, [scan('E2'), ...funnelEvents({ event: 'E2', org: 'O2', visitors: 1, views: 1, selects: 1, carts: 1, checkouts: 1, attempts: 1, failures: 0, orders: 1, qty: 1, price: 55, currency: 'EUR' })]);
    venueKey = (await postJson(`${base}/api/v1/keys`, { role: 'venue', scope: { venues: ['V1'] } }, as(t.secret_key))).json.key;
    expect((await api(base, t, 'PUT', '/api/v1/roles/venue', { permissions: { view_all_analytics: true, mint_tokens: true } })).status).toBe(200);
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await server?.close();
  });

  it('a V1 venue key reads E2 (at V2) over REST, history and daily analytics, without revenue', async () => {
    for (const path of ['/api/v1/live/events/E2', '/api/v1/live/events/E2/history', '/api/v1/live/events/E2/capacity', '/api/v1/analytics/events/E2', '/api/v1/analytics/venues/V2']) {
      const r = await getJson(`${base}${path}`, as(venueKey));
      expect({ path, status: r.status }).toEqual({ path, status: 200 });
      expect(JSON.stringify(r.json), path).not.toContain('"EUR"');
    }
    // The money still needs view_revenue: the organizer roll-up (revenue only) stays refused, naming it.
    const dash = await getJson(`${base}/api/v1/live/dashboard/O2`, as(venueKey));
    expect({ status: dash.status, permission: dash.json.error?.permission }).toEqual({ status: 403, permission: 'view_revenue' });
    // Another role without the grant keeps its scope.
    const artist = (await postJson(`${base}/api/v1/keys`, { role: 'artist', scope: { artists: ['A1'] } }, as(t.secret_key))).json.key;
    expect((await getJson(`${base}/api/v1/live/events/E2`, as(artist))).status).toBe(403);
  });

  it('a venue token of V1 subscribes to E2 and V2\'s aggregate (revenue-free), and reads them over REST', async () => {
    const token = await mintToken(base, t, { role: 'venue', venue_ids: ['V1'] });
    const c = await LiveClient.open(base, token);
    clients.push(c);
    const e2 = await c.subscribe('analytics:event:E2');
    expect(e2.type).toBe('snapshot');
    expect(e2.data.revenue).toBeUndefined();
    expect((await c.subscribe('analytics:event:E2:capacity')).type).toBe('snapshot');
    expect((await c.subscribe('analytics:venue:V2:capacity')).type).toBe('snapshot');
    for (const path of ['/api/v1/live/events/E2', '/api/v1/live/events/E2/history']) {
      const r = await liveRest(base, path, token);
      expect({ path, status: r.status }).toEqual({ path, status: 200 });
      expect(JSON.stringify(r.json)).not.toContain('"EUR"');
    }
  });

  it('tokens minted by such a key stay within the key\'s own ids', async () => {
    expect((await postJson(`${base}/api/v1/tokens`, { role: 'venue', venue_ids: ['V1'] }, as(venueKey))).status).toBe(201);
    const r = await postJson(`${base}/api/v1/tokens`, { role: 'venue', venue_ids: ['V2'] }, as(venueKey));
    expect({ status: r.status, field: r.json.error?.field }).toEqual({ status: 403, field: 'venue_ids' });
  });
});
