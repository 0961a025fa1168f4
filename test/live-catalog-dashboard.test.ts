// The dashboard shows the catalog's names (issue 11: "the demo syncs its catalog first, so the dashboard shows
// names"), in Chromium against a real server: the demo catalog is synced, then the demo's traffic runs; the
// organizer view names the organizer, the event tabs and the ticker (with ticket categories), and an event
// of the catalog opens before any traffic (its heading and its tab named); the gate view names the event and
// its gates.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_EVENTS, DEMO_ORG, DEMO_ORG_NAME } from '../scripts/demo/catalog.js';
import { syncDemoCatalog } from '../scripts/demo/sync.js';
import { dashboardUrls, mintDemoTokens, startDemo } from '../scripts/demo/traffic.js';
import { launchChromium, pageErrors, screenshot } from './dashboard-helpers.js';
import { bootServer, tmpDir } from './helpers.js';

type Server = Awaited<ReturnType<typeof bootServer>>;

describe('dashboard names from the catalog (Chromium)', () => {
  let server: Server;
  let browser: Browser;

  beforeAll(async () => {
    server = await bootServer({ DATA_DIR: tmpDir() });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('organizer and gate views show event titles, the organizer name, ticket categories and gate names', { timeout: 180_000 }, async () => {
    const t = server.demo!;
    await syncDemoCatalog(server.url, t.secret_key, DEMO_ORG);
    const ids = DEMO_EVENTS.map((e) => e.id);
    const urls = dashboardUrls(server.url, await mintDemoTokens(server.url, t.secret_key, DEMO_ORG, ids, 3600));

    // Before any traffic: the organizer opens its catalog event by deep link.
    const early = await browser.newPage();
    const earlyErrors = pageErrors(early);
    await early.goto(`${urls.organizer}#event=evt-jazz-night`);
    await early.waitForSelector('#organizer-view[data-selected="evt-jazz-night"][data-ready]');
    await early.waitForFunction("document.querySelector('#organizer-view h1')?.textContent === 'Jazz Night at the Ateneu'");
    // Its tab is named like the heading, not by its id: the title came with the event's own topic only.
    expect(await early.$eval('[data-tab="evt-jazz-night"]', (e: any) => e.textContent)).toBe('Jazz Night at the Ateneu');
    // Its chart takes the hour of history the server answered (all zeros) though the roll-up has no row for it:
    // drawn as known minutes, not "no data" under "Waiting for data…".
    await early.waitForFunction(() => (globalThis as any).document.getElementById('chart')?.dataset.history === 'seeded', undefined, { timeout: 30_000 });
    expect(await early.$eval('#chart', (e: any) => e.textContent)).not.toMatch(/no data/);
    expect(await early.$eval('#chart + .note', (e: any) => e.textContent)).toMatch(/^Per minute from the server's history/);
    expect(earlyErrors).toEqual([]);
    await early.close();

    // At least 4 s of traffic, and on until an order was sent (on a loaded machine the first buyers take longer):
    // the ticker lists orders.
    const demo = startDemo({ url: server.url, writeKey: t.write_key, secretKey: t.secret_key, seed: 11, visitorsPerSecond: 6, speed: 4 });
    const t0 = Date.now();
    while (Date.now() - t0 < 4000 || (demo.stats.orders === 0 && Date.now() - t0 < 60_000)) await new Promise((r) => setTimeout(r, 100));
    expect((await demo.stop()).orders).toBeGreaterThan(0);
    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    const errors = pageErrors(page);
    await page.goto(urls.organizer);
    await page.waitForSelector('#organizer-view[data-ready]');
    await page.waitForSelector('#ticker [data-ticker-row]');
    await page.waitForFunction(`document.getElementById('who')?.textContent?.includes(${JSON.stringify(DEMO_ORG_NAME)})`);
    const tabs = await page.$$eval('[data-tab]', (els: any[]) => els.map((e) => e.textContent));
    expect(tabs).toEqual(expect.arrayContaining(['All events', 'Summer Fest 2026', 'Jazz Night at the Ateneu']));
    const ticker: { id: string; text: string }[] = await page.$$eval('#ticker [data-ticker-row] .ev', (els: any[]) => els.map((e) => ({ id: e.dataset.eventId, text: e.textContent })));
    const titles = new Map(DEMO_EVENTS.map((e) => [e.id, e.name]));
    for (const row of ticker) expect(row.text, JSON.stringify(row)).toMatch(new RegExp(`^${titles.get(row.id)} · (EarlyBird|GA|Pass|VIP|Student)`));
    await screenshot(page, 'catalog-organizer.png');

    const gate = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    const gateErrors = pageErrors(gate);
    await gate.goto(urls.gate);
    await gate.waitForSelector('#gate-view [data-gate="north"]');
    await gate.waitForFunction(`document.querySelector('#gate-view [data-gate="north"] h3')?.textContent === 'North Gate'`);
    // Each event's panel takes its title when that event's capacity snapshot arrives, one after the other.
    await expect.poll(() => gate.$$eval('#gate-view section h2', (els: any[]) => els.map((e) => e.textContent)), { timeout: 30_000 }).toEqual(['Summer Fest 2026', 'Jazz Night at the Ateneu']);
    await screenshot(gate, 'catalog-gates.png');
    expect(errors).toEqual([]);
    expect(gateErrors).toEqual([]);
  });
});
