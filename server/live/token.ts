// Dashboard tokens: HMAC-SHA256 signed, expiring, scoped to an organizer (tenant, org_id), to gate staff
// (tenant, event ids), to venue staff (tenant, venue ids), to artists (tenant, artist ids) or to the tenant's
// admin (the whole tenant; minted only by an admin key: a browser page for the marketplace admin, e.g. the
// campaign approval queue, without the secret key in the browser).
// Format: `v1.<base64url(JSON claims)>.<base64url(HMAC(secret, "v1." + claims))>`.
// A token minted with a key carries that key's id (`k`): revoking the key ends the token within seconds
// (live/key-status.ts); a token from before `k` existed stays valid until it expires.
// Signing and verification are pure (`now` in seconds is passed in); resolveTokenSecret does the file I/O.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';

/** `key`: the id of the secret key that minted the token (absent on tokens minted before key ids were carried). */
export type Scope =
  | { role: 'organizer'; tenant: number; org: string; key?: number }
  | { role: 'gate'; tenant: number; events: string[]; key?: number }
  /** Venue staff: the venues' aggregate capacity topic and the capacity of events at those venues. */
  | { role: 'venue'; tenant: number; venues: string[]; key?: number }
  /** An artist: the event topics of events with these artists, without revenue. */
  | { role: 'artist'; tenant: number; artists: string[]; key?: number }
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
  /** Key id. */
  k?: number;
  iat: number;
  exp: number;
}

export const TOKEN_PREFIX = 'v1.';
export const MAX_TTL_S = 30 * 86_400;
export const DEFAULT_TTL_S = 3600;
export const MAX_GATE_EVENTS = 50;
/** Venue and artist tokens list at most this many ids. */
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
  else if (scope.role === 'venue') claims.v = scope.venues;
  else if (scope.role === 'artist') claims.a = scope.artists;
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
  if (c.r === 'admin') return { ok: true, scope: { role: 'admin', tenant: c.t, ...key }, exp: c.exp };
  return { ok: false, reason: 'malformed' };
}

export type TokenRequest = { ok: true; scope: TokenScope; ttlS: number } | { ok: false; field: string; message: string };

const ID_RE = /^[^\u0000-\u001f]{1,128}$/;
const asId = (v: unknown): string | null => (typeof v === 'number' && Number.isInteger(v) ? String(v) : typeof v === 'string' && ID_RE.test(v) ? v : null);

/** Validates a `POST /api/v1/tokens` body for a tenant. */
export function parseTokenRequest(tenant: number, body: unknown): TokenRequest {
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) return { ok: false, field: 'role', message: 'Send a JSON object: {"role",…}.' };
  const b = (body ?? {}) as { role?: unknown; org_id?: unknown; event_ids?: unknown; venue_ids?: unknown; artist_ids?: unknown; ttl_s?: unknown };
  const ttl = b.ttl_s ?? DEFAULT_TTL_S;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_S) {
    return { ok: false, field: 'ttl_s', message: `ttl_s must be an integer number of seconds between 1 and ${MAX_TTL_S} (default ${DEFAULT_TTL_S}).` };
  }
  if (b.role === 'organizer') {
    const org = asId(b.org_id);
    if (!org) return { ok: false, field: 'org_id', message: 'org_id must be the organizer id (a string of 1-128 characters, or an integer).' };
    return { ok: true, scope: { role: 'organizer', tenant, org }, ttlS: ttl };
  }
  if (b.role === 'gate') {
    const ids = Array.isArray(b.event_ids) ? b.event_ids.map(asId) : null;
    if (!ids || ids.length === 0 || ids.length > MAX_GATE_EVENTS || ids.some((x) => x === null)) {
      return { ok: false, field: 'event_ids', message: `event_ids must be a list of 1-${MAX_GATE_EVENTS} event ids.` };
    }
    return { ok: true, scope: { role: 'gate', tenant, events: [...new Set(ids as string[])] }, ttlS: ttl };
  }
  if (b.role === 'venue' || b.role === 'artist') {
    const field = b.role === 'venue' ? 'venue_ids' : 'artist_ids';
    const raw = b.role === 'venue' ? b.venue_ids : b.artist_ids;
    const ids = Array.isArray(raw) && raw.length <= MAX_SCOPE_IDS ? raw.map(asId) : null;
    if (!ids || ids.length === 0 || ids.some((x) => x === null)) return { ok: false, field, message: `${field} must be a list of 1-${MAX_SCOPE_IDS} ids.` };
    const list = [...new Set(ids as string[])];
    return { ok: true, scope: b.role === 'venue' ? { role: 'venue', tenant, venues: list } : { role: 'artist', tenant, artists: list }, ttlS: ttl };
  }
  if (b.role === 'admin') return { ok: true, scope: { role: 'admin', tenant }, ttlS: ttl };
  return { ok: false, field: 'role', message: 'role must be "organizer" (with org_id), "gate" (with event_ids), "venue" (with venue_ids), "artist" (with artist_ids) or "admin" (the whole tenant; an admin key only).' };
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
 * Whether a token scope stays inside the key that mints it: an admin key mints anything of its tenant; any
 * other key only ids its own scope lists (an organizer token for one of its organizers, a venue token for its
 * venues, an artist token for its artists, a gate token for events that are in its scope: listed, or whose
 * organizer, venue or artist is). An event the server does not know is outside every limited scope. Pure.
 */
export function withinKey(scope: TokenScope, key: MintingKey, eventOf: (event: string) => EventOwners | null | undefined): { ok: true } | { ok: false; field: string; id: string } {
  if (key.role === 'admin') return { ok: true };
  const s = key.scope;
  const has = (list: string[] | undefined, id: string | null | undefined) => id != null && (list ?? []).includes(id);
  const firstOut = (ids: string[], inside: (id: string) => boolean) => ids.find((id) => !inside(id));
  let field: string;
  let out: string | undefined;
  switch (scope.role) {
    case 'organizer':
      [field, out] = ['org_id', has(s.organizers, scope.org) ? undefined : scope.org];
      break;
    case 'venue':
      [field, out] = ['venue_ids', firstOut(scope.venues, (v) => has(s.venues, v))];
      break;
    case 'artist':
      [field, out] = ['artist_ids', firstOut(scope.artists, (a) => has(s.artists, a))];
      break;
    case 'admin':
      [field, out] = ['role', 'admin'];
      break;
    case 'gate':
      field = 'event_ids';
      out = firstOut(scope.events, (e) => {
        if (has(s.events, e)) return true;
        const o = eventOf(e);
        return !!o && (has(s.organizers, o.organizer_id) || has(s.venues, o.venue_id) || (o.artist_ids ?? []).some((a) => has(s.artists, a)));
      });
      break;
  }
  return out === undefined ? { ok: true } : { ok: false, field, id: out };
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
