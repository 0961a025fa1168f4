// A live notice on the organizer's dashboard topic (README "Websocket /ws" → Notices) shown by the dashboard in
// Chromium: a campaign budget running low appears above the organizer's view, in words, and only on the page of
// the organizer it concerns. (test/campaigns-api.test.ts proves the rebalance sends it over /ws.)
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, pageErrors, screenshot } from './dashboard-helpers.js';
import { bootServer, createTenant, type Tenant } from './helpers.js';
import { mintToken } from './live-helpers.js';

declare const document: any;

describe('dashboard notices (Chromium)', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  let browser: Browser;
  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'notices');
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('shows a campaign budget running low on its organizer\'s page, not on another organizer\'s', async () => {
    const open = async (org: string) => {
      const p = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors = pageErrors(p);
      await p.goto(`${server.url}/dashboard?token=${encodeURIComponent(await mintToken(server.url, t, { role: 'organizer', org_id: org }))}`);
      await p.waitForSelector('#organizer-view', { timeout: 30_000 });
      return { p, errors };
    };
    const o1 = await open('O1');
    const o2 = await open('O2');
    // Both pages hold their dashboard subscription before the notice goes out (a notice is not kept).
    await expect.poll(() => server.live.stats().subscribers, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    const n = { kind: 'campaign_budget_low', budget_id: 7, organizer_id: 'O1', remaining: 50, remaining_pct: 10, currency: 'EUR' };
    await server.live.notice(t.tenant_id, { kind: 'dashboard', org: 'O1' }, 'view_ad_analytics', n);
    await o1.p.waitForSelector('#notices li', { timeout: 30_000 });
    const shown = await o1.p.evaluate(() => [...document.querySelectorAll('#notices li')].map((li: any) => li.textContent));
    expect(shown).toHaveLength(1);
    expect(shown[0]).toMatch(/^Campaign budget 7: .*50\.00.* left \(10\.0\s?%\)/);
    await screenshot(o1.p, 'dashboard-notice.png');
    // The other organizer's page never shows it (it went out with O1's, so it would be there by now).
    expect(await o2.p.evaluate(() => document.querySelectorAll('#notices li').length)).toBe(0);
    expect(await o2.p.evaluate(() => document.getElementById('notices').hidden)).toBe(true);
    expect([...o1.errors, ...o2.errors]).toEqual([]);
    await o1.p.close();
    await o2.p.close();
  });
});
