// The catalog sync API (README "Catalog"), tenant secret key: PUT a batch of items of one kind, DELETE one,
// GET a keyset page or one item. The body parser refuses the request's shape (not an object, items not an
// array, too many items); each item is then checked on its own and answered per item, like ingest.
import type { Router } from '../http/router.js';
import { fail, NotFoundError, paramFail } from '../http/errors.js';
import { collect, cursor, encodeCursor, int, text, type Parsed, type Where } from '../http/params.js';
import { idDigest } from '../identity/crypto.js';
import { isObj } from '../store/rows.js';
import { checkItems, isKind, KINDS, MAX_ID, MAX_ITEMS, type Kind } from './schemas.js';
import type { CatalogStore } from './store.js';

export interface CatalogChange {
  tenantId: number;
  kind: Kind;
  ids: string[];
}

export interface CatalogRouteDeps {
  store: CatalogStore;
  onChange(change: CatalogChange): void;
  now(): Date;
}

/** Room for 1000 items with gates, artist lists and long titles. */
export const CATALOG_BODY_LIMIT = 8 * 1024 * 1024;

const kindParam = (where: 'path', field: string, raw: string): Parsed<Kind> =>
  isKind(raw) ? { ok: true, value: raw } : { ok: false, error: { code: 'invalid_field', in: where, field, message: `kind must be one of ${KINDS.join(', ')}; got ${JSON.stringify(raw.slice(0, 64))}.` } };

const idParam = (where: Where, field: string, raw: string): Parsed<string> => {
  const t = text(where, field, raw, { max: MAX_ID, required: true });
  return t.ok ? { ok: true, value: t.value as string } : t;
};

type SyncBody = { items: unknown[] } | { tooMany: number };

/** `{"items":[…]}`; more than MAX_ITEMS is its own 413 (answered by the handler with the counts). */
function parseSync(v: unknown): Parsed<SyncBody> {
  if (!isObj(v) || !Array.isArray(v.items)) {
    return { ok: false, error: { code: 'invalid_field', in: 'body', field: 'items', message: 'Send {"items":[…]}: an array of at most 1000 items of this kind.' } };
  }
  return { ok: true, value: v.items.length > MAX_ITEMS ? { tooMany: v.items.length } : { items: v.items } };
}

/**
 * The audit row's target of a catalog deletion. A customer (kind persons) is named by the keyed digest an erasure's
 * tombstone keeps (`sha256:` of "{tenant}:external:{id}"), never by its id: the audit log is kept for a year and
 * holds no tracked person's data (README "Audit log"); an erased customer's id stayed in it as plain text.
 */
export const catalogAuditTarget = (tenantId: number, kind: Kind, id: string): string =>
  kind === 'persons' ? `persons:sha256:${idDigest(tenantId, 'external', id)}` : `${kind}:${id}`;

export function registerCatalogRoutes(router: Router, deps: CatalogRouteDeps): void {
  const { store } = deps;
  const notify = (tenantId: number, changed: Partial<Record<Kind, string[]>>) => {
    for (const [kind, ids] of Object.entries(changed) as [Kind, string[]][]) if (ids.length) deps.onChange({ tenantId, kind, ids });
  };

  router.add({
    method: 'put', path: '/api/v1/catalog/:kind', auth: 'secret', permission: 'manage_catalog', resource: 'tenant', params: { kind: kindParam },
    body: { limit: CATALOG_BODY_LIMIT, parse: parseSync },
    handler: async ({ params, body, principal }) => {
      if ('tooMany' in body) return fail('too_many_items', { limit: MAX_ITEMS, got: body.tooMany }, { limit: MAX_ITEMS });
      const tenantId = principal.tenant.tenant_id;
      const now = deps.now();
      const { valid, indices, rejected } = checkItems(params.kind, body.items, now.getTime());
      let res: Awaited<ReturnType<typeof store.upsert>>;
      try {
        res = await store.upsert(tenantId, params.kind, valid, now);
      } catch (err) {
        // Every kind but persons is stored in several transactions when large or when its genres take much work:
        // those committed before the failure are announced (all the items sent: a re-read of an unchanged one costs nothing).
        if (params.kind !== 'persons') notify(tenantId, { [params.kind]: valid.map((i) => String(i.id)) });
        throw err;
      }
      notify(tenantId, res.changed);
      const upserted = res.changed[params.kind]?.length ?? 0;
      // The store's refusals index the valid items; the answer indexes the request's.
      const all = [...rejected, ...res.rejected.map((r) => ({ ...r, index: indices[r.index] }))].sort((a, b) => a.index - b.index);
      return { status: 200, body: { upserted, unchanged: body.items.length - all.length - upserted, rejected: all } };
    },
  });

  router.add({
    method: 'del', path: '/api/v1/catalog/:kind/:id', auth: 'secret', permission: 'manage_catalog', resource: 'tenant', params: { kind: kindParam, id: idParam },
    // A delete that found nothing to delete (a second one, an unknown id) changed nothing: no audit row.
    audit: ({ params, principal }, reply) => {
      const deleted = (reply.body as { deleted: number }).deleted;
      return deleted === 0 ? null : { action: 'catalog.delete', target: catalogAuditTarget(principal.tenant.tenant_id, params.kind, params.id), details: { deleted } };
    },
    handler: async ({ params, principal }) => {
      const ids = await store.remove(principal.tenant.tenant_id, params.kind, params.id);
      notify(principal.tenant.tenant_id, { [params.kind]: ids });
      return { status: 200, body: { deleted: ids.length } };
    },
  });

  router.add({
    method: 'get', path: '/api/v1/catalog/:kind', auth: 'secret', permission: 'manage_catalog', resource: 'tenant', params: { kind: kindParam }, query: ['limit', 'cursor'],
    handler: async ({ info, params, principal }) => {
      const p = collect({
        limit: int('query', 'limit', info.query.get('limit'), { min: 1, max: 1000, def: 100 }),
        after: cursor(info.query.get('cursor'), `catalog_${params.kind}`, ['text']),
      });
      if (!p.ok) return paramFail(p.error);
      const page = await store.list(principal.tenant.tenant_id, params.kind, p.value.after?.[0] ?? null, p.value.limit);
      return { status: 200, body: { items: page.rows, next_cursor: page.last === null ? null : encodeCursor(`catalog_${params.kind}`, [page.last]) } };
    },
  });

  router.add({
    method: 'get', path: '/api/v1/catalog/:kind/:id', auth: 'secret', permission: 'manage_catalog', resource: 'tenant', params: { kind: kindParam, id: idParam }, query: [],
    handler: async ({ params, principal }) => {
      const item = await store.get(principal.tenant.tenant_id, params.kind, params.id);
      if (!item) throw new NotFoundError('not_found', `No ${params.kind} item with id ${JSON.stringify(params.id)} for this tenant.`);
      return { status: 200, body: item };
    },
  });
}
