// The core's event card impressions (tx.observeImpressions; the helpers chunk's trackImpressions counts per
// card element instead): event_card_impression once per list position per page view when a card is at
// least 50% visible, and event_card_click on click with `clicks: true`. Cards stay observed: one visible before
// consent (track() recorded nothing) counts with the page view that follows consent.
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
  // A Map (the observer holds its cards anyway): a new page view observes them all anew.
  const places = new Map<Element, Props<'event_card_impression'>>();
  // Every browser the build targets (scripts/build-clients.ts) has IntersectionObserver.
  const io = new IntersectionObserver(
    (entries) => {
      for (const e of entries) {
        const p = places.get(e.target);
        if (!p || !e.isIntersecting || e.intersectionRatio < 0.5) continue;
        const k = p.list_name + '|' + p.position + '|' + p.event_entity_id;
        const s = seen();
        // Counted once recorded (track() is null before consent: the card counts when next seen).
        if (!s[k] && tx.track('event_card_impression', { ...p, scroll_depth_pct: depth() })) s[k] = 1;
      }
    },
    { threshold: 0.5 },
  );
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
      io.observe(el);
      if (o.clicks) el.addEventListener('click', () => tx.track('event_card_click', p));
    });
  // Observing anew delivers a fresh entry for each card: those on screen count for the new page view.
  views.push(() => places.forEach((_, el) => (io.unobserve(el), io.observe(el))));
  scan();
  return { scan, disconnect: () => (io.disconnect(), places.clear()) };
}
