// The last-60-minutes chart, hand-drawn in SVG: orders per minute as bars (right axis), event views per
// minute as a line (left axis). Minutes the page does not know (before it subscribed, when the server's
// per-minute history could not be loaded, or while it loads) are shaded "no data".
import { formatMinute, formatMoney } from './format.js';
import { s, clear } from './dom.js';
import { countAxisMax, niceMax, type MinutePoint } from './series.js';
import { axisLabel, CHART_H as H, CHART_MARGIN as M, chartWidth, timeLabels } from './chart-layout.js';

export interface ChartOptions {
  /** The label of the "no data" area (default: views before the page opened are unknown). */
  nodata?: string;
}

export function renderChart(svg: SVGSVGElement, points: MinutePoint[], locale?: string, opts: ChartOptions = {}): void {
  clear(svg);
  // Drawn at (about) its size on screen: a 720-unit drawing shrunk to a phone's 310 px made its labels 4 px tall.
  const W = chartWidth(svg.clientWidth);
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const n = points.length;
  const iw = W - M.l - M.r;
  const ih = H - M.t - M.b;
  const slot = iw / n;
  const maxViews = countAxisMax(Math.max(0, ...points.map((p) => p.views ?? 0)));
  const maxOrders = niceMax(Math.max(0, ...points.map((p) => p.orders ?? 0)));
  const x = (i: number) => M.l + i * slot;
  const yV = (v: number) => M.t + ih - (v / maxViews) * ih;
  const yO = (v: number) => M.t + ih - (v / maxOrders) * ih;

  // gridlines and axis labels
  for (const f of [0, 0.5, 1]) {
    const y = M.t + ih - f * ih;
    svg.append(s('line', { x1: M.l, x2: W - M.r, y1: y, y2: y, class: 'grid' }));
    svg.append(s('text', { x: M.l - 6, y: y + 4, class: 'axis axis-views', 'text-anchor': 'end' }, axisLabel(maxViews * f)));
    svg.append(s('text', { x: W - M.r + 6, y: y + 4, class: 'axis axis-orders', 'text-anchor': 'start' }, axisLabel(maxOrders * f)));
  }
  // minutes whose views the page does not know (before it subscribed, without history); orders may still be known there
  const firstKnown = points.findIndex((p) => p.views !== null);
  const unknownTo = firstKnown === -1 ? n : firstKnown;
  if (unknownTo > 0) {
    svg.append(s('rect', { x: M.l, y: M.t, width: unknownTo * slot, height: ih, class: 'nodata' }));
    if (unknownTo * slot > 200) svg.append(s('text', { x: M.l + (unknownTo * slot) / 2, y: M.t + ih / 2, class: 'nodata-label', 'text-anchor': 'middle' }, opts.nodata ?? 'views: no data before this page opened'));
  }
  // orders: bars
  const bars = s('g', { class: 'bars' });
  points.forEach((p, i) => {
    if (!p.orders) return;
    const y = yO(p.orders);
    bars.append(s('rect', { x: x(i) + slot * 0.15, y, width: slot * 0.7, height: M.t + ih - y, class: 'bar', 'data-minute': p.t, 'data-orders': p.orders }));
  });
  svg.append(bars);
  // views: line, broken where unknown
  let d = '';
  let pen = false;
  points.forEach((p, i) => {
    if (p.views === null) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${(x(i) + slot / 2).toFixed(1)},${yV(p.views).toFixed(1)}`;
    pen = true;
  });
  if (d) svg.append(s('path', { d, class: 'line' }));
  const dots = s('g', { class: 'dots' });
  points.forEach((p, i) => {
    if (p.views !== null) dots.append(s('circle', { cx: (x(i) + slot / 2).toFixed(1), cy: yV(p.views).toFixed(1), r: 2.6, class: 'dot', 'data-minute': p.t, 'data-views': p.views }));
  });
  svg.append(dots);
  // time labels: every 15 minutes, and "now"
  for (const l of timeLabels(points, W, locale)) svg.append(s('text', { x: l.x, y: H - 6, class: 'axis', 'text-anchor': l.anchor }, l.text));
  // hover targets with a native tooltip per minute
  const hover = s('g', { class: 'hover' });
  points.forEach((p, i) => {
    const parts = [formatMinute(p.t, locale)];
    parts.push(p.views === null ? 'views: no data' : `${p.views} view${p.views === 1 ? '' : 's'}`);
    if (p.orders !== null) {
      const money = Object.entries(p.revenue ?? {}).map(([c, v]) => formatMoney(v, c, locale)).join(', ');
      parts.push(`${p.orders} order${p.orders === 1 ? '' : 's'}${p.tickets ? ` · ${p.tickets} tickets` : ''}${money ? ` · ${money}` : ''}`);
    }
    hover.append(s('rect', { x: x(i), y: M.t, width: slot, height: ih, class: 'slot' }, s('title', null, parts.join(' — '))));
  });
  svg.append(hover);
}
