// TikTok Events API 1.3: POST {TIKTOK_API_URL}/open_api/v1.3/event/track/ with the Access-Token header,
// {"event_source":"web","event_source_id":<pixel code>,"data":[…≤1000]}. TikTok answers HTTP 200 with its own
// code: 0 (or 20001, partly accepted) is success, 40100 is its rate limit, 40001/40002 are the token's fault
// (the destination is held);
// one bad row fails the whole batch (hence validation first and bisection). event_id is platformEventId
// (adapter.ts): a purchase's order id, any other event's tx event id, as the browser pixel's event_id, so TikTok
// keeps one of the pixel's and the server's copies, and one of two reports of the same order (48 h).
import { joinUrl, platformEventId, str, transient, type Adapter, type Destination, type HttpAnswer, type OutboxItem, type SendOutcome } from './adapter.js';

const EVENT_NAMES: Record<string, string> = { order_completed: 'CompletePayment', add_to_cart: 'AddToCart', checkout_started: 'InitiateCheckout', event_view: 'ViewContent' };
const PIXEL = /^[A-Z0-9]{20}$/;
const RETRY_CODES = new Set([40100, 40700, 50000, 50002]);
/** The token or its access to the pixel (RudderStack's TikTok handler: auth, abort): the destination's fault. */
const DESTINATION_CODES = new Set([40001, 40002, 40105]);

/** The code's advanced_matching: false leaves the hashed e-mail, phone and external id out (cookies and ip stay). */
export function tiktokEvent(item: OutboxItem, matching = true): Record<string, unknown> {
  const d = item.data;
  const u = matching ? (item.user_data ?? {}) : {};
  const items = d.items ?? [];
  return {
    event: EVENT_NAMES[item.event_name],
    event_time: Math.floor(Date.parse(item.occurred_at) / 1000),
    event_id: platformEventId(item),
    user: clean({ email: u.em, phone: u.ph, external_id: u.external_id, ttclid: d.ttclid, ttp: d.ttp, ip: d.ip, user_agent: d.user_agent }),
    properties: clean({
      contents: items.length ? items.map((i) => clean({ content_id: String(i.ticket_type_id), quantity: i.qty, price: i.price, content_name: i.ticket_type_name })) : undefined,
      content_type: 'product', currency: d.currency, value: d.value, order_id: d.order_id,
    }),
    page: clean({ url: d.url }),
  };
}

function clean(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));
}

export function classifyTiktok(a: HttpAnswer): SendOutcome {
  const t = transient(a);
  if (t) return t;
  const body = a.json as { code?: number; message?: string } | null;
  const text = `TikTok ${body?.code ?? `HTTP ${a.status}`}: ${body?.message ?? a.text.slice(0, 500)}`;
  if (a.status >= 200 && a.status < 300 && (body?.code === 0 || body?.code === 20001)) return { kind: 'ok' };
  if (body?.code !== undefined && RETRY_CODES.has(body.code)) return { kind: 'retry', error: text };
  if (a.status === 401 || a.status === 403 || (body?.code !== undefined && DESTINATION_CODES.has(body.code))) return { kind: 'held', error: text };
  return { kind: 'invalid', error: text };
}

/** base: TIKTOK_API_URL (https://business-api.tiktok.com). */
export const tiktokAdapter = (base: string): Adapter => ({
  provider: 'tiktok',
  maxBatch: 1000,
  secret: 'access_token',
  configProblem(dest: Destination) {
    if (!PIXEL.test(String(dest.settings.pixel_id ?? ''))) return 'the TikTok code has no valid pixel_id (20 upper-case letters and digits)';
    if (!str(dest.secrets.access_token)) return 'the TikTok code has no access_token (Events API) set';
    return null;
  },
  check(_dest, item) {
    if (!EVENT_NAMES[item.event_name]) return `TikTok: no standard event for ${item.event_name}`;
    return null;
  },
  async send(dest, items, http) {
    const body = {
      event_source: 'web',
      event_source_id: dest.settings.pixel_id,
      ...(str(dest.settings.test_event_code) ? { test_event_code: dest.settings.test_event_code } : {}),
      data: items.map((i) => tiktokEvent(i, dest.settings.advanced_matching !== false)),
    };
    return classifyTiktok(await http(joinUrl(base, 'open_api/v1.3/event/track/'), body, { 'Access-Token': dest.secrets.access_token ?? '' }));
  },
});
