// The core's event card impressions (tx.observeImpressions; the helpers chunk's trackImpressions counts per
// card element instead): event_card_impression once per list position per page view when a card is at
// least 50% visible, and event_card_click on click with `clicks: true`. Cards stay observed: one visible before
// consent (track() recorded nothing) counts with the page view that follows consent. A card no longer in the
// document (a re-rendered or virtualised feed) is let go at the next pageView() or scan(): memory does not grow
// with every card a single-page app ever showed; scan() again to watch it once it is back.
import type { Props } from '../shared/types.js';
import type { ImpressionHandle, ImpressionOptions } from './config.js';
import type { TxTracker } from './tracker.js';

/**
 * `seen`: the page view's positions already counted (a new object per page view); `depth`: scroll depth %;
 * `views`: called on each new page view (this adds its re-check of the cards on screen).
 */
export function observeImpressions(
  tx: TxTracker,
  seen: () => Record<string, 1>,
  depth: () => number,
  root: ParentNode,
  o: ImpressionOptions,
  views: (() => void)[],
): ImpressionHandle {
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
        const s = seen();
        // Counted once recorded (track() is null before consent: the card counts when next seen).
        if (!s[k] && tx.track('event_card_impression', { ...p, scroll_depth_pct: depth() })) s[k] = 1;
      }
    },
    { threshold: 0.5 },
  );
  // One listener for every card: the browser adds the same function to an element once, however often the card
  // is scanned (after disconnect(), or removed and put back), so a click is never tracked twice. It counts the
  // card while it is watched, with its placement of now.
  function click(this: Element) {
    const p = places.get(this);
    if (p) tx.track('event_card_click', p);
  }
  // Lets go of the cards no longer in the document (unobserved, forgotten: they can be collected) and observes
  // the others anew, which delivers a fresh entry for each: those on screen count for a new page view (and not
  // twice within one: `seen`).
  const sweep = () => places.forEach((_, el) => (io.unobserve(el), el.isConnected ? io.observe(el) : places.delete(el)));
  const scan = () =>
    (sweep(),
    root.querySelectorAll(o.selector || '[data-tx-event]').forEach((el, i) => {
      const d = (el as HTMLElement).dataset;
      // A card already watched keeps its placement; observe() and addEventListener() are no-ops for it.
      places.set(el, places.get(el) || {
        event_entity_id: d.txEvent || '',
        position: d.txPosition ? +d.txPosition : i,
        list_name: d.txList || o.list_name,
        source: d.txSource || o.source,
        feed_tab: o.feed_tab,
      });
      io.observe(el);
      if (o.clicks) el.addEventListener('click', click);
    }));
  views.push(sweep);
  scan();
  return { scan, disconnect: () => (io.disconnect(), places.clear()) };
}
