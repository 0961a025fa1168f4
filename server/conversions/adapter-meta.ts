// Meta Conversions API: POST {META_GRAPH_URL}/v25.0/{pixel_id}/events?access_token=…, {"data":[…≤1000],
// "test_event_code"?}. user_data carries the digests computed at ingest (normalise-meta.ts) and, unhashed,
// client_ip_address, client_user_agent, fbc, fbp. event_id is platformEventId (adapter.ts): a purchase's order
// id, any other event's tx event id; the browser pixel sends the same as eventID (a purchase's order id too), so
// Meta keeps one of the two, and one of two reports of the same order (48 h deduplication window).
import { joinUrl, platformEventId, seconds, str, transient, type Adapter, type Destination, type HttpAnswer, type OutboxItem, type SendOutcome } from './adapter.js';

export const META_API_VERSION = 'v25.0';
/** "If any event_time in data is greater than 7 days in the past, we return an error for the entire request." */
const MAX_AGE_S = 7 * 86_400;
export const META_MAX_AGE_MS = MAX_AGE_S * 1000;
const EVENT_NAMES: Record<string, string> = { order_completed: 'Purchase', add_to_cart: 'AddToCart', checkout_started: 'InitiateCheckout', event_view: 'ViewContent' };
/** Customer information parameters: what Meta calls advanced matching, left out when the code turns it off. */
const HASHED = ['em', 'ph', 'fn', 'ln', 'ct', 'zp', 'country', 'external_id'];
/** Graph error codes (RudderStack's Meta network handler): throttling and transient ones retry. */
const THROTTLE = new Set([4, 17, 32, 613, 80000, 80001, 80003, 80004, 80014]);
const TRANSIENT = new Set([1, 2, 341, 368, 5000]);
/**
 * The destination's own fault, whatever the rows: the token (190, 102: expired, revoked, invalid), permissions
 * (10, 200-299), the app's capability (3), an unknown object (803). Code 100 is a bad parameter, usually one
 * row's, except subcode 33 "Unsupported post request. Object with ID … does not exist, cannot be loaded due to
 * missing permissions, or does not support this operation": the pixel id or the token's access to it.
 */
const DESTINATION = new Set([3, 10, 102, 190, 803]);
const isDestinationError = (e: { code?: number; error_subcode?: number; message?: string }): boolean =>
  e.code !== undefined && (DESTINATION.has(e.code) || (e.code >= 200 && e.code <= 299)
    || (e.code === 100 && (e.error_subcode === 33 || /unsupported post request|object with id .* does not exist/i.test(e.message ?? ''))));

const matchKeys = (dest: Destination, item: OutboxItem): Record<string, string> =>
  Object.fromEntries(Object.entries(item.user_data ?? {}).filter(([k]) => dest.settings.advanced_matching !== false || !HASHED.includes(k)));

export function metaServerEvent(dest: Destination, item: OutboxItem): Record<string, unknown> {
  const d = item.data;
  const hashes = matchKeys(dest, item);
  const user_data = { ...hashes, client_ip_address: d.ip, client_user_agent: d.user_agent, fbc: d.fbc, fbp: d.fbp };
  const items = d.items ?? [];
  const custom = typeof dest.settings.custom_params === 'object' && dest.settings.custom_params !== null ? dest.settings.custom_params : {};
  return strip({
    event_name: EVENT_NAMES[item.event_name],
    event_time: seconds(item.occurred_at),
    event_id: platformEventId(item),
    // A website event needs the buyer's user agent and the page; a backend order that forwarded neither is
    // reported as system_generated instead of being refused.
    action_source: d.user_agent && d.url ? 'website' : 'system_generated',
    event_source_url: d.url,
    user_data: strip(user_data),
    custom_data: strip({
      ...custom,
      value: d.value, currency: d.currency, order_id: d.order_id,
      content_type: items.length || d.event_entity_id ? 'product' : undefined,
      content_ids: items.length ? items.map((i) => String(i.ticket_type_id)) : d.event_entity_id ? [d.event_entity_id] : undefined,
      contents: items.length ? items.map((i) => strip({ id: String(i.ticket_type_id), quantity: i.qty, item_price: i.price })) : undefined,
      num_items: items.length ? items.reduce((n, i) => n + i.qty, 0) : undefined,
    }),
  });
}

function strip<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as T;
}

interface MetaError { code?: number; error_subcode?: number; message?: string; error_user_title?: string; error_user_msg?: string }

const clip = (v: unknown, n: number): string => (typeof v === 'string' ? v.trim().slice(0, n) : '');

/**
 * The Graph error envelope as last_error: code/subcode, `message`, and Meta's explanation for the advertiser
 * (`error_user_title`, `error_user_msg`: what is wrong with the event or the setup), each bounded in length (≤ 750 characters in all).
 */
export function metaErrorText(err: MetaError): string {
  const title = clip(err.error_user_title, 100);
  const msg = clip(err.error_user_msg, 300);
  const user = [title, msg].filter(Boolean).join(': ');
  return `Meta error ${err.code}${err.error_subcode ? `/${err.error_subcode}` : ''}: ${clip(err.message, 300)}${user ? ` — ${user}` : ''}`;
}

export function classifyMeta(a: HttpAnswer): SendOutcome {
  const err = (a.json as { error?: MetaError } | null)?.error;
  const text = err ? metaErrorText(err) : `HTTP ${a.status}: ${a.text.slice(0, 500)}`;
  if (a.status >= 200 && a.status < 300 && !err) return { kind: 'ok' };
  if (err?.code !== undefined && THROTTLE.has(err.code)) return { kind: 'retry', error: text, retryAfterMs: a.retryAfterMs };
  // A 401/403 is the token's or the pixel's (README: the destination is held), whatever generic code (1 "unknown",
  // 2 "temporarily unavailable") the body carries: retried, it would fail the same way until its rows expire.
  if (a.status === 401 || a.status === 403) return { kind: 'held', error: text };
  if (err?.code !== undefined && TRANSIENT.has(err.code)) return { kind: 'retry', error: text, retryAfterMs: a.retryAfterMs };
  const t = transient(a);
  if (t) return t;
  if (err && isDestinationError(err)) return { kind: 'held', error: text };
  return { kind: 'invalid', error: text };
}

/** base: META_GRAPH_URL (https://graph.facebook.com). */
export const metaAdapter = (base: string): Adapter => ({
  provider: 'meta',
  maxBatch: 1000,
  maxAgeMs: META_MAX_AGE_MS,
  secret: 'access_token',
  configProblem(dest) {
    if (!/^\d{5,20}$/.test(String(dest.settings.pixel_id ?? ''))) return 'the Meta code has no valid pixel_id';
    if (!str(dest.secrets.access_token)) return 'the Meta code has no access_token (Conversions API) set';
    return null;
  },
  check(dest, item, now) {
    if (!EVENT_NAMES[item.event_name]) return `Meta: no standard event for ${item.event_name}`;
    if (now / 1000 - seconds(item.occurred_at) > MAX_AGE_S) return 'Meta: event_time is more than 7 days in the past';
    const u = matchKeys(dest, item);
    if (Object.keys(u).length === 0 && !(item.data.ip && item.data.user_agent) && !item.data.fbc) return 'Meta: no customer information to match (no hashes, no ip + user agent, no fbc)';
    return null;
  },
  async send(dest, items, http) {
    const token = encodeURIComponent(dest.secrets.access_token ?? '');
    const url = `${joinUrl(base, `${META_API_VERSION}/${dest.settings.pixel_id}/events`)}?access_token=${token}`;
    const body = { data: items.map((i) => metaServerEvent(dest, i)), ...(str(dest.settings.test_event_code) ? { test_event_code: dest.settings.test_event_code } : {}) };
    return classifyMeta(await http(url, body));
  },
});
