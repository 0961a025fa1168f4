// Dashboard tokens: HMAC-SHA256 signed, expiring, scoped to an organizer (tenant, org_id) or to gate staff
// (tenant, event ids). Format: `v1.<base64url(JSON claims)>.<base64url(HMAC(secret, "v1." + claims))>`.
// Signing and verification are pure (`now` in seconds is passed in); resolveTokenSecret does the file I/O.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';

export type Scope =
  | { role: 'organizer'; tenant: number; org: string }
  | { role: 'gate'; tenant: number; events: string[] }
  /** The tenant secret key (REST only): everything of the tenant. */
  | { role: 'tenant'; tenant: number };

interface Claims {
  t: number;
  r: 'organizer' | 'gate';
  o?: string;
  e?: string[];
  iat: number;
  exp: number;
}

export const TOKEN_PREFIX = 'v1.';
export const MAX_TTL_S = 30 * 86_400;
export const DEFAULT_TTL_S = 3600;
export const MAX_GATE_EVENTS = 50;

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

export function signToken(secret: string, scope: Exclude<Scope, { role: 'tenant' }>, ttlS: number, nowS: number): { token: string; expires_at: string } {
  const claims: Claims = { t: scope.tenant, r: scope.role, iat: nowS, exp: nowS + ttlS };
  if (scope.role === 'organizer') claims.o = scope.org;
  else claims.e = scope.events;
  const body = TOKEN_PREFIX + b64(JSON.stringify(claims));
  return { token: `${body}.${b64(mac(secret, body))}`, expires_at: new Date(claims.exp * 1000).toISOString() };
}

export type VerifyResult = { ok: true; scope: Scope; exp: number } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

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
  if (!c || typeof c.t !== 'number' || typeof c.exp !== 'number') return { ok: false, reason: 'malformed' };
  if (c.exp <= nowS) return { ok: false, reason: 'expired' };
  if (c.r === 'organizer' && typeof c.o === 'string') return { ok: true, scope: { role: 'organizer', tenant: c.t, org: c.o }, exp: c.exp };
  if (c.r === 'gate' && Array.isArray(c.e) && c.e.every((x) => typeof x === 'string')) return { ok: true, scope: { role: 'gate', tenant: c.t, events: c.e }, exp: c.exp };
  return { ok: false, reason: 'malformed' };
}

export type TokenRequest = { ok: true; scope: Exclude<Scope, { role: 'tenant' }>; ttlS: number } | { ok: false; field: string; message: string };

const ID_RE = /^[^\u0000-\u001f]{1,128}$/;
const asId = (v: unknown): string | null => (typeof v === 'number' && Number.isInteger(v) ? String(v) : typeof v === 'string' && ID_RE.test(v) ? v : null);

/** Validates a `POST /api/v1/tokens` body for a tenant. */
export function parseTokenRequest(tenant: number, body: unknown): TokenRequest {
  const b = (body ?? {}) as { role?: unknown; org_id?: unknown; event_ids?: unknown; ttl_s?: unknown };
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
  return { ok: false, field: 'role', message: 'role must be "organizer" (with org_id) or "gate" (with event_ids).' };
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
