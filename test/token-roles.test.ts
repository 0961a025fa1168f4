// Dashboard tokens of the venue_manager, promoter, ad_account and media roles (issue 18 items 1-3): per role, the
// topics and token routes it may use work, an out-of-scope resource and a missing permission are refused (403
// naming the permission over REST, the subscription's `forbidden` error over /ws and Socket.IO), a token from a
// scoped key never exceeds that key, and revoking the minting key ends the token.
import crypto from 'node:crypto';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postJson, request, until, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';
import { funnelEvents, LiveClient, liveRest, mintToken, sendEvents } from './live-helpers.js';
import { clearOfMidnight } from './midnight.js';

/** The setup hook's budget, and the whole run: the hook, then six tests of 60 s at most and one of 40 s. */
const HOOK_MS = 120_000;
const RUN_MS = HOOK_MS + 6 * 60_000 + 40_000;
/** The events sent are up to a minute old (funnelEvents). */
const BACK_MS = 90_000;

describe('dashboard tokens of every role', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  const clients: LiveClient[] = [];
  const sockets: Socket[] = [];
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const open = async (token: string) => {
    const c = await LiveClient.open(base, token);
    clients.push(c);
    return c;
  };
  const get = (path: string, token: string) => request('GET', `${base}${path}`, undefined, as(token));
  /** The 403 of a REST call as [status, permission, whether it names a scope]. */
  const refusal = async (path: string, token: string) => {
    const r = await get(path, token);
    return [r.status, r.json?.error?.permission ?? null, r.json?.error?.scope !== undefined];
  };
  const scan = (event: string, inside: number, capacity: number) => ({
    event_id: crypto.randomUUID(), event_name: 'capacity_snapshot', occurred_at: new Date(Date.now() - 1000).toISOString(), source_system: 'scanner',
    consent_snapshot: { analytics: false, marketing: false, data_processing: true },
    entities: { event_entity_id: event, ticket_id: crypto.randomUUID() },
    payload: { gate_id: 'G1', current_inside: inside, total_entries: inside, total_denied: 0, capacity },
  });
  const budget = (organizer: string) => api(base, t, 'POST', '/api/v1/campaigns/budgets', {
    organizer_id: organizer, total_budget: 500, daily_budget_limit: 50, allocation_strategy: 'manual',
    platform_allocations: { meta: { percentage: 100 } }, ends_at: new Date(Date.now() + 7 * 86_400_000).toISOString(), payment_reference: `TRF-${organizer}`,
  });
  let budgets: Record<string, number>;

  beforeAll(async () => {
    // Live numbers are per UTC day: the events and every read of them must fall on one day.
    await clearOfMidnight(BACK_MS, RUN_MS);
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'token-roles');
    expect((await api(base, t, 'PUT', '/api/v1/catalog/venues', { items: [{ id: 'V1', name: 'Arena' }, { id: 'V2', name: 'Club' }] })).status).toBe(200);
    // E1: O1 at V1; E2: O2 at V2; E3: O2 at V1 (another organizer's event at the venue manager's venue).
    expect((await api(base, t, 'PUT', '/api/v1/catalog/events', {
      items: [
        { id: 'E1', organizer_id: 'O1', venue_id: 'V1', title: 'One' },
        { id: 'E2', organizer_id: 'O2', venue_id: 'V2', title: 'Two' },
        { id: 'E3', organizer_id: 'O2', venue_id: 'V1', title: 'Three' },
      ],
    })).status).toBe(200);
    await sendEvents(base, t, [scan('E1', 10, 100), scan('E3', 5, 50), scan('E2', 7, 70)]);
    await sendEvents(base, t, funnelEvents({ event: 'E1', org: 'O1', visitors: 2, views: 2, selects: 2, carts: 2, checkouts: 2, attempts: 2, failures: 0, orders: 2, qty: 1, price: 50, currency: 'EUR' }));
    await sendEvents(base, t, funnelEvents({ event: 'E2', org: 'O2', visitors: 1, views: 1, selects: 1, carts: 1, checkouts: 1, attempts: 1, failures: 0, orders: 1, qty: 1, price: 70, currency: 'EUR' }));
    const b1 = await budget('O1');
    const b2 = await budget('O2');
    expect([b1.status, b2.status], b1.text + b2.text).toEqual([201, 201]);
    budgets = { O1: b1.json.id, O2: b2.json.id };
  }, BACK_MS + RUN_MS + HOOK_MS); // the longest wait for midnight, then the hook's own budget
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const s of sockets) s.close();
    await server?.close();
  });

  it('answers POST /api/v1/tokens with each role\'s scope fields; bad fields and unknown roles are 400 naming the field', async () => {
    const cases: [Record<string, unknown>, Record<string, unknown>][] = [
      [{ role: 'venue_manager', venue_ids: ['V1', 'V1'] }, { role: 'venue_manager', venue_ids: ['V1'] }],
      [{ role: 'promoter', event_ids: ['E1'], org_ids: ['O2'] }, { role: 'promoter', event_ids: ['E1'], org_ids: ['O2'] }],
      [{ role: 'ad_account', org_ids: ['O1'] }, { role: 'ad_account', org_ids: ['O1'] }],
      [{ role: 'media' }, { role: 'media' }],
    ];
    for (const [body, shown] of cases) {
      const r = await postJson(`${base}/api/v1/tokens`, body, as(t.secret_key));
      expect({ status: r.status, ...r.json, token: typeof r.json.token }).toMatchObject({ status: 201, ...shown, token: 'string', key_id: expect.any(Number) });
    }
    for (const [body, field] of [
      [{ role: 'venue_manager' }, 'venue_ids'], [{ role: 'promoter' }, 'event_ids'], [{ role: 'promoter', org_ids: 'O1' }, 'org_ids'],
      [{ role: 'ad_account', org_ids: [] }, 'org_ids'], [{ role: 'media', ttl_s: -1 }, 'ttl_s'], [{ role: 'label' }, 'role'],
    ] as const) {
      const r = await postJson(`${base}/api/v1/tokens`, body, as(t.secret_key));
      expect({ body, status: r.status, code: r.json?.error?.code, field: r.json?.error?.field, in: r.json?.error?.in }).toEqual({ body, status: 400, code: 'invalid_field', field, in: 'body' });
    }
    const unknown = await postJson(`${base}/api/v1/tokens`, { role: 'label' }, as(t.secret_key));
    for (const role of ['organizer', 'gate', 'venue', 'venue_manager', 'artist', 'promoter', 'ad_account', 'media', 'admin']) expect(unknown.json.error.message).toContain(`"${role}"`);
  });

  it('a venue_manager token reads its venues\' capacity and their events\' funnels with revenue, nothing of another venue', async () => {
    const token = await mintToken(base, t, { role: 'venue_manager', venue_ids: ['V1'] });
    const c = await open(token);
    expect((await c.subscribe('analytics:venue:V1:capacity')).type).toBe('snapshot');
    const venue = await c.until('analytics:venue:V1:capacity', (d) => d.inside === 15);
    expect(venue.events.map((e: { event_id: string }) => e.event_id)).toEqual(['E1', 'E3']);
    const e1 = await c.subscribe('analytics:event:E1');
    expect(e1.type).toBe('snapshot');
    expect((await c.until('analytics:event:E1', (d) => d.funnel?.orders === 2)).revenue).toEqual({ EUR: 100 });
    // E3 is another organizer's event at V1: at its venue, so in scope.
    expect((await c.subscribe('analytics:event:E3:capacity')).data).toMatchObject({ event_id: 'E3', inside: 5 });
    for (const [topic, permission] of [['analytics:event:E2', 'view_event_analytics'], ['analytics:venue:V2:capacity', 'view_venue_analytics'], ['analytics:dashboard:O1', 'view_event_analytics']]) {
      const m = (await c.subscribe(topic)) as { type: string; code?: string; permission?: string };
      expect({ topic, type: m.type, code: m.code, permission: m.permission }).toEqual({ topic, type: 'error', code: 'forbidden', permission });
    }
    expect((await get('/api/v1/live/events/E1', token)).json.data.revenue).toEqual({ EUR: 100 });
    expect((await get('/api/v1/analytics/venues/V1', token)).status).toBe(200);
    expect(await refusal('/api/v1/analytics/venues/V2', token)).toEqual([403, 'view_venue_analytics', true]);
    expect(await refusal('/api/v1/live/events/E2/capacity', token)).toEqual([403, 'view_capacity', true]);
    expect(await refusal('/api/v1/analytics/artists/A1', token)).toEqual([403, 'view_artist_analytics', false]);
    expect(await refusal('/api/v1/campaigns/budgets', token)).toEqual([403, 'view_ad_analytics', false]);
  });

  it('a promoter token reads its events (with revenue) and its organizers\' roll-up, not another event or a venue aggregate', async () => {
    const byEvent = await mintToken(base, t, { role: 'promoter', event_ids: ['E1'] });
    const c = await open(byEvent);
    expect((await c.subscribe('analytics:event:E1')).type).toBe('snapshot');
    expect((await c.until('analytics:event:E1', (d) => d.funnel?.orders === 2)).revenue).toEqual({ EUR: 100 });
    expect((await c.subscribe('analytics:event:E1:capacity')).data).toMatchObject({ inside: 10 });
    for (const [topic, permission] of [['analytics:event:E2', 'view_event_analytics'], ['analytics:dashboard:O1', 'view_event_analytics'], ['analytics:venue:V1:capacity', 'view_venue_analytics']]) {
      expect({ topic, ...(await c.subscribe(topic)) }).toMatchObject({ topic, type: 'error', code: 'forbidden', permission });
    }
    expect(await refusal('/api/v1/live/dashboard/O1', byEvent)).toEqual([403, 'view_event_analytics', true]);
    expect(await refusal('/api/v1/live/events/E2/history?minutes=5', byEvent)).toEqual([403, 'view_event_analytics', true]);
    expect((await get('/api/v1/live/events/E1/history?minutes=5', byEvent)).json.series.some((p: object) => 'revenue' in p)).toBe(true);
    // By organizer: that organizer's events and its roll-up, over Socket.IO too.
    const byOrg = await mintToken(base, t, { role: 'promoter', org_ids: ['O2'] });
    const s = connect(base, { auth: { token: byOrg }, transports: ['websocket'] });
    sockets.push(s);
    const roll = await s.emitWithAck('subscribe', 'analytics:dashboard:O2');
    expect(roll).toMatchObject({ type: 'snapshot', topic: 'analytics:dashboard:O2' });
    expect(roll.data.events.map((e: { event_id: string }) => e.event_id).sort()).toEqual(['E2', 'E3']);
    expect(await s.emitWithAck('subscribe', 'analytics:event:E1')).toMatchObject({ type: 'error', code: 'forbidden', permission: 'view_event_analytics' });
    expect((await get('/api/v1/live/dashboard/O2', byOrg)).status).toBe(200);
    // The dashboard's History page of that organizer (the feature store's roll-up, with revenue).
    expect((await get('/api/v1/analytics/organizers/O2', byOrg)).status).toBe(200);
    expect(await refusal('/api/v1/analytics/organizers/O1', byOrg)).toEqual([403, 'view_event_analytics', true]);
    expect(await refusal('/api/v1/campaigns/report?organizer_id=O2', byOrg)).toEqual([403, 'view_ad_analytics', false]);
  });

  it('an ad_account token reads its organizers\' campaigns and nothing of the live funnels', async () => {
    const token = await mintToken(base, t, { role: 'ad_account', org_ids: ['O1'] });
    const list = await get('/api/v1/campaigns/budgets', token);
    expect(list.status).toBe(200);
    expect(list.json.budgets.map((b: { organizer_id: string }) => b.organizer_id)).toEqual(['O1']);
    expect((await get(`/api/v1/campaigns/budgets/${budgets.O1}`, token)).json.budget).toMatchObject({ id: budgets.O1, organizer_id: 'O1' });
    expect((await get('/api/v1/campaigns/report?organizer_id=O1', token)).status).toBe(200);
    expect(await refusal(`/api/v1/campaigns/budgets/${budgets.O2}`, token)).toEqual([403, 'view_ad_analytics', true]);
    expect(await refusal('/api/v1/campaigns/report?organizer_id=O2', token)).toEqual([403, 'view_ad_analytics', true]);
    expect(await refusal('/api/v1/campaigns/review-queue', token)).toEqual([403, 'approve_campaigns', false]);
    expect(await refusal('/api/v1/live/events/E1', token)).toEqual([403, 'view_event_analytics', false]);
    expect(await refusal('/api/v1/live/events/E1/capacity', token)).toEqual([403, 'view_capacity', false]);
    const c = await open(token);
    for (const [topic, permission] of [['analytics:event:E1', 'view_event_analytics'], ['analytics:event:E1:capacity', 'view_capacity'], ['analytics:dashboard:O1', 'view_event_analytics'], ['analytics:venue:V1:capacity', 'view_venue_analytics']]) {
      expect({ topic, ...(await c.subscribe(topic)) }).toMatchObject({ topic, type: 'error', code: 'forbidden', permission });
    }
  });

  it('a media token gets no live funnel, capacity, campaign or entity figures, only an event\'s public daily interest figures', async () => {
    const token = await mintToken(base, t, { role: 'media' });
    const c = await open(token);
    for (const [topic, permission] of [['analytics:event:E1', 'view_event_analytics'], ['analytics:event:E1:capacity', 'view_capacity'], ['analytics:venue:V1:capacity', 'view_venue_analytics']]) {
      expect({ topic, ...(await c.subscribe(topic)) }).toMatchObject({ topic, type: 'error', code: 'forbidden', permission });
    }
    expect(c.messages.some((m) => m.type === 'snapshot' || m.type === 'update')).toBe(false);
    for (const [path, permission] of [['/api/v1/live/events/E1', 'view_event_analytics'], ['/api/v1/live/dashboard/O1', 'view_event_analytics'], ['/api/v1/analytics/venues/V1', 'view_venue_analytics'], ['/api/v1/campaigns/budgets', 'view_ad_analytics'], ['/api/v1/tracking-codes', 'manage_tracking_codes']]) {
      expect({ path, r: await refusal(path, token) }).toEqual({ path, r: [403, permission, false] });
    }
    // A token is never a secret key: the key-only routes refuse it.
    expect((await get('/api/v1/keys', token)).status).toBe(401);
    // What it does get: an event's daily interest figures, never its sales or money.
    const pub = await get('/api/v1/analytics/public/events/E1', token);
    expect(pub.status, pub.text).toBe(200);
    expect(pub.json).toMatchObject({ event_id: 'E1', bucket: 'day' });
    const days = pub.json.series as Record<string, unknown>[];
    expect(days.reduce((n, d) => n + (d.page_views as number), 0)).toBe(2);
    for (const d of days) expect(Object.keys(d).sort()).toEqual(['clicks', 'impressions', 'interested', 'page_views', 'ticket_link_clicks', 'ts', 'unique_viewers']);
    expect(pub.text).not.toMatch(/orders|revenue|tickets_sold|add_to_carts/);
    expect((await get('/api/v1/analytics/public/events/E1?bucket=hour', token)).status).toBe(400);
  });

  it('a token from a scoped key never exceeds the key: another id is 403 naming it, a wider role 403 naming the role', async () => {
    for (const role of ['venue_manager', 'ad_account', 'venue']) {
      expect((await api(base, t, 'PUT', `/api/v1/roles/${role}`, { permissions: { mint_tokens: true } })).status).toBe(200);
    }
    const key = async (role: string, scope: Record<string, string[]>) => (await postJson(`${base}/api/v1/keys`, { role, scope }, as(t.secret_key))).json.key as string;
    const vm = await key('venue_manager', { venues: ['V1'] });
    const ad = await key('ad_account', { organizers: ['O1'] });
    const venue = await key('venue', { venues: ['V1'] });
    expect((await postJson(`${base}/api/v1/tokens`, { role: 'venue_manager', venue_ids: ['V1'] }, as(vm))).status).toBe(201);
    // A venue manager's key may give its staff a venue token (fewer permissions, same venue).
    expect((await postJson(`${base}/api/v1/tokens`, { role: 'venue', venue_ids: ['V1'] }, as(vm))).status).toBe(201);
    expect((await postJson(`${base}/api/v1/tokens`, { role: 'ad_account', org_ids: ['O1'] }, as(ad))).status).toBe(201);
    for (const [k, body, field, id] of [
      [vm, { role: 'venue_manager', venue_ids: ['V1', 'V2'] }, 'venue_ids', 'V2'],
      [ad, { role: 'ad_account', org_ids: ['O2'] }, 'org_ids', 'O2'],
      [vm, { role: 'promoter', event_ids: ['E2'] }, 'event_ids', 'E2'],
      [vm, { role: 'media' }, 'role', 'media'],
      [venue, { role: 'venue_manager', venue_ids: ['V1'] }, 'role', 'venue_manager'],
      [ad, { role: 'promoter', org_ids: ['O1'] }, 'role', 'promoter'],
    ] as const) {
      const r = await postJson(`${base}/api/v1/tokens`, body, as(k));
      expect({ body, status: r.status, code: r.json?.error?.code, field: r.json?.error?.field, id: r.json?.error?.id, named: r.json?.error?.message.includes(id) })
        .toEqual({ body, status: 403, code: 'forbidden', field, id, named: true });
    }
    for (const role of ['venue_manager', 'ad_account', 'venue']) {
      expect((await api(base, t, 'PUT', `/api/v1/roles/${role}`, { permissions: { mint_tokens: null } })).status).toBe(200);
    }
  });

  it('revoking the key that minted a token of each new role ends the token over REST and /ws', async () => {
    const created = (await postJson(`${base}/api/v1/keys`, { role: 'admin', name: 'marketplace pages' }, as(t.secret_key))).json;
    const mint = async (body: Record<string, unknown>) => (await postJson(`${base}/api/v1/tokens`, body, as(created.key))).json.token as string;
    const vm = await mint({ role: 'venue_manager', venue_ids: ['V1'] });
    const pr = await mint({ role: 'promoter', event_ids: ['E1'] });
    const ad = await mint({ role: 'ad_account', org_ids: ['O1'] });
    const media = await mint({ role: 'media' });
    const c = await open(vm);
    expect((await c.subscribe('analytics:venue:V1:capacity')).type).toBe('snapshot');
    expect((await liveRest(base, '/api/v1/live/events/E1', pr)).status).toBe(200);
    expect((await get('/api/v1/campaigns/budgets', ad)).status).toBe(200);
    expect((await request('DELETE', `${base}/api/v1/keys/${created.id}`, undefined, as(t.secret_key))).status).toBe(200);
    await until(async () => c.closed, 20_000);
    expect((await liveRest(base, '/api/v1/live/events/E1', pr)).status).toBe(401);
    expect((await get('/api/v1/campaigns/budgets', ad)).status).toBe(401);
    expect((await get('/api/v1/analytics/venues/V1', vm)).status).toBe(401);
    for (const token of [vm, pr, ad, media]) await expect(LiveClient.open(base, token)).rejects.toMatchObject({ status: 401 });
  }, 40_000);
});
