// Consent withdrawn while events wait in a queue the withdrawing tab does not own: a tab closed (or a page
// left) offline leaves its queue in localStorage, and a live tab of the site adopts and sends it later. The
// README ("Consent") promises that withdrawing consent drops the queued events it no longer covers: none of
// them may reach the network, whichever tab or page ends up sending the queue. Real Chromium, one browser
// profile; every batch posted by the pages goes through a counting proxy, so "never sent" is observed on the
// wire (beacons included), not inferred from what the server stored.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { until } from './helpers.js';
import { txEval as tx } from './client-helpers.js';
import { sdkSuite } from './sdk-suite-helpers.js';

declare const localStorage: any, window: any, navigator: any;

const env = sdkSuite({ tenant: 'consent-queues', proxy: true });

const BOTH = { analytics: true, marketing: true };
/**
 * A profile whose pages can each be taken offline as the SDK sees it: `navigator.onLine` false (no beacon)
 * and fetch() failing, until `net(page, true)`, which also fires `online`. Not Chromium's emulated offline
 * (context.setOffline): it is lifted from a tab while Playwright closes it, and the closing tab, online again
 * for its last moments, now and then sent its own queue itself, before the withdrawal.
 */
async function profile(config: Record<string, unknown> = {}) {
  const ctx = await env.profile({ consent: BOTH, flushInterval: 200, ...config });
  await ctx.addInitScript(() => {
    let off = false;
    Object.defineProperty(navigator, 'onLine', { get: () => !off, configurable: true });
    const f = window.fetch;
    window.fetch = (...args: unknown[]) => (off ? Promise.reject(new TypeError('Failed to fetch')) : f(...args));
    window.txNet = (on: boolean) => ((off = !on), on && window.dispatchEvent(new Event('online')));
  });
  return ctx;
}
const net = (page: Page, on: boolean) => page.evaluate((on) => window.txNet(on), on);

/** Every event queued in the profile's storage, all tabs' queues together. */
const queue = (page: Page) =>
  page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tx_q')).flatMap((k) => JSON.parse(localStorage.getItem(k) || '[]'))) as Promise<any[]>;

/**
 * In `page`, offline: a marketing event (affiliate_attribution_captured) and an analytics one (event_view),
 * numbered before the page goes. Returns their ids and the visitor.
 */
async function queueBothScopes(page: Page) {
  const vid = (await tx<{ visitor_id: string }>(page, `tx.getIds()`)).visitor_id;
  await net(page, false);
  const marketing = await tx<string>(page, `tx.track('affiliate_attribution_captured', { affiliate_id: 'AFF1' })`);
  const analytics = await tx<string>(page, `tx.eventView({ event_entity_id: 'E1' })`);
  await until(async () => {
    const q = await queue(page);
    return [marketing, analytics].every((id) => q.some((e) => e.event_id === id && e.sequence_no !== undefined));
  }, 15_000);
  return { vid, marketing, analytics };
}

/**
 * Waits until `expected` is stored and no queue of the profile holds anything (nothing is left that could
 * still be sent), then returns the names of the visitor's events that went over the wire.
 */
async function settled(page: Page, vid: string, expected: string) {
  await until(async () => {
    const stored = await env.byVisitor(vid);
    return stored.some((e) => e.event_id === expected) && (await queue(page)).length === 0;
  }, 20_000);
  const stored = await env.byVisitor(vid);
  return stored;
}

describe('browser SDK: consent withdrawn while another tab\'s queue waits', () => {
  for (const [withdrawn, kept] of [
    ['marketing', 'analytics'],
    ['analytics', 'marketing'],
  ] as const) {
    it(`${withdrawn} withdrawn in tab B after tab A closed offline with queued events: B adopts A's queue and sends only its ${kept} events`, { timeout: 90_000 }, async () => {
      const ctx = await profile();
      const a = await ctx.newPage();
      await a.goto(`${env.site.origin}/events/W1`);
      const b = await ctx.newPage();
      await b.goto(`${env.site.origin}/events/W2`);
      await net(b, false);
      const ev = await queueBothScopes(a);
      // No beacon offline: A's queue (and its page_engagement) stays in localStorage for a live tab. (With
      // runBeforeUnload, close() does not wait for the page to be gone: a tab A still alive once online would
      // send its own queue, a different case.)
      await Promise.all([a.waitForEvent('close'), a.close({ runBeforeUnload: true })]);
      await tx(b, `tx.setConsent({ ${withdrawn}: false })`);
      expect(await tx(b, `tx.getConsent()`)).toMatchObject({ [withdrawn]: false, [kept]: true });
      await net(b, true);

      const stored = await settled(b, ev.vid, ev[kept]);
      const notCovered = withdrawn === 'marketing' ? [ev.marketing] : [ev.analytics];
      expect(notCovered.filter((id) => env.proxy.copies.has(id)), `${withdrawn} events sent after ${withdrawn} consent was withdrawn`).toEqual([]);
      // Nothing of the withdrawn scope reached the server either (A's page_engagement is analytics).
      const scopeOf = (name: string) => (name === 'affiliate_attribution_captured' ? 'marketing' : 'analytics');
      expect(stored.filter((e) => scopeOf(e.event_name) === withdrawn).map((e) => e.event_name)).toEqual([]);
      expect(stored.map((e) => e.event_id)).toContain(ev[kept]);
      await ctx.close();
    });
  }

  it('one tab across page loads: the next page, started without marketing consent, sends the previous page\'s analytics events and not its marketing ones', { timeout: 90_000 }, async () => {
    const ctx = await profile();
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/events/P1`);
    const ev = await queueBothScopes(page);
    // The page is left offline (no beacon): its queue waits for the site's next page, online.
    await page.goto('about:blank');
    // The next page of the site knows from the consent banner that marketing was withdrawn.
    await ctx.addInitScript(`window.TX_CONFIG = Object.assign({}, window.TX_CONFIG, { consent: { analytics: true, marketing: false } })`);
    await page.goto(`${env.site.origin}/events/P2`);
    const stored = await settled(page, ev.vid, ev.analytics);
    expect(env.proxy.copies.has(ev.marketing), 'marketing event sent by a page without marketing consent').toBe(false);
    expect(stored.map((e) => e.event_name)).not.toContain('affiliate_attribution_captured');
    await ctx.close();
  });
});
