// HTTP API of the Stripe integration:
//   PUT|GET|DELETE /api/v1/settings/stripe      Stripe webhook signing secret (tenant secret key; stored encrypted)
//   POST   /api/v1/webhooks/stripe/{tenant_id} Stripe (signature-verified, no key)
import type { Logger } from 'pino';
import type { Ingest } from '../../ingest/index.js';
import { bodyText, jsonSyntaxMessage } from '../../http/body.js';
import { checkBody, describeJson, id, pathSegments } from '../../http/params.js';
import type { Router } from '../../http/router.js';
import { fail, invalidJson, paramFail, shuttingDown } from '../../http/errors.js';
import { readBody, send, snapshot, trackAbort, type Reply, type TemplatedApp } from '../../http/uws.js';
import type { Cipher } from '../../identity/crypto.js';
import { isUnavailable, ShuttingDownError, type Db } from '../../store/db.js';
import { isObj } from '../../store/rows.js';
import { SpoolFullError } from '../../store/spool.js';
import { HANDLED_TYPES, parseStripeEvent, stripeEnvelope } from './events.js';
import type { StripeStore } from './store.js';
import { verifyStripeSignature } from './verify.js';
import { own } from '../../lookup.js';

export interface StripeRouteDeps {
  log: Logger;
  db: Db;
  trustProxy: boolean;
  ingest: Ingest;
  stripe: StripeStore;
  cipher: Cipher;
}

const webhookUrl = (tenantId: number) => `/api/v1/webhooks/stripe/${tenantId}`;

export function registerStripeRoutes(router: Router, app: TemplatedApp, deps: StripeRouteDeps): void {
  const { log, db } = deps;

  // --- settings ---------------------------------------------------------------------------------------
  router.add({
    method: 'put', path: '/api/v1/settings/stripe', auth: 'secret', permission: 'manage_settings', resource: 'tenant', body: {},
    // Recorded by name only: never the secret, nor its hint.
    audit: () => ({ action: 'settings.stripe_set', target: 'settings:stripe' }),
    handler: async ({ body, principal }) => {
      const tenantId = principal.tenant.tenant_id;
      const secret = isObj(body) ? body.webhook_secret : undefined;
      if (typeof secret !== 'string' || !/^whsec_[A-Za-z0-9+/=_-]{8,200}$/.test(secret)) {
        // The value is a secret: described, never echoed.
        const got = typeof secret === 'string' ? `a string of ${secret.length} characters${secret.startsWith('whsec_') ? '' : ' not starting with "whsec_"'}` : describeJson(secret);
        return fail('invalid_field', `webhook_secret must be the endpoint's signing secret from the Stripe dashboard ("whsec_" and 8-200 letters, digits or + / = _ -); got ${got}.`, { field: 'webhook_secret', in: 'body' });
      }
      if (!deps.cipher.available) {
        return fail('encryption_not_configured', 'ENCRYPTION_KEY is not set on this server, so secrets cannot be stored. Set ENCRYPTION_KEY (64 hex characters, `openssl rand -hex 32`) on every node and restart.');
      }
      const saved = await deps.stripe.setSecret(tenantId, secret);
      return { status: 200, body: { stripe: { configured: true, webhook_secret_hint: saved.hint, updated_at: saved.updated_at, webhook_url: webhookUrl(tenantId) } } };
    },
  });
  router.add({
    method: 'get', path: '/api/v1/settings/stripe', auth: 'secret', permission: 'manage_settings', resource: 'tenant', query: [],
    handler: async ({ principal }) => {
      const tenantId = principal.tenant.tenant_id;
      const s = await deps.stripe.status(tenantId);
      return { status: 200, body: { stripe: { configured: s.configured, webhook_secret_hint: s.hint, updated_at: s.updated_at, webhook_url: webhookUrl(tenantId) } } };
    },
  });
  router.add({
    method: 'del', path: '/api/v1/settings/stripe', auth: 'secret', permission: 'manage_settings', resource: 'tenant',
    audit: (_req, reply) => ({ action: 'settings.stripe_removed', target: 'settings:stripe', details: { removed: (reply.body as { stripe: { removed: unknown } }).stripe.removed } }),
    handler: async ({ principal }) => {
      const removed = await deps.stripe.clearSecret(principal.tenant.tenant_id);
      return { status: 200, body: { stripe: { configured: false, removed } } };
    },
  });

  // --- Stripe webhook: raw bytes are needed for the signature, so this reads the body itself ----------
  app.post('/api/v1/webhooks/stripe/:tenant_id', (res, req) => {
    const state = trackAbort(res);
    const info = snapshot(res, req, deps.trustProxy);
    const rawTenant = req.getParameter(0) ?? '';
    const bodyP = readBody(res, state, info.headers['content-length'], 1024 * 1024);
    const reply = (x: Reply) => send(res, state, x);
    (async () => {
      const b = await bodyP;
      if (!b.ok) return b.reason === 'too_large' ? reply({ ...fail('body_too_large', 'Webhook body exceeds 1 MB.'), close: true }) : undefined;
      // A malformed id is the sender's mistake (400 naming it); a well-formed one without a tenant is 404.
      const seg = pathSegments(rawTenant);
      const parsedId = seg.ok ? id('path', 'tenant_id', seg.value[0] ?? '') : seg;
      if (!parsedId.ok) return reply(paramFail({ ...parsedId.error, in: 'path', field: 'tenant_id' }));
      const tenantId = parsedId.value;
      const secret = await deps.stripe.secret(tenantId);
      if (secret === null) {
        if (!(await deps.stripe.tenantExists(tenantId))) return reply(fail('unknown_tenant', `No tenant ${tenantId}.`));
        return reply(fail('webhook_not_configured', 'No Stripe webhook secret is set for this tenant: PUT /api/v1/settings/stripe {"webhook_secret":"whsec_…"} first.'));
      }
      const v = verifyStripeSignature(b.body, info.headers['stripe-signature'], secret, Math.floor(Date.now() / 1000));
      if (!v.ok) {
        log.warn({ tenant_id: tenantId, code: v.code }, 'stripe webhook refused');
        // Its codes are catalogued at 400 (verify.test.ts checks each one).
        return reply(fail(v.code, v.message));
      }
      // UTF-8, strictly: a malformed byte is refused, never replaced by U+FFFD (which would make two ids one).
      const decoded = bodyText(b.body);
      if (!decoded.ok) return reply(invalidJson(decoded.message));
      const text = decoded.text;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        return reply(invalidJson(jsonSyntaxMessage(err, text)));
      }
      const shape = checkBody(parsed, { strings: false });
      const p = shape ? { ok: false as const, error: { code: shape.code, field: shape.field, message: shape.message } } : parseStripeEvent(parsed);
      if (!p.ok) {
        // Signed by Stripe but unusable: acknowledged (a retry cannot fix it) and kept as rejected.
        await deps.ingest.recordBadBody(tenantId, text, p.error);
        log.warn({ tenant_id: tenantId, code: p.error.code, field: p.error.field }, 'stripe event rejected');
        return reply({ status: 200, body: { received: true, accepted: 0, rejected: [{ index: 0, event_id: null, errors: [p.error] }] } });
      }
      const evt = p.event;
      if (own(HANDLED_TYPES, evt.type) === undefined) return reply({ status: 200, body: { received: true, ignored: true, reason: `event type ${evt.type} is not tracked` } });
      const order = await deps.stripe.resolveOrder(db, tenantId, evt.data.object);
      if (!order) {
        log.info({ tenant_id: tenantId, stripe_event: evt.id, type: evt.type }, 'stripe event without an order id ignored');
        return reply({ status: 200, body: { received: true, ignored: true, reason: 'no order id: set metadata.order_id on the PaymentIntent' } });
      }
      // Stripe's event id is the idempotency key; the tenant's salt keys its id, so the write key cannot claim it first.
      const idSalt = await deps.stripe.idSalt(tenantId);
      if (idSalt === null) return reply(fail('unknown_tenant', `No tenant ${tenantId}.`));
      const out = await deps.ingest.ingest([stripeEnvelope(evt, order.orderId)], { tenantId, receivedAt: new Date(), ip: null, userAgent: null, channel: 'server', idSalt });
      // Stored (or a redelivery of an event stored before: its mapping may have failed then, e.g. the database was
      // down while the event went to the spool; Stripe retries on that 503). Never for an erased person's order.
      if (out.accepted + out.duplicates > 0) await deps.stripe.remember(db, tenantId, order.objects, order.orderId);
      // A validation rejection is final (kept in the rejected-events table); Stripe retrying would not help.
      return reply({ status: 200, body: { received: true, event_name: own(HANDLED_TYPES, evt.type), ...out } });
    })().catch((err: unknown) => {
      // Reached the writer or the store after shutdown began: nothing was stored, Stripe sends it again.
      if (err instanceof ShuttingDownError) return reply(shuttingDown());
      if (err instanceof SpoolFullError || isUnavailable(err)) {
        return reply(fail('store_unavailable', 'The database is unavailable; Stripe will retry.', {}, { 'Retry-After': '5' }));
      }
      log.error({ err }, 'stripe webhook failed');
      reply(fail('internal', 'Internal error; Stripe will retry.'));
    });
  });
}
