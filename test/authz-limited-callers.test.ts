// What a key limited to some organizers may do with the tenant-wide powers an admin lends its role, and what its
// refusals tell it (probe findings): (1) a role granted manage_permissions may not grant itself, or any role,
// more than its own role holds, nor the admin-only permissions; (2) a refusal about an event or a tracking code
// outside its scope does not name the organizer that owns it (the admin key is still told).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postJson, request, type Tenant } from './helpers.js';
import { SUITE_DEFAULTS_ENV } from './campaigns-stores.js';

const META = '123456789012345';

describe('limited callers: role overrides and owner names', { timeout: 120_000 }, () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  const keys: Record<string, string> = {};
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const api = (method: string, p: string, body?: unknown, key = t.secret_key) => request(method, `${base}${p}`, body, as(key));
  const newKey = async (role: string, scope: Record<string, string[]>) => {
    const k = await postJson(`${base}/api/v1/keys`, { role, scope }, as(t.secret_key));
    expect(k.status, k.text).toBe(201);
    return k.json.key as string;
  };
  const roleOf = async (role: string) => ((await api('GET', '/api/v1/roles')).json.roles as { role: string; permissions: string[]; overrides: object }[]).find((r) => r.role === role)!;

  beforeAll(async () => {
    server = await bootServer({ ...SUITE_DEFAULTS_ENV });
    base = server.url;
    t = await createTenant(base, 'limited-callers');
    expect((await api('PUT', '/api/v1/catalog/events', { items: [{ id: 'E1', organizer_id: 'O1' }, { id: 'E2', organizer_id: 'O2' }] })).status).toBe(200);
    keys.org = await newKey('organizer', { organizers: ['O1'] });
    keys.orgWithE2 = await newKey('organizer', { organizers: ['O1'], events: ['E2'] });
    keys.ad = await newKey('ad_account', { organizers: ['O1'] });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  describe('PUT /api/v1/roles/{role} by a role granted manage_permissions', () => {
    beforeAll(async () => {
      expect((await api('PUT', '/api/v1/roles/organizer', { permissions: { manage_permissions: true } })).status).toBe(200);
    });
    afterAll(async () => {
      await api('PUT', '/api/v1/roles/organizer', { permissions: { manage_permissions: null } });
    });

    it('refuses the probe\'s self-grant (403 naming the first permission) and changes nothing', async () => {
      const before = await roleOf('organizer');
      const r = await api('PUT', '/api/v1/roles/organizer', { permissions: { view_all_analytics: true, manage_catalog: true, erase_data: true, view_persons: true, view_audit: true } }, keys.org);
      expect({ status: r.status, error: r.json?.error }).toMatchObject({ status: 403, error: { code: 'forbidden', in: 'body', field: 'permissions.view_all_analytics', permission: 'view_all_analytics', role: 'organizer' } });
      expect(await roleOf('organizer')).toEqual(before);
      // So the key still cannot read O2's event nor rewrite the catalog.
      expect((await api('GET', '/api/v1/live/events/E2', undefined, keys.org)).status).toBe(403);
      expect((await api('PUT', '/api/v1/catalog/events', { items: [{ id: 'E2', organizer_id: 'O1' }] }, keys.org)).status).toBe(403);
    });

    it('refuses a permission the caller\'s role lacks, for any role, and an admin-only one even when held', async () => {
      const lacks = await api('PUT', '/api/v1/roles/venue', { permissions: { create_campaigns: true } }, keys.org);
      expect({ status: lacks.status, error: lacks.json?.error }).toMatchObject({ status: 403, error: { code: 'forbidden', field: 'permissions.create_campaigns', permission: 'create_campaigns' } });
      // Turning off (or resetting) a permission it does not hold is refused as well.
      const off = await api('PUT', '/api/v1/roles/ad_account', { permissions: { manage_ads: false } }, keys.org);
      expect({ status: off.status, field: off.json?.error?.field }).toEqual({ status: 403, field: 'permissions.manage_ads' });
      const reset = await api('PUT', '/api/v1/roles/ad_account', { permissions: { manage_ads: null } }, keys.org);
      expect({ status: reset.status, field: reset.json?.error?.field }).toEqual({ status: 403, field: 'permissions.manage_ads' });
      // manage_permissions is the organizer's now, but only an admin hands it on.
      const pass = await api('PUT', '/api/v1/roles/promoter', { permissions: { manage_permissions: true } }, keys.org);
      expect({ status: pass.status, error: pass.json?.error }).toMatchObject({ status: 403, error: { field: 'permissions.manage_permissions', permission: 'manage_permissions' } });
      // A body mixing an allowed change with a refused one changes nothing.
      const mixed = await api('PUT', '/api/v1/roles/venue', { permissions: { view_revenue: true, erase_data: true } }, keys.org);
      expect(mixed.status).toBe(403);
      expect((await roleOf('venue')).overrides).toEqual({});
      // The admin role stays fixed for it too.
      expect((await api('PUT', '/api/v1/roles/admin', { permissions: { view_audit: false } }, keys.org)).status).toBe(400);
    });

    it('lets it grant, remove and reset permissions its own role holds', async () => {
      const grant = await api('PUT', '/api/v1/roles/venue', { permissions: { view_revenue: true } }, keys.org);
      expect(grant.status, grant.text).toBe(200);
      expect(grant.json.role.permissions).toContain('view_revenue');
      const off = await api('PUT', '/api/v1/roles/venue', { permissions: { view_capacity: false } }, keys.org);
      expect(off.status, off.text).toBe(200);
      expect(off.json.role.permissions).not.toContain('view_capacity');
      const reset = await api('PUT', '/api/v1/roles/venue', { permissions: { view_revenue: null, view_capacity: null } }, keys.org);
      expect(reset.status, reset.text).toBe(200);
      expect(reset.json.role.overrides).toEqual({});
    });

    it('leaves the admin key free to grant anything to any role', async () => {
      const r = await api('PUT', '/api/v1/roles/organizer', { permissions: { view_all_analytics: true, manage_catalog: true, erase_data: true, view_persons: true, view_audit: true } });
      expect(r.status, r.text).toBe(200);
      expect((await api('PUT', '/api/v1/roles/organizer', { permissions: { view_all_analytics: null, manage_catalog: null, erase_data: null, view_persons: null, view_audit: null } })).status).toBe(200);
    });
  });

  describe('refusals about another organizer\'s event or code', () => {
    let o2Code: number;
    beforeAll(async () => {
      const c = await api('POST', '/api/v1/tracking-codes', { provider: 'meta', organizer_id: 'O2', settings: { pixel_id: META } });
      expect(c.status, c.text).toBe(201);
      o2Code = c.json.id;
    });

    it('POST /api/v1/tracking-codes with O2\'s event: a scoped key is told the event is outside its scope, the admin key who owns it', async () => {
      const body = { provider: 'meta', organizer_id: 'O1', event_id: 'E2', settings: { pixel_id: META } };
      const scoped = await api('POST', '/api/v1/tracking-codes', body, keys.org);
      expect({ status: scoped.status, error: scoped.json?.error }).toMatchObject({ status: 403, error: { code: 'forbidden', in: 'body', field: 'event_id', scope: 'event E2', permission: 'manage_tracking_codes' } });
      expect(scoped.text).not.toContain('O2');
      const admin = await api('POST', '/api/v1/tracking-codes', body);
      expect({ status: admin.status, error: admin.json?.error }).toMatchObject({ status: 400, error: { code: 'invalid_field', field: 'event_id', message: 'Event E2 belongs to organizer O2, not O1.' } });
      // A key whose scope lists E2 may be told its organizer.
      const listed = await api('POST', '/api/v1/tracking-codes', body, keys.orgWithE2);
      expect({ status: listed.status, message: listed.json?.error?.message }).toEqual({ status: 400, message: 'Event E2 belongs to organizer O2, not O1.' });
    });

    it('POST /api/v1/campaigns/budgets with O2\'s event: the same for an ad_account key limited to O1', async () => {
      const body = { organizer_id: 'O1', event_id: 'E2', total_budget: 500, allocation_strategy: 'equal_split' };
      const scoped = await api('POST', '/api/v1/campaigns/budgets', body, keys.ad);
      expect({ status: scoped.status, error: scoped.json?.error }).toMatchObject({ status: 403, error: { code: 'forbidden', field: 'event_id', scope: 'event E2', permission: 'create_campaigns' } });
      expect(scoped.text).not.toContain('O2');
      const admin = await api('POST', '/api/v1/campaigns/budgets', body);
      expect({ status: admin.status, message: admin.json?.error?.message }).toEqual({ status: 400, message: 'Event E2 belongs to organizer O2, not O1.' });
    });

    it('GET, PUT and DELETE of O2\'s code by the O1 key name the code, not its organizer; the admin key reads it', async () => {
      for (const [method, body] of [['GET', undefined], ['PUT', { enabled: false }], ['DELETE', undefined]] as const) {
        const r = await api(method, `/api/v1/tracking-codes/${o2Code}`, body, keys.org);
        expect({ method, status: r.status, error: r.json?.error }).toMatchObject({ method, status: 403, error: { code: 'forbidden', scope: `tracking code ${o2Code}` } });
        expect(r.text).not.toContain('O2');
      }
      const admin = await api('GET', `/api/v1/tracking-codes/${o2Code}`);
      expect({ status: admin.status, organizer: admin.json.organizer_id }).toEqual({ status: 200, organizer: 'O2' });
    });
  });
});
