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
//     method: 'get', path: '/api/admin/tenants', auth: 'admin', query: ['limit', 'cursor'],   // `get`: mandatory
//     handler: async ({ info }) => …info.query.get('limit')…,                               // ?other=1 → 400
//   });
//   router.add({
//     method: 'post', path: '/api/v1/identify', auth: 'secret', body: { parse: parseIdentify },
//     handler: async ({ principal, body }) => …principal.tenant.tenant_id…,
//   });
// Order of the checks: auth (401/403), then path params (400), then the query's parameter names (400: each
// route declares the ones it takes in `query`, so a mistyped filter is refused instead of answering
// unfiltered data), then the body (413/400: a JSON object unless the route declares `arrays`), then the handler.
// Raw bytes that are not UTF-8 in the path or the query (uWS's getUrl/getQuery hand them over as U+FFFD) are
// refused like malformed percent-encoding, never read as U+FFFD.
// The ingest endpoints keep their own fast path (ingest-routes.ts) and share only `writeKeyRefusal`.
// The parts: route-types.ts (the declarations), route-auth.ts (who is asking), route-access.ts (permission
// and scope), route-input.ts (path params and body). Everything they export is re-exported here, so the
// domains keep importing from router.js.
import { readsWholeTenant } from '../authz/principal.js';
import { tokenPrincipal } from '../live/token.js';
import { errorToReply, paramFail } from './errors.js';
import { queryProblem, type ParamError } from './params.js';
import { readBody, send, snapshot, trackAbort, type Reply } from './uws.js';
import { declarationProblem, permissionRefusal, resourceOf, scopeRefusal } from './route-access.js';
import { resolvePrincipal } from './route-auth.js';
import { paramPositions, parseParams, readJson, replacedQueryBytes } from './route-input.js';
import { DEFAULT_BODY_LIMIT, type Auth, type ParamSpec, type PrincipalOf, type ResourceSpec, type Router, type RouterDeps, type RouteSpec } from './route-types.js';

export {
  DEFAULT_BODY_LIMIT,
  type AuditNote, type AuditSink, type Auth, type BodySpec, type ParamParser, type Principal, type PrincipalOf, type ResourceSpec,
  type RouteInfo, type Router, type RouterAuthz, type RouterDeps, type RouteReq, type RouteSpec,
} from './route-types.js';
export { isAdmin, resolvePrincipal, secretAuth, writeKeyOf, writeKeyRefusal } from './route-auth.js';
export { declarationProblem, eventOrganizerRefusal, isLimited, permissionRefusal, scopeRefusal } from './route-access.js';
export { paramPositions, parseParams, replacedQueryBytes } from './route-input.js';

// A dashboard token's principal: one mapping, with the token roles (live/token.ts).
export { tokenPrincipal };

/** Why a route's `query` declaration is wrong (a `get` route without one, a `query_event` it omits), or null. */
export function queryDeclarationProblem(spec: Pick<RouteSpec<Auth, ParamSpec, unknown>, 'method' | 'path' | 'query' | 'resource'>): string | null {
  const route = `Route ${spec.method.toUpperCase()} ${spec.path}`;
  if (spec.query === undefined) {
    return spec.method === 'get' ? `${route} must declare the query parameters it takes (query: ['limit', 'cursor'], or [] for none).` : null;
  }
  if (spec.query.some((name, i) => name === '' || spec.query!.indexOf(name) !== i)) return `${route}: query names each parameter once, none empty.`;
  const r = spec.resource;
  if (r && typeof r === 'object' && 'query_event' in r && !spec.query.includes(r.query_event)) return `${route}: its resource is named by ?${r.query_event}=, which query must list.`;
  return null;
}

/** The first query parameter not among `accepted` (the route's declaration), as the 400 naming it, or null. */
export function unknownQueryParam(query: URLSearchParams, accepted: readonly string[]): ParamError | null {
  for (const name of query.keys()) {
    if (accepted.includes(name)) continue;
    const takes = accepted.length > 0 ? `this route takes ${accepted.join(', ')}` : 'this route takes no query parameters';
    // `field` is never empty: a parameter without a name (`?=x`) is the query string's fault as a whole.
    if (name === '') return { code: 'invalid_field', in: 'query', field: '$', message: `A query parameter has no name (as in ?=value): remove it; ${takes}.` };
    const field = name.slice(0, 40);
    return { code: 'invalid_field', in: 'query', field, message: `Unknown query parameter ${JSON.stringify(field)}: ${takes}.` };
  }
  return null;
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
      const problem = declarationProblem(spec) ?? queryDeclarationProblem(spec);
      if (problem) throw new Error(problem);
      const accepted: readonly string[] = [...(spec.query ?? [])];
      const resource: ResourceSpec | undefined = spec.resource ?? (spec.permission && spec.permission !== 'none' ? 'tenant' : undefined);
      const body = spec.body ? (spec.body.arrays ? 'object_or_array' : 'object') : null;
      listing.push({ method: spec.method, path: spec.path, auth: spec.auth, permission: spec.permission ?? null, resource: resource ?? null, query: accepted, body });
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
          // view_all_analytics lifts the scope of an analytics read (readsWholeTenant): no resource to check.
          let scoped = true;
          if (permission && actor) {
            const overrides = deps.authz ? await deps.authz.overrides(actor.tenant) : {};
            const refused = permissionRefusal(actor, permission, overrides);
            if (refused) return refused;
            scoped = !readsWholeTenant(actor, permission, overrides);
          }
          // Whole-tenant data needs no param to judge the scope: refused before the params are read.
          if (permission && actor && scoped && resource === 'whole_tenant') {
            const r = await resourceOf(resource, actor, {}, info, deps.authz);
            const refused = r && scopeRefusal(actor, permission, r.resource, r.what);
            if (refused) return refused;
          }
          const params = parseParams(info.url, positions, parsers);
          if (!params.ok) return paramFail(params.error);
          const badQuery = replacedQueryBytes(info.rawQuery ?? '') ?? queryProblem(info.rawQuery ?? '', info.query);
          if (badQuery) return paramFail(badQuery);
          const unknown = unknownQueryParam(info.query, accepted);
          if (unknown) return paramFail(unknown);
          if (permission && actor && scoped && resource && resource !== 'whole_tenant') {
            const r = await resourceOf(resource, actor, params.value as Record<string, unknown>, info, deps.authz);
            const refused = r && scopeRefusal(actor, permission, r.resource, r.what);
            if (refused) return refused;
          }
          let body = undefined as B;
          if (spec.body && bodyP) {
            const b = await readJson(bodyP, spec.body, info.headers);
            if (!b.ok) return b.reply;
            body = b.value;
          }
          const req = { info, params: params.value, body, principal: who.principal as PrincipalOf<A>, who: actor };
          const reply = await spec.handler(req);
          // Recorded before the reply goes out, so a client that reads the log right after sees its own action.
          const notes = spec.audit && deps.audit && reply.status >= 200 && reply.status < 300 ? spec.audit(req, reply) : null;
          for (const note of notes === null ? [] : [notes].flat()) await deps.audit!.note(who.principal, info, note);
          return reply;
        })()
          .then((r) => send(res, state, withHeaders(r), log))
          .catch((err: unknown) => send(res, state, withHeaders(errorToReply(err, log, spec.errors)), log));
      });
    },
  };
}
