// The dashboard's 7/30-day history view (#history, client/dashboard/trends.ts) in Chromium: an organizer token
// reads its events' daily figures from the feature store; the numbers shown equal what the API answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { bootServer, createTenant, orderEvent, request, webEvent, type Tenant } from './helpers.js';
import { mintToken, sendEvents } from './live-helpers.js';
import { launchChromium, pageErrors, screenshot } from './dashboard-helpers.js';

const DAY = 86_400_000;
const yesterday = (h: number, m: number) => new Date(Math.floor(Date.now() / DAY) * DAY - DAY + h * 3_600_000 + m * 60_000).toISOString();

describe('dashboard history view', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let browser: Browser;
  let t: Tenant;

  beforeAll(async () => {
    server = await bootServer({ DEMO_TENANT: '0' });
    t = await createTenant(server.url, 'hist');
    const sk = { authorization: `Bearer ${t.secret_key}` };
    expect((await request('PUT', `${server.url}/api/v1/catalog/events`, { items: [{ id: 'E1', organizer_id: 'O1', title: 'One' }, { id: 'E2', organizer_id: 'O1', title: 'Two' }] }, sk)).status).toBe(200);
    await sendEvents(server.url, t, [
      ...[0, 1, 2].map((i) => webEvent({ visitor_id: `v${i}`, occurred_at: yesterday(10, i), entities: { event_entity_id: 'E1' } })),
      webEvent({ visitor_id: 'v9', occurred_at: yesterday(11, 0), entities: { event_entity_id: 'E2' } }),
      orderEvent({ occurred_at: yesterday(10, 30), entities: { event_entity_id: 'E1', order_id: 'o-1' }, payload: { gross_amount: 80, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2 }] } }),
    ]);
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('shows 7 days (then 30) of the organizer\'s views, orders and revenue from the aggregates', async () => {
    const token = await mintToken(server.url, t, { role: 'organizer', org_id: 'O1' });
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors = pageErrors(page);
    await page.goto(`${server.url}/dashboard?token=${token}#history`);
    await page.waitForSelector('.trends-table tbody tr', { timeout: 60_000 });
    expect(await page.locator('.trends-table tbody tr').count()).toBe(7);
    const day = yesterday(0, 0).slice(0, 10);
    const row = page.locator('.trends-table tbody tr', { hasText: day });
    const cells = await row.locator('td').allTextContents();
    expect(cells.slice(0, 5)).toEqual([day, '4', '0', '0', '1']);
    expect(cells[6]).toContain('80');
    await page.click('[data-days="30"]');
    // A function, not a string: the page's CSP refuses eval.
    await page.waitForFunction(() => (globalThis as unknown as { document: { querySelectorAll(q: string): { length: number } } }).document.querySelectorAll('.trends-table tbody tr').length === 30, undefined, { timeout: 30_000 });
    await screenshot(page, 'features-history.png');
    expect(errors).toEqual([]);
    await page.close();
  });
});
