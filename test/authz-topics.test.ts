// Topics by role (issue 18 item 2): a venue token sees its venue's aggregate capacity and the capacity of events
// at its venues, nothing of another venue; an artist token reads its events without revenue; a denial names the
// permission; a token minted with a key that is then revoked is closed and refused within seconds. Property:
// random topic strings and random scopes never give a topic outside the scope, and never crash.
import crypto from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowed, parseTopic, topicFor, type EventOwnership, type Topic } from '../server/live/topics.js';
import type { Scope } from '../server/live/token.js';
import { ADMIN, bootServer, createTenant, getJson, postJson, request, until, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';
import { funnelEvents, LiveClient, liveRest, mintToken, sendEvents } from './live-helpers.js';

const admin = { authorization: `Bearer ${ADMIN}` };

describe('topics by role over /ws', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  let other: Tenant;
  const clients: LiveClient[] = [];
  const open = async (token: string) => {
    const c = await LiveClient.open(base, token);
    clients.push(c);
    return c;
  };
  const scan = (event: string, gate: string, inside: number, capacity: number) => ({
    event_id: crypto.randomUUID(), event_name: 'capacity_snapshot', occurred_at: new Date(Date.now() - 1000).toISOString(), source_system: 'scanner',
    consent_snapshot: { analytics: false, marketing: false, data_processing: true },
    entities: { event_entity_id: event, ticket_id: crypto.randomUUID() },
    payload: { gate_id: gate, current_inside: inside, total_entries: inside, total_denied: 0, capacity },
  });

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'roles');
    other = await createTenant(base, 'roles-other');
    for (const who of [t, other]) {
      expect((await api(base, who, 'PUT', '/api/v1/catalog/venues', { items: [{ id: 'V1', name: 'Arena' }, { id: 'V2', name: 'Club' }] })).status).toBe(200);
      expect((await api(base, who, 'PUT', '/api/v1/catalog/events', {
        items: [
          { id: 'E1', organizer_id: 'O1', venue_id: 'V1', artist_ids: ['A1'], title: 'One' },
          { id: 'E2', organizer_id: 'O2', venue_id: 'V1', title: 'Two' },
          { id: 'E3', organizer_id: 'O1', venue_id: 'V2', artist_ids: ['A2'], title: 'Three' },
        ],
      })).status).toBe(200);
    }
    await sendEvents(base, t, [scan('E1', 'G1', 10, 100), scan('E2', 'G1', 5, 50), scan('E3', 'G9', 7, 70)]);
    // The other tenant has the same ids with other numbers: never visible to t's tokens.
    await sendEvents(base, other, [scan('E1', 'G1', 999, 1000)]);
    await sendEvents(base, t, funnelEvents({ event: 'E1', org: 'O1', visitors: 2, views: 2, selects: 2, carts: 2, checkouts: 2, attempts: 2, failures: 0, orders: 2, qty: 1, price: 50, currency: 'EUR' }));
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await server?.close();
  });

  it('a venue token sees its venue\'s capacity, summed over its events, and nothing of another venue', async () => {
    const token = await mintToken(base, t, { role: 'venue', venue_ids: ['V1'] });
    const c = await open(token);
    const v1 = await c.subscribe('analytics:venue:V1:capacity');
    expect(v1.type).toBe('snapshot');
    const data = await c.until('analytics:venue:V1:capacity', (d) => d.inside === 15);
    expect(data).toMatchObject({ venue_id: 'V1', inside: 15, capacity: 150, percent: 10 });
    expect(data.events.map((e: any) => [e.event_id, e.event_title, e.inside])).toEqual([['E1', 'One', 10], ['E2', 'Two', 5]]);
    expect(JSON.stringify(data)).not.toContain('999');
    expect((await c.subscribe('analytics:event:E1:capacity')).data).toMatchObject({ event_id: 'E1', venue_id: 'V1', inside: 10 });
    // The funnel of an event at its venue, as a venue key reads it: without revenue (venue has no view_revenue).
    const funnel = await c.subscribe('analytics:event:E1');
    expect(funnel.type).toBe('snapshot');
    expect(funnel.data).toMatchObject({ event_id: 'E1' });
    expect(funnel.data.revenue).toBeUndefined();
    for (const topic of ['analytics:venue:V2:capacity', 'analytics:event:E3:capacity', 'analytics:event:E3', 'analytics:dashboard:O1']) {
      const m = await c.subscribe(topic);
      expect({ topic, type: m.type, code: m.code }).toEqual({ topic, type: 'error', code: 'forbidden' });
    }
    const denied = c.messages.find((m) => m.topic === 'analytics:venue:V2:capacity') as any;
    expect(denied.permission).toBe('view_venue_analytics');
    // The update path: a new scan at V2 changes nothing this token receives; one at V1 does.
    const before = c.messages.length;
    await sendEvents(base, t, [scan('E3', 'G9', 8, 70), scan('E2', 'G1', 6, 50)]);
    expect((await c.until('analytics:venue:V1:capacity', (d) => d.inside === 16)).events[1]).toMatchObject({ event_id: 'E2', inside: 6 });
    expect(c.messages.slice(before).every((m) => m.topic === undefined || m.topic.includes('V1') || m.topic.includes('E1'))).toBe(true);
  });

  it('an organizer token cannot read a venue aggregate (other organizers\' events are in it), only its own events', async () => {
    const c = await open(await mintToken(base, t, { role: 'organizer', org_id: 'O1' }));
    expect((await c.subscribe('analytics:venue:V1:capacity')).code).toBe('forbidden');
    expect((await c.subscribe('analytics:event:E1')).type).toBe('snapshot');
  });

  it('a refused subscribe cancelled by an unsubscribe sent right after it sends nothing of the topic after "unsubscribed"', async () => {
    const c = await open(await mintToken(base, t, { role: 'venue', venue_ids: ['V2'] }));
    const topic = 'analytics:event:E2:capacity'; // E2 is at V1: forbidden to this token
    for (let round = 0; round < 5; round++) {
      const from = c.messages.length;
      c.send({ op: 'subscribe', topic });
      c.send({ op: 'unsubscribe', topic });
      // Two answers of the topic: the unsubscribe's, and the subscribe's (refused if decided first, else "unsubscribed").
      await c.next((m) => m.topic === topic && c.messages.slice(from).filter((x) => x.topic === topic).length >= 2, 10_000, from);
      const of = c.messages.slice(from).filter((m) => m.topic === topic);
      const after = of.slice(of.findIndex((m) => m.type === 'unsubscribed') + 1);
      expect(after.filter((m) => m.type !== 'unsubscribed'), JSON.stringify(of)).toEqual([]);
    }
  });

  it('an artist token reads its events without revenue, and no other event', async () => {
    const c = await open(await mintToken(base, t, { role: 'artist', artist_ids: ['A1'] }));
    const m = await c.subscribe('analytics:event:E1');
    expect(m.type).toBe('snapshot');
    const d = await c.until('analytics:event:E1', (x) => x.funnel?.orders === 2);
    expect(d).not.toHaveProperty('revenue');
    expect(JSON.stringify(d)).not.toContain('EUR');
    expect(d).toMatchObject({ event_id: 'E1', funnel: { orders: 2, tickets_sold: 2 } });
    // The organizer's subscribers of the same topic still get revenue (a separate hub entry).
    const o = await open(await mintToken(base, t, { role: 'organizer', org_id: 'O1' }));
    expect((await o.subscribe('analytics:event:E1')).data.revenue).toEqual({ EUR: 100 });
    expect((await c.subscribe('analytics:event:E1:capacity')).type).toBe('snapshot');
    for (const topic of ['analytics:event:E2', 'analytics:event:E3', 'analytics:venue:V1:capacity', 'analytics:dashboard:O1']) {
      expect((await c.subscribe(topic)).code).toBe('forbidden');
    }
    // Over REST an artist never gets the money either: refused, or served without revenue.
    const rest = await liveRest(base, '/api/v1/live/events/E1', await mintToken(base, t, { role: 'artist', artist_ids: ['A1'] }));
    expect([200, 403]).toContain(rest.status);
    expect(JSON.stringify(rest.json)).not.toContain('EUR');
  });

  it('refuses bad venue/artist token requests with the field', async () => {
    const auth = { authorization: `Bearer ${t.secret_key}` };
    for (const [body, field] of [
      [{ role: 'venue' }, 'venue_ids'],
      [{ role: 'venue', venue_ids: [] }, 'venue_ids'],
      [{ role: 'venue', venue_ids: ['a\u0001'] }, 'venue_ids'],
      [{ role: 'artist', artist_ids: Array.from({ length: 51 }, (_, i) => `A${i}`) }, 'artist_ids'],
      [{ role: 'root' }, 'role'],
    ] as const) {
      const r = await postJson(`${base}/api/v1/tokens`, body, auth);
      expect({ body, status: r.status, field: r.json?.error?.field }).toEqual({ body, status: 400, field });
    }
  });

  it('revoking the key that minted a token closes its connections and refuses the token within seconds', async () => {
    const created = await postJson(`${base}/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'secret' }, admin);
    const key = created.json.key as string;
    const r = await postJson(`${base}/api/v1/tokens`, { role: 'venue', venue_ids: ['V1'] }, { authorization: `Bearer ${key}` });
    expect(r.json).toMatchObject({ role: 'venue', venue_ids: ['V1'], key_id: created.json.id });
    const token = r.json.token as string;
    const c = await open(token);
    expect((await c.subscribe('analytics:venue:V1:capacity')).type).toBe('snapshot');
    expect((await liveRest(base, '/api/v1/live/events/E1/capacity', token)).status).toBe(200);
    // A token of the tenant's original key keeps working throughout.
    const kept = await open(await mintToken(base, t, { role: 'venue', venue_ids: ['V1'] }));
    expect((await kept.subscribe('analytics:venue:V1:capacity')).type).toBe('snapshot');

    expect((await request('DELETE', `${base}/api/admin/keys/${created.json.id}`, undefined, admin)).status).toBe(200);
    const t0 = Date.now();
    await until(async () => c.closed, 20_000);
    const closedAfterMs = Date.now() - t0;
    expect(closedAfterMs).toBeLessThan(20_000);
    const rest = await liveRest(base, '/api/v1/live/events/E1/capacity', token);
    expect(rest.status).toBe(401);
    await expect(LiveClient.open(base, token)).rejects.toMatchObject({ status: 401 });
    expect(kept.closed).toBe(false);
    expect((await kept.subscribe('analytics:event:E1:capacity')).type).toBe('snapshot');
  }, 40_000);

  it('applies the tenant\'s role overrides to topics, like the router does to routes', async () => {
    const venue = await open(await mintToken(base, t, { role: 'venue', venue_ids: ['V1'] }));
    const artist = await open(await mintToken(base, t, { role: 'artist', artist_ids: ['A1'] }));
    try {
      expect((await api(base, t, 'PUT', '/api/v1/roles/venue', { permissions: { view_capacity: false, view_venue_analytics: false } })).status).toBe(200);
      const cap = (await venue.subscribe('analytics:event:E1:capacity')) as any;
      expect([cap.code, cap.permission]).toEqual(['forbidden', 'view_capacity']);
      const agg = (await venue.subscribe('analytics:venue:V1:capacity')) as any;
      expect([agg.code, agg.permission]).toEqual(['forbidden', 'view_venue_analytics']);
      // Granted view_revenue by the tenant, an artist reads the event with its money (the same rule as REST).
      expect((await api(base, t, 'PUT', '/api/v1/roles/artist', { permissions: { view_revenue: true } })).status).toBe(200);
      expect((await artist.subscribe('analytics:event:E1')).data.revenue).toEqual({ EUR: 100 });
    } finally {
      expect((await api(base, t, 'PUT', '/api/v1/roles/venue', { permissions: { view_capacity: null, view_venue_analytics: null } })).status).toBe(200);
      expect((await api(base, t, 'PUT', '/api/v1/roles/artist', { permissions: { view_revenue: null } })).status).toBe(200);
    }
    expect((await venue.subscribe('analytics:venue:V1:capacity')).type).toBe('snapshot');
  });

  it('never crashes on hostile topic strings, answering invalid_topic or forbidden', async () => {
    const c = await open(await mintToken(base, t, { role: 'venue', venue_ids: ['V1'] }));
    // Seeded: an unseeded run could draw a topic this token may read (say analytics:event:E1:capacity, an event
    // at its venue), answered with a snapshot the check below does not expect.
    const samples = fc.sample(fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ maxLength: 40 }).map((s) => `analytics:venue:${s}:capacity`),
      fc.string({ maxLength: 40 }).map((s) => `analytics:event:${s}`),
      fc.constantFrom('analytics:venue::capacity', 'analytics:venue:V1', 'analytics:venue:V1:capacity:capacity', 'analytics:venue:V1\u0000:capacity', 'analytics:event:E1|norevenue'),
    ), { numRuns: 60, seed: 20_240_611 });
    for (const topic of samples) {
      c.send({ op: 'subscribe', topic });
    }
    c.send({ op: 'ping' });
    await c.next((m) => m.type === 'pong', 10_000);
    const answers = c.messages.filter((m) => m.type === 'snapshot' || m.type === 'error');
    for (const m of answers) {
      if (m.type === 'snapshot') expect(m.topic).toBe('analytics:venue:V1:capacity');
      else expect(['invalid_topic', 'forbidden']).toContain(m.code);
    }
    expect(c.closed).toBe(false);
    expect((await getJson(`${base}/health`)).status).toBe(200);
  });
});

describe('topic rules (pure), property-based', () => {
  const ID = fc.constantFrom('E1', 'E2', 'E3', 'V1', 'V2', 'A1', 'A2', 'O1', 'O2', 'x');
  const owners: Record<string, EventOwnership> = {
    E1: { org: 'O1', venue: 'V1', artists: ['A1'] },
    E2: { org: 'O2', venue: 'V1', artists: [] },
    E3: { org: 'O1', venue: 'V2', artists: ['A2'] },
  };
  // Tenant 1 knows the events; tenant 2 knows nothing (another tenant's ownership never leaks in).
  const ownerOf = (tenant: number, e: string) => (tenant === 1 ? owners[e] : undefined);
  const scopeArb: fc.Arbitrary<Scope> = fc.oneof(
    fc.record({ role: fc.constant('organizer' as const), tenant: fc.constantFrom(1, 2), org: ID }),
    fc.record({ role: fc.constant('gate' as const), tenant: fc.constantFrom(1, 2), events: fc.array(ID, { maxLength: 3 }) }),
    fc.record({ role: fc.constant('venue' as const), tenant: fc.constantFrom(1, 2), venues: fc.array(ID, { minLength: 1, maxLength: 3 }) }),
    fc.record({ role: fc.constant('artist' as const), tenant: fc.constantFrom(1, 2), artists: fc.array(ID, { minLength: 1, maxLength: 3 }) }),
    fc.record({ role: fc.constant('venue_manager' as const), tenant: fc.constantFrom(1, 2), venues: fc.array(ID, { minLength: 1, maxLength: 3 }) }),
    fc.record({ role: fc.constant('promoter' as const), tenant: fc.constantFrom(1, 2), events: fc.array(ID, { maxLength: 3 }), orgs: fc.array(ID, { maxLength: 3 }) }),
    fc.record({ role: fc.constant('ad_account' as const), tenant: fc.constantFrom(1, 2), orgs: fc.array(ID, { minLength: 1, maxLength: 3 }) }),
    fc.record({ role: fc.constant('media' as const), tenant: fc.constantFrom(1, 2) }),
  );
  const topicArb = fc.oneof(
    ID.map((id) => `analytics:event:${id}`),
    ID.map((id) => `analytics:event:${id}:capacity`),
    ID.map((id) => `analytics:dashboard:${id}`),
    ID.map((id) => `analytics:venue:${id}:capacity`),
    fc.string({ maxLength: 60 }),
  );

  /** The reference: which topics a scope may read, written out per role. */
  const oracle = (s: Scope, t: Topic): boolean => {
    const o = s.tenant === 1 && 'event' in t ? owners[t.event] : undefined;
    switch (s.role) {
      case 'organizer':
        return t.kind === 'dashboard' ? t.org === s.org : t.kind !== 'venue' && o?.org === s.org;
      case 'gate':
        return t.kind === 'capacity' && s.events.includes(t.event);
      case 'venue':
        return t.kind === 'venue' ? s.venues.includes(t.venue) : t.kind !== 'dashboard' && !!o?.venue && s.venues.includes(o.venue);
      case 'artist':
        return (t.kind === 'capacity' || t.kind === 'event') && !!o && o.artists.some((a) => s.artists.includes(a));
      // The roles added with their tokens: the topic's resource in scope, as a key of the role (permissions: access.ts).
      case 'venue_manager':
        return t.kind === 'venue' ? s.venues.includes(t.venue) : t.kind !== 'dashboard' && !!o?.venue && s.venues.includes(o.venue);
      case 'promoter':
        return t.kind === 'dashboard' ? s.orgs.includes(t.org) : t.kind !== 'venue' && (s.events.includes(t.event) || (!!o?.org && s.orgs.includes(o.org)));
      case 'ad_account':
        // Its organizers' events are in its scope; the role's permissions (no topic by default) refuse them.
        return t.kind === 'dashboard' ? s.orgs.includes(t.org) : t.kind !== 'venue' && !!o?.org && s.orgs.includes(o.org);
      case 'media':
        return false;
      default:
        return true;
    }
  };

  it('grants exactly the topics of the scope, never another tenant\'s events; an artist reads the revenue-free variant', () => {
    fc.assert(fc.property(scopeArb, topicArb, (scope, name) => {
      const parsed = parseTopic(name);
      if (parsed === null) return;
      const topic = topicFor(scope, parsed);
      const ok = allowed(scope, topic, ownerOf);
      expect(ok).toBe(oracle(scope, topic));
      if ((scope.role === 'artist' || scope.role === 'venue') && topic.kind === 'event') expect(topic.revenue).toBe(false);
      if (scope.tenant === 2 && scope.role !== 'gate' && scope.role !== 'promoter' && ok) expect(topic.kind === 'dashboard' || topic.kind === 'venue').toBe(true);
    }), { numRuns: Number(process.env.FUZZ_RUNS ?? 2000) });
  });
});
