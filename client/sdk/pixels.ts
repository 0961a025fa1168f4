// Opt-in pixel loader (client/README.md "Pixels"; a chunk of its own, dist/tx-pixels.js, so the core SDK stays
// in its budget). Attached to a TxTracker, it waits for consent, reads the page's codes from
// GET /api/tx/tracking-config, loads each platform's library once its consent category (marketing; GA4:
// analytics) is given, and fires PageView / ViewContent / AddToCart / InitiateCheckout / Purchase (GA4:
// page_view, view_item, add_to_cart, begin_checkout, purchase) with the tx event's event_id as the pixel's
// event id — a purchase's order id instead, as the server-side conversion sends to Meta and TikTok
// (server/conversions/adapter.ts platformEventId) — so each platform deduplicates the browser event against the
// server-side conversion.
// It hooks the tracker's track() and setConsent() (every event method goes through track()). The page's view is
// kept (the tracker's own, sent while it started, included) and fired to each pixel once, when that pixel loads.
// With marketing consent but not analytics our own events are refused: the pixels still get theirs, with an
// event id made here (no server-side twin to deduplicate against).
import type { ConsentSnapshot } from '../shared/types.js';
import { browserIds, PIXEL_EVENTS, pixelParams, type Item } from './pixel-events.js';
import type { TxTracker } from './tracker.js';
import { uuid } from '../shared/uuid.js';

export { browserIds, PIXEL_EVENTS, pixelParams } from './pixel-events.js';

type Provider = 'meta' | 'ga4' | 'gtm' | 'google_ads' | 'tiktok';
export interface PixelCode {
  provider: Provider;
  owner: string;
  consent: 'marketing' | 'analytics';
  id: string;
  conversion_label?: string;
  conversion_events: string[];
  custom_params: Record<string, unknown>;
  /** GA4: the events the server sends (Measurement Protocol) once marketing consent is given. */
  server_events?: string[];
}

export interface PixelsConfig {
  writeKey: string;
  endpoint?: string;
  /** The page's event (or organizer) whose codes apply; neither: the marketplace's codes only. */
  eventId?: string;
  organizerId?: string;
  /** The page's CSP nonce, put on every script the loader inserts. */
  nonce?: string;
  /** Library URLs (defaults: the platforms' own; tests point them at stand-ins). */
  scripts?: Partial<Record<'meta' | 'gtag' | 'gtm' | 'tiktok', string>>;
  /** Codes to use instead of asking the server (e.g. rendered into the page). */
  codes?: PixelCode[];
  /**
   * The tracker's autoPageView (default true): its page view, sent (or, without analytics consent, refused)
   * before the loader attached, is this page's PageView. With false the page's view is the next pageView().
   */
  autoPageView?: boolean;
}

const URLS = {
  meta: 'https://connect.facebook.net/en_US/fbevents.js',
  gtag: 'https://www.googletagmanager.com/gtag/js',
  gtm: 'https://www.googletagmanager.com/gtm.js',
  tiktok: 'https://analytics.tiktok.com/i18n/pixel/events.js',
};

type Props = Record<string, any>;

/** purchase()'s order: `order_id` (documented), or, from pages written before it, only the tx `event_id`. */
export type PurchaseParams = { value?: number; currency?: string; items?: Item[] } & (
  | { order_id: string; event_id?: string }
  | { order_id?: undefined; event_id: string }
);

/** A purchase's order id, as the server-side conversion's event id (Meta, TikTok); undefined when none is given. */
const orderIdOf = (p: Props | undefined): string | undefined =>
  p && (typeof p.order_id === 'string' || typeof p.order_id === 'number') && String(p.order_id) !== '' ? String(p.order_id) : undefined;
type Fired = { name: string; props: Props; id: string };
type W = Window & Record<string, any>;

export class TxPixels {
  private c: PixelsConfig;
  private codes: PixelCode[] | null = null;
  private asking = false;
  private loaded: Record<string, 1> = {};
  /** Events tracked before the codes arrived (bounded): fired once they are loaded. */
  private early: Fired[] = [];
  /** This page's view: fired to each code once, when it is loaded (or at once to those already loaded). */
  private page: Fired | null = null;
  /** Inside the tracker's setConsent(): a page view it tracks then is the same page's, asked again. */
  private consenting = false;
  private w = window as unknown as W;

  constructor(private tx: TxTracker, config: PixelsConfig) {
    this.c = config;
    if (config.codes) this.codes = config.codes;
    const t = tx as unknown as { track: (...a: any[]) => string | null; setConsent: (...a: any[]) => void };
    const track = t.track;
    const setConsent = t.setConsent;
    t.track = (name: string, props?: Props, options?: { context?: Props }) => {
      // The platforms' browser ids (their first-party cookies) ride on every event: the server-side conversion
      // of a later purchase (even one from the backend) matches the same browser (README "The envelope").
      const ga = (this.codes || []).filter((c) => c.provider === 'ga4').map((c) => c.id);
      const context = { ...browserIds(document.cookie, this.consent(), ga), ...(options && options.context) };
      const id = track.call(tx, name, props, { ...options, context });
      if (PIXEL_EVENTS[name]) {
        // Refused by our consent (analytics) yet allowed to the pixels (marketing): an id of the pixel's own.
        // A purchase's id is its order id, as purchase() and the server-side conversion use.
        const f = { name, props: props || {}, id: (name === 'order_completed' && orderIdOf(props)) || id || uuid() };
        if (name === 'page_view') {
          // A page view is kept even before consent: the pixels get it when they load.
          const again = this.consenting && this.page;
          this.page = f;
          if (!again) this.fire(f);
        } else if (id || this.consent().marketing) this.fire(f);
      }
      return id;
    };
    t.setConsent = (change: Partial<ConsentSnapshot>, other?: boolean) => {
      this.consenting = true;
      try {
        setConsent.call(tx, change, other);
      } finally {
        this.consenting = false;
      }
      this.start();
    };
    // The tracker's automatic page view went out (or was refused) while it started, before this hook.
    if (tx.pv || config.autoPageView !== false) this.page = { name: 'page_view', props: {}, id: tx.pv || uuid() };
    this.start();
  }

  /**
   * Purchase on the thank-you page: order_completed comes from the tenant's backend, so the page passes the
   * order's `order_id` (the backend event's entities.order_id) with its value. The order id is the pixels'
   * event id (Meta eventID, TikTok event_id) and transaction id (Google Ads, GA4): the server-side conversion
   * of the order carries the same, so each platform counts the purchase once, however many times (or under
   * whichever tx event ids) the backend reported it. `event_id` (the backend event's id) is still taken from
   * pages that pass only that, as their pixels' event id; with an `order_id` it is not used. Without an
   * `order_id` the platforms cannot match the server's copy (which carries the order id), so the console says so.
   */
  purchase(p: PurchaseParams): void {
    const order = orderIdOf(p);
    if (order === undefined && typeof console !== 'undefined') console.warn('[tx-pixels] purchase() without order_id: Meta and TikTok will count this purchase and its server-side copy twice; pass { order_id }.');
    this.fire({ name: 'order_completed', props: p, id: order ?? p.event_id ?? uuid() });
  }

  private consent(): ConsentSnapshot {
    return this.tx.getConsent();
  }

  private start() {
    const c = this.consent();
    if (!c.marketing && !c.analytics) return;
    if (this.codes) return this.load();
    if (this.asking) return;
    this.asking = true;
    const q = this.c.eventId ? '&event_id=' + encodeURIComponent(this.c.eventId) : this.c.organizerId ? '&organizer_id=' + encodeURIComponent(this.c.organizerId) : '';
    fetch((this.c.endpoint || '').replace(/\/+$/, '') + '/api/tx/tracking-config?key=' + encodeURIComponent(this.c.writeKey) + q)
      .then((r) => (r.ok ? r.json() : null))
      .then((j: { codes?: PixelCode[] } | null) => {
        this.codes = (j && j.codes) || [];
        this.load();
      })
      .catch(() => {
        this.asking = false;
      });
  }

  private allowed(code: PixelCode): boolean {
    return !!this.consent()[code.consent];
  }

  /** Loads every code its consent allows (once each) and fires the page's view to it, then what was tracked meanwhile. */
  private load() {
    const fresh: Record<string, 1> = {};
    for (const code of this.codes || []) {
      const k = code.provider + ':' + code.id;
      if (this.loaded[k] || !this.allowed(code)) continue;
      this.loaded[k] = fresh[k] = 1;
      this.install(code);
    }
    if (this.page) this.fire(this.page, fresh);
    const early = this.early;
    this.early = [];
    for (const f of early) this.fire(f);
  }

  private script(src: string) {
    const d = document;
    if (d.querySelector('script[src="' + src.replace(/"/g, '') + '"]')) return;
    const s = d.createElement('script');
    s.async = true;
    if (this.c.nonce) s.setAttribute('nonce', this.c.nonce);
    s.src = src;
    d.head.appendChild(s);
  }

  private url(k: 'meta' | 'gtag' | 'gtm' | 'tiktok'): string {
    return (this.c.scripts && this.c.scripts[k]) || URLS[k];
  }

  private gtag(...a: unknown[]) {
    const w = this.w;
    w.dataLayer = w.dataLayer || [];
    // gtag queues the arguments object itself, not an array.
    w.gtag = w.gtag || function () {
      // eslint-disable-next-line prefer-rest-params
      w.dataLayer.push(arguments);
    };
    w.gtag(...a);
  }

  private install(code: PixelCode) {
    const w = this.w;
    const id = code.id;
    if (code.provider === 'meta') {
      if (!w.fbq) {
        const n: any = (w.fbq = function () {
          // eslint-disable-next-line prefer-rest-params
          n.callMethod ? n.callMethod.apply(n, arguments) : n.queue.push(arguments);
        });
        if (!w._fbq) w._fbq = n;
        n.push = n;
        n.loaded = true;
        n.version = '2.0';
        n.queue = [];
      }
      w.fbq('init', id);
      this.script(this.url('meta'));
    } else if (code.provider === 'ga4' || code.provider === 'google_ads') {
      if (!w.dataLayer || !w.gtag) this.gtag('js', new Date());
      // Page views are fired by the loader with the tx event id, not by config.
      this.gtag('config', id, { ...code.custom_params, send_page_view: false });
      this.script(this.url('gtag') + '?id=' + encodeURIComponent(id));
    } else if (code.provider === 'gtm') {
      w.dataLayer = w.dataLayer || [];
      w.dataLayer.push({ 'gtm.start': Date.now(), event: 'gtm.js' });
      this.script(this.url('gtm') + '?id=' + encodeURIComponent(id));
    } else if (code.provider === 'tiktok') {
      this.tiktok().load(id);
    }
  }

  /** TikTok's queueing stub (its loader inserts the library per pixel code, with the nonce). */
  private tiktok(): any {
    const w = this.w;
    if (w.ttq && w.ttq.load) return w.ttq;
    const q: any = (w.ttq = w.ttq || []);
    w.TiktokAnalyticsObject = 'ttq';
    q.methods = ['page', 'track', 'identify', 'instances', 'debug', 'on', 'off', 'once', 'ready', 'alias', 'group', 'enableCookie', 'disableCookie', 'holdConsent', 'revokeConsent', 'grantConsent'];
    q.setAndDefer = (o: any, m: string) => {
      o[m] = (...a: unknown[]) => o.push([m, ...a]);
    };
    for (const m of q.methods) q.setAndDefer(q, m);
    q.instance = (id: string) => {
      const e = (q._i && q._i[id]) || [];
      for (const m of q.methods) q.setAndDefer(e, m);
      return e;
    };
    q.load = (id: string, o?: unknown) => {
      const src = this.url('tiktok');
      q._i = q._i || {};
      q._i[id] = [];
      q._i[id]._u = src;
      q._t = q._t || {};
      q._t[id] = +new Date();
      q._o = q._o || {};
      q._o[id] = o || {};
      this.script(src + '?sdkid=' + encodeURIComponent(id) + '&lib=ttq');
    };
    return q;
  }

  /**
   * Sends one tx event to every loaded code (of `only`, if given) its consent allows; queued (≤ 50) until the
   * codes arrive. A page view is not queued: load() fires the page's view to each code it loads.
   */
  private fire(f: Fired, only?: Record<string, 1>) {
    if (!this.codes) {
      if (f.name !== 'page_view' && this.early.length < 50) this.early.push(f);
      return;
    }
    const names = PIXEL_EVENTS[f.name];
    const p = pixelParams(f.name, f.props);
    const w = this.w;
    for (const code of this.codes) {
      const k = code.provider + ':' + code.id;
      if (!this.loaded[k] || (only && !only[k]) || !this.allowed(code)) continue;
      const id = code.id;
      if (code.provider === 'meta') w.fbq('trackSingle', id, names.meta, { ...(f.name === 'page_view' ? code.custom_params : {}), ...p.meta }, { eventID: f.id });
      else if (code.provider === 'ga4') {
        // GA4 counts every copy: an event the server sends (with marketing consent) is not sent from here too.
        if (!(this.consent().marketing && code.server_events && code.server_events.indexOf(f.name) >= 0)) this.gtag('event', names.ga4, { ...p.ga4, send_to: id, event_id: f.id });
      }
      else if (code.provider === 'google_ads') {
        if (code.conversion_label && code.conversion_events.indexOf(f.name) >= 0) {
          this.gtag('event', 'conversion', { ...p.ga4, items: undefined, send_to: id + '/' + code.conversion_label, transaction_id: p.ga4.transaction_id || f.id, event_id: f.id });
        }
      } else if (code.provider === 'gtm') w.dataLayer.push({ event: names.ga4, tx_event_id: f.id, ecommerce: p.ga4 });
      else if (code.provider === 'tiktok') {
        const t = this.tiktok().instance(id);
        if (f.name === 'page_view') t.page();
        else t.track(names.tiktok, p.tiktok, { event_id: f.id });
      }
    }
  }
}
