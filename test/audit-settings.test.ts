// Audit gaps (issue 18 item 4): the Stripe webhook secret's PUT and DELETE are recorded (names only, never the
// secret, nor its hint), and the keys POST /api/admin/tenants creates are recorded like every other key creation
// (key.created, actor admin_token), with the tenant's creation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, bootServer, createTenant, getJson, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';

describe('audit: settings and tenant creation', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  const audit = async () => (await getJson(`${base}/api/v1/audit?limit=100`, { authorization: `Bearer ${t.secret_key}` })).json.audit as any[];

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'audit-settings');
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('records the tenant and both of its first keys, by the operator', async () => {
    const keys = (await getJson(`${base}/api/admin/tenants/${t.tenant_id}/keys`, { authorization: `Bearer ${ADMIN}` })).json.keys as any[];
    const rows = await audit();
    const created = rows.filter((r) => r.action === 'key.created');
    expect(created.map((r) => r.target).sort()).toEqual(keys.map((k) => `key:${k.id}`).sort());
    for (const r of created) expect(r).toMatchObject({ tenant_id: t.tenant_id, actor_kind: 'admin_token', actor_id: 'admin_token' });
    expect(created.map((r) => r.details.kind).sort()).toEqual(['secret', 'write']);
    expect(rows.find((r) => r.action === 'tenant.created')).toMatchObject({ actor_kind: 'admin_token', target: `tenant:${t.tenant_id}`, details: { name: 'audit-settings' } });
    // The keys themselves are never in the log.
    expect(JSON.stringify(rows)).not.toContain(t.secret_key);
    expect(JSON.stringify(rows)).not.toContain(t.write_key);
  });

  it('records the Stripe webhook secret set and removed, without the secret', async () => {
    const secret = 'whsec_AuditMe0123456789';
    const put = await api(base, t, 'PUT', '/api/v1/settings/stripe', { webhook_secret: secret });
    expect(put.status, put.text).toBe(200);
    expect((await api(base, t, 'DELETE', '/api/v1/settings/stripe')).status).toBe(200);
    const rows = await audit();
    expect(rows.slice(0, 2).map((r) => [r.action, r.target, r.actor_kind])).toEqual([['settings.stripe_removed', 'settings:stripe', 'key'], ['settings.stripe_set', 'settings:stripe', 'key']]);
    const text = JSON.stringify(rows);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(put.json.stripe.webhook_secret_hint);
  });
});
