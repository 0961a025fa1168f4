// The pixel loader's pure part (no DOM: the root tsconfig type-checks it through the tests): browser event names
// per tx event and the platforms' parameters of a tx event's props.

/** Browser names per tx event; server/tracking/snippets.ts PIXEL_EVENTS is the same table (a test compares). */
export const PIXEL_EVENTS: Record<string, { meta: string; ga4: string; tiktok: string }> = {
  page_view: { meta: 'PageView', ga4: 'page_view', tiktok: 'Pageview' },
  event_view: { meta: 'ViewContent', ga4: 'view_item', tiktok: 'ViewContent' },
  add_to_cart: { meta: 'AddToCart', ga4: 'add_to_cart', tiktok: 'AddToCart' },
  checkout_started: { meta: 'InitiateCheckout', ga4: 'begin_checkout', tiktok: 'InitiateCheckout' },
  order_completed: { meta: 'Purchase', ga4: 'purchase', tiktok: 'CompletePayment' },
};

/** The ad platforms' browser ids, as the server checks them (server/ingest/validate.ts BROWSER_IDS). */
const FBP = /^fb\.\d\.\d{1,16}\.[A-Za-z0-9._-]{1,100}$/;
const FBC = /^fb\.\d\.\d{1,16}\.[A-Za-z0-9._-]{1,240}$/;
const TTP = /^[A-Za-z0-9._-]{1,128}$/;
const GA = /^GA\d\.\d+\.(\d{1,20}\.\d{1,20})$/;
const GA_SESSION = /^GS\d\.\d+\.s?(\d{1,20})/;

/**
 * The context fields of the platforms' first-party cookies (`document.cookie`): with marketing consent Meta's
 * `_fbp` (fbp) and `_fbc` (fbc: fb.<n>.<ms>.<fbclid>, the ad click a returning visitor came by) and TikTok's `_ttp` (ttp), with analytics consent GA4's client id (`_ga` GA1.1.<a>.<b> →
 * ga_client_id "<a>.<b>") and, per GA4 measurement id in `ga4`, the session id of its `_ga_<id>` cookie
 * (ga_session_ids). Malformed values are left out. Pure.
 */
export function browserIds(cookie: string, consent: { marketing?: boolean; analytics?: boolean }, ga4: string[]): Record<string, unknown> {
  const jar: Record<string, string> = {};
  for (const part of cookie.split(';')) {
    const k = part.indexOf('=');
    if (k > 0) jar[part.slice(0, k).trim()] = part.slice(k + 1).trim();
  }
  const out: Record<string, unknown> = {};
  if (consent.marketing) {
    if (FBP.test(jar._fbp || '')) out.fbp = jar._fbp;
    if (FBC.test(jar._fbc || '')) out.fbc = jar._fbc;
    if (TTP.test(jar._ttp || '')) out.ttp = jar._ttp;
  }
  if (consent.analytics) {
    const ga = GA.exec(jar._ga || '');
    if (ga) out.ga_client_id = ga[1];
    const sessions: Record<string, string> = {};
    for (const id of ga4.slice(0, 4)) {
      const s = GA_SESSION.exec(jar['_ga_' + id.slice(2)] || '');
      if (s) sessions[id] = s[1];
    }
    if (Object.keys(sessions).length) out.ga_session_ids = sessions;
  }
  return out;
}

export type Item = { ticket_type_id?: unknown; qty?: number; price?: number; ticket_type_name?: string };
type Props = Record<string, any>;

/** The platforms' parameters of a tx event's props (value, currency, content ids, items). Pure. */
export function pixelParams(name: string, p: Props): { meta: Props; ga4: Props; tiktok: Props } {
  const items: Item[] = Array.isArray(p.items) ? p.items : [];
  const value = p.value ?? p.gross_amount ?? p.cart_value ?? p.price_from;
  const ids = items.length ? items.map((i) => String(i.ticket_type_id)) : p.event_entity_id !== undefined ? [String(p.event_entity_id)] : [];
  const base: Props = {};
  if (typeof value === 'number') base.value = value;
  if (typeof p.currency === 'string') base.currency = p.currency;
  const meta: Props = { ...base, content_type: 'product' };
  if (ids.length) meta.content_ids = ids;
  if (items.length) meta.num_items = items.reduce((n, i) => n + (i.qty || 0), 0);
  const ga4: Props = { ...base };
  if (p.order_id !== undefined) ga4.transaction_id = String(p.order_id);
  if (items.length) ga4.items = items.map((i) => ({ item_id: String(i.ticket_type_id), item_name: i.ticket_type_name, price: i.price, quantity: i.qty }));
  else if (p.event_entity_id !== undefined) ga4.items = [{ item_id: String(p.event_entity_id) }];
  const tiktok: Props = { ...base, content_type: 'product' };
  if (ids.length) tiktok.contents = ids.map((id, k) => ({ content_id: id, quantity: items[k] ? items[k].qty : 1 }));
  return { meta: name === 'page_view' ? {} : meta, ga4: name === 'page_view' ? {} : ga4, tiktok };
}

