// Organizer view: the overview of all the organizer's events (analytics:dashboard:{org}) or one event
// (analytics:event:{id}, which adds gate capacity): KPIs, the funnel with step conversion and drop-off,
// the last 60 minutes (seeded from the store's per-minute history, then live), the sales ticker and, in
// the overview, one row per event.
// The elements are built in organizer-layout.ts and each panel is drawn by organizer-panels.ts; this class
// keeps what changes: subscriptions, the selected event, the per-minute series and their history.
// Access can be taken back while the page is open (a role override): a topic the server refuses takes its
// figures off the page at once (a dash, never the last numbers), the page says which permission the role lacks
// and offers Retry (subscribes again: after a grant the figures come back), and the header says "No access" when
// nothing of the selected page is left. An event topic without `revenue` (no view_revenue) is drawn without money.
import type { LiveClient, Subscription } from '../live/client.js';
import { topics, type DashboardData, type ErrorMessage, type EventData, type Funnel, type Revenue, type TickerEntry, type TopicMessage } from '../live/types.js';
import { CapacityPanel } from './capacity.js';
import { renderChart } from './chart.js';
import { attr, clear, flash, h, number, text } from './dom.js';
import { formatCount, formatRatio, noticeText, viewShareText } from './format.js';
import type { FetchHistory, HistoryRead } from './history.js';
import { buildOrganizerLayout, KPIS, REVENUE_HINT, TICKER_EMPTY, type OrganizerLayout } from './organizer-layout.js';
import { chartNoteText, renderEvents, renderFunnel, renderRevenue, renderTicker } from './organizer-panels.js';
import { MinuteSeries } from './series.js';

/** The server keeps this many orders in the ticker. */
const TICKER_CAP = 20;
const ZERO = { views: 0, orders: 0, tickets_sold: 0 };
const ALL = '';
const WINDOW = 60;

const UNAVAILABLE = 'Not available to this token.';

interface Scope {
  funnel: Funnel;
  /** Missing from an event topic whose token's role lacks view_revenue. */
  revenue?: Revenue;
  conversion: { view_to_order: number };
}

/** The permission a `forbidden` names (README "Websocket /ws"), '' when it names none. */
function permissionOf(e: ErrorMessage): string {
  const p = (e as { permission?: unknown }).permission;
  return typeof p === 'string' ? p : '';
}

export class OrganizerView {
  readonly el: HTMLElement;
  /** The elements the view updates (organizer-layout.ts). */
  private ui: OrganizerLayout;
  private revenueEls = new Map<string, HTMLElement>();
  private capacity: CapacityPanel | null = null;

  private dash: DashboardData | null = null;
  private dashAt = 0;
  private selected: string = ALL;
  private eventSub: Subscription<EventData> | null = null;
  private eventData: EventData | null = null;
  /**
   * The selected event whose own topic the server refused (not this organizer's, yet: opened by link before its
   * first row), and how many events the roll-up counted then. The client keeps a refused topic but the server
   * holds no subscription, so nothing would ever arrive: onDashboard asks again once the roll-up shows the event.
   */
  private refused: { event: string; total: number } | null = null;
  /** A refusal of the event's topic is on the page's error banner (taken back once the event's data arrives). */
  private refusalShown = false;
  private dashSub: Subscription<DashboardData> | null = null;
  /** The roll-up's topic was refused: the permission the refusal named ('' for none); null while held or asked for. */
  private dashDenied: string | null = null;
  /** The roll-up's topic delivered since it was last asked for (so the role reads view_event_analytics). */
  private dashHeld = false;
  /** The selected event's topic was refused: the permission named, and whether its figures had come before. */
  private eventDenied: { permission: string; delivered: boolean } | null = null;
  /** The selected event's own topic delivered since it was selected. */
  private eventDelivered = false;
  private series = new Map<string, MinuteSeries>();
  /** Server time of the first dashboard message. */
  private firstTs: number | null = null;
  /** Per series key: the store's history up to firstTs, while it loads, or why it is missing. */
  private histories = new Map<string, HistoryRead | 'pending' | 'failed'>();
  /** Per series key: the history request whose answer counts (an older one's, made for another baseline, is dropped). */
  private historyGen = new Map<string, number>();
  private seenTicker = new Set<string>();
  private tickerPrimed = false;
  private chartTimer: ReturnType<typeof setInterval> | null = null;
  private onHash = () => this.select(this.hashEvent());
  private offNotice: (() => void) | null = null;

  constructor(
    private client: LiveClient,
    readonly org: string,
    /** Shows a message on the page's error banner; an empty one takes the banner down. */
    private onError: (message: string) => void,
    /** Reads the per-minute history from the REST mirror; without it the chart starts when the page opened. */
    private fetchHistory: FetchHistory | null = null,
    /** Told the organizer's name from the tenant's catalog (the page header shows it). */
    private onOrganizerName: (name: string) => void = () => undefined,
    /** Told when nothing of the selected page is readable by the token (why, in words), and when it is again (null). */
    private onAccess: (problem: string | null) => void = () => undefined,
  ) {
    this.ui = buildOrganizerLayout(org);
    this.el = this.ui.el;
  }

  start(): void {
    this.ui.accessRetry.addEventListener('click', () => this.retryAccess());
    this.subscribeDashboard();
    this.offNotice = this.client.on('notice', (n) => {
      const words = n.topic === topics.dashboard(this.org) ? noticeText(n.data) : null;
      if (!words) return;
      this.ui.notices.prepend(h('li', { class: 'notice-item', 'data-kind': n.data.kind }, words));
      while (this.ui.notices.children.length > 5) this.ui.notices.lastElementChild?.remove();
      this.ui.notices.hidden = false;
    });
    window.addEventListener('hashchange', this.onHash);
    this.select(this.hashEvent());
    // The window slides even when nothing happens.
    this.chartTimer = setInterval(() => this.renderChart(), 15_000);
  }

  destroy(): void {
    this.dashSub?.unsubscribe();
    this.eventSub?.unsubscribe();
    this.offNotice?.();
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
    this.eventDelivered = false;
    this.eventDenied = null;
    this.refused = null;
    if (this.refusalShown) {
      // The banner named the event left behind.
      this.refusalShown = false;
      this.onError('');
    }
    this.capacity?.el.remove();
    this.capacity = null;
    attr(this.el, 'data-selected', eventId === ALL ? 'all' : eventId);
    text(this.ui.title, eventId === ALL ? 'All events' : this.nameOf(eventId));
    this.ui.eventsPanel.hidden = eventId !== ALL;
    if (eventId !== ALL) {
      this.capacity = new CapacityPanel(eventId, 'Gates');
      this.ui.capacityHost.append(this.capacity.el);
      this.subscribeEvent(eventId);
    }
    this.renderTabs();
    this.renderTicker();
    this.loadHistory(eventId);
    this.showAccess();
    this.render();
  }

  /** Subscribes to the organizer's roll-up, again after a refusal (the server holds no refused topic). */
  private subscribeDashboard(): void {
    this.dashSub?.unsubscribe();
    this.dashDenied = null;
    this.dashHeld = false;
    this.dashSub = this.client.subscribe(topics.dashboard(this.org), (m) => this.onDashboard(m), (e) => this.onDashboardError(e));
  }

  private onDashboardError(e: ErrorMessage): void {
    if (e.code !== 'forbidden') {
      this.onError(`Organizer ${this.org}: ${e.code}${e.message ? ` — ${e.message}` : ''}`);
      return;
    }
    // The role lost a permission the roll-up needs (view_revenue, view_event_analytics): its figures go.
    this.dashDenied = permissionOf(e);
    this.dashHeld = false;
    this.dash = null;
    // Every series the roll-up fed stops here and starts over, with the store's history, once it is given back;
    // the selected event's goes on with its own topic while that is held.
    const keep = this.selected !== ALL && !this.eventDenied && this.eventSub ? this.selected : null;
    for (const key of this.series.keys()) if (key !== keep) this.restartSeries(key);
    this.firstTs = null;
    this.renderTabs();
    this.renderEvents();
    this.renderTicker();
    this.showAccess();
    this.render();
  }

  /** Refused figures: subscribes again to what was refused (after a grant, the server gives it back). */
  private retryAccess(): void {
    if (this.dashDenied !== null) this.subscribeDashboard();
    if (this.eventDenied && this.selected !== ALL) {
      this.eventDenied = null;
      this.subscribeEvent(this.selected);
    }
    this.showAccess();
    this.render();
  }

  /**
   * Why the selected event's topic was refused. The server names view_event_analytics both when the role lacks it
   * and when the event is not in the token's scope; the roll-up, read with the same permission, tells which.
   */
  private eventRefusal(): 'scope' | 'permission' | null {
    const d = this.eventDenied;
    if (!d) return null;
    if (d.permission === '') return 'scope';
    if (d.permission !== 'view_event_analytics') return 'permission';
    if (this.dashHeld) return 'scope';
    if (this.dashDenied === 'view_event_analytics') return 'permission';
    // Refused for another permission (view_revenue), checked after view_event_analytics: the role has that one.
    if (this.dashDenied) return 'scope';
    // The roll-up is being asked: an event whose figures came before lost them with the role's permission.
    return d.delivered ? 'permission' : 'scope';
  }

  /** Nothing of the selected page is readable: the roll-up's overview, or an event whose topic the role lost. */
  private noAccess(): boolean {
    return this.selected === ALL ? this.dashDenied !== null : this.eventRefusal() === 'permission';
  }

  /** The access panel (what is not readable and which permission the role lacks), the scope banner and the header. */
  private showAccess(): void {
    const lacks = (p: string) => (p ? `this token's role lacks the permission ${p}` : 'this token no longer gives access to it');
    const parts: string[] = [];
    const permissions: string[] = [];
    if (this.dashDenied !== null) {
      parts.push(`No access to organizer ${this.org}'s roll-up (totals, revenue, sales ticker, events): ${lacks(this.dashDenied)}.`);
      permissions.push(this.dashDenied);
    }
    const kind = this.eventRefusal();
    if (kind === 'permission') {
      parts.push(`No access to event ${this.ui.title.textContent || this.selected}: ${lacks(this.eventDenied!.permission)}.`);
      permissions.push(this.eventDenied!.permission);
    }
    if (kind === 'scope' && !this.refusalShown) {
      this.refusalShown = true;
      this.onError(`Event ${this.selected}: not an event of this organizer (yet)`);
    } else if (kind !== 'scope' && this.refusalShown) {
      this.refusalShown = false;
      this.onError('');
    }
    text(this.ui.accessText, parts.join(' '));
    attr(this.ui.access, 'data-permission', permissions.filter(Boolean).join(' ') || null);
    this.ui.access.hidden = parts.length === 0;
    this.onAccess(this.noAccess() ? parts.join(' ') : null);
  }

  /** Subscribes to one event's own topic (its funnel and gates), again when it was refused. */
  private subscribeEvent(eventId: string): void {
    this.eventSub?.unsubscribe();
    this.eventSub = this.client.subscribe(topics.event(eventId), (m) => this.onEvent(m), (e) => {
      if (eventId !== this.selected) return;
      if (e.code !== 'forbidden') {
        this.onError(`Event ${eventId}: ${e.code}`);
        return;
      }
      const permission = permissionOf(e);
      this.eventDenied = { permission, delivered: this.eventDelivered };
      this.refused = { event: eventId, total: this.dash?.events_total ?? this.dash?.events.length ?? 0 };
      // None of its figures stay: its own topic's, its gates, and its chart unless the roll-up still feeds it.
      this.eventData = null;
      this.capacity?.el.remove();
      this.capacity = new CapacityPanel(eventId, 'Gates');
      this.ui.capacityHost.append(this.capacity.el);
      if (!this.dashHeld && this.series.has(eventId)) this.restartSeries(eventId);
      // The roll-up's answer tells a lost permission from an event out of scope: asked again when a refusal of it
      // for another reason is all there is.
      if (permission === 'view_event_analytics' && this.dashDenied !== null && this.dashDenied !== permission) this.subscribeDashboard();
      // The banner says so again (a reconnect took it down).
      if (this.refusalShown) {
        this.refusalShown = false;
        this.onError('');
      }
      this.showAccess();
      this.render();
    });
  }

  /**
   * A refused event the roll-up now shows (its row, an order of it in the ticker, or one more event counted when
   * it is not among the listed ones) has become this organizer's: its topic is asked for again. A new refusal
   * (another event was counted) waits for the next such sign.
   */
  private retryRefused(d: DashboardData): void {
    const r = this.refused;
    if (!r || r.event !== this.selected) return;
    const total = d.events_total ?? d.events.length;
    if (!d.events.some((e) => e.event_id === r.event) && !d.ticker.some((x) => x.event_id === r.event) && total <= r.total) return;
    this.refused = null;
    this.eventDenied = null;
    this.subscribeEvent(r.event);
    this.showAccess();
    // Its history was refused with the topic: asked for again too (else its chart says the hour could not load).
    if (this.histories.get(r.event) === 'failed') {
      this.forgetHistory(r.event);
      this.loadHistory(r.event);
      this.renderChart();
    }
  }

  /**
   * Fetches the store's per-minute history of a series (the overview or one event) once, up to now, with the
   * day's totals of the same read: the series rebases its live counting on them (series.ts), so history and
   * live differences never overlap.
   */
  private loadHistory(key: string): void {
    if (!this.fetchHistory || this.histories.has(key)) return;
    // Only a series live data made (the roll-up's row, or the event's own topic once it answers): an event
    // outside the roll-up whose topic is refused (not this organizer's) would only get a 403 (observeOwn asks later).
    const ser = this.series.get(key);
    if (!ser) return;
    const to = ser.baseAt ?? this.firstTs;
    if (to === null) return;
    // A page open for more than the window already counted all of it live.
    if (Math.max(Date.now(), this.dashAt) - to >= WINDOW * 60_000) return;
    const gen = (this.historyGen.get(key) ?? 0) + 1;
    this.historyGen.set(key, gen);
    this.histories.set(key, 'pending');
    this.fetchHistory(key === ALL ? { org: this.org } : { event: key }, WINDOW).then(
      (minutes) => {
        if (this.historyGen.get(key) !== gen) return;
        this.histories.set(key, minutes);
        this.applyHistory(key);
        if (key === this.selected) this.renderChart();
      },
      () => {
        if (this.historyGen.get(key) !== gen) return;
        // Kept as it was: the chart starts when the page opened (orders from the sales ticker).
        this.histories.set(key, 'failed');
        if (key === this.selected) this.renderChart();
      },
    );
  }

  /** Drops a series' history, and the answer of a request for it still under way. */
  private forgetHistory(key: string): void {
    this.histories.delete(key);
    this.historyGen.set(key, (this.historyGen.get(key) ?? 0) + 1);
  }

  /** A series whose topic stopped (access withdrawn): its next totals start it over (observe then re-reads its history). */
  private restartSeries(key: string): void {
    this.series.get(key)?.restart();
    this.forgetHistory(key);
  }

  /** New totals of a series; one that started over (an erasure took rows back) reads the store's history again. */
  private observe(key: string, ser: MinuteSeries, at: number, f: Funnel, revenue: Revenue | undefined): void {
    if (!ser.observe(at, f, revenue)) return;
    this.forgetHistory(key);
    // The selected series at once (the chart equals a page opened now); another one when it is selected.
    if (key === this.selected) this.loadHistory(key);
  }

  private applyHistory(key: string): void {
    const h = this.histories.get(key);
    const ser = this.series.get(key);
    if (ser && h && typeof h === 'object' && ser.historySince === null) ser.seedHistory(h.minutes, h.day);
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
    if (!this.dashHeld) {
      // Given (again): the roll-up's figures are this token's.
      this.dashHeld = true;
      this.dashDenied = null;
      this.showAccess();
    }
    if (d.organizer_name) this.onOrganizerName(d.organizer_name);
    this.dashAt = m.ts;
    this.observe(ALL, this.seriesFor(ALL, d.ticker, m.ts), m.ts, d.totals.funnel, d.totals.revenue);
    for (const row of d.events) this.observe(row.event_id, this.seriesFor(row.event_id, d.ticker, m.ts), m.ts, row.funnel, row.revenue);
    this.firstTs ??= m.ts;
    this.loadHistory(this.selected);
    if (d.events.some((e) => !known.has(e.event_id)) || known.size !== d.events.length || names !== this.tabNames()) this.renderTabs();
    if (this.selected !== ALL) text(this.ui.title, this.nameOf(this.selected));
    this.renderEvents();
    this.renderTicker();
    this.render();
    this.retryRefused(d);
  }

  private onEvent(m: TopicMessage<EventData>): void {
    if (m.data.event_id !== this.selected) return;
    this.eventDelivered = true;
    if (this.eventDenied) {
      // The event's own data came: the refusal no longer holds.
      this.eventDenied = null;
      this.showAccess();
    }
    if (this.refusalShown) {
      // The event's own data came: the refusal on the banner no longer holds.
      this.refusalShown = false;
      this.onError('');
    }
    const before = this.nameOf(this.selected);
    this.eventData = m.data;
    if (m.data.event_title) text(this.ui.title, m.data.event_title);
    // An event without dashboard traffic is named by its own topic only: its tab takes the title too.
    if (this.nameOf(this.selected) !== before) this.renderTabs();
    this.capacity?.update(m.data.capacity);
    // An event opened by link without a row in the roll-up (no traffic today, or not among its top events) counts
    // its minutes from its own topic: without a series its loaded history had nothing to fill ("Waiting for data…").
    if (!this.dash?.events.some((e) => e.event_id === m.data.event_id)) this.observeOwn(m.data.event_id, m.ts, m.data);
    this.render();
  }

  /**
   * The series of an event outside the roll-up: its baseline is its own topic's first totals, the store's history
   * fills the minutes before (fetched up to the first dashboard message, as every series' history).
   */
  private observeOwn(key: string, at: number, d: EventData): void {
    let ser = this.series.get(key);
    const created = !ser;
    ser ??= new MinuteSeries(WINDOW);
    this.series.set(key, ser);
    this.observe(key, ser, at, d.funnel, d.revenue);
    if (created && this.firstTs !== null) this.applyHistory(key);
    // Without the roll-up (refused) nothing else asks for its history.
    if (created && key === this.selected) this.loadHistory(key);
  }

  /** What the KPIs and the funnel show: the event's own topic when it has arrived, else its dashboard row. */
  private scope(): Scope | null {
    if (this.selected === ALL) return this.dash ? this.dash.totals : null;
    if (this.eventData) return this.eventData;
    return this.dash?.events.find((e) => e.event_id === this.selected) ?? null;
  }

  private renderTabs(): void {
    clear(this.ui.tabs);
    const tab = (id: string, label: string) =>
      h('button', { type: 'button', class: `tab${id === this.selected ? ' active' : ''}`, 'data-tab': id === ALL ? 'all' : id, 'aria-pressed': id === this.selected ? 'true' : 'false', onclick: () => this.select(id) }, label);
    this.ui.tabs.append(tab(ALL, 'All events'));
    const ids = this.dash?.events.map((e) => e.event_id) ?? [];
    if (this.selected !== ALL && !ids.includes(this.selected)) ids.push(this.selected);
    for (const id of ids) this.ui.tabs.append(tab(id, this.nameOf(id)));
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
    const sc = this.noAccess() ? null : this.scope();
    attr(this.el, 'data-ready', sc ? 'true' : null);
    if (this.capacity) this.capacity.el.hidden = this.noAccess();
    if (!sc) return this.blank();
    const f = sc.funnel;
    for (const k of KPIS) {
      const el = this.ui.kpi.get(k.key)!;
      const before = el.value.getAttribute('data-value');
      number(el.value, f[k.key], formatCount(f[k.key]));
      if (before !== null && before !== String(f[k.key])) flash(el.value);
    }
    text(this.ui.kpi.get('orders')!.sub, viewShareText(f.views, sc.conversion.view_to_order));
    this.renderRevenue(sc.revenue);
    text(this.ui.revenueSub, sc.revenue ? REVENUE_HINT : 'not shown to this token');
    this.renderFunnel(f);
    text(this.ui.payments, `Payment attempts ${formatCount(f.payment_attempts)} · failures ${formatCount(f.payment_failures)}${f.payment_attempts ? ` (${formatRatio(f.payment_failures / f.payment_attempts)})` : ''}`);
    this.renderChart();
  }

  /** No figures to show (none yet, or none readable): every number is a dash, the funnel empty. */
  private blank(): void {
    for (const k of KPIS) {
      const el = this.ui.kpi.get(k.key)!;
      attr(el.value, 'data-value', null);
      text(el.value, '–');
      text(el.sub, k.hint);
    }
    this.renderRevenue(undefined);
    text(this.ui.revenueSub, REVENUE_HINT);
    renderFunnel(this.ui.funnelEl, null);
    text(this.ui.payments, '');
    this.renderChart();
  }

  private renderRevenue(revenue: Revenue | undefined): void {
    renderRevenue(this.ui.revenueList, this.revenueEls, revenue);
  }

  private renderFunnel(f: Funnel): void {
    renderFunnel(this.ui.funnelEl, f);
  }

  private renderTicker(): void {
    const all = this.dash?.ticker ?? [];
    const rows = this.selected === ALL ? all : all.filter((t) => t.event_id === this.selected);
    text(this.ui.tickerEmpty, this.dashDenied !== null ? UNAVAILABLE : TICKER_EMPTY);
    renderTicker(this.ui, all, rows, this.seenTicker, this.tickerPrimed);
    this.tickerPrimed = true;
  }

  private renderEvents(): void {
    const events = this.dash?.events ?? [];
    renderEvents(this.ui.eventsBody, events, (id) => this.select(id), this.dashDenied !== null ? UNAVAILABLE : null);
    const total = this.dash?.events_total ?? events.length;
    this.ui.eventsNote.hidden = total <= events.length;
    text(this.ui.eventsNote, `Showing the ${formatCount(events.length)} events with the most sales of ${formatCount(total)}; the totals above count all of them. Open another one with #event=<its id> in the address.`);
  }

  private renderChart(): void {
    const denied = this.noAccess();
    const ser = denied ? undefined : this.series.get(this.selected);
    const now = Math.max(Date.now(), this.dashAt);
    const h = this.histories.get(this.selected);
    const state = denied ? 'none' : ser?.historySince != null ? 'seeded' : h === 'pending' ? 'pending' : h === 'failed' ? 'failed' : 'none';
    attr(this.ui.chart, 'data-history', state);
    renderChart(this.ui.chart, ser ? ser.points(now) : new MinuteSeries(WINDOW).points(now), undefined, { nodata: denied ? 'not available to this token' : state === 'pending' ? 'loading the last hour…' : undefined });
    text(this.ui.chartNote, denied ? UNAVAILABLE : chartNoteText(ser, state));
  }
}
