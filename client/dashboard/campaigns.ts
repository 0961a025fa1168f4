// The organizer's campaigns page (/dashboard#campaigns, README "Campaigns", issue 16 item 6): the report's summary
// and plain-words recommendations, a budget's spent/remaining bar, its campaigns with status and metrics, spend and
// tracked revenue over time, and the audiences the campaigns target with their sync state. Read-only: it talks to
// /api/v1/campaigns/{report,budgets} with the dashboard token (the server keeps the token to its own organizer).
import { clear, h, s, text } from './dom.js';
import { formatCount, formatMoney } from './format.js';
import { audienceRows, budgetSummary, campaignRows, formatRoas, readReport, seriesAxisMax, seriesPoints, type AudienceRow, type BudgetSummary, type CampaignRow, type ReportSummary, type SeriesPoint } from './campaigns-data.js';

const W = 720;
const H = 170;
const M = { l: 56, r: 16, t: 12, b: 22 };
const STATUS_LABEL: Record<string, string> = { draft: 'Draft', pending_review: 'In review', publishing: 'Publishing…', active: 'Active', paused: 'Paused', completed: 'Completed', failed: 'Failed' };

/** Cumulative spend and tracked revenue per sync as two lines on one money scale. */
function renderSeries(svg: SVGSVGElement, pts: SeriesPoint[], currency: string): void {
  clear(svg);
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const ih = H - M.t - M.b;
  const iw = W - M.l - M.r;
  const max = seriesAxisMax(pts);
  for (const f of [0, 0.5, 1]) {
    const y = M.t + ih - f * ih;
    svg.append(s('line', { x1: M.l, x2: W - M.r, y1: y, y2: y, class: 'grid' }));
    svg.append(s('text', { x: M.l - 6, y: y + 4, class: 'axis', 'text-anchor': 'end' }, formatCount(Math.round(max * f))));
  }
  if (pts.length === 0) return void svg.append(s('text', { x: W / 2, y: H / 2, class: 'axis', 'text-anchor': 'middle' }, 'No figures from the platforms yet'));
  const t0 = pts[0].at;
  const span = Math.max(1, pts[pts.length - 1].at - t0);
  const x = (p: SeriesPoint) => (pts.length === 1 ? M.l + iw / 2 : M.l + ((p.at - t0) / span) * iw);
  const y = (v: number) => M.t + ih - (v / max) * ih;
  for (const [key, cls] of [['spend', 'line-spend'], ['revenue', 'line-revenue']] as const) {
    svg.append(s('polyline', { class: cls, fill: 'none', points: pts.map((p) => `${x(p).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ') }));
    for (const p of pts) svg.append(s('circle', { cx: x(p), cy: y(p[key]), r: 2.5, class: cls }, s('title', null, `${new Date(p.at).toISOString().slice(0, 16).replace('T', ' ')}: ${key === 'revenue' ? 'tracked revenue' : key} ${formatMoney(p[key], currency)}`)));
  }
  svg.append(s('text', { x: M.l, y: H - 6, class: 'axis' }, new Date(t0).toISOString().slice(5, 16).replace('T', ' ')));
  if (pts.length > 1) svg.append(s('text', { x: W - M.r, y: H - 6, class: 'axis', 'text-anchor': 'end' }, new Date(pts[pts.length - 1].at).toISOString().slice(5, 16).replace('T', ' ')));
}

type ApiError = { error?: { message?: string } };

export class CampaignsView {
  readonly el: HTMLElement;
  private summary: HTMLElement;
  private recs: HTMLElement;
  private budgetPick: HTMLSelectElement;
  private bar: HTMLElement;
  private barFill: HTMLElement;
  private barText: HTMLElement;
  private rows: HTMLElement;
  private chart: SVGSVGElement;
  private audiences: HTMLElement;
  private empty: HTMLElement;
  /** Everything but the "no budget yet" notice: shown only once there is a budget to show. */
  private panels: HTMLElement[];
  private report: ReportSummary | null = null;
  private budgets: BudgetSummary[] = [];
  private stopped = false;

  /** `liveLink`: the link back to the live dashboard (an ad account's token has no live view: false). */
  constructor(private origin: string, private token: string, private org: string, private onError: (m: string) => void, liveLink = true) {
    this.summary = h('p', { id: 'cp-summary', class: 'cp-summary' });
    this.recs = h('ul', { id: 'cp-recs', class: 'cp-recs' });
    this.budgetPick = h('select', { id: 'cp-budget', 'aria-label': 'Budget', onchange: () => void this.loadBudget(Number(this.budgetPick.value)) });
    this.barFill = h('div', { class: 'cp-bar-fill' });
    this.bar = h('div', { id: 'cp-bar', class: 'cp-bar', role: 'meter', 'aria-label': 'Budget spent' }, this.barFill);
    this.barText = h('p', { id: 'cp-bar-text' });
    this.rows = h('tbody', { id: 'cp-rows' });
    this.chart = s('svg', { class: 'chart cp-chart', id: 'cp-chart', role: 'img', 'aria-label': 'Spend and tracked revenue over time' });
    this.audiences = h('tbody', { id: 'cp-audiences' });
    this.empty = h('p', { class: 'muted', id: 'cp-empty', hidden: true }, 'No campaign budget yet. Transfer an ad budget to the marketplace and it will run your campaigns here.');
    const th = (...cols: string[]) => h('thead', null, h('tr', null, ...cols.map((c) => h('th', null, c))));
    this.el = h('section', { class: 'campaigns', id: 'campaigns' },
      h('div', { class: 'title-row' }, h('h1', null, 'Campaigns'), liveLink ? h('a', { href: '#', class: 'link' }, '← Live dashboard') : null),
      this.empty,
      ...(this.panels = [
      h('div', { class: 'panel' }, this.summary, h('h2', null, 'Recommendations'), this.recs),
      h('div', { class: 'panel' }, h('div', { class: 'cp-budget-head' }, h('h2', null, 'Budget'), this.budgetPick), this.bar, this.barText),
      h('div', { class: 'panel' }, h('h2', null, 'Campaigns'),
        h('div', { class: 'table-wrap' }, h('table', { class: 'cp-table' }, th('Campaign', 'Platform', 'Type', 'Status', 'Impressions', 'Clicks', 'Spend', 'Conversions', 'Sales', 'ROAS'), this.rows)),
        h('p', { class: 'muted' }, 'Conversions are what the platform reports; sales and ROAS (tracked revenue ÷ spend) come from our own tracking.')),
      h('div', { class: 'panel' }, h('h2', null, 'Performance over time'), this.chart,
        h('p', { class: 'muted' }, h('span', { class: 'key key-spend' }), ' spend  ', h('span', { class: 'key key-revenue' }), ' tracked revenue (cumulative, per metrics sync)')),
      h('div', { class: 'panel' }, h('h2', null, 'Audiences'), h('div', { class: 'table-wrap' }, h('table', { class: 'cp-table' }, th('Campaign', 'Platform', 'Audience', 'Kind', 'Sync'), this.audiences))),
      ]),
    );
  }

  start(): void {
    void this.load();
  }

  destroy(): void {
    this.stopped = true;
  }

  private async get(path: string): Promise<unknown | null> {
    const r = await fetch(this.origin + path, { headers: { authorization: `Bearer ${this.token}` } });
    const json = await r.json().catch(() => null);
    if (r.ok) return json;
    this.onError((json as ApiError | null)?.error?.message ?? `The campaigns could not be loaded (${r.status}).`);
    return null;
  }

  private async load(): Promise<void> {
    const org = encodeURIComponent(this.org);
    const [rep, list] = await Promise.all([this.get(`/api/v1/campaigns/report?organizer_id=${org}`), this.get(`/api/v1/campaigns/budgets?organizer_id=${org}&limit=50`)]);
    if (this.stopped || rep === null || list === null) return;
    this.report = readReport(rep);
    this.budgets = ((list as { budgets?: unknown[] }).budgets ?? []).map(budgetSummary).filter((b): b is BudgetSummary => b !== null);
    this.renderReport();
    clear(this.budgetPick);
    for (const b of this.budgets) this.budgetPick.append(h('option', { value: b.id }, `Budget ${b.id} · ${formatMoney(b.total, b.currency)} · ${b.status}`));
    // Without a budget the notice is the page: no empty bar, tables, chart or "You invested 0.00" under it.
    this.empty.hidden = this.budgets.length > 0;
    for (const p of this.panels) p.hidden = this.budgets.length === 0;
    if (this.budgets.length > 0) await this.loadBudget(this.budgets[0].id);
  }

  private renderReport(): void {
    const r = this.report;
    text(this.summary, r ? r.summary : '');
    clear(this.recs);
    const recs = r?.recommendations ?? [];
    for (const line of recs.length ? recs : ['Nothing to change yet: the campaigns need more data.']) this.recs.append(h('li', null, line));
  }

  private async loadBudget(id: number): Promise<void> {
    const d = await this.get(`/api/v1/campaigns/budgets/${id}?log_limit=1`);
    if (this.stopped || d === null) return;
    const body = d as { budget?: unknown; campaigns?: unknown; series?: unknown };
    const b = budgetSummary(body.budget);
    if (!b) return this.onError('The budget could not be read.');
    this.renderBudget(b);
    this.renderCampaigns(campaignRows(body.campaigns, this.report?.credits ?? new Map()), b.currency);
    renderSeries(this.chart, seriesPoints(body.series), b.currency);
    this.renderAudiences(audienceRows(body.campaigns));
  }

  private renderBudget(b: BudgetSummary): void {
    this.budgetPick.value = String(b.id);
    this.bar.setAttribute('aria-valuenow', String(Math.round(b.spentShare * 100)));
    this.barFill.style.width = `${(b.spentShare * 100).toFixed(1)}%`;
    this.barFill.dataset.low = String(b.total > 0 && b.remaining / b.total < 0.2);
    const daily = b.daily_limit === null ? '' : ` · daily limit ${formatMoney(b.daily_limit, b.currency)}`;
    this.barText.dataset.spent = String(b.spent);
    this.barText.dataset.remaining = String(b.remaining);
    text(this.barText, `Spent ${formatMoney(b.spent, b.currency)} of ${formatMoney(b.total, b.currency)} · ${formatMoney(b.remaining, b.currency)} remaining${daily}`);
  }

  private renderCampaigns(rows: CampaignRow[], currency: string): void {
    clear(this.rows);
    for (const c of rows) {
      // A code (cpa_above_limit) reads as words; a note or a platform's error is shown as written.
      const reason = c.reason === null ? null : /^[a-z]+(_[a-z]+)*$/.test(c.reason) ? c.reason.replace(/_/g, ' ') : c.reason;
      const status = h('td', { class: 'status', title: c.reason ?? '' }, STATUS_LABEL[c.status] ?? c.status, reason ? h('span', { class: 'muted cp-reason' }, ` (${reason})`) : null);
      this.rows.append(h('tr', { 'data-id': c.id, 'data-status': c.status },
        h('td', null, c.name), h('td', null, c.platform), h('td', null, c.type.replace(/_/g, ' ')), status,
        h('td', { class: 'num', 'data-value': c.impressions }, formatCount(c.impressions)), h('td', { class: 'num', 'data-value': c.clicks }, formatCount(c.clicks)),
        h('td', { class: 'num', 'data-value': c.spend }, formatMoney(c.spend, currency)), h('td', { class: 'num', 'data-value': c.conversions }, formatCount(c.conversions)),
        h('td', { class: 'num', 'data-value': c.sales }, formatCount(c.sales)), h('td', { class: 'num roas', 'data-value': c.roas ?? '' }, formatRoas(c.roas))));
    }
  }

  private renderAudiences(rows: AudienceRow[]): void {
    clear(this.audiences);
    if (rows.length === 0) this.audiences.append(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'These campaigns target interests only.')));
    for (const a of rows) {
      const sync = a.state === 'synced' ? `Synced (platform id ${a.external_id})` : 'Waiting for the daily refresh';
      this.audiences.append(h('tr', { 'data-state': a.state }, h('td', null, a.campaign), h('td', null, a.platform), h('td', null, a.type.replace(/_/g, ' ')), h('td', null, a.kind), h('td', { class: 'sync' }, sync)));
    }
  }
}
