// The dashboard's pure parts (the 60-minute series, funnel steps, capacity levels, formatting), its
// type-check (browser code has its own tsconfig with the DOM lib), and the server's asset builder.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { formatAgo, formatMoney, formatPercent, formatRatio, noticeText } from '../client/dashboard/format.js';
import { capacityLevel, funnelSteps, stepRateText } from '../client/dashboard/funnel.js';
import { createHistoryFetcher } from '../client/dashboard/history.js';
import { countAxisMax, historyMinutes, MINUTE, MinuteSeries, niceMax, type HistoryMinute } from '../client/dashboard/series.js';
import type { Funnel } from '../client/live/types.js';
import { createDashboardAssets } from '../server/dashboard/index.js';
import { tmpDir } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const T0 = Date.UTC(2026, 10, 21, 18, 0, 0); // a minute boundary
const f = (views: number, orders = 0, tickets_sold = 0) => ({ views, orders, tickets_sold });

describe('MinuteSeries', () => {
  it('counts per-minute differences of successive totals, from the first snapshot on', () => {
    const s = new MinuteSeries(60);
    s.observe(T0 + 10_000, f(100, 5, 9), { EUR: 500 }); // snapshot: baseline only
    s.observe(T0 + 20_000, f(103, 5, 9), { EUR: 500 });
    s.observe(T0 + 50_000, f(104, 6, 11), { EUR: 560.5 });
    s.observe(T0 + MINUTE + 1_000, f(110, 8, 15), { EUR: 700.5, RON: 100 });
    const pts = s.points(T0 + MINUTE + 2_000);
    expect(pts).toHaveLength(60);
    const [a, b] = pts.slice(-2);
    expect(a).toEqual({ t: T0, views: 4, orders: 1, tickets: 2, revenue: { EUR: 60.5 } });
    expect(b).toEqual({ t: T0 + MINUTE, views: 6, orders: 2, tickets: 4, revenue: { EUR: 140, RON: 100 } });
    // before the page subscribed: unknown, not zero
    expect(pts[57]).toEqual({ t: T0 - MINUTE, views: null, orders: null, tickets: null, revenue: null });
  });

  it('seeds orders from the sales ticker: all of them when the ticker is not full, else after its oldest entry', () => {
    const at = T0 + 10 * MINUTE;
    const entry = (min: number, amount: number) => ({ ts: new Date(T0 + min * MINUTE + 5_000).toISOString(), event_id: 'E1', tickets: 2, amount, currency: 'EUR' });
    const complete = new MinuteSeries(60);
    complete.seed([entry(9, 10), entry(9, 20), entry(2, 5)], at, { complete: true, oldestTs: null });
    complete.observe(at, f(50, 3, 6), { EUR: 35 });
    const p1 = complete.points(at);
    expect(p1.find((p) => p.t === T0 + 9 * MINUTE)).toMatchObject({ orders: 2, tickets: 4, revenue: { EUR: 30 }, views: null });
    expect(p1.find((p) => p.t === T0 + 2 * MINUTE)).toMatchObject({ orders: 1 });
    expect(p1[0]).toMatchObject({ orders: 0, views: null }); // a complete ticker: no other orders today
    expect(p1[p1.length - 1]).toMatchObject({ views: 0, orders: 0 });

    const partial = new MinuteSeries(60);
    partial.seed([entry(9, 10), entry(5, 20)], at, { complete: false, oldestTs: T0 + 5 * MINUTE + 5_000 });
    const p2 = partial.points(at);
    expect(p2.find((p) => p.t === T0 + 5 * MINUTE)!.orders).toBeNull(); // the oldest entry's minute may hold more orders
    expect(p2.find((p) => p.t === T0 + 6 * MINUTE)!.orders).toBe(0);
    expect(p2.find((p) => p.t === T0 + 9 * MINUTE)!.orders).toBe(1);
  });

  it('restarts its baseline when totals go down on a new UTC day and drops minutes older than the window', () => {
    const s = new MinuteSeries(5);
    const MIDNIGHT = Date.UTC(2026, 10, 22);
    s.observe(MIDNIGHT - MINUTE, f(100), {});
    s.observe(MIDNIGHT - MINUTE + 1_000, f(110), {});
    expect(s.observe(MIDNIGHT, f(3), {})).toBe(false); // a new day: the counted minutes stay
    s.observe(MIDNIGHT + 1_000, f(5), {});
    expect(s.resets).toBe(1);
    expect(s.points(MIDNIGHT + 1_000).slice(-2).map((p) => p.views)).toEqual([10, 2]);
    s.observe(MIDNIGHT + 9 * MINUTE, f(6), {});
    const pts = s.points(MIDNIGHT + 9 * MINUTE);
    expect(pts).toHaveLength(5);
    expect(pts.map((p) => p.views)).toEqual([0, 0, 0, 0, 1]);
  });

  it('starts over when totals go down within the same UTC day (an erasure), so its history is read again up to then', () => {
    const s = new MinuteSeries(60);
    s.observe(T0 + 10_000, f(4, 4, 8), { EUR: 400 });
    s.observe(T0 + 20_000, f(5, 5, 10), { EUR: 500 });
    // Two buyers erased: their views and orders leave the totals.
    expect(s.observe(T0 + MINUTE + 5_000, f(3, 3, 6), { EUR: 300 })).toBe(true);
    expect(s.resets).toBe(0);
    expect(s.baseAt).toBe(T0 + MINUTE + 5_000);
    expect(s.historySince).toBeNull();
    // Nothing the page counted before stays; the minutes before the new baseline are unknown until the history comes.
    expect(s.points(T0 + MINUTE + 5_000).every((p) => p.views === null || p.views === 0)).toBe(true);
    expect(s.points(T0 + MINUTE + 5_000).filter((p) => p.views !== null).map((p) => p.t)).toEqual([T0 + MINUTE]);
    expect(s.seedHistory([{ ts: new Date(T0).toISOString(), views: 2, orders: 2, tickets_sold: 4, revenue: { EUR: 200 } }, { ts: new Date(T0 + MINUTE).toISOString(), views: 1, orders: 1, tickets_sold: 2, revenue: { EUR: 100 } }])).toBe(true);
    expect(s.observe(T0 + MINUTE + 9_000, f(4, 4, 8), { EUR: 400 })).toBe(false);
    const pts = s.points(T0 + MINUTE + 9_000);
    expect(pts.slice(-2).map((p) => [p.views, p.orders, p.revenue])).toEqual([[2, 2, { EUR: 200 }], [2, 2, { EUR: 200 }]]);
  });

  it('keeps no money once revenue is withheld, and starts over when it is given again', () => {
    const s = new MinuteSeries(60);
    s.observe(T0 + 10_000, f(1, 1, 2), { EUR: 100 });
    s.observe(T0 + 20_000, f(2, 2, 4), { EUR: 200 });
    expect(s.observe(T0 + 30_000, f(2, 2, 4), undefined)).toBe(false); // withheld: not a drop
    expect(s.observe(T0 + 40_000, f(3, 3, 6), null)).toBe(false);
    expect(s.points(T0 + 40_000).at(-1)).toEqual({ t: T0, views: 2, orders: 2, tickets: 4, revenue: {} });
    expect(s.observe(T0 + MINUTE, f(3, 3, 6), { EUR: 300 })).toBe(true); // given again: read the history up to now
    expect(s.baseAt).toBe(T0 + MINUTE);
  });

  it('after restart() its next totals are a new baseline, not a difference, and it says so', () => {
    const s = new MinuteSeries(60);
    s.observe(T0 + 10_000, f(1, 1, 2), { EUR: 100 });
    s.restart();
    expect(s.points(T0 + 20_000).every((p) => p.views === null)).toBe(true);
    expect(s.observe(T0 + 5 * MINUTE, f(9, 9, 18), { EUR: 900 })).toBe(true);
    expect(s.observe(T0 + 5 * MINUTE + 1_000, f(10, 9, 18), { EUR: 900 })).toBe(false);
    expect(s.points(T0 + 5 * MINUTE + 1_000).at(-1)!.views).toBe(1);
  });
});

describe('MinuteSeries seeded with the per-minute history', () => {
  // GET …/history?to=<baseline>: one entry per minute up to the baseline's minute
  const hist = (to: number, counts: Record<number, [number, number, number, Record<string, number>?]>, minutes = 60): HistoryMinute[] =>
    Array.from({ length: minutes }, (_, i) => {
      const k = minutes - 1 - i; // minutes before the baseline's minute
      const [views, orders, tickets_sold, revenue] = counts[k] ?? [0, 0, 0, {}];
      return { ts: new Date(Math.floor(to / MINUTE) * MINUTE - k * MINUTE).toISOString(), views, orders, tickets_sold, revenue: revenue ?? {} };
    });

  it('knows every minute of the window from the history, and adds live differences after the baseline', () => {
    const at = T0 + 30_000; // baseline: half way through minute T0
    const s = new MinuteSeries(60);
    s.seed([{ ts: new Date(T0 - 3 * MINUTE).toISOString(), event_id: 'E1', tickets: 1, amount: 5, currency: 'EUR' }], at, { complete: false, oldestTs: T0 - 3 * MINUTE });
    s.observe(at, f(20, 3, 5), { EUR: 70 });
    expect(s.points(at)[0].views).toBeNull(); // before history: unknown
    expect(s.seedHistory(hist(at, { 45: [4, 0, 0], 3: [2, 1, 2, { EUR: 20 }], 0: [3, 1, 1, { EUR: 10.1 }] }))).toBe(true);
    expect(s.historySince).toBe(T0 / MINUTE - 59);
    s.observe(T0 + 50_000, f(22, 4, 6), { EUR: 80.2 }); // after the baseline, same minute
    s.observe(T0 + MINUTE + 1_000, f(23, 4, 6), { EUR: 80.2 });
    const pts = s.points(T0 + MINUTE + 1_000);
    expect(pts.every((p) => p.views !== null && p.orders !== null)).toBe(true); // no "no data" left
    const byMin = (k: number) => pts.find((p) => p.t === T0 - k * MINUTE)!;
    expect(byMin(45)).toEqual({ t: T0 - 45 * MINUTE, views: 4, orders: 0, tickets: 0, revenue: {} });
    // the history replaces the ticker's orders for its minutes
    expect(byMin(3)).toEqual({ t: T0 - 3 * MINUTE, views: 2, orders: 1, tickets: 2, revenue: { EUR: 20 } });
    // the baseline's minute: history up to the baseline + live after it
    expect(byMin(0)).toEqual({ t: T0, views: 3 + 2, orders: 1 + 1, tickets: 1 + 1, revenue: { EUR: 20.3 } });
    expect(byMin(-1)).toMatchObject({ views: 1, orders: 0 });
    expect(pts.reduce((n, p) => n + p.views!, 0)).toBe(4 + 2 + 3 + 2 + 1);
  });

  it('ignores history before the first observe and minutes after the baseline; parses responses strictly', () => {
    const s = new MinuteSeries(60);
    expect(s.seedHistory(hist(T0, { 0: [1, 0, 0] }))).toBe(false);
    s.observe(T0 + 10_000, f(0), {});
    const late = [...hist(T0, { 1: [7, 0, 0] }), { ts: new Date(T0 + MINUTE).toISOString(), views: 99, orders: 0, tickets_sold: 0, revenue: {} }];
    expect(s.seedHistory(late)).toBe(true);
    const pts = s.points(T0 + MINUTE);
    expect(pts.find((p) => p.t === T0 - MINUTE)!.views).toBe(7);
    expect(pts.find((p) => p.t === T0 + MINUTE)!.views).toBe(0);

    const body = { bucket_s: 60, from: 'x', to: 'y', series: [{ ts: '2026-11-21T18:00:00.000Z', views: 1, unique_visitors: 1, add_to_carts: 0, checkouts_started: 0, orders: 1, tickets_sold: 2, revenue: { EUR: 3.5 } }] };
    expect(historyMinutes(body)).toEqual([{ ts: '2026-11-21T18:00:00.000Z', views: 1, orders: 1, tickets_sold: 2, revenue: { EUR: 3.5 } }]);
    expect(historyMinutes({ error: { code: 'forbidden' } })).toBeNull();
    expect(historyMinutes({ series: [{ ts: 'x', views: '1', orders: 0, tickets_sold: 0 }] })).toBeNull();
    expect(historyMinutes(null)).toBeNull();
  });

  it('fetches with the token as a Bearer header, up to now with the day totals; a refusal is an error', async () => {
    const calls: [string, RequestInit | undefined][] = [];
    const reply = (status: number, body: unknown) => Promise.resolve(new Response(JSON.stringify(body), { status }));
    const fetchOk = createHistoryFetcher('http://h', 'v1.tok', ((u: string, init?: RequestInit) => (calls.push([u, init]), reply(200, { series: [] }))) as typeof fetch);
    expect(await fetchOk({ org: 'O 1' }, 60)).toEqual({ minutes: [], day: null });
    await fetchOk({ event: 'E/1' }, 30);
    expect(calls.map((c) => c[0])).toEqual([`http://h/api/v1/live/dashboard/O%201/history?minutes=60&totals=day`, `http://h/api/v1/live/events/E%2F1/history?minutes=30&totals=day`]);
    expect(calls[0][1]?.headers).toEqual({ authorization: 'Bearer v1.tok' });
    const refused = createHistoryFetcher('http://h', 'v1.tok', (() => reply(403, { error: { code: 'forbidden' } })) as typeof fetch);
    await expect(refused({ event: 'E1' }, 60)).rejects.toThrow(/403/);
  });
});

describe('funnel and capacity', () => {
  const funnel: Funnel = { views: 200, unique_visitors: 150, ticket_selections: 90, add_to_carts: 60, checkouts_started: 30, active_checkouts: 4, payment_attempts: 20, payment_failures: 2, orders: 15, tickets_sold: 33 };

  it('gives each step its conversion and drop-off from the previous one, rounded like the server', () => {
    const steps = funnelSteps(funnel);
    expect(steps.map((s) => [s.key, s.value, s.width, s.conversion, s.dropoff])).toEqual([
      ['views', 200, 1, null, null],
      ['ticket_selections', 90, 0.45, 0.45, 0.55],
      ['add_to_carts', 60, 0.3, 0.6667, 0.3333],
      ['checkouts_started', 30, 0.15, 0.5, 0.5],
      ['orders', 15, 0.075, 0.5, 0.5],
    ]);
    const empty = funnelSteps({ ...funnel, views: 0, ticket_selections: 0, add_to_carts: 0, checkouts_started: 0, orders: 0 });
    expect(empty.every((s) => s.width === 0 && s.conversion === null)).toBe(true);
    // counts are events, not people: a later step can exceed an earlier one; drop-off never goes negative
    const odd = funnelSteps({ ...funnel, ticket_selections: 250 });
    expect(odd[1]).toMatchObject({ conversion: 1.25, dropoff: 0, width: 1 });
  });

  it('never shows a conversion above 100 %, a drop-off for an empty step, or continue + drop-off other than 100 %', () => {
    const text = (f: Partial<Funnel>) => {
      const steps = funnelSteps({ ...funnel, ...f });
      return steps.map((st, i) => stepRateText(st, i === 0 ? null : steps[i - 1].value, 'en-US'));
    };
    expect(text({})).toEqual(['', '↓ 45.0% continue · 55.0% drop off', '↓ 66.7% continue · 33.3% drop off', '↓ 50.0% continue · 50.0% drop off', '↓ 50.0% continue · 50.0% drop off']);
    // a step nobody reached yet
    expect(text({ add_to_carts: 0, checkouts_started: 0, orders: 0 }).slice(2)).toEqual(['↓ none yet', '↓ –', '↓ –']);
    // more selections than views (events, not people)
    expect(text({ ticket_selections: 250 })[1]).toBe('↓ all continue · 25.0% more events than the step before');
    // 12.35 % continue: both halves were rounded separately before (12.4 % + 87.7 %)
    expect(text({ views: 2000, ticket_selections: 247 })[1]).toBe('↓ 12.4% continue · 87.6% drop off');
    for (let prev = 1; prev <= 400; prev += 7) {
      for (let value = 1; value <= prev; value += 3) {
        const [, line] = text({ views: prev, ticket_selections: value });
        const [c, d] = [...line.matchAll(/([\d.]+)%/g)].map((m) => Number(m[1]));
        expect(Math.round((c + d) * 10)).toBe(1000);
      }
    }
  });

  it('turns amber at 85 % and red at 95 %', () => {
    expect([0, 84.9, 85, 94.9, 95, 120, null].map(capacityLevel)).toEqual(['ok', 'ok', 'warn', 'warn', 'crit', 'crit', 'unknown']);
  });

  it('formats numbers for people', () => {
    expect(formatMoney(1234.5, 'EUR', 'en-US')).toBe('€1,234.50');
    // Each currency with its own minor units: no yen cents, three decimals for dinars.
    expect(formatMoney(123456789.99, 'JPY', 'en-US')).toBe('¥123,456,790');
    expect(formatMoney(1.5, 'KWD', 'en-US')).toMatch(/^KWD\s1\.500$/); // Intl puts a no-break space after the code
    expect(formatMoney(12, 'XXX', 'en-US')).toMatch(/12\.00/);
    expect(formatRatio(0.4567, 'en-US')).toBe('45.7%');
    expect(formatPercent(84.3, 'en-US')).toBe('84.3%');
    expect(formatPercent(null)).toBe('–');
    expect([500, 12_000, 180_000, 7_300_000].map(formatAgo)).toEqual(['just now', '12 s ago', '3 min ago', '2 h ago']);
    expect([0, 1, 3, 7, 11, 180, 240, 999].map(niceMax)).toEqual([1, 1, 5, 10, 20, 200, 250, 1000]);
    // A count axis labelled at 0, ½ and 1 of its top never shows one label twice (0, 1, 1 at a top of 1).
    for (const v of [0, 1, 2, 3, 7]) {
      const top = countAxisMax(v);
      const labels = [0, 0.5, 1].map((f) => Math.round(top * f));
      expect(new Set(labels).size, `top ${top}`).toBe(3);
    }
  });
});

describe('dashboard sources and assets', () => {
  it('the browser code type-checks with the DOM lib', async () => {
    const tsc = path.join(ROOT, 'node_modules/.bin/tsc');
    const r = await promisify(execFile)(tsc, ['--noEmit', '-p', 'client/dashboard/tsconfig.json'], { cwd: ROOT }).catch((e) => e);
    expect(`${r.stdout ?? ''}${r.stderr ?? ''}`.trim()).toBe('');
  });

  it('bundles on first use, caches, rebuilds when a source changes, and fails clearly without sources', async () => {
    // a copy of the client sources, so the test can edit one
    const root = tmpDir('txl-dash-');
    for (const d of ['client/dashboard', 'client/live']) fs.cpSync(path.join(ROOT, d), path.join(root, d), { recursive: true });
    const log = pino({ level: 'silent' });
    const assets = createDashboardAssets({ log, root, watch: true });
    const a = await assets.script();
    expect(a.body.toString()).toContain('tx_dashboard_token');
    expect(a.gzip.length).toBeLessThan(a.body.length / 2);
    expect(await assets.script()).toBe(a); // cached
    expect(assets.page().body.toString()).toContain('<title>Tixello Live');
    const file = path.join(root, 'client/dashboard/format.ts');
    fs.appendFileSync(file, '\nexport const marker = "rebuilt-after-edit";\nconsole.log(marker);\n');
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(file, later, later);
    const b = await assets.script();
    expect(b).not.toBe(a);
    expect(b.etag).not.toBe(a.etag);
    expect(b.body.toString()).toContain('rebuilt-after-edit');
    // production: no stat calls, the first build stays
    const prod = createDashboardAssets({ log, root, watch: false });
    const p1 = await prod.script();
    fs.utimesSync(file, new Date(Date.now() + 10_000), new Date(Date.now() + 10_000));
    expect(await prod.script()).toBe(p1);

    const missing = createDashboardAssets({ log, root: tmpDir('txl-empty-'), watch: false });
    await expect(missing.script()).rejects.toThrow();
    expect(() => missing.page()).toThrow();
  });
});

describe('noticeText', () => {
  it('says how much of a campaign budget is left, in its currency; an unknown kind has no words', () => {
    expect(noticeText({ kind: 'campaign_budget_low', budget_id: 12, remaining: 50, remaining_pct: 10, currency: 'EUR' }, 'en-US'))
      .toBe('Campaign budget 12: €50.00 left (10.0%). Its campaigns pause when it is spent.');
    expect(noticeText({ kind: 'campaign_budget_low', budget_id: 3, remaining: 1500, remaining_pct: 0.5, currency: 'JPY' }, 'en-US')).toContain('¥1,500 left');
    expect(noticeText({ kind: 'something_else' })).toBeNull();
  });
});
