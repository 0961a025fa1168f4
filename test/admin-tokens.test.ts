// SPEC "Websocket API": dashboard tokens are minted by the admin API too (POST /api/admin/tenants/{id}/tokens with
// the ADMIN_TOKEN), as POST /api/v1/tokens mints them with a tenant's secret key: same body, same answer, same
// token; audited as the admin token's action in the tenant's log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ADMIN, bootServer, createTenant, getJson, postJson, type Tenant } from './helpers.js';
import { sendEvents } from './live-helpers.js';
import { funnelEvents } from './live-helpers.js';

const admin = { authorization: `Bearer ${ADMIN}` };

describe('POST /api/admin/tenants/{id}/tokens', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  let other: Tenant;
  const mint = (tenant: number, body: unknown, headers: Record<string, string> = admin) => postJson(`${server.url}/api/admin/tenants/${tenant}/tokens`, body, headers);

  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'admin-tokens');
    other = await createTenant(server.url, 'admin-tokens-other');
    await sendEvents(server.url, t, funnelEvents({ event: 'AT1', org: 'O1', visitors: 3, views: 3, selects: 0, carts: 0, checkouts: 0, attempts: 0, failures: 0, orders: 0, qty: 1, price: 1, currency: 'EUR' }));
    await server.sink.idle();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('mints an organizer token that reads its organizer, over REST and /ws, and nothing of another tenant', async () => {
    const r = await mint(t.tenant_id, { role: 'organizer', org_id: 'O1', ttl_s: 600 });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ role: 'organizer', org_id: 'O1', key_id: null, token: expect.any(String), expires_at: expect.any(String) });
    const tok = r.json.token as string;
    const dash = await getJson(`${server.url}/api/v1/live/dashboard/O1`, { authorization: `Bearer ${tok}` });
    expect(dash.status).toBe(200);
    const ev = await getJson(`${server.url}/api/v1/live/events/AT1`, { authorization: `Bearer ${tok}` });
    expect(ev.json.data.funnel.views).toBe(3);
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws?token=${tok}`);
    const snapshot = await new Promise<any>((resolve, reject) => {
      ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', topic: 'analytics:event:AT1' })));
      ws.on('message', (m) => {
        const msg = JSON.parse(String(m));
        if (msg.type === 'snapshot') resolve(msg);
      });
      ws.on('error', reject);
    });
    ws.close();
    expect(snapshot.data.funnel.views).toBe(3);
    // The other tenant's token never reads this tenant's event.
    const o = await mint(other.tenant_id, { role: 'organizer', org_id: 'O1' });
    expect((await getJson(`${server.url}/api/v1/live/events/AT1`, { authorization: `Bearer ${o.json.token}` })).json.data?.funnel?.views ?? 0).toBe(0);
  });

  it('is the operator\'s: a secret key, no token or a wrong one is 401; an unknown tenant 404; a bad body 400 naming the field', async () => {
    expect((await mint(t.tenant_id, { role: 'organizer', org_id: 'O1' }, { authorization: `Bearer ${t.secret_key}` })).status).toBe(401);
    expect((await mint(t.tenant_id, { role: 'organizer', org_id: 'O1' }, {})).status).toBe(401);
    expect((await mint(987654, { role: 'organizer', org_id: 'O1' })).status).toBe(404);
    const bad = await mint(t.tenant_id, { role: 'organizer', org_id: 'O1', ttl_s: 1e9 });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ field: 'ttl_s', in: 'body' });
    expect((await mint(t.tenant_id, { role: 'organizer', org: 'O1' })).json.error).toMatchObject({ field: 'org' });
  });

  it('is in the tenant\'s audit log as the admin token\'s token.minted, never with the token', async () => {
    await mint(t.tenant_id, { role: 'gate', event_ids: ['AT1'], ttl_s: 60 });
    const rows = (await getJson(`${server.url}/api/v1/audit`, { authorization: `Bearer ${t.secret_key}` })).json.audit;
    const row = rows.find((r: any) => r.action === 'token.minted' && r.target === 'role:gate');
    expect(row).toMatchObject({ actor_kind: 'admin_token', actor_id: 'admin_token', tenant_id: t.tenant_id, details: expect.objectContaining({ event_ids: ['AT1'], key_id: null }) });
    expect(JSON.stringify(row)).not.toContain('"token"');
  });
});
