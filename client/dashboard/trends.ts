// The organizer's 7-day / 30-day history (#history): daily page views, carts, orders and revenue of all its events,
// read from the feature store's aggregates (GET /api/v1/analytics/organizers/{org}?bucket=day) with the dashboard
// token as a Bearer header. Days are UTC; today is partial. A bar chart of views and orders and a table per day.
import { pressDays } from './a11y.js';
import { clear, h, s, text } from './dom.js';
import { formatCount, formatMoney } from './format.js';
import { niceMax } from './series.js';

import { trendDays, trendRange, type TrendDay } from './trend-data.js';

const W = 720;
const H = 160;
const M = { l: 40, r: 40, t: 12, b: 22 };

function renderBars(svg: SVGSVGElement, days: TrendDay[]): void {
  clear(svg);
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const slot = (W - M.l - M.r) / Math.max(1, days.length);
  const ih = H - M.t - M.b;
  const maxV = niceMax(Math.max(0, ...days.map((d) => d.page_views)));
  const maxO = niceMax(Math.max(0, ...days.map((d) => d.orders_completed)));
  days.forEach((d, i) => {
    const x = M.l + i * slot;
    const hv = (d.page_views / maxV) * ih;
    const ho = (d.orders_completed / maxO) * ih;
    svg.append(s('rect', { x: x + slot * 0.1, y: M.t + ih - hv, width: slot * 0.4, height: hv, class: 'bar-views' }, s('title', null, `${d.ts.slice(0, 10)}: ${d.page_views} views`)));
    svg.append(s('rect', { x: x + slot * 0.5, y: M.t + ih - ho, width: slot * 0.4, height: ho, class: 'bar-orders' }, s('title', null, `${d.ts.slice(0, 10)}: ${d.orders_completed} orders`)));
    if (days.length <= 10 || i % 5 === 0) svg.append(s('text', { x: x + slot / 2, y: H - 6, class: 'axis', 'text-anchor': 'middle' }, d.ts.slice(5, 10)));
  });
  svg.append(s('text', { x: M.l - 6, y: M.t + 8, class: 'axis axis-views', 'text-anchor': 'end' }, String(maxV)));
  svg.append(s('text', { x: W - M.r + 6, y: M.t + 8, class: 'axis axis-orders', 'text-anchor': 'start' }, String(maxO)));
}

export class TrendsView {
  readonly el: HTMLElement;
  private chart: SVGSVGElement;
  private body: HTMLElement;
  private note: HTMLElement;
  private days = 7;
  private closed = false;

  constructor(private origin: string, private token: string, private org: string, private onError: (m: string) => void, private doFetch: typeof fetch = (i, o) => fetch(i, o)) {
    const pick = (n: number) => h('button', { type: 'button', class: 'link', 'data-days': String(n), onclick: () => this.load(n) }, `${n} days`);
    this.chart = s('svg', { class: 'chart trends', role: 'img', 'aria-label': 'Views and orders per day' });
    this.body = h('tbody');
    this.note = h('p', { class: 'muted' });
    this.el = h('section', { class: 'trends-view' },
      h('div', { class: 'trends-head' }, h('h1', null, 'History'), pick(7), pick(30), h('a', { class: 'link', href: '#' }, 'Live view')),
      this.chart,
      h('div', { class: 'table-wrap' }, h('table', { class: 'trends-table' }, h('thead', null, h('tr', null, ...['Day', 'Views', 'Carts', 'Checkouts', 'Orders', 'Tickets', 'Revenue'].map((c) => h('th', null, c)))), this.body)),
      this.note);
  }

  start(): void {
    void this.load(this.days);
  }

  destroy(): void {
    this.closed = true;
  }

  private async load(days: number): Promise<void> {
    this.days = days;
    pressDays(this.el.querySelectorAll('[data-days]'), days);
    const { from, to } = trendRange(Date.now(), days);
    try {
      const r = await this.doFetch(`${this.origin}/api/v1/analytics/organizers/${encodeURIComponent(this.org)}?bucket=day&from=${from}&to=${to}`, { headers: { authorization: `Bearer ${this.token}` } });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const list = trendDays(await r.json());
      if (!list) throw new Error('unexpected response');
      if (!this.closed && this.days === days) this.render(list);
    } catch (err) {
      this.onError(`The history could not be loaded (${(err as Error).message}).`);
    }
  }

  private render(days: TrendDay[]): void {
    renderBars(this.chart, days);
    clear(this.body);
    for (const d of [...days].reverse()) {
      const money = Object.entries(d.revenue).map(([c, v]) => formatMoney(v, c)).join(' · ') || '–';
      this.body.append(h('tr', null, ...[d.ts.slice(0, 10), ...[d.page_views, d.add_to_carts, d.checkout_starts, d.orders_completed, d.tickets_sold].map((n) => formatCount(n)), money].map((c) => h('td', null, c))));
    }
    text(this.note, `UTC days from the feature store; today is partial. Bars: views (left scale) and orders (right scale).`);
  }
}
