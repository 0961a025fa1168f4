// Who is asking: the principal a route's `auth` names (admin token, secret key, write key, dashboard token
// or none) resolved from the request headers, and the 401/403 refusing it. Apart from the router because the
// ingest fast path (ingest-routes.ts) shares writeKeyRefusal without the rest of the router.
import { tokenPrincipal } from '../live/token.js';
import type { KeyCheck, KeyLookup, Tenant } from '../store/tenants.js';
import { keyPrincipal, type Principal as Who } from '../authz/principal.js';
import { bearer, originAllowed, safeEqual, type KeyResolver } from './auth.js';
import { fail } from './errors.js';
import type { ReqInfo, Reply } from './uws.js';
import type { Auth, Principal, RouterDeps } from './route-types.js';

/** `Authorization: Bearer <ADMIN_TOKEN>`? Compared in constant time. */
export function isAdmin(info: ReqInfo, adminToken: string | undefined): boolean {
  const token = bearer(info.headers.authorization);
  return token !== null && adminToken !== undefined && adminToken !== '' && safeEqual(token, adminToken);
}

/** The tenant of `Authorization: Bearer <secret key>`, or the 401/403 refusing it (a write key is 403). */
export async function secretAuth(keys: KeyResolver, info: ReqInfo): Promise<{ ok: true; tenant: Tenant; keyId: number; who: Who } | { ok: false; reply: Reply }> {
  const token = bearer(info.headers.authorization);
  if (!token) return { ok: false, reply: fail('missing_key') };
  // A dashboard token (v1.…) is not a key: say so rather than "unknown key".
  if (token.startsWith('v1.')) return { ok: false, reply: fail('invalid_key', 'This route takes the tenant\'s secret key (Authorization: Bearer tx_sk_…), not a dashboard token.') };
  const found = await keys.check(token);
  if (!found.ok) return { ok: false, reply: fail(found.code) };
  if (found.lookup.kind !== 'secret') return { ok: false, reply: fail('write_key_not_allowed') };
  const l = found.lookup;
  return { ok: true, tenant: l.tenant, keyId: l.key_id, who: keyPrincipal(l.tenant.tenant_id, l.key_id, l.role, l.scope) };
}

/**
 * Why a write key (ingest, `write` routes) is refused, or null when it may send from `origin`. Synchronous and
 * allocation-free on success: the ingest fast path calls it per request. Refusals carry `cors` and close.
 */
/**
 * The write key of a request: X-Tx-Key or ?key= (beacons cannot set headers). Two different keys are refused:
 * which tenant is meant would be a guess. Shared by ingest's fast path and the router's `write` routes; `headers`
 * are added to the refusal (CORS on the public routes). Pure.
 */
export function writeKeyOf(info: ReqInfo, headers: Record<string, string> = {}): { ok: true; key: string } | { ok: false; reply: Reply } {
  const [headerKey, queryKey] = [info.headers['x-tx-key'], info.query.get('key')];
  if (headerKey && queryKey && headerKey !== queryKey) {
    return { ok: false, reply: { ...fail('invalid_field', 'The key is sent both in X-Tx-Key and in ?key= with different values; send one.', { field: 'key', in: 'query' }, headers), close: true } };
  }
  const key = headerKey || queryKey;
  if (!key) return { ok: false, reply: { ...fail('missing_key', 'Send the write key in the X-Tx-Key header or the ?key= query parameter.', {}, headers), close: true } };
  return { ok: true, key };
}

export function writeKeyRefusal(found: KeyCheck, origin: string | undefined, cors: (origin: string | undefined) => Record<string, string>): Reply | null {
  if (!found.ok) {
    const message = found.code === 'revoked_key'
      ? 'This write key was revoked: put the tenant\'s current write key in the page (the operator creates one with POST /api/admin/tenants/{tenant_id}/keys).'
      : 'Unknown key: send the tenant\'s write key (tx_pk_…), as shown once when it was created (POST /api/admin/tenants or POST /api/admin/tenants/{tenant_id}/keys; GET …/keys lists only key hints).';
    return { ...fail(found.code, message, {}, cors(origin)), close: true };
  }
  if (found.lookup.kind !== 'write') {
    // A secret key on a public endpoint means it is about to be (or already is) in a browser: refuse it whole.
    const message = 'This is a secret key (tx_sk_…), which must never be sent from a browser or put in a page. Send the write key (tx_pk_…) here; server-side events go to /api/v1/server-events with Authorization: Bearer <secret key>. If this key was exposed, create a new one.';
    return { ...fail('wrong_key_kind', message, {}, cors(origin)), close: true };
  }
  if (!originAllowed(found.lookup.tenant.allowed_origins, origin)) {
    // The refusal itself is readable so a misconfigured site's SDK stops retrying; nothing was stored.
    return { ...fail('origin_not_allowed', originRefusal(found.lookup, origin), {}, cors(origin)), close: true };
  }
  return null;
}

/** Names the list that refused the origin (the key's own, its site's or the tenant's) and how to change that list. */
export function originRefusal(lookup: Pick<KeyLookup, 'key_id' | 'site_id' | 'origins_from' | 'tenant'>, origin: string | undefined): string {
  const sent = origin === undefined ? 'A request without an Origin header' : `Origin ${origin}`;
  const t = lookup.tenant.tenant_id;
  switch (lookup.origins_from) {
    case 'key':
      return `${sent} is not in this write key's own allowed_origins (key ${lookup.key_id}); send from one of them, or create a write key for this site with POST /api/admin/tenants/${t}/keys {"kind":"write","allowed_origins":[…]}.`;
    case 'site':
      return `${sent} is not in the allowed origins of site ${JSON.stringify(lookup.site_id)}, this write key's site; add it with PATCH /api/admin/tenants/${t} {"site_id":${JSON.stringify(lookup.site_id)},"allowed_origins":[…]} or send from an allowed site.`;
    default:
      return `${sent} is not in this tenant's allowed origins; add it with PATCH /api/admin/tenants/${t} {"allowed_origins":[…]} or send from an allowed site.`;
  }
}

const tokenRefusal = (reason: string): Reply =>
  reason === 'expired' ? fail('token_expired')
    : reason === 'revoked' ? fail('invalid_token', 'The key that minted this token was revoked; mint a new token with a valid key.')
      : fail('invalid_token');

const noHeaders = (): Record<string, string> => ({});

type Resolved = { ok: true; principal: Principal; who?: Who | null } | { ok: false; reply: Reply };

/** Resolves the principal a route's `auth` asks for from the request headers (and `?token=` / `?key=`). */
export async function resolvePrincipal(auth: Auth, info: ReqInfo, deps: Pick<RouterDeps, 'keys' | 'adminToken' | 'tokens'>): Promise<Resolved> {
  switch (auth) {
    case 'none':
      return { ok: true, principal: { kind: 'none' } };
    case 'admin':
      return isAdmin(info, deps.adminToken) ? { ok: true, principal: { kind: 'admin' } } : { ok: false, reply: fail('invalid_admin_token') };
    case 'secret': {
      const s = await secretAuth(deps.keys, info);
      return s.ok ? { ok: true, principal: { kind: 'secret', tenant: s.tenant, keyId: s.keyId }, who: s.who } : s;
    }
    case 'token': {
      const token = bearer(info.headers.authorization) ?? info.query.get('token');
      if (deps.tokens && token?.startsWith(deps.tokens.prefix)) {
        const v = await deps.tokens.verify(token);
        if (!v.ok) return { ok: false, reply: tokenRefusal(v.reason) };
        return { ok: true, principal: { kind: 'token', scope: v.scope }, who: tokenPrincipal(v.scope) };
      }
      const s = await secretAuth(deps.keys, info);
      return s.ok ? { ok: true, principal: { kind: 'token', scope: { role: 'tenant', tenant: s.tenant.tenant_id }, keyId: s.keyId }, who: s.who } : s;
    }
    case 'write': {
      const k = writeKeyOf(info);
      if (!k.ok) return k;
      const found = await deps.keys.check(k.key);
      const refused = writeKeyRefusal(found, info.headers.origin, noHeaders);
      if (refused) return { ok: false, reply: refused };
      return { ok: true, principal: { kind: 'write', tenant: (found as Extract<KeyCheck, { ok: true }>).lookup.tenant } };
    }
  }
}
