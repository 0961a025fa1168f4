// The organizer's tracking-codes page (/dashboard#tracking, issue 15 item 5) in Chromium: list with filters by
// provider and event, the form's per-provider help and validation as one types, create, enable/disable and
// delete through the API with the organizer's dashboard token; screenshots in test-output/.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idProblem, PROVIDERS } from '../client/dashboard/tracking-rules.js';
import { checkProviderId } from '../server/tracking/validate.js';
import { launchChromium, pageErrors, screenshot } from './dashboard-helpers.js';
import { bootServer, createTenant, request, type Tenant } from './helpers.js';
import { holdWithRows } from './tracking-delivery-helpers.js';

declare const document: any;

describe('the form\'s id rules are the server\'s', () => {
  it('accepts and refuses the same ids', () => {
    const samples = ['123456789012345', '1234567890123456', '12345678901234', 'G-AB12CD34', 'G-ab12cd34', 'GTM-AB12CD3', 'GTM-AB', 'AW-123456789', 'AW-12',
      'CABCDEFGHIJ123456789', 'DABCDEFGHIJ12345678', "G-AB12'x", '', 'UA-1-1'];
    for (const p of PROVIDERS) for (const id of samples) expect(idProblem(p, id) === null, `${p} ${id}`).toBe(checkProviderId(p, id).ok);
  });
});

describe('tracking codes page in Chromium', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let browser: Browser;
  let t: Tenant;
  let token: string;
  const api = (method: string, p: string, body?: unknown) => request(method, `${server.url}${p}`, body, { authorization: `Bearer ${t.secret_key}` });

  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'tracking-dash');
    expect((await api('PUT', '/api/v1/catalog/events', { items: [{ id: 'E1', organizer_id: 'O1', title: 'Rock night' }, { id: 'E9', organizer_id: 'O2' }] })).status).toBe(200);
    const minted = await api('POST', '/api/v1/tokens', { role: 'organizer', org_id: 'O1' });
    expect(minted.status, minted.text).toBe(201);
    token = minted.json.token;
    // Another organizer's code and the marketplace's: never on O1's page.
    expect((await api('POST', '/api/v1/tracking-codes', { provider: 'meta', organizer_id: 'O2', settings: { pixel_id: '222222222222222' } })).status).toBe(201);
    expect((await api('POST', '/api/v1/tracking-codes', { provider: 'meta', settings: { pixel_id: '999999999999999' } })).status).toBe(201);
    browser = await launchChromium();
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  }, 120_000);

  const rows = (p: Page) => p.$$eval('#tc-rows tr', (trs: any[]) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).slice(0, 6).map((td: any) => td.textContent)));

  it('lists, validates as one types, creates, filters, disables and deletes the organizer\'s codes', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const p = await ctx.newPage();
    const errors = pageErrors(p);
    await p.goto(`${server.url}/dashboard?token=${encodeURIComponent(token)}#tracking`);
    await p.waitForSelector('#tracking');
    await p.waitForSelector('#tc-empty:not([hidden])');
    expect(await rows(p)).toEqual([]);
    expect(await p.textContent('#tc-help')).toMatch(/Events Manager/);

    // Live validation per provider, with where-to-find help.
    await p.selectOption('#tc-provider', 'ga4');
    expect(await p.textContent('#tc-help')).toMatch(/Measurement ID starts with G-/);
    await p.fill('#tc-id', 'g-ab12cd34');
    expect(await p.textContent('#tc-id-msg')).toBe('Measurement ID must be in capital letters: G-AB12CD34.');
    await p.fill('#tc-id', 'G-AB12"><b>');
    expect(await p.textContent('#tc-id-msg')).toMatch(/looks like G-AB12CD34EF/);
    await screenshot(p, 'tracking-dashboard-validation.png');
    // Refused in the page: nothing is sent.
    await p.click('#tc-save');
    expect(await rows(p)).toEqual([]);
    await p.fill('#tc-id', 'G-AB12CD34');
    expect(await p.textContent('#tc-id-msg')).toBe('✓');
    await p.fill('#tc-event', 'E1');
    await p.click('#tc-save');
    await p.waitForFunction(() => document.querySelectorAll('#tc-rows tr').length === 1 || document.querySelector('#tc-form-msg')?.textContent !== '');
    expect(await p.textContent('#tc-form-msg')).toBe('Saved.');
    await p.waitForFunction(() => document.querySelectorAll('#tc-rows tr').length === 1);

    await p.selectOption('#tc-provider', 'meta');
    expect(await p.isVisible('#tc-matching')).toBe(true);
    await p.fill('#tc-id', '123456789012345');
    await p.fill('#tc-event', '');
    await p.check('#tc-matching');
    await p.check('#tc-ev-add_to_cart');
    await p.fill('#tc-secret', 'EAAB-dashboard-token');
    await p.click('#tc-save');
    await p.waitForFunction(() => document.querySelectorAll('#tc-rows tr').length === 2);
    // The server's refusal is shown too (a second Meta default for O1).
    await p.fill('#tc-id', '1234567890123456');
    await p.click('#tc-save');
    await p.waitForFunction(() => /already has a meta code/.test(document.querySelector('#tc-form-msg')?.textContent ?? ''));

    expect(await rows(p)).toEqual([
      ['Google Analytics 4', 'G-AB12CD34', 'Event E1', 'analytics', 'order_completed', 'Enabled'],
      ['Meta Pixel', '123456789012345', 'All events', 'marketing', 'order_completed, add_to_cart · token set', 'Enabled'],
    ]);
    expect(await p.content()).not.toContain('EAAB-dashboard-token');
    await screenshot(p, 'tracking-dashboard-list.png');

    // Filters by provider and event.
    await p.selectOption('#tc-filter-provider', 'meta');
    await p.waitForFunction(() => document.querySelectorAll('#tc-rows tr').length === 1);
    expect((await rows(p))[0][0]).toBe('Meta Pixel');
    await p.selectOption('#tc-filter-provider', '');
    await p.fill('#tc-filter-event', 'E1');
    await p.press('#tc-filter-event', 'Enter');
    await p.waitForFunction(() => document.querySelectorAll('#tc-rows tr').length === 1 && document.querySelector('#tc-rows tr td')?.textContent === 'Google Analytics 4');
    await p.fill('#tc-filter-event', '');
    await p.press('#tc-filter-event', 'Enter');
    await p.waitForFunction(() => document.querySelectorAll('#tc-rows tr').length === 2);

    // Disable, then delete, through the API.
    await p.click('#tc-rows tr:nth-child(2) [data-action=toggle]');
    await p.waitForSelector('#tc-rows tr[data-enabled=false]');
    const stored = (await api('GET', '/api/v1/tracking-codes?provider=meta&organizer_id=O1')).json.items;
    expect(stored).toEqual([expect.objectContaining({ enabled: false, has_access_token: true, settings: expect.objectContaining({ advanced_matching: true, conversion_events: ['order_completed', 'add_to_cart'] }) })]);
    await screenshot(p, 'tracking-dashboard-disabled.png');
    await p.click('#tc-rows tr:nth-child(1) [data-action=delete]');
    await p.waitForFunction(() => document.querySelectorAll('#tc-rows tr').length === 1);
    expect((await api('GET', '/api/v1/tracking-codes?organizer_id=O1')).json.items.map((c: any) => c.provider)).toEqual(['meta']);

    // Back to the live view and to the codes again.
    await p.click('#tc-back');
    await p.waitForSelector('#tracking', { state: 'detached' });
    expect(await p.isVisible('#nav-tracking')).toBe(true);
    await p.click('#nav-tracking');
    await p.waitForSelector('#tc-rows tr');
    // The browser logs the 409 of the refused second Meta code as a failed resource; nothing else went wrong.
    expect(errors.filter((e) => !/status of 409/.test(e))).toEqual([]);
    await ctx.close();
  }, 240_000);

  it('shows a held server-side destination to its organizer: a "Held: <reason>" badge and the rows\' counts', async () => {
    const made = await api('POST', '/api/v1/tracking-codes', { provider: 'tiktok', organizer_id: 'O1', settings: { pixel_id: 'D17TA5JC77UDOT6CA5FG' } });
    expect(made.status, made.text).toBe(201);
    const id = made.json.id as number;
    const reason = `TikTok 40001: Access token is invalid. Fix: update tracking code ${id} (PUT /api/v1/tracking-codes/${id}) with a new access token.`;
    await holdWithRows(server.db, t.tenant_id, 'tiktok', id, 'organizer', reason);
    const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const p = await ctx.newPage();
    const errors = pageErrors(p);
    await p.goto(`${server.url}/dashboard?token=${encodeURIComponent(token)}#tracking`);
    await p.waitForSelector(`#tc-rows tr[data-id="${id}"] [data-delivery=held]`);
    expect(await p.textContent(`#tc-rows tr[data-id="${id}"] [data-delivery=held]`)).toBe(`Held: ${reason}`);
    expect(await p.textContent(`#tc-rows tr[data-id="${id}"] [data-delivery=counts]`)).toBe('2 pending · 1 failing · 1 dead in 24 h');
    // The other codes deliver normally: no badge.
    expect(await p.$$eval('#tc-rows [data-delivery=held]', (els: any[]) => els.length)).toBe(1);
    await screenshot(p, 'tracking-dashboard-held.png');
    // The fix the badge names, from the page: re-enabling is an update, which ends the hold.
    await p.click(`#tc-rows tr[data-id="${id}"] [data-action=toggle]`);
    await p.waitForSelector(`#tc-rows tr[data-id="${id}"][data-enabled=false]`);
    expect(await p.$(`#tc-rows tr[data-id="${id}"] [data-delivery=held]`)).toBeNull();
    expect(errors).toEqual([]);
    await ctx.close();
  }, 240_000);
});
