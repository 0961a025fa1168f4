// What the browser SDK (1.2) leaves to the server, to stay within its size budget (issue 17: core ≤ 6 KB gz),
// filled in from what the server receives anyway, so that a stored event is the same whichever SDK sent it
// (test/sdk.test.ts reads back what the built SDK posted):
// - entity ids: the SDK sends its flat props as the payload; liftEntities() splits them as SDK 1.1 did, for
//   the SDK's events only (what another sender, curl or a server, put in its payload is its own);
// - page type from context.page.path and device from the User-Agent header (navigator.userAgent), with the
//   tables SDK 1.1 shipped, unchanged. Pure.
import { ENTITY_NAMES } from './registry.js';

/**
 * The name of the first entry of `table` (`;`-separated, tried in order) whose pattern matches `s`, case
 * insensitively, else `other`. An entry is `pattern=name`, or a pattern whose first alternative, less its
 * non-word characters, is the name (`Firefox|fxios` → Firefox, `/shop|/product` → shop): SDK 1.1's
 * encoding, kept so that the tables stay the ones it shipped.
 */
function first(s: string, table: string): string {
  for (const [re, name] of compiled(table)) if (re.test(s)) return name;
  return 'other';
}

const tables = new Map<string, [RegExp, string][]>();
/** A table's entries as (pattern, name), parsed once: `first` runs for every web event. */
function compiled(table: string): [RegExp, string][] {
  let t = tables.get(table);
  if (!t) {
    t = table.split(';').map((entry) => {
      const parts = entry.split('=');
      return [new RegExp(parts[0], 'i'), parts[1] || parts[0].split('|')[0].replace(/\W/g, '')];
    });
    tables.set(table, t);
  }
  return t;
}

/** home, listing, event, checkout, cart, artist, venue, search, shop, account or other. */
export function pageType(path: string): string {
  return /^\/(home|index\.html)?$/i.test(path)
    ? 'home'
    : first(path, '/events/?$=listing;/checkout;/(cart|basket)(/|$)=cart;/events?/[\\w-]+=event;/artist;/venue;/search;/shop|/product;/account');
}

export interface Device {
  device_type: 'mobile' | 'tablet' | 'desktop';
  os: string;
  browser: string;
}

export function device(ua: string): Device {
  const type = first(ua, 'ipad|tablet|playbook|silk|android(?!.*mobile)=tablet;mobi|iphone|ipod|android=mobile');
  return {
    device_type: type === 'other' ? 'desktop' : (type as Device['device_type']),
    os: first(ua, 'Windows;iphone|ipad|ipod=iOS;Android;cros=ChromeOS;mac os x|macintosh=macOS;Linux'),
    browser: first(ua, 'edg(e|a|ios)?/=Edge;Opera|opr/;samsungbrowser=Samsung Internet;Firefox|fxios;Chrome|crios|chromium;Safari'),
  };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The browser SDK's `context.library` prefix (client/sdk/tracker.ts: `tx-sdk/<version>`). */
export const SDK_LIBRARY = 'tx-sdk/';

/** Whether the browser SDK sent this event (its `context.library`). */
export function fromSdk(ev: Obj): boolean {
  const ctx = ev.context;
  return isObj(ctx) && typeof ctx.library === 'string' && ctx.library.startsWith(SDK_LIBRARY);
}

/**
 * A browser SDK event with the entity ids found in its payload moved into `entities` (over a value there: SDK
 * 1.1 let props override its `entities` option), each kept in the payload too when the event's payload declares
 * that key (`declared`, e.g. ticket_type_selected.ticket_type_id). The event itself when another client sent it
 * (fromSdk), when there is nothing to move or when its `entities` is not an object (the validator names that
 * error). A new object; the argument is not changed.
 */
export function liftEntities(ev: Obj, declared: Obj): Obj {
  const payload = ev.payload;
  const sent = ev.entities;
  if (!fromSdk(ev) || !isObj(payload) || (sent !== undefined && !isObj(sent))) return ev;
  const keys = ENTITY_NAMES.filter((k) => Object.hasOwn(payload, k));
  if (!keys.length) return ev;
  const entities: Obj = { ...sent };
  const rest: Obj = { ...payload };
  for (const k of keys) {
    entities[k] = payload[k];
    if (!Object.hasOwn(declared, k)) delete rest[k];
  }
  return { ...ev, entities, payload: rest };
}

/**
 * A web event's context and payload with what the SDK leaves to the server filled in, only where absent
 * (a value the client sent, SDK 1.1's own detection or a site's `pageType` override, is kept):
 * `context.device` from `ua`, `context.page.page_type` from `context.page.path`, and a page_view's
 * `payload.page_type` from the page's type (SDK 1.2 sends a site's override in context.page only). New
 * objects; the arguments are not changed.
 */
export function fillWebDetection(eventName: string, context: Obj, payload: Obj, ua: string | null): { context: Obj; payload: Obj } {
  const ctx = { ...context };
  if (ctx.device === undefined && typeof ua === 'string') ctx.device = device(ua);
  const page = ctx.page;
  if (isObj(page) && page.page_type === undefined && typeof page.path === 'string') ctx.page = { ...page, page_type: pageType(page.path) };
  const type = isObj(ctx.page) ? ctx.page.page_type : undefined;
  const fill = eventName === 'page_view' && payload.page_type === undefined && typeof type === 'string';
  return { context: ctx, payload: fill ? { ...payload, page_type: type } : payload };
}
