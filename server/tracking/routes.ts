// Tracking codes over HTTP (README "Tracking codes"):
//   POST   /api/v1/tracking-codes              create (201); a second code for the same owner and provider is 409
//   GET    /api/v1/tracking-codes              ?organizer_id&event_id&provider&owner&limit&cursor (keyset on id)
//   GET    /api/v1/tracking-codes/{id}
//          (both reads: each code's `delivery`, its server-side destination's state: held, pending, failing, dead)
//   PUT    /api/v1/tracking-codes/{id}         {"enabled"?,"settings"?,"secrets"?}
//   DELETE /api/v1/tracking-codes/{id}
//   GET    /api/tx/tracking-config             write key, public (CORS): the codes of a page, JSON or HTML snippets
// The /api/v1 routes take the secret key or a dashboard token (the organizer dashboard's tracking page) and need
// manage_tracking_codes. An admin key manages the whole tenant, the marketplace's codes included; any other key
// or token only codes of its organizers (or events), and never the marketplace's.
import { inScope, type Principal as Who } from '../authz/principal.js';
import { ConflictError, fail, NotFoundError, paramFail } from '../http/errors.js';
import { collect, cursor, id, int, listKind, nextCursor, pageOf, text, type Parsed } from '../http/params.js';
import type { AuditNote, Router } from '../http/router.js';
import { eventOrganizerRefusal, scopeRefusal } from '../http/router.js';
import { corsHeaders } from '../http/ingest-routes.js';
import type { Reply } from '../http/uws.js';
import type { Cipher } from '../identity/crypto.js';
import type { Db } from '../store/db.js';
import type { ResolutionCache } from './cache.js';
import { nonceOk, renderSnippets, type PublicCode, type ScriptUrls } from './snippets.js';
import { encryptSecrets, readableSecrets, trackingStore as store, viewOf, type TrackingCodeRow, type TrackingCodeView } from './store.js';
import { applySecrets, isProvider, MAX_OWNER_ID, parseCodePatch, parseNewCode, PROVIDERS, type CodePatch, type Owner } from './validate.js';

export interface Resolution {
  event_id: string | null;
  organizer_id: string | null;
  codes: PublicCode[];
}

export interface TrackingRouteDeps {
  db: Db;
  cipher: Cipher;
  cache: ResolutionCache<Resolution>;
  /** The organizer of an event (catalog, else the live owner); null when unknown. A new event code must name it. */
  organizerOf(tenant: number, eventId: string): Promise<string | null>;
  scriptUrls: ScriptUrls;
}

const PERMISSION = 'manage_tracking_codes' as const;
const OWNERS: Owner[] = ['marketplace', 'organizer', 'event'];
// The query parameters of the two reads; the router refuses any other (http/router.ts). The /api/v1 routes
// other than the list take none but a dashboard token as ?token=.
const CONFIG_PARAMS = ['key', 'event_id', 'organizer_id', 'format', 'nonce'] as const;
const LIST_PARAMS = ['organizer_id', 'event_id', 'provider', 'owner', 'limit', 'cursor'] as const;

/**
 * The refusal of a code outside the key's scope (the marketplace's codes are admin-only), or null. `what` names
 * it in the refusal: by default what a new code's body names itself; for a stored code its id, since its
 * organizer or event is another organizer's and not the caller's to read.
 */
function outOfScope(who: Who | null, c: { organizer_id: string | null; event_id: string | null }, what?: string) {
  if (!who || who.role === 'admin') return null;
  if (c.organizer_id === null) return fail('forbidden', 'The marketplace\'s own codes (no organizer_id) are managed with an admin key.', { permission: PERMISSION, role: who.role, scope: 'marketplace' });
  const resource = c.event_id !== null ? { event: { id: c.event_id, organizer_id: c.organizer_id } } : { organizer: c.organizer_id };
  return inScope(who, resource) ? null : scopeRefusal(who, PERMISSION, resource, what ?? (c.event_id !== null ? `event ${c.event_id}` : `organizer ${c.organizer_id}`));
}

/** The audit note of a change, from the code's view in the reply (never a secret). */
const note = (action: string, reply: Reply, details: Record<string, unknown> = {}): AuditNote => {
  const v = reply.body as TrackingCodeView;
  return { action, target: `tracking_code:${v.id}`, details: { provider: v.provider, organizer_id: v.organizer_id, event_id: v.event_id, enabled: v.enabled, ...details } };
};

const queryFail = (field: string, message: string) => paramFail({ code: 'invalid_field', in: 'query', field, message });

export function registerTrackingRoutes(router: Router, deps: TrackingRouteDeps): void {
  const { db, cipher, cache } = deps;
  // What each update's reply changed (codeChanges), for its audit note: only the handler sees the code before.
  const changesOf = new WeakMap<Reply, string[]>();
  const needsCipher = (has: boolean) => (has && !cipher.available ? fail('encryption_not_configured', 'ENCRYPTION_KEY is not set on this server, so access tokens and API secrets cannot be stored. Set ENCRYPTION_KEY (64 hex characters, `openssl rand -hex 32`) on every node and restart.') : null);

  router.add({
    method: 'post', path: '/api/v1/tracking-codes', auth: 'token', permission: PERMISSION, resource: 'tenant', body: { limit: 64 * 1024, parse: parseNewCode }, query: ['token'],
    audit: (_req, reply) => note('tracking_code.created', reply),
    handler: async ({ who, body }) => {
      const tenant = who!.tenant;
      const refused = outOfScope(who, body) ?? needsCipher(Object.values(body.secrets).some((v) => v !== null));
      if (refused) return refused;
      const mismatch = await eventOrganizerRefusal(who, PERMISSION, tenant, body, deps.organizerOf);
      if (mismatch) return mismatch;
      const secrets = applySecrets({}, body.secrets);
      const row = await store.insert(db, tenant, { ...body, secrets_enc: encryptSecrets(cipher, tenant, body, secrets) });
      if ('exists' in row) throw new ConflictError(`This owner already has a ${body.provider} code (id ${row.exists}): change it with PUT /api/v1/tracking-codes/${row.exists}.`, { id: row.exists });
      cache.invalidate(tenant);
      return { status: 201, body: viewOf(row, cipher) };
    },
  });

  router.add({
    method: 'get', path: '/api/v1/tracking-codes', auth: 'token', permission: PERMISSION, resource: 'tenant', query: LIST_PARAMS,
    handler: async ({ info, who }) => {
      const q = info.query;
      const provider = q.get('provider');
      if (provider !== null && !isProvider(provider)) return queryFail('provider', `provider is one of ${PROVIDERS.join(', ')}.`);
      const owner = q.get('owner');
      if (owner !== null && !(OWNERS as string[]).includes(owner)) return queryFail('owner', `owner is one of ${OWNERS.join(', ')}.`);
      const p = collect({
        organizer_id: text('query', 'organizer_id', q.get('organizer_id'), { max: MAX_OWNER_ID }),
        event_id: text('query', 'event_id', q.get('event_id'), { max: MAX_OWNER_ID }),
        limit: int('query', 'limit', q.get('limit'), { min: 1, max: 500, def: 100 }),
      });
      if (!p.ok) return paramFail(p.error);
      // The cursor holds the filters it was made under: with others it would skip rows of this listing.
      const kind = listKind('tracking_codes', { organizer_id: p.value.organizer_id, event_id: p.value.event_id, provider, owner });
      const after = cursor(q.get('cursor'), kind, ['id']);
      if (!after.ok) return paramFail(after.error);
      const scope = !who || who.role === 'admin' ? null : { organizers: who.scope.organizers ?? [], events: who.scope.events ?? [] };
      const page = pageOf(await store.list(db, who!.tenant, {
        scope, organizer_id: p.value.organizer_id, event_id: p.value.event_id, provider: provider as never, owner: owner as Owner | null,
        after: after.value ? Number(after.value[0]) : null, limit: p.value.limit + 1,
      }), p.value.limit);
      const delivery = await store.delivery(db, who!.tenant, page.rows.map((r) => r.id));
      return { status: 200, body: { items: page.rows.map((r) => ({ ...viewOf(r, cipher), delivery: delivery.get(r.id) })), next_cursor: nextCursor(kind, page, (r) => [r.id]) } };
    },
  });

  const load = async (tenant: number, codeId: number, who: Who | null) => {
    const row = await store.get(db, tenant, codeId);
    if (!row) throw new NotFoundError('not_found', `No tracking code ${codeId} for this tenant.`);
    return { row, refused: outOfScope(who, row, `tracking code ${codeId}`) };
  };

  router.add({
    method: 'get', path: '/api/v1/tracking-codes/:id', auth: 'token', permission: PERMISSION, resource: 'tenant', params: { id }, query: ['token'],
    handler: async ({ params, who }) => {
      const { row, refused } = await load(who!.tenant, params.id, who);
      if (refused) return refused;
      const delivery = await store.delivery(db, who!.tenant, [row.id]);
      return { status: 200, body: { ...viewOf(row, cipher), delivery: delivery.get(row.id) } };
    },
  });

  router.add({
    method: 'put', path: '/api/v1/tracking-codes/:id', auth: 'token', permission: PERMISSION, resource: 'tenant', params: { id }, body: { limit: 64 * 1024 }, query: ['token'],
    // Audited only when something changed: an update that sets what was there is no administrative action.
    audit: (_req, reply) => {
      const changed = changesOf.get(reply) ?? [];
      return changed.length ? note('tracking_code.updated', reply, { changed }) : null;
    },
    handler: async ({ params, who, body }) => {
      const tenant = who!.tenant;
      const { row, refused } = await load(tenant, params.id, who);
      if (refused) return refused;
      const patch = parseCodePatch(row.provider, body);
      if (!patch.ok) return paramFail(patch.error);
      const p = patch.value;
      const touchesSecrets = Object.keys(p.secrets).length > 0;
      const noCipher = needsCipher(Object.values(p.secrets).some((v) => v !== null));
      if (noCipher) return noCipher;
      const before = readableSecrets(cipher, row);
      const secrets_enc = touchesSecrets ? encryptSecrets(cipher, tenant, row, applySecrets(before, p.secrets)) : row.secrets_enc;
      const updated = await store.update(db, tenant, row.id, { enabled: p.enabled ?? row.enabled, settings: p.settings ?? row.settings, secrets_enc });
      if (!updated) throw new NotFoundError('not_found', `No tracking code ${params.id} for this tenant.`);
      cache.invalidate(tenant);
      const reply: Reply = { status: 200, body: viewOf(updated, cipher) };
      changesOf.set(reply, codeChanges(row, before, p));
      return reply;
    },
  });

  router.add({
    method: 'del', path: '/api/v1/tracking-codes/:id', auth: 'token', permission: PERMISSION, resource: 'tenant', params: { id }, query: ['token'],
    audit: (_req, reply) => note('tracking_code.deleted', reply),
    handler: async ({ params, who }) => {
      const tenant = who!.tenant;
      const { refused } = await load(tenant, params.id, who);
      if (refused) return refused;
      const row = await store.remove(db, tenant, params.id);
      if (!row) throw new NotFoundError('not_found', `No tracking code ${params.id} for this tenant.`);
      cache.invalidate(tenant);
      return { status: 200, body: { ...viewOf(row, cipher), deleted: true } };
    },
  });

  router.add({
    method: 'get', path: '/api/tx/tracking-config', auth: 'write', query: CONFIG_PARAMS,
    headers: (info) => ({ ...corsHeaders(info.headers.origin), 'Cache-Control': 'no-store' }),
    handler: async ({ info, principal }) => {
      const q = info.query;
      const p = collect({
        event_id: text('query', 'event_id', q.get('event_id'), { max: MAX_OWNER_ID }),
        organizer_id: text('query', 'organizer_id', q.get('organizer_id'), { max: MAX_OWNER_ID }),
        format: format(q.get('format')),
      });
      if (!p.ok) return paramFail(p.error);
      if (p.value.event_id !== null && p.value.organizer_id !== null) return queryFail('organizer_id', 'Send event_id (an event page) or organizer_id (an organizer page), not both.');
      const nonce = q.get('nonce');
      if (p.value.format === 'html' && (nonce === null || !nonceOk(nonce))) return queryFail('nonce', 'format=html needs nonce: the page\'s CSP nonce, 8-128 base64 characters.');
      if (p.value.format === 'json' && nonce !== null) return queryFail('nonce', 'nonce is for format=html.');
      const tenant = principal.tenant.tenant_id;
      const key = p.value.event_id !== null ? `e:${p.value.event_id}` : p.value.organizer_id !== null ? `o:${p.value.organizer_id}` : 'm';
      const { value } = await cache.get(tenant, key);
      if (p.value.format === 'json') return { status: 200, body: value };
      const html = renderSnippets(value.codes, nonce!, deps.scriptUrls);
      return { status: 200, body: { event_id: value.event_id, organizer_id: value.organizer_id, head: html.head, body: html.body, codes: html.codes } };
    },
  });
}

function format(raw: string | null): Parsed<'json' | 'html'> {
  if (raw === null || raw === '' || raw === 'json') return { ok: true, value: 'json' };
  if (raw === 'html') return { ok: true, value: 'html' };
  return { ok: false, error: { code: 'invalid_field', in: 'query', field: 'format', message: 'format is json (default) or html.' } };
}

/** JSON with every object's keys sorted: stored settings (jsonb reorders keys) compare with a patch's. Pure. */
const canonical = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x)
  ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  : x));

/**
 * What an update really changes, for the audit log: field names, never secret values. A field set to what it
 * was is no change; a secret removed that the code did not hold (or could not read) is none either. Pure.
 */
export function codeChanges(row: Pick<TrackingCodeRow, 'enabled' | 'settings'>, secrets: Partial<Record<'access_token' | 'api_secret', string>>, patch: CodePatch): string[] {
  const out: string[] = [];
  if (patch.enabled !== undefined && patch.enabled !== row.enabled) out.push('enabled');
  if (patch.settings !== undefined && canonical(patch.settings) !== canonical(row.settings)) out.push('settings');
  for (const [k, v] of Object.entries(patch.secrets) as ['access_token' | 'api_secret', string | null][]) {
    if (v === null ? secrets[k] !== undefined : secrets[k] !== v) out.push(`secrets.${k}${v === null ? ' (removed)' : ''}`);
  }
  return out;
}

/**
 * The resolution of a cache key (`e:<event>`, `o:<organizer>`, `m`): what GET /api/tx/tracking-config answers.
 * An event's organizer is read from the store (`pageOrganizer`), not from the scope checks' few-seconds cache:
 * the entry is kept 5 min under a fingerprint read before it, so it must see at least that state.
 */
export async function computeResolution(
  deps: { db: Db; pageOrganizer(q: Db, tenant: number, eventId: string): Promise<string | null> },
  resolve: (q: Db, tenant: number, who: { organizerId: string | null; eventId: string | null }) => Promise<TrackingCodeRow[]>,
  publicOf: (r: TrackingCodeRow) => PublicCode,
  tenant: number,
  key: string,
): Promise<Resolution> {
  const eventId = key.startsWith('e:') ? key.slice(2) : null;
  const organizerId = key.startsWith('o:') ? key.slice(2) : eventId !== null ? await deps.pageOrganizer(deps.db, tenant, eventId) : null;
  const rows = await resolve(deps.db, tenant, { organizerId, eventId });
  return { event_id: eventId, organizer_id: organizerId, codes: rows.map(publicOf) };
}
