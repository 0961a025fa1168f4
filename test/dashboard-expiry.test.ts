// A token's end on the dashboard's pages read over REST only (the approval queue, the venue and artist pages, the ad
// account's campaigns page): they have no socket for the server to close, so the page's own clock ends them. At
// expiry they go back to the sign-in form saying the token expired, as the live pages do when the server closes
// their socket, and nothing of the page (Approve, say) is left to click. Chromium's clock is fast-forwarded.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPIRED_MESSAGE, expiringMessage, tokenClock } from '../client/dashboard/expiry.js';
import { launchChromium, pageErrors, screenshot } from './dashboard-helpers.js';
import { bootServer, createTenant, type Tenant } from './helpers.js';
import { mintToken } from './live-helpers.js';

declare const document: any;

describe('tokenClock', () => {
  const now = 1_800_000_000_000;
  it('warns in whole minutes (rounded up) within 10 minutes of the expiry, and says expired from the second it passes', () => {
    expect(tokenClock(now / 1000 + 3600, now)).toEqual({ state: 'valid' });
    expect(tokenClock(now / 1000 + 599, now)).toEqual({ state: 'expiring', minutes: 10 });
    expect(tokenClock(now / 1000 + 1, now)).toEqual({ state: 'expiring', minutes: 1 });
    expect(tokenClock(now / 1000, now)).toEqual({ state: 'expired' });
    expect(tokenClock(now / 1000 - 30, now)).toEqual({ state: 'expired' });
    expect(tokenClock(Infinity, now)).toEqual({ state: 'valid' }); // a secret key
    expect(expiringMessage(1)).toBe('This token expires in 1 min. Ask for a new one to keep watching.');
  });
});

describe('pages without a live connection when their token expires (Chromium)', { timeout: 300_000 }, () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  let browser: Browser;

  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'dashboard-expiry');
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const cases = [
    { name: 'approval queue (admin token)', body: { role: 'admin' }, hash: '#approvals', view: '#approvals', ready: '#ap-work:not([hidden]) #ap-approve' },
    { name: 'venue page', body: { role: 'venue', venue_ids: ['V1'] }, hash: '', view: '.entity-view', ready: '.entity-view' },
    { name: 'ad account campaigns page', body: { role: 'ad_account', org_ids: ['O1'] }, hash: '', view: '#campaigns', ready: '#campaigns' },
  ];

  for (const c of cases) {
    it(`${c.name}: warns a minute before, then goes back to sign-in saying the token expired`, async () => {
      const token = await mintToken(server.url, t, { ...c.body, ttl_s: 120 });
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const p = await ctx.newPage();
      const errors = pageErrors(p);
      await p.clock.install();
      await p.goto(`${server.url}/dashboard?token=${encodeURIComponent(token)}${c.hash}`);
      await p.waitForSelector(c.ready, { timeout: 120_000 });

      await p.clock.fastForward(70_000); // under a minute left
      await expect.poll(() => p.textContent('#error')).toBe(expiringMessage(1));
      expect(await p.isVisible('#signin')).toBe(false);
      if (c.view === '#approvals') expect(await p.isEnabled('#ap-approve')).toBe(true);

      await p.clock.fastForward(55_000); // past the expiry
      await p.waitForSelector('#signin:not([hidden])', { timeout: 10_000 });
      expect(await p.textContent('#error')).toBe(EXPIRED_MESSAGE);
      expect(await p.isVisible('#app')).toBe(false);
      expect(await p.locator(c.view).count()).toBe(0); // nothing of the page left (no Approve)
      expect(await p.isVisible('#signout')).toBe(false);
      expect(await p.evaluate(() => document.getElementById('who').textContent)).toBe('');
      await screenshot(p, `dashboard-expired-${c.view.replace(/\W/g, '')}.png`);
      // The dead token is forgotten: a reload asks for a new one without trying it again.
      await p.reload();
      await p.waitForSelector('#signin:not([hidden])');
      expect(await p.isVisible('#error')).toBe(false);
      expect(errors).toEqual([]);
      await ctx.close();
    });
  }
});
