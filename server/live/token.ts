// Dashboard tokens: HMAC-SHA256 signed, expiring, one per role of authz/roles.ts (plus gate staff): an organizer
// (tenant, org_id), gate staff (tenant, event ids), venue staff and venue managers (tenant, venue ids), artists
// (tenant, artist ids), promoters (tenant, event and/or organizer ids), ad accounts (tenant, organizer ids),
// media (the tenant's public aggregates) or the tenant's admin (the whole tenant: a browser page for the
// marketplace admin, e.g. the campaign approval queue, without the secret key in the browser). A token's
// principal (tokenPrincipal) has its role's permissions with the tenant's overrides, like a key of that role.
// Format: `v1.<base64url(JSON claims)>.<base64url(HMAC(secret, "v1." + claims))>`.
// A token minted with a key carries that key's id (`k`): revoking the key ends the token within seconds
// (live/key-status.ts); a token from before `k` existed stays valid until it expires. A limited key's token is held
// to that key at every use, not only when minted (boundToKey): its events follow their owners out of the key's scope.
// Signing and verification are pure (`now` in seconds is passed in); resolveTokenSecret does the file I/O.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Principal } from '../authz/principal.js';
import { isIdText, unknownBodyField } from '../http/params.js';
import { isRole, permissionsFor, type Permission, type Role } from '../authz/roles.js';

/** `key`: the id of the secret key that minted the token (absent on tokens minted before key ids were carried). */
export type Scope =
  | { role: 'organizer'; tenant: number; org: string; key?: number }
  | { role: 'gate'; tenant: number; events: string[]; key?: number }
  /** Venue staff: the venues' aggregate capacity topic and the capacity of events at those venues. */
  | { role: 'venue'; tenant: number; venues: string[]; key?: number }
  /** An artist: the event topics of events with these artists, without revenue. */
  | { role: 'artist'; tenant: number; artists: string[]; key?: number }
  /** A venue manager: as venue staff, plus the money (view_revenue) and the funnels of events at its venues. */
  | { role: 'venue_manager'; tenant: number; venues: string[]; key?: number }
  /** A promoter: its events, listed or of its organizers (funnel with revenue, capacity, the organizers' roll-up). */
  | { role: 'promoter'; tenant: number; events: string[]; orgs: string[]; key?: number }
  /** An ad account: the campaigns of its organizers (read), nothing of the live funnels. */
  | { role: 'ad_account'; tenant: number; orgs: string[]; key?: number }
  /** Media: the tenant's public aggregates only (view_public_aggregates); no ids. */
  | { role: 'media'; tenant: number; key?: number }
  /** The tenant's admin: everything of the tenant that a token may read or do. */
  | { role: 'admin'; tenant: number; key?: number }
  /** The tenant secret key (REST only): everything of the tenant. */
  | { role: 'tenant'; tenant: number };

export type TokenScope = Exclude<Scope, { role: 'tenant' }>;
export type TokenRole = TokenScope['role'];

interface Claims {
  t: number;
  r: TokenRole;
  o?: string;
  e?: string[];
  /** Venue ids. */
  v?: string[];
  /** Artist ids. */
  a?: string[];
  /** Organizer ids (promoter, ad_account). */
  os?: string[];
  /** Key id. */
  k?: number;
  iat: number;
  exp: number;
}

export const TOKEN_PREFIX = 'v1.';
export const MAX_TTL_S = 30 * 86_400;
export const DEFAULT_TTL_S = 3600;
export const MAX_GATE_EVENTS = 50;
/** Venue, venue_manager, artist, promoter and ad_account tokens list at most this many ids per field. */
export const MAX_SCOPE_IDS = 50;

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');
const mac = (secret: string, data: string) => crypto.createHmac('sha256', secret).update(data).digest();

/**
 * Strict base64url: Node's decoder ignores `=` padding, stray characters and the unused low bits of the last
 * character, so several strings decode to the same bytes. A token has exactly one spelling: re-encoding the
 * decoded bytes must give back the input, otherwise the string is refused (null).
 */
export function decodeB64urlStrict(s: string): Buffer | null {
  const bytes = Buffer.from(s, 'base64url');
  return bytes.toString('base64url') === s ? bytes : null;
}

export function signToken(secret: string, scope: TokenScope, ttlS: number, nowS: number): { token: string; expires_at: string } {
  const claims: Claims = { t: scope.tenant, r: scope.role, iat: nowS, exp: nowS + ttlS };
  if (scope.role === 'organizer') claims.o = scope.org;
  else if (scope.role === 'gate') claims.e = scope.events;
  else if (scope.role === 'venue' || scope.role === 'venue_manager') claims.v = scope.venues;
  else if (scope.role === 'artist') claims.a = scope.artists;
  else if (scope.role === 'ad_account') claims.os = scope.orgs;
  else if (scope.role === 'promoter') {
    claims.e = scope.events;
    claims.os = scope.orgs;
  }
  if (scope.key !== undefined) claims.k = scope.key;
  const body = TOKEN_PREFIX + b64(JSON.stringify(claims));
  return { token: `${body}.${b64(mac(secret, body))}`, expires_at: new Date(claims.exp * 1000).toISOString() };
}

/** `revoked`: the key that minted it was revoked (the live layer's check, live/key-status.ts; never verifyToken's). */
export type VerifyResult = { ok: true; scope: Scope; exp: number } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' | 'revoked' };

export function verifyToken(secret: string, token: string, nowS: number): VerifyResult {
  if (typeof token !== 'string' || !token.startsWith(TOKEN_PREFIX) || token.length > 8192) return { ok: false, reason: 'malformed' };
  const dot = token.lastIndexOf('.');
  if (dot <= TOKEN_PREFIX.length) return { ok: false, reason: 'malformed' };
  const body = token.slice(0, dot);
  const sig = decodeB64urlStrict(token.slice(dot + 1));
  if (!sig) return { ok: false, reason: 'malformed' };
  const want = mac(secret, body);
  if (sig.length !== want.length || !crypto.timingSafeEqual(sig, want)) return { ok: false, reason: 'bad_signature' };
  // The signature covers the claims' text, so a non-canonical spelling would already fail it; checked anyway so
  // the decoder never depends on that.
  const claimBytes = decodeB64urlStrict(body.slice(TOKEN_PREFIX.length));
  if (!claimBytes) return { ok: false, reason: 'malformed' };
  let c: Claims;
  try {
    c = JSON.parse(claimBytes.toString('utf8')) as Claims;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!c || typeof c !== 'object' || typeof c.t !== 'number' || typeof c.exp !== 'number') return { ok: false, reason: 'malformed' };
  if (c.exp <= nowS) return { ok: false, reason: 'expired' };
  if (c.k !== undefined && !(Number.isSafeInteger(c.k) && c.k > 0)) return { ok: false, reason: 'malformed' };
  const key = c.k === undefined ? {} : { key: c.k };
  const ids = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string');
  if (c.r === 'organizer' && typeof c.o === 'string') return { ok: true, scope: { role: 'organizer', tenant: c.t, org: c.o, ...key }, exp: c.exp };
  if (c.r === 'gate' && Array.isArray(c.e) && c.e.every((x) => typeof x === 'string')) return { ok: true, scope: { role: 'gate', tenant: c.t, events: c.e, ...key }, exp: c.exp };
  if (c.r === 'venue' && ids(c.v)) return { ok: true, scope: { role: 'venue', tenant: c.t, venues: c.v, ...key }, exp: c.exp };
  if (c.r === 'artist' && ids(c.a)) return { ok: true, scope: { role: 'artist', tenant: c.t, artists: c.a, ...key }, exp: c.exp };
  if (c.r === 'venue_manager' && ids(c.v)) return { ok: true, scope: { role: 'venue_manager', tenant: c.t, venues: c.v, ...key }, exp: c.exp };
  if (c.r === 'ad_account' && ids(c.os)) return { ok: true, scope: { role: 'ad_account', tenant: c.t, orgs: c.os, ...key }, exp: c.exp };
  if (c.r === 'promoter') {
    // Either list may be empty, never both (a promoter token names what it covers).
    const list = (v: unknown): string[] | null => (v === undefined ? [] : Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : null);
    const [events, orgs] = [list(c.e), list(c.os)];
    if (events && orgs && events.length + orgs.length > 0) return { ok: true, scope: { role: 'promoter', tenant: c.t, events, orgs, ...key }, exp: c.exp };
    return { ok: false, reason: 'malformed' };
  }
  if (c.r === 'media') return { ok: true, scope: { role: 'media', tenant: c.t, ...key }, exp: c.exp };
  if (c.r === 'admin') return { ok: true, scope: { role: 'admin', tenant: c.t, ...key }, exp: c.exp };
  return { ok: false, reason: 'malformed' };
}

export type TokenRequest = { ok: true; scope: TokenScope; ttlS: number } | { ok: false; field: string; message: string };

// A number id must be exact (README "Limits": ±2⁵³−1): 9007199254740993 would be minted as …992, another organizer.
const asId = (v: unknown): string | null => (typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : typeof v === 'string' && isIdText(v) ? v : null);

/** Every role a token may carry, and the fields each takes (the 400 for an unknown role lists them). */
export const TOKEN_ROLES_HELP = '"organizer" (with org_id), "gate" (with event_ids), "venue" or "venue_manager" (with venue_ids), "artist" (with artist_ids), '
  + '"promoter" (with event_ids and/or org_ids), "ad_account" (with org_ids), "media" (no ids) or "admin" (the whole tenant; an admin key only)';

type IdList = { ok: true; ids: string[] } | { ok: false; field: string; message: string };
/** A list of 1-`max` ids (duplicates dropped); `optional`: absent, null or [] is the empty list (README: they carry no id). */
function idList(raw: unknown, field: string, max: number, optional = false): IdList {
  if (optional && (raw === undefined || raw === null || (Array.isArray(raw) && raw.length === 0))) return { ok: true, ids: [] };
  const ids = Array.isArray(raw) && raw.length <= max ? raw.map(asId) : null;
  if (!ids || ids.length === 0 || ids.some((x) => x === null)) return { ok: false, field, message: `${field} must be a list of ${optional ? 0 : 1}-${max} ids.` };
  return { ok: true, ids: [...new Set(ids as string[])] };
}

/** The id fields of a token request, and the ones each role takes (the others are refused, never dropped). */
const ID_FIELDS = ['org_id', 'org_ids', 'event_ids', 'venue_ids', 'artist_ids'] as const;
const ROLE_IDS: Record<TokenRole, readonly (typeof ID_FIELDS)[number][]> = {
  organizer: ['org_id'], gate: ['event_ids'], venue: ['venue_ids'], venue_manager: ['venue_ids'], artist: ['artist_ids'],
  promoter: ['event_ids', 'org_ids'], ad_account: ['org_ids'], media: [], admin: [],
};

/**
 * The first id field `b` carries that `role` does not take, as the refusal naming it, or null. A token covering
 * less than was asked for (`{"role":"organizer","org_id":"O1","org_ids":["O2"]}` minted for O1 alone) would
 * look right and fail later; null and [] carry no id and are let through.
 */
function foreignIds(role: TokenRole, b: Record<string, unknown>): { ok: false; field: string; message: string } | null {
  const takes = ROLE_IDS[role];
  const field = ID_FIELDS.find((f) => !takes.includes(f) && b[f] !== undefined && b[f] !== null && !(Array.isArray(b[f]) && (b[f] as unknown[]).length === 0));
  if (!field) return null;
  const what = takes.length === 0 ? 'no ids (the whole tenant)' : takes.join(' and/or ');
  return { ok: false, field, message: `${field} does not apply to role ${role}, which takes ${what}; leave ${field} out.` };
}

/** Validates a `POST /api/v1/tokens` body for a tenant. Ids the role does not take are refused (foreignIds). */
export function parseTokenRequest(tenant: number, body: unknown): TokenRequest {
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) return { ok: false, field: 'role', message: 'Send a JSON object: {"role",…}.' };
  const b = (body ?? {}) as { role?: unknown; org_id?: unknown; org_ids?: unknown; event_ids?: unknown; venue_ids?: unknown; artist_ids?: unknown; ttl_s?: unknown };
  // A misspelt field ("ttl" for ttl_s) would otherwise mint a token unlike the one asked for.
  const unknown = Object.keys(b).find((k) => k !== 'role' && k !== 'ttl_s' && !(ID_FIELDS as readonly string[]).includes(k));
  if (unknown !== undefined) {
    const e = unknownBodyField(unknown, `a token request takes role, ${ID_FIELDS.join(', ')} and ttl_s.`);
    return { ok: false, field: e.field, message: e.message };
  }
  const ttl = b.ttl_s ?? DEFAULT_TTL_S;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_S) {
    return { ok: false, field: 'ttl_s', message: `ttl_s must be an integer number of seconds between 1 and ${MAX_TTL_S} (default ${DEFAULT_TTL_S}).` };
  }
  const ok = (scope: TokenScope): TokenRequest => ({ ok: true, scope, ttlS: ttl });
  const foreign = typeof b.role === 'string' && Object.hasOwn(ROLE_IDS, b.role) ? foreignIds(b.role as TokenRole, b) : null;
  if (foreign) return foreign;
  switch (b.role) {
    case 'organizer': {
      const org = asId(b.org_id);
      if (!org) return { ok: false, field: 'org_id', message: 'org_id must be the organizer id (a string of 1-128 characters, or an integer).' };
      return ok({ role: 'organizer', tenant, org });
    }
    case 'gate': {
      const l = idList(b.event_ids, 'event_ids', MAX_GATE_EVENTS);
      return l.ok ? ok({ role: 'gate', tenant, events: l.ids }) : l;
    }
    case 'venue':
    case 'venue_manager': {
      const l = idList(b.venue_ids, 'venue_ids', MAX_SCOPE_IDS);
      return l.ok ? ok({ role: b.role, tenant, venues: l.ids }) : l;
    }
    case 'artist': {
      const l = idList(b.artist_ids, 'artist_ids', MAX_SCOPE_IDS);
      return l.ok ? ok({ role: 'artist', tenant, artists: l.ids }) : l;
    }
    case 'promoter': {
      const events = idList(b.event_ids, 'event_ids', MAX_SCOPE_IDS, true);
      if (!events.ok) return events;
      const orgs = idList(b.org_ids, 'org_ids', MAX_SCOPE_IDS, true);
      if (!orgs.ok) return orgs;
      if (events.ids.length + orgs.ids.length === 0) return { ok: false, field: 'event_ids', message: `A promoter token needs event_ids and/or org_ids (lists of 1-${MAX_SCOPE_IDS} ids).` };
      return ok({ role: 'promoter', tenant, events: events.ids, orgs: orgs.ids });
    }
    case 'ad_account': {
      const l = idList(b.org_ids, 'org_ids', MAX_SCOPE_IDS);
      return l.ok ? ok({ role: 'ad_account', tenant, orgs: l.ids }) : l;
    }
    case 'media':
      return ok({ role: 'media', tenant });
    case 'admin':
      return ok({ role: 'admin', tenant });
    default:
      return { ok: false, field: 'role', message: `role must be ${TOKEN_ROLES_HELP}.` };
  }
}

/** A key's role and scope as authz/principal.ts states them (the minting key of a token). */
export interface MintingKey {
  id: number;
  role: string;
  scope: { organizers?: string[]; venues?: string[]; artists?: string[]; events?: string[] };
}

/** What the live layer knows of an event: its organizer, venue and artists (absent = unknown). */
export interface EventOwners {
  organizer_id?: string | null;
  venue_id?: string | null;
  artist_ids?: string[];
}

/**
 * A dashboard token as a principal (authz/principal.ts): each role is itself on its ids (organizer → its
 * organizer; venue, venue_manager → venues; artist → artists; promoter → events and organizers; ad_account →
 * organizers; media → no ids); gate → gate on its events (capacity only); the secret key's REST scope and an
 * admin token → admin. Pure.
 */
export function tokenPrincipal(scope: Scope): Principal {
  const who = (role: Role, s: Principal['scope']): Principal => ({ tenant: scope.tenant, role, scope: s, keyId: ('key' in scope ? scope.key : undefined) ?? null, via: 'token' });
  switch (scope.role) {
    case 'tenant':
    case 'admin': return who('admin', {});
    case 'organizer': return who('organizer', { organizers: [scope.org] });
    case 'gate': return who('gate', { events: scope.events });
    case 'venue':
    case 'venue_manager': return who(scope.role, { venues: scope.venues });
    case 'artist': return who('artist', { artists: scope.artists });
    case 'promoter': return who('promoter', { events: scope.events, organizers: scope.orgs });
    case 'ad_account': return who('ad_account', { organizers: scope.orgs });
    case 'media': return who('media', {});
  }
}

/**
 * What the key minting this token does not cover, or ok. Ids: an admin key mints anything of its tenant; any
 * other key only ids its own scope lists (an organizer, venue, artist or ad_account token for its organizers,
 * venues or artists; a gate or promoter token for events in its scope: listed, or whose organizer, venue or
 * artist is; an event the server does not know is outside every limited scope). A token without ids (media)
 * is the whole tenant, so only a key whose scope is the whole tenant mints one. Role: the token's role has no
 * permission the key's role lacks (`permissionsOf`: the tenant's overrides; a gate token needs view_capacity
 * only, unless the tenant granted gate staff more), so a venue key cannot mint a venue_manager token that sees revenue. Pure.
 */
export function withinKey(
  scope: TokenScope, key: MintingKey, eventOf: (event: string) => EventOwners | null | undefined,
  permissionsOf: (role: Role) => Set<Permission> = (r) => permissionsFor(r),
): { ok: true } | { ok: false; field: string; id: string } {
  if (key.role === 'admin') return { ok: true };
  const s = key.scope;
  const has = (list: string[] | undefined, id: string | null | undefined) => id != null && (list ?? []).includes(id);
  const firstOut = (ids: string[], inside: (id: string) => boolean) => ids.find((id) => !inside(id));
  const eventIn = (e: string) => keyCoversEvent(s, e, eventOf(e));
  const orgIn = (o: string) => has(s.organizers, o);
  const outs: [string, string | undefined][] = [];
  switch (scope.role) {
    case 'organizer': outs.push(['org_id', orgIn(scope.org) ? undefined : scope.org]); break;
    case 'venue':
    case 'venue_manager': outs.push(['venue_ids', firstOut(scope.venues, (v) => has(s.venues, v))]); break;
    case 'artist': outs.push(['artist_ids', firstOut(scope.artists, (a) => has(s.artists, a))]); break;
    case 'gate': outs.push(['event_ids', firstOut(scope.events, eventIn)]); break;
    case 'promoter': outs.push(['event_ids', firstOut(scope.events, eventIn)], ['org_ids', firstOut(scope.orgs, orgIn)]); break;
    case 'ad_account': outs.push(['org_ids', firstOut(scope.orgs, orgIn)]); break;
    case 'media':
    case 'admin':
      // No ids: the whole tenant (admin: everything of it), beyond any limited key.
      if (scope.role === 'admin' || Object.values(s).some((ids) => (ids ?? []).length > 0)) outs.push(['role', scope.role]);
      break;
  }
  const out = outs.find(([, id]) => id !== undefined);
  if (out) return { ok: false, field: out[0], id: out[1]! };
  const keyRole: Role = isRole(key.role) ? key.role : 'media';
  const needs = permissionsOf(tokenPrincipal(scope).role);
  const mine = permissionsOf(keyRole);
  return [...needs].every((p) => mine.has(p)) ? { ok: true } : { ok: false, field: 'role', id: scope.role };
}

/**
 * Whether a limited key's scope covers an event: listed itself, or its organizer, venue or one of its artists is
 * (`o`: the event's owners now; an event the server does not know is outside). Pure.
 */
export function keyCoversEvent(s: MintingKey['scope'], event: string, o: EventOwners | null | undefined): boolean {
  const has = (list: string[] | undefined, id: string | null | undefined) => id != null && (list ?? []).includes(id);
  if (has(s.events, event)) return true;
  return !!o && (has(s.organizers, o.organizer_id) || has(s.venues, o.venue_id) || (o.artist_ids ?? []).some((a) => has(s.artists, a)));
}

/**
 * The token's scope without the listed events (gate and promoter `event_ids`) among `checked` that its minting key
 * covers no more, judged with the events' owners now (`eventOf`): an event that changed hands after minting leaves
 * the token as it left the key. `key` null (revoked, or unreadable): it vouches for none of them. An admin key
 * covers the whole tenant: nothing is taken. Organizer, venue, artist and organizer-list ids need no second look:
 * a key's scope never changes. Pure.
 */
export function boundToKey<S extends Scope>(
  scope: S, key: Pick<MintingKey, 'role' | 'scope'> | null, checked: readonly string[], eventOf: (event: string) => EventOwners | null | undefined,
): S {
  if ((scope.role !== 'gate' && scope.role !== 'promoter') || key?.role === 'admin') return scope;
  const out = new Set(checked.filter((e) => scope.events.includes(e) && !(key && keyCoversEvent(key.scope, e, eventOf(e)))));
  return out.size === 0 ? scope : { ...scope, events: scope.events.filter((e) => !out.has(e)) };
}

/**
 * LIVE_TOKEN_SECRET, or a secret generated once and kept in DATA_DIR/live-token-secret. Several nodes must
 * share it, so the config requires LIVE_TOKEN_SECRET when REDIS_URL is set.
 */
export function resolveTokenSecret(configured: string | null, dataDir: string, log: Logger): string {
  if (configured) return configured;
  const file = path.join(dataDir, 'live-token-secret');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const secret = crypto.randomBytes(32).toString('hex');
  fs.writeFileSync(file, secret + '\n', { mode: 0o600 });
  log.warn({ file }, 'LIVE_TOKEN_SECRET not set: generated one and saved it in DATA_DIR');
  return secret;
}
