// The marketplace admin's approval queue (/dashboard#approvals, README "Campaigns", issue 16 items 2 and 6): the
// campaigns pending review across budgets with what a decision needs (organizer, event, platform, type, targeting,
// headline, the daily budget approving it now gives it, the budget's totals), approve or reject one or several with
// a note, the result per campaign (published, or failed with the platform's refusal), then the queue again.
//
// Approving needs a secret key whose role has approve_campaigns (the routes are secret-key routes; a dashboard
// token never approves). The page asks the server: a 401/403 on the queue shows why, and no actions.
import { clear, h, text } from './dom.js';
import { formatMoney } from './format.js';
import { accessMessage, outcomeOf, platformLabel, readQueue, type Outcome, type QueueItem } from './approvals-data.js';

const PAGE = 100;

export class ApprovalsView {
  readonly el: HTMLElement;
  private access: HTMLElement;
  private work: HTMLElement;
  private rows: HTMLElement;
  private all: HTMLInputElement;
  private note: HTMLTextAreaElement;
  private buttons: HTMLButtonElement[];
  private count: HTMLElement;
  private results: HTMLElement;
  private items: QueueItem[] = [];
  private busy = false;
  private stopped = false;

  constructor(private origin: string, private credential: string, private kind: 'key' | 'token', private onError: (m: string) => void) {
    this.access = h('p', { id: 'ap-access', class: 'ap-access', role: 'status', hidden: true });
    this.all = h('input', { type: 'checkbox', id: 'ap-all', 'aria-label': 'Select every campaign', onchange: () => this.selectAll(this.all.checked) });
    this.note = h('textarea', { id: 'ap-note', rows: 2, maxlength: 1000, 'aria-label': 'Note for the organizer', placeholder: 'Note for the organizer (optional; kept with a rejection and in the audit log)' });
    const approve = h('button', { id: 'ap-approve', type: 'button', onclick: () => void this.act('approve', this.selected()) }, 'Approve selected');
    const reject = h('button', { id: 'ap-reject', type: 'button', class: 'secondary', onclick: () => void this.act('reject', this.selected()) }, 'Reject selected');
    this.buttons = [approve, reject];
    this.count = h('span', { id: 'ap-count', class: 'muted' });
    this.rows = h('tbody', { id: 'ap-rows' });
    this.results = h('ul', { id: 'ap-results', class: 'ap-results' });
    const th = (...cols: string[]) => h('thead', null, h('tr', null, h('th', null, this.all), ...cols.map((c) => h('th', null, c))));
    this.work = h('div', { id: 'ap-work', hidden: true },
      h('div', { class: 'panel ap-bar' }, this.note, h('div', { class: 'ap-buttons' }, approve, reject, this.count)),
      h('div', { class: 'panel' }, h('h2', null, 'Results'), this.results),
      h('div', { class: 'panel ap-scroll' }, h('table', { class: 'cp-table ap-table' }, th('Organizer / event', 'Campaign', 'Targeting', 'Creative headline', 'Proposed daily', 'Budget', ''), this.rows)),
    );
    this.el = h('section', { class: 'campaigns approvals', id: 'approvals' },
      h('div', { class: 'title-row' }, h('h1', null, 'Approval queue')),
      h('p', { class: 'muted' }, 'Campaigns the organizers submitted, oldest first. Approving publishes a campaign on its platform and starts it with the proposed daily budget; rejecting sends it back to draft.'),
      this.access, this.work);
  }

  start(): void {
    void this.load();
  }

  destroy(): void {
    this.stopped = true;
  }

  private deny(message: string): void {
    this.work.hidden = true;
    this.access.hidden = false;
    text(this.access, message);
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    try {
      const r = await fetch(this.origin + path, {
        method, headers: { authorization: `Bearer ${this.credential}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, json: await r.json().catch(() => null) };
    } catch {
      return { status: 0, json: null };
    }
  }

  private async load(): Promise<void> {
    const r = await this.call('GET', `/api/v1/campaigns/review-queue?limit=${PAGE}`);
    if (this.stopped) return;
    if (r.status === 401 || r.status === 403) return this.deny(accessMessage(this.kind, r.status, r.json));
    const q = r.status === 200 ? readQueue(r.json) : null;
    if (!q) {
      // The last results stay on screen; the buttons come back so the reviewer can try again.
      this.setBusy(false);
      return this.onError(accessMessage(this.kind, r.status, r.json));
    }
    this.items = q.items;
    this.access.hidden = true;
    this.work.hidden = false;
    this.render(q.more);
  }

  private render(more: boolean): void {
    clear(this.rows);
    this.all.checked = false;
    if (this.items.length === 0) this.rows.append(h('tr', null, h('td', { colspan: 8, class: 'muted', id: 'ap-empty' }, 'Nothing waits for review.')));
    for (const c of this.items) this.rows.append(this.row(c));
    text(this.count, `${this.items.length} waiting${more ? ` (more after these: decide on them to see the rest)` : ''}`);
    this.setBusy(false);
  }

  private row(c: QueueItem): HTMLElement {
    const b = c.budget;
    const money = (x: number) => formatMoney(x, b.currency);
    const limit = b.dailyLimit === null ? 'no daily limit' : `daily limit ${money(b.dailyLimit)}`;
    return h('tr', { 'data-id': c.id, 'data-budget': b.id, 'data-platform': c.platform },
      h('td', null, h('input', { type: 'checkbox', class: 'ap-pick', value: c.id, 'aria-label': `Select ${c.name}` })),
      h('td', null, h('b', { class: 'ap-org' }, c.organizer), h('div', { class: 'muted ap-event' }, c.event ?? 'All the organizer\'s events')),
      h('td', null, h('div', { class: 'ap-name' }, c.name), h('div', { class: 'muted' }, `${platformLabel(c.platform)} · ${c.type.replace(/_/g, ' ')}`)),
      h('td', { class: 'ap-targeting' }, c.targeting),
      h('td', { class: 'ap-headline' }, c.headline),
      h('td', { class: 'num ap-proposed', 'data-value': c.proposed }, money(c.proposed)),
      h('td', { class: 'ap-budget', 'data-total': b.total, 'data-spent': b.spent },
        h('div', null, `${money(b.spent)} of ${money(b.total)} spent · ${money(b.remaining)} left`),
        h('div', { class: 'muted' }, `Budget ${b.id} · ${b.strategy.replace(/_/g, ' ')} · ${limit} · today ${money(b.dayTarget)}, ${b.running} running (${money(b.runningDaily)}/day) · ${b.pending} in review${b.status === 'active' ? '' : ` · budget ${b.status}`}`)),
      h('td', { class: 'ap-row-actions' },
        h('button', { type: 'button', class: 'ap-one-approve', onclick: () => void this.act('approve', [c.id]) }, 'Approve'),
        h('button', { type: 'button', class: 'ap-one-reject secondary', onclick: () => void this.act('reject', [c.id]) }, 'Reject')),
    );
  }

  private selected(): number[] {
    return [...this.rows.querySelectorAll<HTMLInputElement>('input.ap-pick:checked')].map((i) => Number(i.value));
  }

  private selectAll(on: boolean): void {
    for (const i of this.rows.querySelectorAll<HTMLInputElement>('input.ap-pick')) i.checked = on;
  }

  private setBusy(busy: boolean): void {
    this.busy = busy;
    for (const b of [...this.buttons, ...this.rows.querySelectorAll<HTMLButtonElement>('button')]) b.disabled = busy;
  }

  /** One request per campaign, in turn (each approval takes its share of the day after the previous one). */
  private async act(verb: 'approve' | 'reject', ids: number[]): Promise<void> {
    if (this.busy) return;
    if (ids.length === 0) return this.onError('Select at least one campaign first.');
    this.setBusy(true);
    const note = this.note.value.trim();
    const out: Outcome[] = [];
    for (const id of ids) {
      const r = await this.call('POST', `/api/v1/campaigns/${id}/${verb}`, note ? { note } : undefined);
      if (this.stopped) return;
      out.push(outcomeOf(verb, id, r.status, r.json));
    }
    this.showResults(out);
    if (out.some((o) => o.state !== 'refused')) this.note.value = '';
    await this.load();
  }

  private showResults(out: Outcome[]): void {
    clear(this.results);
    const names = new Map(this.items.map((c) => [c.id, `${c.name} (${platformLabel(c.platform)})`]));
    for (const o of out) this.results.append(h('li', { 'data-id': o.id, 'data-state': o.state }, h('b', null, `#${o.id} ${names.get(o.id) ?? ''}`), ` — ${o.text}`));
  }
}
