// The DOM-free part of the pages of venue_manager, promoter, ad_account and media tokens (README "Dashboard and
// demo"): their unverified claims (server/live/token.ts: `v` venues, `e` events, `os` organizers), which existing
// view each opens and which header links it gets. A page the role cannot use is never offered: the server would
// refuse it (403) anyway, and a link that always ends in a refusal is noise. Pure; unit-tested without the DOM.

export type PageRole = 'venue_manager' | 'promoter' | 'ad_account' | 'media';

export interface RoleClaims {
  tenant: number;
  role: PageRole;
  venues: string[];
  events: string[];
  orgs: string[];
  /** Expiry, epoch seconds. */
  exp: number;
}

/** The header links of the organizer's pages (main.ts setNav). */
export type NavPage = 'history' | 'tracking' | 'campaigns';

/**
 * What a token opens:
 *   entity     venue_manager: the daily figures of its venues (entity.ts, #venue/{id}), like a venue token
 *   organizer  promoter with org_ids: the organizer view (roll-up and its events, live) of one of its organizers
 *   capacity   promoter with event_ids only: the capacity of its events (the gate view), live
 *   campaigns  ad_account: the campaigns page (campaigns.ts) of one of its organizers, read-only
 *   notice     media: the page says where its public aggregates are (REST); no live view
 */
export type RolePage =
  | { view: 'entity'; kind: 'venue'; ids: string[] }
  | { view: 'organizer'; org: string; orgs: string[] }
  | { view: 'capacity'; events: string[] }
  | { view: 'campaigns'; org: string; orgs: string[] }
  | { view: 'notice'; message: string };

function b64urlJson(s: string): unknown {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
}

const strings = (v: unknown): string[] | null => (v === undefined ? [] : Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null);

/** The claims of a venue_manager, promoter, ad_account or media token, else null (other roles, garbage). Pure. */
export function roleClaims(token: string): RoleClaims | null {
  const parts = typeof token === 'string' && token.startsWith('v1.') ? token.split('.') : [];
  if (parts.length !== 3 || !parts[1]) return null;
  let c: { t?: unknown; r?: unknown; v?: unknown; e?: unknown; os?: unknown; exp?: unknown } | null;
  try {
    c = b64urlJson(parts[1]) as typeof c;
  } catch {
    return null;
  }
  if (!c || typeof c !== 'object' || typeof c.t !== 'number' || typeof c.exp !== 'number') return null;
  const [venues, events, orgs] = [strings(c.v), strings(c.e), strings(c.os)];
  if (!venues || !events || !orgs) return null;
  const base = { tenant: c.t, exp: c.exp, venues: [] as string[], events: [] as string[], orgs: [] as string[] };
  switch (c.r) {
    case 'venue_manager':
      return venues.length > 0 ? { ...base, role: c.r, venues } : null;
    case 'promoter':
      return events.length + orgs.length > 0 ? { ...base, role: c.r, events, orgs } : null;
    case 'ad_account':
      return orgs.length > 0 ? { ...base, role: c.r, orgs } : null;
    case 'media':
      return { ...base, role: c.r };
    default:
      return null;
  }
}

/** `#org={id}` picks one of the token's organizers; anything else (or an id it does not list) is its first. Pure. */
export function pickOrg(orgs: string[], hash: string): string {
  const m = /(?:^#|&)org=([^&]*)/.exec(hash);
  let id: string | null = null;
  try {
    id = m ? decodeURIComponent(m[1]) : null;
  } catch {
    id = null;
  }
  return id !== null && orgs.includes(id) ? id : orgs[0];
}

export const orgHash = (org: string): string => `#org=${encodeURIComponent(org)}`;

export const MEDIA_NOTICE = 'A media token reads the tenant\'s public aggregates only: an event\'s daily views, viewers, impressions, interest '
  + 'and ticket-link clicks over REST (GET /api/v1/analytics/public/events/{id} with this token as the bearer). Every live topic, sales figure and '
  + 'campaign page refuses it (403, naming the permission it lacks).';

/** The page a token of these roles opens, for the current location hash. Pure. */
export function rolePage(c: RoleClaims, hash: string): RolePage {
  switch (c.role) {
    case 'venue_manager':
      return { view: 'entity', kind: 'venue', ids: c.venues };
    case 'promoter':
      return c.orgs.length > 0 ? { view: 'organizer', org: pickOrg(c.orgs, hash), orgs: c.orgs } : { view: 'capacity', events: c.events };
    case 'ad_account':
      return { view: 'campaigns', org: pickOrg(c.orgs, hash), orgs: c.orgs };
    case 'media':
      return { view: 'notice', message: MEDIA_NOTICE };
  }
}

/**
 * The organizer pages' header links a role may use: the history needs view_event_analytics with view_revenue on
 * an organizer (organizer, promoter with org_ids), tracking codes manage_tracking_codes (organizer), the campaigns
 * page view_ad_analytics (organizer; an ad account opens it directly). Default permissions; a tenant's overrides
 * are the server's to apply. Pure.
 */
export function navPages(role: string, orgs: number): NavPage[] {
  if (role === 'organizer') return ['history', 'tracking', 'campaigns'];
  if (role === 'promoter' && orgs > 0) return ['history'];
  return [];
}

/** The header's "who": the role and its ids. Pure. */
export function roleLabel(c: RoleClaims): string {
  const list = (ids: string[]) => ids.join(', ');
  switch (c.role) {
    case 'venue_manager':
      return `Venue manager · ${list(c.venues)}`;
    case 'promoter':
      return `Promoter · ${list([...c.orgs, ...c.events])}`;
    case 'ad_account':
      return `Ad account · ${list(c.orgs)}`;
    case 'media':
      return 'Media';
  }
}
