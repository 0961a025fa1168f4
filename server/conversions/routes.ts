// The conversions status API (README "Server-side conversions"), tenant secret key:
//   GET  /api/v1/conversions?status=&destination=&cursor=&limit=   newest first, keyset pages, counts per destination
//   POST /api/v1/conversions/{id}/retry                           a dead row goes back to pending (fresh 24 h)
//   POST /api/v1/conversions/retry {"destination"}                every dead row of a destination, the same way
//   GET|PUT /api/v1/settings/conversions                          {"purchase_basis":"consent"|"legitimate_interest"}
import type { Router } from '../http/router.js';
import { ConflictError, NotFoundError, paramFail } from '../http/errors.js';
import { collect, cursor, describeJson, id, int, listKind, nextCursor, pageOf, type Parsed, type Where } from '../http/params.js';
import type { Db } from '../store/db.js';
import { isoIfDate, isObj } from '../store/rows.js';
import { queries } from '../store/queries.js';
import { platformEventId, PROVIDERS } from './adapter.js';

const Q = queries('conversions.sql', ['list_conversions', 'count_conversions', 'retry_dead', 'retry_destination', 'status_of', 'first_of_order', 'get_settings', 'put_settings']);

export const STATUSES = ['pending', 'sent', 'dead'] as const;
export const BASES = ['consent', 'legitimate_interest'] as const;
const CURSOR_KIND = 'conversions';

const oneOf = <T extends string>(where: Where, field: string, raw: string | null | undefined, values: readonly T[]): Parsed<T | null> => {
  if (raw === null || raw === undefined || raw === '') return { ok: true, value: null };
  return (values as readonly string[]).includes(raw)
    ? { ok: true, value: raw as T }
    : { ok: false, error: { code: 'invalid_field', in: where, field, message: `${field} must be one of ${values.join(', ')}.` } };
};

const DESTINATION = new RegExp(`^(${PROVIDERS.join('|')}):([1-9][0-9]{0,14})$`);

/**
 * A destination as the outbox names it: '<provider>:<tracking code id>' (meta:12). Anything else is refused
 * naming `destination` (a bare provider matched no row and the list came back unfiltered-looking). Pure.
 */
export function parseDestination(where: Where, raw: string | null | undefined): Parsed<string | null> {
  if (raw === null || raw === undefined || raw === '') return { ok: true, value: null };
  return DESTINATION.test(raw)
    ? { ok: true, value: raw }
    : { ok: false, error: { code: 'invalid_field', in: where, field: 'destination', message: `destination must be "<provider>:<tracking code id>", provider one of ${PROVIDERS.join(', ')} (e.g. meta:12).` } };
}

/** POST /api/v1/conversions/retry: {"destination": "<provider>:<code id>"} and nothing else. Pure. */
export function parseBulkRetry(v: unknown): Parsed<{ destination: string }> {
  const shape = 'Send {"destination":"<provider>:<tracking code id>"} (e.g. {"destination":"meta:12"}).';
  if (!isObj(v)) return { ok: false, error: { code: 'invalid_field', in: 'body', field: '', message: shape } };
  const extra = Object.keys(v).find((k) => k !== 'destination');
  if (extra) return { ok: false, error: { code: 'invalid_field', in: 'body', field: extra.slice(0, 40), message: `Unknown field ${JSON.stringify(extra.slice(0, 40))}; ${shape}` } };
  if (v.destination === undefined || v.destination === '') return { ok: false, error: { code: 'invalid_field', in: 'body', field: 'destination', message: `destination is required. ${shape}` } };
  // A value of another type was sent: "required" would send the caller looking for a missing field.
  if (typeof v.destination !== 'string') return { ok: false, error: { code: 'invalid_field', in: 'body', field: 'destination', message: `destination must be a string; got ${describeJson(v.destination)}. ${shape}` } };
  const d = parseDestination('body', v.destination);
  return d.ok ? { ok: true, value: { destination: d.value! } } : d;
}

/** {"purchase_basis": …} and nothing else. */
export function parseSettings(v: unknown): Parsed<{ purchase_basis: (typeof BASES)[number] }> {
  if (!isObj(v)) return { ok: false, error: { code: 'invalid_field', in: 'body', field: '', message: 'Send {"purchase_basis":"consent"|"legitimate_interest"}.' } };
  const extra = Object.keys(v).find((k) => k !== 'purchase_basis');
  if (extra) return { ok: false, error: { code: 'invalid_field', in: 'body', field: extra, message: `Unknown field ${extra}; only purchase_basis can be set.` } };
  const b = v.purchase_basis;
  return typeof b === 'string' && (BASES as readonly string[]).includes(b)
    ? { ok: true, value: { purchase_basis: b as (typeof BASES)[number] } }
    : { ok: false, error: { code: 'invalid_field', in: 'body', field: 'purchase_basis', message: `purchase_basis must be one of ${BASES.join(', ')}.` } };
}

const row = (r: Record<string, unknown>) => ({
  ...r,
  id: Number(r.id),
  // The id Meta and TikTok deduplicate the row by (a purchase's order id, else the tx event's id), as sent.
  platform_event_id: r.provider === 'meta' || r.provider === 'tiktok'
    ? platformEventId({ event_id: String(r.event_id), event_name: String(r.event_name), data: { order_id: typeof r.order_id === 'string' ? r.order_id : undefined } })
    : null,
  order_id: r.order_id ?? null,
  code_id: Number(r.code_id),
  occurred_at: isoIfDate(r.occurred_at),
  next_attempt_at: r.status === 'pending' ? isoIfDate(r.next_at) : null,
  next_at: undefined,
  created_at: isoIfDate(r.created_at),
  sent_at: isoIfDate(r.sent_at),
});

export function registerConversionRoutes(router: Router, deps: { db: Db }): void {
  const { db } = deps;
  router.add({
    // Every organizer's purchases: manage_ads (organizer keys have view_ad_analytics, for their own campaigns'
    // figures, not this), and a key limited to some organizers is refused (router 'whole_tenant').
    method: 'get', path: '/api/v1/conversions', auth: 'secret', permission: 'manage_ads', resource: 'whole_tenant', query: ['status', 'destination', 'limit', 'cursor'],
    handler: async ({ info, principal }) => {
      const p = collect({
        status: oneOf('query', 'status', info.query.get('status'), STATUSES),
        destination: parseDestination('query', info.query.get('destination')),
        limit: int('query', 'limit', info.query.get('limit'), { min: 1, max: 1000, def: 100 }),
      });
      if (!p.ok) return paramFail(p.error);
      const t = principal.tenant.tenant_id;
      const { status, destination, limit } = p.value;
      // The cursor holds the filters it was made under: with others it would skip rows of this listing.
      const kind = listKind(CURSOR_KIND, { status, destination });
      const after = cursor(info.query.get('cursor'), kind, ['id']);
      if (!after.ok) return paramFail(after.error);
      const page = pageOf((await db.query<Record<string, unknown>>(Q.list_conversions, [t, status, destination, after.value?.[0] ?? null, limit + 1])).rows, limit);
      const items = page.rows.map(row);
      const counts = (await db.query<Record<string, unknown>>(Q.count_conversions, [t])).rows.map((c) => ({
        ...c, held_since: isoIfDate(c.held_since), next_attempt_at: isoIfDate(c.next_attempt_at),
      }));
      return { status: 200, body: { items, counts, next_cursor: nextCursor(kind, { rows: items, more: page.more }, (x) => [x.id]) } };
    },
  });

  router.add({
    method: 'post', path: '/api/v1/conversions/:id/retry', auth: 'secret', permission: 'manage_ads', resource: 'whole_tenant', params: { id },
    audit: ({ params }) => ({ action: 'conversion.retry', target: `conversion:${params.id}` }),
    handler: async ({ params, principal }) => {
      const t = principal.tenant.tenant_id;
      // A duplicate of an order already queued for the destination is never sent again (the first row is).
      const first = (await db.query<{ id: string | number }>(Q.first_of_order, [t, params.id])).rows[0];
      if (first) throw new ConflictError(`Conversion ${params.id} is the same order as conversion ${Number(first.id)} for this destination: an order is sent once; retry ${Number(first.id)} if it is dead.`, { duplicate_of: Number(first.id) });
      const done = (await db.query(Q.retry_dead, [t, params.id])).rows[0];
      if (done) return { status: 200, body: { id: params.id, status: 'pending' } };
      const now = (await db.query<{ status: string }>(Q.status_of, [t, params.id])).rows[0];
      if (!now) throw new NotFoundError('not_found', `No conversion ${params.id} for this tenant.`);
      throw new ConflictError(`Only a dead conversion can be retried; conversion ${params.id} is ${now.status === 'sending' ? 'pending' : now.status}.`, { status: now.status === 'sending' ? 'pending' : now.status });
    },
  });

  router.add({
    // After a destination was fixed (a new token): every dead row of it goes back to pending, as the single retry
    // does; the duplicates of an order the destination already has a row for stay dead (counted).
    method: 'post', path: '/api/v1/conversions/retry', auth: 'secret', permission: 'manage_ads', resource: 'whole_tenant', body: { parse: parseBulkRetry },
    audit: ({ body }, reply) => ({ action: 'conversion.retry', target: `destination:${body.destination}`, details: { retried: (reply.body as { retried: number }).retried } }),
    handler: async ({ body, principal }) => {
      const r = (await db.query<{ retried: number; duplicates: number }>(Q.retry_destination, [principal.tenant.tenant_id, body.destination])).rows[0];
      return { status: 200, body: { destination: body.destination, retried: Number(r.retried), duplicates: Number(r.duplicates) } };
    },
  });

  router.add({
    method: 'get', path: '/api/v1/settings/conversions', auth: 'secret', permission: 'manage_settings', resource: 'tenant', query: [],
    handler: async ({ principal }) => {
      const s = (await db.query<{ purchase_basis: string; updated_at: unknown }>(Q.get_settings, [principal.tenant.tenant_id])).rows[0];
      return { status: 200, body: { purchase_basis: s?.purchase_basis ?? 'consent', updated_at: s ? isoIfDate(s.updated_at) : null } };
    },
  });

  router.add({
    method: 'put', path: '/api/v1/settings/conversions', auth: 'secret', permission: 'manage_settings', resource: 'tenant', body: { parse: parseSettings },
    audit: (_req, reply) => ({ action: 'conversions.settings', target: null, details: { purchase_basis: (reply.body as { purchase_basis: string }).purchase_basis } }),
    handler: async ({ body, principal }) => {
      const s = (await db.query<{ purchase_basis: string; updated_at: unknown }>(Q.put_settings, [principal.tenant.tenant_id, body.purchase_basis])).rows[0];
      return { status: 200, body: { purchase_basis: s.purchase_basis, updated_at: isoIfDate(s.updated_at) } };
    },
  });
}
