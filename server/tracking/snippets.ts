// The HTML of resolved tracking codes for a page (GET /api/tx/tracking-config?format=html, README "Tracking
// codes"): {"head","body"} to insert into the page, and the same per code so a page can insert each one once
// its consent category is given. Every <script> carries the page's CSP nonce; there are no inline event
// handlers (onload=…), and the scripts the stubs create themselves get the nonce too. Pure.
// Ids are checked again here (not only when stored): a code whose id does not match its provider's pattern is
// left out, never interpolated. Everything else that reaches script text is JSON with <, >, & and the line
// separators escaped, so no value can close the script element.
import { checkProviderId, CONSENT, ID_FIELD, SERVER_ONLY, type ConsentCategory, type Owner, type Provider } from './validate.js';

/** A resolved code as the public resolution shows it: nothing secret (no tokens, no test codes). */
export interface PublicCode {
  provider: Provider;
  owner: Owner;
  consent: ConsentCategory;
  id: string;
  conversion_label?: string;
  conversion_events: string[];
  advanced_matching?: boolean;
  custom_params: Record<string, string | number | boolean>;
  /**
   * GA4 with an api_secret: the conversion events the server sends through the Measurement Protocol (with
   * marketing consent). GA4 deduplicates nothing, so the pixel loader does not fire them in the browser too.
   */
  server_events?: string[];
}

/**
 * Browser event names per tx event (the SDK loader, client/sdk/pixels.ts, fires the same; the conversions
 * dispatcher must send the same names with the same event id so each platform deduplicates: a purchase's order
 * id, any other event's tx event_id — server/conversions/adapter.ts platformEventId).
 */
export const PIXEL_EVENTS = {
  page_view: { meta: 'PageView', ga4: 'page_view', tiktok: 'Pageview' },
  event_view: { meta: 'ViewContent', ga4: 'view_item', tiktok: 'ViewContent' },
  add_to_cart: { meta: 'AddToCart', ga4: 'add_to_cart', tiktok: 'AddToCart' },
  checkout_started: { meta: 'InitiateCheckout', ga4: 'begin_checkout', tiktok: 'InitiateCheckout' },
  order_completed: { meta: 'Purchase', ga4: 'purchase', tiktok: 'CompletePayment' },
} as const;

/** Where the snippets load the platforms' libraries from (tests point them at local stand-ins). */
export interface ScriptUrls {
  meta: string;
  gtag: string;
  gtm: string;
  tiktok: string;
}
export const DEFAULT_SCRIPT_URLS: ScriptUrls = {
  meta: 'https://connect.facebook.net/en_US/fbevents.js',
  gtag: 'https://www.googletagmanager.com/gtag/js',
  gtm: 'https://www.googletagmanager.com/gtm.js',
  tiktok: 'https://analytics.tiktok.com/i18n/pixel/events.js',
};

// base64 / base64url characters (CSP's base64-value), bounded: anything else could break out of the attribute.
const NONCE = /^[A-Za-z0-9+/_-]{8,128}={0,2}$/;
export const nonceOk = (n: string): boolean => NONCE.test(n);

/** JSON safe inside a <script> element and inside an HTML attribute. Pure. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&'\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
const attr = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export interface Snippet {
  provider: Provider;
  owner: Owner;
  consent: ConsentCategory;
  id: string;
  head: string;
  body: string;
}

export interface Snippets {
  head: string;
  body: string;
  codes: Snippet[];
}

type Part = { head: string[]; body: string[] };

const FBQ_STUB = "!function(f){if(f.fbq)return;var n=f.fbq=function(){n.callMethod?n.callMethod.apply(n,arguments):n.queue.push(arguments)};if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';n.queue=[]}(window);";
const GTAG_STUB = 'window.dataLayer=window.dataLayer||[];window.gtag=window.gtag||function(){dataLayer.push(arguments)};';
const TTQ_STUB = (nonce: string, src: string) =>
  '!function(w,d,t){w.TiktokAnalyticsObject=t;var q=w[t]=w[t]||[];if(q.load)return;q.methods=["page","track","identify","instances","debug","on","off","once","ready","alias","group","enableCookie","disableCookie","holdConsent","revokeConsent","grantConsent"];'
  + 'q.setAndDefer=function(o,m){o[m]=function(){o.push([m].concat(Array.prototype.slice.call(arguments,0)))}};for(var i=0;i<q.methods.length;i++)q.setAndDefer(q,q.methods[i]);'
  + 'q.instance=function(id){for(var e=q._i[id]||[],n=0;n<q.methods.length;n++)q.setAndDefer(e,q.methods[n]);return e};'
  + `q.load=function(e,o){var r=${scriptJson(src)};q._i=q._i||{};q._i[e]=[];q._i[e]._u=r;q._t=q._t||{};q._t[e]=+new Date;q._o=q._o||{};q._o[e]=o||{};`
  + `var s=d.createElement("script");s.async=!0;s.setAttribute("nonce",${scriptJson(nonce)});s.src=r+"?sdkid="+e+"&lib="+t;var a=d.getElementsByTagName("script")[0];a.parentNode.insertBefore(s,a)}}(window,document,"ttq");`;

function part(c: PublicCode, nonce: string, urls: ScriptUrls): Part {
  const n = attr(nonce);
  const inline = (js: string) => `<script nonce="${n}">${js}</script>`;
  const src = (url: string) => `<script nonce="${n}" async src="${attr(url)}"></script>`;
  const id = scriptJson(c.id);
  const params = scriptJson(c.custom_params);
  switch (c.provider) {
    case 'meta':
      return {
        head: [inline(`${FBQ_STUB}fbq('init',${id});fbq('trackSingle',${id},'PageView',${params});`), src(urls.meta)],
        body: [`<noscript><img height="1" width="1" alt="" src="https://www.facebook.com/tr?id=${attr(encodeURIComponent(c.id))}&amp;ev=PageView&amp;noscript=1"></noscript>`],
      };
    case 'ga4':
    case 'google_ads':
      return {
        head: [src(`${urls.gtag}?id=${encodeURIComponent(c.id)}`), inline(`${GTAG_STUB}gtag('js',new Date());gtag('config',${id},${params});`)],
        body: [],
      };
    case 'gtm': {
      // Google's nonce-aware container snippet: gtm.js gets the nonce of the page's first nonce'd element.
      const js = `${GTAG_STUB}dataLayer.push(${params});(function(w,d,s,l,i){w[l].push({'gtm.start':new Date().getTime(),event:'gtm.js'});var f=d.getElementsByTagName(s)[0],j=d.createElement(s);`
        + `j.async=true;j.src=${scriptJson(urls.gtm)}+'?id='+i;var n=d.querySelector('[nonce]');n&&j.setAttribute('nonce',n.nonce||n.getAttribute('nonce'));f.parentNode.insertBefore(j,f);})(window,document,'script','dataLayer',${id});`;
      return {
        head: [inline(js)],
        body: [`<noscript><iframe src="https://www.googletagmanager.com/ns.html?id=${attr(encodeURIComponent(c.id))}" height="0" width="0" title="gtm"></iframe></noscript>`],
      };
    }
    case 'tiktok':
      return { head: [inline(`${TTQ_STUB(nonce, urls.tiktok)}ttq.load(${id});ttq.instance(${id}).page();`)], body: [] };
  }
}

/**
 * The snippets of `codes` with `nonce` on every script. A code whose id does not match its provider is left
 * out (listed in `refused`); a library loaded by several codes (two gtag ids) is loaded once. Pure.
 */
export function renderSnippets(codes: PublicCode[], nonce: string, urls: ScriptUrls = DEFAULT_SCRIPT_URLS): Snippets & { refused: PublicCode[] } {
  if (!nonceOk(nonce)) throw new Error('renderSnippets: the nonce must be checked by the caller (nonceOk)');
  const out: Snippet[] = [];
  const refused: PublicCode[] = [];
  const head: string[] = [];
  const body: string[] = [];
  const seen = new Set<string>();
  for (const c of codes) {
    if (!checkProviderId(c.provider, c.id).ok || CONSENT[c.provider] !== c.consent) {
      refused.push(c);
      continue;
    }
    const p = part(c, nonce, urls);
    out.push({ provider: c.provider, owner: c.owner, consent: c.consent, id: c.id, head: p.head.join(''), body: p.body.join('') });
    for (const h of p.head) if (!seen.has(h)) (seen.add(h), head.push(h));
    body.push(...p.body);
  }
  return { head: head.join('\n'), body: body.join('\n'), codes: out, refused };
}

/** custom_params without the server-only settings a code stored before migration 028 may still hold there. */
function publicParams(provider: Provider, v: unknown): PublicCode['custom_params'] {
  const params = { ...((v ?? {}) as PublicCode['custom_params']) };
  for (const k of (SERVER_ONLY as Partial<Record<Provider, readonly string[]>>)[provider] ?? []) delete params[k];
  return params;
}

/** The public view of a stored code (settings jsonb), without secrets, test codes or server-only settings. Pure. */
export function publicCode(row: { provider: Provider; owner: Owner; settings: Record<string, unknown>; secrets_enc?: string | null }): PublicCode {
  const s = row.settings;
  const out: PublicCode = {
    provider: row.provider,
    owner: row.owner,
    consent: CONSENT[row.provider],
    id: String(s[ID_FIELD[row.provider]] ?? ''),
    conversion_events: Array.isArray(s.conversion_events) ? (s.conversion_events as string[]) : ['order_completed'],
    custom_params: publicParams(row.provider, s.custom_params),
  };
  if (typeof s.conversion_label === 'string') out.conversion_label = s.conversion_label;
  if (typeof s.advanced_matching === 'boolean') out.advanced_matching = s.advanced_matching;
  // A GA4 code's only secret is its api_secret: with it, its conversion events go server-side.
  if (row.provider === 'ga4' && row.secrets_enc) out.server_events = [...out.conversion_events];
  return out;
}
