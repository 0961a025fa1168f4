// The router every HTTP domain registers its routes with. A route declares what it needs and the router does
// the plumbing once: abort tracking, the header snapshot, authentication, path params (strictly decoded and
// parsed by name), the JSON body (size limit, depth and string checks, an optional schema) and the mapping
// of thrown errors to replies (errors.ts). Handlers get values and return a Reply (or throw a typed error).
//
// Usage:
//   const router = createRouter({ app, log, trustProxy: config.trustProxy, keys, adminToken });
//   router.add({
//     method: 'del', path: '/api/admin/keys/:id', auth: 'admin', params: { id },     // id from params.ts
//     handler: async ({ params }) => ({ status: 200, body: await revoke(params.id) }),
//   });
//   router.add({
//     method: 'post', path: '/api/v1/identify', auth: 'secret', body: { parse: parseIdentify },
//     handler: async ({ principal, body }) => …principal.tenant.tenant_id…,
//   });
// Order of the checks: auth (401/403), then path params (400), then the body (413/400), then the handler.
// The ingest endpoints keep their own fast path (ingest-routes.ts) and share only `writeKeyRefusal`.
import type { Logger } from 'pino';
import { tokenPrincipal, type Scope } from '../live/token.js';
import type { KeyCheck, Tenant } from '../store/tenants.js';
import { can, inScope, keyPrincipal, type EventResource, type Principal as Who, type Resource } from '../authz/principal.js';
import type { Overrides, Permission } from '../authz/roles.js';
import { bearer, originAllowed, safeEqual, type KeyResolver } from './auth.js';
import { errorToReply, fail, paramFail, type ErrorReplyOpts } from './errors.js';
import { checkBody, pathSegments, type ParamError, type Parsed } from './params.js';
import { readBody, send, snapshot, trackAbort, type ReqInfo, type Reply, type TemplatedApp } from './uws.js';

export type Auth = 'admin' | 'secret' | 'write' | 'token' | 'none';

export type Principal =
  | { kind: 'none' }
  | { kind: 'admin' }
  /** keyId: the secret key's id (the audit log's actor). */
  | { kind: 'secret'; tenant: Tenant; keyId?: number }
  | { kind: 'write'; tenant: Tenant }
  /** A dashboard token (its scope) or the tenant secret key (scope `tenant`). */
  /** keyId: set when a secret key was sent to a `token` route (the audit log's actor is then that key). */
  | { kind: 'token'; scope: Scope; keyId?: number };

export type PrincipalOf<A extends Auth> = Extract<Principal, { kind: A }>;

/** A path param parser with params.ts' signature (`id`, or `(w, f, raw) => text(w, f, raw, {…})`). */
export type ParamParser<T> = ((where: 'path', field: string, raw: string) => Parsed<T>) & {
  /** The refusal when the path is not valid percent-encoding (default: the `path` field's), e.g. the API's own bad-id message. */
  malformed?: ParamError;
};
type ParamSpec = Record<string, ParamParser<unknown>>;
type ParamsOf<P extends ParamSpec> = { [K in keyof P]: P[K] extends ParamParser<infer T> ? T : never };

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export interface BodySpec<B> {
  /** Bytes; default 1 MB. */
  limit?: number;
  /** Refuse NUL and lone surrogates anywhere in the body (default true; false where ingest rejects per event). */
  strings?: boolean;
  /** The body's schema: the parsed JSON → the handler's value, or the refused field. Without it: unknown. */
  parse?: (v: unknown) => Parsed<B>;
}

export interface RouteReq<A extends Auth, P extends ParamSpec, B> {
  info: ReqInfo;
  params: ParamsOf<P>;
  body: B;
  principal: PrincipalOf<A>;
  /** The key or token with its role and scope (`secret` and `token` routes); null for admin, write and none. */
  who: Who | null;
}

/**
 * The resource a route touches:
 *   'tenant'              tenant-wide (persons, catalog, settings): the permission alone decides
 *   'whole_tenant'        data that spans every organizer and cannot be cut by scope (audiences, segments,
 *                         every organizer's conversions): the permission, and a key or token whose scope is the
 *                         whole tenant (admin, or no organizers/venues/artists/events listed)
 *   { event: 'p' }        the event of path param p: its organizer, venue and artists (catalog / live owner)
 *   { organizer: 'p' }    the organizer of path param p (also venue / artist)
 *   { query_event: 'q' }  tenant-wide for admin; any other role must name an event in scope in query param q
 */
export type ResourceSpec = 'tenant' | 'whole_tenant' | { event: string } | { organizer: string } | { venue: string } | { artist: string } | { query_event: string };

/** A declared route as the registry lists it (test/authz-matrix.test.ts walks every one). */
export interface RouteInfo {
  method: string;
  path: string;
  auth: Auth;
  permission: Permission | 'none' | null;
  resource: ResourceSpec | null;
}

/** What the router needs for the checks: the tenant's overrides and the resource behind an event id. */
export interface RouterAuthz {
  overrides(tenant: number): Promise<Overrides>;
  event(tenant: number, eventId: string): Promise<EventResource>;
}

export interface RouteSpec<A extends Auth, P extends ParamSpec, B> {
  method: 'get' | 'post' | 'put' | 'del' | 'patch';
  /** uWS pattern with named params: `/api/v1/persons/:id`. Each `:name` needs a parser in `params`. */
  path: string;
  auth: A;
  /**
   * The permission the principal's role needs (authz/roles.ts), checked by the router before the params.
   * Mandatory for `secret` and `token` routes (add() throws without it); `'none'` must be said explicitly.
   */
  permission?: Permission | 'none';
  /** What the request touches, checked against the principal's scope: see ResourceSpec. Mandatory with a permission when the path has params; default 'tenant'. */
  resource?: ResourceSpec;
  params?: P;
  /** Present = the route reads a JSON body. */
  body?: BodySpec<B>;
  /** Messages of the 500/503 this route answers (defaults: errors.ts). */
  errors?: ErrorReplyOpts;
  /** An administrative action: what the audit log records after a 2xx reply (null: nothing to record). */
  audit?: (req: RouteReq<A, P, B>, reply: Reply) => AuditNote | null;
  /** Headers added to every reply of the route, refusals and errors included (CORS on public `/api/tx` routes). */
  headers?: (info: ReqInfo) => Record<string, string>;
  handler(req: RouteReq<A, P, B>): Promise<Reply>;
}

/** What a route tells the audit log; the router adds who (the principal), when and from where (the ip). */
export interface AuditNote {
  action: string;
  target: string | null;
  details?: Record<string, unknown>;
  /** Default: the principal's tenant (none for the admin token). */
  tenant?: number | null;
}

/** Where the router sends audit notes (server/audit/); resolves once the row is written or the failure logged. */
export interface AuditSink {
  note(principal: Principal, info: ReqInfo, note: AuditNote): Promise<unknown>;
}

export interface RouterDeps {
  app: TemplatedApp;
  log: Logger;
  trustProxy: boolean;
  keys: KeyResolver;
  /** The operator token; `admin` routes are refused without it. */
  adminToken?: string;
  /** Dashboard tokens, for `token` routes (the live layer passes its verifier). */
  tokens?: { prefix: string; verify(token: string): { ok: true; scope: Scope } | { ok: false; reason: string } };
  /** The audit log, for routes that declare `audit`. */
  audit?: AuditSink;
  /** Overrides and event owners (authz/index.ts); without it: the default permissions, events known by id only. */
  authz?: RouterAuthz;
  /** Shared by every router of the server, so `routes()` lists them all. */
  listing?: RouteInfo[];
}

export interface Router {
  add<A extends Auth, P extends ParamSpec = Record<never, never>, B = unknown>(spec: RouteSpec<A, P, B>): void;
  /** Every route declared so far (on every router sharing `listing`). */
  routes(): RouteInfo[];
}

/** Position of each `:name` in a path pattern, e.g. `/api/admin/tenants/:tenant_id/keys` → {tenant_id: 3}. Pure. */
export function paramPositions(pattern: string): Record<string, number> {
  const out: Record<string, number> = {};
  pattern.split('/').filter(Boolean).forEach((s, i) => {
    if (s.startsWith(':')) out[s.slice(1)] = i;
  });
  return out;
}

/** The params of `url` for `positions`, percent-decoded strictly and parsed; the first refusal otherwise. Pure. */
export function parseParams<P extends ParamSpec>(url: string, positions: Record<string, number>, parsers: P): Parsed<ParamsOf<P>> {
  const names = Object.keys(positions);
  if (names.length === 0) return { ok: true, value: {} as ParamsOf<P> };
  const seg = pathSegments(url);
  if (!seg.ok) return { ok: false, error: names.map((n) => parsers[n].malformed).find((e) => e !== undefined) ?? seg.error };
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const p = parsers[name]('path', name, seg.value[positions[name]] ?? '');
    if (!p.ok) return p;
    out[name] = p.value;
  }
  return { ok: true, value: out as ParamsOf<P> };
}

/** `Authorization: Bearer <ADMIN_TOKEN>`? Compared in constant time. */
export function isAdmin(info: ReqInfo, adminToken: string | undefined): boolean {
  const token = bearer(info.headers.authorization);
  return token !== null && adminToken !== undefined && adminToken !== '' && safeEqual(token, adminToken);
}

/** The tenant of `Authorization: Bearer <secret key>`, or the 401/403 refusing it (a write key is 403). */
export async function secretAuth(keys: KeyResolver, info: ReqInfo): Promise<{ ok: true; tenant: Tenant; keyId: number; who: Who } | { ok: false; reply: Reply }> {
  const token = bearer(info.headers.authorization);
  if (!token) return { ok: false, reply: fail('missing_key') };
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
export function writeKeyRefusal(found: KeyCheck, origin: string | undefined, cors: (origin: string | undefined) => Record<string, string>): Reply | null {
  if (!found.ok) {
    const message = found.code === 'revoked_key'
      ? 'This write key was revoked: put the tenant\'s current write key in the page (the operator creates one with POST /api/admin/tenants/{tenant_id}/keys).'
      : 'Unknown key: send the tenant\'s write key (tx_pk_…, from POST /api/admin/tenants or GET /api/admin/tenants/{tenant_id}/keys).';
    return { ...fail(found.code, message, {}, cors(origin)), close: true };
  }
  if (found.lookup.kind !== 'write') {
    // A secret key on a public endpoint means it is about to be (or already is) in a browser: refuse it whole.
    const message = 'This is a secret key (tx_sk_…), which must never be sent from a browser or put in a page. Send the write key (tx_pk_…) here; server-side events go to /api/v1/server-events with Authorization: Bearer <secret key>. If this key was exposed, create a new one.';
    return { ...fail('wrong_key_kind', message, {}, cors(origin)), close: true };
  }
  if (!originAllowed(found.lookup.tenant.allowed_origins, origin)) {
    // The refusal itself is readable so a misconfigured site's SDK stops retrying; nothing was stored.
    return { ...fail('origin_not_allowed', `Origin ${origin} is not in this tenant's allowed origins; add it to the tenant's allowed_origins or send from an allowed site.`, {}, cors(origin)), close: true };
  }
  return null;
}

const noHeaders = (): Record<string, string> => ({});

type Resolved = { ok: true; principal: Principal; who?: Who | null } | { ok: false; reply: Reply };

// A dashboard token's principal: one mapping, with the token roles (live/token.ts).
export { tokenPrincipal };

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
        const v = deps.tokens.verify(token);
        if (!v.ok) return { ok: false, reply: fail(v.reason === 'expired' ? 'token_expired' : 'invalid_token') };
        return { ok: true, principal: { kind: 'token', scope: v.scope }, who: tokenPrincipal(v.scope) };
      }
      const s = await secretAuth(deps.keys, info);
      return s.ok ? { ok: true, principal: { kind: 'token', scope: { role: 'tenant', tenant: s.tenant.tenant_id }, keyId: s.keyId }, who: s.who } : s;
    }
    case 'write': {
      const key = info.headers['x-tx-key'] || info.query.get('key');
      if (!key) return { ok: false, reply: { ...fail('missing_key', 'Send the write key in the X-Tx-Key header or the ?key= query parameter.'), close: true } };
      const found = await deps.keys.check(key);
      const refused = writeKeyRefusal(found, info.headers.origin, noHeaders);
      if (refused) return { ok: false, reply: refused };
      return { ok: true, principal: { kind: 'write', tenant: (found as Extract<KeyCheck, { ok: true }>).lookup.tenant } };
    }
  }
}

/** Reads and checks the JSON body of a route (empty body → `{}`, like every route so far). */
async function readJson<B>(bodyP: ReturnType<typeof readBody>, spec: BodySpec<B>): Promise<{ ok: true; value: B } | { ok: false; reply: Reply }> {
  const limit = spec.limit ?? DEFAULT_BODY_LIMIT;
  const b = await bodyP;
  if (!b.ok) {
    const what = limit === DEFAULT_BODY_LIMIT ? '1 MB' : `${limit} bytes`;
    return { ok: false, reply: { ...fail('body_too_large', `Request body exceeds ${what}.`, { limit }), close: true } };
  }
  let value: unknown = {};
  if (b.body.length > 0) {
    try {
      value = JSON.parse(b.body.toString('utf8'));
    } catch (err) {
      return { ok: false, reply: fail('invalid_json', `Body is not valid JSON: ${(err as Error).message}`) };
    }
    const bad = checkBody(value, { strings: spec.strings ?? true });
    if (bad) return { ok: false, reply: paramFail(bad) };
  }
  if (!spec.parse) return { ok: true, value: value as B };
  const p = spec.parse(value);
  return p.ok ? p : { ok: false, reply: paramFail(p.error) };
}

/** The 403 of a principal whose role lacks `permission` (with the tenant's overrides), or null. Pure. */
export function permissionRefusal(who: Who, permission: Permission, overrides: Overrides): Reply | null {
  if (can(who, permission, overrides)) return null;
  return fail('forbidden', `This key or token (role ${who.role}) does not have the permission ${permission}.`, { permission, role: who.role });
}

/** The 403 of a resource outside the principal's scope, or null. Pure. */
export function scopeRefusal(who: Who, permission: Permission, resource: Resource, what: string): Reply | null {
  if (inScope(who, resource)) return null;
  return fail('forbidden', `${what} is outside the scope of this key or token (role ${who.role}).`, { permission, role: who.role, scope: what });
}

/** Registration-time rules of the declared permission and resource; a message for a route breaking them. Pure. */
export function declarationProblem(spec: { method: string; path: string; auth: Auth; permission?: string; resource?: ResourceSpec; params?: ParamSpec }): string | null {
  const name = `Route ${spec.method.toUpperCase()} ${spec.path}`;
  if (spec.auth !== 'secret' && spec.auth !== 'token') return null;
  if (spec.permission === undefined) return `${name}: declare its permission (authz/roles.ts), or permission: 'none' explicitly.`;
  if (spec.permission === 'none') return null;
  // A path without params names no resource: tenant-wide unless declared. A path with params must say what they name.
  if (spec.resource === undefined && Object.keys(paramPositions(spec.path)).length > 0) return `${name}: declare its resource ('tenant', { event: param }, …) so the router checks the scope.`;
  if (typeof spec.resource === 'object' && !('query_event' in spec.resource)) {
    const param = Object.values(spec.resource)[0];
    if (!(param in paramPositions(spec.path))) return `${name}: resource names :${param}, which is not in the path.`;
  }
  return null;
}

/** Whether a scope lists anything: a scope without ids is the whole tenant. Pure. */
export const isLimited = (scope: Who['scope']): boolean => Object.values(scope ?? {}).some((ids) => Array.isArray(ids) && ids.length > 0);

/** The resource of a request for its route's declaration, and how a refusal names it. */
async function resourceOf(spec: ResourceSpec, who: Who, params: Record<string, unknown>, info: ReqInfo, authz: RouterAuthz | undefined): Promise<{ resource: Resource; what: string } | null> {
  // Admin's scope is the tenant: nothing to resolve (no owner lookup on the admin key's requests).
  if (spec === 'tenant' || who.role === 'admin') return null;
  if (spec === 'whole_tenant') {
    if (!isLimited(who.scope)) return null;
    // An empty resource is in no limited scope: refused, naming why.
    return { resource: {}, what: 'data of the whole tenant (this key or token is limited to some organizers, venues, artists or events)' };
  }
  if ('query_event' in spec) {
    const id = info.query.get(spec.query_event);
    if (id === null || id === '') return { resource: {}, what: `the whole tenant (name an event in ${spec.query_event})` };
    return { resource: { event: authz ? await authz.event(who.tenant, id) : { id } }, what: `event ${id}` };
  }
  if ('event' in spec) {
    const id = String(params[spec.event]);
    return { resource: { event: authz ? await authz.event(who.tenant, id) : { id } }, what: `event ${id}` };
  }
  const [kind, param] = Object.entries(spec)[0] as ['organizer' | 'venue' | 'artist', string];
  const id = String(params[param]);
  return { resource: { [kind]: id }, what: `${kind} ${id}` };
}

export function createRouter(deps: RouterDeps): Router {
  const { app, log, trustProxy } = deps;
  const listing = deps.listing ?? [];
  return {
    routes: () => [...listing],
    add<A extends Auth, P extends ParamSpec, B>(spec: RouteSpec<A, P, B>) {
      const positions = paramPositions(spec.path);
      const parsers = (spec.params ?? {}) as P;
      for (const name of Object.keys(positions)) {
        if (typeof parsers[name] !== 'function') throw new Error(`Route ${spec.method.toUpperCase()} ${spec.path}: no parser for :${name}.`);
      }
      if (spec.auth === 'admin' && !deps.adminToken) throw new Error(`Route ${spec.path} needs the admin token, which the router was not given.`);
      const problem = declarationProblem(spec);
      if (problem) throw new Error(problem);
      const resource: ResourceSpec | undefined = spec.resource ?? (spec.permission && spec.permission !== 'none' ? 'tenant' : undefined);
      listing.push({ method: spec.method, path: spec.path, auth: spec.auth, permission: spec.permission ?? null, resource: resource ?? null });
      const permission = spec.permission === 'none' ? undefined : spec.permission;
      app[spec.method](spec.path, (res, req) => {
        const state = trackAbort(res);
        const info = snapshot(res, req, trustProxy);
        const withHeaders = (r: Reply): Reply => (spec.headers ? { ...r, headers: { ...r.headers, ...spec.headers(info) } } : r);
        // Started before any await: uWS delivers the body only to an onData attached in the handler itself.
        const bodyP = spec.body ? readBody(res, state, info.headers['content-length'], spec.body.limit ?? DEFAULT_BODY_LIMIT) : null;
        (async (): Promise<Reply> => {
          const who = await resolvePrincipal(spec.auth, info, deps);
          if (!who.ok) return who.reply;
          const actor = who.who ?? null;
          // The one place permissions are enforced: the role's permission before anything of the request is
          // read, then (once the params are parsed) the resource against the principal's scope.
          if (permission && actor) {
            const refused = permissionRefusal(actor, permission, deps.authz ? await deps.authz.overrides(actor.tenant) : {});
            if (refused) return refused;
          }
          // Whole-tenant data needs no param to judge the scope: refused before the params are read.
          if (permission && actor && resource === 'whole_tenant') {
            const r = await resourceOf(resource, actor, {}, info, deps.authz);
            const refused = r && scopeRefusal(actor, permission, r.resource, r.what);
            if (refused) return refused;
          }
          const params = parseParams(info.url, positions, parsers);
          if (!params.ok) return paramFail(params.error);
          if (permission && actor && resource && resource !== 'whole_tenant') {
            const r = await resourceOf(resource, actor, params.value as Record<string, unknown>, info, deps.authz);
            const refused = r && scopeRefusal(actor, permission, r.resource, r.what);
            if (refused) return refused;
          }
          let body = undefined as B;
          if (spec.body && bodyP) {
            const b = await readJson(bodyP, spec.body);
            if (!b.ok) return b.reply;
            body = b.value;
          }
          const req = { info, params: params.value, body, principal: who.principal as PrincipalOf<A>, who: actor };
          const reply = await spec.handler(req);
          // Recorded before the reply goes out, so a client that reads the log right after sees its own action.
          const note = spec.audit && deps.audit && reply.status >= 200 && reply.status < 300 ? spec.audit(req, reply) : null;
          if (note) await deps.audit!.note(who.principal, info, note);
          return reply;
        })()
          .then((r) => send(res, state, withHeaders(r)))
          .catch((err: unknown) => send(res, state, withHeaders(errorToReply(err, log, spec.errors))));
      });
    },
  };
}
