// HTTP API of the identity domain (tenant secret key):
//   POST   /api/v1/server-events               server-side truth (orders, payments, refunds, points, shop)
//   POST   /api/v1/identify                    login: link a visitor to the tenant's customer
//   GET    /api/v1/sessions[?visitor_id|person_id|limit], GET /api/v1/sessions/{session_id}
//   GET    /api/v1/persons?external_id=…, GET /api/v1/persons/{id}
// GDPR routes (export, erase, retention) are in gdpr/routes.ts, Stripe's in integrations/stripe/routes.ts.
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Ingest } from '../ingest/index.js';
import type { FieldError } from '../ingest/validate.js';
import { BODY_ROOT, CANONICAL_ID, collect, cursor, describeJson, encodeCursor, id, int, listKind, paramReply, stringProblem, text, unknownBodyField, type ParamError, type Parsed } from '../http/params.js';
import type { Router } from '../http/router.js';
import { fail } from '../http/errors.js';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import { isObj, type Obj } from '../store/rows.js';
import { hashEmail, hashPhone } from './crypto.js';
import { linkIdentity, linkView, personView } from './persons.js';
import type { SessionStore } from './sessions.js';
import { own } from '../lookup.js';

const Q = queries('persons.sql', ['find_person_by_external', 'get_person', 'links_of_person']);

export interface IdentityRouteDeps {
  config: Config;
  log: Logger;
  db: Db;
  ingest: Ingest;
  sessions: SessionStore;
}

/** Server-side events accepted on /api/v1/server-events, with the source_system they default to. */
export const SERVER_EVENTS: Record<string, 'backend' | 'payments' | 'shop'> = {
  order_completed: 'backend',
  payment_succeeded: 'payments',
  payment_failed: 'payments',
  refund_completed: 'payments',
  chargeback_opened: 'payments',
  points_earned: 'backend',
  order_completed_shop: 'shop',
  shipment_created: 'shop',
  shipment_delivered: 'shop',
  // A browser event a backend may send too (registry SERVER_ALSO_EVENTS): the exposure of a server-side assignment.
  experiment_exposure: 'backend',
};
const SERVER_SOURCES = new Set(['backend', 'payments', 'shop']);
const ORDER_EVENTS = new Set(['order_completed', 'order_completed_shop']);

/**
 * Fills what a backend may leave out: source_system from the event, occurred_at = receive time, a consent
 * snapshot from the order's own consent flags, and `{event_name}_{order_id}` as the idempotency key of an
 * order that has neither event_id nor idempotency_key (so retries stay safe). Its id is derived with the tenant's
 * secret salt (the server channel's, validate.ts derivedEventId): a guessable key, which the public write key
 * must not be able to claim first.
 */
export function prepareServerEvent(ev: Obj, receivedAt: Date): { ok: true; event: Obj } | { ok: false; error: FieldError } {
  const name = ev.event_name;
  const source = own(SERVER_EVENTS, name);
  if (typeof name !== 'string' || source === undefined) {
    return { ok: false, error: { code: 'not_a_server_event', field: 'event_name', message: `event_name must be one of ${Object.keys(SERVER_EVENTS).join(', ')} on /api/v1/server-events; browser events go to /api/tx/events with the write key.` } };
  }
  const out: Obj = { ...ev };
  if (out.source_system === undefined || out.source_system === null) out.source_system = source;
  else if (typeof out.source_system !== 'string' || !SERVER_SOURCES.has(out.source_system)) {
    return { ok: false, error: { code: 'invalid_value', field: 'source_system', message: 'source_system must be backend, payments or shop on /api/v1/server-events.' } };
  }
  if (out.occurred_at === undefined || out.occurred_at === null) out.occurred_at = receivedAt.toISOString();
  const payload = isObj(out.payload) ? out.payload : {};
  if (out.consent_snapshot === undefined || out.consent_snapshot === null) {
    out.consent_snapshot = { analytics: false, marketing: payload.consent_marketing === true, data_processing: payload.consent_data_processing === true };
  }
  const orderId = isObj(out.entities) ? out.entities.order_id : undefined;
  if (ORDER_EVENTS.has(name) && out.event_id === undefined && (out.idempotency_key === undefined || out.idempotency_key === null) && (typeof orderId === 'string' || typeof orderId === 'number')) {
    out.idempotency_key = `${name}_${orderId}`;
  }
  return { ok: true, event: out };
}

/** An id as sent, for a message: a long string by its length, an integer past ±2^53 as not exact. Pure. */
const sentId = (v: unknown): string =>
  typeof v === 'string' && v.length > 40 ? `a string of ${v.length} characters`
    : typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v) ? `an integer beyond ±2^53, which JSON numbers do not hold exactly (send it as a string)`
      : describeJson(v);

const IDENTIFY_FIELDS = ['visitor_id', 'external_id', 'email', 'phone', 'city', 'country', 'consent_data_processing'];
const PERSON_ID_RULE = 'The person id must be a positive integer without leading zeros (as returned by /api/v1/identify or /api/v1/persons?external_id=…)';
const badPerson = (got: string): ParamError => ({ code: 'invalid_field', in: 'path', field: 'person_id', message: `${PERSON_ID_RULE}; got ${got}.` });

/** A person id in the path: a positive integer; anything else (malformed encoding too) is refused with what was sent. */
export const personIdParam = Object.assign(
  (_where: 'path', _field: string, raw: string): Parsed<number> =>
    CANONICAL_ID.test(raw) && Number.isSafeInteger(Number(raw)) ? { ok: true, value: Number(raw) } : { ok: false, error: badPerson(JSON.stringify(raw.slice(0, 64))) },
  { malformed: badPerson('malformed percent-encoding') },
);

const sessionIdParam = (where: 'path', _field: string, raw: string) => text(where, 'session_id', raw, { max: 64, required: true });

export function registerIdentityRoutes(router: Router, deps: IdentityRouteDeps): void {
  const { config, log, db } = deps;

  // --- server-side events -----------------------------------------------------------------------------
  router.add({
    // Strings are checked per event by ingest (a NUL rejects that event, not the batch); depth is checked here.
    // One event, {"events":[…]} or a bare list of events: an array is a body this route takes.
    method: 'post', path: '/api/v1/server-events', auth: 'secret', permission: 'send_server_events', resource: 'tenant',
    // MAX_BODY_BYTES as on the public batch endpoint: an operator's lower cap holds for this batch endpoint too.
    body: { strings: false, arrays: true, limit: config.limits.maxBodyBytes },
    handler: async ({ body: v, principal }) => {
      const tenantId = principal.tenant.tenant_id;
      const list: unknown[] | null = Array.isArray(v) ? v : isObj(v) && Array.isArray(v.events) ? v.events : isObj(v) && v.event_name !== undefined ? [v] : null;
      if (!list) {
        const got = !isObj(v) ? describeJson(v) : v.events === undefined ? 'an object without "events" or "event_name"' : `"events": ${describeJson(v.events)}`;
        return fail('invalid_body', `Send one event object or {"events":[...]}; got ${got}.`, { in: 'body', field: isObj(v) ? 'events' : BODY_ROOT });
      }
      const max = config.limits.maxBatchEvents;
      if (list.length > max) return fail('too_many_events', `A batch holds at most ${max} events (MAX_BATCH_EVENTS); got ${list.length}.`, { limit: max });
      const receivedAt = new Date();
      // An event this route refuses (not a server event, a browser source) goes through ingest too, rejected
      // without validation: kept like every other rejection, with its event_id, and its contact data, names and
      // IP scrubbed as in any rejected body (the wrappers and ingest's scrubber see it).
      const refused: (FieldError | null)[] = [];
      const events = list.map((ev) => {
        if (!isObj(ev)) return refused.push(null), ev;
        const p = prepareServerEvent(ev, receivedAt);
        refused.push(p.ok ? null : p.error);
        return p.ok ? p.event : ev;
      });
      // The tenant's salt keys the ids derived here (`order_completed_{order_id}` among them): the write key cannot claim them.
      const idSalt = principal.tenant.idempotency_salt;
      const res = await deps.ingest.ingest(events, { tenantId, receivedAt, ip: null, userAgent: null, channel: 'server', idSalt }, { refused });
      return { status: 200, body: { accepted: res.accepted, duplicates: res.duplicates, rejected: res.rejected, warnings: res.warnings } };
    },
  });

  // --- identify (login) -------------------------------------------------------------------------------
  router.add({
    method: 'post', path: '/api/v1/identify', auth: 'secret', permission: 'send_server_events', resource: 'tenant', body: {},
    handler: async ({ body, principal }) => {
      const tenantId = principal.tenant.tenant_id;
      const b = isObj(body) ? body : {};
      // A misspelt field ("emial") would link the visitor without what it was meant to carry.
      const extra = Object.keys(b).find((k) => !IDENTIFY_FIELDS.includes(k));
      if (extra !== undefined) return paramReply(unknownBodyField(extra, `identify takes ${IDENTIFY_FIELDS.join(', ')}.`));
      const visitor = b.visitor_id;
      const ext = b.external_id;
      if (typeof visitor !== 'string' || visitor.length === 0 || visitor.length > 64 || stringProblem(visitor)) {
        return fail('invalid_field', `visitor_id must be a string of 1 to 64 printable characters (the SDK's tx_vid); got ${sentId(visitor)}.`, { field: 'visitor_id', in: 'body' });
      }
      if (!((typeof ext === 'string' && ext.length > 0 && ext.length <= 128 && !stringProblem(ext)) || (typeof ext === 'number' && Number.isSafeInteger(ext)))) {
        return fail('invalid_field', `external_id must be your customer id (string of up to 128 printable characters, or integer); got ${sentId(ext)}.`, { field: 'external_id', in: 'body' });
      }
      for (const f of ['email', 'phone', 'city'] as const) {
        if (b[f] !== undefined && b[f] !== null && (typeof b[f] !== 'string' || (b[f] as string).length > 320 || stringProblem(b[f] as string))) {
          return fail('invalid_field', `${f} must be a string of at most 320 printable characters.`, { field: f, in: 'body' });
        }
      }
      // The customer's country (ISO 3166-1 alpha-2) makes a national phone number international, as an order's
      // customer.country does; without it "0721 234 567" gets no digest.
      if (b.country !== undefined && b.country !== null && (typeof b.country !== 'string' || !/^[A-Za-z]{2}$/.test(b.country))) {
        return fail('invalid_field', `country must be the customer's ISO 3166-1 alpha-2 country code such as "RO"; got ${JSON.stringify(b.country).slice(0, 40)}.`, { field: 'country', in: 'body' });
      }
      // Only a real boolean decides: "no" or 0 must not read as consent given.
      const consent = b.consent_data_processing;
      if (consent !== undefined && consent !== null && typeof consent !== 'boolean') {
        return fail('invalid_field', `consent_data_processing must be true or false (or left out: a login implies it); got ${JSON.stringify(consent).slice(0, 40)}.`, { field: 'consent_data_processing', in: 'body' });
      }
      if (consent === false) {
        // The same shape as a link's answer (nothing created, nothing backfilled), plus why.
        const none = { linked: false, person_id: null, person_created: false, visitor_id: visitor, link_created: false, previous_person_id: null, backfilled_events: 0, backfilled_sessions: 0 };
        return { status: 200, body: { ...none, reason: 'no_consent' } };
      }
      // The visitor's sessions of events already acknowledged exist before the link backfills them.
      await deps.sessions.projected();
      const res = await db.tx((q) =>
        linkIdentity(q, {
          tenantId,
          externalId: String(ext),
          visitorId: visitor,
          orderId: null,
          source: 'login',
          at: new Date(),
          emailSha256: typeof b.email === 'string' ? hashEmail(b.email) : null,
          phoneSha256: typeof b.phone === 'string' ? hashPhone(b.phone, typeof b.country === 'string' ? b.country.toUpperCase() : undefined) : null,
          city: typeof b.city === 'string' ? b.city.slice(0, 128) : null,
        }, log),
      );
      return { status: 200, body: res };
    },
  });

  // --- sessions ---------------------------------------------------------------------------------------
  router.add({
    method: 'get', path: '/api/v1/sessions', auth: 'secret', permission: 'view_persons', resource: 'tenant', query: ['limit', 'person_id', 'visitor_id', 'cursor'],
    handler: async ({ info, principal }) => {
      const q = info.query;
      const p = collect({
        limit: int('query', 'limit', q.get('limit'), { min: 1, max: 1000, def: 100 }),
        person_id: q.get('person_id') === null ? { ok: true, value: null } : id('query', 'person_id', q.get('person_id')),
        visitor_id: text('query', 'visitor_id', q.get('visitor_id'), { max: 64 }),
      });
      if (!p.ok) return paramReply(p.error);
      // The cursor holds the filters it was made under: with others it would skip rows of this listing.
      const kind = listKind('sessions', { person_id: p.value.person_id, visitor_id: p.value.visitor_id });
      const after = cursor(q.get('cursor'), kind, ['ts', 'text']);
      if (!after.ok) return paramReply(after.error);
      const page = await deps.sessions.list(db, principal.tenant.tenant_id, { ...p.value, after: after.value });
      return { status: 200, body: { sessions: page.rows, next_cursor: page.last ? encodeCursor(kind, page.last) : null } };
    },
  });
  router.add({
    method: 'get', path: '/api/v1/sessions/:session_id', auth: 'secret', permission: 'view_persons', resource: 'tenant', params: { session_id: sessionIdParam }, query: [],
    handler: async ({ params, principal }) => {
      const s = await deps.sessions.get(db, principal.tenant.tenant_id, params.session_id!);
      return s ? { status: 200, body: s } : fail('not_found', 'No such session for this tenant.');
    },
  });

  // --- persons ----------------------------------------------------------------------------------------
  router.add({
    method: 'get', path: '/api/v1/persons', auth: 'secret', permission: 'view_persons', resource: 'tenant', query: ['external_id'],
    handler: async ({ info, principal }) => {
      const ext = text('query', 'external_id', info.query.get('external_id'), { max: 128, required: true });
      if (!ext.ok) return paramReply({ ...ext.error, message: `${ext.error.message} Pass ?external_id=<your customer id>.` });
      const { rows } = await db.query<Obj>(Q.find_person_by_external, [principal.tenant.tenant_id, ext.value]);
      if (!rows.length) return fail('not_found', 'No person with this external_id.');
      return { status: 200, body: personView(rows[0]) };
    },
  });
  router.add({
    method: 'get', path: '/api/v1/persons/:id', auth: 'secret', permission: 'view_persons', resource: 'tenant', params: { id: personIdParam }, query: [],
    handler: async ({ params, principal }) => {
      const tenantId = principal.tenant.tenant_id;
      const { rows } = await db.query<Obj>(Q.get_person, [tenantId, params.id]);
      if (!rows.length) return fail('not_found', 'No such person for this tenant (or it was erased).');
      const links = (await db.query<Obj>(Q.links_of_person, [tenantId, params.id])).rows.map(linkView);
      return { status: 200, body: { ...personView(rows[0]), identity_links: links } };
    },
  });
}
