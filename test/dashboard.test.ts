// The live dashboard page in Chromium against a real server: the demo generator drives traffic, the page's
// numbers move, and once the traffic stops they equal the REST mirror (GET /api/v1/live/…), funnel,
// revenue, ticker, per-event rows and the page-built 60-minute series included. The gate view colours
// capacity bars at 85 % and 95 %. The page shows its connection state and reconnects after a drop.
// Screenshots go to test-output/.
import crypto from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { funnelSteps } from '../client/dashboard/funnel.js';
import { DEMO_EVENTS, DEMO_ORG } from '../scripts/demo/catalog.js';
import { mintDemoTokens, startDemo, type DemoTokens } from '../scripts/demo/traffic.js';
import { launchChromium, pageErrors, screenshot, startProxy } from './dashboard-helpers.js';
import { bootServer, getJson, orderEvent, webEvent, type Tenant } from './helpers.js';
import { mintToken, sendEvents } from './live-helpers.js';

type Server = Awaited<ReturnType<typeof bootServer>>;

/** Reads what the organizer view shows (raw values from data-value attributes). Plain JS: runs in the page. */
const READ_ORGANIZER = `(() => {
  const num = (el) => (el && el.hasAttribute('data-value') ? Number(el.getAttribute('data-value')) : null);
  const kpis = {};
  for (const el of document.querySelectorAll('[data-kpi]')) if (el.dataset.kpi !== 'revenue') kpis[el.dataset.kpi] = num(el.querySelector('.value'));
  const revenue = {};
  for (const el of document.querySelectorAll('[data-kpi="revenue"] [data-currency]')) revenue[el.dataset.currency] = num(el);
  const steps = {};
  for (const li of document.querySelectorAll('.funnel [data-step]')) steps[li.dataset.step] = { value: Number(li.dataset.value), conversion: li.dataset.conversion === undefined ? null : Number(li.dataset.conversion), dropoff: li.dataset.dropoff === undefined ? null : Number(li.dataset.dropoff) };
  const ticker = [...document.querySelectorAll('#ticker [data-ticker-row]')].map((li) => ({ event_id: li.querySelector('.ev').textContent, amount: num(li.querySelector('.amt')), currency: li.querySelector('.amt').dataset.currency, ts: li.querySelector('time').getAttribute('datetime') }));
  const rows = [...document.querySelectorAll('[data-event-row]')].filter((r) => r.offsetParent !== null).map((r) => r.dataset.eventRow);
  const chartViews = [...document.querySelectorAll('#chart .dot')].reduce((s, d) => s + Number(d.dataset.views), 0);
  const chartOrders = [...document.querySelectorAll('#chart .bar')].reduce((s, d) => s + Number(d.dataset.orders), 0);
  const org = document.getElementById('organizer-view');
  return { selected: org && org.dataset.selected, kpis, revenue, steps, ticker, rows, chartViews, chartOrders, conn: document.getElementById('conn').dataset.state };
})()`;

const READ_GATES = `(() => {
  const out = {};
  for (const g of document.querySelectorAll('.gate[data-gate]')) {
    const cls = ['cap-ok', 'cap-warn', 'cap-crit', 'cap-unknown'].find((c) => g.classList.contains(c));
    out[g.dataset.event + '/' + g.dataset.gate] = { level: cls, percent: g.dataset.percent === undefined ? null : Number(g.dataset.percent), inside: Number(g.querySelector('[data-field="inside"]').dataset.value), fill: g.querySelector('.fill').style.width };
  }
  const v = document.querySelector('.venue[data-venue]');
  return { gates: out, venue: v ? { level: ['cap-ok', 'cap-warn', 'cap-crit', 'cap-unknown'].find((c) => v.classList.contains(c)), inside: Number(v.dataset.inside), percent: v.dataset.percent === undefined ? null : Number(v.dataset.percent) } : null };
})()`;

const readOrganizer = (page: Page) => page.evaluate(READ_ORGANIZER) as Promise<any>;
const readGates = (page: Page) => page.evaluate(READ_GATES) as Promise<any>;

/** Polls `fn` until it returns without throwing (an expect that passes); rethrows the last failure on timeout. */
async function eventually<T>(fn: () => Promise<T>, timeoutMs = 20_000, stepMs = 150): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, stepMs));
    }
  }
}

const ROUND = (x: number) => Math.round(x * 1000) / 1000;

describe('live dashboard in Chromium', () => {
  let server: Server;
  let browser: Browser;
  let tenant: Tenant;
  let tokens: DemoTokens;

  beforeAll(async () => {
    // The server creates the demo tenant on a fresh store, as `npm start` does.
    server = await bootServer();
    expect(server.demo).toBeTruthy();
    tenant = server.demo!;
    tokens = await mintDemoTokens(server.url, tenant.secret_key, DEMO_ORG, DEMO_EVENTS.map((e) => e.id), 3600);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const open = async (path: string, base = server.url): Promise<{ page: Page; errors: string[] }> => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    const errors = pageErrors(page);
    await page.goto(`${base}${path}`);
    return { page, errors };
  };
  const rest = async (path: string) => {
    const r = await getJson(`${server.url}${path}`, { authorization: `Bearer ${tenant.secret_key}` });
    expect(r.status).toBe(200);
    return r.json.data;
  };

  it('serves the page and its assets: built on first request, CSP, gzip, ETag revalidation', async () => {
    const page = await fetch(`${server.url}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await page.text()).toContain('/dashboard/app.js');
    const js = await fetch(`${server.url}/dashboard/app.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-encoding')).toBe('gzip');
    const body = await js.text(); // fetch inflates
    expect(body.length).toBeGreaterThan(5000);
    expect(body).not.toContain('socket.io'); // the page uses the plain websocket client only
    const etag = js.headers.get('etag')!;
    const again = await fetch(`${server.url}/dashboard/app.js`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const css = await fetch(`${server.url}/dashboard/app.css`);
    expect(css.headers.get('content-type')).toMatch(/text\/css/);
    expect((await fetch(`${server.url}/dashboard/nope.js`)).status).toBe(404);
    console.log(`dashboard bundle: ${body.length} bytes (${js.headers.get('content-length')} gzip)`);
  });

  it('organizer view: the numbers move with the demo traffic and then equal GET /api/v1/live/…', async () => {
    const { page, errors } = await open(`/dashboard?token=${tokens.organizer}`);
    // the token left the address bar
    expect(page.url()).toBe(`${server.url}/dashboard`);
    await page.waitForSelector('#conn[data-state="open"]');
    await page.waitForSelector('#organizer-view[data-ready]');
    const start = await readOrganizer(page);
    expect(start.kpis.views).toBe(0);

    const demo = startDemo({ url: server.url, writeKey: tenant.write_key, secretKey: tenant.secret_key, seed: 7, visitorsPerSecond: 6, speed: 3 });
    // The page moves while the demo runs: several distinct, increasing view counts, and orders.
    const seen: number[] = [];
    const t0 = Date.now();
    let firstOrderMs = -1;
    // ~9 s of traffic, longer if no order has shown yet (a loaded machine)
    while (Date.now() - t0 < 9000 || (firstOrderMs < 0 && Date.now() - t0 < 30_000)) {
      const p = await readOrganizer(page);
      if (seen[seen.length - 1] !== p.kpis.views) seen.push(p.kpis.views);
      if (firstOrderMs < 0 && p.kpis.orders > 0) firstOrderMs = Date.now() - t0;
      await page.waitForTimeout(250);
    }
    const stats = await demo.stop();
    await server.sink.idle();
    expect(seen.length).toBeGreaterThanOrEqual(4);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(firstOrderMs).toBeGreaterThan(0);
    expect(stats.orders).toBeGreaterThan(0);
    expect(stats.rejected).toBe(0);
    console.log(`demo: ${stats.visitors} visitors, ${stats.orders} orders, ${stats.scans} scans; page showed ${seen.length} view counts, first order after ${firstOrderMs} ms`);

    // Overview = analytics:dashboard:{org} through REST (allow for the 250 ms coalescing: poll).
    const final = await eventually(async () => {
      const [p, d] = await Promise.all([readOrganizer(page), rest(`/api/v1/live/dashboard/${DEMO_ORG}`)]);
      const f = d.totals.funnel;
      expect(p.kpis).toEqual({ unique_visitors: f.unique_visitors, views: f.views, active_checkouts: f.active_checkouts, orders: f.orders, tickets_sold: f.tickets_sold });
      expect(p.revenue).toEqual(d.totals.revenue);
      for (const st of funnelSteps(f)) expect(p.steps[st.key]).toEqual({ value: st.value, conversion: st.conversion, dropoff: st.dropoff });
      expect(p.ticker).toEqual(d.ticker.map((t: any) => ({ event_id: t.event_id, amount: t.amount, currency: t.currency, ts: t.ts })));
      expect(p.rows).toEqual(d.events.map((e: any) => e.event_id));
      // The page opened before any traffic, so its per-minute series accounts for every view and order.
      expect(p.chartViews).toBe(f.views);
      expect(p.chartOrders).toBe(f.orders);
      return { p, d };
    });
    expect(final.d.totals.funnel.orders).toBe(stats.orders);
    expect(final.d.totals.revenue).toEqual(Object.fromEntries(Object.entries(stats.revenue).map(([c, v]) => [c, ROUND(v)])));
    // The server's own step rates agree with the page's for the steps both show.
    const steps = final.p.steps;
    expect(steps.checkouts_started.conversion).toBe(final.d.totals.conversion.cart_to_checkout);
    expect(steps.orders.conversion).toBe(final.d.totals.conversion.checkout_to_order);
    expect(steps.orders.dropoff).toBe(final.d.totals.dropoff.checkout_to_order);
    await screenshot(page, 'dashboard-organizer.png');

    // One event: analytics:event:{id} through REST, with its gates.
    const ev = DEMO_EVENTS[0].id;
    await page.click(`[data-tab="${ev}"]`);
    await eventually(async () => {
      const [p, e] = await Promise.all([readOrganizer(page), rest(`/api/v1/live/events/${ev}`)]);
      expect(p.selected).toBe(ev);
      const f = e.funnel;
      expect(p.kpis).toEqual({ unique_visitors: f.unique_visitors, views: f.views, active_checkouts: f.active_checkouts, orders: f.orders, tickets_sold: f.tickets_sold });
      expect(p.revenue).toEqual(e.revenue);
      expect(p.steps.orders.value).toBe(f.orders);
      expect(p.ticker.every((t: any) => t.event_id === ev)).toBe(true);
      expect(p.chartViews).toBe(f.views);
      const g = await readGates(page);
      expect(Object.keys(g.gates).sort()).toEqual(DEMO_EVENTS[0].gates.map((x) => `${ev}/${x.id}`).sort());
      for (const [k, v] of Object.entries(g.gates) as [string, any][]) expect(v.inside).toBe(e.capacity.gates[k.split('/')[1]].inside);
    });
    expect(page.url()).toBe(`${server.url}/dashboard#event=${ev}`);
    await screenshot(page, 'dashboard-event.png');
    // the hash survives a reload (and the token sessionStorage)
    await page.reload();
    await page.waitForSelector(`#organizer-view[data-selected="${ev}"][data-ready]`);
    await page.click('[data-tab="all"]');
    await page.waitForSelector('#organizer-view[data-selected="all"]');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('seeds the chart with the last hour from the store (GET …/history); falls back to "no data" without it', async () => {
    const ORG = 'org-history';
    const MIN = 60_000;
    const t0 = Date.now();
    const ago = (m: number) => new Date(t0 - m * MIN).toISOString();
    const view = (m: number, v: string) => ({
      event_id: crypto.randomUUID(), event_name: 'event_view', occurred_at: ago(m), source_system: 'web', visitor_id: v, session_id: `s-${v}`,
      consent_snapshot: { analytics: true, marketing: false, data_processing: true }, entities: { event_entity_id: 'evt-history', organizer_id: ORG }, payload: {},
    });
    // before the page opens: 3 views 7 minutes ago, 1 view 3 minutes ago
    await sendEvents(server.url, tenant, [view(7, 'h1'), view(7, 'h2'), view(7, 'h3'), view(3, 'h4')]);
    await server.sink.idle();
    const token = await mintToken(server.url, tenant, { role: 'organizer', org_id: ORG });
    const minuteOf = (m: number) => Math.floor((t0 - m * MIN) / MIN) * MIN;
    const readDots = (page: Page) => page.evaluate(`[...document.querySelectorAll('#chart .dot')].map((d) => [Number(d.dataset.minute), Number(d.dataset.views)])`) as Promise<[number, number][]>;

    const { page, errors } = await open(`/dashboard?token=${token}`);
    await page.waitForSelector('#chart[data-history="seeded"]');
    const dots = new Map(await readDots(page));
    expect(dots.size).toBe(60); // every minute of the window is known
    expect(dots.get(minuteOf(7))).toBe(3);
    expect(dots.get(minuteOf(3))).toBe(1);
    expect([...dots.values()].reduce((a, b) => a + b, 0)).toBe(4);
    expect(await page.locator('#chart .nodata').count()).toBe(0);
    expect(await page.textContent('#organizer-view .note')).toMatch(/history/);
    expect(errors).toEqual([]);
    await page.close();

    // The history request fails: the chart starts when the page opened, with the caveat.
    const failing = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    await failing.route('**/history?**', (r) => r.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"store_unavailable"}}' }));
    await failing.goto(`${server.url}/dashboard?token=${token}`);
    await failing.waitForSelector('#chart[data-history="failed"]');
    expect(await failing.textContent('#chart .nodata-label')).toBe('views: no data before this page opened');
    expect(new Map(await readDots(failing)).get(minuteOf(7))).toBeUndefined();
    await failing.close();
  });

  it('gate view: capacity bars turn amber at 85 % and red at 95 %, live', async () => {
    const EV = 'evt-gate-colours';
    const scan = (name: string, payload: Record<string, unknown>) => ({
      event_id: crypto.randomUUID(), event_name: name, occurred_at: new Date().toISOString(), source_system: 'scanner',
      consent_snapshot: { analytics: false, marketing: false, data_processing: true },
      entities: { event_entity_id: EV, organizer_id: DEMO_ORG, ticket_id: crypto.randomUUID() }, payload,
    });
    const snap = (gate: string, inside: number, capacity: number, extra: Record<string, unknown> = {}) =>
      scan('capacity_snapshot', { gate_id: gate, current_inside: inside, total_entries: inside, total_denied: 0, capacity, ...extra });
    await sendEvents(server.url, tenant, [snap('a-50', 50, 100, { venue_capacity: 1000 }), snap('b-84.9', 849, 1000), snap('c-85', 85, 100), snap('d-94.9', 949, 1000), snap('e-95', 95, 100), snap('f-full', 120, 120)]);
    const token = await mintToken(server.url, tenant, { role: 'gate', event_ids: [EV] });
    const { page, errors } = await open(`/dashboard?token=${token}`);
    await page.waitForSelector('#gate-view');
    const want = { 'a-50': ['cap-ok', 50], 'b-84.9': ['cap-ok', 84.9], 'c-85': ['cap-warn', 85], 'd-94.9': ['cap-warn', 94.9], 'e-95': ['cap-crit', 95], 'f-full': ['cap-crit', 100] };
    await eventually(async () => {
      const g = await readGates(page);
      for (const [id, [level, pct]] of Object.entries(want)) expect(g.gates[`${EV}/${id}`]).toMatchObject({ level, percent: pct, fill: `${pct}%` });
      // venue: 2,148 inside, venue capacity 1,000 → over 100 %, red
      expect(g.venue).toMatchObject({ inside: 50 + 849 + 85 + 949 + 95 + 120, level: 'cap-crit' });
    });
    await screenshot(page, 'dashboard-gates.png');

    // Entries move gates across the thresholds while the page watches.
    const grant = (gate: string) => scan('entry_granted', { gate_id: gate });
    await sendEvents(server.url, tenant, [grant('b-84.9'), ...Array.from({ length: 35 }, () => grant('a-50'))]);
    await eventually(async () => {
      const g = await readGates(page);
      expect(g.gates[`${EV}/b-84.9`]).toMatchObject({ level: 'cap-warn', percent: 85, inside: 850 });
      expect(g.gates[`${EV}/a-50`]).toMatchObject({ level: 'cap-warn', percent: 85, inside: 85 });
    });
    await sendEvents(server.url, tenant, Array.from({ length: 10 }, () => grant('a-50')));
    await eventually(async () => expect((await readGates(page)).gates[`${EV}/a-50`]).toMatchObject({ level: 'cap-crit', percent: 95 }));
    // a gate token sees capacity only: the organizer topics are not its to read
    expect(await page.locator('#organizer-view').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows the connection state and reconnects with backoff after the connection drops', async () => {
    const proxy = await startProxy(() => server.port);
    try {
      const { page, errors } = await open(`/dashboard?token=${tokens.organizer}`, proxy.url);
      await page.waitForSelector('#conn[data-state="open"]');
      await page.waitForSelector('#organizer-view[data-ready]');
      const before = (await readOrganizer(page)).kpis.views;
      // The 'reconnecting' state lasts only the backoff (a few hundred ms): the page records every state it
      // shows, so a check that comes late (a loaded machine) still sees it.
      // (installed with evaluate: waitForFunction would need eval, which the page's CSP forbids)
      await page.evaluate(`(() => {
        const el = document.getElementById('conn');
        const seen = (window.__conn = []);
        new MutationObserver(() => seen.push([el.dataset.state, el.querySelector('.label').textContent]))
          .observe(el, { attributes: true, attributeFilter: ['data-state'], childList: true, subtree: true, characterData: true });
      })()`);
      proxy.cut();
      await eventually(async () => {
        const seen = (await page.evaluate('window.__conn')) as [string, string][];
        const i = seen.findIndex(([state]) => state === 'reconnecting');
        expect(i, JSON.stringify(seen)).toBeGreaterThanOrEqual(0);
        expect(seen[i][1]).toMatch(/Reconnecting in \d+ s/);
        // ... and back to Live after it.
        expect(seen.slice(i + 1).map(([state]) => state)).toContain('open');
      }, 20_000);
      await page.waitForSelector('#conn[data-state="open"]', { timeout: 15_000 });
      await sendEvents(server.url, tenant, [
        { event_id: crypto.randomUUID(), event_name: 'event_view', occurred_at: new Date().toISOString(), source_system: 'web', visitor_id: 'after-drop', session_id: 's-after-drop',
          consent_snapshot: { analytics: true, marketing: false, data_processing: true }, context: { user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36' },
          entities: { event_entity_id: DEMO_EVENTS[1].id, organizer_id: DEMO_ORG }, payload: {} },
      ]);
      await eventually(async () => expect((await readOrganizer(page)).kpis.views).toBe(before + 1));
      // The browser goes offline while the socket still looks open: the header says Offline at once (not
      // after the heartbeat), and Live again when the network is back.
      await page.context().setOffline(true);
      await page.waitForSelector('#conn[data-state="offline"]', { timeout: 3000 });
      await page.context().setOffline(false);
      await page.waitForSelector('#conn[data-state="open"]', { timeout: 15_000 });
      // offline: the browser says so, and the page retries as soon as it is back
      await page.context().setOffline(true);
      proxy.cut();
      await page.waitForSelector('#conn[data-state="offline"]', { timeout: 5000 });
      await page.context().setOffline(false);
      await page.waitForSelector('#conn[data-state="open"]', { timeout: 15_000 });
      expect(errors.filter((e) => !/WebSocket|ERR_INTERNET_DISCONNECTED|Failed to load resource/.test(e))).toEqual([]);
      await page.close();
    } finally {
      await proxy.close();
    }
  });

  it('an organizer with more events than a dashboard lists sees the 200 with the most sales and a note saying how many there are', { timeout: 90_000 }, async () => {
    const org = 'ORG-MANY';
    const events = Array.from({ length: 230 }, (_, i) => webEvent({ event_name: 'event_view', entities: { event_entity_id: `MANY${String(i).padStart(3, '0')}`, organizer_id: org } }));
    await sendEvents(server.url, tenant, events);
    const token = await mintToken(server.url, tenant, { role: 'organizer', org_id: org });
    const { page, errors } = await open(`/dashboard?token=${token}`);
    await page.waitForSelector('#events-note:not([hidden])', { timeout: 30_000 });
    expect(await page.textContent('#events-note')).toMatch(/Showing the 200 events with the most sales of 230/);
    expect(await page.locator('#events-table tbody tr').count()).toBe(200);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('fits a 390 px phone: the header wraps instead of squeezing its links, no page scrolls sideways', async () => {
    // A sale with a long amount, so the ticker and the revenue card have something to fit.
    await sendEvents(server.url, tenant, [orderEvent({ entities: { order_id: `PHONE-${Date.now()}`, event_entity_id: DEMO_EVENTS[0].id, organizer_id: DEMO_ORG }, payload: { gross_amount: 31140, currency: 'RON', items: [{ ticket_type_id: 'GA', qty: 3, price: 10380 }] } })]);
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      for (const hash of ['', '#history', '#tracking', '#campaigns']) {
        await page.goto(`${server.url}/dashboard?token=${tokens.organizer}${hash}`);
        await page.waitForSelector('#app:not([hidden])');
        await page.waitForTimeout(300);
        // A link squeezed into a column of letters is taller than two lines.
        const m = await page.evaluate(`({
          scroll: document.documentElement.scrollWidth,
          tall: [...document.querySelectorAll('header.top a:not([hidden]), header.top button:not([hidden])')].filter((e) => e.offsetParent && e.getBoundingClientRect().height > 40).map((e) => e.textContent),
        })`);
        expect(m, hash || 'live').toEqual({ scroll: 390, tall: [] });
        if (hash) continue;
        // The live view's numbers are readable whole: revenue not cut, ticker names not squeezed, chart labels ≥ 8 px.
        await page.waitForSelector('#organizer-view[data-ready]');
        const live = (await page.evaluate(`(() => {
          const rev = document.querySelector('.kpi-revenue .value');
          const label = document.querySelector('svg.chart text.axis');
          return {
            revenueCut: rev.scrollWidth > rev.clientWidth + 1,
            narrowNames: [...document.querySelectorAll('#ticker .ev')].filter((e) => e.getBoundingClientRect().width < 120).length,
            tickerRows: document.querySelectorAll('#ticker li').length,
            labelPx: label ? label.getBoundingClientRect().height : null,
          };
        })()`)) as { revenueCut: boolean; narrowNames: number; tickerRows: number; labelPx: number | null };
        expect(live.revenueCut).toBe(false);
        expect(live.tickerRows).toBeGreaterThan(0);
        expect(live.narrowNames).toBe(0);
        expect(live.labelPx).toBeGreaterThanOrEqual(8);
      }
    } finally {
      await page.close();
    }
  });

  it('signs in by pasting a token, refuses bad and expired tokens, signs out', async () => {
    const { page } = await open('/dashboard');
    await page.waitForSelector('#signin:not([hidden])');
    await page.fill('#token-input', 'not-a-token');
    await page.click('#signin button[type="submit"]');
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error')).toMatch(/not a dashboard token/);

    // well-formed but not signed by this server: the websocket is refused; the page finds out why and stops
    const forged = tokens.organizer.replace(/\.[^.]+$/, '.' + Buffer.alloc(32).toString('base64url'));
    await page.fill('#token-input', forged);
    await page.click('#signin button[type="submit"]');
    await page.waitForSelector('#signin:not([hidden])', { timeout: 10_000 });
    expect(await page.textContent('#error')).toMatch(/refused this token/);
    expect(await page.getAttribute('#conn', 'data-state')).toBe('idle');

    const short = await mintToken(server.url, tenant, { role: 'organizer', org_id: DEMO_ORG, ttl_s: 1 });
    await new Promise((r) => setTimeout(r, 1100));
    await page.fill('#token-input', short);
    await page.click('#signin button[type="submit"]');
    expect(await page.textContent('#error')).toMatch(/expired/);

    await page.fill('#token-input', tokens.organizer);
    await page.click('#signin button[type="submit"]');
    await page.waitForSelector('#conn[data-state="open"]');
    expect(await page.textContent('#who')).toBe(`Organizer ${DEMO_ORG}`);
    // (waitForFunction evaluates its string with eval, which the page's CSP refuses.)
    await expect.poll(() => page.textContent('#updated'), { timeout: 10_000 }).not.toBe('');
    await page.click('#signout');
    await page.waitForSelector('#signin:not([hidden])');
    // Nothing of the organizer's view is left in the header.
    expect(await page.evaluate(`({
      updated: document.getElementById('updated').textContent,
      links: ['nav-history', 'nav-tracking', 'nav-campaigns'].filter((id) => !document.getElementById(id).hidden),
    })`)).toEqual({ updated: '', links: [] });
    await page.reload();
    await page.waitForSelector('#signin:not([hidden])'); // the token was forgotten
    await page.close();
  });
});
