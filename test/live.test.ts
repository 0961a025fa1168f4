// The live layer end to end on one node without Redis: tokens, /ws, REST mirror, scopes, coalescing.
import crypto from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postJson, webEvent, type Tenant } from './helpers.js';
import { funnelEvents, LiveClient, liveRest, mintToken, sendEvents, sleep, type FunnelPlan } from './live-helpers.js';
import { clearOfMidnight, MIDNIGHT_HOOK_TIMEOUT_MS } from './midnight.js';

const E1: FunnelPlan = { event: 'LE1', org: 'ORG-A', visitors: 50, views: 50, selects: 40, carts: 30, checkouts: 20, attempts: 12, failures: 2, orders: 10, qty: 2, price: 50, currency: 'EUR' };
const E2: FunnelPlan = { event: 'LE2', org: 'ORG-A', visitors: 50, views: 45, selects: 30, carts: 25, checkouts: 15, attempts: 10, failures: 3, orders: 9, qty: 1, price: 19.9, currency: 'EUR' };

describe('live layer (single node)', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;

  beforeAll(async () => {
    // Events up to a minute old must be today's for the whole run (live numbers are per UTC day).
    await clearOfMidnight();
    server = await bootServer({ RATE_LIMIT_EVENTS_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' });
    base = server.url;
    t = await createTenant(base, 'live');
  }, MIDNIGHT_HOOK_TIMEOUT_MS);
  afterAll(async () => {
    await server?.close();
  });

  it('mints tokens with the secret key only', async () => {
    const url = `${base}/api/v1/tokens`;
    expect((await postJson(url, { role: 'organizer', org_id: 'O' })).status).toBe(401);
    expect((await postJson(url, { role: 'organizer', org_id: 'O' }, { authorization: `Bearer ${t.write_key}` })).status).toBe(403);
    const bad = await postJson(url, { role: 'boss' }, { authorization: `Bearer ${t.secret_key}` });
    expect(bad.status).toBe(400);
    expect(bad.json.error.field).toBe('role');
    const ok = await postJson(url, { role: 'gate', event_ids: ['E1'], ttl_s: 60 }, { authorization: `Bearer ${t.secret_key}` });
    expect(ok.status).toBe(201);
    expect(ok.json).toMatchObject({ token: expect.stringMatching(/^v1\./), expires_at: expect.any(String), role: 'gate', event_ids: ['E1'] });
    expect(Date.parse(ok.json.expires_at) - Date.now()).toBeGreaterThan(50_000);
  });

  it('refuses the websocket upgrade with 401 on a missing, forged or expired token', async () => {
    await expect(LiveClient.open(base, '')).rejects.toMatchObject({ status: 401 });
    await expect(LiveClient.open(base, 'v1.e30.AAAA')).rejects.toMatchObject({ status: 401 });
    const good = await mintToken(base, t, { role: 'organizer', org_id: 'ORG-A' });
    const [v, body] = good.split('.');
    const forged = `${v}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), o: 'ORG-B' })).toString('base64url')}.${good.split('.')[2]}`;
    await expect(LiveClient.open(base, forged)).rejects.toMatchObject({ status: 401 });
    const short = await mintToken(base, t, { role: 'organizer', org_id: 'ORG-A', ttl_s: 1 });
    await sleep(1100);
    await expect(LiveClient.open(base, short)).rejects.toMatchObject({ status: 401 });
    const c = await LiveClient.open(base, good);
    c.send({ op: 'ping' });
    expect((await c.next((m) => m.type === 'pong')).ts).toEqual(expect.any(Number));
    c.close();
    // A plain GET of the websocket URL (a browser tab, curl) is told what the URL is for.
    const plain = await fetch(`${base}/ws?token=${good}`);
    expect(plain.status).toBe(426);
    expect(plain.headers.get('upgrade')).toBe('websocket');
    expect(((await plain.json()) as any).error.code).toBe('upgrade_required');
  });

  it('streams exact funnel numbers for 2 events × 50 visitors; duplicates and bots do not count; REST agrees', async () => {
    const token = await mintToken(base, t, { role: 'organizer', org_id: 'ORG-A' });
    // The organizer only sees events known to be theirs: one event each first.
    await sendEvents(base, t, [webEvent({ visitor_id: 'LE1-v0', entities: { event_entity_id: 'LE1', organizer_id: 'ORG-A' } }), webEvent({ visitor_id: 'LE2-v0', entities: { event_entity_id: 'LE2', organizer_id: 'ORG-A' } })]);
    const c = await LiveClient.open(base, token);
    const snap = await c.subscribe('analytics:event:LE1');
    expect(snap).toMatchObject({ type: 'snapshot', seq: expect.any(Number), ts: expect.any(Number), data: { event_id: 'LE1', organizer_id: 'ORG-A' } });
    expect(snap.data.funnel.views).toBe(1);
    await c.subscribe('analytics:dashboard:ORG-A');

    const events = [...funnelEvents(E1), ...funnelEvents(E2)];
    expect((await sendEvents(base, t, events)).accepted).toBe(events.length);
    // The same batch again (all duplicates) and bot traffic.
    expect((await sendEvents(base, t, events)).duplicates).toBe(events.length);
    const bots = Array.from({ length: 40 }, (_, i) => webEvent({ visitor_id: `bot${i}`, entities: { event_entity_id: 'LE1', organizer_id: 'ORG-A' } }));
    await sendEvents(base, t, bots, { 'user-agent': 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' });

    // Batches commit one after another and updates are coalesced: wait for the state after the last visitor.
    const d1 = await c.until('analytics:event:LE1', (d) => d.funnel.orders === 10 && d.funnel.views === 51);
    expect(d1.funnel).toEqual({
      views: 51, unique_visitors: 50, ticket_selections: 40, add_to_carts: 30, checkouts_started: 20,
      active_checkouts: 10, payment_attempts: 12, payment_failures: 2, orders: 10, tickets_sold: 20,
    });
    expect(d1.revenue).toEqual({ EUR: 1000 });
    expect(d1.conversion).toEqual({ view_to_cart: 0.5882, cart_to_checkout: 0.6667, checkout_to_order: 0.5, view_to_order: 0.1961 });
    expect(d1.updated_at).toEqual(expect.any(String));

    const dash = await c.until('analytics:dashboard:ORG-A', (d) => d.totals.funnel.orders === 19 && d.totals.funnel.views === 97);
    expect(dash.events.map((e: any) => e.event_id)).toEqual(['LE1', 'LE2']);
    expect(dash.totals.funnel).toEqual({
      views: 97, unique_visitors: 95, ticket_selections: 70, add_to_carts: 55, checkouts_started: 35,
      active_checkouts: 16, payment_attempts: 22, payment_failures: 5, orders: 19, tickets_sold: 29,
    });
    expect(dash.totals.revenue).toEqual({ EUR: 1179.1 });
    expect(dash.ticker).toHaveLength(19);
    expect(dash.ticker[0]).toMatchObject({ event_id: expect.stringMatching(/^LE[12]$/), tickets: expect.any(Number), amount: expect.any(Number), currency: 'EUR' });

    // Updates only when something changed, seq +1 per update, at most one per 250 ms per topic.
    const updates = c.messages.filter((m) => m.topic === 'analytics:event:LE1' && m.type === 'update');
    expect(updates.map((m) => m.seq)).toEqual(updates.map((_, i) => snap.seq! + i + 1));
    for (let i = 1; i < updates.length; i++) expect(updates[i].ts! - updates[i - 1].ts!).toBeGreaterThanOrEqual(240);
    const count = updates.length;
    await sleep(700);
    expect(c.messages.filter((m) => m.topic === 'analytics:event:LE1' && m.type === 'update').length).toBe(count);

    // REST mirror, with the secret key and with the token.
    const rest = await liveRest(base, '/api/v1/live/events/LE1', t.secret_key);
    expect(rest.status).toBe(200);
    expect(rest.json).toMatchObject({ topic: 'analytics:event:LE1', type: 'snapshot' });
    expect(rest.json.data.funnel).toEqual(d1.funnel);
    const restDash = await liveRest(base, '/api/v1/live/dashboard/ORG-A', token);
    expect(restDash.json.data.totals).toEqual(dash.totals);
    expect((await liveRest(base, '/api/v1/live/dashboard/ORG-B', token)).status).toBe(403);
    expect((await liveRest(base, '/api/v1/live/events/LE1', t.write_key)).status).toBe(403);
    c.close();
  });

  it('capacity: gates combine, late snapshots are ignored, entries add up; gate staff see only their capacity topics', async () => {
    const gateToken = await mintToken(base, t, { role: 'gate', event_ids: ['CAP1'] });
    const scan = (name: string, payload: Record<string, unknown>, at = Date.now()) => ({
      event_id: crypto.randomUUID(), event_name: name, occurred_at: new Date(at).toISOString(), source_system: 'scanner',
      consent_snapshot: { analytics: false, marketing: false, data_processing: true },
      entities: { event_entity_id: 'CAP1', organizer_id: 'ORG-A', venue_id: 'V1', ticket_id: crypto.randomUUID() }, payload,
    });
    const c = await LiveClient.open(base, gateToken);
    const topic = 'analytics:event:CAP1:capacity';
    expect((await c.subscribe(topic)).data).toMatchObject({ event_id: 'CAP1', inside: 0, gates: {} });
    expect((await c.subscribe('analytics:event:CAP1')).code).toBe('forbidden');
    expect((await c.subscribe('analytics:event:LE1:capacity')).code).toBe('forbidden');
    expect((await c.subscribe('analytics:dashboard:ORG-A')).code).toBe('forbidden');
    const now = Date.now();
    await sendEvents(base, t, [
      scan('capacity_snapshot', { gate_id: 'G1', current_inside: 100, total_entries: 110, total_denied: 2, capacity: 400, venue_capacity: 1000 }, now - 5000),
      scan('capacity_snapshot', { gate_id: 'G2', current_inside: 50, total_entries: 50, total_denied: 0, capacity: 600 }, now - 4000),
      scan('capacity_snapshot', { gate_id: 'G1', current_inside: 1, total_entries: 1, total_denied: 0 }, now - 60_000), // late
      scan('entry_granted', { gate_id: 'G1' }, now - 1000),
      scan('entry_granted', { gate_id: 'G2' }, now - 1000),
      scan('entry_denied', { gate_id: 'G2', reason: 'already_used' }, now - 900),
    ]);
    const d = await c.until(topic, (x) => x.entries === 162);
    expect(d).toMatchObject({ event_id: 'CAP1', venue_id: 'V1', inside: 152, entries: 162, denied: 3, capacity: 1000, percent: 15.2 });
    expect(d.gates.G1).toMatchObject({ inside: 101, entries: 111, denied: 2, capacity: 400 });
    expect(d.rate_per_minute).toBeGreaterThanOrEqual(2);
    const rest = await liveRest(base, '/api/v1/live/events/CAP1/capacity', gateToken);
    expect(rest.json.data.inside).toBe(152);
    expect((await liveRest(base, '/api/v1/live/events/CAP1', gateToken)).status).toBe(403);

    // Gate G3 has two scanners (their sessions' own snapshots) and sees an exit: the gate sums the sessions.
    const at = (s: string) => ({ gate_id: 'G3', scanner_session_id: s });
    await sendEvents(base, t, [
      ...Array.from({ length: 10 }, (_, i) => scan('entry_granted', at('dev-a'), now - 3000 + i)),
      ...Array.from({ length: 3 }, (_, i) => scan('entry_granted', at('dev-b'), now - 3000 + i)),
      scan('capacity_snapshot', { ...at('dev-a'), current_inside: 10, total_entries: 10, total_denied: 0, capacity: 100 }, now - 2000),
      scan('capacity_snapshot', { ...at('dev-b'), current_inside: 3, total_entries: 3, total_denied: 0, capacity: 100 }, now - 1900),
      scan('entry_granted', { ...at('dev-b'), scan_type: 'exit' }, now - 800),
    ]);
    const g3 = (await c.until(topic, (x) => x.gates.G3?.entries === 13 && x.gates.G3?.inside === 12)).gates.G3;
    expect(g3).toMatchObject({ inside: 12, entries: 13, denied: 0, capacity: 100 });
    c.close();
  });

  it("organizer A cannot subscribe to B's topics (fuzzed topic names)", async () => {
    await sendEvents(base, t, [webEvent({ entities: { event_entity_id: 'BE1', organizer_id: 'ORG-B' } })]);
    const tokenA = await mintToken(base, t, { role: 'organizer', org_id: 'ORG-A' });
    const other = await createTenant(base, 'other');
    const otherToken = await mintToken(base, other, { role: 'organizer', org_id: 'ORG-A' });
    const c = await LiveClient.open(base, tokenA);
    for (const topic of ['analytics:event:BE1', 'analytics:event:BE1:capacity', 'analytics:dashboard:ORG-B', 'analytics:event:nope', 'analytics:dashboard:ORG-A ']) {
      expect((await c.subscribe(topic)).code).toBe('forbidden');
    }
    const names = fc.sample(
      fc.oneof(
        fc.string({ maxLength: 30 }).map((s) => `analytics:event:${s}`),
        fc.string({ maxLength: 30 }).map((s) => `analytics:dashboard:${s}`),
        fc.string({ maxLength: 30 }).map((s) => `analytics:event:${s}:capacity`),
        fc.string({ maxLength: 40 }),
      ),
      { numRuns: 150, seed: 42 },
    ).filter((n) => !['analytics:event:LE1', 'analytics:event:LE2', 'analytics:event:LE1:capacity', 'analytics:event:LE2:capacity', 'analytics:event:CAP1', 'analytics:event:CAP1:capacity', 'analytics:dashboard:ORG-A'].includes(n));
    for (const topic of names) {
      const from = c.messages.length;
      c.send({ op: 'subscribe', topic });
      const m = await c.next((x) => x.type !== 'pong', 5000, from);
      expect(m.type).toBe('error');
      expect(['forbidden', 'invalid_topic']).toContain(m.code);
    }
    // Same org id in another tenant sees that tenant's (empty) state, never this one's.
    const o = await LiveClient.open(base, otherToken);
    const dash = await o.subscribe('analytics:dashboard:ORG-A');
    expect(dash.data.events).toEqual([]);
    expect((await o.subscribe('analytics:event:LE1')).code).toBe('forbidden');
    c.close();
    o.close();
  });
});
