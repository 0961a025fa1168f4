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

export const REVENUE_HINT = 'gross, per currency';
export const TICKER_EMPTY = 'No sales yet today.';

/** The elements the view updates; `el` is the view's root. */
export interface OrganizerLayout {
  el: HTMLElement;
  tabs: HTMLElement;
  title: HTMLElement;
  kpi: Map<string, { value: HTMLElement; sub: HTMLElement }>;
  revenueList: HTMLElement;
  /** The line under the revenue: what it counts, or why it is not shown. */
  revenueSub: HTMLElement;
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
  /** Says which figures the token no longer reads and why (the permission its role lacks), with a Retry button. */
  access: HTMLElement;
  accessText: HTMLElement;
  accessRetry: HTMLButtonElement;
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
  const revenueSub = h('div', { class: 'sub muted' }, REVENUE_HINT);
  kpis.append(h('div', { class: 'kpi kpi-revenue', 'data-kpi': 'revenue' }, h('div', { class: 'label' }, 'Revenue'), revenueList, revenueSub));

  const funnelEl = h('ol', { class: 'funnel' });
  const payments = h('p', { class: 'muted payments' });
  const chart = s('svg', { class: 'chart', id: 'chart', role: 'img', 'aria-label': 'Event views and orders per minute, last 60 minutes' });
  attr(chart, 'data-history', 'none');
  const chartNote = h('p', { class: 'muted note' });
  const tickerList = h('ol', { class: 'ticker', id: 'ticker' });
  const tickerEmpty = h('p', { class: 'muted empty' }, TICKER_EMPTY);
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
  const accessText = h('span', { class: 'access-text' });
  const accessRetry = h('button', { type: 'button', id: 'access-retry' }, 'Retry');
  const access = h('div', { class: 'access', id: 'access', role: 'alert', hidden: true }, accessText, ' ', accessRetry);

  const el = h(
    'div',
    { class: 'organizer', id: 'organizer-view', 'data-org': org, 'data-selected': 'all' },
    tabs,
    access,
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
  return { el, tabs, title, kpi, revenueList, revenueSub, funnelEl, payments, chart, chartNote, tickerList, tickerEmpty, eventsPanel, eventsBody, eventsNote, capacityHost, notices, access, accessText, accessRetry };
}
