// Where the 60-minute chart (chart.ts) puts its labels: the axes' values and the time labels under it. No DOM here,
// so the rules are tested as they are (test/dashboard-chart-unit.test.ts).
import { formatMinute } from './format.js';
import type { MinutePoint } from './series.js';

export const CHART_H = 190;
/** Drawing width in user units: the chart's own width on screen, between 360 and 720 (720 when not laid out yet). */
const MAX_W = 720;
const MIN_W = 360;
export const CHART_MARGIN = { l: 40, r: 40, t: 14, b: 24 };

/** The drawing's width for a chart `clientWidth` px wide on screen (0: not laid out yet). Pure. */
export function chartWidth(clientWidth: number): number {
  return clientWidth > 0 ? Math.max(MIN_W, Math.min(MAX_W, Math.round(clientWidth))) : MAX_W;
}

/** A gridline's value as drawn: the value itself, with one decimal where it has one (2.5, not "3"). Pure. */
export function axisLabel(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/** The axis labels' font size in drawing units (app.css: svg.chart .axis), and a character's width in em, rounded up
 *  (digits are 0.55–0.64 em in the usual system fonts, DejaVu Sans the widest). */
const AXIS_FONT = 10.5;
const CHAR_EM = 0.65;
/** Space kept between two time labels, in drawing units. */
const LABEL_GAP = 6;

/** A label's width in drawing units, estimated from its characters (the page does not measure text). Pure. */
export const labelWidth = (label: string): number => label.length * AXIS_FONT * CHAR_EM;

export interface TimeLabel {
  x: number;
  text: string;
  anchor: 'middle' | 'end';
}

/**
 * The time labels under a chart `W` units wide: "now" under the last minute, and each quarter hour that fits
 * without touching the label to its right, so a narrow chart drops those closest to "now" ("10:45now" at 375 px).
 * Which ones fit is a matter of width, not minutes: a minute is 4.7 units on a phone and 10.7 on a desktop. Pure.
 */
export function timeLabels(points: MinutePoint[], W: number, locale?: string): TimeLabel[] {
  const n = points.length;
  if (n === 0) return [];
  const slot = (W - CHART_MARGIN.l - CHART_MARGIN.r) / n;
  const centre = (i: number) => CHART_MARGIN.l + i * slot + slot / 2;
  const out: TimeLabel[] = [{ x: centre(n - 1), text: 'now', anchor: 'end' }];
  let left = centre(n - 1) - labelWidth('now');
  for (let i = n - 2; i >= 0; i--) {
    if (new Date(points[i].t).getMinutes() % 15 !== 0) continue;
    const text = formatMinute(points[i].t, locale);
    const half = labelWidth(text) / 2;
    if (centre(i) + half + LABEL_GAP > left || centre(i) - half < 0) continue;
    out.unshift({ x: centre(i), text, anchor: 'middle' });
    left = centre(i) - half;
  }
  return out;
}
