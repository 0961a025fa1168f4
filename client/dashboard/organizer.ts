// Organizer view: the overview of all the organizer's events (analytics:dashboard:{org}) or one event
// (analytics:event:{id}, which adds gate capacity): KPIs, the funnel with step conversion and drop-off,
// the last 60 minutes (seeded from the store's per-minute history, then live), the sales ticker and, in
// the overview, one row per event.
import type { LiveClient, Subscription } from '../live/client.js';
import { topics, type DashboardData, type EventData, type Funnel, type Revenue, type TickerEntry, type TopicMessage } from '../live/types.js';
import { CapacityPanel } from './capacity.js';
import { renderChart } from './chart.js';
import { attr, clear, flash, h, number, s, text } from './dom.js';
import { formatClock, formatCount, formatMoney, formatRatio } from './format.js';
import { funnelSteps, stepRateText } from './funnel.js';
import type { FetchHistory } from './history.js';
import { MinuteSeries, type HistoryMinute } from './series.js';

/** The server keeps this many orders in the ticker. */
const TICKER_CAP = 20;
const ZERO = { views: 0, orders: 0, tickets_sold: 0 };
const ALL = '';
const WINDOW = 60;

const KPIS: { key: keyof Funnel; label: string; hint: string }[] = [
  { key: 'unique_visitors', label: 'Unique visitors', hint: 'today, any page of the event' },
  { key: 'views', label: 'Event views', hint: 'event page views today' },
  { key: 'active_checkouts', label: 'Active checkouts', hint: 'started in the last 30 min, not completed' },
  { key: 'orders', label: 'Orders', hint: '' },
  { key: 'tickets_sold', label: 'Tickets sold', hint: '' },
];

interface Scope {
  funnel: Funnel;
  revenue: Revenue;
  conversion: { view_to_order: number };
}

export class OrganizerView {
  readonly el: HTMLElement;
  private tabs: HTMLElement;
  private title: HTMLElement;
  private kpi = new Map<string, { value: HTMLElement; sub: HTMLElement }>();
  private revenueList: HTMLElement;
  private revenueEls = new Map<string, HTMLElement>();
  private funnelEl: HTMLElement;
  private payments: HTMLElement;
  private chart: SVGSVGElement;
  private chartNote: HTMLElement;
  private tickerList: HTMLElement;
  private tickerEmpty: HTMLElement;
  private eventsPanel: HTMLElement;
  private eventsBody: HTMLElement;
  private capacityHost: HTMLElement;
  private capacity: CapacityPanel | null = null;

  private dash: DashboardData | null = null;
  private dashAt = 0;
  private selected: string = ALL;
  private eventSub: Subscription<EventData> | null = null;
  private eventData: EventData | null = null;
  private dashSub: Subscription<DashboardData> | null = null;
  private series = new Map<string, MinuteSeries>();
  /** Server time of the first dashboard message. */
  private firstTs: number | null = null;
  /** Per series key: the store's history up to firstTs, while it loads, or why it is missing. */
  private histories = new Map<string, HistoryMinute[] | 'pending' | 'failed'>();
  private seenTicker = new Set<string>();
  private tickerPrimed = false;
  private chartTimer: ReturnType<typeof setInterval> | null = null;
  private onHash = () => this.select(this.hashEvent());

  constructor(
    private client: LiveClient,
    readonly org: string,
    private onError: (message: string) => void,
    /** Reads the per-minute history from the REST mirror; without it the chart starts when the page opened. */
    private fetchHistory: FetchHistory | null = null,
    /** Told the organizer's name from the tenant's catalog (the page header shows it). */
    private onOrganizerName: (name: string) => void = () => undefined,
  ) {
    this.tabs = h('nav', { class: 'tabs', 'aria-label': 'Events' });
    this.title = h('h1', null, 'All events');
    const kpis = h('div', { class: 'kpis' });
    for (const k of KPIS) {
      const value = h('div', { class: 'value num' }, '–');
      const sub = h('div', { class: 'sub muted' }, k.hint);
      kpis.append(h('div', { class: 'kpi', 'data-kpi': k.key }, h('div', { class: 'label' }, k.label), value, sub));
      this.kpi.set(k.key, { value, sub });
    }
    this.revenueList = h('div', { class: 'value revenue' }, '–');
    kpis.append(h('div', { class: 'kpi kpi-revenue', 'data-kpi': 'revenue' }, h('div', { class: 'label' }, 'Revenue'), this.revenueList, h('div', { class: 'sub muted' }, 'gross, per currency')));

    this.funnelEl = h('ol', { class: 'funnel' });
    this.payments = h('p', { class: 'muted payments' });
    this.chart = s('svg', { class: 'chart', id: 'chart', role: 'img', 'aria-label': 'Event views and orders per minute, last 60 minutes' });
    attr(this.chart, 'data-history', 'none');
    this.chartNote = h('p', { class: 'muted note' });
    this.tickerList = h('ol', { class: 'ticker', id: 'ticker' });
    this.tickerEmpty = h('p', { class: 'muted empty' }, 'No sales yet today.');
    this.eventsBody = h('tbody');
    this.eventsPanel = h(
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
          this.eventsBody,
        ),
      ),
    );
    this.capacityHost = h('div', { class: 'capacity-host' });

    this.el = h(
      'div',
      { class: 'organizer', id: 'organizer-view', 'data-org': org, 'data-selected': 'all' },
      this.tabs,
      h('div', { class: 'title-row' }, this.title),
      kpis,
      h(
        'div',
        { class: 'grid2' },
        h('section', { class: 'panel' }, h('h2', null, 'Funnel'), this.funnelEl, this.payments),
        h('section', { class: 'panel' }, h('h2', null, 'Sales ticker'), this.tickerEmpty, this.tickerList),
      ),
      h(
        'section',
        { class: 'panel' },
        h('h2', null, 'Last 60 minutes'),
        h('div', { class: 'legend' }, h('span', { class: 'key key-line' }), ' event views / min (left)  ', h('span', { class: 'key key-bar' }), ' orders / min (right)'),
        this.chart,
        this.chartNote,
      ),
      this.capacityHost,
      this.eventsPanel,
    );
  }

  start(): void {
    this.dashSub = this.client.subscribe(topics.dashboard(this.org), (m) => this.onDashboard(m), (e) => this.onError(`Organizer ${this.org}: ${e.code}${e.message ? ` — ${e.message}` : ''}`));
    window.addEventListener('hashchange', this.onHash);
    this.select(this.hashEvent());
    // The window slides even when nothing happens.
    this.chartTimer = setInterval(() => this.renderChart(), 15_000);
  }

  destroy(): void {
    this.dashSub?.unsubscribe();
    this.eventSub?.unsubscribe();
    window.removeEventListener('hashchange', this.onHash);
    if (this.chartTimer) clearInterval(this.chartTimer);
  }

  private hashEvent(): string {
    const m = /(?:^#|&)event=([^&]*)/.exec(location.hash);
    try {
      return m ? decodeURIComponent(m[1]) : ALL;
    } catch {
      return ALL;
    }
  }

  /** Shows the overview (ALL) or one event. */
  select(eventId: string): void {
    if (eventId === this.selected && (eventId === ALL || this.eventSub)) return;
    this.selected = eventId;
    const hash = eventId === ALL ? '' : `#event=${encodeURIComponent(eventId)}`;
    if (location.hash !== hash) history.replaceState(null, '', location.pathname + location.search + hash);
    this.eventSub?.unsubscribe();
    this.eventSub = null;
    this.eventData = null;
    this.capacity?.el.remove();
    this.capacity = null;
    attr(this.el, 'data-selected', eventId === ALL ? 'all' : eventId);
    text(this.title, eventId === ALL ? 'All events' : this.nameOf(eventId));
    this.eventsPanel.hidden = eventId !== ALL;
    if (eventId !== ALL) {
      this.capacity = new CapacityPanel(eventId, 'Gates');
      this.capacityHost.append(this.capacity.el);
      this.eventSub = this.client.subscribe(topics.event(eventId), (m) => this.onEvent(m), (e) => this.onError(`Event ${eventId}: ${e.code === 'forbidden' ? 'not an event of this organizer (yet)' : e.code}`));
    }
    this.renderTabs();
    this.renderTicker();
    this.loadHistory(eventId);
    this.render();
  }

  /**
   * Fetches the store's per-minute history of a series (the overview or one event) once, up to the first
   * live message: that message is every series' baseline, so history and live differences never overlap.
   */
  private loadHistory(key: string): void {
    if (!this.fetchHistory || this.firstTs === null || this.histories.has(key)) return;
    // A page open for more than the window already counted all of it live.
    if (Math.max(Date.now(), this.dashAt) - this.firstTs >= WINDOW * 60_000) return;
    this.histories.set(key, 'pending');
    this.fetchHistory(key === ALL ? { org: this.org } : { event: key }, this.firstTs, WINDOW).then(
      (minutes) => {
        this.histories.set(key, minutes);
        this.applyHistory(key);
        if (key === this.selected) this.renderChart();
      },
      () => {
        // Kept as it was: the chart starts when the page opened (orders from the sales ticker).
        this.histories.set(key, 'failed');
        if (key === this.selected) this.renderChart();
      },
    );
  }

  private applyHistory(key: string): void {
    const h = this.histories.get(key);
    const ser = this.series.get(key);
    if (ser && Array.isArray(h) && ser.historySince === null) ser.seedHistory(h);
  }

  /**
   * The series of the overview (ALL) or of one event. Made from the first dashboard message: seeded with
   * the orders of the sales ticker. An event that appears later was at zero in every message before, so
   * its series starts from zero at the first message and counts everything it did since.
   */
  private seriesFor(key: string, ticker: TickerEntry[], at: number): MinuteSeries {
    let ser = this.series.get(key);
    if (!ser) {
      ser = new MinuteSeries(60);
      if (this.firstTs !== null && key !== ALL) {
        ser.observe(this.firstTs, ZERO, {});
      } else {
        const complete = ticker.length < TICKER_CAP;
        const oldest = ticker.length ? Date.parse(ticker[ticker.length - 1].ts) : null;
        ser.seed(key === ALL ? ticker : ticker.filter((t) => t.event_id === key), at, { complete, oldestTs: oldest });
      }
      this.series.set(key, ser);
      if (this.firstTs !== null) this.applyHistory(key);
    }
    return ser;
  }

  private onDashboard(m: TopicMessage<DashboardData>): void {
    const d = m.data;
    const known = new Set(this.dash?.events.map((e) => e.event_id) ?? []);
    const names = this.tabNames();
    this.dash = d;
    if (d.organizer_name) this.onOrganizerName(d.organizer_name);
    this.dashAt = m.ts;
    this.seriesFor(ALL, d.ticker, m.ts).observe(m.ts, d.totals.funnel, d.totals.revenue);
    for (const row of d.events) this.seriesFor(row.event_id, d.ticker, m.ts).observe(m.ts, row.funnel, row.revenue);
    this.firstTs ??= m.ts;
    this.loadHistory(this.selected);
    if (d.events.some((e) => !known.has(e.event_id)) || known.size !== d.events.length || names !== this.tabNames()) this.renderTabs();
    if (this.selected !== ALL) text(this.title, this.nameOf(this.selected));
    this.renderEvents();
    this.renderTicker();
    this.render();
  }

  private onEvent(m: TopicMessage<EventData>): void {
    if (m.data.event_id !== this.selected) return;
    this.eventData = m.data;
    if (m.data.event_title) text(this.title, m.data.event_title);
    this.capacity?.update(m.data.capacity);
    this.render();
  }

  /** What the KPIs and the funnel show: the event's own topic when it has arrived, else its dashboard row. */
  private scope(): Scope | null {
    if (this.selected === ALL) return this.dash ? this.dash.totals : null;
    if (this.eventData) return this.eventData;
    return this.dash?.events.find((e) => e.event_id === this.selected) ?? null;
  }

  private renderTabs(): void {
    clear(this.tabs);
    const tab = (id: string, label: string) =>
      h('button', { type: 'button', class: `tab${id === this.selected ? ' active' : ''}`, 'data-tab': id === ALL ? 'all' : id, 'aria-pressed': id === this.selected ? 'true' : 'false', onclick: () => this.select(id) }, label);
    this.tabs.append(tab(ALL, 'All events'));
    const ids = this.dash?.events.map((e) => e.event_id) ?? [];
    if (this.selected !== ALL && !ids.includes(this.selected)) ids.push(this.selected);
    for (const id of ids) this.tabs.append(tab(id, this.nameOf(id)));
  }

  /** An event's title from the catalog (its dashboard row or its own topic), else its id. */
  private nameOf(id: string): string {
    const row = this.dash?.events.find((e) => e.event_id === id);
    return row?.event_title ?? (this.eventData?.event_id === id ? this.eventData.event_title : null) ?? id;
  }

  private tabNames(): string {
    return (this.dash?.events ?? []).map((e) => e.event_title ?? '').join('\u0000');
  }

  private render(): void {
    const sc = this.scope();
    attr(this.el, 'data-ready', sc ? 'true' : null);
    if (!sc) return;
    const f = sc.funnel;
    for (const k of KPIS) {
      const el = this.kpi.get(k.key)!;
      const before = el.value.getAttribute('data-value');
      number(el.value, f[k.key], formatCount(f[k.key]));
      if (before !== null && before !== String(f[k.key])) flash(el.value);
    }
    text(this.kpi.get('orders')!.sub, `${formatRatio(sc.conversion.view_to_order)} of event views`);
    this.renderRevenue(sc.revenue);
    this.renderFunnel(f);
    text(this.payments, `Payment attempts ${formatCount(f.payment_attempts)} · failures ${formatCount(f.payment_failures)}${f.payment_attempts ? ` (${formatRatio(f.payment_failures / f.payment_attempts)})` : ''}`);
    this.renderChart();
  }

  private renderRevenue(revenue: Revenue): void {
    const entries = Object.entries(revenue).sort(([a], [b]) => a.localeCompare(b));
    const want = entries.map(([c]) => c).join(',');
    if (this.revenueList.getAttribute('data-currencies') !== want) {
      clear(this.revenueList);
      this.revenueEls.clear();
      attr(this.revenueList, 'data-currencies', want);
      if (!entries.length) this.revenueList.append('–');
      for (const [c] of entries) {
        const el = h('div', { class: 'num', 'data-currency': c });
        this.revenueEls.set(c, el);
        this.revenueList.append(el);
      }
    }
    for (const [c, v] of entries) {
      const el = this.revenueEls.get(c)!;
      const before = el.getAttribute('data-value');
      number(el, v, formatMoney(v, c));
      if (before !== null && before !== String(v)) flash(el);
    }
  }

  private renderFunnel(f: Funnel): void {
    const steps = funnelSteps(f);
    if (this.funnelEl.children.length !== steps.length) {
      clear(this.funnelEl);
      for (const st of steps) {
        this.funnelEl.append(
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
      const li = this.funnelEl.children[i] as HTMLElement;
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

  private renderTicker(): void {
    const all = this.dash?.ticker ?? [];
    const rows = this.selected === ALL ? all : all.filter((t) => t.event_id === this.selected);
    this.tickerEmpty.hidden = rows.length > 0;
    clear(this.tickerList);
    for (const t of rows) {
      const key = `${t.ts}|${t.event_id}|${t.amount}|${t.currency}|${t.tickets}`;
      const fresh = this.tickerPrimed && !this.seenTicker.has(key);
      this.tickerList.append(
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
    for (const t of all) this.seenTicker.add(`${t.ts}|${t.event_id}|${t.amount}|${t.currency}|${t.tickets}`);
    this.tickerPrimed = true;
  }

  private renderEvents(): void {
    const rows = this.dash?.events ?? [];
    clear(this.eventsBody);
    if (!rows.length) {
      this.eventsBody.append(h('tr', null, h('td', { colspan: 9, class: 'muted' }, 'No events with activity today yet.')));
      return;
    }
    for (const r of rows) {
      const f = r.funnel;
      const money = Object.entries(r.revenue).sort(([a], [b]) => a.localeCompare(b)).map(([c, v]) => formatMoney(v, c)).join(' · ') || '–';
      this.eventsBody.append(
        h(
          'tr',
          { 'data-event-row': r.event_id, tabindex: 0, onclick: () => this.select(r.event_id), onkeydown: (e: KeyboardEvent) => e.key === 'Enter' && this.select(r.event_id) },
          h('td', null, h('a', { href: `#event=${encodeURIComponent(r.event_id)}` }, r.event_title ?? r.event_id)),
          ...[f.views, f.unique_visitors, f.add_to_carts, f.checkouts_started, f.orders, f.tickets_sold].map((v) => h('td', { class: 'num' }, formatCount(v))),
          h('td', { class: 'num' }, money),
          h('td', { class: 'num' }, formatRatio(r.conversion.view_to_order)),
        ),
      );
    }
  }

  private renderChart(): void {
    const ser = this.series.get(this.selected);
    const now = Math.max(Date.now(), this.dashAt);
    const h = this.histories.get(this.selected);
    const state = ser?.historySince != null ? 'seeded' : h === 'pending' ? 'pending' : h === 'failed' ? 'failed' : 'none';
    attr(this.chart, 'data-history', state);
    renderChart(this.chart, ser ? ser.points(now) : new MinuteSeries(WINDOW).points(now), undefined, { nodata: state === 'pending' ? 'loading the last hour…' : undefined });
    if (!ser || ser.viewsSince === null) {
      text(this.chartNote, 'Waiting for data…');
      return;
    }
    const hhmm = (ms: number) => new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });
    if (state === 'seeded') {
      text(this.chartNote, `Per minute from the server's history until ${hhmm(ser.baseAt!)}, then counted live by this page.`);
      return;
    }
    if (state === 'pending') {
      text(this.chartNote, 'Loading the last hour from the server…');
      return;
    }
    const since = hhmm(ser.viewsSince * 60_000);
    const orders = ser.ordersSince === -Infinity ? 'orders of the whole window (from the sales ticker)' : ser.ordersSince !== null && ser.ordersSince < ser.viewsSince ? 'orders a little earlier (from the sales ticker)' : 'orders from then too';
    text(this.chartNote, `Counted by this page since ${since}; ${orders}.${state === 'failed' ? " The server's per-minute history could not be loaded." : ''}`);
  }
}
