// The artist and venue views (#artist/{id}, #venue/{id}): seed 003's analytics_artist_daily / analytics_venue_daily
// over 7, 30 or 90 UTC days, read from GET /api/v1/analytics/{artists|venues}/{id} with the dashboard token as a
// Bearer header (as trends.ts). Totals over the range, a bar chart of profile views and event impressions per day,
// and a table per day. Neither table carries money, so there is nothing to hide from an artist token; a column the
// answer leaves out is not drawn. A refusal or a failed request replaces the figures with a readable message.
import { clear, h, number, s, text } from './dom.js';
import {
  ENTITY_RANGES, chartColumns, entityErrorMessage, entityHash, entityReport, entityUrl, formatFigure,
  type EntityColumn, type EntityReport, type EntityRoute,
} from './entity-data.js';
import { niceMax } from './series.js';
import { trendRange } from './trend-data.js';

const W = 720;
const H = 160;
const M = { l: 40, r: 40, t: 12, b: 22 };

/** Two bar series per day, each on its own scale (left and right), like the history view's chart. */
function renderBars(svg: SVGSVGElement, r: EntityReport): void {
  clear(svg);
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const [a, b] = chartColumns(r);
  const slot = (W - M.l - M.r) / Math.max(1, r.days.length);
  const ih = H - M.t - M.b;
  const scale = (c: EntityColumn | undefined) => (c ? niceMax(Math.max(0, ...r.days.map((d) => d.values[c.key] ?? 0))) : 1);
  const [maxA, maxB] = [scale(a), scale(b)];
  r.days.forEach((d, i) => {
    const x = M.l + i * slot;
    const day = d.date.slice(0, 10);
    for (const [c, max, off, cls] of [[a, maxA, 0.1, 'bar-a'], [b, maxB, 0.5, 'bar-b']] as const) {
      if (!c) continue;
      const v = d.values[c.key] ?? 0;
      const hv = (v / max) * ih;
      svg.append(s('rect', { x: x + slot * off, y: M.t + ih - hv, width: slot * 0.4, height: hv, class: cls, 'data-date': day, 'data-value': v }, s('title', null, `${day}: ${v} ${c.label.toLowerCase()}`)));
    }
    if (r.days.length <= 10 || i % Math.ceil(r.days.length / 12) === 0) svg.append(s('text', { x: x + slot / 2, y: H - 6, class: 'axis', 'text-anchor': 'middle' }, d.date.slice(5, 10)));
  });
  if (a) svg.append(s('text', { x: M.l - 6, y: M.t + 8, class: 'axis axis-a', 'text-anchor': 'end' }, String(maxA)));
  if (b) svg.append(s('text', { x: W - M.r + 6, y: M.t + 8, class: 'axis axis-b', 'text-anchor': 'start' }, String(maxB)));
}

export interface EntityViewOptions {
  /** Where "Live view" leads (the organizer's live dashboard), or null when the token has none. */
  back: string | null;
  /** The token's own artists or venues, as quick links (artist and venue tokens). */
  mine: EntityRoute[];
}

export class EntityView {
  readonly el: HTMLElement;
  private status: HTMLElement;
  private figures: HTMLElement;
  private totals: HTMLElement;
  private legend: HTMLElement;
  private chart: SVGSVGElement;
  private head: HTMLElement;
  private body: HTMLElement;
  private note: HTMLElement;
  private days: number = ENTITY_RANGES[0];
  private closed = false;

  constructor(private origin: string, private token: string, private route: EntityRoute, opts: EntityViewOptions, private doFetch: typeof fetch = (i, o) => fetch(i, o)) {
    const label = route.kind === 'artist' ? 'Artist' : 'Venue';
    const pick = (n: number) => h('button', { type: 'button', class: 'link', 'data-days': String(n), onclick: () => void this.load(n) }, `${n} days`);
    const others = opts.mine.filter((m) => m.kind !== route.kind || m.id !== route.id);
    this.status = h('p', { class: 'entity-status muted', role: 'status' }, 'Loading…');
    this.totals = h('div', { class: 'kpis entity-totals', id: 'entity-totals' });
    this.legend = h('div', { class: 'legend' });
    this.chart = s('svg', { class: 'chart entity-chart', id: 'entity-chart', role: 'img', 'aria-label': `${label} figures per day` });
    this.head = h('tr');
    this.body = h('tbody');
    this.note = h('p', { class: 'muted note' });
    this.figures = h('div', { class: 'entity-figures' },
      this.totals,
      h('section', { class: 'panel' }, h('h2', null, 'Per day'), this.legend, this.chart),
      h('section', { class: 'panel' }, h('div', { class: 'table-wrap' }, h('table', { class: 'entity-table', id: 'entity-table' }, h('thead', null, this.head), this.body)), this.note));
    this.figures.hidden = true;
    this.el = h('section', { class: 'entity-view', id: 'entity-view', 'data-kind': route.kind, 'data-id': route.id, 'data-state': 'loading' },
      h('div', { class: 'trends-head title-row' },
        h('h1', null, `${label} `, h('span', { class: 'entity-id' }, route.id)),
        ...ENTITY_RANGES.map(pick),
        opts.back !== null ? h('a', { class: 'link', href: opts.back }, 'Live view') : null,
        others.length ? h('span', { class: 'muted' }, 'Also: ', ...others.flatMap((m, i) => [i ? ' · ' : '', h('a', { class: 'link', href: entityHash(m) }, m.id)])) : null),
      this.status,
      this.figures);
  }

  start(): void {
    void this.load(this.days);
  }

  destroy(): void {
    this.closed = true;
  }

  private async load(days: number): Promise<void> {
    this.days = days;
    for (const b of this.el.querySelectorAll('[data-days]')) b.toggleAttribute('aria-pressed', b.getAttribute('data-days') === String(days));
    this.el.setAttribute('data-state', 'loading');
    text(this.status, `Loading ${days} days…`);
    const msg = await this.fetchReport(days);
    // A later pick (or leaving the view) wins over an answer that arrives late.
    if (this.closed || this.days !== days) return;
    if (typeof msg === 'string') this.showError(msg);
    else this.render(msg);
  }

  /** The report, or the message to show instead. */
  private async fetchReport(days: number): Promise<EntityReport | string> {
    let r: Response;
    try {
      r = await this.doFetch(entityUrl(this.origin, this.route, trendRange(Date.now(), days)), { headers: { authorization: `Bearer ${this.token}` } });
    } catch (err) {
      return entityErrorMessage(this.route, 0, null, (err as Error).message);
    }
    const body: unknown = await r.json().catch((err: Error) => ({ error: { message: `unreadable answer (${err.message})` } }));
    if (!r.ok) return entityErrorMessage(this.route, r.status, body);
    return entityReport(this.route.kind, body) ?? entityErrorMessage(this.route, r.status, { error: { message: 'the answer is not a daily analytics report' } });
  }

  private showError(message: string): void {
    this.el.setAttribute('data-state', 'error');
    this.figures.hidden = true;
    this.status.className = 'entity-status error-box';
    this.status.setAttribute('role', 'alert');
    text(this.status, message);
  }

  private render(r: EntityReport): void {
    this.renderTotals(r);
    clear(this.legend);
    chartColumns(r).forEach((c, i) => this.legend.append(h('span', { class: `key key-${i ? 'b' : 'a'}` }), ` ${c.label.toLowerCase()} (${i ? 'right' : 'left'})  `));
    renderBars(this.chart, r);
    this.renderTable(r);
    text(this.note, `UTC days ${r.from.slice(0, 10)} to ${r.days.at(-1)?.date.slice(0, 10) ?? r.to.slice(0, 10)}; today is partial. Figures as GET /api/v1/analytics/${r.kind}s/{id} answers them.`);
    this.status.className = 'entity-status muted';
    this.status.setAttribute('role', 'status');
    text(this.status, '');
    this.figures.hidden = false;
    this.el.setAttribute('data-state', 'ready');
    this.el.setAttribute('data-days', String(this.days));
  }

  private renderTotals(r: EntityReport): void {
    clear(this.totals);
    for (const c of r.columns) {
      const v = r.totals[c.key];
      const value = h('div', { class: 'value num' }, formatFigure(c, v));
      if (v !== null) number(value, v, formatFigure(c, v));
      this.totals.append(h('div', { class: 'kpi', 'data-kpi': c.key }, h('div', { class: 'label' }, c.label), value, h('div', { class: 'sub muted' }, c.hint)));
    }
  }

  private renderTable(r: EntityReport): void {
    clear(this.head);
    this.head.append(h('th', null, 'Day'), ...r.columns.map((c) => h('th', { class: 'num', 'data-key': c.key }, c.label)));
    clear(this.body);
    for (const d of [...r.days].reverse()) {
      const cells = r.columns.map((c) => {
        const v = d.values[c.key];
        return h('td', { class: 'num', 'data-key': c.key, 'data-value': v === null ? null : String(v) }, formatFigure(c, v));
      });
      this.body.append(h('tr', { 'data-date': d.date.slice(0, 10) }, h('td', null, d.date.slice(0, 10)), ...cells));
    }
  }
}
