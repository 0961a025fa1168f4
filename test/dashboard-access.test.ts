// The organizer view in Chromium when its access changes under it (role permissions revoked and granted back,
// README "Roles and permissions") and when a person's erasure takes numbers back (GDPR): the page never keeps
// withdrawn figures on screen, says which permission is missing, recovers on "Retry" after a grant, draws an
// event without its money, and its 60-minute chart equals a freshly opened page's after an erasure. Also: the live
// client reports an exception thrown by a subscription handler on the console instead of swallowing it.
import crypto from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, pageErrors, screenshot } from './dashboard-helpers.js';
import { bootServer, createTenant, getJson, orderEvent, request, webEvent, type Tenant } from './helpers.js';
import { mintToken, sendEvents } from './live-helpers.js';

declare const document: any;
declare const window: any;

/** What the organizer view shows: raw values from data-value attributes, null where a figure is blank. Runs in the page. */
const READ = `(() => {
  const num = (el) => (el && el.hasAttribute('data-value') ? Number(el.getAttribute('data-value')) : null);
  const kpis = {};
  for (const el of document.querySelectorAll('[data-kpi]')) if (el.dataset.kpi !== 'revenue') kpis[el.dataset.kpi] = num(el.querySelector('.value'));
  const revenue = {};
  for (const el of document.querySelectorAll('[data-kpi="revenue"] [data-currency]')) revenue[el.dataset.currency] = num(el);
  const steps = {};
  for (const li of document.querySelectorAll('.funnel [data-step]')) steps[li.dataset.step] = Number(li.dataset.value);
  const access = document.getElementById('access');
  return {
    kpis, revenue, steps,
    revenueText: document.querySelector('[data-kpi="revenue"] .value').textContent,
    payments: document.querySelector('.payments').textContent,
    tickerAmounts: document.querySelectorAll('#ticker .amt').length,
    events: document.getElementById('events-table').innerText,
    chartViews: [...document.querySelectorAll('#chart .dot')].reduce((s, d) => s + Number(d.dataset.views), 0),
    chartOrders: [...document.querySelectorAll('#chart .bar')].reduce((s, d) => s + Number(d.dataset.orders), 0),
    chartDots: document.querySelectorAll('#chart .dot').length,
    history: document.getElementById('chart').dataset.history,
    access: access && !access.hidden ? access.textContent : null,
    banner: document.getElementById('error').hidden ? '' : document.getElementById('error').textContent,
    conn: document.querySelector('#conn .label').textContent,
  };
})()`;
const read = (p: Page) => p.evaluate(READ) as Promise<any>;

const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

describe('organizer view when access or numbers are taken back (Chromium)', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let browser: Browser;
  beforeAll(async () => {
    server = await bootServer();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** A tenant of its own (role overrides are per tenant) with event E1 of organizer O1 in the catalog, and an O1 token. */
  const setup = async (name: string) => {
    const t = await createTenant(server.url, name);
    const r = await api(t, 'PUT', '/api/v1/catalog/events', { items: [{ id: 'E1', organizer_id: 'O1', title: 'Autumn Gala' }] });
    expect(r.status).toBe(200);
    return { t, token: await mintToken(server.url, t, { role: 'organizer', org_id: 'O1' }) };
  };
  const api = (t: Tenant, method: string, path: string, body?: unknown) => request(method, `${server.url}${path}`, body, { authorization: `Bearer ${t.secret_key}` });
  const setPermission = async (t: Tenant, permission: string, value: boolean | null) => {
    const r = await api(t, 'PUT', '/api/v1/roles/organizer', { permissions: { [permission]: value } });
    expect(r.status).toBe(200);
  };
  /** `n` visitors who each view E1 and buy 2 tickets for €100 (as `customer` when given, with consent). */
  const traffic = async (t: Tenant, n: number, prefix: string, customer?: string) => {
    const evs: Record<string, unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const who = { visitor_id: `${prefix}-v${i}`, session_id: `${prefix}-s${i}` };
      evs.push(webEvent({ ...who, entities: { event_entity_id: 'E1', organizer_id: 'O1' }, context: { user_agent: UA } }));
      evs.push(
        orderEvent({
          ...who,
          entities: { order_id: `${prefix}-${i}-${crypto.randomUUID().slice(0, 6)}`, event_entity_id: 'E1', organizer_id: 'O1' },
          payload: { gross_amount: 100, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], ...(customer ? { consent_data_processing: true, customer: { external_id: customer } } : {}) },
        }),
      );
    }
    await sendEvents(server.url, t, evs);
    await server.sink.idle();
  };
  const open = async (token: string, hash = '') => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    const errors = pageErrors(page);
    await page.goto(`${server.url}/dashboard?token=${encodeURIComponent(token)}${hash}`);
    await page.waitForSelector('#organizer-view', { timeout: 30_000 });
    return { page, errors };
  };
  const POLL = { timeout: 30_000 };

  it('an event page without view_revenue draws its funnel, payments and chart without money, and follows new orders', { timeout: 180_000 }, async () => {
    const { t, token } = await setup('access-revenue-event');
    await traffic(t, 3, 'a');
    // One page open before the revoke, one opened after it.
    const before = await open(token, '#event=E1');
    await expect.poll(async () => (await read(before.page)).revenue, POLL).toEqual({ EUR: 300 });
    await setPermission(t, 'view_revenue', false);
    const after = await open(token, '#event=E1');
    for (const { page } of [before, after]) {
      await expect.poll(async () => (await read(page)).steps.orders, POLL).toBe(3);
      await expect.poll(async () => (await read(page)).revenue, POLL).toEqual({});
    }
    await traffic(t, 1, 'b');
    for (const { page } of [before, after]) {
      await expect.poll(async () => (await read(page)).steps.orders, POLL).toBe(4);
      const s = await read(page);
      expect(s.kpis.orders).toBe(4);
      expect(s.revenue).toEqual({});
      expect(s.revenueText).not.toMatch(/€|\d/);
      expect(s.tickerAmounts).toBe(0);
      expect(s.payments).toMatch(/^Payment attempts 0/);
      expect(s.chartDots).toBe(60);
    }
    await screenshot(after.page, 'dashboard-access-event-no-revenue.png');
    expect([...before.errors, ...after.errors]).toEqual([]);
    await before.page.close();
    await after.page.close();
  });

  it('All events: a revoked view_revenue withdraws every roll-up figure, says "No access" naming it, and Retry after the grant brings them back', { timeout: 180_000 }, async () => {
    const { t, token } = await setup('access-revenue-all');
    await traffic(t, 3, 'a');
    const { page, errors } = await open(token);
    await expect.poll(async () => (await read(page)).revenue, POLL).toEqual({ EUR: 300 });
    expect((await read(page)).events).toContain('€300.00');

    await setPermission(t, 'view_revenue', false);
    await expect.poll(async () => (await read(page)).access, POLL).toMatch(/view_revenue/);
    const s = await read(page);
    expect(s.revenue).toEqual({});
    expect(s.revenueText).not.toMatch(/€|\d/);
    expect(s.tickerAmounts).toBe(0);
    expect(s.events).not.toMatch(/€/);
    expect(s.events).not.toContain('Autumn Gala');
    expect(Object.values(s.kpis)).toEqual([null, null, null, null, null]);
    expect(s.steps).toEqual({});
    expect(s.chartViews + s.chartOrders).toBe(0);
    expect(s.conn).toBe('No access');
    await screenshot(page, 'dashboard-access-all-no-revenue.png');

    await setPermission(t, 'view_revenue', null);
    await traffic(t, 1, 'b');
    await page.click('#access-retry');
    await expect.poll(async () => (await read(page)).revenue, POLL).toEqual({ EUR: 400 });
    const back = await read(page);
    expect(back.access).toBeNull();
    expect(back.conn).toBe('Live');
    expect(back.kpis.orders).toBe(4);
    expect(back.events).toContain('€400.00');
    expect(back.tickerAmounts).toBe(4);
    // The chart starts over with the store's history: the whole hour again, every view and order once.
    await expect.poll(async () => [(await read(page)).chartViews, (await read(page)).chartOrders], POLL).toEqual([4, 4]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('an event page that loses view_event_analytics names that permission (not "not an event of this organizer") and clears its figures', { timeout: 180_000 }, async () => {
    const { t, token } = await setup('access-analytics-event');
    await traffic(t, 3, 'a');
    const { page, errors } = await open(token, '#event=E1');
    await expect.poll(async () => (await read(page)).steps.orders, POLL).toBe(3);
    await setPermission(t, 'view_event_analytics', false);
    await expect.poll(async () => (await read(page)).access, POLL).toMatch(/view_event_analytics/);
    await traffic(t, 1, 'b');
    const s = await read(page);
    expect(s.banner).not.toMatch(/not an event of this organizer/);
    expect(Object.values(s.kpis)).toEqual([null, null, null, null, null]);
    expect(s.steps).toEqual({});
    expect(s.revenue).toEqual({});
    expect(s.tickerAmounts).toBe(0);
    expect(s.conn).toBe('No access');
    await screenshot(page, 'dashboard-access-event-no-analytics.png');
    expect(errors).toEqual([]);
    await page.close();
  });

  it("after a person's erasure the open page's 60-minute chart equals a freshly opened page's", { timeout: 180_000 }, async () => {
    const { t, token } = await setup('access-gdpr');
    await traffic(t, 2, 'keep');
    await traffic(t, 2, 'gone', 'cust-gone');
    const pages = [await open(token), await open(token, '#event=E1')];
    for (const { page } of pages) {
      await expect.poll(async () => (await read(page)).history, POLL).toBe('seeded');
      await expect.poll(async () => [(await read(page)).chartViews, (await read(page)).chartOrders], POLL).toEqual([4, 4]);
    }
    const person = await getJson(`${server.url}/api/v1/persons?external_id=cust-gone`, { authorization: `Bearer ${t.secret_key}` });
    expect(person.status).toBe(200);
    const erased = await api(t, 'DELETE', `/api/v1/persons/${person.json.person_id}`);
    expect(erased.status).toBe(200);
    for (const { page } of pages) await expect.poll(async () => (await read(page)).kpis.views, POLL).toBe(2);
    await traffic(t, 1, 'later');
    for (const { page } of pages) {
      await expect.poll(async () => (await read(page)).kpis.views, POLL).toBe(3);
      await expect.poll(async () => [(await read(page)).chartViews, (await read(page)).chartOrders], POLL).toEqual([3, 3]);
    }
    const fresh = await open(token);
    await expect.poll(async () => (await read(fresh.page)).history, POLL).toBe('seeded');
    await expect.poll(async () => [(await read(fresh.page)).chartViews, (await read(fresh.page)).chartOrders], POLL).toEqual([3, 3]);
    expect([...pages.flatMap((p) => p.errors), ...fresh.errors]).toEqual([]);
    for (const { page } of [...pages, fresh]) await page.close();
  });

  it('the live client reports an exception thrown in a subscription handler on the console and keeps delivering', { timeout: 120_000 }, async () => {
    const { t, token } = await setup('access-handler');
    const { page, errors } = await open(token);
    await page.waitForSelector('#conn[data-state="open"]', { timeout: 30_000 });
    await page.evaluate(() => {
      window.handlerCalls = 0;
      window.txDashboard.client.subscribe('analytics:event:E1', () => {
        window.handlerCalls++;
        throw new Error('a bug in the handler');
      });
    });
    await expect.poll(() => page.evaluate(() => window.handlerCalls), POLL).toBeGreaterThanOrEqual(1);
    await expect.poll(() => errors.some((e) => e.includes('a bug in the handler')), POLL).toBe(true);
    const calls = await page.evaluate(() => window.handlerCalls);
    await traffic(t, 1, 'a');
    await expect.poll(() => page.evaluate(() => window.handlerCalls), POLL).toBeGreaterThan(calls);
    await page.close();
  });
});
