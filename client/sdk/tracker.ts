// Tixello Live browser SDK (tx-sdk.js; it posts to the README's "Ingest API" with the write key). No dependencies.
//
//   const tx = new TxTracker({ writeKey: 'tx_pk_…', endpoint: 'https://live.example.com' });
//   tx.setConsent({ analytics: true });                  // opt-in: nothing is collected before this
//   tx.pageView();
//   tx.addToCart({ cart_id: 'C1', event_entity_id: 'E1', items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], cart_value: 100, currency: 'EUR' });
//
// Every web event of the registry has a camelCase method taking flat props (payload fields and entity ids
// side by side), typed from the registry (client/shared/registry.gen.ts).
import { ENTITY_NAMES, PAYLOAD_ENTITY_KEYS, WEB_EVENTS, type CamelCase, type ConsentScope, type EventName, type WebEventName } from '../shared/registry.gen.js';
import { nextDelay, retryAfterMs, verdict } from '../shared/retry.js';
import type { BatchResult, ConsentSnapshot, Entities, Envelope, Props, Rejection } from '../shared/types.js';
import { uuid } from '../shared/uuid.js';
import {
  DENIED,
  StoredQueue,
  allowed,
  claimSequence,
  device,
  mergeConsent,
  pageType,
  readJson,
  scopeOf,
  touchFrom,
  writeJson,
  type KV,
  type SessionState,
  type Touch,
} from './core.js';
import { TabQueue } from './tab-queue.js';

export const VERSION = '1.1.0'; // 1.1: per-tab queues and shared sequence counters (storage keys changed)

export interface TxConfig {
  /** The tenant's public write key (tx_pk_…). */
  writeKey: string;
  /** Base URL of the Tixello Live server; default: this page's origin. */
  endpoint?: string;
  siteId?: string;
  /**
   * Consent as known when the page loads (e.g. from the site's consent banner). Default: the last choice
   * stored by setConsent(), else everything denied (opt-in).
   */
  consent?: Partial<ConsentSnapshot>;
  /** Entity ids added to every event (e.g. `{ organizer_id }` on an organizer's own site). */
  entities?: Entities;
  /** Logs every event, consent block and server rejection to the console. */
  debug?: boolean;
  /** Events per request (≤ 100). Default 20: a full batch is sent at once. */
  batchSize?: number;
  /** How often queued events are sent, in ms. Default 3000. */
  flushInterval?: number;
  /** Most events kept in storage while they cannot be sent; the oldest go first. Default 500. */
  maxQueue?: number;
  /** Inactivity after which a new session starts, in ms. Default 30 min. */
  sessionTimeout?: number;
  /** Backoff between failed attempts: first step and cap, in ms. Defaults 1000 and 60000. */
  retryBase?: number;
  retryMax?: number;
  /** Sends a page_view now (or as soon as consent allows). Default false: call pageView() yourself. */
  autoPageView?: boolean;
  /** Tracks active/total time, scroll and visibility, sent as page_engagement when the page is left. Default true. */
  engagement?: boolean;
  /** Loads consent scopes from GET /api/tx/schema (cached a day). Default true. */
  loadSchema?: boolean;
  /** Page type for a path; return undefined to use the built-in detection. */
  pageType?: (path: string) => string | undefined;
  /** Called with each event the server rejected (it is not retried). */
  onReject?: (event: Envelope, rejection: Rejection) => void;
  /** Storage; default localStorage (used only once analytics or marketing consent is given). */
  storage?: KV;
  /** Clock, for tests. */
  now?: () => number;
}

export interface TrackOptions {
  /** Send right away with navigator.sendBeacon (for events just before navigating away). */
  beacon?: boolean;
}

export interface ImpressionOptions {
  /** Cards to watch; default `[data-tx-event]`. A card carries `data-tx-event="<event id>"` and optionally
   * `data-tx-position`, `data-tx-list`, `data-tx-source` (position defaults to the card's index, from 0). */
  selector?: string;
  list_name?: string;
  source?: string;
  feed_tab?: string;
  /** Also send event_card_click when a card is clicked. */
  clicks?: boolean;
}

export interface ImpressionHandle {
  /** Looks for cards added since (infinite lists). */
  scan(): void;
  disconnect(): void;
}

type Method<N extends EventName> = {} extends Props<N> ? (props?: Props<N>, options?: TrackOptions) => string | null : (props: Props<N>, options?: TrackOptions) => string | null;
/** One method per web event of the registry: page_view → pageView, add_to_cart → addToCart, … */
export type WebMethods = { [N in WebEventName as CamelCase<N>]: Method<N> };

const P = 'tx_';
const K_VID = P + 'vid';
const K_SESSION = P + 'session';
const K_FIRST = P + 'first_touch';
const K_CONSENT = P + 'consent';
const K_SCHEMA = P + 'schema';
/** Keys that identify the visitor: removed when consent is withdrawn (tx_q.*, tx_n.*, tx_queue: tab-queue.ts). */
const PERSONAL = /^tx_(vid|session|first_touch|queue|q\.|n\.)/;
const MAX_BEACON = 60_000;
const MAX_BODY = 400_000;

const iso = (ms: number) => new Date(ms).toISOString();
const cut = (s: string, n: number) => (s.length > n ? s.slice(0, n) : s);

function safeLocalStorage(): KV | null {
  try {
    const ls = window.localStorage;
    ls.setItem(P + 't', '1');
    ls.removeItem(P + 't');
    return ls;
  } catch {
    return null;
  }
}

/** Memory before consent, localStorage after: no identifier is written to the device without consent. */
class ConsentStore implements KV {
  mem: Record<string, string> = {};
  persist = false;
  constructor(public ls: KV | null) {}
  private t(): KV | null {
    return this.persist ? this.ls : null;
  }
  getItem(k: string) {
    const t = this.t();
    return t ? t.getItem(k) : k in this.mem ? this.mem[k] : null;
  }
  setItem(k: string, v: string) {
    const t = this.t();
    t ? t.setItem(k, v) : (this.mem[k] = v);
  }
  removeItem(k: string) {
    const t = this.t();
    t ? t.removeItem(k) : delete this.mem[k];
  }
  keys(): string[] {
    const t = this.t();
    return Object.keys(t ? (t.keys ? t.keys() : t) : this.mem);
  }
  setPersist(on: boolean) {
    if (on === this.persist || !this.ls) return;
    try {
      if (on) for (const k in this.mem) this.ls.setItem(k, this.mem[k]);
      else for (const k of this.ls.keys ? this.ls.keys() : Object.keys(this.ls)) PERSONAL.test(k) && this.ls.removeItem(k);
    } catch {
      /* storage unavailable */
    }
    this.mem = {};
    this.persist = on;
  }
}

export interface TxTracker extends Omit<WebMethods, 'pageView'> {}

export class TxTracker {
  readonly version = VERSION;
  private c: Required<Pick<TxConfig, 'batchSize' | 'flushInterval' | 'sessionTimeout' | 'retryBase' | 'retryMax'>> & TxConfig;
  private url: string;
  private ls: KV | null;
  private store: ConsentStore;
  private get q(): StoredQueue<Envelope> {
    return this.tq.q;
  }
  private consent: ConsentSnapshot;
  private scopes: Record<string, ConsentScope> | null = null;
  private now: () => number;
  private landing: Touch;
  private firstLoad = false;
  private views = 0;
  private pv: string | null = null;
  private seen: Record<string, 1> = {};
  private sending: Promise<void> | null = null;
  /** This tab's queue and the numbering of its events, shared safely with the site's other tabs. */
  private tq: TabQueue;
  /** The events of the request in flight, and whether it outlives the page (keepalive). */
  private flying: string[] = [];
  private keep = false;
  /** In hide(): claim synchronously when this is the site's only tab (an answer from IndexedDB comes too late). */
  private hiding = false;
  private attempt = 0;
  private retryAt = 0;
  private batch: number;
  private timer?: ReturnType<typeof setTimeout>;
  private off: (() => void)[] = [];
  // engagement of the current page segment
  private segStart: number;
  private active = 0;
  private tickAt: number;
  private visible: boolean;
  private focused: boolean;
  private visChanges = 0;
  private focusChanges = 0;
  private scrollMax = 0;
  private reported = false;

  constructor(config: TxConfig) {
    const c = (this.c = { batchSize: 20, flushInterval: 3000, sessionTimeout: 1_800_000, retryBase: 1000, retryMax: 60_000, ...config });
    this.now = c.now || Date.now;
    this.batch = c.batchSize = Math.max(1, Math.min(100, c.batchSize));
    this.url = (c.endpoint || '').replace(/\/+$/, '') + '/api/tx/events/batch?key=' + encodeURIComponent(c.writeKey);
    this.ls = c.storage || safeLocalStorage();
    this.store = new ConsentStore(this.ls);
    const w = window as { indexedDB?: unknown };
    this.tq = new TabQueue(
      {
        store: this.store,
        maxQueue: c.maxQueue || 500,
        log: (...a: unknown[]) => this.log(...a),
        // Numbered while the page is hidden: it may be discarded before the next flush.
        numbered: (beacon?: boolean) => ((beacon || !this.visible) && this.beacon(), !this.tq.pending && this.q.all().length >= this.batch && this.later(0)),
        flush: () => this.flush(),
      },
      !c.storage && !!this.ls && !!navigator.locks && !!w.indexedDB,
    );
    const now = this.now();
    this.consent = c.consent ? mergeConsent(this.loadConsent(), c.consent, iso(now)) : this.loadConsent();
    const l = location;
    this.landing = touchFrom(l.search, this.externalReferrer(), l.pathname, iso(now));
    this.applyConsent();

    this.segStart = this.tickAt = now;
    this.visible = document.visibilityState !== 'hidden';
    this.focused = document.hasFocus();
    const on = (t: EventTarget, type: string, fn: (e: any) => void) => {
      t.addEventListener(type, fn, { passive: true });
      this.off.push(() => t.removeEventListener(type, fn));
    };
    // Hidden is the last reliable moment on mobile; pagehide covers closing and bfcache.
    on(document, 'visibilitychange', () => {
      this.tick();
      this.visChanges++;
      this.visible = document.visibilityState !== 'hidden';
      this.visible ? (this.reported = false) : this.hide();
    });
    on(window, 'pagehide', (e: PageTransitionEvent) => {
      this.hide(true);
      e.persisted && this.tq.tabs && this.tq.tabs.free();
    });
    on(window, 'pageshow', (e: PageTransitionEvent) => {
      if (!e.persisted) return;
      this.resetPage();
      this.tq.renew();
    });
    on(window, 'focus', () => this.focus(true));
    on(window, 'blur', () => this.focus(false));
    on(window, 'scroll', () => this.scroll());
    // Connectivity is back: retry now rather than at the end of the backoff.
    on(window, 'online', () => {
      this.attempt = this.retryAt = 0;
      this.flush();
    });
    // Consent changed in another tab of the site.
    on(window, 'storage', (e: StorageEvent) => e.key === K_CONSENT && this.setConsent(this.loadConsent(), true));
    const iv = setInterval(() => (this.tq.adopt(), this.flush()), c.flushInterval);
    this.off.push(() => clearInterval(iv));
    if (c.loadSchema !== false) this.loadSchema();
    if (c.autoPageView) this.pageView();
    // Whatever an earlier page could not deliver.
    this.tq.adopt();
    this.flush();
  }

  // -------------------------------------------------------------------------------------------------------
  // Public API
  // -------------------------------------------------------------------------------------------------------

  /** Records an event; returns its event_id, or null when consent does not allow it (nothing is kept). */
  track<N extends EventName>(name: N, props?: Props<N>, options?: TrackOptions): string | null;
  track(name: string, props: Record<string, unknown> = {}, options: TrackOptions = {}): string | null {
    const scope = scopeOf(name, this.scopes);
    if (!allowed(scope, this.consent)) {
      this.log('blocked by consent (' + scope + ')', name);
      return null;
    }
    const now = this.now();
    const id = uuid();
    const stored = readJson<SessionState>(this.store, K_SESSION);
    const claim = claimSequence(stored, now, this.c.sessionTimeout, id, () => ({ id: uuid(), touch: this.touch() }));
    // Rolls the session only: numbers come from claim(). `seq`/`prev` keep what SDK 1.0 used in this
    // session, a floor for the numbers that follow (a visitor mid-session when the site upgrades).
    writeJson(this.store, K_SESSION, claim.fresh ? { ...claim.state, seq: 0, prev: undefined } : { ...claim.state, seq: stored!.seq, prev: stored!.prev });

    const entities: Entities = { ...this.c.entities };
    const payload: Record<string, unknown> = {};
    const dual = PAYLOAD_ENTITY_KEYS[name] || [];
    for (const k in props) {
      const v = props[k];
      if (v === undefined) continue;
      if ((ENTITY_NAMES as readonly string[]).includes(k)) {
        (entities as Record<string, unknown>)[k] = v;
        if (dual.includes(k)) payload[k] = v;
      } else payload[k] = v;
    }

    const l = location;
    const session = claim.state;
    const here = touchFrom(l.search, '', l.pathname, '');
    const ctx: Record<string, unknown> = {
      page: { url: cut(l.href, 2048), path: cut(l.pathname, 2048), title: cut(document.title, 512), page_type: this.pageTypeOf(l.pathname) },
      // Attribution of this event: the page's own UTMs/click ids, else those the session started with.
      utm: here.utm || (session.touch && session.touch.utm),
      click_ids: here.click_ids || (session.touch && session.touch.click_ids),
      referrer: document.referrer ? cut(document.referrer, 2048) : undefined,
      device: device(navigator.userAgent),
      locale: navigator.language,
      screen: screen.width + 'x' + screen.height,
      library: 'tx-sdk/' + VERSION,
    };
    // The visitor's first touch rides on page views and on the first event of each session.
    if (claim.fresh || name === 'page_view') ctx.first_touch = this.firstTouch();

    const env: Envelope = {
      event_id: id,
      event_name: name,
      event_version: 1,
      occurred_at: iso(now),
      source_system: 'web',
      visitor_id: this.vid(),
      session_id: session.id,
      site_id: this.c.siteId,
      consent_snapshot: { ...this.consent },
      context: ctx,
      entities,
      payload,
    };
    this.log(name, env);
    const queued = this.q.push(env);
    this.tq.claim(env, options.beacon || this.hiding, options.beacon);
    if (!options.beacon && queued >= this.batch) this.later(0);
    return id;
  }

  /** page_view: also closes the previous page's engagement (single-page apps call this on each route). */
  pageView(props: Props<'page_view'> = {}, options?: TrackOptions): string | null {
    if (this.pv) this.report();
    this.resetPage();
    const nav = (performance.getEntriesByType && (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined)) || null;
    const id = this.track(
      'page_view',
      {
        page_type: this.pageTypeOf(location.pathname),
        navigation_type: this.views ? 'navigate' : ((nav && nav.type) as Props<'page_view'>['navigation_type']) || 'unknown',
        is_first_touch: this.firstLoad && !this.views,
        ...props,
      },
      options,
    );
    if (id) {
      this.views++;
      this.pv = id;
    }
    return id;
  }

  /**
   * Updates consent (from the site's consent banner). Takes effect for the events that follow; withdrawing
   * it drops queued events it no longer covers and, with neither analytics nor marketing, removes the
   * visitor's identifiers from storage. (`fromOtherTab` is internal: the choice made in another tab.)
   */
  setConsent(change: Partial<ConsentSnapshot>, fromOtherTab?: boolean): void {
    this.consent = fromOtherTab ? { ...DENIED, ...change } : mergeConsent(this.consent, change, iso(this.now()));
    if (!fromOtherTab && this.ls) writeJson(this.ls, K_CONSENT, this.consent);
    this.applyConsent();
    if (!this.store.persist && this.tq.tabs) this.tq.tabs.wipe();
    this.q.retain((e) => allowed(scopeOf(e.event_name, this.scopes), this.consent));
    if (this.c.autoPageView && !this.pv) this.pageView();
  }

  getConsent(): ConsentSnapshot {
    return { ...this.consent };
  }

  /**
   * Ids for the site's backend (e.g. to put on order_completed), starting a session if none is running;
   * null without analytics or marketing consent.
   */
  getIds(): { visitor_id: string; session_id: string } | null {
    if (!this.consent.analytics && !this.consent.marketing) return null;
    const now = this.now();
    let s = readJson<SessionState>(this.store, K_SESSION);
    if (!s || now - s.last >= this.c.sessionTimeout) writeJson(this.store, K_SESSION, (s = { id: uuid(), touch: this.touch(), start: now, last: now, seq: 0 }));
    return { visitor_id: this.vid(), session_id: s.id };
  }

  /** Sends what is queued now (resolves when the queue is empty or the next attempt is scheduled). */
  flush(): Promise<void> {
    return this.sending || (this.sending = this.drain().finally(() => (this.sending = null)));
  }

  /** Forgets the visitor (e.g. on logout): new visitor id, session and first touch. */
  reset(): void {
    for (const k of [K_VID, K_SESSION, K_FIRST]) this.store.removeItem(k);
    this.pv = null;
    this.views = 0;
  }

  /** Stops timers and listeners (queued events stay stored for the next page). */
  destroy(): void {
    this.off.forEach((f) => f());
    clearTimeout(this.timer);
    this.off = [];
  }

  /**
   * Sends event_card_impression once per list position when a card is at least 50% visible
   * (IntersectionObserver), and event_card_click on click with `clicks: true`.
   */
  observeImpressions(root: ParentNode = document, o: ImpressionOptions = {}): ImpressionHandle {
    const places = new WeakMap<Element, Props<'event_card_impression'>>();
    const io =
      typeof IntersectionObserver != 'undefined'
        ? new IntersectionObserver(
            (entries) => {
              for (const e of entries) {
                const p = places.get(e.target);
                if (!p || !e.isIntersecting || e.intersectionRatio < 0.5) continue;
                io!.unobserve(e.target);
                const k = p.list_name + '|' + p.position + '|' + p.event_entity_id;
                if (this.seen[k]) continue;
                this.seen[k] = 1;
                this.eventCardImpression({ ...p, scroll_depth_pct: this.scroll() });
              }
            },
            { threshold: 0.5 },
          )
        : null;
    const scan = () =>
      root.querySelectorAll(o.selector || '[data-tx-event]').forEach((el, i) => {
        if (places.has(el)) return;
        const d = (el as HTMLElement).dataset;
        const p: Props<'event_card_impression'> = {
          event_entity_id: d.txEvent || '',
          position: d.txPosition ? +d.txPosition : i,
          list_name: d.txList || o.list_name,
          source: d.txSource || o.source,
          feed_tab: o.feed_tab,
        };
        places.set(el, p);
        if (io) io.observe(el);
        if (o.clicks) el.addEventListener('click', () => this.eventCardClick(p));
      });
    scan();
    return { scan, disconnect: () => io && io.disconnect() };
  }

  // -------------------------------------------------------------------------------------------------------
  // Delivery
  // -------------------------------------------------------------------------------------------------------

  /** One pending wake-up at a time; the flush interval is the safety net. */
  private later(ms: number) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), ms);
  }

  private async drain(): Promise<void> {
    // Ids settled in this run: never sent twice even if storage failed to record their removal.
    const done: Record<string, 1> = {};
    for (;;) {
      const now = this.now();
      if (now < this.retryAt) return;
      // Only numbered events: the others wait for IndexedDB's answer.
      const all = this.q.all().filter((e) => e.sequence_no !== undefined && !done[e.event_id]);
      if (!all.length) return;
      const sentAt = iso(now);
      const batch: Envelope[] = [];
      let body = '';
      for (const e of all) {
        const s = JSON.stringify({ ...e, sent_at: sentAt });
        if (batch.length >= this.batch || (batch.length && body.length + s.length > MAX_BODY)) break;
        batch.push(e);
        body += (body ? ',' : '') + s;
      }
      body = '{"events":[' + body + ']}';
      let res: Response | null = null;
      const ids = batch.map((e) => e.event_id);
      this.flying = ids;
      try {
        // text/plain and ?key= make this a CORS "simple" request: no preflight round trip.
        res = await fetch(this.url, { method: 'POST', body, keepalive: (this.keep = body.length < MAX_BEACON) });
      } catch {
        /* network error, offline, CORS refusal: retried */
      }
      this.flying = [];
      const status = res ? res.status : 0;
      const v = verdict(status);
      if (v === 'retry') {
        this.attempt++;
        // Counted from the answer, not from when the request left.
        const at = this.now();
        const wait = nextDelay(this.attempt, retryAfterMs(res && res.headers.get('retry-after'), at), this.c.retryBase, this.c.retryMax);
        this.retryAt = at + wait;
        this.log('send failed (' + status + '), retry in ' + wait + ' ms');
        this.later(wait);
        return;
      }
      if (v === 'split' && batch.length > 1) {
        this.batch = Math.max(1, batch.length >> 1);
        continue;
      }
      this.attempt = 0;
      this.batch = this.c.batchSize;
      if (v === 'ack') {
        const r = (await res!.json().catch(() => null)) as BatchResult | null;
        for (const x of (r && r.rejected) || []) {
          const e = batch[x.index];
          if (!e) continue;
          this.log('rejected by the server (not retried)', e.event_name, x.errors);
          this.c.onReject && this.c.onReject(e, x);
        }
      } else {
        // 4xx other than 408/429: sending the same request again cannot succeed.
        console.warn('[tx] dropped ' + batch.length + ' events: HTTP ' + status + ' ' + (res ? await res.text().catch(() => '') : ''));
      }
      ids.forEach((id) => (done[id] = 1));
      this.q.remove(ids);
    }
  }

  /**
   * Hands what is queued, numbered and not already in flight to navigator.sendBeacon (page hidden or
   * closing), and forgets what the browser took: each event goes out once. A beacon the browser refused
   * (false) leaves its events queued for the next try. When the page is `leaving`, a keepalive request in
   * flight outlives it like a beacon: its events are forgotten too, not sent again by the next page.
   */
  private beacon(leaving?: boolean) {
    const fly = this.flying;
    const gone = leaving && this.keep ? fly.slice() : [];
    const all = this.q.all().filter((e) => e.sequence_no !== undefined && !fly.includes(e.event_id));
    const sentAt = iso(this.now());
    let ok = !!navigator.sendBeacon;
    let chunk: string[] = [];
    let ids: string[] = [];
    let size = 0;
    const send = () => {
      if (ok && chunk.length && (ok = navigator.sendBeacon(this.url, '{"events":[' + chunk.join(',') + ']}'))) gone.push(...ids);
      chunk = [];
      ids = [];
      size = 0;
    };
    for (const e of all) {
      if (!ok) break;
      const s = JSON.stringify({ ...e, sent_at: sentAt });
      if (chunk.length >= 100 || (chunk.length && size + s.length > MAX_BEACON)) send();
      chunk.push(s);
      ids.push(e.event_id);
      size += s.length + 1;
    }
    send();
    this.q.remove(gone);
  }

  // -------------------------------------------------------------------------------------------------------
  // Engagement
  // -------------------------------------------------------------------------------------------------------

  private tick() {
    const now = this.now();
    if (this.visible && this.focused) this.active += Math.max(0, now - this.tickAt);
    this.tickAt = now;
  }

  private focus(f: boolean) {
    this.tick();
    this.focusChanges++;
    this.focused = f;
  }

  /** Current scroll depth in percent (0–100); also keeps the page's maximum. */
  private scroll(): number {
    const d = document.documentElement;
    const max = d.scrollHeight - innerHeight;
    const pct = max > 0 ? Math.min(100, Math.round((scrollY / max) * 100)) : 100;
    if (pct > this.scrollMax) this.scrollMax = pct;
    return pct;
  }

  private hide(leaving?: boolean) {
    this.hiding = true;
    if (!this.reported && this.c.engagement !== false) this.report();
    this.hiding = false;
    this.reported = true;
    this.beacon(leaving);
  }

  /** page_engagement for the time since the last report: sums over a page's reports give its totals. */
  private report() {
    this.tick();
    const now = this.now();
    const total = now - this.segStart;
    if (total > 0) {
      this.scroll();
      this.track('page_engagement', {
        active_ms: Math.round(this.active),
        total_ms: total,
        scroll_max_pct: this.scrollMax,
        visibility_changes: this.visChanges,
        focus_changes: this.focusChanges,
        page_view_id: this.pv,
      } as Props<'page_engagement'>);
    }
    this.segStart = now;
    this.active = this.visChanges = this.focusChanges = 0;
  }

  private resetPage() {
    this.segStart = this.tickAt = this.now();
    this.active = this.visChanges = this.focusChanges = this.scrollMax = 0;
    this.reported = false;
    this.seen = {};
  }

  // -------------------------------------------------------------------------------------------------------
  // Identity, consent, context
  // -------------------------------------------------------------------------------------------------------

  private vid(): string {
    let v = this.store.getItem(K_VID);
    if (!v) this.store.setItem(K_VID, (v = uuid()));
    return v;
  }

  private firstTouch(): Touch {
    let t = readJson<Touch>(this.store, K_FIRST);
    if (!t) {
      writeJson(this.store, K_FIRST, (t = this.landing));
      this.firstLoad = true;
    }
    return t;
  }

  /** How a new session starts: this page's UTMs, click ids and external referrer. */
  private touch(): Touch {
    const l = location;
    return touchFrom(l.search, this.externalReferrer(), l.pathname, iso(this.now()));
  }

  private externalReferrer(): string {
    try {
      const r = document.referrer;
      return r && new URL(r).host !== location.host ? r : '';
    } catch {
      return '';
    }
  }

  private loadConsent(): ConsentSnapshot {
    const s = this.ls && readJson<ConsentSnapshot>(this.ls, K_CONSENT);
    return s ? { ...DENIED, ...s } : { ...DENIED };
  }

  private applyConsent() {
    this.store.setPersist(this.consent.analytics || this.consent.marketing);
    // Capture the first touch as soon as anything may be kept (the landing page of this load).
    if (this.store.persist) this.firstTouch();
  }

  private loadSchema() {
    const cached = this.ls && readJson<{ at: number; s: Record<string, ConsentScope> }>(this.ls, K_SCHEMA);
    if (cached && this.now() - cached.at < 86_400_000) {
      this.scopes = cached.s;
      return;
    }
    fetch((this.c.endpoint || '').replace(/\/+$/, '') + '/api/tx/schema')
      .then((r) => (r.ok ? r.json() : null))
      .then((j: { events?: { name: string; scope: ConsentScope }[] } | null) => {
        if (!j || !j.events) return;
        const s: Record<string, ConsentScope> = {};
        for (const e of j.events) s[e.name] = e.scope;
        this.scopes = s;
        if (this.ls) writeJson(this.ls, K_SCHEMA, { at: this.now(), s });
      })
      .catch(() => {});
  }

  private pageTypeOf(path: string): string {
    return (this.c.pageType && this.c.pageType(path)) || pageType(path);
  }

  private log(...args: unknown[]) {
    if (this.c.debug) console.log('[tx]', ...args);
  }
}

// One method per web event of the registry (pageView is the class's own).
for (const n of WEB_EVENTS.split(' ')) {
  const m = n.replace(/_(\w)/g, (_, ch: string) => ch.toUpperCase());
  const proto = TxTracker.prototype as unknown as Record<string, unknown>;
  if (!proto[m]) proto[m] = function (this: TxTracker, props?: Record<string, unknown>, options?: TrackOptions) {
    return this.track(n as EventName, props as never, options);
  };
}
