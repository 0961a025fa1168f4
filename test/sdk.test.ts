// The browser SDK in Chromium against the real server. The SDK is built here (IIFE, one script tag) and
// served by a test site on its own origin, so every request is cross-origin and exercises CORS and the
// tenant's allowed origins. One browser for the file; a fresh context (own localStorage) per scenario.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { getJson, postJson, until } from './helpers.js';
import { DESKTOP_UA, sleep, txEval } from './client-helpers.js';
import { queuedIn, sdkSuite } from './sdk-suite-helpers.js';
import { WEB_EVENTS } from '../client/shared/registry.gen.js';
import { SDK_BUDGET_GZIP } from '../scripts/build-clients.js';
import { device, pageType } from '../server/ingest/web-fill.js';

// Browser globals used inside page.evaluate callbacks (which run in Chromium). Declared here, for this
// module only: the root tsconfig has no DOM lib.
declare const window: any, document: any, localStorage: any, navigator: any;

const env = sdkSuite({ tenant: 'acme' });
const profile = env.profile;

const tx = txEval;
/** Events queued in the page's storage: every tab's queue (`tx_q.<tab>`). */
const queued = (page: Page) => queuedIn(page, 'tx_q.');
const byVisitor = (vid: string) => env.byVisitor(vid);

describe('browser SDK in Chromium', () => {
  it('builds within the size budget and defines one method per web event of the registry', async () => {
    console.log(`tx-sdk.js: ${env.build.sdk.bytes} B minified, ${env.build.sdk.gzip} B min+gzip (budget ${SDK_BUDGET_GZIP} B)`);
    expect(env.build.sdk.gzip).toBeLessThanOrEqual(SDK_BUDGET_GZIP);
    const ctx = await profile({});
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/`);
    const methods = await page.evaluate(() => Object.getOwnPropertyNames((window as any).TxTracker.prototype));
    const camel = (s: string) => s.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
    for (const name of WEB_EVENTS.split(' ')) expect(methods).toContain(camel(name));

    // One script tag with data attributes starts window.tx; its automatic page view waits for consent.
    env.site.pages.set('/one-tag', `<!doctype html><title>one tag</title><script src="/tx.js" data-key="${env.t.write_key}" data-endpoint="${env.base}" data-site="main"></script>`);
    await page.goto(`${env.site.origin}/one-tag`);
    expect(await page.evaluate(() => typeof window.tx?.pageView)).toBe('function');
    expect(await queued(page)).toBe(0);
    await tx(page, `tx.setConsent({ analytics: true })`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    await tx(page, `tx.flush()`);
    const [pv] = await until(async () => {
      const e = await byVisitor(visitor_id);
      return e.length ? e : null;
    }, 10_000);
    expect(pv).toMatchObject({ event_name: 'page_view', site_id: 'main', sequence_no: 0 });
    expect(pv.context.page).toMatchObject({ path: '/one-tag', title: 'one tag', page_type: 'other' });
    await ctx.close();
  });

  it('a visit with consent: page views, event views, cart, checkout and the order share one session, in sequence, with the first touch', async () => {
    const ctx = await profile({ flushInterval: 200, debug: true });
    const page = await ctx.newPage();
    // Landing from a Google ad with a newsletter campaign.
    await page.goto(`${env.site.origin}/?utm_source=newsletter&utm_medium=email&utm_campaign=fall&gclid=G-123`, { referer: 'https://www.google.com/' });

    // Opt-in: before consent nothing is collected, not even queued.
    expect(await tx(page, `tx.pageView()`)).toBeNull();
    expect(await tx(page, `tx.getIds()`)).toBeNull();
    expect(await queued(page)).toBe(0);
    expect(await page.evaluate(() => localStorage.getItem('tx_vid'))).toBeNull();

    await tx(page, `tx.setConsent({ analytics: true, data_processing: true })`);
    const ids = await tx<{ visitor_id: string; session_id: string }>(page, `tx.getIds()`);
    const sent: string[] = [];
    const track = async (js: string) => {
      const id = await tx<string | null>(page, js);
      expect(id, js).toMatch(/^[0-9a-f-]{36}$/);
      sent.push(id!);
    };
    // Known issue (README "Tabs"): an event recorded in the last milliseconds before a navigation is numbered by
    // the next page after that page's own events. This test checks the in-order case: numbering done, then leave.
    const numbered = () => page.waitForFunction('((window.tx && window.tx.tq && window.tx.tq.pending) || 0) === 0', undefined, { timeout: 10_000 });
    await track(`tx.pageView()`);
    await track(`tx.searchPerformed({ query: 'jazz', result_count: 8, has_results: true })`);
    await track(`tx.eventCardClick({ event_entity_id: 'E1', position: 0, list_name: 'home' })`);

    // A second page of the same site (same-site referrer, no campaign parameters).
    await numbered();
    await page.goto(`${env.site.origin}/events/E1`);
    await track(`tx.pageView()`);
    await track(`tx.eventView({ event_entity_id: 'E1', organizer_id: 'O1', price_from: 50, currency: 'EUR', availability_snapshot: { ga: 120, vip: 8 } })`);
    await track(`tx.ticketTypeSelected({ event_entity_id: 'E1', organizer_id: 'O1', ticket_type_id: 'GA', qty: 2, price: 50, currency: 'EUR' })`);
    await track(`tx.addToCart({ cart_id: 'C1', event_entity_id: 'E1', organizer_id: 'O1', items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], cart_value: 100, currency: 'EUR' })`);
    await track(`tx.cartView({ cart_id: 'C1', event_entity_id: 'E1', cart_value: 100, currency: 'EUR' })`);

    await numbered();
    await page.goto(`${env.site.origin}/checkout`);
    await track(`tx.pageView()`);
    await track(`tx.checkoutStarted({ cart_id: 'C1', event_entity_id: 'E1', cart_value: 100, currency: 'EUR', login_state: 'guest' })`);
    await track(`tx.checkoutStepViewed({ cart_id: 'C1', step_name: 'details', step_index: 0 })`);
    await track(`tx.checkoutStepCompleted({ cart_id: 'C1', step_name: 'details', step_index: 0, step_duration_ms: 4200, validation_errors: [] })`);
    await track(`tx.paymentMethodSelected({ cart_id: 'C1', method: 'card', provider: 'stripe' })`);
    await track(`tx.paymentAttempted({ order_id: 'ORD-1', event_entity_id: 'E1', amount: 100, currency: 'EUR', method: 'card' })`);
    expect(await tx(page, `tx.getIds()`)).toEqual(ids);

    // order_completed is a backend event: the tenant's backend posts it with the ids the page gave it, with the
    // secret key (the page's write key may not post orders).
    const order = await postJson(
      `${env.base}/api/v1/server-events`,
      {
        events: [
          {
            idempotency_key: 'order_completed_ORD-1',
            event_name: 'order_completed',
            occurred_at: new Date().toISOString(),
            source_system: 'backend',
            visitor_id: ids.visitor_id,
            session_id: ids.session_id,
            consent_snapshot: { analytics: true, marketing: false, data_processing: true },
            entities: { order_id: 'ORD-1', event_entity_id: 'E1', organizer_id: 'O1' },
            payload: { gross_amount: 100, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], channel: 'web' },
          },
        ],
      },
      { authorization: `Bearer ${env.t.secret_key}` },
    );
    expect(order.json).toMatchObject({ accepted: 1, rejected: [] });

    const stored = await until(async () => {
      const evs = await byVisitor(ids.visitor_id);
      const seqs = evs.filter((e) => e.source_system === 'web').map((e) => e.sequence_no);
      const contiguous = seqs.length > 0 && Math.max(...seqs) === seqs.length - 1;
      // The page_engagement of a page left can be numbered after the next page's events (a tab adopts what the
      // page left behind): wait for both, not only for a contiguous prefix.
      const engagements = evs.filter((e) => e.event_name === 'page_engagement').length;
      return contiguous && engagements >= 2 && sent.every((id) => evs.some((e) => e.event_id === id)) && evs.some((e) => e.event_name === 'order_completed') ? evs : null;
    });
    await page.close({ runBeforeUnload: true });

    const web = stored.filter((e) => e.source_system === 'web').sort((a, b) => a.sequence_no - b.sequence_no);
    // Exactly once each; the two page changes also sent page_engagement for the pages left.
    expect(new Set(web.map((e) => e.event_id)).size).toBe(web.length);
    for (const id of sent) expect(web.filter((e) => e.event_id === id)).toHaveLength(1);
    expect(web.filter((e) => e.event_name === 'page_engagement').length).toBeGreaterThanOrEqual(2);
    expect(web.filter((e) => e.event_name === 'page_view')).toHaveLength(3); // the one before consent is not there

    // One session; sequence 0..n-1 without gaps; prev_event_id chains the events; sent_at on every event.
    for (const e of web) {
      expect(e.session_id).toBe(ids.session_id);
      expect(e.visitor_id).toBe(ids.visitor_id);
      expect(e.sent_at).toBeTruthy();
      expect(e.is_bot, `${e.event_name} ${e.context.user_agent}`).toBe(false);
      expect(e.consent_snapshot).toMatchObject({ analytics: true, marketing: false, data_processing: true });
      expect(e.context.device).toEqual({ device_type: 'desktop', os: 'Linux', browser: 'Chrome' });
    }
    expect(web.map((e) => e.sequence_no)).toEqual(web.map((_, i) => i));
    expect(web[0].prev_event_id ?? null).toBeNull();
    for (let i = 1; i < web.length; i++) expect(web[i].prev_event_id).toBe(web[i - 1].event_id);
    // Sequence order is the order the page recorded them in.
    expect(web.filter((e) => sent.includes(e.event_id)).map((e) => e.event_id)).toEqual(sent);

    // First touch: captured once on the landing page, carried by page views and the session's first event.
    const firstTouch = { utm: { source: 'newsletter', medium: 'email', campaign: 'fall' }, click_ids: { gclid: 'G-123' }, referrer: 'https://www.google.com/', landing_page: '/' };
    const views = web.filter((e) => e.event_name === 'page_view');
    for (const v of views) expect(v.context.first_touch).toMatchObject(firstTouch);
    expect(views.map((v) => v.payload.is_first_touch)).toEqual([true, false, false]);
    expect(views.map((v) => v.payload.page_type)).toEqual(['home', 'event', 'checkout']);
    expect(views.map((v) => v.context.page.path)).toEqual(['/', '/events/E1', '/checkout']);
    // Attribution of later pages falls back to the campaign the session started with.
    const cart = web.find((e) => e.event_name === 'add_to_cart')!;
    expect(cart.context.utm).toEqual(firstTouch.utm);
    expect(cart.context.click_ids).toEqual(firstTouch.click_ids);
    expect(cart.entities).toEqual({ cart_id: 'C1', event_entity_id: 'E1', organizer_id: 'O1' });
    expect(cart.payload).toEqual({ items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], cart_value: 100, currency: 'EUR' });
    const sel = web.find((e) => e.event_name === 'ticket_type_selected')!;
    expect(sel.payload.ticket_type_id).toBe('GA'); // both a payload field and an entity of this event

    // The server's session (built from the stored events) agrees, and counts the order.
    const session = await until(async () => {
      const r = await getJson(`${env.base}/api/v1/sessions/${ids.session_id}`, { authorization: `Bearer ${env.t.secret_key}` });
      return r.status === 200 && r.json.orders_count === 1 ? r.json : null;
    });
    expect(session).toMatchObject({ visitor_id: ids.visitor_id, page_views: 3, landing_page: '/', sequence: { min: 0, gaps: 0 } });
    expect(session.first_touch).toMatchObject({ utm: firstTouch.utm, click_ids: firstTouch.click_ids, referrer: firstTouch.referrer });
    await ctx.close();
  });

  it('what SDK 1.2 leaves to the server (entity split, device, page type, event_version) is stored as SDK 1.1 sent it', async () => {
    const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
    const ctx = await env.browser.newContext({ userAgent: IPHONE, viewport: { width: 390, height: 800 } });
    const config = { writeKey: env.t.write_key, endpoint: env.base, consent: { analytics: true }, entities: { organizer_id: 'O9' }, flushInterval: 3_600_000 };
    await ctx.addInitScript(`window.TX_CONFIG = Object.assign(${JSON.stringify(config)}, { pageType: (p) => (p.startsWith('/fest') ? 'festival' : undefined) })`);
    const page = await ctx.newPage();
    const wire: Record<string, any>[] = [];
    page.on('request', (r) => r.url().includes('/api/tx/events/batch') && wire.push(...JSON.parse(r.postData() ?? '{"events":[]}').events));
    await page.goto(`${env.site.origin}/fest/summer`);
    const ua = await page.evaluate(() => navigator.userAgent);
    const a = await tx<string>(page, `tx.pageView()`);
    const b = await tx<string>(page, `(history.pushState({}, '', '/events/E3'), tx.pageView())`);
    const c = await tx<string>(page, `tx.ticketTypeSelected({ event_entity_id: 'E3', organizer_id: 'O1', ticket_type_id: 'GA', qty: 2, price: 50, currency: 'EUR' })`);
    const d = await tx<string>(page, `tx.eventView({ event_entity_id: 'E3', price_from: 50, currency: 'EUR' })`);
    await page.waitForFunction('window.tx.tq.pending === 0');
    await tx(page, `tx.flush()`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    const stored = await until(async () => {
      const e = await byVisitor(visitor_id);
      return [a, b, c, d].every((id) => e.some((x) => x.event_id === id)) ? e : null;
    });
    const sent = (id: string) => wire.find((e) => e.event_id === id)!;
    const got = (id: string) => stored.find((e) => e.event_id === id)!;

    // On the wire: props as given, no device, a page type only from the site's override, no event_version.
    expect(sent(c).payload).toEqual({ event_entity_id: 'E3', organizer_id: 'O1', ticket_type_id: 'GA', qty: 2, price: 50, currency: 'EUR' });
    expect(sent(c).entities).toEqual({ organizer_id: 'O9' });
    for (const id of [a, b, c, d]) expect(sent(id).context.device).toBeUndefined();
    expect(sent(a).context.page.page_type).toBe('festival');
    expect(sent(b).context.page.page_type).toBeUndefined();
    expect(sent(b).payload).not.toHaveProperty('page_type');
    expect(sent(b)).not.toHaveProperty('event_version');

    // Stored as SDK 1.1 sent it: its device detection of navigator.userAgent, its page types, its entity split.
    expect(device(ua)).toEqual({ device_type: 'mobile', os: 'iOS', browser: 'Safari' });
    for (const e of stored) {
      expect(e.context.device, e.event_name).toEqual(device(ua));
      expect(e.event_version).toBe(1);
    }
    expect([got(a).context.page.page_type, got(a).payload.page_type]).toEqual(['festival', 'festival']);
    expect([got(b).context.page.page_type, got(b).payload.page_type]).toEqual(['event', 'event']);
    expect(got(b).context.page.page_type).toBe(pageType(got(b).context.page.path));
    expect(got(c).entities).toEqual({ organizer_id: 'O1', event_entity_id: 'E3', ticket_type_id: 'GA' }); // props override the option
    expect(got(c).payload).toEqual({ ticket_type_id: 'GA', qty: 2, price: 50, currency: 'EUR' }); // a payload field too
    expect(got(d).entities).toEqual({ organizer_id: 'O9', event_entity_id: 'E3' });
    expect(got(d).payload).toEqual({ price_from: 50, currency: 'EUR' });
    await ctx.close();
  });

  it('a page closed mid-session delivers its page_engagement (and anything queued) by beacon', async () => {
    // No timed flush: what arrives after the close can only have gone by navigator.sendBeacon.
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 3_600_000, batchSize: 100 });
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/events/E2`);
    await page.evaluate(() => {
      const w = window as any;
      const realFetch = w.fetch.bind(w);
      w.fetch = (url: string, init: unknown) => (String(url).includes('/events/batch') ? Promise.reject(new TypeError('fetch disabled by the test')) : realFetch(url, init));
    });
    const pv = await tx<string>(page, `tx.pageView()`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    await tx(page, `tx.eventView({ event_entity_id: 'E2', price_from: 20, currency: 'EUR' })`);
    await page.mouse.wheel(0, 900);
    await sleep(400);
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await sleep(700);
    expect(await queued(page)).toBe(2);
    await page.close({ runBeforeUnload: true });

    const evs = await until(async () => {
      const e = await byVisitor(visitor_id);
      return e.some((x) => x.event_name === 'page_engagement') ? e : null;
    });
    expect(evs.map((e) => e.event_name).sort()).toEqual(['event_view', 'page_engagement', 'page_view']);
    const eng = evs.find((e) => e.event_name === 'page_engagement')!;
    expect(eng.payload.page_view_id).toBe(pv);
    expect(eng.payload.total_ms).toBeGreaterThanOrEqual(1000);
    expect(eng.payload.active_ms).toBeGreaterThan(0);
    expect(eng.payload.active_ms).toBeLessThanOrEqual(eng.payload.total_ms);
    expect(eng.payload.scroll_max_pct).toBe(100);
    expect(eng.sequence_no).toBe(2);
    expect(eng.sent_at).toBeTruthy();
    await ctx.close();
  });

  it('offline then online: queued events are delivered exactly once; a closed tab’s queue goes with the next page', async () => {
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 200, retryBase: 200, retryMax: 800 });
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/events/E3`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    await ctx.setOffline(true);
    const ids = await tx<string[]>(page, `Array.from({ length: 25 }, (_, i) => tx.eventView({ event_entity_id: 'E3', price_from: i, currency: 'EUR' }))`);
    await sleep(1500); // several failed attempts with backoff
    expect(await queued(page)).toBe(25);
    expect(await byVisitor(visitor_id)).toHaveLength(0);

    await ctx.setOffline(false);
    await until(async () => (await queued(page)) === 0, 15_000);
    await sleep(800); // nothing more arrives later
    const stored = (await byVisitor(visitor_id)).filter((e) => e.event_name === 'event_view');
    expect(stored.map((e) => e.event_id).sort()).toEqual([...ids].sort());
    expect(stored.map((e) => e.sequence_no).sort((a, b) => a - b)).toEqual(ids.map((_, i) => i));

    // Offline again; the tab is closed with five events unsent and its beacon refused (Chromium hands unload
    // beacons and keepalive requests to the browser process, which setOffline does not cover). A refused
    // beacon (false) leaves its events queued; one the browser took (true) would have removed them.
    await ctx.setOffline(true);
    await page.evaluate(() => {
      // Requests made while the page unloads escape setOffline too: make any send from this page fail.
      navigator.sendBeacon = () => false;
      const w = window as any;
      w.fetch = () => Promise.reject(new TypeError('offline'));
    });
    const later = await tx<string[]>(page, `Array.from({ length: 5 }, (_, i) => tx.share({ event_entity_id: 'E3', method: 'copy_link', recipient_count: i }))`);
    const next = await ctx.newPage();
    const closed = new Promise((r) => page.once('close', r));
    await page.close({ runBeforeUnload: true }); // runs unload handlers; resolves before the page is gone
    await closed;
    await ctx.setOffline(false);
    await sleep(500);
    expect((await byVisitor(visitor_id)).filter((e) => e.event_name === 'share')).toHaveLength(0);

    await next.goto(`${env.site.origin}/events/E4`);
    await until(async () => (await byVisitor(visitor_id)).filter((e) => e.event_name === 'share').length === 5, 15_000);
    await until(async () => (await queued(next)) === 0, 15_000);
    const shares = (await byVisitor(visitor_id)).filter((e) => e.event_name === 'share');
    expect(shares.map((e) => e.event_id).sort()).toEqual([...later].sort());
    // The closed page's engagement came along too, exactly once.
    const all = await byVisitor(visitor_id);
    expect(new Set(all.map((e) => e.event_id)).size).toBe(all.length);
    await ctx.close();
  });

  it('while the server is failing, leaving the page keeps the queue for the next page instead of handing it to a beacon', async () => {
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 200, retryBase: 200, retryMax: 800 });
    // Counts the page's beacons across its navigations (sessionStorage lives as long as the tab).
    await ctx.addInitScript(`{ const b = navigator.sendBeacon.bind(navigator); navigator.sendBeacon = (u, d) => (sessionStorage.setItem('beacons', String(Number(sessionStorage.getItem('beacons') || 0) + 1)), b(u, d)); }`);
    let failing = true;
    await ctx.route(`${env.base}/api/tx/events/batch**`, (route) => (failing ? route.fulfill({ status: 503, body: '{}' }) : route.continue()));
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/events/E5`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    const ids = await tx<string[]>(page, `Array.from({ length: 10 }, (_, i) => tx.eventView({ event_entity_id: 'E5', price_from: i, currency: 'EUR' }))`);
    await sleep(1200); // failed attempts, backing off
    expect(await queued(page)).toBeGreaterThanOrEqual(10);
    await page.goto(`${env.site.origin}/events/E6`); // the first page is left while every delivery fails
    expect(await page.evaluate(`Number(sessionStorage.getItem('beacons') || 0)`)).toBe(0);
    failing = false;
    await until(async () => (await byVisitor(visitor_id)).filter((e) => e.event_name === 'event_view').length >= 10, 15_000);
    await until(async () => (await queued(page)) === 0, 15_000);
    const stored = (await byVisitor(visitor_id)).filter((e) => e.event_name === 'event_view');
    expect(stored.map((e) => e.event_id).filter((id) => ids.includes(id)).sort()).toEqual([...ids].sort());
    expect(new Set(stored.map((e) => e.event_id)).size).toBe(stored.length);
    await ctx.close();
  });

  it('a full localStorage never throws into the page: identifiers and the queue live in memory and events are delivered', async () => {
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 200 });
    // Fill the origin's storage before the SDK runs (it throws QuotaExceededError on the next write)…
    // Then free the last one-character item: the SDK's storage probe ('tx_t') still fits, its identifiers do not.
    await ctx.addInitScript(`{ let i = 0, last = ''; for (let size = 1 << 20; size >= 1; size >>= 2) { try { for (;;) { localStorage.setItem('fill' + i, 'x'.repeat(size)); last = 'fill' + i++; } } catch (e) {} } localStorage.removeItem(last); }`);
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${env.site.origin}/events/E7`);
    const ids = await tx<string[]>(page, `[tx.pageView(), tx.eventView({ event_entity_id: 'E7', price_from: 1, currency: 'EUR' }), tx.track('share', { event_entity_id: 'E7', method: 'copy_link' })]`);
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    await until(async () => (await byVisitor(visitor_id)).filter((e) => ids.includes(e.event_id)).length === 3, 15_000);
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('429 is retried after Retry-After; a 400 is dropped, not retried; per-event rejections are logged and not retried', async () => {
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 100, retryBase: 100, retryMax: 400, debug: true });
    const page = await ctx.newPage();
    const logs: string[] = [];
    page.on('console', (m) => logs.push(m.text()));
    const hits: { at: number; ids: string[]; status: number }[] = [];
    const plan: number[] = [];
    await page.route(`${env.base}/api/tx/events/batch**`, async (route) => {
      const ids = (JSON.parse(route.request().postData() ?? '{}').events ?? []).map((e: any) => e.event_id);
      const status = plan.shift() ?? 0;
      hits.push({ at: Date.now(), ids, status });
      if (!status) return route.continue();
      const headers = { 'access-control-allow-origin': env.site.origin, 'access-control-expose-headers': 'Retry-After', 'content-type': 'application/json' };
      if (status === 429) return route.fulfill({ status, headers: { ...headers, 'retry-after': '1' }, body: '{"error":{"code":"rate_limited","message":"slow down"}}' });
      return route.fulfill({ status, headers, body: '{"error":{"code":"invalid_body","message":"bad"}}' });
    });
    await page.goto(`${env.site.origin}/events/E5`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);

    plan.push(429);
    const a = await tx<string>(page, `tx.eventView({ event_entity_id: 'E5' })`);
    await until(async () => (await byVisitor(visitor_id)).some((e) => e.event_id === a), 10_000);
    const tries = hits.filter((h) => h.ids.includes(a));
    expect(tries.map((h) => h.status)).toEqual([429, 0]);
    // Retry-After: 1 s, not the 100–400 ms backoff (timestamps taken outside the page, hence the margin).
    expect(tries[1].at - tries[0].at).toBeGreaterThanOrEqual(850);

    plan.push(400);
    const b = await tx<string>(page, `tx.eventView({ event_entity_id: 'E5', source: 'dropped' })`);
    await until(async () => hits.some((h) => h.ids.includes(b)), 15_000);
    // Playwright reports console messages asynchronously: wait for them (and the queue) instead of reading once.
    await expect.poll(() => logs.some((l) => l.includes('[tx] dropped 400')), { timeout: 10_000 }).toBe(true); // the status and the ids
    await expect.poll(() => queued(page), { timeout: 10_000 }).toBe(0);
    await sleep(600); // past the longest backoff (400 ms): a retry would have come
    expect(hits.filter((h) => h.ids.includes(b))).toHaveLength(1);

    // Invalid for the registry (cart_value negative, currency lowercase): the server rejects it per event.
    const c = await tx<string>(page, `tx.track('add_to_cart', { cart_id: 'C5', event_entity_id: 'E5', items: [{ ticket_type_id: 'GA', qty: 1 }], cart_value: -5, currency: 'eur' })`);
    const d = await tx<string>(page, `tx.eventView({ event_entity_id: 'E5', source: 'kept' })`);
    await until(async () => (await byVisitor(visitor_id)).some((e) => e.event_id === d), 10_000);
    await expect.poll(() => logs.some((l) => l.includes('[tx] rejected add_to_cart')), { timeout: 10_000 }).toBe(true); // with debug: true
    await expect.poll(() => queued(page), { timeout: 10_000 }).toBe(0);
    await sleep(600);
    expect(hits.filter((h) => h.ids.includes(c))).toHaveLength(1);
    expect((await byVisitor(visitor_id)).some((e) => e.event_id === c)).toBe(false);
    await ctx.close();
  });

  it('a request the server never answers is abandoned after 60 s and its events are sent again, once stored', async () => {
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 100, retryBase: 100, retryMax: 400 });
    // The hung request's timeout runs 300× fast: the SDK's 60 s become 200 ms. Only the first request's (the one
    // never answered): the retries keep their 60 s, which a loaded machine needs to get them answered. What the
    // SDK asked for is kept.
    await ctx.addInitScript(`{ const t = AbortSignal.timeout.bind(AbortSignal); window.__timeouts = []; AbortSignal.timeout = (ms) => (window.__timeouts.push(ms), t(window.__timeouts.length === 1 ? ms / 300 : ms)); }`);
    let hangs = 1;
    const hits: string[][] = [];
    await ctx.route(`${env.base}/api/tx/events/batch**`, (route) => {
      hits.push((JSON.parse(route.request().postData() ?? '{}').events ?? []).map((e: any) => e.event_id));
      if (hangs-- > 0) return; // never answered
      return route.continue();
    });
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/events/E8`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    const id = await tx<string>(page, `tx.eventView({ event_entity_id: 'E8' })`);
    await until(async () => (await byVisitor(visitor_id)).some((e) => e.event_id === id), 15_000);
    expect(hits.filter((h) => h.includes(id)).length).toBeGreaterThanOrEqual(2);
    expect(await page.evaluate(`window.__timeouts[0]`)).toBe(60_000);
    await until(async () => (await queued(page)) === 0, 10_000);
    expect((await byVisitor(visitor_id)).filter((e) => e.event_id === id)).toHaveLength(1);
    await ctx.close();
  });

  it('consent: scopes from the server registry, marketing events need marketing consent, withdrawal removes identifiers', async () => {
    const ctx = await profile({ flushInterval: 100 });
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/?ref=aff`);
    await tx(page, `tx.setConsent({ analytics: true })`);
    // The registry was fetched and cached (scope per event name).
    const schema = await until(() => page.evaluate(() => JSON.parse(localStorage.getItem('tx_schema') || 'null')), 15_000);
    expect(schema.s).toMatchObject({ page_view: 'analytics', affiliate_attribution_captured: 'marketing', order_completed: 'necessary' });

    expect(await tx(page, `tx.affiliateAttributionCaptured({ affiliate_id: 'A7' })`)).toBeNull();
    expect(await queued(page)).toBe(0);
    await tx(page, `tx.setConsent({ marketing: true })`);
    const aff = await tx<string>(page, `tx.affiliateAttributionCaptured({ affiliate_id: 'A7', attribution_window_days: 30 })`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    const stored = await until(async () => (await byVisitor(visitor_id)).find((e) => e.event_id === aff), 10_000);
    expect(stored.consent_snapshot).toMatchObject({ analytics: true, marketing: true });
    expect(stored.consent_snapshot.captured_at).toBeTruthy();

    /** Records in the IndexedDB store of the SDK's sequence counters. */
    const counters = () =>
      page.evaluate(
        () =>
          new Promise<number>((ok) => {
            const r = (window as any).indexedDB.open('tx', 1);
            r.onsuccess = () => {
              const c = r.result.transaction('kv').objectStore('kv').count();
              c.onsuccess = () => ok(c.result);
            };
          }),
      );
    expect(await counters()).toBeGreaterThan(0);

    // Withdrawn: nothing more is collected and the visitor's identifiers leave the device.
    await tx(page, `tx.setConsent({ analytics: false, marketing: false })`);
    expect(await tx(page, `tx.pageView()`)).toBeNull();
    expect(await page.evaluate(() => ['tx_vid', 'tx_session', 'tx_first_touch', 'tx_queue'].map((k) => localStorage.getItem(k)))).toEqual([null, null, null, null]);
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => /^tx_[qn]\./.test(k)))).toEqual([]); // per-tab queues and counters
    // …and the sequence counters shared by the tabs (IndexedDB) are gone too.
    await until(async () => (await counters()) === 0, 15_000);
    expect(await page.evaluate(() => JSON.parse(localStorage.getItem('tx_consent')!))).toMatchObject({ analytics: false, marketing: false });
    // The choice holds on the next page.
    await page.goto(`${env.site.origin}/events/E6`);
    expect(await tx(page, `tx.getConsent().analytics`)).toBe(false);
    expect(await tx(page, `tx.eventView({ event_entity_id: 'E6' })`)).toBeNull();
    await ctx.close();
  });

  it('rolls the session after 30 minutes without events (clock injected), keeping visitor and first touch', async () => {
    const ctx = await env.browser.newContext({ userAgent: DESKTOP_UA });
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/?utm_source=spring`);
    const out = await page.evaluate(
      ({ key, endpoint }) => {
        const w = window as any;
        let clock = Date.now() - 3_600_000;
        const t = new w.TxTracker({ writeKey: key, endpoint, consent: { analytics: true }, now: () => clock, flushInterval: 100 });
        const ids = () => t.getIds();
        const a = [t.pageView(), t.eventView({ event_entity_id: 'E7' })];
        const s1 = ids();
        clock += 29 * 60_000; // still the same session
        a.push(t.eventView({ event_entity_id: 'E7' }));
        clock += 30 * 60_000; // 30 minutes without events: a new one
        a.push(t.eventView({ event_entity_id: 'E8' }));
        return { a, s1, s2: ids() };
      },
      { key: env.t.write_key, endpoint: env.base },
    );
    expect(out.s2.visitor_id).toBe(out.s1.visitor_id);
    expect(out.s2.session_id).not.toBe(out.s1.session_id);
    const evs = await until(async () => {
      const e = await byVisitor(out.s1.visitor_id);
      return e.length === 4 ? e : null;
    }, 10_000);
    const byId = (id: string) => evs.find((e) => e.event_id === id)!;
    expect(out.a.map((id: string) => [byId(id).session_id, byId(id).sequence_no])).toEqual([
      [out.s1.session_id, 0],
      [out.s1.session_id, 1],
      [out.s1.session_id, 2],
      [out.s2.session_id, 0],
    ]);
    const fresh = byId(out.a[3]);
    expect(fresh.prev_event_id ?? null).toBeNull();
    expect(fresh.context.first_touch).toMatchObject({ utm: { source: 'spring' }, landing_page: '/' });
    expect(byId(out.a[2]).context.first_touch).toBeUndefined(); // only page views and session starts carry it
    await ctx.close();
  });

  it('event card impressions: at least 50% visible, once per list position; clicks with the same placement', async () => {
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 100 });
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/`);
    await tx(page, `(tx.pageView(), tx.observeImpressions(document, { source: 'feed', clicks: true }), 1)`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    // Viewport 720 px: the heading (100 px) and cards 0 and 1 are fully visible, card 2 only 20 px of 300.
    const seen = async () => {
      const queuedNow = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tx_q.')).flatMap((k) => JSON.parse(localStorage.getItem(k) || '[]')).filter((e: any) => e.event_name === 'event_card_impression').map((e: any) => e.payload.position));
      const stored = (await byVisitor(visitor_id)).filter((e) => e.event_name === 'event_card_impression').map((e) => e.payload.position);
      return [...new Set([...queuedNow, ...stored])].sort();
    };
    await until(async () => (await seen()).length >= 2, 15_000);
    await sleep(300);
    expect(await seen()).toEqual([0, 1]);
    // Scroll down slowly through the list, then back up.
    for (let y = 0; y <= 2600; y += 150) {
      await page.evaluate((top) => window.scrollTo(0, top), y);
      await sleep(60);
    }
    for (let y = 2600; y >= 0; y -= 300) {
      await page.evaluate((top) => window.scrollTo(0, top), y);
      await sleep(40);
    }
    await page.click('[data-tx-event="E0"]');
    const evs = await until(async () => {
      const e = await byVisitor(visitor_id);
      return e.filter((x) => x.event_name === 'event_card_impression').length >= 8 && e.some((x) => x.event_name === 'event_card_click') ? e : null;
    }, 10_000);
    await sleep(500);
    const imps = (await byVisitor(visitor_id)).filter((e) => e.event_name === 'event_card_impression');
    expect(imps.map((e) => e.payload.position).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const e of imps) {
      expect(e.entities.event_entity_id).toBe(`E${e.payload.position}`);
      expect(e.payload).toMatchObject({ list_name: 'home', source: 'feed' });
    }
    const click = evs.find((e) => e.event_name === 'event_card_click')!;
    expect(click.entities.event_entity_id).toBe('E0');
    expect(click.payload).toMatchObject({ position: 0, list_name: 'home', source: 'feed' });
    await ctx.close();
  });
});
