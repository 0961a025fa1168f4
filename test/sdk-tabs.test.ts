// The browser SDK in two real tabs of one visitor (two pages of one Chromium context: one localStorage,
// one IndexedDB, separate renderer processes that see each other's localStorage writes only
// asynchronously). Every request from the pages goes through a counting proxy in front of the server, so
// "sent once" is counted per event id (beacons included), not inferred.
// TX_SDK_JS=/path/to/tx-sdk.js runs the same scenarios against another build (e.g. an older release).
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { createTenant, eventsOf, getJson, until } from './helpers.js';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, DESKTOP_UA, sleep, txEval } from './client-helpers.js';
import { queuedIn, sdkSuite } from './sdk-suite-helpers.js';

declare const window: any, localStorage: any, navigator: any, document: any;

// TX_SDK_JS: another build's tx-sdk.js (see above) instead of this one's.
const env = sdkSuite({ tenant: 'tabs', proxy: true, sdkSource: (build) => (process.env.TX_SDK_JS ? fs.readFileSync(process.env.TX_SDK_JS, 'utf8') : build.iife) });
/** A browser profile (fresh localStorage) whose pages start the SDK with `config`. */
const profile = (config: Record<string, unknown>) => env.profile({ consent: { analytics: true }, ...config });

const tx = txEval;
/** Events queued in the profile's storage, all tabs' queues together. */
const queued = (page: Page) => queuedIn(page, 'tx_q');
const byVisitor = (vid: string) => env.byVisitor(vid);
const session = (sid: string) => getJson(`${env.server.url}/api/v1/sessions/${sid}`, { authorization: `Bearer ${env.t.secret_key}` });

/**
 * Two tabs of one visitor (the second opened after the first started the session) each record 30
 * event_views starting at the same wall-clock instant, `gap` ms apart (a function of the event index).
 */
async function twoTabs(gapMs: number) {
  const ctx = await profile({ flushInterval: 200 });
  const a = await ctx.newPage();
  await a.goto(`${env.site.origin}/events/T1`);
  const ids = await tx<{ visitor_id: string; session_id: string }>(a, `tx.getIds()`);
  const b = await ctx.newPage();
  await b.goto(`${env.site.origin}/events/T2`);
  expect(await tx(b, `tx.getIds()`)).toEqual(ids);
  const at = Date.now() + 500;
  const fire = (page: Page, tab: string) =>
    page.evaluate(
      async ({ at, tab, gapMs }) => {
        while (Date.now() < at) await new Promise((r) => setTimeout(r, 1));
        const out: string[] = [];
        for (let i = 0; i < 30; i++) {
          out.push(window.tx.eventView({ event_entity_id: tab, price_from: i, currency: 'EUR' }));
          if (gapMs) await new Promise((r) => setTimeout(r, Math.random() * gapMs));
        }
        return out;
      },
      { at, tab, gapMs },
    );
  const sent = (await Promise.all([fire(a, 'T1'), fire(b, 'T2')])).flat();
  let stored: Record<string, any>[] = [];
  await until(
    async () => {
      stored = (await byVisitor(ids.visitor_id)).filter((e) => e.event_name === 'event_view');
      return stored.length >= 60 && (await queued(a)) === 0;
    },
    45_000,
  ).catch(() => null); // the assertions below say what is missing
  await sleep(500); // nothing more arrives later
  stored = (await byVisitor(ids.visitor_id)).filter((e) => e.event_name === 'event_view');
  const seqs = stored.map((e) => e.sequence_no).sort((x, y) => x - y);
  const distinct = new Set(seqs).size;
  const s = await session(ids.session_id);
  console.log(`two tabs, 0–${gapMs} ms apart: ${stored.length}/60 stored, ${distinct} distinct sequence numbers, session gaps ${s.json?.sequence?.gaps}`);
  return { ctx, ids, sent, stored, seqs, session: s.json };
}

describe('browser SDK in two tabs of one visitor', () => {
  for (const gapMs of [0, 40]) {
    it(`2×30 events ${gapMs ? 'at random 0–40 ms gaps' : 'at the same moment'}: all 60 stored, 60 distinct sequence numbers, session gap count 0`, { timeout: 120_000 }, async () => {
      const r = await twoTabs(gapMs);
      expect(r.stored.map((e) => e.event_id).sort()).toEqual([...r.sent].sort());
      expect(r.seqs).toEqual(r.sent.map((_, i) => i));
      for (const e of r.stored) expect(e.session_id).toBe(r.ids.session_id);
      // prev_event_id chains the events in sequence order, across the tabs.
      const bySeq = [...r.stored].sort((x, y) => x.sequence_no - y.sequence_no);
      expect(bySeq[0].prev_event_id ?? null).toBeNull();
      for (let i = 1; i < bySeq.length; i++) expect(bySeq[i].prev_event_id).toBe(bySeq[i - 1].event_id);
      expect(r.session).toMatchObject({ sequence: { min: 0, max: 59, gaps: 0 } });
      for (const id of r.sent) expect(env.proxy.copies.get(id), id).toBe(1);
      await r.ctx.close();
    });
  }

  it('two tabs open before consent, granted in one: both tabs\' page views are one visitor and one session', async () => {
    const ctx = await env.browser.newContext({ userAgent: DESKTOP_UA, viewport: { width: 1280, height: 720 } });
    // No consent yet; the page views are automatic (as the one-tag install), sent once consent comes.
    await ctx.addInitScript(`window.TX_CONFIG = ${JSON.stringify({ writeKey: env.t.write_key, endpoint: env.proxy.url, autoPageView: true, flushInterval: 200 })}`);
    const path = `/events/CONSENT-${Date.now()}`;
    const [a, b] = [await ctx.newPage(), await ctx.newPage()];
    await a.goto(`${env.site.origin}${path}`);
    await b.goto(`${env.site.origin}${path}`);
    expect(await tx(b, `tx.getIds()`)).toBeNull();
    await tx(a, `tx.setConsent({ analytics: true })`);
    const views = await until(async () => {
      const e = (await eventsOf(env.server.url, env.t, 'limit=1000&event_name=page_view')).filter((x: any) => x.context?.page?.path === path);
      return e.length >= 2 ? e : null;
    }, 15_000);
    await sleep(500);
    expect(new Set(views.map((e: any) => e.visitor_id)).size).toBe(1);
    expect(new Set(views.map((e: any) => e.session_id)).size).toBe(1);
    expect(await tx(b, `tx.getIds()`)).toEqual(await tx(a, `tx.getIds()`));
    await ctx.close();
  });

  it('page leave: each event goes out once (beacon for what is queued, nothing again from the next page), stored once', async () => {
    // No timed flush on the first page: what it queued leaves by beacon when the tab navigates away.
    const ctx = await profile({ flushInterval: 3_600_000, batchSize: 100 });
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/events/L1`);
    const ids = await tx<{ visitor_id: string; session_id: string }>(page, `tx.getIds()`);
    const first = await tx<string[]>(page, `[tx.pageView(), ...Array.from({ length: 8 }, (_, i) => tx.eventView({ event_entity_id: 'L1', price_from: i, currency: 'EUR' }))]`);
    // Numbered (IndexedDB answered) before the visitor moves on.
    await until(() => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tx_q.')).flatMap((k) => JSON.parse(localStorage.getItem(k)!)).every((e: any) => e.sequence_no !== undefined)), 15_000);
    expect(await queued(page)).toBe(9);
    expect(first.filter((id) => env.proxy.copies.has(id))).toEqual([]);

    // The next page flushes every 200 ms and would resend anything the first page left queued.
    await ctx.addInitScript(`window.TX_CONFIG = Object.assign({}, window.TX_CONFIG, { flushInterval: 200 })`);
    await page.goto(`${env.site.origin}/events/L2`);
    const next = await tx<string>(page, `tx.pageView()`);
    const all = [...first, next];
    const stored = await until(async () => {
      const e = await byVisitor(ids.visitor_id);
      return all.every((id) => e.some((x) => x.event_id === id)) && e.some((x) => x.event_name === 'page_engagement') ? e : null;
    }, 10_000);
    await sleep(1500); // several flush intervals of the next page: a resend would show now
    const copies = [...env.proxy.copies.entries()].filter(([id]) => stored.some((e) => e.event_id === id));
    const total = copies.reduce((n, [, c]) => n + c, 0);
    console.log(`page leave: ${stored.length} events cost ${total} copies`);
    expect(copies.filter(([, c]) => c !== 1)).toEqual([]);
    expect(new Set(stored.map((e) => e.event_id)).size).toBe(stored.length);
    expect(stored.map((e) => e.sequence_no).sort((x, y) => x - y)).toEqual(stored.map((_, i) => i));
    expect(await queued(page)).toBe(0);
    await ctx.close();
  });

  it('a visit shorter than a flush interval: the page_engagement recorded as the only tab leaves still arrives', async () => {
    // The tab looks at the other tabs' locks when it starts: before, it assumed some and left the numbering of
    // its last event to IndexedDB, which answered after the page was gone (the event was lost).
    // Consent given on the page (a banner), the default flush interval; the visitor leaves for another site.
    const ctx = await profile({ consent: undefined });
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/events/S1`);
    const ids = await tx<{ visitor_id: string }>(page, `(tx.setConsent({ analytics: true, marketing: false, data_processing: true }), tx.pageView(), tx.getIds())`);
    // Leaves once the tab is settled, however slow the machine: the page view numbered (no IndexedDB claim
    // pending) and the tab's first look at the locks answered (a lock query made after it answers after it).
    // A visit leaving before that is another case, where the tab may not yet know it is alone.
    await page.waitForFunction('((window.tx && window.tx.tq && window.tx.tq.pending) || 0) === 0', undefined, { timeout: 20_000 });
    await page.evaluate(() => navigator.locks.query());
    await page.evaluate(`location.href = 'about:blank'`);
    const stored = await until(async () => {
      const e = await byVisitor(ids.visitor_id);
      return e.some((x) => x.event_name === 'page_engagement') ? e : null;
    }, 10_000).catch(() => byVisitor(ids.visitor_id));
    expect(stored.map((e) => e.event_name).sort()).toEqual(['page_engagement', 'page_view']);
    await ctx.close();
  });

  it('a page loads the SDK from the server itself (/tx-sdk.js, nothing built beforehand) and its events arrive', async () => {
    const js = await fetch(`${env.server.url}/tx-sdk.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(js.headers.get('access-control-allow-origin')).toBe('*');
    const mjs = await fetch(`${env.server.url}/tx-sdk.mjs`);
    expect([mjs.status, await mjs.text()]).toEqual([200, expect.stringContaining('export')]);
    env.site.pages.set('/served', `<!doctype html><html><body><script src="${env.server.url}/tx-sdk.js"></script>
<script>window.tx = new TxTracker(window.TX_CONFIG);</script></body></html>`);
    const ctx = await profile({ flushInterval: 200 });
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/served`);
    const ids = await tx<{ visitor_id: string }>(page, `(tx.pageView(), tx.getIds())`);
    const stored = await until(async () => {
      const e = await byVisitor(ids.visitor_id);
      return e.some((x) => x.event_name === 'page_view') ? e : null;
    }, 15_000);
    expect(stored.filter((e) => e.event_name === 'page_view')).toHaveLength(1);
    await ctx.close();
  });

  it('a tab closed with unsent events while another records: the other adopts its queue, each event sent once, numbers never reused', async () => {
    // Tab A looks at the site's tabs only when it starts (long flush interval), before B exists: only B's
    // announcement tells A that it is no longer alone when it numbers its last page_engagement on leaving.
    // A few rounds: A closes while B's claims are in flight.
    for (let round = 0; round < 3; round++) {
      const ctx = await profile({ flushInterval: 60_000 });
      const a = await ctx.newPage();
      await a.goto(`${env.site.origin}/events/C1`);
      const ids = await tx<{ visitor_id: string; session_id: string }>(a, `tx.getIds()`);
      await a.evaluate(() => navigator.locks.query()); // A's first look at the tabs is done (a lock query made after it answers after it): none
      await ctx.addInitScript(`window.TX_CONFIG = Object.assign({}, window.TX_CONFIG, { flushInterval: 200 })`);
      const b = await ctx.newPage();
      await b.goto(`${env.site.origin}/events/C2`);
      // Tab A cannot send (its requests fail, the browser refuses its beacons), then is closed.
      await a.evaluate(() => {
        navigator.sendBeacon = () => false;
        window.fetch = () => Promise.reject(new TypeError('offline'));
      });
      const lost = await tx<string[]>(a, `Array.from({ length: 5 }, (_, i) => tx.share({ event_entity_id: 'C1', method: 'copy_link', recipient_count: i }))`);
      await until(() => a.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tx_q.')).flatMap((k) => JSON.parse(localStorage.getItem(k)!)).filter((e: any) => e.sequence_no !== undefined).length >= 5), 15_000);
      const own = await tx<string[]>(b, `Array.from({ length: 5 }, (_, i) => tx.eventView({ event_entity_id: 'C2', price_from: i }))`);
      await a.close({ runBeforeUnload: true });
      const all = [...lost, ...own];
      await until(async () => {
        const e = await byVisitor(ids.visitor_id);
        return all.every((id) => e.some((x) => x.event_id === id)) && e.some((x) => x.event_name === 'page_engagement') ? e : null;
      }, 15_000).catch(() => null); // the assertions below say what is missing
      await sleep(800);
      const web = await byVisitor(ids.visitor_id);
      // A's five shares, B's five event views, A's page_engagement: each stored once.
      expect(web.filter((e) => all.includes(e.event_id))).toHaveLength(10);
      expect(web.filter((e) => e.event_name === 'page_engagement')).toHaveLength(1);
      expect(web).toHaveLength(11);
      expect(web.map((e) => env.proxy.copies.get(e.event_id))).toEqual(web.map(() => 1));
      expect(web.map((e) => e.sequence_no).sort((x, y) => x - y), `round ${round}`).toEqual(web.map((_, i) => i));
      expect(await queued(b)).toBe(0);
      await ctx.close();
    }
  });

  it('a page kept in the back/forward cache is restored (no Web Lock held) and its events still go out once', async () => {
    // The standard test site answers no-store (never cached): a cacheable one, and a browser with the
    // back/forward cache on (Playwright turns it off by default).
    const srv = http.createServer((req, res) => {
      if (req.url === '/tx.js') {
        res.writeHead(200, { 'content-type': 'application/javascript' });
        return res.end(env.sdkSource);
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>${req.url}</title><h1>${req.url}</h1><script src="/tx.js"></script><script>window.tx = new TxTracker(window.TX_CONFIG)</script>`);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const origin = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
    const tb = await createTenant(env.server.url, 'bfcache', [origin]);
    const b2 = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, ignoreDefaultArgs: ['--disable-back-forward-cache'], args: [...CHROMIUM_ARGS, `--user-agent=${DESKTOP_UA}`] });
    try {
      const ctx = await b2.newContext(); // the browser's --user-agent: an override per context bars the cache
      // No timed work (flushes, looks at the tabs) that could be in flight when the page is cached: a
      // response reaching a cached page evicts it, whatever the page does. The test flushes by hand.
      await ctx.addInitScript(`window.TX_CONFIG = ${JSON.stringify({ writeKey: tb.write_key, endpoint: env.proxy.url, consent: { analytics: true }, flushInterval: 3_600_000 })}`);
      const page = await ctx.newPage();
      const why: string[] = []; // Chromium's own account when it does not use the cache
      const cdp = await ctx.newCDPSession(page);
      await cdp.send('Page.enable');
      cdp.on('Page.backForwardCacheNotUsed', (e: any) => why.push(JSON.stringify(e.notRestoredExplanations)));
      await page.goto(`${origin}/a`);
      const ids = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
      const sent = await tx<string[]>(page, `[tx.pageView(), tx.eventView({ event_entity_id: 'B1' })]`);
      await page.evaluate(() => (window.marker = 1));
      const numbered = () => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tx_q.')).flatMap((k) => JSON.parse(localStorage.getItem(k)!)).every((e: any) => e.sequence_no !== undefined));
      await until(numbered, 15_000);
      await tx(page, `tx.flush()`);
      expect(await queued(page)).toBe(0);
      await sleep(300);
      await page.goto(`${origin}/b`);
      sent.push(await tx<string>(page, `tx.pageView()`));
      // Page /b numbers its event before it is left: a claim still in IndexedDB when /b is frozen in the cache
      // completes only if /b comes back, and its queue then waits for a live tab's adoption (a look per flush
      // interval, an hour here) — a different case from the one this test is about (seen once on a busy CI run).
      await until(numbered, 15_000);
      await page.goBack({ waitUntil: 'commit' });
      await until(() => page.evaluate(() => document.readyState === 'complete').catch(() => false), 15_000);
      const restored = await page.evaluate(() => window.marker === 1);
      expect(restored, `not restored from the back/forward cache: ${why.join(' ')}`).toBe(true);
      sent.push(await tx<string>(page, `tx.eventView({ event_entity_id: 'B2' })`));
      await until(numbered, 15_000);
      await tx(page, `tx.flush()`);
      const evs = await until(async () => {
        const e = await eventsOf(env.server.url, tb, `limit=1000&visitor_id=${ids.visitor_id}`);
        return sent.every((id) => e.some((x) => x.event_id === id)) ? e : null;
      }, 15_000);
      await sleep(1000); // nothing more arrives later
      const all = await eventsOf(env.server.url, tb, `limit=1000&visitor_id=${ids.visitor_id}`);
      expect(all.length).toBeGreaterThanOrEqual(evs.length);
      expect(all.map((e) => env.proxy.copies.get(e.event_id))).toEqual(all.map(() => 1));
      expect(all.map((e) => e.sequence_no).sort((x, y) => x - y)).toEqual(all.map((_, i) => i));
      await ctx.close();
    } finally {
      await b2.close();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('a visitor mid-session when the site upgrades from SDK 1.0: its queue is sent, numbering goes on after the numbers 1.0 used', async () => {
    const ctx = await profile({ flushInterval: 200 });
    const page = await ctx.newPage();
    // SDK 1.0's storage as it left it, written from a page of the site without the SDK.
    env.site.pages.set('/blank', '<!doctype html><title>blank</title>');
    await page.goto(`${env.site.origin}/blank`);
    const vid = crypto.randomUUID();
    const sid = crypto.randomUUID();
    const legacy = crypto.randomUUID();
    const now = Date.now();
    await page.evaluate(
      ({ vid, sid, legacy, now }) => {
        const consent = { analytics: true, marketing: false, data_processing: false, captured_at: new Date(now).toISOString() };
        localStorage.setItem('tx_consent', JSON.stringify(consent));
        localStorage.setItem('tx_vid', vid);
        localStorage.setItem('tx_session', JSON.stringify({ id: sid, start: now - 60_000, last: now - 1000, seq: 7, prev: legacy }));
        const e = { event_id: legacy, event_name: 'event_view', event_version: 1, occurred_at: new Date(now - 1000).toISOString(), source_system: 'web', visitor_id: vid, session_id: sid, sequence_no: 6, consent_snapshot: consent, context: {}, entities: { event_entity_id: 'U1' }, payload: {} };
        localStorage.setItem('tx_queue', JSON.stringify([e]));
      },
      { vid, sid, legacy, now },
    );
    await page.goto(`${env.site.origin}/events/U1`);
    const a = await tx<string>(page, `tx.eventView({ event_entity_id: 'U1' })`);
    const b = await tx<string>(page, `tx.eventView({ event_entity_id: 'U2' })`);
    const evs = await until(async () => {
      const e = await byVisitor(vid);
      return [legacy, a, b].every((id) => e.some((x) => x.event_id === id)) ? e : null;
    }, 10_000);
    const seq = (id: string) => evs.find((e) => e.event_id === id)!;
    expect([seq(legacy).sequence_no, seq(a).sequence_no, seq(b).sequence_no]).toEqual([6, 7, 8]);
    expect([seq(a).prev_event_id, seq(b).prev_event_id]).toEqual([legacy, a]);
    expect(await page.evaluate(() => localStorage.getItem('tx_queue'))).toBeNull();
    await ctx.close();
  });
});
