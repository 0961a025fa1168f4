// Interaction helpers of the browser SDK (seed 003 §1.2–1.4; a chunk of its own, dist/tx-helpers.js, so the
// core stays in its budget). Attached to a TxTracker; every event goes through its track(), so consent and
// delivery are the core's.
//
//   const imp = trackImpressions(tx, { list_name: 'home_feed' });   // [data-tx-event] cards, ≥ 50 % visible
//   const view = trackDetailView(tx, { event_entity_id: 'E1', source: 'event_modal' }, modalEl);  … view.close();
//   trackTicketLinks(tx, { utm: { source: 'tixello', campaign: 'spring' } });  // a[data-tx-ticket="E1"]
import type { TxTracker } from './tracker.js';

type Track = (name: string, props: Record<string, unknown>, options?: { beacon?: boolean }) => string | null;
const track = (tx: TxTracker): Track => tx.track.bind(tx) as unknown as Track;

const pageHooks = new WeakMap<TxTracker, Set<() => void>>();

/**
 * Calls `fn` after each pageView() of `tx` (single-page apps call it per route). Wraps the method once per
 * tracker; other wrappers (the pixel loader hooks track()) stay in place.
 */
export function onPageView(tx: TxTracker, fn: () => void): () => void {
  let set = pageHooks.get(tx);
  if (!set) {
    const fns = (set = new Set());
    pageHooks.set(tx, fns);
    const orig = tx.pageView;
    tx.pageView = function (this: TxTracker, ...a: Parameters<TxTracker['pageView']>) {
      const id = orig.apply(this, a);
      // A hook that throws (or is no function) is the site's bug: it must not throw out of pageView(), nor stop
      // the other hooks.
      fns.forEach((f) => {
        try {
          f();
        } catch (e) {
          console.warn('[tx] onPageView callback threw', e);
        }
      });
      return id;
    };
  }
  set.add(fn);
  return () => set!.delete(fn);
}

/**
 * The elements matching `selector` under `root` (left out: the document), for a watcher's scans. A root that is
 * not on the page (`document.querySelector('#feed')` found nothing: null) or is no node, or a selector the browser
 * refuses, watches nothing, with one console warning per watcher: never an exception in the host page.
 */
function finder<E extends Element>(root: ParentNode | null | undefined, selector: string, what: string): () => E[] {
  let warned = false;
  return () => {
    try {
      return Array.from((root === undefined ? document : (root as ParentNode)).querySelectorAll<E>(selector));
    } catch (e) {
      if (!warned) (warned = true), console.warn(`[tx] ${what}: nothing to watch (root ${root}, selector ${selector})`, e);
      return [];
    }
  };
}

function scrollPct(): number {
  const max = document.documentElement.scrollHeight - innerHeight;
  return max > 0 ? Math.min(100, Math.round((scrollY / max) * 100)) : 100;
}

export interface ImpressionOptions {
  /** Cards to watch; default `[data-tx-event]` (`data-tx-event="<event id>"`, optional `data-tx-position`, `data-tx-list`, `data-tx-source`). */
  selector?: string;
  /** Where to look; default the document. null (a container not on the page) watches nothing. */
  root?: ParentNode | null;
  list_name?: string;
  source?: string;
  feed_tab?: string;
}

export interface Impressions {
  /** Watches cards added since (infinite lists). */
  scan(): void;
  disconnect(): void;
}

/**
 * event_card_impression once per card element per page view, when at least half of it is visible
 * (IntersectionObserver, threshold 0.5). A new pageView() counts every card again, those still on screen included.
 */
export function trackImpressions(tx: TxTracker, o?: ImpressionOptions | null): Impressions {
  o = o || {};
  const send = track(tx);
  const find = finder(o.root, o.selector || '[data-tx-event]', 'trackImpressions');
  const watched = new Set<Element>();
  let seen = new WeakSet<Element>();
  const io = new IntersectionObserver(
    (entries) => {
      for (const e of entries) {
        if (!e.isIntersecting || e.intersectionRatio < 0.5 || seen.has(e.target)) continue;
        const d = (e.target as HTMLElement).dataset;
        const all = Array.from(watched);
        // Counted only once recorded: a card seen before consent counts when it is seen again after it.
        const id = send('event_card_impression', {
          event_entity_id: d.txEvent || '',
          position: d.txPosition ? +d.txPosition : all.indexOf(e.target),
          list_name: d.txList || o!.list_name,
          source: d.txSource || o!.source,
          feed_tab: o!.feed_tab,
          scroll_depth_pct: scrollPct(),
        });
        if (id) seen.add(e.target);
      }
    },
    { threshold: 0.5 },
  );
  const scan = () =>
    find().forEach((el) => {
      if (watched.has(el)) return;
      watched.add(el);
      io.observe(el);
    });
  const off = onPageView(tx, () => {
    seen = new WeakSet();
    // Observing again delivers a fresh entry for every card, so those still visible count for the new page view.
    watched.forEach((el) => (el.isConnected ? (io.unobserve(el), io.observe(el)) : watched.delete(el)));
  });
  scan();
  return { scan, disconnect: () => (io.disconnect(), off(), watched.clear()) };
}

export interface DetailView {
  /** Marks the view as interacted (a like, a share…); clicks inside the watched element do it too. */
  interacted(): void;
  /** Sends the close with the time the view was open while the page was visible; once. */
  close(extra?: Record<string, unknown>): void;
}

/**
 * event_detail_view `open` now and `close` (duration_ms, interacted) on close() or when the page is left. Time
 * while the page is hidden does not count: a modal left open in a background tab was not being read.
 */
export function trackDetailView(tx: TxTracker, props: { event_entity_id: string; source?: string }, el?: Element | null): DetailView {
  const send = track(tx);
  // Anything but an element (a selector string, null) is no element to watch for clicks.
  if (!(el instanceof Element)) el = null;
  const now = () => performance.now();
  let shown = 0;
  let since: number | null = document.visibilityState === 'hidden' ? null : now();
  let touched = false;
  let done = false;
  const vis = () => {
    if (document.visibilityState === 'hidden') {
      if (since !== null) shown += now() - since;
      since = null;
    } else if (since === null) since = now();
  };
  const mark = () => (touched = true);
  const leave = () => close({}, true);
  const close = (extra: Record<string, unknown> = {}, beacon?: boolean) => {
    if (done) return;
    done = true;
    if (since !== null) shown += now() - since;
    document.removeEventListener('visibilitychange', vis);
    removeEventListener('pagehide', leave);
    if (el) el.removeEventListener('click', mark, true);
    send('event_detail_view', { ...props, ...extra, action: 'close', duration_ms: Math.round(shown), interacted: touched }, { beacon });
  };
  document.addEventListener('visibilitychange', vis);
  addEventListener('pagehide', leave);
  if (el) el.addEventListener('click', mark, true);
  send('event_detail_view', { ...props, action: 'open' });
  return { interacted: mark, close: (extra) => close(extra) };
}

/**
 * `url` with utm_* parameters added for the keys it does not carry yet (the ticket seller's own campaign
 * tags win), appended to its query as it is: the seller's bytes (a signed link's) stay untouched, the fragment
 * stays last. Anything but an absolute http(s) URL comes back unchanged. Pure.
 */
export function decorateUrl(url: string, utm: Record<string, string | undefined>): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return url;
  let add = '';
  for (const k in utm) {
    const v = utm[k];
    if (v && !u.searchParams.has('utm_' + k)) add += '&utm_' + k + '=' + encodeURIComponent(v);
  }
  if (!add) return url;
  // Setting search re-parses only the string given, which the parsed URL's own search already is.
  u.search = u.search.length > 1 ? u.search + add : add.slice(1);
  return u.href;
}

export interface TicketLinkOptions {
  /** Links to watch; default `a[data-tx-ticket]` (`data-tx-ticket="<event id>"`, optional `data-tx-provider`, `data-tx-price-range`). */
  selector?: string;
  /** Where to look; default the document. null (a container not on the page) watches nothing. */
  root?: ParentNode | null;
  /** utm_source (default this site's host), utm_medium (default `referral`), utm_campaign, utm_content. */
  utm?: { source?: string; medium?: string; campaign?: string; content?: string };
  /** ticket_link_click.source (where the link sits: event_modal, event_card…). */
  source?: string;
}

/**
 * Decorates outbound ticket links (another origin's) with UTM parameters (at once, so a copied or middle-clicked
 * link carries them too; a link on this site keeps the visit's own campaign) and sends ticket_link_click with the
 * link's URL when one is clicked or middle-clicked (as a beacon: the page may be left).
 */
export function trackTicketLinks(tx: TxTracker, o?: TicketLinkOptions | null): { scan(): void; disconnect(): void } {
  o = o || {};
  const send = track(tx);
  const find = finder<HTMLAnchorElement>(o.root, o.selector || 'a[data-tx-ticket]', 'trackTicketLinks');
  const utm = { source: location.hostname, medium: 'referral', ...o.utm };
  const bound = new Set<HTMLAnchorElement>();
  // An anchor without href, or one to this origin, is left as it is.
  const decorate = (a: HTMLAnchorElement) => {
    if (a.hasAttribute('href') && a.origin !== location.origin) {
      const h = decorateUrl(a.href, utm);
      if (h !== a.href) a.href = h;
    }
  };
  const click = (e: Event) => {
    // click (primary button, keyboard, Ctrl/Shift+click) or auxclick of the middle button: one per activation.
    if ((e as MouseEvent).button > 1) return;
    const a = e.currentTarget as HTMLAnchorElement;
    decorate(a);
    const d = a.dataset;
    send('ticket_link_click', { event_entity_id: d.txTicket || '', ticket_url: a.href.slice(0, 2048), ticket_provider: d.txProvider, price_range: d.txPriceRange, source: o!.source }, { beacon: true });
  };
  const on = (a: HTMLAnchorElement, f: 'addEventListener' | 'removeEventListener') => (a[f]('click', click), a[f]('auxclick', click));
  const scan = () =>
    find().forEach((a) => {
      if (bound.has(a)) return;
      bound.add(a);
      decorate(a);
      on(a, 'addEventListener');
    });
  scan();
  return { scan, disconnect: () => (bound.forEach((a) => on(a, 'removeEventListener')), bound.clear()) };
}
