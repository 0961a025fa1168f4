// The SDK inside a site's page, in Chromium against the real server, called the way real pages call it: with a
// callback that throws and with arguments that are null where an object was expected.
// - An onReject that threw left the drain before the acknowledged batch was removed: the same batch went out
//   again on every flush, forever, and each flush's promise rejected into the page (an unhandled rejection).
// - null options (`track(name, props, null)`, `pageView({}, null)`), `setConsent(null)`, a root that is not on the
//   page (README's `observeImpressions(document.querySelector('#feed'))`), null helper options and definitions,
//   a non-string endpoint: each threw a TypeError into the host page.
// The SDK now contains what the site's callbacks throw (a console warning) and takes null as absent; a root that
// is missing observes nothing, with one warning.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { until } from './helpers.js';
import { sleep } from './client-helpers.js';
import { sdkSuite } from './sdk-suite-helpers.js';

declare const window: any, document: any, localStorage: any, TxTracker: any, TxHelpers: any;

// The page records what reaches it (uncaught errors, unhandled rejections, console warnings) and every event id
// the SDK posts, before the SDK loads; the tracker is started by each test.
const cards = Array.from({ length: 6 }, (_, i) => `<div data-tx-event="E${i}" style="height:300px;border:1px solid #ccc">Event E${i}</div>`).join('');
const PAGE = (helpers: string) => `<!doctype html><html><head><meta charset="utf-8"><title>bad arguments</title><style>body{margin:0}</style></head><body>
<a id="out" data-tx-ticket="E1" href="https://tickets.example/buy?e=1">Tickets</a>
<div id="list">${cards}</div><div style="height:3000px"></div>
<script>
window.errors = []; window.warnings = []; window.posted = {};
addEventListener('error', (e) => errors.push('error: ' + e.message));
addEventListener('unhandledrejection', (e) => errors.push('unhandled: ' + ((e.reason && e.reason.message) || e.reason)));
const warn = console.warn;
console.warn = (...a) => (warnings.push(a.map(String).join(' ')), warn.apply(console, a));
const f = window.fetch;
window.fetch = function (url, o) {
  if (String(url).includes('/events/batch')) for (const e of JSON.parse(o.body).events) posted[e.event_id] = (posted[e.event_id] || 0) + 1;
  return f.apply(this, arguments);
};
document.querySelectorAll('a').forEach((a) => a.addEventListener('click', (e) => e.preventDefault()));
</script>
<script src="/tx.js"></script><script>${helpers}</script>
</body></html>`;

const env = sdkSuite({ tenant: 'bad-args', pages: ({ helpers }) => ({ '/p': PAGE(helpers) }) });

/** A fresh profile on the test page; `start` creates window.tx (config: the tenant's key and endpoint in `cfg`). */
async function open(start: string): Promise<{ page: Page; vid: string; close: () => Promise<void> }> {
  const ctx = await env.profile({ flushInterval: 200, consent: { analytics: true } }, 'cfg');
  const page = await ctx.newPage();
  await page.goto(`${env.site.origin}/p`);
  await page.evaluate(start);
  const vid = (await page.evaluate(() => window.tx.getIds().visitor_id)) as string;
  return { page, vid, close: () => ctx.close() };
}

const stored = env.byVisitor;
const seen = (page: Page) => page.evaluate(() => ({ errors: window.errors, warnings: window.warnings, posted: window.posted })) as Promise<{ errors: string[]; warnings: string[]; posted: Record<string, number> }>;

describe('SDK: a site callback that throws', () => {
  it('onReject throwing: the rejected batch is removed and sent once, nothing reaches the page but a warning', async () => {
    const { page, vid, close } = await open(`window.rej = 0; window.tx = new TxTracker({ ...cfg, onReject: () => { rej++; throw new Error('site bug'); } })`);
    // event_view without its event_entity_id is rejected by the server; the other is valid.
    const [bad, good] = (await page.evaluate(() => [window.tx.track('event_view', { organizer_id: 'O' }), window.tx.eventView({ event_entity_id: 'E1', organizer_id: 'O' })])) as string[];
    await until(async () => (await page.evaluate(() => window.rej)) >= 1, 15_000);
    // Several flush intervals (200 ms) later: nothing was sent again.
    await sleep(2000);
    const flushed = await page.evaluate(() => window.tx.flush().then(() => 'resolved', (e: Error) => 'rejected: ' + e.message));
    const s = await seen(page);
    expect(await page.evaluate(() => window.rej)).toBe(1);
    expect({ bad: s.posted[bad], good: s.posted[good] }).toEqual({ bad: 1, good: 1 });
    expect(flushed).toBe('resolved');
    expect(s.errors).toEqual([]);
    expect(s.warnings.filter((w) => w.includes('site bug'))).toHaveLength(1);
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tx_q.') && JSON.parse(localStorage.getItem(k)).length))).toEqual([]);
    expect((await stored(vid, 'event_view')).map((e) => e.event_id)).toEqual([good]);
    await close();
  });

  it('pageType and onPageView hooks throwing: the event is still recorded, the call does not throw', async () => {
    const { page, vid, close } = await open(`window.tx = new TxTracker({ ...cfg, pageType: () => { throw new Error('page type bug'); } })`);
    const r = (await page.evaluate(() => {
      const out: string[] = [];
      const call = (f: () => unknown) => { try { out.push(typeof f()); } catch (e: any) { out.push('THREW ' + e.message); } };
      call(() => window.tx.eventView({ event_entity_id: 'E2', organizer_id: 'O' }));
      window.TxHelpers.onPageView(window.tx, () => { throw new Error('hook bug'); });
      call(() => window.tx.pageView());
      return out;
    })) as string[];
    expect(r).toEqual(['string', 'string']);
    await until(async () => (await page.evaluate(() => window.tx.flush()), (await stored(vid)).length >= 2), 15_000);
    expect((await stored(vid)).map((e) => e.event_name).sort()).toEqual(['event_view', 'page_view']);
    const s = await seen(page);
    expect(s.errors).toEqual([]);
    expect(s.warnings.some((w) => w.includes('page type bug'))).toBe(true);
    expect(s.warnings.some((w) => w.includes('hook bug'))).toBe(true);
    await close();
  });
});

describe('SDK: null and wrong arguments', () => {
  it('null stands for an argument left out: nothing throws into the page, the events are recorded', async () => {
    const { page, vid, close } = await open(`window.tx = new TxTracker(cfg)`);
    const r = (await page.evaluate(async () => {
      const tx = window.tx;
      const out: Record<string, string> = {};
      const call = async (name: string, f: () => unknown) => {
        try {
          const v = await f();
          out[name] = v === null ? 'null' : typeof v;
        } catch (e: any) {
          out[name] = 'THREW ' + e.message;
        }
      };
      await call('track(name, props, null)', () => tx.track('event_view', { event_entity_id: 'N1', organizer_id: 'O' }, null));
      await call('eventView(props, null)', () => tx.eventView({ event_entity_id: 'N2', organizer_id: 'O' }, null));
      await call('pageView({}, null)', () => tx.pageView({}, null));
      await call('setConsent(null)', () => tx.setConsent(null));
      await call('observeImpressions(document, null)', () => tx.observeImpressions(document, null));
      await call('trackImpressions(tx, null)', () => TxHelpers.trackImpressions(tx, null));
      await call('trackTicketLinks(tx, null)', () => TxHelpers.trackTicketLinks(tx, null));
      await call('trackDetailView(tx, props, "#modal")', () => TxHelpers.trackDetailView(tx, { event_entity_id: 'E3' }, '#modal').close());
      await call('localExperiments(tx, null)', () => TxHelpers.localExperiments(tx, null).variant('x'));
      await call("localExperiments(tx, [{ key: 'k' }])", () => TxHelpers.localExperiments(tx, [{ key: 'k' }]).variant('k'));
      await call('loadExperiments(tx, null)', () => TxHelpers.loadExperiments(tx, null).then((xp: any) => xp.variant('x')));
      await call('new TxTracker({ endpoint: 42 })', () => new TxTracker({ writeKey: 'k', endpoint: 42, loadSchema: false }).destroy());
      await call('new TxTracker(null)', () => new TxTracker(null).destroy());
      return { out, consent: tx.getConsent() };
    })) as { out: Record<string, string>; consent: Record<string, unknown> };
    expect(r.out).toEqual({
      'track(name, props, null)': 'string',
      'eventView(props, null)': 'string',
      'pageView({}, null)': 'string',
      'setConsent(null)': 'undefined',
      'observeImpressions(document, null)': 'object',
      'trackImpressions(tx, null)': 'object',
      'trackTicketLinks(tx, null)': 'object',
      'trackDetailView(tx, props, "#modal")': 'undefined',
      'localExperiments(tx, null)': 'null',
      "localExperiments(tx, [{ key: 'k' }])": 'null',
      'loadExperiments(tx, null)': 'null',
      'new TxTracker({ endpoint: 42 })': 'undefined',
      'new TxTracker(null)': 'undefined',
    });
    expect(r.consent).toMatchObject({ analytics: true, marketing: false });
    await until(async () => (await page.evaluate(() => window.tx.flush()), (await stored(vid, 'event_view')).length >= 2), 15_000);
    expect((await stored(vid, 'event_view')).map((e) => e.entities.event_entity_id).sort()).toEqual(['N1', 'N2']);
    expect((await stored(vid, 'page_view')).length).toBe(1);
    expect((await seen(page)).errors).toEqual([]);
    await close();
  });

  it('a root that is not on the page, or no node, or a selector the browser refuses, observes nothing, with one warning per call', async () => {
    const { page, vid, close } = await open(`window.tx = new TxTracker(cfg)`);
    const threw = (await page.evaluate(() => {
      try {
        const tx = window.tx;
        // README's own example, on a page without #feed.
        const h = tx.observeImpressions(document.querySelector('#feed'), { clicks: true });
        h.scan();
        h.scan();
        // A selector where the root belongs: no node either.
        tx.observeImpressions('#list').scan();
        // A selector querySelectorAll refuses (SyntaxError): a warning, not an exception in the page.
        tx.observeImpressions(document, { selector: '[[[' });
        const i = TxHelpers.trackImpressions(tx, { root: document.querySelector('#feed') });
        i.scan();
        const l = TxHelpers.trackTicketLinks(tx, { root: null, utm: { source: 'tixello' } });
        l.scan();
        tx.pageView();
        document.querySelector('[data-tx-event="E0"]').click();
        document.getElementById('out').click();
        return null;
      } catch (e: any) {
        return e.message;
      }
    })) as string | null;
    expect(threw).toBeNull();
    await until(async () => (await page.evaluate(() => window.tx.flush()), (await stored(vid, 'page_view')).length >= 1), 15_000);
    await sleep(1000);
    await page.evaluate(() => window.tx.flush());
    // The page view only: no card impression or click, no ticket link (the link was not decorated either).
    expect((await stored(vid)).map((e) => e.event_name)).toEqual(['page_view']);
    expect(await page.evaluate(() => document.getElementById('out').href)).toBe('https://tickets.example/buy?e=1');
    const s = await seen(page);
    expect(s.errors).toEqual([]);
    expect(s.warnings.filter((w) => w.startsWith('[tx]'))).toHaveLength(5);
    await close();
  });
});
