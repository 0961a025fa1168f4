import { describe, expect, it } from 'vitest';
import { originRefusal } from './route-auth.js';

const tenant = { tenant_id: 7, name: 't', allowed_origins: ['https://a.example'], idempotency_salt: 'f'.repeat(64) };

describe('originRefusal', () => {
  it('names the list that refused the origin and how to change that list', () => {
    expect(originRefusal({ key_id: 5, site_id: 'box', origins_from: 'key', tenant }, 'https://x.example')).toContain("not in this write key's own allowed_origins (key 5)");
    const site = originRefusal({ key_id: 5, site_id: 'box', origins_from: 'site', tenant }, 'https://x.example');
    expect(site).toContain('site "box"');
    expect(site).toContain('PATCH /api/admin/tenants/7 {"site_id":"box"');
    expect(originRefusal({ key_id: 5, site_id: null, origins_from: 'tenant', tenant }, 'https://x.example')).toContain("not in this tenant's allowed origins; add it with PATCH /api/admin/tenants/7");
  });

  it('says when the request carried no Origin at all instead of printing undefined', () => {
    const m = originRefusal({ key_id: 5, site_id: null, origins_from: 'tenant', tenant }, undefined);
    expect(m).toMatch(/^A request without an Origin header/);
    expect(m).not.toContain('undefined');
  });
});
