// The declarations of the router's contract: what a route spec says (auth, permission, resource, params,
// body, audit) and what the router and its handlers exchange (principal, request, audit sink). Types only
// (and the default body limit), so the router's parts (route-auth, route-access, route-input) and every
// domain that registers routes can share them without importing the router's plumbing.
import type { Logger } from 'pino';
import type { Scope } from '../live/token.js';
import type { Tenant } from '../store/tenants.js';
import type { EventResource, Principal as Who } from '../authz/principal.js';
import type { Overrides, Permission } from '../authz/roles.js';
import type { KeyResolver } from './auth.js';
import type { ErrorReplyOpts } from './errors.js';
import type { ParamError, Parsed } from './params.js';
import type { ReqInfo, Reply, TemplatedApp } from './uws.js';

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
export type ParamSpec = Record<string, ParamParser<unknown>>;
export type ParamsOf<P extends ParamSpec> = { [K in keyof P]: P[K] extends ParamParser<infer T> ? T : never };

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export interface BodySpec<B> {
  /** Bytes; default 1 MB. */
  limit?: number;
  /** Refuse NUL and lone surrogates anywhere in the body (default true; false where ingest rejects per event). */
  strings?: boolean;
  /**
   * The body may also be a JSON array (`POST /api/v1/server-events`: a bare list of events). Without it the
   * body must be a JSON object: anything else (an array, a string, a number, null, a boolean) is refused by the
   * router with 400 `invalid_body`, `field: "$"` (BODY_ROOT), before `parse` runs.
   */
  arrays?: boolean;
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
  /** The query parameters the route takes (its `query` declaration); any other name is refused with a 400. */
  query: readonly string[];
  /** The JSON body it reads: a JSON object, an object or an array (`arrays`), or none. */
  body: 'object' | 'object_or_array' | null;
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
  /**
   * The query parameters the route takes, by name; the router refuses any other with 400 `invalid_field`
   * (`in: 'query'`, `field` the name, the message listing these) after the path params, before the handler.
   * Mandatory for `get` routes (add() throws without it; `[]` when it takes none); other methods default to none.
   * List what the router reads for the route too: `token` where a dashboard token may come as `?token=`, `key`
   * for a write key sent as `?key=`, and the name of a `{ query_event }` resource (add() checks that one).
   */
  query?: readonly string[];
  /** Present = the route reads a JSON body. */
  body?: BodySpec<B>;
  /** Messages of the 500/503 this route answers (defaults: errors.ts). */
  errors?: ErrorReplyOpts;
  /** An administrative action: what the audit log records after a 2xx reply (null: nothing; a list: a row each, in order). */
  audit?: (req: RouteReq<A, P, B>, reply: Reply) => AuditNote | AuditNote[] | null;
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

export type TokenCheck = { ok: true; scope: Scope } | { ok: false; reason: string };

export interface RouterDeps {
  app: TemplatedApp;
  log: Logger;
  trustProxy: boolean;
  keys: KeyResolver;
  /** The operator token; `admin` routes are refused without it. */
  adminToken?: string;
  /** Dashboard tokens, for `token` routes (the live layer passes its verifier). */
  /**
   * Dashboard tokens: `verify` answers whether the token is valid now, its minting key's revocation included
   * (asynchronous: a node that has not seen the key yet reads its status first).
   */
  tokens?: { prefix: string; verify(token: string): TokenCheck | Promise<TokenCheck> };
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
