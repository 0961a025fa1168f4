// The browser SDK in Chromium against the real server: ways a visitor's events used to be lost without a
// trace, each reproduced as the visitor met it.
// - non-ASCII text: bodies were measured in UTF-16 code units, Chromium's 64 KiB limit on keepalive
//   requests and beacons is in bytes (a refused keepalive request was retried as it was, forever);
// - truncation at a fixed length split an emoji, leaving a lone surrogate the server rejects;
// - a keepalive request in flight when the page was left counted as delivered, whatever its answer;
// - observeImpressions never counted cards visible before consent, nor again on a later page view;
// - props JSON cannot hold (circular, BigInt) got an event id but were never sent, and took the queue's
//   other events with them.
// Also: the client README's size figures are the build's.
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { until } from './helpers.js';
import { sleep, txEval } from './client-helpers.js';
import { queuedIn, sdkSuite } from './sdk-suite-helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

declare const window: any, document: any, localStorage: any;

const env = sdkSuite({ tenant: 'acme' });
const profile = env.profile;

const tx = txEval;
const queued = (page: Page) => queuedIn(page, 'tx_q');
const byVisitor = env.byVisitor;
const numbered = (page: Page) =>
  until(() => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tx_q.')).flatMap((k) => JSON.parse(localStorage.getItem(k)!)).every((e: any) => e.sequence_no !== undefined)), 15_000);
/** Waits until the visitor has `n` events named `name` stored (then a little longer: nothing more comes). */
const stored = (vid: string, name: string, n: number, ms = 20_000) => env.stored(vid, name, n, ms, 300);

// 2,000 Cyrillic letters: 2,000 UTF-16 code units, 4,000 bytes of UTF-8. Twenty such events make a body
// under 60,000 code units but about 90,000 bytes.
const HEAVY = `Array.from({ length: 20 }, (_, i) => tx.eventView({ event_entity_id: 'H' + i, organizer_id: 'O1', note: 'ж'.repeat(2000) }))`;

describe('browser SDK: events that used to be lost', () => {
  it('non-ASCII text: a batch over 64 KiB of UTF-8 goes without keepalive and arrives, the events after it too', async () => {
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 200, retryBase: 200, retryMax: 800 });
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/events/H`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    const heavy = await tx<string[]>(page, HEAVY);
    const ascii = await tx<string[]>(page, `Array.from({ length: 5 }, (_, i) => tx.eventView({ event_entity_id: 'A' + i, organizer_id: 'O1', note: 'ascii' }))`);
    const evs = await stored(visitor_id, 'event_view', 25);
    expect(evs.map((e) => e.event_id).sort()).toEqual([...heavy, ...ascii].sort());
    expect(evs.find((e) => e.event_id === heavy[0])!.payload.note).toBe('ж'.repeat(2000));
    await until(async () => (await queued(page)) === 0, 10_000);
    await ctx.close();
  });

  it('a keepalive request the browser refuses (network error) is retried without keepalive, not forever as it was', async () => {
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 200, retryBase: 200, retryMax: 800 });
    // What Chromium does with a keepalive request over its in-flight quota: a network error before it leaves.
    await ctx.addInitScript(`{ const f = window.fetch.bind(window); window.__keepalive = 0; window.fetch = (u, init) => (init && init.keepalive ? (window.__keepalive++, Promise.reject(new TypeError('Failed to fetch'))) : f(u, init)); }`);
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/events/K`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    const ids = await tx<string[]>(page, `Array.from({ length: 3 }, (_, i) => tx.eventView({ event_entity_id: 'K' + i, organizer_id: 'O1' }))`);
    await tx(page, `tx.flush()`);
    const evs = await stored(visitor_id, 'event_view', 3, 10_000);
    expect(evs.map((e) => e.event_id).sort()).toEqual([...ids].sort());
    expect(await page.evaluate(() => window.__keepalive)).toBeGreaterThanOrEqual(1);
    await ctx.close();
  });

  it('non-ASCII text at page leave: the beacon is cut at 60,000 bytes (not code units), so the browser takes it; the rest goes with the next page', async () => {
    // No timed flush on the first page: only a beacon can carry its events while it unloads.
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 3_600_000, batchSize: 100 });
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/events/B`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    const heavy = await tx<string[]>(page, HEAVY);
    await numbered(page);
    await page.goto('about:blank'); // another site: nothing of the SDK runs after the beacon
    const byBeacon = await until(async () => {
      const e = await byVisitor(visitor_id, 'event_view');
      return e.length ? e : null;
    }, 10_000).catch(() => []);
    // Chromium allows 64 KiB of keepalive bodies in flight per page: one beacon of up to 60,000 bytes.
    expect(byBeacon.length).toBeGreaterThanOrEqual(10);
    await ctx.addInitScript(`window.TX_CONFIG = Object.assign({}, window.TX_CONFIG, { flushInterval: 200 })`);
    await page.goto(`${env.site.origin}/events/B2`);
    const evs = await stored(visitor_id, 'event_view', 20);
    expect(evs.map((e) => e.event_id).sort()).toEqual([...heavy].sort());
    await ctx.close();
  });

  it('truncated UTM values and page titles end on a whole character: the events are accepted, the first touch too', async () => {
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 200, sessionTimeout: 1500 });
    const page = await ctx.newPage();
    const source = 'b'.repeat(255) + '😀'; // cut at 256 code units: the emoji's first half was left
    await page.goto(`${env.site.origin}/events/U1?utm_source=${encodeURIComponent(source)}&gclid=${encodeURIComponent('g'.repeat(255) + '😀')}`);
    await page.evaluate(() => (document.title = 'a'.repeat(511) + '😀')); // cut at 512
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    const a = await tx<string>(page, `tx.eventView({ event_entity_id: 'U1', organizer_id: 'O1' })`);
    const [first] = await stored(visitor_id, 'event_view', 1, 10_000);
    expect(first?.event_id).toBe(a);
    expect(first.context.utm.source).toBe('b'.repeat(255));
    expect(first.context.click_ids.gclid).toBe('g'.repeat(255));
    expect(first.context.page.title).toBe('a'.repeat(511));
    // The next session's first event carries the visitor's first touch, from another page.
    await page.goto(`${env.site.origin}/events/U2`);
    await sleep(1700);
    const b = await tx<string>(page, `tx.eventView({ event_entity_id: 'U2', organizer_id: 'O1' })`);
    const evs = await stored(visitor_id, 'event_view', 2, 10_000);
    const second = evs.find((e) => e.event_id === b);
    expect(second?.context.first_touch.utm.source).toBe('b'.repeat(255));
    expect(second?.context.page.title).toBe('Page /events/U2');
    await ctx.close();
  });

  it('a first touch and session stored by an older SDK with a lone surrogate are repaired, not rejected for the visitor\'s lifetime', async () => {
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 200 });
    // What SDK 1.2.0 stored for a landing on ?utm_source=<255 × b>😀 (its cut kept the emoji's high surrogate).
    await ctx.addInitScript(`if (!localStorage.getItem('tx_first_touch')) {
      const touch = { utm: { source: 'b'.repeat(255) + '\\ud83d', medium: 'x\\\\ud83d' }, landing_page: '/', captured_at: new Date().toISOString() };
      localStorage.setItem('tx_first_touch', JSON.stringify(touch));
      localStorage.setItem('tx_vid', crypto.randomUUID());
      localStorage.setItem('tx_session', JSON.stringify({ id: crypto.randomUUID(), start: Date.now(), last: Date.now(), seq: 0, touch }));
    }`);
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/events/R1`);
    expect(await page.evaluate(() => localStorage.getItem('tx_first_touch'))).toContain('\\ud83d"');
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    const id = await tx<string>(page, `tx.pageView()`);
    const [pv] = await stored(visitor_id, 'page_view', 1, 10_000);
    expect(pv?.event_id).toBe(id);
    expect(pv.context.first_touch.utm).toEqual({ source: 'b'.repeat(255), medium: 'x\\ud83d' }); // a backslash typed in the URL stays
    expect(pv.context.utm.source).toBe('b'.repeat(255));
    await ctx.close();
  });

  it('a keepalive batch in flight when the page is left stays queued until answered: its 503 is retried by the next page', async () => {
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 500, retryBase: 200, retryMax: 800 });
    let hits = 0;
    await ctx.route(`${env.base}/api/tx/events/batch**`, async (route) => {
      if (++hits > 1) return route.continue();
      await sleep(1500);
      return route.fulfill({ status: 503, body: '{}', headers: { 'access-control-allow-origin': env.site.origin } });
    });
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/events/F1`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    const ids = await tx<string[]>(page, `Array.from({ length: 20 }, (_, i) => tx.eventView({ event_entity_id: 'F' + i, organizer_id: 'O1' }))`);
    await until(async () => hits >= 1, 10_000); // the batch is in flight (a keepalive request)
    await sleep(200);
    await page.goto(`${env.site.origin}/events/F2`);
    const evs = await stored(visitor_id, 'event_view', 20);
    expect(evs.map((e) => e.event_id).sort()).toEqual([...ids].sort());
    await ctx.close();
  });

  it('observeImpressions counts the cards visible before consent once consent and the page view come, and again on a later page view', async () => {
    const ctx = await profile({ flushInterval: 200 });
    const page = await ctx.newPage();
    await page.goto(`${env.site.origin}/`);
    // Viewport 720 px: the heading (100 px) and cards 0 and 1 are fully visible, card 2 only 20 px of 300.
    await tx(page, `(tx.observeImpressions(document, { source: 'feed' }), 1)`);
    await sleep(500); // the observer has seen cards 0 and 1 (nothing may be recorded yet)
    expect(await tx(page, `tx.getIds()`)).toBeNull();
    await tx(page, `(tx.setConsent({ analytics: true }), tx.pageView())`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    const positions = async (n: number) => (await stored(visitor_id, 'event_card_impression', n, 10_000)).map((e) => e.payload.position).sort();
    expect(await positions(2)).toEqual([0, 1]);
    // A page view of a single-page app: the cards still on screen count again, once.
    await tx(page, `tx.pageView()`);
    expect(await positions(4)).toEqual([0, 0, 1, 1]);
    // Scrolled away (cards 5 and 6 in view) and back within that page view: 5 and 6 once, 0 and 1 not again.
    await page.evaluate(() => window.scrollTo(0, 1500));
    await sleep(400);
    await page.evaluate(() => window.scrollTo(0, 0));
    await sleep(400);
    expect(await positions(6)).toEqual([0, 0, 1, 1, 5, 6]);
    await sleep(500);
    expect(await positions(6)).toEqual([0, 0, 1, 1, 5, 6]);
    await ctx.close();
  });

  it('props JSON cannot hold (circular, BigInt): track() returns null with a warning, numbers no event, drops no other event', async () => {
    const ctx = await profile({ consent: { analytics: true }, flushInterval: 200 });
    const page = await ctx.newPage();
    const warnings: string[] = [];
    page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
    await page.goto(`${env.site.origin}/events/J1`);
    const { visitor_id } = await tx<{ visitor_id: string }>(page, `tx.getIds()`);
    const ids = await tx<(string | null)[]>(
      page,
      `(() => { const circ = { a: 1 }; circ.self = circ; return [
        tx.pageView(),
        tx.eventView({ event_entity_id: 'J1', organizer_id: 'O1' }),
        tx.eventView({ event_entity_id: 'J2', organizer_id: 'O1', extra: circ }),
        tx.eventView({ event_entity_id: 'J3', organizer_id: 'O1' }),
        tx.eventView({ event_entity_id: 'J4', organizer_id: 'O1', price_from: 10n }),
        tx.eventView({ event_entity_id: 'J5', organizer_id: 'O1' }),
      ]; })()`,
    );
    expect(ids.map((id) => (id ? 'id' : null))).toEqual(['id', 'id', null, 'id', null, 'id']);
    await expect.poll(() => warnings.filter((w) => w.startsWith('[tx] dropped event_view')).length, { timeout: 5_000 }).toBe(2);
    expect(warnings.join('\n')).toMatch(/circular/i);
    expect(warnings.join('\n')).toMatch(/BigInt/);
    await stored(visitor_id, 'event_view', 3, 10_000);
    const all = await byVisitor(visitor_id);
    expect(all.map((e) => e.event_id).sort()).toEqual(ids.filter(Boolean).sort());
    expect(all.map((e) => e.sequence_no).sort()).toEqual([0, 1, 2, 3]);
    await ctx.close();
  });

  it('the client README quotes the sizes the build measures (tx-sdk.js, tx-pixels.js and .mjs)', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'client/README.md'), 'utf8');
    const gzip = (name: string) => env.build.files.find((f) => path.basename(f.file) === name)!.gzip;
    expect(readme).toContain(`${gzip('tx-sdk.js')} B min+gzip`);
    const n = (x: number) => x.toLocaleString('en-US');
    expect(readme).toContain(`${n(gzip('tx-pixels.js'))} / ${n(gzip('tx-pixels.mjs'))} B`);
    expect(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')).toContain(`is ${gzip('tx-sdk.js')} B min+gzip`);
  });
});
