// The pure parts of roles and permissions (issue 18): defaults with overrides, scope membership, the scope
// parser that every stored or submitted scope goes through, and a token's principal.
import { describe, expect, it } from 'vitest';
import { tokenPrincipal } from '../http/router.js';
import { actsForAllOrganizers, can, inScope, keyPrincipal, parseScope, readsWholeTenant, MAX_SCOPE_IDS } from './principal.js';
import { eventOwnerMismatch, mayKnowOwner } from '../http/route-access.js';
import { ADMIN_GRANTED, DEFAULT_ROLE_PERMISSIONS, PERMISSIONS, permissionsFor, ROLES } from './roles.js';
import { overrideRefusal, parseRoleChanges, roleParam } from './routes.js';

describe('roles and permissions', () => {
  it('gives admin every permission and keeps it whatever the overrides say', () => {
    expect([...permissionsFor('admin')].sort()).toEqual([...PERMISSIONS].sort());
    expect(can({ role: 'admin' }, 'erase_data', { admin: { erase_data: false } })).toBe(true);
  });

  it('keeps revenue from artists and media, and ad accounts to audiences and campaigns (with their revenue and ROAS)', () => {
    for (const role of ['artist', 'media'] as const) expect(can({ role }, 'view_revenue')).toBe(false);
    expect(DEFAULT_ROLE_PERMISSIONS.media).toEqual(['view_public_aggregates']);
    expect([...permissionsFor('ad_account')].sort()).toEqual(['create_campaigns', 'manage_ads', 'target_users', 'view_ad_analytics', 'view_revenue']);
    for (const role of ROLES.filter((r) => r !== 'admin')) {
      for (const p of ['manage_keys', 'manage_permissions', 'erase_data', 'export_data', 'view_persons'] as const) expect({ role, p, ok: can({ role }, p) }).toEqual({ role, p, ok: false });
    }
  });

  it('applies a tenant\'s overrides: true grants, false removes, unknown names are ignored', () => {
    expect(can({ role: 'artist' }, 'view_revenue', { artist: { view_revenue: true } })).toBe(true);
    expect(can({ role: 'venue' }, 'view_capacity', { venue: { view_capacity: false } })).toBe(false);
    expect(can({ role: 'venue' }, 'view_capacity', { artist: { view_capacity: false } })).toBe(true);
    expect([...permissionsFor('media', { media: { nonsense: true } as never })]).toEqual(['view_public_aggregates']);
  });

  it('lets view_all_analytics widen the analytics reads to the whole tenant, and nothing else', () => {
    const all = { venue: { view_all_analytics: true } };
    for (const p of ['view_event_analytics', 'view_venue_analytics', 'view_artist_analytics', 'view_capacity'] as const) {
      expect(readsWholeTenant({ role: 'venue' }, p, all)).toBe(true);
      expect(readsWholeTenant({ role: 'venue' }, p)).toBe(false);
    }
    for (const p of ['view_revenue', 'target_users', 'manage_tracking_codes', 'view_ad_analytics'] as const) expect(readsWholeTenant({ role: 'venue' }, p, all)).toBe(false);
    expect(readsWholeTenant({ role: 'admin' }, 'view_event_analytics')).toBe(true);
  });
});

describe('scope', () => {
  const e1 = { id: 'E1', organizer_id: 'O1', venue_id: 'V1', artist_ids: ['A1', 'A3'] };
  it('puts an event in scope through itself, its organizer, its venue or one of its artists', () => {
    for (const scope of [{ events: ['E1'] }, { organizers: ['O1'] }, { venues: ['V1'] }, { artists: ['A3'] }]) {
      expect(inScope({ role: 'venue', scope }, { event: e1 })).toBe(true);
    }
    expect(inScope({ role: 'venue', scope: { venues: ['V2'], organizers: ['O2'] } }, { event: e1 })).toBe(false);
    // An event whose owner is unknown is in scope only when listed itself.
    expect(inScope({ role: 'organizer', scope: { organizers: ['O1'] } }, { event: { id: 'E9' } })).toBe(false);
  });

  it('never puts the tenant as a whole in a non-admin scope; admin ignores scope', () => {
    expect(inScope({ role: 'organizer', scope: { organizers: ['O1'] } }, {})).toBe(false);
    expect(inScope({ role: 'admin', scope: {} }, {})).toBe(true);
    expect(inScope({ role: 'admin', scope: { organizers: ['O1'] } }, { organizer: 'O2' })).toBe(true);
    expect(inScope({ role: 'organizer', scope: { organizers: ['O1'] } }, { organizer: 'O1', venue: 'V1' })).toBe(false);
  });

  it('lets an ad_account key without ids act for every organizer (the tenant\'s own ad team); a scoped one and other roles only for theirs', () => {
    expect(actsForAllOrganizers({ role: 'admin', scope: { organizers: ['O1'] } })).toBe(true);
    expect(actsForAllOrganizers({ role: 'ad_account', scope: {} })).toBe(true);
    expect(actsForAllOrganizers({ role: 'ad_account', scope: { organizers: [] } })).toBe(true);
    expect(actsForAllOrganizers({ role: 'ad_account', scope: { organizers: ['O1'] } })).toBe(false);
    expect(actsForAllOrganizers({ role: 'ad_account', scope: { venues: ['V1'] } })).toBe(false);
    for (const role of ['organizer', 'promoter', 'venue', 'media'] as const) expect(actsForAllOrganizers({ role, scope: {} })).toBe(false);
  });

  it('parses scopes strictly: unknown kinds, non-lists, NUL, control characters, lone surrogates and too many ids are refused by field', () => {
    expect(parseScope({ organizers: ['O1', 'O1'], events: [] })).toEqual({ ok: true, value: { organizers: ['O1'], events: [] } });
    expect(parseScope(null)).toEqual({ ok: true, value: {} });
    const bad: [unknown, string][] = [
      [[], 'scope'], ['x', 'scope'], [{ tenants: ['1'] }, 'scope.tenants'], [{ venues: 'V1' }, 'scope.venues'],
      [{ venues: ['a\u0000b'] }, 'scope.venues'], [{ venues: ['\n'] }, 'scope.venues'], [{ venues: ['\ud800'] }, 'scope.venues'],
      [{ venues: [''] }, 'scope.venues'], [{ venues: ['x'.repeat(129)] }, 'scope.venues'], [{ venues: [1] }, 'scope.venues'],
      [{ events: Array.from({ length: MAX_SCOPE_IDS + 1 }, (_, i) => `E${i}`) }, 'scope.events'],
    ];
    for (const [v, field] of bad) expect(parseScope(v)).toMatchObject({ ok: false, field });
  });

  it('reads a key without a stored role as the tenant\'s admin, and a dashboard token as its role', () => {
    expect(keyPrincipal(3, 7, undefined, undefined)).toEqual({ tenant: 3, role: 'admin', scope: {}, keyId: 7, via: 'secret_key' });
    expect(tokenPrincipal({ role: 'organizer', tenant: 3, org: 'O1' })).toEqual({ tenant: 3, role: 'organizer', scope: { organizers: ['O1'] }, keyId: null, via: 'token' });
    // Gate staff: their own role, capacity only (as a venue they could read the event's funnel).
    expect(tokenPrincipal({ role: 'gate', tenant: 3, events: ['E1'] })).toMatchObject({ role: 'gate', scope: { events: ['E1'] } });
    expect([...permissionsFor('gate')]).toEqual(['view_capacity']);
  });
});

describe('override requests', () => {
  it('accepts a role except admin and a map of known permissions to true, false or null', () => {
    expect(roleParam('path', 'role', 'venue')).toEqual({ ok: true, value: 'venue' });
    expect(roleParam('path', 'role', 'admin')).toMatchObject({ ok: false, error: { field: 'role' } });
    expect(parseRoleChanges('venue', { permissions: { view_revenue: true, view_capacity: null } })).toEqual({
      ok: true, value: [{ role: 'venue', permission: 'view_revenue', granted: true }, { role: 'venue', permission: 'view_capacity', granted: null }],
    });
    expect(parseRoleChanges('venue', { permissions: { __proto__: true } })).toMatchObject({ ok: false });
    expect(parseRoleChanges('venue', { permissions: { view_revenue: 1 } })).toMatchObject({ ok: false, error: { field: 'permissions.view_revenue' } });
    expect(parseRoleChanges('venue', null)).toMatchObject({ ok: false, error: { field: 'permissions' } });
    // An unknown field is refused, naming it, as POST /api/v1/keys does (a typo must not pass as a change).
    expect(parseRoleChanges('venue', { permissions: { view_revenue: true }, extra: 1 })).toMatchObject({ ok: false, error: { code: 'invalid_field', field: 'extra' } });
    expect(parseRoleChanges('venue', { permission: { view_revenue: true } })).toMatchObject({ ok: false, error: { field: 'permission' } });
    expect(parseRoleChanges('venue', [])).toMatchObject({ ok: false, error: { field: 'permissions' } });
  });

  it('says the unknown field and the refused role by name in the message, not only in field', () => {
    expect(parseRoleChanges('venue', { permissions: { view_revenue: true }, extra: 1 })).toEqual({ ok: false, error: { code: 'invalid_field', in: 'body', field: 'extra', message: 'Unknown field "extra"; a role change takes only permissions.' } });
    expect(roleParam('path', 'role', 'admin')).toMatchObject({ ok: false, error: { field: 'role', message: expect.stringMatching(/^role must be one of .* \(admin always has every permission\); got "admin"\.$/) } });
    expect(roleParam('path', 'role', 'x'.repeat(100))).toMatchObject({ ok: false, error: { message: expect.stringMatching(new RegExp(`; got "${'x'.repeat(40)}"\\.$`)) } });
  });

  it('lets a role other than admin change only permissions it holds and none admin-granted (overrideRefusal)', () => {
    const ch = (permission: (typeof PERMISSIONS)[number], granted: boolean | null = true) => ({ role: 'venue' as const, permission, granted });
    const held = permissionsFor('organizer', { organizer: { manage_permissions: true } });
    expect(overrideRefusal({ role: 'admin' }, new Set(), [ch('erase_data')])).toBeNull();
    expect(overrideRefusal({ role: 'organizer' }, held, [ch('view_revenue'), ch('view_capacity', false), ch('view_revenue', null)])).toBeNull();
    for (const granted of [true, false, null]) {
      expect(overrideRefusal({ role: 'organizer' }, held, [ch('view_revenue'), ch('create_campaigns', granted)])?.body).toMatchObject({ error: { code: 'forbidden', field: 'permissions.create_campaigns', permission: 'create_campaigns', role: 'organizer' } });
    }
    // Held, but admin-granted: only an admin hands it on.
    expect(overrideRefusal({ role: 'organizer' }, held, [ch('manage_permissions')])).toMatchObject({ status: 403, body: { error: { field: 'permissions.manage_permissions' } } });
    expect(overrideRefusal(null, new Set(PERMISSIONS), [ch('view_revenue')])).toBeNull();
    expect(overrideRefusal(null, new Set(), [ch('view_revenue')])?.status).toBe(403);
  });

  it('keeps the admin-granted permissions out of every other role\'s defaults', () => {
    for (const role of ROLES.filter((r) => r !== 'admin')) expect({ role, shared: DEFAULT_ROLE_PERMISSIONS[role].filter((p) => ADMIN_GRANTED.includes(p)) }).toEqual({ role, shared: [] });
    expect(PERMISSIONS.filter((p) => !ADMIN_GRANTED.includes(p) && !ROLES.some((r) => r !== 'admin' && DEFAULT_ROLE_PERMISSIONS[r].includes(p)))).toEqual([]);
  });

  it('names an event\'s other organizer only to a caller that may know it (mayKnowOwner)', () => {
    const who = (role: 'organizer' | 'admin', scope: object) => ({ tenant: 1, role, scope, keyId: 1, via: 'secret_key' as const });
    const e2 = { id: 'E2', organizer_id: 'O2' };
    expect(mayKnowOwner(null, e2)).toBe(true);
    expect(mayKnowOwner(who('admin', {}), e2)).toBe(true);
    expect(mayKnowOwner(who('organizer', {}), e2)).toBe(true);
    expect(mayKnowOwner(who('organizer', { organizers: ['O1'] }), e2)).toBe(false);
    expect(mayKnowOwner(who('organizer', { organizers: ['O1'], events: ['E2'] }), e2)).toBe(true);
    expect(eventOwnerMismatch(who('organizer', { organizers: ['O1'] }), 'manage_tracking_codes', 'O1', e2)).toEqual({ status: 403, body: { error: {
      code: 'forbidden', message: 'event E2 is outside the scope of this key or token (role organizer).', permission: 'manage_tracking_codes', role: 'organizer', scope: 'event E2', in: 'body', field: 'event_id',
    } }, headers: undefined });
    expect(eventOwnerMismatch(who('admin', {}), 'manage_tracking_codes', 'O1', e2)).toMatchObject({ status: 400, body: { error: { field: 'event_id', message: 'Event E2 belongs to organizer O2, not O1.' } } });
  });
});
