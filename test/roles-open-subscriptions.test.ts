// A change of the tenant's role overrides reaches the subscriptions already open (README "Live topics"): a
// topic the role lost ends with `forbidden` naming the permission, an event topic whose role lost view_revenue
// goes on without the money. On the node that changed the overrides at once; on another node sharing the
// database within its overrides cache (5 s) and a sweep (two servers on one PostgreSQL database, no Redis).
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';
import { funnelEvents, LiveClient, liveRest, mintToken, sendEvents, type LiveMessage } from './live-helpers.js';
import { liveServer } from './live-server-helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const EVENT = 'analytics:event:E1';
const DASH = 'analytics:dashboard:O1';

const order = (amount: number) => ({
  event_id: crypto.randomUUID(), event_name: 'order_completed', occurred_at: new Date(Date.now() - 1000).toISOString(), source_system: 'backend',
  consent_snapshot: { analytics: false, marketing: false, data_processing: true },
  entities: { event_entity_id: 'E1', organizer_id: 'O1', order_id: `o-${crypto.randomUUID()}` },
  payload: { gross_amount: amount, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1, price: amount }] },
});

async function seed(base: string, t: Tenant) {
  expect((await api(base, t, 'PUT', '/api/v1/catalog/events', { items: [{ id: 'E1', organizer_id: 'O1', title: 'One' }] })).status).toBe(200);
  await sendEvents(base, t, funnelEvents({ event: 'E1', org: 'O1', visitors: 2, views: 2, selects: 2, carts: 2, checkouts: 2, attempts: 2, failures: 0, orders: 2, qty: 1, price: 50, currency: 'EUR' }));
}

const after = (c: LiveClient, from: number, topic: string): LiveMessage[] => c.messages.slice(from).filter((m) => m.topic === topic);

describe('role overrides changed while subscriptions are open (one node)', () => {
  const live = liveServer('roles-open', seed);
  const open = live.open;

  it('revoking view_event_analytics ends the open event and dashboard subscriptions with forbidden, and nothing of them follows', async () => {
    const token = await mintToken(live.base, live.t, { role: 'organizer', org_id: 'O1' });
    const c = await open(token);
    const watcher = await open(await mintToken(live.base, live.t, { role: 'admin' }));
    expect((await c.subscribe(EVENT)).data.revenue).toEqual({ EUR: 100 });
    expect((await c.subscribe(DASH)).type).toBe('snapshot');
    expect((await watcher.subscribe(EVENT)).type).toBe('snapshot');
    const from = c.messages.length;
    try {
      expect((await api(live.base, live.t, 'PUT', '/api/v1/roles/organizer', { permissions: { view_event_analytics: false } })).status).toBe(200);
      for (const topic of [EVENT, DASH]) {
        const m = (await c.next((x) => x.topic === topic && x.type === 'error', 10_000, from)) as LiveMessage & { permission?: string };
        expect([m.code, m.permission]).toEqual(['forbidden', 'view_event_analytics']);
      }
      expect((await liveRest(live.base, '/api/v1/live/events/E1', token)).status).toBe(403);
      // A new order reaches the admin's subscription; the organizer's ended ones get nothing of it.
      await sendEvents(live.base, live.t, [order(30)]);
      await watcher.until(EVENT, (d) => d.revenue?.EUR === 130);
      expect(after(c, from, EVENT).map((m) => m.type)).toEqual(['error']);
      expect(after(c, from, DASH).map((m) => m.type)).toEqual(['error']);
    } finally {
      expect((await api(live.base, live.t, 'PUT', '/api/v1/roles/organizer', { permissions: { view_event_analytics: null } })).status).toBe(200);
    }
  });

  it('revoking view_revenue only: the open event subscription goes on without revenue, the dashboard ends with forbidden view_revenue', async () => {
    const c = await open(await mintToken(live.base, live.t, { role: 'organizer', org_id: 'O1' }));
    const watcher = await open(await mintToken(live.base, live.t, { role: 'admin' }));
    expect((await c.subscribe(EVENT)).data.revenue).toBeDefined();
    expect((await c.subscribe(DASH)).type).toBe('snapshot');
    expect((await watcher.subscribe(EVENT)).type).toBe('snapshot');
    const before = watcher.latest(EVENT).funnel.orders as number;
    const from = c.messages.length;
    try {
      expect((await api(live.base, live.t, 'PUT', '/api/v1/roles/organizer', { permissions: { view_revenue: false } })).status).toBe(200);
      const dash = (await c.next((x) => x.topic === DASH && x.type === 'error', 10_000, from)) as LiveMessage & { permission?: string };
      expect([dash.code, dash.permission]).toEqual(['forbidden', 'view_revenue']);
      // The event topic is given again, as its revenue-free variant: a fresh snapshot without the money.
      const snap = await c.next((x) => x.topic === EVENT && x.type === 'snapshot', 10_000, from);
      expect(snap.data).not.toHaveProperty('revenue');
      await sendEvents(live.base, live.t, [order(40)]);
      await watcher.until(EVENT, (d) => d.funnel?.orders === before + 1);
      await c.until(EVENT, (d) => d.funnel?.orders === before + 1);
      const got = after(c, from, EVENT);
      expect(got.some((m) => m.type === 'update')).toBe(true);
      for (const m of got) {
        expect(m.data).not.toHaveProperty('revenue');
        expect(JSON.stringify(m)).not.toContain('EUR');
      }
      expect(after(c, from, DASH).map((m) => m.type)).toEqual(['error']);
    } finally {
      expect((await api(live.base, live.t, 'PUT', '/api/v1/roles/organizer', { permissions: { view_revenue: null } })).status).toBe(200);
    }
    // Granted back, a new subscribe reads the money again.
    const again = await open(await mintToken(live.base, live.t, { role: 'organizer', org_id: 'O1' }));
    expect((await again.subscribe(EVENT)).data.revenue).toBeDefined();
  });
});

describe('role overrides changed on another node sharing the database', () => {
  let scratch: ScratchDatabase | undefined;
  let a: Awaited<ReturnType<typeof bootServer>> | undefined;
  let b: Awaited<ReturnType<typeof bootServer>> | undefined;
  let t: Tenant;
  const clients: LiveClient[] = [];

  beforeAll(async () => {
    scratch = await scratchDatabase('roles_open_nodes');
    const env = { DATABASE_URL: scratch.url, LIVE_TOKEN_SECRET: crypto.randomBytes(32).toString('hex') };
    a = await bootServer(env);
    b = await bootServer(env);
    t = await createTenant(a.url, 'roles-open-nodes');
    await seed(b!.url, t);
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await a?.close();
    await b?.close();
    await scratch?.drop();
  }, 60_000);

  it('the other node ends the subscriptions the role lost, and takes the money from the event topic', async () => {
    const onB = await LiveClient.open(b!.url, await mintToken(a!.url, t, { role: 'organizer', org_id: 'O1' }));
    clients.push(onB);
    expect((await onB.subscribe(EVENT)).data.revenue).toEqual({ EUR: 100 });
    expect((await onB.subscribe(DASH)).type).toBe('snapshot');
    expect((await onB.subscribe('analytics:event:E1:capacity')).type).toBe('snapshot');
    const from = onB.messages.length;
    expect((await api(a!.url, t, 'PUT', '/api/v1/roles/organizer', { permissions: { view_revenue: false, view_capacity: false } })).status).toBe(200);
    // Node b learns of it through its overrides cache and its transport's sweep (no message between the nodes).
    const cap = (await onB.next((x) => x.topic === 'analytics:event:E1:capacity' && x.type === 'error', 30_000, from)) as LiveMessage & { permission?: string };
    expect([cap.code, cap.permission]).toEqual(['forbidden', 'view_capacity']);
    const dash = (await onB.next((x) => x.topic === DASH && x.type === 'error', 30_000, from)) as LiveMessage & { permission?: string };
    expect([dash.code, dash.permission]).toEqual(['forbidden', 'view_revenue']);
    const snap = await onB.next((x) => x.topic === EVENT && x.type === 'snapshot', 30_000, from);
    expect(snap.data).not.toHaveProperty('revenue');
    await sendEvents(b!.url, t, [order(25)]);
    await onB.until(EVENT, (d) => d.funnel?.orders === 3);
    for (const m of onB.messages.slice(onB.messages.indexOf(snap))) expect(JSON.stringify(m)).not.toContain('EUR');
  }, 60_000);
});
