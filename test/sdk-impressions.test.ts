// The core's tx.observeImpressions in Chromium against the real server, in a single-page app whose feed is
// re-rendered (cards removed, added, put back) and whose impression handle is disconnected and scanned again:
// - a removed card was kept (and observed anew on each pageView()) for the page's lifetime: memory grew with
//   every card a virtualised feed ever rendered;
// - a card scanned again after disconnect(), or removed and put back, got a second click listener: each click
//   was tracked twice.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { until } from './helpers.js';
import { txEval } from './client-helpers.js';
import { sdkSuite } from './sdk-suite-helpers.js';

declare const window: any, document: any, WeakRef: any;

// --expose-gc: the page can collect garbage when the test says so (window.gc), to see what is still held.
const env = sdkSuite({ tenant: 'acme', chromiumArgs: ['--js-flags=--expose-gc'] });
const profile = env.profile;

const tx = txEval;
/** Waits until the visitor has `n` events named `name` stored (then a little longer: nothing more comes). */
const stored = (vid: string, name: string, n: number, ms = 10_000) => env.stored(vid, name, n, ms, 800);

/**
 * Puts 50 cards into the page (a feed's render), scans them, then removes them (the feed re-rendered), runs
 * `after` (what the app does next) and collects garbage: how many of the removed cards are still in memory.
 */
const removedAlive = (page: Page, after: 'scan' | 'pageView') =>
  page.evaluate(async (after) => {
    const h = window.tx.observeImpressions(document, { clicks: true });
    const refs: any[] = [];
    // (Made in a function: a loop's block would keep its last card in the page's memory itself.)
    const render = () => {
      const els = Array.from({ length: 50 }, (_, i) => {
        const el = document.createElement('div');
        el.setAttribute('data-tx-event', 'R' + i);
        el.style.height = '300px';
        refs.push(new WeakRef(el));
        return el;
      });
      document.body.prepend(...els);
    };
    render();
    h.scan();
    await new Promise((r) => setTimeout(r, 100)); // the observer's first entries for the cards
    document.querySelectorAll('[data-tx-event^="R"]').forEach((el: any) => el.remove());
    if (after === 'scan') h.scan();
    else window.tx.pageView();
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 50)), window.gc();
    return refs.filter((r) => r.deref()).length;
  }, after);

describe('tx.observeImpressions in a single-page app', () => {
  it('a card removed from the page is let go at the next pageView() or scan(): it can be garbage-collected', async () => {
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 3_600_000 });
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/`);
    expect(await removedAlive(page, 'pageView')).toBe(0);
    await page.goto(`${env.site.origin}/`);
    expect(await removedAlive(page, 'scan')).toBe(0);
    await ctx.close();
  });

  it('cards still on the page keep counting on each pageView() after removed ones were let go', async () => {
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 200 });
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    // Viewport 720 px: the heading (100 px) and cards 0 and 1 are fully visible, card 2 only 20 px of 300.
    await tx(page, `(window.h = tx.observeImpressions(document, { source: 'feed' }), tx.pageView(), 1)`);
    const positions = async (n: number) => (await stored(visitor_id, 'event_card_impression', n)).map((e) => e.payload.position).sort();
    expect(await positions(2)).toEqual([0, 1]);
    // Card 0 leaves the feed: cards 1 and 2 (positions 1 and 2, their places in the first scan) are the ones on
    // screen now, and count for the new page view.
    // (In one task: the observer's entries for the moved cards come after the new page view began.)
    await tx(page, `(document.querySelector('[data-tx-event="E0"]').remove(), tx.pageView(), 1)`);
    expect(await positions(4)).toEqual([0, 1, 1, 2]);
    await ctx.close();
  });

  it('a click after disconnect() and scan(), or on a card removed and put back, is tracked once', async () => {
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 200 });
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    await tx(page, `(window.h = tx.observeImpressions(document, { source: 'feed', clicks: true }), 1)`);
    await tx(page, `(window.h.disconnect(), window.h.scan(), 1)`);
    await page.click('[data-tx-event="E0"]');
    const clicks = async (n: number) => (await stored(visitor_id, 'event_card_click', n)).map((e) => e.entities.event_entity_id).sort();
    expect(await clicks(1)).toEqual(['E0']);
    // Re-rendered: card 1 is taken out, the feed scanned (it is let go), then put back and scanned again.
    await page.evaluate(() => {
      const el = document.querySelector('[data-tx-event="E1"]');
      const next = el.nextSibling;
      el.remove();
      window.h.scan();
      next.parentNode.insertBefore(el, next);
      window.h.scan();
    });
    await page.click('[data-tx-event="E1"]');
    expect(await clicks(2)).toEqual(['E0', 'E1']);
    await ctx.close();
  });
});
