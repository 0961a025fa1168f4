// An event the catalog knows takes its organizer, venue and artists from the catalog alone (issue 18): a row
// sent with the public write key that names a venue (or an organizer) for it adds nothing to any scope. Before,
// each field fell back from the catalog to what the live state learnt, so a catalog event without a venue was
// put at any venue a page named — its funnel with revenue, history, daily analytics, topics and the venue
// aggregate went to that venue's staff, who could even mint a promoter token for it.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, getJson, postJson, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';
import { LiveClient, liveRest, sendEvents } from './live-helpers.js';

describe('catalog first, whole: a write-key row cannot move a catalog event into a scope', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  const clients: LiveClient[] = [];
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const view = (event: string, entities: Record<string, unknown>) => ({
    event_id: crypto.randomUUID(), event_name: 'event_view', occurred_at: new Date(Date.now() - 1000).toISOString(), source_system: 'web',
    visitor_id: `v-${crypto.randomUUID()}`, session_id: `s-${crypto.randomUUID()}`,
    consent_snapshot: { analytics: true, marketing: true, data_processing: true },
    entities: { event_entity_id: event, ...entities }, payload: {},
  });
  const scan = (event: string, venue: string) => ({
    event_id: crypto.randomUUID(), event_name: 'capacity_snapshot', occurred_at: new Date(Date.now() - 1000).toISOString(), source_system: 'scanner',
    consent_snapshot: { analytics: false, marketing: false, data_processing: true },
    entities: { event_entity_id: event, venue_id: venue, ticket_id: crypto.randomUUID() },
    payload: { gate_id: 'G1', current_inside: 3, total_entries: 3, total_denied: 0, capacity: 30 },
  });

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'catalog-owner');
    expect((await api(base, t, 'PUT', '/api/v1/catalog/venues', { items: [{ id: 'V1', name: 'Arena' }] })).status).toBe(200);
    expect((await api(base, t, 'PUT', '/api/v1/catalog/events', {
      items: [
        { id: 'E1', organizer_id: 'O1', venue_id: 'V1', title: 'At the arena' },
        // O2's event, no venue yet; E4 has no organizer in the catalog.
        { id: 'E3', organizer_id: 'O2', title: 'Elsewhere' },
        { id: 'E4', venue_id: 'V9', title: 'No organizer' },
      ],
    })).status).toBe(200);
    expect((await api(base, t, 'PUT', '/api/v1/roles/venue_manager', { permissions: { mint_tokens: true } })).status).toBe(200);
    // The public write key names V1 for E3 and O1 for E4 (and scans E3 "at V1").
    await sendEvents(base, t, [
      view('E1', { organizer_id: 'O1', venue_id: 'V1' }),
      view('E3', { organizer_id: 'O2', venue_id: 'V1' }),
      view('E4', { organizer_id: 'O1', venue_id: 'V1' }),
      scan('E1', 'V1'),
      scan('E3', 'V1'),
    ]);
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await server?.close();
  });

  it('a V1 venue_manager key reads E1 (at V1 in the catalog) but not E3 over REST, history or daily analytics', async () => {
    const vm = (await postJson(`${base}/api/v1/keys`, { role: 'venue_manager', scope: { venues: ['V1'] } }, as(t.secret_key))).json.key as string;
    expect((await getJson(`${base}/api/v1/live/events/E1`, as(vm))).status).toBe(200);
    for (const path of ['/api/v1/live/events/E3', '/api/v1/live/events/E3/history', '/api/v1/live/events/E3/capacity', '/api/v1/analytics/events/E3']) {
      const r = await getJson(`${base}${path}`, as(vm));
      expect({ path, status: r.status, code: r.json?.error?.code }).toEqual({ path, status: 403, code: 'forbidden' });
    }
    // An organizer key of O1: E4's catalog row names no organizer, so O1's claim from a page gives it nothing.
    const o1 = (await postJson(`${base}/api/v1/keys`, { role: 'organizer', scope: { organizers: ['O1'] } }, as(t.secret_key))).json.key as string;
    expect((await getJson(`${base}/api/v1/live/events/E4`, as(o1))).status).toBe(403);
    // Nor in its funnels (their scope is the catalog's organizer, the live owner only for events the catalog lacks).
    const day = new Date().toISOString().slice(0, 10);
    const to = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const funnel = await postJson(`${base}/api/v1/analytics/funnels`, {
      steps: [{ event_name: 'event_view' }, { event_name: 'ticket_link_click' }], from: day, to, breakdown: 'entities.event_entity_id',
    }, as(o1));
    expect(funnel.status).toBe(200);
    expect(JSON.stringify(funnel.json)).not.toContain('E4');
    expect(JSON.stringify(funnel.json)).toContain('E1');
    // O2, the catalog's organizer of E3, still reads it.
    const o2 = (await postJson(`${base}/api/v1/keys`, { role: 'organizer', scope: { organizers: ['O2'] } }, as(t.secret_key))).json.key as string;
    expect((await getJson(`${base}/api/v1/live/events/E3`, as(o2))).status).toBe(200);
  });

  it('the V1 key cannot mint a token for E3; its tokens read no E3 topic and V1\'s aggregate leaves E3 out', async () => {
    const vm = (await postJson(`${base}/api/v1/keys`, { role: 'venue_manager', scope: { venues: ['V1'] } }, as(t.secret_key))).json.key as string;
    for (const body of [{ role: 'promoter', event_ids: ['E3'] }, { role: 'gate', event_ids: ['E3'] }]) {
      const r = await postJson(`${base}/api/v1/tokens`, body, as(vm));
      expect({ body, status: r.status, field: r.json?.error?.field, id: r.json?.error?.id }).toEqual({ body, status: 403, field: 'event_ids', id: 'E3' });
    }
    expect((await postJson(`${base}/api/v1/tokens`, { role: 'gate', event_ids: ['E1'] }, as(vm))).status).toBe(201);
    const token = (await postJson(`${base}/api/v1/tokens`, { role: 'venue_manager', venue_ids: ['V1'] }, as(vm))).json.token as string;
    const c = await LiveClient.open(base, token);
    clients.push(c);
    for (const topic of ['analytics:event:E3', 'analytics:event:E3:capacity']) expect((await c.subscribe(topic)).code).toBe('forbidden');
    const agg = await c.subscribe('analytics:venue:V1:capacity');
    expect(agg.type).toBe('snapshot');
    expect(agg.data.events.map((e: any) => e.event_id)).toEqual(['E1']);
    expect((await liveRest(base, '/api/v1/live/events/E3', token)).status).toBe(403);
  });
});
