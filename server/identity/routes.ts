// HTTP API of the identity domain (tenant secret key unless stated):
//   POST   /api/v1/server-events               server-side truth (orders, payments, refunds, points, shop)
//   POST   /api/v1/identify                    login: link a visitor to the tenant's customer
//   GET    /api/v1/sessions[?visitor_id|person_id|limit], GET /api/v1/sessions/{session_id}
//   GET    /api/v1/persons?external_id=…, GET /api/v1/persons/{id}
//   GET    /api/v1/persons/{id}/export, DELETE /api/v1/persons/{id}     (GDPR)
//   PUT|GET|DELETE /api/v1/settings/stripe      Stripe webhook signing secret (stored encrypted)
//   POST   /api/v1/webhooks/stripe/{tenant_id} Stripe (signature-verified, no key)
//   POST   /api/admin/retention/run            operator (ADMIN_TOKEN): apply retention now
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Ingest } from '../ingest/index.js';
import type { FieldError } from '../ingest/validate.js';
import { bearer, safeEqual, type KeyResolver } from '../http/auth.js';
import { route, tenantFromSecret, type RouteCtx } from '../http/api-routes.js';
import { checkBody, collect, cursor, encodeCursor, id, int, paramReply, pathSegments, stringProblem, text, type Parsed } from '../http/params.js';
import { errorReply, readBody, send, snapshot, trackAbort, type Reply, type TemplatedApp } from '../http/uws.js';
import { isUnavailable, type Db } from '../store/db.js';
import { loadQueries } from '../store/queries.js';
import { SpoolFullError } from '../store/spool.js';
import { hashEmail, hashPhone, type Cipher } from './crypto.js';
import { personView, type Gdpr } from './gdpr.js';
import { linkIdentity } from './persons.js';
import type { SessionStore } from './sessions.js';
import { HANDLED_TYPES, parseStripeEvent, stripeEnvelope, verifyStripeSignature, type StripeStore } from './stripe.js';

const Q = loadQueries('identity.sql');

export interface IdentityRouteDeps {
  config: Config;
  log: Logger;
  db: Db;
  ingest: Ingest;
  keys: KeyResolver;
  adminToken: string;
  sessions: SessionStore;
  gdpr: Gdpr;
  stripe: StripeStore;
  cipher: Cipher;
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
};
const SERVER_SOURCES = new Set(['backend', 'payments', 'shop']);
const ORDER_EVENTS = new Set(['order_completed', 'order_completed_shop']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Fills what a backend may leave out: source_system from the event, occurred_at = receive time, a consent
 * snapshot from the order's own consent flags, and `{event_name}_{order_id}` as the idempotency key of an
 * order that has neither event_id nor idempotency_key (so retries stay safe).
 */
export function prepareServerEvent(ev: Obj, receivedAt: Date): { ok: true; event: Obj } | { ok: false; error: FieldError } {
  const name = ev.event_name;
  if (typeof name !== 'string' || !(name in SERVER_EVENTS)) {
    return { ok: false, error: { code: 'not_a_server_event', field: 'event_name', message: `event_name must be one of ${Object.keys(SERVER_EVENTS).join(', ')} on /api/v1/server-events; browser events go to /api/tx/events with the write key.` } };
  }
  const out: Obj = { ...ev };
  if (out.source_system === undefined || out.source_system === null) out.source_system = SERVER_EVENTS[name];
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

export function registerIdentityRoutes(app: TemplatedApp, deps: IdentityRouteDeps): void {
  const { config, log, db, keys } = deps;
  const r = (fn: (ctx: RouteCtx) => Promise<Reply>, opts?: { body?: boolean }) => route(log, config.trustProxy, fn, opts);
  const authed = (fn: (ctx: RouteCtx, tenantId: number) => Promise<Reply>, opts?: { body?: boolean }) =>
    r(async (ctx) => {
      const auth = await tenantFromSecret(keys, ctx.info);
      if ('reply' in auth) return auth.reply;
      return fn(ctx, auth.tenant.tenant_id);
    }, opts);
  /** Segment `i` of the percent-decoded path; malformed encoding is a 400 (not a URIError). */
  const segment = (ctx: RouteCtx, i: number): Parsed<string | undefined> => {
    const seg = pathSegments(ctx.info.url);
    return seg.ok ? { ok: true, value: seg.value[i] } : seg;
  };
  const personIdOf = (ctx: RouteCtx): number | null => {
    const id = segment(ctx, 3);
    return id.ok && id.value !== undefined && /^\d{1,15}$/.test(id.value) && Number(id.value) > 0 ? Number(id.value) : null;
  };
  const badPerson = () => errorReply(400, 'invalid_field', 'The person id must be a positive integer (as returned by /api/v1/identify or /api/v1/persons?external_id=…).', { field: 'person_id', in: 'path' });

  // --- server-side events -----------------------------------------------------------------------------
  app.post('/api/v1/server-events', authed(async (ctx, tenantId) => {
    // Strings are checked per event by ingest (a NUL rejects that event, not the batch); depth is checked here.
    const body = await ctx.json({ strings: false });
    if (!body.ok) return body.reply;
    const v = body.value;
    const list: unknown[] | null = Array.isArray(v) ? v : isObj(v) && Array.isArray(v.events) ? v.events : isObj(v) && v.event_name !== undefined ? [v] : null;
    if (!list) return errorReply(400, 'invalid_body', 'Send one event object or {"events":[...]}.', { field: 'events' });
    const max = config.limits.maxBatchEvents;
    if (list.length > max) return errorReply(413, 'too_many_events', `A batch holds at most ${max} events (MAX_BATCH_EVENTS); got ${list.length}.`, { limit: max });
    const receivedAt = new Date();
    const passed: unknown[] = [];
    const passedIndex: number[] = [];
    const rejected: { index: number; event_id: string | null; errors: FieldError[] }[] = [];
    for (let i = 0; i < list.length; i++) {
      const ev = list[i];
      if (!isObj(ev)) {
        passed.push(ev);
        passedIndex.push(i);
        continue;
      }
      const p = prepareServerEvent(ev, receivedAt);
      if (p.ok) {
        passed.push(p.event);
        passedIndex.push(i);
      } else {
        const eventId = typeof ev.event_id === 'string' ? ev.event_id.slice(0, 64) : null;
        rejected.push({ index: i, event_id: eventId, errors: [p.error] });
        // Kept like every other rejection (contact data is hashed by the ingest wrapper's scrubber).
        await deps.ingest.recordBadBody(tenantId, JSON.stringify(ev), p.error);
      }
    }
    const res = passed.length
      ? await deps.ingest.ingest(passed, { tenantId, receivedAt, ip: null, userAgent: null, channel: 'server' })
      : { accepted: 0, duplicates: 0, rejected: [] };
    for (const x of res.rejected) rejected.push({ ...x, index: passedIndex[x.index] });
    rejected.sort((a, b) => a.index - b.index);
    return { status: 200, body: { accepted: res.accepted, duplicates: res.duplicates, rejected } };
  }, { body: true }));

  // --- identify (login) -------------------------------------------------------------------------------
  app.post('/api/v1/identify', authed(async (ctx, tenantId) => {
    const body = await ctx.json();
    if (!body.ok) return body.reply;
    const b = isObj(body.value) ? body.value : {};
    const visitor = b.visitor_id;
    const ext = b.external_id;
    if (typeof visitor !== 'string' || visitor.length === 0 || visitor.length > 64 || stringProblem(visitor)) {
      return errorReply(400, 'invalid_field', 'visitor_id must be a string of 1 to 64 printable characters (the SDK\'s tx_vid).', { field: 'visitor_id', in: 'body' });
    }
    if (!((typeof ext === 'string' && ext.length > 0 && ext.length <= 128 && !stringProblem(ext)) || (typeof ext === 'number' && Number.isSafeInteger(ext)))) {
      return errorReply(400, 'invalid_field', 'external_id must be your customer id (string of up to 128 printable characters, or integer).', { field: 'external_id', in: 'body' });
    }
    for (const f of ['email', 'phone', 'city'] as const) {
      if (b[f] !== undefined && b[f] !== null && (typeof b[f] !== 'string' || (b[f] as string).length > 320)) {
        return errorReply(400, 'invalid_field', `${f} must be a string.`, { field: f });
      }
    }
    if (b.consent_data_processing === false) {
      return { status: 200, body: { linked: false, reason: 'no_consent', person_id: null, visitor_id: visitor } };
    }
    const res = await db.tx((q) =>
      linkIdentity(q, {
        tenantId,
        externalId: String(ext),
        visitorId: visitor,
        orderId: null,
        source: 'login',
        at: new Date(),
        emailSha256: typeof b.email === 'string' ? hashEmail(b.email) : null,
        phoneSha256: typeof b.phone === 'string' ? hashPhone(b.phone) : null,
        city: typeof b.city === 'string' ? b.city.slice(0, 128) : null,
      }, log),
    );
    return { status: 200, body: res };
  }, { body: true }));

  // --- sessions ---------------------------------------------------------------------------------------
  app.get('/api/v1/sessions', authed(async (ctx, tenantId) => {
    const q = ctx.info.query;
    const p = collect({
      limit: int('query', 'limit', q.get('limit'), { min: 1, max: 1000, def: 100 }),
      person_id: q.get('person_id') === null ? { ok: true, value: null } : id('query', 'person_id', q.get('person_id')),
      visitor_id: text('query', 'visitor_id', q.get('visitor_id'), { max: 64 }),
      after: cursor(q.get('cursor'), 'sessions', ['ts', 'text']),
    });
    if (!p.ok) return paramReply(p.error);
    const page = await deps.sessions.list(db, tenantId, p.value);
    return { status: 200, body: { sessions: page.rows, next_cursor: page.last ? encodeCursor('sessions', page.last) : null } };
  }));
  app.get('/api/v1/sessions/:session_id', authed(async (ctx, tenantId) => {
    const seg = segment(ctx, 3);
    const sid = seg.ok ? text('path', 'session_id', seg.value, { max: 64, required: true }) : seg;
    if (!sid.ok) return paramReply(sid.error);
    const s = await deps.sessions.get(db, tenantId, sid.value!);
    return s ? { status: 200, body: s } : errorReply(404, 'not_found', 'No such session for this tenant.');
  }));

  // --- persons and GDPR -------------------------------------------------------------------------------
  app.get('/api/v1/persons', authed(async (ctx, tenantId) => {
    const ext = text('query', 'external_id', ctx.info.query.get('external_id'), { max: 128, required: true });
    if (!ext.ok) return paramReply({ ...ext.error, message: `${ext.error.message} Pass ?external_id=<your customer id>.` });
    const { rows } = await db.query<Obj>(Q.find_person_by_external, [tenantId, ext.value]);
    if (!rows.length) return errorReply(404, 'not_found', 'No person with this external_id.');
    return { status: 200, body: personView(rows[0]) };
  }));
  app.get('/api/v1/persons/:id', authed(async (ctx, tenantId) => {
    const id = personIdOf(ctx);
    if (id === null) return badPerson();
    const { rows } = await db.query<Obj>(Q.get_person, [tenantId, id]);
    if (!rows.length) return errorReply(404, 'not_found', 'No such person for this tenant (or it was erased).');
    const links = (await db.query<Obj>(Q.links_of_person, [tenantId, id])).rows.map(linkView);
    return { status: 200, body: { ...personView(rows[0]), identity_links: links } };
  }));
  app.get('/api/v1/persons/:id/export', authed(async (ctx, tenantId) => {
    const id = personIdOf(ctx);
    if (id === null) return badPerson();
    const out = await deps.gdpr.exportPerson(tenantId, id);
    if (out === null) return errorReply(404, 'not_found', 'No such person for this tenant.');
    if ('erased' in out) return errorReply(410, 'person_erased', 'This person was erased; nothing is held about them.', { erased_at: (out.erased as { erased_at: string }).erased_at });
    return { status: 200, body: out, headers: { 'Content-Disposition': `attachment; filename="person-${id}-export.json"` } };
  }));
  app.del('/api/v1/persons/:id', authed(async (ctx, tenantId) => {
    const id = personIdOf(ctx);
    if (id === null) return badPerson();
    const out = await deps.gdpr.erasePerson(tenantId, id);
    if (out === null) return errorReply(404, 'not_found', 'No such person for this tenant.');
    return { status: 200, body: out };
  }));

  // --- Stripe settings --------------------------------------------------------------------------------
  const webhookUrl = (tenantId: number) => `/api/v1/webhooks/stripe/${tenantId}`;
  app.put('/api/v1/settings/stripe', authed(async (ctx, tenantId) => {
    const body = await ctx.json();
    if (!body.ok) return body.reply;
    const secret = isObj(body.value) ? body.value.webhook_secret : undefined;
    if (typeof secret !== 'string' || !/^whsec_[A-Za-z0-9+/=_-]{8,200}$/.test(secret)) {
      return errorReply(400, 'invalid_field', 'webhook_secret must be the endpoint\'s signing secret from the Stripe dashboard (starts with "whsec_").', { field: 'webhook_secret' });
    }
    if (!deps.cipher.available) {
      return errorReply(503, 'encryption_not_configured', 'ENCRYPTION_KEY is not set on this server, so secrets cannot be stored. Set ENCRYPTION_KEY (64 hex characters, `openssl rand -hex 32`) on every node and restart.');
    }
    const saved = await deps.stripe.setSecret(tenantId, secret);
    return { status: 200, body: { stripe: { configured: true, webhook_secret_hint: saved.hint, updated_at: saved.updated_at, webhook_url: webhookUrl(tenantId) } } };
  }, { body: true }));
  app.get('/api/v1/settings/stripe', authed(async (_ctx, tenantId) => {
    const s = await deps.stripe.status(tenantId);
    return { status: 200, body: { stripe: { configured: s.configured, webhook_secret_hint: s.hint, updated_at: s.updated_at, webhook_url: webhookUrl(tenantId) } } };
  }));
  app.del('/api/v1/settings/stripe', authed(async (_ctx, tenantId) => {
    const removed = await deps.stripe.clearSecret(tenantId);
    return { status: 200, body: { stripe: { configured: false, removed } } };
  }));

  // --- Stripe webhook: raw bytes are needed for the signature, so this reads the body itself ----------
  app.post('/api/v1/webhooks/stripe/:tenant_id', (res, req) => {
    const state = trackAbort(res);
    const info = snapshot(res, req, config.trustProxy);
    const rawTenant = req.getParameter(0) ?? '';
    const bodyP = readBody(res, state, info.headers['content-length'], 1024 * 1024);
    const reply = (x: Reply) => send(res, state, x);
    (async () => {
      const b = await bodyP;
      if (!b.ok) return b.reason === 'too_large' ? reply({ ...errorReply(413, 'body_too_large', 'Webhook body exceeds 1 MB.'), close: true }) : undefined;
      if (!/^\d{1,18}$/.test(rawTenant)) return reply(errorReply(404, 'unknown_tenant', 'No such tenant.'));
      const tenantId = Number(rawTenant);
      const secret = await deps.stripe.secret(tenantId);
      if (secret === null) {
        if (!(await deps.stripe.tenantExists(tenantId))) return reply(errorReply(404, 'unknown_tenant', 'No such tenant.'));
        return reply(errorReply(400, 'webhook_not_configured', 'No Stripe webhook secret is set for this tenant: PUT /api/v1/settings/stripe {"webhook_secret":"whsec_…"} first.'));
      }
      const v = verifyStripeSignature(b.body, info.headers['stripe-signature'], secret, Math.floor(Date.now() / 1000));
      if (!v.ok) {
        log.warn({ tenant_id: tenantId, code: v.code }, 'stripe webhook refused');
        return reply(errorReply(400, v.code, v.message));
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(b.body.toString('utf8'));
      } catch (err) {
        return reply(errorReply(400, 'invalid_json', `Body is not valid JSON: ${(err as Error).message}`));
      }
      const shape = checkBody(parsed, { strings: false });
      const p = shape ? { ok: false as const, error: { code: shape.code, field: shape.field, message: shape.message } } : parseStripeEvent(parsed);
      if (!p.ok) {
        // Signed by Stripe but unusable: acknowledged (a retry cannot fix it) and kept as rejected.
        await deps.ingest.recordBadBody(tenantId, b.body.toString('utf8'), p.error);
        log.warn({ tenant_id: tenantId, code: p.error.code, field: p.error.field }, 'stripe event rejected');
        return reply({ status: 200, body: { received: true, accepted: 0, rejected: [{ index: 0, event_id: null, errors: [p.error] }] } });
      }
      const evt = p.event;
      if (!(evt.type in HANDLED_TYPES)) return reply({ status: 200, body: { received: true, ignored: true, reason: `event type ${evt.type} is not tracked` } });
      const orderId = await deps.stripe.resolveOrder(db, tenantId, evt.data.object);
      if (!orderId) {
        log.info({ tenant_id: tenantId, stripe_event: evt.id, type: evt.type }, 'stripe event without an order id ignored');
        return reply({ status: 200, body: { received: true, ignored: true, reason: 'no order id: set metadata.order_id on the PaymentIntent' } });
      }
      const out = await deps.ingest.ingest([stripeEnvelope(evt, orderId)], { tenantId, receivedAt: new Date(), ip: null, userAgent: null, channel: 'server' });
      // A validation rejection is final (kept in the rejected-events table); Stripe retrying would not help.
      return reply({ status: 200, body: { received: true, event_name: HANDLED_TYPES[evt.type], ...out } });
    })().catch((err: unknown) => {
      if (err instanceof SpoolFullError || isUnavailable(err)) {
        return reply(errorReply(503, 'store_unavailable', 'The database is unavailable; Stripe will retry.', {}, { 'Retry-After': '5' }));
      }
      log.error({ err }, 'stripe webhook failed');
      reply(errorReply(500, 'internal', 'Internal error; Stripe will retry.'));
    });
  });

  // --- operator: retention ----------------------------------------------------------------------------
  app.post('/api/admin/retention/run', r(async (ctx) => {
    const token = bearer(ctx.info.headers.authorization);
    if (!token || !safeEqual(token, deps.adminToken)) return errorReply(401, 'invalid_admin_token', 'Send Authorization: Bearer <ADMIN_TOKEN>.');
    const policy = await deps.gdpr.applyRetentionPolicy();
    const ran = await deps.gdpr.runRetention();
    return { status: 200, body: { retention_months: config.retentionMonths, policy, ...ran } };
  }));
}

function linkView(l: Obj) {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v);
  return { ...l, person_id: Number(l.person_id), first_linked_at: iso(l.first_linked_at), linked_at: iso(l.linked_at) };
}
