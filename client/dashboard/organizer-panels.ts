// How the organizer view's panels show a state: revenue per currency, funnel steps (conversion and drop-off),
// the sales ticker (new rows marked), the events table and the chart's note on where its numbers come from.
// Functions of the elements (organizer-layout.ts) and the data only, apart from the view class so what each
// panel shows can be read without the subscription and selection logic around it.
import type { DashboardData, Funnel, Revenue, TickerEntry } from '../live/types.js';
import { attr, clear, flash, h, number, text } from './dom.js';
import { formatClock, formatCount, formatMoney, formatRatio } from './format.js';
import { funnelSteps, stepRateText } from './funnel.js';
import type { MinuteSeries } from './series.js';

/** Whether the chart's minutes were seeded from the server's history, are loading, failed or were never asked. */
export type HistoryState = 'seeded' | 'pending' | 'failed' | 'none';

/**
 * One number per currency; the list is rebuilt only when the currencies change, and a changed value flashes.
 * Without revenue (null: the topic carries none for this token, or no figures at all) it shows a dash only.
 */
export function renderRevenue(list: HTMLElement, els: Map<string, HTMLElement>, revenue: Revenue | null | undefined): void {
  if (!revenue) {
    if (list.hasAttribute('data-withheld')) return;
    clear(list);
    els.clear();
    attr(list, 'data-currencies', null);
    attr(list, 'data-withheld', 'true');
    list.append('–');
    return;
  }
  attr(list, 'data-withheld', null);
  const entries = Object.entries(revenue).sort(([a], [b]) => a.localeCompare(b));
  const want = entries.map(([c]) => c).join(',');
  if (list.getAttribute('data-currencies') !== want) {
    clear(list);
    els.clear();
    attr(list, 'data-currencies', want);
    if (!entries.length) list.append('–');
    for (const [c] of entries) {
      const el = h('div', { class: 'num', 'data-currency': c });
      els.set(c, el);
      list.append(el);
    }
  }
  for (const [c, v] of entries) {
    const el = els.get(c)!;
    const before = el.getAttribute('data-value');
    number(el, v, formatMoney(v, c));
    if (before !== null && before !== String(v)) flash(el);
  }
}

/** The funnel's steps, built once per step count, then updated in place (value, bar width, rates); none without figures (null). */
export function renderFunnel(funnelEl: HTMLElement, f: Funnel | null): void {
  if (!f) {
    clear(funnelEl);
    return;
  }
  const steps = funnelSteps(f);
  if (funnelEl.children.length !== steps.length) {
    clear(funnelEl);
    for (const st of steps) {
      funnelEl.append(
        h(
          'li',
          { class: 'step', 'data-step': st.key },
          h('div', { class: 'step-rate muted' }),
          h('div', { class: 'step-head' }, h('span', { class: 'step-label' }, st.label), h('span', { class: 'step-value num' })),
          h('div', { class: 'step-bar' }, h('div', { class: 'step-fill' })),
        ),
      );
    }
  }
  steps.forEach((st, i) => {
    const li = funnelEl.children[i] as HTMLElement;
    number(li.querySelector('.step-value')!, st.value, formatCount(st.value));
    attr(li, 'data-value', String(st.value));
    const fill = li.querySelector('.step-fill') as HTMLElement;
    const w = `${(st.width * 100).toFixed(2)}%`;
    if (fill.style.width !== w) fill.style.width = w;
    const rate = li.querySelector('.step-rate')!;
    attr(li, 'data-conversion', st.conversion === null ? null : String(st.conversion));
    attr(li, 'data-dropoff', st.dropoff === null ? null : String(st.dropoff));
    text(rate, stepRateText(st, i === 0 ? null : steps[i - 1].value));
  });
}

/** The ticker's rows; a row not in `seen` is marked new once the ticker was `primed` (shown once before). `all` joins `seen`. */
export function renderTicker(ui: { tickerList: HTMLElement; tickerEmpty: HTMLElement }, all: TickerEntry[], rows: TickerEntry[], seen: Set<string>, primed: boolean): void {
  ui.tickerEmpty.hidden = rows.length > 0;
  clear(ui.tickerList);
  for (const t of rows) {
    const key = `${t.ts}|${t.event_id}|${t.amount}|${t.currency}|${t.tickets}`;
    const fresh = primed && !seen.has(key);
    ui.tickerList.append(
      h(
        'li',
        { class: fresh ? 'new' : null, 'data-ticker-row': '' },
        h('time', { datetime: t.ts, class: 'muted num' }, formatClock(t.ts)),
        h('span', { class: 'ev', 'data-event-id': t.event_id }, h('span', { class: 'evt' }, t.event_title ?? t.event_id), t.category ? h('span', { class: 'cat muted' }, ` · ${t.category}`) : null),
        h('span', { class: 'tk num' }, `${t.tickets} ticket${t.tickets === 1 ? '' : 's'}`),
        h('span', { class: 'amt num', 'data-value': t.amount, 'data-currency': t.currency }, formatMoney(t.amount, t.currency)),
      ),
    );
  }
  for (const t of all) seen.add(`${t.ts}|${t.event_id}|${t.amount}|${t.currency}|${t.tickets}`);
}

/** One row per event of the overview; a row (click or Enter) selects its event. `unavailable`: why there are no rows to show. */
export function renderEvents(body: HTMLElement, rows: DashboardData['events'], select: (eventId: string) => void, unavailable: string | null = null): void {
  clear(body);
  if (unavailable !== null || !rows.length) {
    body.append(h('tr', null, h('td', { colspan: 9, class: 'muted' }, unavailable ?? 'No events with activity today yet.')));
    return;
  }
  for (const r of rows) {
    const f = r.funnel;
    const money = Object.entries(r.revenue ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([c, v]) => formatMoney(v, c)).join(' · ') || '–';
    body.append(
      h(
        'tr',
        { 'data-event-row': r.event_id, tabindex: 0, onclick: () => select(r.event_id), onkeydown: (e: KeyboardEvent) => e.key === 'Enter' && select(r.event_id) },
        h('td', { class: 'ev-name', title: r.event_title ?? r.event_id }, h('a', { href: `#event=${encodeURIComponent(r.event_id)}` }, r.event_title ?? r.event_id)),
        ...[f.views, f.unique_visitors, f.add_to_carts, f.checkouts_started, f.orders, f.tickets_sold].map((v) => h('td', { class: 'num' }, formatCount(v))),
        h('td', { class: 'num' }, money),
        h('td', { class: 'num' }, formatRatio(r.conversion.view_to_order)),
      ),
    );
  }
}

/** The note under the chart: since when this page counted and where the earlier minutes came from. */
export function chartNoteText(ser: MinuteSeries | undefined, state: HistoryState): string {
  if (!ser || ser.viewsSince === null) return 'Waiting for data…';
  const hhmm = (ms: number) => new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });
  if (state === 'seeded') return `Per minute from the server's history until ${hhmm(ser.baseAt!)}, then counted live by this page.`;
  if (state === 'pending') return 'Loading the last hour from the server…';
  const since = hhmm(ser.viewsSince * 60_000);
  const orders = ser.ordersSince === -Infinity ? 'orders of the whole window (from the sales ticker)' : ser.ordersSince !== null && ser.ordersSince < ser.viewsSince ? 'orders a little earlier (from the sales ticker)' : 'orders from then too';
  return `Counted by this page since ${since}; ${orders}.${state === 'failed' ? " The server's per-minute history could not be loaded." : ''}`;
}
