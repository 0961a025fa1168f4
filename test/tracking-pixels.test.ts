// The SDK's opt-in pixel loader (issue 15 item 6) in Chromium, against local stand-ins for fbevents.js,
// gtag.js, gtm.js and TikTok's events.js that record what they are asked. The page has a nonce-only CSP, so
// a script the loader inserted without the nonce would not run. Nothing loads before consent; after marketing
// consent the resolved codes load and each tx event reaches every pixel with its event_id as the pixel's id (a
// purchase: its order id, the event id the server-side conversion sends to Meta and TikTok).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIXEL_EVENTS as CLIENT_EVENTS, pixelParams } from '../client/sdk/pixel-events.js';
import { PIXEL_EVENTS as SERVER_EVENTS } from '../server/tracking/snippets.js';
import { launchChromium, sleep } from './client-helpers.js';
import { screenshot } from './dashboard-helpers.js';
import { bootServer, createTenant, request, tmpDir, type Tenant } from './helpers.js';
import { buildClients } from '../scripts/build-clients.js';

declare const window: any;

const ORG_META = '123456789012345';
const MARKET_META = '999999999999999';
const TIKTOK = 'CABCDEFGHIJ123456789';
const NONCE = crypto.randomBytes(12).toString('base64');

// Stand-ins: each records that it ran (with the id in its URL) and drains the stub's queue into window.__calls.
const FAKES: Record<string, string> = {
  '/fake/fbevents.js': `(function(){var f=window.fbq;(window.__loaded=window.__loaded||[]).push('meta');window.__calls=window.__calls||[];
f.callMethod=function(){window.__calls.push(['fbq'].concat([].slice.call(arguments)))};var q=f.queue;f.queue=[];q.forEach(function(a){f.callMethod.apply(f,a)})})();`,
  '/fake/gtag.js': `(window.__loaded=window.__loaded||[]).push('gtag:'+new URL(document.currentScript.src).searchParams.get('id'));`,
  '/fake/gtm.js': `(window.__loaded=window.__loaded||[]).push('gtm:'+new URL(document.currentScript.src).searchParams.get('id'));`,
  '/fake/tiktok.js': `(window.__loaded=window.__loaded||[]).push('tiktok:'+new URL(document.currentScript.src).searchParams.get('sdkid'));`,
};

function page(api: string, t: Tenant, site: string, eventId: string) {
  const cfg = { writeKey: t.write_key, endpoint: api, loadSchema: false, autoPageView: true };
  const pixels = { writeKey: t.write_key, endpoint: api, eventId, nonce: NONCE, scripts: { meta: `${site}/fake/fbevents.js`, gtag: `${site}/fake/gtag.js`, gtm: `${site}/fake/gtm.js`, tiktok: `${site}/fake/tiktok.js` } };
  return `<!doctype html><html><head><meta charset="utf-8"><title>Event ${eventId}</title></head><body><h1>Event ${eventId}</h1>
<script nonce="${NONCE}" src="/tx.js"></script><script nonce="${NONCE}" src="/tx-pixels.js"></script>
<script nonce="${NONCE}">window.tx = new TxTracker(${JSON.stringify(cfg)}); window.px = new TxPixels(window.tx, ${JSON.stringify(pixels)});</script>
</body></html>`;
}

/** The tag install (client/README "Pixels"): data attributes only; the libraries at their real URLs (routed to the stand-ins). */
function tagPage(api: string, t: Tenant, eventId: string) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Event ${eventId}</title>
<script nonce="${NONCE}" src="/tx.js" data-key="${t.write_key}" data-endpoint="${api}"></script>
<script nonce="${NONCE}" src="/tx-pixels.js" data-key="${t.write_key}" data-endpoint="${api}" data-event="${eventId}"></script>
</head><body><h1>Event ${eventId}</h1></body></html>`;
}

describe('pixelParams', () => {
  it('maps a cart to each platform\'s value, currency, content ids and items', () => {
    const p = pixelParams('add_to_cart', { cart_id: 'C1', event_entity_id: 'E1', items: [{ ticket_type_id: 'GA', qty: 2, price: 50, ticket_type_name: 'General' }, { ticket_type_id: 7, qty: 1, price: 80 }], cart_value: 180, currency: 'RON' });
    expect(p.meta).toEqual({ value: 180, currency: 'RON', content_type: 'product', content_ids: ['GA', '7'], num_items: 3 });
    expect(p.ga4).toEqual({ value: 180, currency: 'RON', items: [{ item_id: 'GA', item_name: 'General', price: 50, quantity: 2 }, { item_id: '7', item_name: undefined, price: 80, quantity: 1 }] });
    expect(p.tiktok).toEqual({ value: 180, currency: 'RON', content_type: 'product', contents: [{ content_id: 'GA', quantity: 2 }, { content_id: '7', quantity: 1 }] });
  });

  it('an event view names the event; a purchase carries the order as GA4 transaction_id; a page view has no parameters', () => {
    expect(pixelParams('event_view', { event_entity_id: 'E1', price_from: 50, currency: 'EUR' }).meta).toEqual({ value: 50, currency: 'EUR', content_type: 'product', content_ids: ['E1'] });
    expect(pixelParams('order_completed', { event_id: 'x', order_id: 'ORD1', value: 100, currency: 'EUR' }).ga4).toEqual({ value: 100, currency: 'EUR', transaction_id: 'ORD1' });
    expect(pixelParams('page_view', { page_type: 'home' })).toMatchObject({ meta: {}, ga4: {} });
  });
});

describe('pixel loader in Chromium', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let browser: Browser;
  let site: http.Server;
  let origin: string;
  let t: Tenant;
  let bundles: Record<string, string>;
  const requests: string[] = [];

  beforeAll(async () => {
    const outDir = tmpDir('txl-pixels-');
    await buildClients({ outDir, quiet: true, regenerate: false, typecheck: false });
    bundles = { '/tx.js': fs.readFileSync(path.join(outDir, 'tx-sdk.js'), 'utf8'), '/tx-pixels.js': fs.readFileSync(path.join(outDir, 'tx-pixels.js'), 'utf8') };
    site = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://site');
      requests.push(url.pathname + url.search);
      const js = bundles[url.pathname] ?? FAKES[url.pathname];
      if (js !== undefined) {
        res.writeHead(200, { 'content-type': 'application/javascript', 'cache-control': 'no-store' });
        return res.end(js);
      }
      if (url.pathname.startsWith('/event/')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': `script-src 'nonce-${NONCE}'`, 'cache-control': 'no-store' });
        return res.end(page(server.url, t, origin, url.pathname.slice(7)));
      }
      if (url.pathname.startsWith('/tag/')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': `script-src 'nonce-${NONCE}'`, 'cache-control': 'no-store' });
        return res.end(tagPage(server.url, t, url.pathname.slice(5)));
      }
      res.writeHead(url.pathname === '/favicon.ico' ? 204 : 404);
      res.end();
    });
    await new Promise<void>((r) => site.listen(0, '127.0.0.1', () => r()));
    origin = `http://127.0.0.1:${(site.address() as net.AddressInfo).port}`;
    server = await bootServer();
    t = await createTenant(server.url, 'pixels', [origin]);
    const api = (method: string, p: string, body: unknown) => request(method, `${server.url}${p}`, body, { authorization: `Bearer ${t.secret_key}` });
    expect((await api('PUT', '/api/v1/catalog/events', { items: [{ id: 'E1', organizer_id: 'O1' }] })).status).toBe(200);
    for (const body of [
      { provider: 'meta', organizer_id: 'O1', settings: { pixel_id: ORG_META, custom_params: { content_category: 'concert' } } },
      { provider: 'ga4', organizer_id: 'O1', settings: { measurement_id: 'G-ORG00001' } },
      { provider: 'meta', settings: { pixel_id: MARKET_META } },
      { provider: 'tiktok', settings: { pixel_id: TIKTOK } },
      { provider: 'google_ads', settings: { conversion_id: 'AW-123456789', conversion_label: 'AbC-1' } },
      { provider: 'gtm', organizer_id: 'O1', event_id: 'E1', settings: { container_id: 'GTM-AB12CD3' } },
    ]) expect((await api('POST', '/api/v1/tracking-codes', body)).status).toBe(201);
    browser = await launchChromium();
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await new Promise<void>((r) => (site ? site.close(() => r()) : r()));
  }, 120_000);

  const state = (p: Page) => p.evaluate(() => {
    const w = window as any;
    const dl = (w.dataLayer || []).map((a: any) => (a && typeof a === 'object' && 'length' in a ? Array.from(a) : a));
    const tt = w.ttq && w.ttq._i ? Object.fromEntries(Object.entries(w.ttq._i).map(([k, v]: any) => [k, Array.from(v)])) : {};
    return JSON.parse(JSON.stringify({ loaded: w.__loaded || [], calls: w.__calls || [], dataLayer: dl, ttq: tt, fbq: typeof w.fbq }));
  });

  it('the browser event names are the server\'s (the conversions dispatcher sends the same)', () => {
    expect(CLIENT_EVENTS).toEqual(SERVER_EVENTS);
  });

  it('loads nothing before consent; after marketing consent loads the pixels and fires each tx event with its event_id', async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    const warnings: string[] = [];
    p.on('console', (m) => (m.type() === 'error' ? errors : m.type() === 'warning' ? warnings : []).push(m.text()));
    await p.goto(`${origin}/event/E1`);
    await p.waitForFunction(() => typeof window.px === 'object');
    // A moment for anything that would (wrongly) start: then nothing must have loaded.
    await p.waitForTimeout(500);
    expect(await state(p)).toMatchObject({ loaded: [], calls: [], dataLayer: [], fbq: 'undefined' });
    expect(requests.some((r) => r.startsWith('/fake/'))).toBe(false);

    await p.evaluate(() => window.tx.setConsent({ analytics: true, marketing: true }));
    await p.waitForFunction(() => (window.__loaded || []).length >= 5, undefined, { timeout: 60_000 });
    const ids = await p.evaluate(() => {
      const tx = window.tx;
      return {
        view: tx.eventView({ event_entity_id: 'E1', organizer_id: 'O1', price_from: 50, currency: 'RON' }),
        cart: tx.addToCart({ cart_id: 'C1', event_entity_id: 'E1', items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], cart_value: 100, currency: 'RON' }),
        checkout: tx.checkoutStarted({ cart_id: 'C1', cart_value: 100, currency: 'RON' }),
      };
    });
    await p.evaluate(() => window.px.purchase({ event_id: 'order-evt-1', order_id: 'ORD1', value: 100, currency: 'RON', items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }] }));
    await p.waitForFunction(() => (window.__calls || []).some((c: any[]) => c[3] === 'Purchase'), undefined, { timeout: 60_000 });
    const s = await state(p);
    expect([...s.loaded].sort()).toEqual(['gtag:AW-123456789', 'gtag:G-ORG00001', 'gtm:GTM-AB12CD3', 'meta', `tiktok:${TIKTOK}`]);
    // Every inserted script carried the nonce (the CSP would have blocked it otherwise) and no script errored.
    expect(errors).toEqual([]);

    const pv = (await p.evaluate(() => window.tx.pv)) as string;
    expect(pv).toMatch(/^[0-9a-f-]{36}$/);
    const fbq = s.calls.filter((c: any[]) => c[1] === 'trackSingle');
    const byPixel = (px: string) => fbq.filter((c: any[]) => c[2] === px).map((c: any[]) => [c[3], c[5].eventID]);
    // A purchase's eventID is the order id (as the server-side conversion's event_id), not the event id passed.
    const expected = [['PageView', pv], ['ViewContent', ids.view], ['AddToCart', ids.cart], ['InitiateCheckout', ids.checkout], ['Purchase', 'ORD1']];
    expect(byPixel(ORG_META)).toEqual(expected);
    expect(byPixel(MARKET_META)).toEqual(expected);
    expect(s.calls.filter((c: any[]) => c[1] === 'init').map((c: any[]) => c[2])).toEqual([ORG_META, MARKET_META]);
    expect(fbq.find((c: any[]) => c[3] === 'PageView' && c[2] === ORG_META)[4]).toMatchObject({ content_category: 'concert' });
    expect(fbq.find((c: any[]) => c[3] === 'Purchase')[4]).toMatchObject({ value: 100, currency: 'RON', content_ids: ['GA'], num_items: 2 });

    const gtagEvents = s.dataLayer.filter((a: any) => Array.isArray(a) && a[0] === 'event');
    expect(gtagEvents.filter((a: any[]) => a[2].send_to === 'G-ORG00001').map((a: any[]) => [a[1], a[2].event_id])).toEqual([
      ['page_view', pv], ['view_item', ids.view], ['add_to_cart', ids.cart], ['begin_checkout', ids.checkout], ['purchase', 'ORD1'],
    ]);
    // Google Ads converts on its conversion_events only (default order_completed).
    expect(gtagEvents.filter((a: any[]) => a[1] === 'conversion').map((a: any[]) => a[2])).toEqual([
      expect.objectContaining({ send_to: 'AW-123456789/AbC-1', transaction_id: 'ORD1', event_id: 'ORD1', value: 100, currency: 'RON' }),
    ]);
    expect(s.dataLayer.filter((a: any) => a && a.tx_event_id).map((a: any) => [a.event, a.tx_event_id])).toEqual([
      ['page_view', pv], ['view_item', ids.view], ['add_to_cart', ids.cart], ['begin_checkout', ids.checkout], ['purchase', 'ORD1'],
    ]);
    const tt = s.ttq[TIKTOK].filter((c: any) => Array.isArray(c));
    expect(tt.map((c: any[]) => [c[0], c[1], c[3]?.event_id])).toEqual([
      ['page', undefined, undefined], ['track', 'ViewContent', ids.view], ['track', 'AddToCart', ids.cart], ['track', 'InitiateCheckout', ids.checkout], ['track', 'CompletePayment', 'ORD1'],
    ]);
    await screenshot(p, 'tracking-pixels-consented.png');

    // A page written before order_id was documented passes only the backend event's id: that is the pixels' id.
    await p.evaluate(() => window.px.purchase({ event_id: 'order-evt-2', value: 5, currency: 'RON' }));
    await p.waitForFunction(() => (window.__calls || []).filter((c: any[]) => c[3] === 'Purchase').length >= 4, undefined, { timeout: 60_000 });
    const later = await state(p);
    expect(later.calls.filter((c: any[]) => c[1] === 'trackSingle' && c[3] === 'Purchase').map((c: any[]) => [c[2], c[5].eventID])).toEqual([
      [ORG_META, 'ORD1'], [MARKET_META, 'ORD1'], [ORG_META, 'order-evt-2'], [MARKET_META, 'order-evt-2'],
    ]);
    // Which the platforms cannot match to the server's copy (it carries the order id): the console says so, once.
    expect(warnings.filter((w) => w.includes('purchase() without order_id'))).toHaveLength(1);
    await ctx.close();
  }, 180_000);

  it('puts the platforms\' browser ids (the _fbp, _ttp, _ga and _ga_<stream> cookies) in each event\'s context, with consent', async () => {
    const ctx = await browser.newContext();
    await ctx.addCookies([
      ['_fbp', 'fb.1.1596403881668.1116446470'], ['_ttp', '2Ho2bOEhL4lXgNMaEwmJbEIUpH3'], ['_ga', 'GA1.1.1234567890.1700000000'], ['_ga_ORG00001', 'GS1.1.1700000123.3.1.1700000200.0.0.0'],
    ].map(([name, value]) => ({ name, value, url: origin })));
    const p = await ctx.newPage();
    const sent: any[] = [];
    p.on('request', (r) => r.url().includes('/api/tx/events/batch') && sent.push(...JSON.parse(r.postData() ?? '{"events":[]}').events));
    await p.goto(`${origin}/event/E1`);
    await p.waitForFunction(() => typeof window.px === 'object');
    await p.evaluate(() => window.tx.setConsent({ analytics: true, marketing: true }));
    await p.waitForFunction(() => (window.__loaded || []).length >= 5, undefined, { timeout: 60_000 });
    const id = await p.evaluate(async () => {
      const cart = window.tx.addToCart({ cart_id: 'C9', event_entity_id: 'E1', items: [{ ticket_type_id: 'GA', qty: 1, price: 50 }], cart_value: 50, currency: 'RON' });
      await window.tx.flush();
      return cart;
    });
    // flush() may resolve while the batch carrying the cart is still on its way (one already in flight), and
    // Playwright reports a request asynchronously: wait for it rather than read the list once.
    await expect.poll(() => sent.some((e) => e.event_id === id), { timeout: 30_000 }).toBe(true);
    const ev = sent.find((e) => e.event_id === id);
    expect(ev?.context).toMatchObject({
      fbp: 'fb.1.1596403881668.1116446470', ttp: '2Ho2bOEhL4lXgNMaEwmJbEIUpH3', ga_client_id: '1234567890.1700000000', ga_session_ids: { 'G-ORG00001': '1700000123' },
    });
    await ctx.close();
  }, 180_000);

  /** A new visitor on the event page who gave analytics consent only: GA4 has loaded, no marketing pixel. */
  const openWithAnalyticsOnly = async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(`${origin}/event/E1`);
    await p.waitForFunction(() => typeof window.px === 'object');
    await p.evaluate(() => window.tx.setConsent({ analytics: true, marketing: false }));
    await p.waitForFunction(() => (window.__loaded || []).length >= 1, undefined, { timeout: 60_000 });
    return { ctx, p };
  };

  it('analytics consent alone loads GA4 only; the marketing pixels load once marketing consent is given', async () => {
    const { ctx, p } = await openWithAnalyticsOnly();
    await p.waitForTimeout(300);
    let s = await state(p);
    expect(s.loaded).toEqual(['gtag:G-ORG00001']);
    expect(s.fbq).toBe('undefined');
    await p.evaluate(() => window.tx.setConsent({ marketing: true }));
    await p.waitForFunction(() => (window.__loaded || []).length >= 5, undefined, { timeout: 60_000 });
    s = await state(p);
    expect(s.loaded).toContain('meta');
    await ctx.close();
  }, 180_000);
  /** The platforms' real library URLs (the tag install's defaults) answered by the stand-ins. */
  const routeLibraries = (ctx: BrowserContext) => ctx.route(/connect\.facebook\.net|googletagmanager\.com|analytics\.tiktok\.com/, (r) => {
    const u = r.request().url();
    const fake = u.includes('fbevents') ? '/fake/fbevents.js' : u.includes('gtag/js') ? '/fake/gtag.js' : u.includes('gtm.js') ? '/fake/gtm.js' : '/fake/tiktok.js';
    return r.fulfill({ status: 200, contentType: 'application/javascript', body: FAKES[fake] });
  });
  const batches = (p: Page) => {
    const sent: any[] = [];
    p.on('request', (r) => r.url().includes('/api/tx/events/batch') && sent.push(...JSON.parse(r.postData() ?? '{"events":[]}').events));
    return sent;
  };
  /** Tracks one more event and waits for Meta to get it: whatever was queued before it has been fired by then. */
  const settle = async (p: Page) => {
    await p.evaluate(() => window.tx.addToCart({ cart_id: 'SETTLE', event_entity_id: 'E1', items: [{ ticket_type_id: 'GA', qty: 1, price: 1 }], cart_value: 1, currency: 'RON' }));
    await p.waitForFunction(() => (window.__calls || []).some((c: any[]) => c[3] === 'AddToCart'), undefined, { timeout: 60_000 });
  };
  const metaCalls = (s: any, px: string) => s.calls.filter((c: any[]) => c[1] === 'trackSingle' && c[2] === px).map((c: any[]) => [c[3], c[5].eventID]);

  for (const install of ['event', 'tag'] as const) {
    it(`${install === 'tag' ? 'tag' : 'script'} install: a returning visitor's full page load fires PageView once, with the stored page_view's event_id`, async () => {
      const ctx = await browser.newContext();
      await routeLibraries(ctx);
      const p = await ctx.newPage();
      const sent = batches(p);
      await p.goto(`${origin}/${install}/E1`);
      await p.waitForFunction(() => typeof window.tx === 'object');
      await p.evaluate(() => window.tx.setConsent({ analytics: true, marketing: true }));
      await p.waitForFunction(() => (window.__loaded || []).length >= 5, undefined, { timeout: 60_000 });
      // The next page: consent is stored, the tracker sends its page view while it starts.
      await p.goto(`${origin}/${install}/E1`);
      await p.waitForFunction(() => (window.__loaded || []).length >= 5, undefined, { timeout: 60_000 });
      await settle(p);
      const pv = (await p.evaluate(() => window.tx.pv)) as string;
      expect(pv).toMatch(/^[0-9a-f-]{36}$/);
      await p.evaluate(() => window.tx.flush());
      for (let i = 0; i < 600 && !sent.some((e) => e.event_id === pv); i++) await sleep(100);
      expect(sent.find((e) => e.event_id === pv)?.event_name).toBe('page_view');
      const s = await state(p);
      for (const px of [ORG_META, MARKET_META]) expect(metaCalls(s, px).filter((c: any[]) => c[0] === 'PageView')).toEqual([['PageView', pv]]);
      const gtagEvents = s.dataLayer.filter((a: any) => Array.isArray(a) && a[0] === 'event' && a[1] === 'page_view');
      expect(gtagEvents.map((a: any[]) => [a[2].send_to, a[2].event_id])).toEqual([['G-ORG00001', pv]]);
      expect(s.dataLayer.filter((a: any) => a && a.event === 'page_view').map((a: any) => a.tx_event_id)).toEqual([pv]);
      expect(s.ttq[TIKTOK].filter((c: any) => Array.isArray(c) && c[0] === 'page')).toHaveLength(1);
      await ctx.close();
    }, 180_000);
  }

  it('marketing consent without analytics: the pixels get PageView / ViewContent / AddToCart (local event ids), once per page', async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    const sent = batches(p);
    await p.goto(`${origin}/event/E1`);
    await p.waitForFunction(() => typeof window.px === 'object');
    await p.evaluate(() => window.tx.setConsent({ analytics: false, marketing: true }));
    await p.waitForFunction(() => (window.__loaded || []).length >= 4, undefined, { timeout: 60_000 });
    const ids = await p.evaluate(() => ({
      view: window.tx.eventView({ event_entity_id: 'E1', organizer_id: 'O1', price_from: 50, currency: 'RON' }),
      cart: window.tx.addToCart({ cart_id: 'C1', event_entity_id: 'E1', items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], cart_value: 100, currency: 'RON' }),
    }));
    // Our own tracking is refused (analytics); the pixels are not.
    expect(ids).toEqual({ view: null, cart: null });
    // A repeated consent call is not a new page.
    await p.evaluate(() => window.tx.setConsent({ marketing: true }));
    await settle(p);
    let s = await state(p);
    expect([...s.loaded].sort()).toEqual(['gtag:AW-123456789', 'gtm:GTM-AB12CD3', 'meta', `tiktok:${TIKTOK}`]);
    for (const px of [ORG_META, MARKET_META]) {
      const calls = metaCalls(s, px);
      expect(calls.map((c: any[]) => c[0])).toEqual(['PageView', 'ViewContent', 'AddToCart', 'AddToCart']);
      for (const c of calls) expect(c[1]).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Set(calls.map((c: any[]) => c[1])).size).toBe(4);
    }
    const tt = s.ttq[TIKTOK].filter((c: any) => Array.isArray(c));
    expect(tt.map((c: any[]) => c[0] === 'page' ? 'page' : c[1])).toEqual(['page', 'ViewContent', 'AddToCart', 'AddToCart']);
    expect(s.dataLayer.filter((a: any) => a && a.event === 'page_view')).toHaveLength(1);

    // The next page with marketing consent stored: its PageView too.
    await p.goto(`${origin}/event/E1`);
    await p.waitForFunction(() => (window.__loaded || []).length >= 4, undefined, { timeout: 60_000 });
    await settle(p);
    s = await state(p);
    for (const px of [ORG_META, MARKET_META]) expect(metaCalls(s, px).map((c: any[]) => c[0])).toEqual(['PageView', 'AddToCart']);
    await p.evaluate(() => window.tx.flush());
    expect(sent).toEqual([]);

    // Analytics given later: GA4 loads and gets this page's page_view (ours now, stored), Meta no second PageView.
    await p.evaluate(() => window.tx.setConsent({ analytics: true }));
    await p.waitForFunction(() => (window.__loaded || []).includes('gtag:G-ORG00001'), undefined, { timeout: 60_000 });
    await settle(p);
    const pv = await p.evaluate(() => window.tx.pv);
    expect(pv).toMatch(/^[0-9a-f-]{36}$/);
    s = await state(p);
    for (const px of [ORG_META, MARKET_META]) expect(metaCalls(s, px).filter((c: any[]) => c[0] === 'PageView')).toHaveLength(1);
    expect(s.dataLayer.filter((a: any) => Array.isArray(a) && a[0] === 'event' && a[1] === 'page_view').map((a: any[]) => a[2].event_id)).toEqual([pv]);
    await ctx.close();
  }, 180_000);

  it('marketing consent given after analytics: the newly loaded pixels get the page\'s PageView once, with its event_id', async () => {
    const { ctx, p } = await openWithAnalyticsOnly();
    await p.evaluate(() => window.tx.setConsent({ marketing: true }));
    await p.waitForFunction(() => (window.__loaded || []).length >= 5, undefined, { timeout: 60_000 });
    await settle(p);
    const pv = await p.evaluate(() => window.tx.pv);
    const s = await state(p);
    for (const px of [ORG_META, MARKET_META]) expect(metaCalls(s, px).filter((c: any[]) => c[0] === 'PageView')).toEqual([['PageView', pv]]);
    expect(s.ttq[TIKTOK].filter((c: any) => Array.isArray(c) && c[0] === 'page')).toHaveLength(1);
    expect(s.dataLayer.filter((a: any) => Array.isArray(a) && a[0] === 'event' && a[1] === 'page_view').map((a: any[]) => a[2].event_id)).toEqual([pv]);
    await ctx.close();
  }, 180_000);
});
