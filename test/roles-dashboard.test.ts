// The dashboard signed in with venue_manager, promoter, ad_account and media tokens (Chromium against a real
// server): each opens the existing view its role may use, with its own data, and the header links only the pages
// the role may read; a media token is told in words where its public aggregates are (REST).
import crypto from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, pageErrors, screenshot } from './dashboard-helpers.js';
import { bootServer, createTenant, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';
import { funnelEvents, mintToken, sendEvents } from './live-helpers.js';
import { clearOfMidnight } from './midnight.js';

declare const document: any;

const ALLOWED_CONSOLE = /Failed to load resource/;
/** The setup hook's budget, and the whole run: the hook, then five tests of 60 s at most. */
const HOOK_MS = 240_000;
const RUN_MS = HOOK_MS + 5 * 60_000;
/** The events sent are up to a minute old (funnelEvents). */
const BACK_MS = 90_000;

describe('dashboard for venue_manager, promoter, ad_account and media tokens (Chromium)', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  let browser: Browser;
  const budgets: Record<string, number> = {};
  const scan = (event: string, inside: number, capacity: number) => ({
    event_id: crypto.randomUUID(), event_name: 'capacity_snapshot', occurred_at: new Date(Date.now() - 1000).toISOString(), source_system: 'scanner',
    consent_snapshot: { analytics: false, marketing: false, data_processing: true },
    entities: { event_entity_id: event, ticket_id: crypto.randomUUID() },
    payload: { gate_id: 'G1', current_inside: inside, total_entries: inside, total_denied: 0, capacity },
  });
  const open = async (token: string, hash = '') => {
    const p = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = pageErrors(p);
    await p.goto(`${server.url}/dashboard?token=${encodeURIComponent(token)}${hash}`);
    return { p, errors };
  };
  const navShown = async (p: Page) => {
    const out: string[] = [];
    for (const page of ['history', 'tracking', 'campaigns']) if (await p.isVisible(`#nav-${page}`)) out.push(page);
    return out;
  };

  beforeAll(async () => {
    // Live numbers are per UTC day: the events and every view of them must fall on one day.
    await clearOfMidnight(BACK_MS, RUN_MS);
    server = await bootServer();
    t = await createTenant(server.url, 'roles-dashboard');
    expect((await api(server.url, t, 'PUT', '/api/v1/catalog/venues', { items: [{ id: 'V1', name: 'Arena' }] })).status).toBe(200);
    expect((await api(server.url, t, 'PUT', '/api/v1/catalog/events', {
      items: [{ id: 'E1', organizer_id: 'O1', venue_id: 'V1', title: 'One' }, { id: 'E2', organizer_id: 'O2', venue_id: 'V1', title: 'Two' }],
    })).status).toBe(200);
    await sendEvents(server.url, t, [scan('E1', 12, 100)]);
    await sendEvents(server.url, t, funnelEvents({ event: 'E1', org: 'O1', visitors: 2, views: 2, selects: 1, carts: 1, checkouts: 1, attempts: 1, failures: 0, orders: 1, qty: 1, price: 40, currency: 'EUR' }));
    for (const org of ['O1', 'O2']) {
      const b = await api(server.url, t, 'POST', '/api/v1/campaigns/budgets', {
        organizer_id: org, total_budget: org === 'O1' ? 300 : 900, daily_budget_limit: 50, allocation_strategy: 'manual',
        platform_allocations: { meta: { percentage: 100 } }, ends_at: new Date(Date.now() + 7 * 86_400_000).toISOString(), payment_reference: `TRF-${org}`,
      });
      expect(b.status, b.text).toBe(201);
      budgets[org] = b.json.id;
    }
    browser = await launchChromium();
  }, BACK_MS + RUN_MS + HOOK_MS); // the longest wait for midnight, then the hook's own budget
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  }, 60_000);

  it('a venue_manager token opens its venue\'s figures, with the venue form and no organizer links', async () => {
    const { p, errors } = await open(await mintToken(server.url, t, { role: 'venue_manager', venue_ids: ['V1'] }));
    await p.waitForFunction(() => document.querySelector('#entity-view')?.dataset.state === 'ready', undefined, { timeout: 60_000 });
    expect(new URL(p.url()).hash).toBe('#venue/V1');
    expect(await p.textContent('#who')).toBe('Venue manager · V1');
    expect(await p.isVisible('#open-entity')).toBe(true);
    expect(await navShown(p)).toEqual([]);
    expect(errors.filter((e) => !ALLOWED_CONSOLE.test(e))).toEqual([]);
    await p.close();
  });

  it('a promoter token with an organizer opens that organizer\'s live view (revenue) and only the history link', async () => {
    const { p, errors } = await open(await mintToken(server.url, t, { role: 'promoter', org_ids: ['O1'] }));
    await p.waitForSelector('#organizer-view', { timeout: 60_000 });
    await p.waitForFunction(() => document.querySelector('#conn')?.dataset.state === 'open', undefined, { timeout: 60_000 });
    await p.waitForFunction(() => /40/.test(document.querySelector('#organizer-view')?.textContent ?? '') && /EUR|€/.test(document.querySelector('#organizer-view')?.textContent ?? ''), undefined, { timeout: 60_000 });
    expect(await p.textContent('#who')).toMatch(/^Promoter · /);
    expect(await navShown(p)).toEqual(['history']);
    await screenshot(p, 'roles-promoter.png');
    expect(errors.filter((e) => !ALLOWED_CONSOLE.test(e))).toEqual([]);
    await p.close();
  });

  it('a promoter token with events only opens their live capacity', async () => {
    const { p, errors } = await open(await mintToken(server.url, t, { role: 'promoter', event_ids: ['E1'] }));
    await p.waitForSelector('#gate-view', { timeout: 60_000 });
    await p.waitForFunction(() => /12/.test(document.querySelector('#gate-view')?.textContent ?? ''), undefined, { timeout: 60_000 });
    expect(await p.textContent('#who')).toBe('Promoter · E1');
    expect(await navShown(p)).toEqual([]);
    expect(errors.filter((e) => !ALLOWED_CONSOLE.test(e))).toEqual([]);
    await p.close();
  });

  it('an ad_account token opens the campaigns page of its organizers, one at a time, and nothing else', async () => {
    const { p, errors } = await open(await mintToken(server.url, t, { role: 'ad_account', org_ids: ['O1', 'O2'] }));
    await p.waitForFunction(() => /Spent/.test(document.querySelector('#cp-bar-text')?.textContent ?? ''), undefined, { timeout: 60_000 });
    expect(await p.$$eval('#cp-budget option', (os: any[]) => os.map((o) => Number(o.value)))).toEqual([budgets.O1]);
    expect(await p.textContent('#who')).toBe('Ad account · O1, O2');
    expect(await navShown(p)).toEqual([]);
    expect(await p.isVisible('#conn')).toBe(false);
    // No live view for this role: no link back to one.
    expect(await p.locator('#campaigns a[href="#"]').count()).toBe(0);
    await p.click('#org-links a[href="#org=O2"]');
    await p.waitForFunction((id: number) => [...document.querySelectorAll('#cp-budget option')].map((o: any) => Number(o.value)).join() === String(id), budgets.O2, { timeout: 60_000 });
    await screenshot(p, 'roles-ad-account.png');
    expect(await p.isVisible('#error')).toBe(false);
    expect(errors.filter((e) => !ALLOWED_CONSOLE.test(e))).toEqual([]);
    await p.close();
  });

  it('a media token is told where its public aggregates are, with no links and no live view', async () => {
    const { p, errors } = await open(await mintToken(server.url, t, { role: 'media' }));
    await p.waitForSelector('#role-notice', { timeout: 60_000 });
    expect(await p.textContent('#role-notice')).toMatch(/public aggregates only/);
    expect(await navShown(p)).toEqual([]);
    expect(await p.isVisible('#open-entity')).toBe(false);
    expect(await p.locator('#organizer-view, #gate-view, #campaigns, #entity-view').count()).toBe(0);
    expect(errors.filter((e) => !ALLOWED_CONSOLE.test(e))).toEqual([]);
    await p.close();
  });
});
