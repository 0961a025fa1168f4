// Stripe webhooks: signature verification exactly as Stripe documents it (HMAC-SHA256 of "<t>.<raw body>"
// with the endpoint's signing secret, any of several v1 signatures, timestamp tolerance), the per-tenant
// signing secret stored encrypted, and the mapping of the four payment event types onto tx events whose
// idempotency key is the Stripe event id (Stripe delivers at least once, sometimes concurrently).
import crypto from 'node:crypto';
import type { Db, Queryable } from '../store/db.js';
import { loadQueries } from '../store/queries.js';
import type { Cipher } from './crypto.js';
import type { FieldError } from '../ingest/validate.js';
import { stringProblem } from '../http/params.js';

const Q = loadQueries('identity.sql');

export const STRIPE_TOLERANCE_S = 300;
export const STRIPE_SECRET_NAME = 'stripe_webhook_secret';

export type VerifyResult = { ok: true; timestamp: number } | { ok: false; code: string; message: string };

/** Stripe's own test helper computes the same value: hex HMAC-SHA256(secret, `${t}.${payload}`). */
export function stripeSignature(secret: string, t: number | string, rawBody: Buffer | string): string {
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  return crypto.createHmac('sha256', secret).update(`${t}.`, 'utf8').update(body).digest('hex');
}

/**
 * Verifies a `Stripe-Signature` header (`t=…,v1=…[,v1=…][,v0=…]`) against the raw request bytes.
 * Every v1 value is compared in constant time (several are sent while a secret is being rolled); other
 * schemes (v0 is test-mode only) are ignored. `nowS` is the current Unix time in seconds.
 */
export function verifyStripeSignature(rawBody: Buffer, header: string | undefined, secret: string, nowS: number, toleranceS = STRIPE_TOLERANCE_S): VerifyResult {
  if (!header) return { ok: false, code: 'missing_signature', message: 'The Stripe-Signature header is missing.' };
  let t: number | null = null;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    const v = part.slice(i + 1).trim();
    if (k === 't') t = /^\d{1,12}$/.test(v) ? Number(v) : NaN;
    else if (k === 'v1') v1.push(v);
  }
  if (t === null || Number.isNaN(t)) return { ok: false, code: 'malformed_signature', message: 'The Stripe-Signature header has no valid timestamp (t=…).' };
  if (v1.length === 0) return { ok: false, code: 'malformed_signature', message: 'The Stripe-Signature header has no v1 signature.' };
  const expected = Buffer.from(stripeSignature(secret, t, rawBody), 'hex');
  let match = false;
  for (const sig of v1) {
    const got = /^[0-9a-f]{64}$/i.test(sig) ? Buffer.from(sig, 'hex') : null;
    // Keep comparing after a hit so the time taken does not depend on which value matched.
    if (got && got.length === expected.length && crypto.timingSafeEqual(got, expected)) match = true;
  }
  if (!match) return { ok: false, code: 'invalid_signature', message: 'No v1 signature matches the payload for this endpoint secret (was the body modified or re-serialised?).' };
  if (Math.abs(nowS - t) > toleranceS) {
    return { ok: false, code: 'timestamp_outside_tolerance', message: `The signature timestamp is more than ${toleranceS} s away from the server clock (replay protection).` };
  }
  return { ok: true, timestamp: t };
}

// ---------------------------------------------------------------------------------------------------------
// Event mapping
// ---------------------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
// Control characters and lone surrogates never belong in Stripe ids or names, and NUL cannot be stored.
const str = (v: unknown, max = 255): string | null => (typeof v === 'string' && v.length > 0 && v.length <= max && stringProblem(v) === null ? v : null);

export interface StripeEvent {
  id: string;
  type: string;
  created: number;
  livemode?: boolean;
  api_version?: string | null;
  data: { object: Obj; previous_attributes?: Obj };
}

export const HANDLED_TYPES: Record<string, string> = {
  'payment_intent.succeeded': 'payment_succeeded',
  'payment_intent.payment_failed': 'payment_failed',
  'charge.refunded': 'refund_completed',
  'charge.dispute.created': 'chargeback_opened',
};

/** Latest `created` accepted (2200-01-01): beyond it a Date cannot be formatted or stored. */
const MAX_CREATED_S = Date.UTC(2200, 0, 1) / 1000;

/**
 * A signed body that is not a usable event is answered 200 and kept as rejected (Stripe would otherwise
 * retry a permanent failure for days), so this says which field is wrong instead of throwing.
 */
export function parseStripeEvent(v: unknown): { ok: true; event: StripeEvent } | { ok: false; error: FieldError } {
  const bad = (field: string, message: string) => ({ ok: false as const, error: { code: 'invalid_stripe_event', field, message } });
  if (!isObj(v)) return bad('', 'The body is not a Stripe event object.');
  if (str(v.id) === null) return bad('id', 'id must be a Stripe event id (1-255 printable characters).');
  if (str(v.type, 100) === null) return bad('type', 'type must be a Stripe event type like payment_intent.succeeded.');
  if (typeof v.created !== 'number' || !Number.isInteger(v.created) || v.created < 0 || v.created >= MAX_CREATED_S) {
    return bad('created', `created must be a Unix time in seconds between 0 and ${MAX_CREATED_S}.`);
  }
  if (!isObj(v.data) || !isObj(v.data.object)) return bad('data.object', 'data.object must be the Stripe object the event is about.');
  return { ok: true, event: v as unknown as StripeEvent };
}

// Stripe amounts are in the currency's smallest unit (https://docs.stripe.com/currencies#zero-decimal).
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

export function fromMinorUnits(amount: unknown, currency: string): number | null {
  if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) return null;
  const c = currency.toLowerCase();
  const div = ZERO_DECIMAL.has(c) ? 1 : THREE_DECIMAL.has(c) ? 1000 : 100;
  return Math.round((amount / div) * 1000) / 1000;
}

/** Stripe object ids an order can be found under: the object itself, its payment intent and charge. */
export function relatedObjectIds(obj: Obj): string[] {
  const ids = [obj.id, obj.payment_intent, obj.charge, obj.latest_charge]
    .map((v) => (isObj(v) ? v.id : v))
    .filter((v): v is string => str(v) !== null);
  return [...new Set(ids)];
}

export function metadataOrderId(obj: Obj): string | null {
  const md = isObj(obj.metadata) ? obj.metadata : {};
  const v = md.order_id ?? md.orderId;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return str(v, 128);
}

/** The tx envelope for a handled Stripe event (order id already resolved). */
export function stripeEnvelope(evt: StripeEvent, orderId: string): Record<string, unknown> {
  const name = HANDLED_TYPES[evt.type];
  const o = evt.data.object;
  const md = isObj(o.metadata) ? o.metadata : {};
  const currency = (str(o.currency, 3) ?? 'xxx').toUpperCase();
  const method = Array.isArray(o.payment_method_types) ? str(o.payment_method_types[0], 64) : null;
  let payload: Obj;
  switch (name) {
    case 'payment_succeeded':
      payload = {
        provider: 'stripe', provider_tx_id: str(o.id), amount: fromMinorUnits(o.amount_received ?? o.amount, currency) ?? 0,
        currency, method, latency_ms: null,
      };
      break;
    case 'payment_failed': {
      const err = isObj(o.last_payment_error) ? o.last_payment_error : {};
      payload = {
        provider: 'stripe', provider_tx_id: str(o.id), amount: fromMinorUnits(o.amount, currency), currency, method,
        failure_code: str(err.decline_code, 128) ?? str(err.code, 128),
        failure_message: typeof err.message === 'string' ? err.message.slice(0, 1024) : null,
        latency_ms: null,
      };
      break;
    }
    case 'refund_completed': {
      // charge.refunded fires once per refund; amount_refunded is cumulative, so this refund is the delta
      // from previous_attributes (or the newest refund object when the API version still embeds them).
      const prev = isObj(evt.data.previous_attributes) ? evt.data.previous_attributes : {};
      const refunds = isObj(o.refunds) && Array.isArray(o.refunds.data) ? (o.refunds.data as unknown[]).filter(isObj) : [];
      const latest = refunds[0] ?? null;
      const total = typeof o.amount_refunded === 'number' ? o.amount_refunded : 0;
      const minor = typeof prev.amount_refunded === 'number' ? total - prev.amount_refunded : latest && typeof latest.amount === 'number' ? latest.amount : total;
      payload = {
        amount: fromMinorUnits(minor, currency) ?? 0, currency, provider: 'stripe',
        provider_refund_id: latest ? str(latest.id) : null,
        is_partial: o.refunded !== true,
        reason: latest ? str(latest.reason, 256) : null,
        provider_charge_id: str(o.id),
      };
      break;
    }
    default:
      payload = {
        amount: fromMinorUnits(o.amount, currency) ?? 0, currency, provider: 'stripe',
        provider_dispute_id: str(o.id), reason: str(o.reason, 256),
      };
  }
  const entities: Obj = { order_id: orderId };
  for (const k of ['event_entity_id', 'organizer_id'] as const) {
    const v = str(md[k], 128);
    if (v) entities[k] = v;
  }
  return {
    idempotency_key: evt.id,
    event_name: name,
    occurred_at: new Date(evt.created * 1000).toISOString(),
    source_system: 'payments',
    visitor_id: str(md.visitor_id, 64) ?? str(md.tx_vid, 64),
    session_id: str(md.session_id, 64) ?? str(md.tx_sid, 64),
    consent_snapshot: { analytics: false, marketing: false, data_processing: true },
    entities,
    payload,
    context: { stripe: { event_id: evt.id, type: evt.type, livemode: evt.livemode === true, api_version: evt.api_version ?? null } },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Secrets and order resolution
// ---------------------------------------------------------------------------------------------------------

export interface StripeStore {
  setSecret(tenantId: number, secret: string): Promise<{ hint: string; updated_at: string }>;
  /** The decrypted signing secret (cached briefly), null when none is configured. */
  secret(tenantId: number): Promise<string | null>;
  status(tenantId: number): Promise<{ configured: boolean; hint: string | null; updated_at: string | null }>;
  clearSecret(tenantId: number): Promise<boolean>;
  tenantExists(tenantId: number): Promise<boolean>;
  /** Order id from metadata, else from an earlier event about the same payment intent / charge. */
  resolveOrder(q: Queryable, tenantId: number, obj: Obj): Promise<string | null>;
}

const aad = (tenantId: number) => `tenant:${tenantId}:${STRIPE_SECRET_NAME}`;
const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());

export function createStripeStore(db: Db, cipher: Cipher, cacheMs = 30_000): StripeStore {
  const cache = new Map<number, { value: string | null; expires: number }>();
  return {
    async setSecret(tenantId, secret) {
      const hint = `${secret.slice(0, 6)}…${secret.slice(-4)}`;
      const ciphertext = cipher.encrypt(secret, aad(tenantId));
      const { rows } = await db.query<{ updated_at: Date }>(Q.put_secret, [tenantId, STRIPE_SECRET_NAME, ciphertext, hint]);
      cache.delete(tenantId);
      return { hint, updated_at: iso(rows[0].updated_at) };
    },
    async secret(tenantId) {
      const hit = cache.get(tenantId);
      if (hit && hit.expires > Date.now()) return hit.value;
      const { rows } = await db.query<{ ciphertext: string }>(Q.get_secret, [tenantId, STRIPE_SECRET_NAME]);
      const value = rows.length ? cipher.decrypt(rows[0].ciphertext, aad(tenantId)) : null;
      if (cache.size > 10_000) cache.clear();
      cache.set(tenantId, { value, expires: Date.now() + cacheMs });
      return value;
    },
    async status(tenantId) {
      const { rows } = await db.query<{ hint: string; updated_at: Date }>(Q.get_secret, [tenantId, STRIPE_SECRET_NAME]);
      return rows.length ? { configured: true, hint: rows[0].hint, updated_at: iso(rows[0].updated_at) } : { configured: false, hint: null, updated_at: null };
    },
    async clearSecret(tenantId) {
      const { rows } = await db.query<{ n: number }>(Q.delete_secret, [tenantId, STRIPE_SECRET_NAME]);
      cache.delete(tenantId);
      return rows[0].n > 0;
    },
    async tenantExists(tenantId) {
      const { rows } = await db.query(Q.tenant_exists, [tenantId]);
      return rows.length > 0;
    },
    async resolveOrder(q, tenantId, obj) {
      const ids = relatedObjectIds(obj);
      const fromMetadata = metadataOrderId(obj);
      if (fromMetadata) {
        if (ids.length) await q.query(Q.remember_stripe_objects, [tenantId, ids, fromMetadata]);
        return fromMetadata;
      }
      if (ids.length === 0) return null;
      const { rows } = await q.query<{ order_id: string }>(Q.order_for_stripe_objects, [tenantId, ids]);
      return rows[0]?.order_id ?? null;
    },
  };
}
