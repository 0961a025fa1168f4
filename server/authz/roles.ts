// Roles and permissions as data (seed 003 §2.1: account types, permission keys, `user_has_permission`).
// A principal (an API key or a dashboard token) carries one role; the role's permissions are the defaults
// below, changed per tenant by overrides (tenant_role_permissions, see index.ts). Pure.

export const ROLES = ['admin', 'organizer', 'venue', 'venue_manager', 'artist', 'promoter', 'ad_account', 'media', 'gate'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  // analytics (seed 003)
  'view_event_analytics', // an event's live funnel and revenue, an organizer's dashboard
  'view_venue_analytics',
  'view_artist_analytics',
  'view_all_analytics', // every analytics resource of the tenant, whatever the scope
  'view_capacity', // an event's capacity topic (gate staff, venues)
  'view_revenue',
  'view_public_aggregates', // media: public aggregates only
  // ads (seed 003)
  'view_ad_analytics',
  'manage_ads',
  'create_campaigns',
  'approve_campaigns', // the marketplace's review of campaigns before they are published (admin by default)
  'target_users', // audiences
  // tenant administration
  'manage_keys',
  'mint_tokens',
  'manage_permissions', // read and change this tenant's role overrides
  'manage_settings', // integrations (Stripe)
  'manage_catalog',
  'manage_tracking_codes', // an organizer's pixels and tags (README "Tracking codes"); the marketplace's: admin only
  'send_server_events',
  'view_raw_events', // the read-back of stored events (/api/v1/tx/*)
  'view_persons', // persons and sessions (personal data)
  'export_data',
  'erase_data',
  'view_audit',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const ALL: Permission[] = [...PERMISSIONS];

/**
 * Defaults per role. Admin has every permission and overrides never apply to it (a tenant cannot lock its own
 * admin key out). view_event_analytics is an event's funnel; its money needs view_revenue as well (without it
 * the REST mirror serves the revenue-free variant and refuses the organizer roll-up; the campaign reads drop
 * revenue and ROAS). An artist sees its events without revenue; media only public aggregates; an ad account only
 * audiences and campaigns, with the revenue and ROAS its campaigns made (seed 003's view_ad_analytics: what it
 * steers by; it reads no live funnel, lacking view_event_analytics). An organizer reads
 * its own campaigns (view_ad_analytics: the dashboard's campaigns page) but neither creates nor steers them.
 * Gate staff (a gate token, or a gate key scoped to events) read their events' capacity and nothing else.
 */
export const DEFAULT_ROLE_PERMISSIONS: Record<Role, Permission[]> = {
  admin: ALL,
  organizer: ['view_event_analytics', 'view_venue_analytics', 'view_capacity', 'view_revenue', 'view_public_aggregates', 'manage_tracking_codes', 'view_ad_analytics'],
  venue: ['view_event_analytics', 'view_venue_analytics', 'view_capacity', 'view_public_aggregates'],
  venue_manager: ['view_event_analytics', 'view_venue_analytics', 'view_capacity', 'view_revenue', 'view_public_aggregates'],
  artist: ['view_event_analytics', 'view_artist_analytics', 'view_capacity', 'view_public_aggregates'],
  promoter: ['view_event_analytics', 'view_capacity', 'view_revenue', 'view_public_aggregates'],
  ad_account: ['view_ad_analytics', 'view_revenue', 'manage_ads', 'create_campaigns', 'target_users'],
  media: ['view_public_aggregates'],
  gate: ['view_capacity'],
};

/**
 * The permissions only an admin key grants, removes or resets (PUT /api/v1/roles): tenant-wide by nature (persons,
 * the catalog, keys and tokens, settings, the audit log, every organizer's analytics or campaigns) and in no other
 * role's defaults. A role the tenant lends manage_permissions changes only permissions it holds itself, never
 * these: else a key limited to one organizer could widen its own role past its scope (authz/routes.ts).
 */
export const ADMIN_GRANTED: readonly Permission[] = [
  'view_all_analytics', 'approve_campaigns', 'manage_keys', 'mint_tokens', 'manage_permissions', 'manage_settings', 'manage_catalog',
  'send_server_events', 'view_raw_events', 'view_persons', 'export_data', 'erase_data', 'view_audit',
];

export const isRole = (v: unknown): v is Role => typeof v === 'string' && (ROLES as readonly string[]).includes(v);
export const isPermission = (v: unknown): v is Permission => typeof v === 'string' && (PERMISSIONS as readonly string[]).includes(v);

/** Per-tenant changes to the defaults: role → permission → granted (true adds, false removes). */
export type Overrides = Partial<Record<Role, Partial<Record<Permission, boolean>>>>;

/** The permissions `role` has in a tenant with `overrides`. Admin ignores overrides. Pure. */
export function permissionsFor(role: Role, overrides: Overrides = {}): Set<Permission> {
  const out = new Set<Permission>(DEFAULT_ROLE_PERMISSIONS[role]);
  if (role === 'admin') return out;
  for (const [perm, granted] of Object.entries(overrides[role] ?? {})) {
    if (!isPermission(perm)) continue;
    if (granted) out.add(perm);
    else out.delete(perm);
  }
  return out;
}
