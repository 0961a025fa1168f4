// GA4 Measurement Protocol: POST {GA4_MP_URL}/mp/collect?measurement_id=G-…&api_secret=…, one client per
// request ({"client_id","timestamp_micros","events":[…≤25]}). It never answers with an error, so every rule of
// its validation endpoint (/debug/mp/collect) that our data could break is checked before sending: names,
// 25 params, values ≤ 100 characters, 72 h backdating, and the body under 130 kB (a client's events are split
// over as many requests as that takes; an event too big alone is dead, never sent).
import crypto from 'node:crypto';
import { joinUrl, str, transient, unanswered, type Adapter, type Destination, type FailedOutcome, type HttpAnswer, type OutboxItem, type SendOutcome } from './adapter.js';

const EVENT_NAMES: Record<string, string> = { order_completed: 'purchase', add_to_cart: 'add_to_cart', checkout_started: 'begin_checkout', event_view: 'view_item' };
export const GA4_MAX_AGE_MS = 72 * 3_600_000;
const MEASUREMENT = /^G-[A-Z0-9]+$/;

/**
 * The GA4 client: the browser's own (_ga cookie, context.ga_client_id, so the conversion joins the browser's
 * users and sessions in GA4), else the tx visitor id, else one per event.
 */
export const ga4ClientId = (item: OutboxItem): string => item.data.ga_client_id ?? item.data.visitor_id ?? `tx.${item.event_id}`;

/** GA4's limit on a parameter value. */
const MAX_VALUE = 100;

/**
 * The purchase's transaction_id: the order id (else the event id) as is up to 100 characters; a longer one is
 * its first 83 characters, '-' and 16 hex digits of the SHA-256 of the whole id (100 in all), so two orders
 * sharing their first 100 characters stay two transactions (cutting them merged them in GA4). Pure.
 */
export function ga4TransactionId(id: string): string {
  const chars = [...id]; // code points: a cut never splits a surrogate pair
  if (chars.length <= MAX_VALUE) return id;
  return `${chars.slice(0, MAX_VALUE - 17).join('')}-${crypto.createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
}

/** `measurementId`: the destination's stream, whose session (context.ga_session_ids) the event joins. */
export function ga4Event(item: OutboxItem, measurementId?: string): Record<string, unknown> {
  const d = item.data;
  const items = (d.items ?? []).slice(0, 200).map((i) => ({ item_id: String(i.ticket_type_id).slice(0, 100), quantity: i.qty, ...(i.price !== undefined ? { price: i.price } : {}) }));
  const params: Record<string, unknown> = { engagement_time_msec: 1 };
  // session_id with engagement_time_msec: the event shows in the browser's session (and in Realtime).
  const session = measurementId ? d.ga_session_ids?.[measurementId] : undefined;
  if (session && /^\d{1,20}$/.test(session)) params.session_id = session;
  if (d.currency) params.currency = d.currency;
  if (d.value !== undefined) params.value = d.value;
  if (item.event_name === 'order_completed') params.transaction_id = ga4TransactionId(String(d.order_id ?? item.event_id));
  if (items.length) params.items = items;
  else if (d.event_entity_id) params.items = [{ item_id: d.event_entity_id.slice(0, 100) }];
  return { name: EVENT_NAMES[item.event_name], timestamp_micros: Date.parse(item.occurred_at) * 1000, params };
}

/**
 * GA4's limit on a request body: "less than 130 kB" (Measurement Protocol, sending events). A bigger request is
 * dropped without an error (GA4 answers 2xx to everything), so it must never be sent.
 */
export const GA4_MAX_BODY_BYTES = 130_000;

/** The size of a body as sent (createHttpPost sends JSON.stringify(body)), in bytes. */
export const ga4BodyBytes = (body: unknown): number => Buffer.byteLength(JSON.stringify(body));

/**
 * One client's events as the requests that carry them, in order: each request takes the next events while its
 * exact body stays under `maxBytes`. An event too big even alone is a request of its own (check() refuses such a
 * row first; send() never sends it). Pure.
 */
export function ga4Requests(items: OutboxItem[], measurementId?: string, maxBytes = GA4_MAX_BODY_BYTES): OutboxItem[][] {
  const out: OutboxItem[][] = [];
  let cur: OutboxItem[] = [];
  for (const i of items) {
    // The whole body is measured (not a sum of events): consent and the separators count too, so the bytes
    // checked are the bytes sent. At most 25 events of < 130 kB: cheap.
    if (cur.length && ga4BodyBytes(ga4Body([...cur, i], measurementId)) >= maxBytes) {
      out.push(cur);
      cur = [];
    }
    cur.push(i);
  }
  if (cur.length) out.push(cur);
  return out;
}

/** Why one event cannot be sent at all for its size (its request alone is over GA4's limit), or null. Pure. */
export function ga4TooBig(item: OutboxItem, measurementId?: string, maxBytes = GA4_MAX_BODY_BYTES): string | null {
  const bytes = ga4BodyBytes(ga4Body([item], measurementId));
  if (bytes < maxBytes) return null;
  return `GA4: the event's request would be ${bytes} bytes, over the Measurement Protocol's 130 kB (${maxBytes} bytes) limit; GA4 drops such a request without an error, so it is not sent`;
}

export function ga4Body(items: OutboxItem[], measurementId?: string): Record<string, unknown> {
  const granted = items.every((i) => i.legal_basis === 'consent') ? 'GRANTED' : 'DENIED';
  return {
    client_id: ga4ClientId(items[0]),
    consent: { ad_user_data: granted, ad_personalization: granted },
    events: items.map((i) => ga4Event(i, measurementId)),
  };
}

interface ValidationMessage {
  fieldPath?: unknown;
  description?: unknown;
  validationCode?: unknown;
}

/**
 * GA4 answers 2xx whatever it thinks of the request; its validation format ({"validationMessages": […]}, the
 * answer of /debug/mp/collect and of stand-ins that check like it) in a 2xx body means refused: the rows are
 * not delivered. A message about the destination itself (measurement_id, api_secret) holds the destination,
 * any other is invalid (bisected down to the row, dead with the description).
 */
export function classifyGa4(a: HttpAnswer): { kind: 'ok' } | FailedOutcome {
  const t = transient(a);
  if (t) return t;
  if (a.status >= 200 && a.status < 300) {
    const msgs = (a.json as { validationMessages?: unknown } | null)?.validationMessages;
    if (!Array.isArray(msgs) || msgs.length === 0) return { kind: 'ok' };
    const list = msgs.slice(0, 5).map((m: ValidationMessage) => `${String(m?.fieldPath ?? '?')}: ${String(m?.description ?? 'invalid')}${m?.validationCode ? ` (${String(m.validationCode)})` : ''}`);
    const error = `GA4 validation: ${list.join('; ')}`.slice(0, 500);
    const destination = msgs.some((m: ValidationMessage) => m?.fieldPath === 'measurement_id' || m?.fieldPath === 'api_secret');
    return { kind: destination ? 'held' : 'invalid', error };
  }
  return { kind: a.status === 401 || a.status === 403 ? 'held' : 'invalid', error: `GA4 HTTP ${a.status}: ${a.text.slice(0, 500)}` };
}

/** base: GA4_MP_URL (https://www.google-analytics.com). */
export const ga4Adapter = (base: string): Adapter => ({
  provider: 'ga4',
  maxBatch: 25,
  maxAgeMs: GA4_MAX_AGE_MS,
  secret: 'api_secret',
  configProblem(dest: Destination) {
    if (!MEASUREMENT.test(String(dest.settings.measurement_id ?? ''))) return 'the GA4 code has no valid measurement_id';
    if (!str(dest.secrets.api_secret)) return 'the GA4 code has no api_secret (Measurement Protocol) set';
    return null;
  },
  check(dest, item, now) {
    if (!EVENT_NAMES[item.event_name]) return `GA4: no event for ${item.event_name}`;
    if (now - Date.parse(item.occurred_at) > GA4_MAX_AGE_MS) return 'GA4: events can be backdated 72 hours at most';
    return ga4TooBig(item, String(dest.settings.measurement_id));
  },
  async send(dest, items, http, recordSent, nextRequest) {
    const url = `${joinUrl(base, 'mp/collect')}?measurement_id=${encodeURIComponent(String(dest.settings.measurement_id))}&api_secret=${encodeURIComponent(dest.secrets.api_secret ?? '')}`;
    // One request per client (each event carries its own time), split further where the body would reach 130 kB
    // (ga4Requests: GA4 silently drops a bigger one). GA4 does not deduplicate events: a request it
    // acknowledged must never be sent again, so each one is recorded (`recordSent`: the dispatcher marks its rows
    // sent) before the next is sent; if that mark fails it throws and nothing more is sent. Without a recorder
    // (a caller that settles only at the end), the clients already sent are reported as `partial`.
    const groups = new Map<string, OutboxItem[]>();
    for (const i of items) {
      const k = ga4ClientId(i);
      groups.set(k, [...(groups.get(k) ?? []), i]);
    }
    const sent: number[] = [];
    const measurementId = String(dest.settings.measurement_id);
    const requests = [...groups.values()].flatMap((g) => ga4Requests(g, measurementId));
    const stop = (out: FailedOutcome): SendOutcome => (sent.length ? { kind: 'partial', sent, rest: out } : out);
    for (const [k, g] of requests.entries()) {
      // Each request may take the whole timeout: the rows still waiting keep their lease (another node would
      // otherwise claim and send them again, and GA4 would count them twice). The dispatcher may have no time
      // left for this destination: the rest go in the next run.
      if (k > 0 && nextRequest && (await nextRequest(requests.slice(k).flat().map((i) => i.id))) === false) {
        return stop({ kind: 'deferred', error: 'the dispatcher\'s time for this destination in the run was up: sent in the next run' });
      }
      // Only an event too big alone gets here over the limit (when check() was not asked): refused, not sent.
      // Invalid: the dispatcher bisects the rest down to that row, which dies with this reason.
      const tooBig = g.length === 1 ? ga4TooBig(g[0], measurementId) : null;
      if (tooBig) return stop({ kind: 'invalid', error: tooBig });
      const answer = await http(url, ga4Body(g, measurementId));
      let out: SendOutcome = classifyGa4(answer);
      // No answer to a request that left (the timeout, a cut connection): GA4 may have counted it and would count
      // a second copy too, so its rows are unconfirmed (not sent again); the clients after it never left.
      if (out.kind === 'retry' && unanswered(answer)) out = { ...out, unconfirmed: g.map((i) => i.id) };
      if (out.kind !== 'ok') return stop(out);
      const ids = g.map((i) => i.id);
      if (recordSent) await recordSent(ids);
      else sent.push(...ids);
    }
    return { kind: 'ok' };
  },
});
