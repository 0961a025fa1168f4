// Tixello Live browser SDK (tx-sdk.js; it posts to the README's "Ingest API" with the write key). No dependencies.
//
//   const tx = new TxTracker({ writeKey: 'tx_pk_…', endpoint: 'https://live.example.com' });
//   tx.setConsent({ analytics: true });                  // opt-in: nothing is collected before this
//   tx.pageView();
//   tx.addToCart({ cart_id: 'C1', event_entity_id: 'E1', items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], cart_value: 100, currency: 'EUR' });
//
// Every web event of the registry has a camelCase method taking flat props (payload fields and entity ids
// side by side), typed from the registry (client/shared/registry.gen.ts).
//
// The state lives in the constructor's closure rather than in fields: the core has a size budget (6 KB
// min+gzip, scripts/build-clients.ts) and locals minify to one letter where `this.field` does not.
import { WEB_EVENTS, type ConsentScope, type EventName } from '../shared/registry.gen.js';
import { nextDelay, retryAfterMs, verdict } from '../shared/retry.js';
import type { BatchResult, ConsentSnapshot, Envelope, Props } from '../shared/types.js';
import { uuid } from '../shared/uuid.js';
import type { TrackOptions, TxApi, TxConfig, WebMethods } from './config.js';
import { ConsentStore } from './consent-store.js';
import { DENIED, K_SESSION, allowed, bodies, mergeConsent, readJson, roll, scopeOf, touchFrom, writeJson, type KV, type SessionState, type Touch } from './core.js';
import { TabQueue } from './tab-queue.js';

export type { ImpressionHandle, ImpressionOptions, TrackOptions, TxApi, TxConfig, WebMethods } from './config.js';

// 1.1: per-tab queues and shared sequence counters (storage keys changed). 1.2: device, page type and
// event_version are left to the server (server/ingest/web-fill.ts), for the core's size budget. 1.2.1: bodies
// measured in UTF-8 bytes, a request in flight at page leave stays queued until answered, no lone surrogates.
// 1.2.2: the site's callbacks (onReject, pageType) contained, null arguments taken as absent, a missing
// observeImpressions root observes nothing.
export const VERSION = '1.2.2';

const K_VID = 'tx_vid';
const K_FIRST = 'tx_first_touch';
const K_CONSENT = 'tx_consent';
const K_SCHEMA = 'tx_schema';
const MAX_BEACON = 60_000;
const MAX_BODY = 400_000;

const iso = (ms: number) => new Date(ms).toISOString();

function safeLocalStorage(): KV | null {
  try {
    // No write probe: a write refused later (quota full) is kept in memory by ConsentStore, and the browsers
    // the build targets have a working localStorage in private mode (Safari 11+).
    return localStorage;
  } catch {
    return null; // disabled, or throws on access (sandboxed frames)
  }
}

export interface TxTracker extends Omit<WebMethods, 'pageView'>, TxApi {}

export class TxTracker {
  readonly version = VERSION;
  /** Id of the current page view (read by tests). */
  pv: string | null = null;
  /** This tab's queue and the numbering of its events, shared safely with the site's other tabs. */
  tq: TabQueue;

  constructor(config: TxConfig) {
    const self = this;
    const c = { batchSize: 20, flushInterval: 3000, sessionTimeout: 1_800_000, retryBase: 1000, retryMax: 60_000, ...config };
    const now = c.now || Date.now;
    const base = ((c.endpoint || '') + '').replace(/\/+$/, '');
    const url = base + '/api/tx/events/batch?key=' + encodeURIComponent(c.writeKey);
    const ls = c.storage || safeLocalStorage();
    const store = new ConsentStore(ls);
    const off: (() => void)[] = [];
    const log = (...args: unknown[]) => c.debug && console.log('[tx]', ...args);
    // The site's callbacks (onReject, pageType): what one throws is the site's bug, a console warning here, never
    // an exception out of the SDK's call nor a batch left queued to be sent again (and again).
    const call = <A extends unknown[], R>(f: ((...a: A) => R) | undefined, ...a: A): R | void => {
      try {
        return f?.(...a);
      } catch (e) {
        console.warn('[tx]', e);
      }
    };
    let batch = (c.batchSize = Math.max(1, Math.min(100, c.batchSize)));
    let scopes: Record<string, ConsentScope> | null = null;
    let firstLoad = false;
    let views = 0;
    let seen: Record<string, 1> = {};
    // The impression observers' re-checks: a new page view counts the cards still on screen again.
    const views_: (() => void)[] = [];
    let sending: Promise<void> | null = null;
    // The events of the request in flight (kept queued until answered, whatever happens to the page).
    let flying: string[] = [];
    // In hide(): claim synchronously when this is the site's only tab (an answer from IndexedDB comes too late).
    let hiding = false;
    let attempt = 0;
    let retryAt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // engagement of the current page segment
    let segStart: number, tickAt: number, active: number, visChanges: number, focusChanges: number, scrollMax: number, reported: boolean;
    let visible = document.visibilityState !== 'hidden';
    let focused = document.hasFocus();

    const tq = (this.tq = new TabQueue(
      {
        store_: store,
        maxQueue_: c.maxQueue || 500,
        log_: log,
        // Numbered while the page is hidden: it may be discarded before the next flush.
        numbered_: (b?: boolean) => ((b || !visible) && beacon(), !tq.pending && tq.q_.all_().length >= batch && later(0)),
        flush_: () => flush(),
      },
      !c.storage && !!ls && !!navigator.locks && !!(window as { indexedDB?: unknown }).indexedDB,
    ));
    const q = () => tq.q_;

    // ----------------------------------------------------------------------------------------------------
    // Identity, consent, context
    // ----------------------------------------------------------------------------------------------------

    const vid = () => {
      let v = store.getItem(K_VID);
      if (!v) store.setItem(K_VID, (v = uuid()));
      return v;
    };
    // document.referrer is a URL the browser serialized: its host is what follows the second slash.
    const externalReferrer = () => {
      const r = document.referrer;
      return r && r.split('/')[2] !== location.host ? r : '';
    };
    /** How a new session starts: this page's UTMs, click ids and external referrer. */
    const touch = (): Touch => touchFrom(location.search, externalReferrer(), location.pathname, iso(now()));
    const landing = touch();
    const firstTouch = (): Touch => {
      let t = readJson<Touch>(store, K_FIRST);
      if (!t) writeJson(store, K_FIRST, (t = landing)), (firstLoad = true);
      return t;
    };
    // (Without localStorage, `ls!` is null: readJson and writeJson catch that and answer null / false.)
    const loadConsent = (): ConsentSnapshot => ({ ...DENIED, ...readJson<ConsentSnapshot>(ls!, K_CONSENT) });
    const applyConsent = () => {
      store.setPersist_(consent.analytics || consent.marketing);
      // Capture the first touch as soon as anything may be kept (the landing page of this load).
      if (store.persist_) firstTouch();
    };
    const newSession = () => ({ id: uuid(), touch: touch() });
    const session = (t: number) => roll(readJson<SessionState>(store, K_SESSION), t, c.sessionTimeout, newSession);

    let consent = c.consent ? mergeConsent(loadConsent(), c.consent, iso(now())) : loadConsent();
    applyConsent();

    // ----------------------------------------------------------------------------------------------------
    // Delivery
    // ----------------------------------------------------------------------------------------------------

    /** One pending wake-up at a time; the flush interval is the safety net. */
    const later = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(flush, ms);
    };
    const flush = () => sending || (sending = drain().finally(() => (sending = null)));
    /**
     * The queue as it may leave for the network: the events the current consent covers (this tab's, those it
     * adopted from a tab gone before a withdrawal, those of an earlier page); the others are dropped.
     */
    const out = () => (q().retain_((e) => allowed(scopeOf(e.event_name, scopes), consent)), q().all_());

    const drain = async (): Promise<void> => {
      // Ids settled in this run: never sent twice even if storage failed to record their removal. (A list, not
      // a map: the core's size budget, which the consent check in out() needed.)
      const done: string[] = [];
      for (;;) {
        const t = now();
        if (t < retryAt) return;
        const next = bodies(out().filter((e) => !done.includes(e.event_id)), iso(t), batch, MAX_BODY).next();
        if (next.done) return;
        const sent = next.value[1];
        const ids = (flying = sent.map((e) => e.event_id));
        let res: Response | null = null;
        try {
          // text/plain and ?key= make this a CORS "simple" request: no preflight round trip. Keepalive (the
          // request outlives the page) only within the browser's quota (64 KiB in flight, beacons included) and
          // not on a retry: a keepalive request over the quota fails as a network error, every time.
          res = await fetch(url, { method: 'POST', body: next.value[0], keepalive: !attempt && next.value[2] < MAX_BEACON, signal: AbortSignal.timeout?.(6e4) });
        } catch {
          /* network error, offline, CORS refusal: retried below */
        }
        flying = [];
        const status = res?.status as number; // undefined: no answer (a network error), retried
        const v = verdict(status);
        if (v === 'retry') {
          // Counted from the answer, not from when the request left.
          const at = now();
          const wait = nextDelay(++attempt, retryAfterMs(res?.headers.get('retry-after'), at), c.retryBase, c.retryMax);
          retryAt = at + wait;
          log('retry', status, wait);
          return later(wait);
        }
        if (v === 'split' && ids.length > 1) {
          batch = ids.length >> 1; // (at least 1: more than one was sent)
          continue;
        }
        attempt = 0;
        batch = c.batchSize;
        if (v === 'ack') {
          const r = (await res!.json().catch(log)) as BatchResult | null;
          for (const x of r?.rejected || []) {
            const e = sent[x.index];
            if (e) log('rejected', e.event_name, x.errors), call(c.onReject, e, x);
          }
        } else {
          // 4xx other than 408/429: sending the same request again cannot succeed.
          console.warn('[tx] dropped', status, ids);
        }
        done.push(...ids);
        q().remove_(ids);
      }
    };

    /**
     * Hands what is queued, numbered and not already in flight to navigator.sendBeacon (page hidden or
     * closing), and forgets what the browser took: each event goes out once. A beacon the browser refused
     * (false) leaves its events queued for the next try. The events of a request in flight stay queued until
     * it is answered: if the page is gone first, the next page sends them again (the server answers a copy
     * that did arrive as a duplicate; a 503 or 429 seen by nobody would have lost them).
     */
    const beacon = () => {
      // A beacon's answer is never seen: while the server is failing or the browser offline, the queue stays
      // for the next try or the next page (a stored event sent twice is a duplicate, a lost one is gone).
      if (attempt || !navigator.onLine) return;
      const fly = flying;
      const gone: string[] = [];
      for (const b of bodies(out().filter((e) => !fly.includes(e.event_id)), iso(now()), 100, MAX_BEACON)) {
        if (!navigator.sendBeacon(url, b[0])) break;
        for (const e of b[1]) gone.push(e.event_id);
      }
      q().remove_(gone);
    };

    // ----------------------------------------------------------------------------------------------------
    // Engagement
    // ----------------------------------------------------------------------------------------------------

    const tick = () => {
      const t = now();
      if (visible && focused) active += Math.max(0, t - tickAt);
      tickAt = t;
    };
    /** Current scroll depth in percent (0–100); also keeps the page's maximum. */
    const scroll = () => {
      const max = document.documentElement.scrollHeight - innerHeight;
      const pct = max > 0 ? Math.min(100, Math.round((scrollY / max) * 100)) : 100;
      if (pct > scrollMax) scrollMax = pct;
      return pct;
    };
    /** page_engagement for the time since the last report: sums over a page's reports give its totals. */
    const report = () => {
      tick();
      const t = now();
      const total = t - segStart;
      if (total > 0) {
        scroll();
        self.track('page_engagement', {
          active_ms: Math.round(active),
          total_ms: total,
          scroll_max_pct: scrollMax,
          visibility_changes: visChanges,
          focus_changes: focusChanges,
          page_view_id: self.pv,
        } as Props<'page_engagement'>);
      }
      segStart = t;
      active = visChanges = focusChanges = 0;
    };
    const resetPage = () => {
      segStart = tickAt = now();
      active = visChanges = focusChanges = scrollMax = 0;
      reported = false;
      seen = {};
      views_.forEach((f) => f());
    };
    const hide = () => {
      hiding = true;
      if (!reported && c.engagement !== false) report();
      hiding = false;
      reported = true;
      beacon();
    };
    resetPage();

    // ----------------------------------------------------------------------------------------------------
    // Public API
    // ----------------------------------------------------------------------------------------------------

    // (null options: as if left out; null props: sent so, which the server takes for none)
    this.track = ((name: string, props: Record<string, unknown> | null = {}, options?: TrackOptions | null): string | null => {
      const scope = scopeOf(name, scopes);
      if (!allowed(scope, consent)) return log('no', scope, name), null;
      try {
        // Stored and sent as JSON: what JSON cannot hold (a cycle, a BigInt) is refused here, before the event
        // takes a sequence number (the queue could not be stored with it, nor the events queued with it).
        JSON.stringify([props, options]);
      } catch (err) {
        return console.warn('[tx] dropped', name, err), null;
      }
      const t = now();
      const id = uuid();
      const r = session(t);
      const s = r.s;
      // Rolls the session only: numbers come from tq.claim(). A session's own `seq`/`prev` are what SDK 1.0
      // numbered in it, a floor for the numbers that follow (a visitor mid-session when the site upgrades).
      writeJson(store, K_SESSION, { ...s, last: Math.max(t, s.last) });

      const l = location;
      // (its referrer: this page's, whatever the host, cut like the first touch's)
      const here = touchFrom(l.search, document.referrer, l.pathname);
      const st = s.touch;
      const ctx: Record<string, unknown> = {
        // Fields a caller adds (the pixel loader: the ad platforms' browser ids); the SDK's own win.
        ...options?.context,
        page: {
          url: l.href.slice(0, 2048),
          path: l.pathname.slice(0, 2048),
          title: document.title.slice(0, 512), // (a split surrogate pair: readJson drops it)
          // The site's own page type, else none: the server derives it from the path (server/ingest/web-fill.ts)
          // and puts it on a page_view's payload too.
          page_type: call(c.pageType, l.pathname) || undefined,
        },
        // Attribution of this event: the page's own UTMs/click ids, else those the session started with.
        utm: here.utm || st?.utm,
        click_ids: here.click_ids || st?.click_ids,
        referrer: here.referrer,
        locale: navigator.language,
        screen: screen.width + 'x' + screen.height,
        library: 'tx-sdk/' + VERSION,
      };
      // The visitor's first touch rides on page views and on the first event of each session.
      if (r.fresh_ || name === 'page_view') ctx.first_touch = firstTouch();

      const env: Envelope = {
        event_id: id,
        event_name: name,
        occurred_at: iso(t),
        source_system: 'web',
        visitor_id: vid(),
        session_id: s.id,
        site_id: c.siteId,
        consent_snapshot: consent, // no copy: replaced on each change, never changed in place
        context: ctx,
        entities: { ...c.entities },
        // Props as given, flat: the server moves the entity ids among them into `entities` (a payload field of
        // the same name stays too), as SDK 1.1 did here (server/ingest/web-fill.ts).
        payload: props as Record<string, unknown>,
      };
      log(name, env);
      const queued = q().push_(env);
      tq.claim_(env, options?.beacon || hiding, options?.beacon);
      if (!options?.beacon && queued >= batch) later(0);
      return id;
    }) as TxTracker['track'];

    this.pageView = (props = {}, options) => {
      if (self.pv) report();
      resetPage();
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
      const id = self.track(
        'page_view',
        {
          navigation_type: views ? 'navigate' : (nav?.type as Props<'page_view'>['navigation_type']) || 'unknown',
          is_first_touch: firstLoad && !views,
          ...props,
        },
        options,
      );
      if (id) views++, (self.pv = id);
      return id;
    };

    this.setConsent = (change, fromOtherTab) => {
      consent = fromOtherTab ? { ...DENIED, ...change } : mergeConsent(consent, change || {}, iso(now()));
      applyConsent();
      // The site's other tabs follow tx_consent at once (storage event) and page-view under the visitor and
      // session stored then: those are stored first, or each tab would mint its own.
      if (!fromOtherTab && ls) self.getIds(), writeJson(ls, K_CONSENT, consent);
      if (!store.persist_) tq.tabs_?.wipe_();
      out(); // drops what the new consent no longer covers (other tabs' queues: when they are sent)
      if (c.autoPageView && !self.pv) self.pageView();
    };

    this.getConsent = () => ({ ...consent });

    this.getIds = () => {
      if (!consent.analytics && !consent.marketing) return null;
      const r = session(now());
      if (r.fresh_) writeJson(store, K_SESSION, r.s);
      return { visitor_id: vid(), session_id: r.s.id };
    };

    this.flush = flush;

    this.reset = () => {
      for (const k of [K_VID, K_SESSION, K_FIRST]) store.removeItem(k);
      self.pv = null;
      views = 0;
    };

    this.destroy = () => {
      off.forEach((f) => f());
      clearTimeout(timer); // (a second destroy() removes again: harmless)
    };

    // Event card impressions (the helpers chunk's trackImpressions counts per card element instead):
    // event_card_impression once per list position per page view when a card is at least 50% visible, and
    // event_card_click on click with `clicks: true`. Cards stay observed: one visible before consent (track()
    // recorded nothing) counts with the page view that follows consent. A card no longer in the document (a
    // re-rendered or virtualised feed) is let go at the next pageView() or scan(): memory does not grow with every
    // card a single-page app ever showed; scan() again to watch it once it is back. A root that is not on the page
    // (README's `document.querySelector('#feed')` where there is none: null) or is no node observes nothing, with
    // one warning; null options are the defaults. (Here rather than in impressions.ts, where it was: the module's
    // parameters cost the core's size budget 22 B, which SDK 1.2.2's guards needed; this file is the longer.)
    this.observeImpressions = (root = document, o) => {
      o = o || {};
      root?.querySelectorAll || console.warn('[tx] no root');
      // The cards watched, with their placement (a Map: a new page view observes them all anew).
      const places = new Map<Element, Props<'event_card_impression'>>();
      // Every browser the build targets (scripts/build-clients.ts) has IntersectionObserver.
      const io = new IntersectionObserver(
        (entries) => {
          for (const e of entries) {
            const p = places.get(e.target);
            // At least half visible (a ratio of 0.5 or more is intersecting).
            if (!p || e.intersectionRatio < 0.5) continue;
            // The page view's key of the card: its list, position and event (joined with commas).
            const k = [p.list_name, p.position, p.event_entity_id] + '';
            // Counted once recorded (track() is null before consent: the card counts when next seen).
            if (!seen[k] && self.track('event_card_impression', { ...p, scroll_depth_pct: scroll() })) seen[k] = 1;
          }
        },
        { threshold: 0.5 },
      );
      // One listener for every card: the browser adds the same function to an element once, however often the
      // card is scanned (after disconnect(), or removed and put back), so a click is never tracked twice. It
      // counts the card while it is watched, with its placement of now.
      function click(this: Element) {
        const p = places.get(this);
        if (p) self.track('event_card_click', p);
      }
      // Lets go of the cards no longer in the document (unobserved, forgotten: they can be collected) and
      // observes the others anew, which delivers a fresh entry for each: those on screen count for a new page
      // view (and not twice within one: `seen`).
      const sweep = () => places.forEach((_, el) => (io.unobserve(el), el.isConnected ? io.observe(el) : places.delete(el)));
      // A selector the browser refuses throws (SyntaxError): call() makes it a console warning per scan.
      const scan = () =>
        (sweep(),
        call(() => root?.querySelectorAll?.(o!.selector || '[data-tx-event]').forEach((el, i) => {
          const d = (el as HTMLElement).dataset;
          // A card already watched keeps its placement; observe() and addEventListener() are no-ops for it.
          places.set(el, places.get(el) || {
            event_entity_id: d.txEvent || '',
            position: d.txPosition ? +d.txPosition : i,
            list_name: d.txList || o!.list_name,
            source: d.txSource || o!.source,
            feed_tab: o!.feed_tab,
          });
          io.observe(el);
          if (o!.clicks) el.addEventListener('click', click);
        })));
      // The page view's re-check of the cards on screen (resetPage()).
      views_.push(sweep);
      scan();
      return { scan, disconnect: () => (io.disconnect(), places.clear()) };
    };

    // ----------------------------------------------------------------------------------------------------
    // Page lifecycle
    // ----------------------------------------------------------------------------------------------------

    const on = (t: EventTarget, type: string, fn: (e: any) => void) => {
      t.addEventListener(type, fn, { passive: true });
      off.push(() => t.removeEventListener(type, fn));
    };
    const focus = (f: boolean) => () => (tick(), focusChanges++, (focused = f));
    // Hidden is the last reliable moment on mobile; pagehide covers closing and bfcache.
    on(document, 'visibilitychange', () => {
      tick();
      visChanges++;
      (visible = document.visibilityState !== 'hidden') ? (reported = false) : hide();
    });
    on(window, 'pagehide', (e: PageTransitionEvent) => {
      hide();
      e.persisted && tq.tabs_?.free_();
    });
    on(window, 'pageshow', (e: PageTransitionEvent) => e.persisted && (resetPage(), tq.renew_()));
    on(window, 'focus', focus(true));
    on(window, 'blur', focus(false));
    on(window, 'scroll', scroll);
    // Connectivity is back: retry now rather than at the end of the backoff.
    on(window, 'online', () => ((attempt = retryAt = 0), flush()));
    // Consent changed in another tab of the site.
    on(window, 'storage', (e: StorageEvent) => e.key === K_CONSENT && self.setConsent(loadConsent(), true));
    const iv = setInterval(() => (tq.adopt_(), flush()), c.flushInterval);
    off.push(() => clearInterval(iv));
    if (c.loadSchema !== false) {
      // Consent scopes from the server (cached a day); the built-in table until then.
      const cached = readJson<{ at: number; s: Record<string, ConsentScope> }>(ls!, K_SCHEMA);
      if (cached && now() - cached.at < 86_400_000) scopes = cached.s;
      else
        fetch(base + '/api/tx/schema')
          // A failed answer (not JSON, or no `events`) throws: logged, and the built-in table stays.
          .then((r) => r.json())
          .then((j: { events: { name: string; scope: ConsentScope }[] }) => {
            const s: Record<string, ConsentScope> = {};
            for (const e of j.events) s[e.name] = e.scope;
            scopes = s;
            writeJson(ls!, K_SCHEMA, { at: now(), s });
          })
          .catch(log);
    }
    if (c.autoPageView) self.pageView();
    // Whatever an earlier page could not deliver.
    tq.adopt_();
    flush();
  }
}

// One method per web event of the registry (pageView is the instance's own).
for (const n of WEB_EVENTS.split(' ')) {
  const m = n.replace(/_(\w)/g, (_, ch: string) => ch.toUpperCase());
  const proto = TxTracker.prototype as unknown as Record<string, unknown>;
  if (!proto[m]) proto[m] = function (this: TxTracker, props?: Record<string, unknown>, options?: TrackOptions) {
    return this.track(n as EventName, props as never, options);
  };
}
