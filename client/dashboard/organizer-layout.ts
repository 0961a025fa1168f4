// The organizer view's elements, built once: the event tabs, the title, the KPIs, the revenue per currency,
// the funnel and payments, the sales ticker, the last-60-minutes chart, the capacity host and the events
// table. Apart from organizer.ts so the view class there holds only what changes (subscriptions, selection,
// series) and this file only the page's structure, ids and data attributes (the tests read them).
import type { Funnel } from '../live/types.js';
import { attr, h, s } from './dom.js';

export const KPIS: { key: keyof Funnel; label: string; hint: string }[] = [
  { key: 'unique_visitors', label: 'Unique visitors', hint: 'today, any page of the event' },
  { key: 'views', label: 'Event views', hint: 'event page views today' },
  { key: 'active_checkouts', label: 'Active checkouts', hint: 'started in the last 30 min, not completed' },
  { key: 'orders', label: 'Orders', hint: '' },
  { key: 'tickets_sold', label: 'Tickets sold', hint: '' },
];

/** The elements the view updates; `el` is the view's root. */
export interface OrganizerLayout {
  el: HTMLElement;
  tabs: HTMLElement;
  title: HTMLElement;
  kpi: Map<string, { value: HTMLElement; sub: HTMLElement }>;
  revenueList: HTMLElement;
  funnelEl: HTMLElement;
  payments: HTMLElement;
  chart: SVGSVGElement;
  chartNote: HTMLElement;
  tickerList: HTMLElement;
  tickerEmpty: HTMLElement;
  eventsPanel: HTMLElement;
  eventsBody: HTMLElement;
  /** Says how many events the list leaves out (a dashboard lists at most 200). */
  eventsNote: HTMLElement;
  capacityHost: HTMLElement;
  /** The live notices of this page's session (a campaign budget running low), newest first. */
  notices: HTMLElement;
}

export function buildOrganizerLayout(org: string): OrganizerLayout {
  const kpi = new Map<string, { value: HTMLElement; sub: HTMLElement }>();
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Events' });
  const title = h('h1', null, 'All events');
  const kpis = h('div', { class: 'kpis' });
  for (const k of KPIS) {
    const value = h('div', { class: 'value num' }, '–');
    const sub = h('div', { class: 'sub muted' }, k.hint);
    kpis.append(h('div', { class: 'kpi', 'data-kpi': k.key }, h('div', { class: 'label' }, k.label), value, sub));
    kpi.set(k.key, { value, sub });
  }
  const revenueList = h('div', { class: 'value revenue' }, '–');
  kpis.append(h('div', { class: 'kpi kpi-revenue', 'data-kpi': 'revenue' }, h('div', { class: 'label' }, 'Revenue'), revenueList, h('div', { class: 'sub muted' }, 'gross, per currency')));

  const funnelEl = h('ol', { class: 'funnel' });
  const payments = h('p', { class: 'muted payments' });
  const chart = s('svg', { class: 'chart', id: 'chart', role: 'img', 'aria-label': 'Event views and orders per minute, last 60 minutes' });
  attr(chart, 'data-history', 'none');
  const chartNote = h('p', { class: 'muted note' });
  const tickerList = h('ol', { class: 'ticker', id: 'ticker' });
  const tickerEmpty = h('p', { class: 'muted empty' }, 'No sales yet today.');
  const eventsBody = h('tbody');
  const eventsNote = h('p', { class: 'muted note', id: 'events-note', hidden: true });
  const eventsPanel = h(
    'section',
    { class: 'panel events' },
    h('h2', null, 'Events'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { id: 'events-table' },
        h('thead', null, h('tr', null, ...['Event', 'Views', 'Visitors', 'Carts', 'Checkouts', 'Orders', 'Tickets', 'Revenue', 'View → order'].map((c, i) => h('th', { class: i > 0 ? 'num' : null }, c)))),
        eventsBody,
      ),
    ),
    eventsNote,
  );
  const capacityHost = h('div', { class: 'capacity-host' });
  const notices = h('ul', { class: 'notices', id: 'notices', 'aria-live': 'polite', hidden: true });

  const el = h(
    'div',
    { class: 'organizer', id: 'organizer-view', 'data-org': org, 'data-selected': 'all' },
    tabs,
    notices,
    h('div', { class: 'title-row' }, title),
    kpis,
    h(
      'div',
      { class: 'grid2' },
      h('section', { class: 'panel' }, h('h2', null, 'Funnel'), funnelEl, payments),
      h('section', { class: 'panel' }, h('h2', null, 'Sales ticker'), tickerEmpty, tickerList),
    ),
    h(
      'section',
      { class: 'panel' },
      h('h2', null, 'Last 60 minutes'),
      h('div', { class: 'legend' }, h('span', { class: 'key key-line' }), ' event views / min (left)  ', h('span', { class: 'key key-bar' }), ' orders / min (right)'),
      chart,
      chartNote,
    ),
    capacityHost,
    eventsPanel,
  );
  return { el, tabs, title, kpi, revenueList, funnelEl, payments, chart, chartNote, tickerList, tickerEmpty, eventsPanel, eventsBody, eventsNote, capacityHost, notices };
}
