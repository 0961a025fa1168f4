// Stripe events onto tx events: the four payment event types are mapped onto tx envelopes whose idempotency
// key is the Stripe event id (Stripe delivers at least once, sometimes concurrently).
import type { FieldError } from '../../ingest/validate.js';
import { EVENT_ROOT } from '../../ingest/messages.js';
import { describeJson, stringProblem } from '../../http/params.js';
import { isObj, type Obj } from '../../store/rows.js';
import { own } from '../../lookup.js';

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
  // EVENT_ROOT (`$`): the whole event, as in ingest's per-event reasons (the rejection is kept like theirs).
  const bad = (field: string, message: string) => ({ ok: false as const, error: { code: 'invalid_stripe_event', field, message } });
  if (!isObj(v)) return bad(EVENT_ROOT, `The body is not a Stripe event object; got ${describeJson(v)}.`);
  if (str(v.id) === null) return bad('id', 'id must be a Stripe event id (1-255 printable characters).');
  if (str(v.type, 100) === null) return bad('type', 'type must be a Stripe event type like payment_intent.succeeded.');
  if (typeof v.created !== 'number' || !Number.isInteger(v.created) || v.created < 0 || v.created >= MAX_CREATED_S) {
    return bad('created', `created must be a Unix time in seconds between 0 and ${MAX_CREATED_S}.`);
  }
  if (!isObj(v.data) || !isObj(v.data.object)) return bad('data.object', 'data.object must be the Stripe object the event is about.');
  const problem = own(HANDLED_TYPES, v.type as string) === undefined ? null : handledProblem(v.data.object, isObj(v.data.previous_attributes) ? v.data.previous_attributes : {});
  if (problem) return bad(problem.field, problem.message);
  return { ok: true, event: v as unknown as StripeEvent };
}

/** Longest metadata.order_id taken (longer ones are refused, not cut: a cut id would name another order). */
const MAX_ORDER_ID = 128;
const isAmount = (a: unknown) => typeof a === 'number' && Number.isSafeInteger(a) && a >= 0;

/**
 * What makes a handled event unusable although its shape is right: an order id in metadata that cannot be one
 * (NUL, control characters, a lone surrogate, over 128 characters, not a string or number) and amounts that are
 * not whole non-negative numbers of the currency's minor unit (a refund below the previous one too). Such an
 * event is refused naming the field instead of being ignored as orderless or stored with amount 0. Pure.
 */
export function handledProblem(o: Obj, prev: Obj): { field: string; message: string } | null {
  const md = isObj(o.metadata) ? o.metadata : {};
  for (const key of ['order_id', 'orderId']) {
    const v = md[key];
    if (v === undefined || v === null) continue;
    if (typeof v === 'number' ? !Number.isFinite(v) : str(v, MAX_ORDER_ID) === null) {
      return { field: `data.object.metadata.${key}`, message: `metadata.${key} must be the order id: a string of 1 to ${MAX_ORDER_ID} printable characters (no NUL, control characters or lone surrogates) or a number.` };
    }
  }
  for (const key of ['amount', 'amount_received', 'amount_refunded']) {
    const a = o[key];
    if (a !== undefined && a !== null && !isAmount(a)) {
      return { field: `data.object.${key}`, message: `${key} must be a whole non-negative number of the currency's smallest unit (got ${JSON.stringify(a)?.slice(0, 40)}).` };
    }
  }
  const before = prev.amount_refunded;
  if (before !== undefined && before !== null) {
    if (!isAmount(before)) return { field: 'data.previous_attributes.amount_refunded', message: 'previous_attributes.amount_refunded must be a whole non-negative number of the currency\'s smallest unit.' };
    if (typeof o.amount_refunded === 'number' && o.amount_refunded < (before as number)) {
      return { field: 'data.object.amount_refunded', message: `amount_refunded (${o.amount_refunded}) is below its previous value (${before as number}): a refund cannot be negative.` };
    }
  }
  const refunds = isObj(o.refunds) && Array.isArray(o.refunds.data) ? o.refunds.data : [];
  if (isObj(refunds[0]) && refunds[0].amount !== undefined && refunds[0].amount !== null && !isAmount(refunds[0].amount)) {
    return { field: 'data.object.refunds.data[0].amount', message: 'A refund\'s amount must be a whole non-negative number of the currency\'s smallest unit.' };
  }
  return null;
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
  const name = own(HANDLED_TYPES, evt.type);
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
