// The live dashboard's 60-minute chart (client/dashboard/chart.ts, its label rules in chart-layout.ts) drawn into a
// stand-in for the DOM: the axis labels say the gridlines' true values, and the time labels under it never run into
// each other or into "now", whatever width the chart is drawn at (360 units on a phone, up to 720 on a desktop).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axisLabel, chartWidth, timeLabels } from '../client/dashboard/chart-layout.js';
import { countAxisMax, type MinutePoint } from '../client/dashboard/series.js';

// chart.ts needs the DOM lib, which this project's tsconfig leaves out (client/dashboard/tsconfig.json checks it):
// imported by a path tsc does not follow.
const CHART = '../client/dashboard/chart.js';
let renderChart: (svg: unknown, points: MinutePoint[], locale?: string) => void;

/** Just what dom.ts and chart.ts call on SVG elements. */
class FakeEl {
  attrs = new Map<string, string>();
  children: (FakeEl | string)[] = [];
  constructor(readonly tag: string, public clientWidth = 0) {}
  setAttribute(k: string, v: string) {
    this.attrs.set(k, String(v));
  }
  append(...c: (FakeEl | string)[]) {
    this.children.push(...c);
  }
  get firstChild() {
    return this.children[0] ?? null;
  }
  removeChild(c: FakeEl | string) {
    this.children.splice(this.children.indexOf(c), 1);
  }
  addEventListener() {}
  get textContent(): string {
    return this.children.map((c) => (typeof c === 'string' ? c : c.textContent)).join('');
  }
}

const g = globalThis as { document?: unknown };
let saved: unknown;
beforeAll(async () => {
  ({ renderChart } = await import(CHART));
  saved = g.document;
  g.document = { createElementNS: (_ns: string, tag: string) => new FakeEl(tag) };
});
afterAll(() => {
  g.document = saved;
});

/** 60 minutes ending with the minute of `nowMinute` past the (local) hour; views as given for the last few. */
function points(nowMinute: number, lastViews: number[] = [1]): MinutePoint[] {
  const end = new Date(2026, 5, 12, 10, nowMinute, 0, 0).getTime();
  return Array.from({ length: 60 }, (_, i) => {
    const k = 59 - i;
    const v = k < lastViews.length ? lastViews[k] : 0;
    return { t: end - k * 60_000, views: v, orders: 0, tickets: 0, revenue: {} };
  });
}

function draw(pts: MinutePoint[], clientWidth: number) {
  const svg = new FakeEl('svg', clientWidth);
  renderChart(svg, pts, 'en-GB');
  const texts = svg.children.filter((c): c is FakeEl => typeof c !== 'string' && c.tag === 'text');
  const W = Number(svg.attrs.get('viewBox')!.split(' ')[2]);
  return {
    W,
    views: texts.filter((t) => t.attrs.get('class') === 'axis axis-views').map((t) => t.textContent),
    orders: texts.filter((t) => t.attrs.get('class') === 'axis axis-orders').map((t) => t.textContent),
    times: texts.filter((t) => t.attrs.get('class') === 'axis').map((t) => ({ x: Number(t.attrs.get('x')), text: t.textContent, anchor: t.attrs.get('text-anchor') })),
  };
}

/** DejaVu Sans advance widths in em (Chromium's sans-serif on Linux, the widest of the usual system fonts). */
const EM: Record<string, number> = { n: 0.634, o: 0.612, w: 0.818, ':': 0.337 };
const measured = (s: string) => [...s].reduce((sum, ch) => sum + (EM[ch] ?? 0.636), 0) * 10.5;

describe('the 60-minute chart', () => {
  it('labels the views axis with the gridlines’ true values (2.5, not 3)', () => {
    expect(draw(points(30, [4, 1]), 700).views).toEqual(['0', '2.5', '5']);
    expect(draw(points(30, [22]), 700).views).toEqual(['0', '12.5', '25']);
    expect(draw(points(30, [240]), 700).views).toEqual(['0', '125', '250']);
    expect(draw(points(30, [2]), 700).views).toEqual(['0', '1', '2']);
    expect(axisLabel(countAxisMax(4) / 2)).toBe('2.5');
    expect(axisLabel(0.5)).toBe('0.5');
    expect(axisLabel(12.5)).toBe('12.5');
    expect(axisLabel(1000)).toBe('1000');
  });

  it('keeps every time label clear of the next one and of "now", at any width and any minute', () => {
    for (const clientWidth of [300, 330, 360, 420, 500, 600, 720, 1000]) {
      for (let m = 0; m < 15; m++) {
        const { W, times } = draw(points(45 + m), clientWidth);
        expect(times.at(-1)).toMatchObject({ text: 'now', anchor: 'end' });
        const spans = times.map((t) => (t.anchor === 'end' ? [t.x - measured(t.text), t.x] : [t.x - measured(t.text) / 2, t.x + measured(t.text) / 2]));
        for (let i = 1; i < spans.length; i++) expect(spans[i][0] - spans[i - 1][1], `width ${W}, now at 10:${45 + m}: ${times.map((t) => t.text).join(' ')}`).toBeGreaterThanOrEqual(3);
        expect(spans[0][0]).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it('drops only the quarter hours too close to "now" for the width: a phone loses 10:45 at 10:49, a desktop keeps it at 10:50', () => {
    const phone = draw(points(49), 340);
    expect(phone.W).toBe(360);
    expect(phone.times.map((t) => t.text)).toEqual(['10:00', '10:15', '10:30', 'now']);
    expect(draw(points(50), 720).times.map((t) => t.text)).toEqual(['10:00', '10:15', '10:30', '10:45', 'now']);
    expect(draw(points(59), 360).times.map((t) => t.text)).toEqual(['10:00', '10:15', '10:30', '10:45', 'now']);
    // the same rule without the DOM: by width, not by minutes
    expect(chartWidth(310)).toBe(360);
    expect(timeLabels(points(49), 360, 'en-GB').map((l) => l.text)).not.toContain('10:45');
    expect(timeLabels(points(50), 720, 'en-GB').map((l) => l.text)).toContain('10:45');
  });
});
