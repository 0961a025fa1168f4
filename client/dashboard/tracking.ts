// The organizer's tracking-codes page (/dashboard#tracking, README "Tracking codes"; seed 002 §1.8): the
// organizer's pixels and tags with filters by provider and event, a form with help per provider and
// validation as one types, enable/disable and delete. It talks to /api/v1/tracking-codes with the dashboard
// token (an organizer token manages its own organizer's codes; the server checks everything again).
import { clear, h, text } from './dom.js';
import type { Delivery } from '../../server/tracking/delivery.js';
import { CONVERSION_EVENTS, idProblem, labelProblem, PROVIDERS, RULES, type Provider } from './tracking-rules.js';

interface Code {
  id: number;
  provider: Provider;
  organizer_id: string;
  event_id: string | null;
  enabled: boolean;
  consent: string;
  settings: Record<string, unknown>;
  has_access_token: boolean;
  has_api_secret: boolean;
  /** The server-side destination's delivery (GET /api/v1/tracking-codes, README "Tracking codes"). */
  delivery?: Delivery;
}

type ApiError = { error?: { code?: string; message?: string; field?: string } };

export class TrackingView {
  readonly el: HTMLElement;
  private rows: HTMLElement;
  private empty: HTMLElement;
  private filterProvider: HTMLSelectElement;
  private filterEvent: HTMLInputElement;
  private form: HTMLFormElement;
  private provider: HTMLSelectElement;
  private idInput: HTMLInputElement;
  private idLabel: HTMLElement;
  private idMsg: HTMLElement;
  private help: HTMLElement;
  private eventInput: HTMLInputElement;
  private labelRow: HTMLElement;
  private labelInput: HTMLInputElement;
  private labelMsg: HTMLElement;
  private matchingRow: HTMLElement;
  private matching: HTMLInputElement;
  private secretRow: HTMLElement;
  private secretLabel: HTMLElement;
  private secret: HTMLInputElement;
  private events: Map<string, HTMLInputElement> = new Map();
  private enabled: HTMLInputElement;
  private formMsg: HTMLElement;
  private stopped = false;

  constructor(private origin: string, private token: string, private org: string, private onError: (m: string) => void) {
    this.filterProvider = h('select', { id: 'tc-filter-provider', 'aria-label': 'Provider', onchange: () => void this.refresh() },
      h('option', { value: '' }, 'All providers'), ...PROVIDERS.map((p) => h('option', { value: p }, RULES[p].label)));
    this.filterEvent = h('input', { id: 'tc-filter-event', type: 'search', placeholder: 'Event id (all events)', 'aria-label': 'Event', onchange: () => void this.refresh() });
    this.rows = h('tbody', { id: 'tc-rows' });
    this.empty = h('p', { class: 'muted', id: 'tc-empty' }, 'No tracking codes yet: add your first pixel below.');

    this.provider = h('select', { id: 'tc-provider', name: 'provider', onchange: () => this.providerChanged() }, ...PROVIDERS.map((p) => h('option', { value: p }, RULES[p].label)));
    this.idLabel = h('label', { for: 'tc-id' });
    this.idInput = h('input', { id: 'tc-id', name: 'id', autocomplete: 'off', spellcheck: false, oninput: () => this.checkId() });
    this.idMsg = h('span', { class: 'field-msg', id: 'tc-id-msg', role: 'status' });
    this.help = h('p', { class: 'help', id: 'tc-help' });
    this.eventInput = h('input', { id: 'tc-event', name: 'event_id', placeholder: 'empty: all your events', autocomplete: 'off' });
    this.labelInput = h('input', { id: 'tc-label', name: 'conversion_label', autocomplete: 'off', oninput: () => text(this.labelMsg, labelProblem(this.labelInput.value.trim()) ?? '') });
    this.labelMsg = h('span', { class: 'field-msg', id: 'tc-label-msg', role: 'status' });
    this.labelRow = h('div', { class: 'field' }, h('label', { for: 'tc-label' }, 'Conversion label'), this.labelInput, this.labelMsg);
    this.matching = h('input', { id: 'tc-matching', type: 'checkbox' });
    this.matchingRow = h('div', { class: 'field check' }, this.matching, h('label', { for: 'tc-matching' }, 'Advanced matching (hashed email and phone with purchases)'));
    this.secretLabel = h('label', { for: 'tc-secret' });
    this.secret = h('input', { id: 'tc-secret', type: 'password', autocomplete: 'off' });
    this.secretRow = h('div', { class: 'field' }, this.secretLabel, this.secret, h('span', { class: 'muted' }, 'Stored encrypted, never shown again.'));
    const evChecks = CONVERSION_EVENTS.map(([name, label]) => {
      const c = h('input', { type: 'checkbox', id: `tc-ev-${name}`, value: name, checked: name === 'order_completed' });
      this.events.set(name, c);
      return h('span', { class: 'check' }, c, h('label', { for: `tc-ev-${name}` }, label));
    });
    this.enabled = h('input', { id: 'tc-enabled', type: 'checkbox', checked: true });
    this.formMsg = h('p', { class: 'field-msg', id: 'tc-form-msg', role: 'alert' });
    this.form = h('form', { id: 'tc-form', class: 'tc-form', novalidate: true, onsubmit: (e: Event) => (e.preventDefault(), void this.submit()) },
      h('div', { class: 'field' }, h('label', { for: 'tc-provider' }, 'Provider'), this.provider),
      this.help,
      h('div', { class: 'field' }, this.idLabel, this.idInput, this.idMsg),
      this.labelRow,
      h('div', { class: 'field' }, h('label', { for: 'tc-event' }, 'Event (optional)'), this.eventInput),
      h('div', { class: 'field' }, h('span', { class: 'label' }, 'Server-side conversions'), ...evChecks),
      this.matchingRow,
      this.secretRow,
      h('div', { class: 'field check' }, this.enabled, h('label', { for: 'tc-enabled' }, 'Enabled')),
      h('button', { type: 'submit', id: 'tc-save' }, 'Add tracking code'),
      this.formMsg,
    );

    this.el = h('section', { class: 'tracking', id: 'tracking' },
      h('div', { class: 'title-row' }, h('h1', null, 'Tracking codes'), h('a', { href: '#', class: 'link', id: 'tc-back' }, '← Live dashboard')),
      h('p', { class: 'muted' }, `Your pixels and tags on the pages of organizer ${org}'s events. A code for one event replaces your default for that provider on that event; the marketplace's own codes are always there too. They load only after the visitor's consent.`),
      h('div', { class: 'panel' },
        h('div', { class: 'tc-filters' }, this.filterProvider, this.filterEvent),
        h('div', { class: 'table-wrap' }, h('table', { class: 'tc-table' }, h('thead', null, h('tr', null, h('th', null, 'Provider'), h('th', null, 'ID'), h('th', null, 'Applies to'), h('th', null, 'Consent'), h('th', null, 'Server-side'), h('th', null, 'Status'), h('th', null, ''))), this.rows)),
        this.empty),
      h('div', { class: 'panel' }, h('h2', null, 'Add a tracking code'), this.form),
    );
    this.providerChanged();
  }

  start(): void {
    void this.refresh();
  }

  destroy(): void {
    this.stopped = true;
  }

  private async api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const r = await fetch(this.origin + path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, json: await r.json().catch(() => null) };
  }

  private rule() {
    return RULES[this.provider.value as Provider];
  }

  private providerChanged(): void {
    const r = this.rule();
    text(this.idLabel, r.fieldLabel);
    this.idInput.placeholder = r.example;
    text(this.help, r.help);
    this.labelRow.hidden = !r.label2;
    this.matchingRow.hidden = !r.matching;
    this.secretRow.hidden = r.secret === null;
    text(this.secretLabel, r.secret === 'api_secret' ? 'API secret (optional)' : 'Access token (optional)');
    this.secret.title = r.secretHelp;
    if (this.idInput.value) this.checkId();
  }

  private checkId(): boolean {
    const problem = idProblem(this.provider.value as Provider, this.idInput.value);
    text(this.idMsg, problem ?? '✓');
    this.idMsg.dataset.ok = problem ? 'false' : 'true';
    this.idInput.setAttribute('aria-invalid', problem ? 'true' : 'false');
    return problem === null;
  }

  private async submit(): Promise<void> {
    text(this.formMsg, '');
    if (!this.checkId() || labelProblem(this.labelInput.value.trim()) !== null) return;
    const p = this.provider.value as Provider;
    const r = RULES[p];
    const settings: Record<string, unknown> = {
      [r.field]: this.idInput.value.trim(),
      conversion_events: [...this.events].filter(([, c]) => c.checked).map(([n]) => n),
    };
    if (r.matching) settings.advanced_matching = this.matching.checked;
    if (r.label2 && this.labelInput.value.trim()) settings.conversion_label = this.labelInput.value.trim();
    const body: Record<string, unknown> = { provider: p, organizer_id: this.org, enabled: this.enabled.checked, settings };
    if (this.eventInput.value.trim()) body.event_id = this.eventInput.value.trim();
    if (r.secret && this.secret.value) body.secrets = { [r.secret]: this.secret.value };
    const res = await this.api('POST', '/api/v1/tracking-codes', body);
    if (res.status !== 201) {
      const e = (res.json as ApiError | null)?.error;
      text(this.formMsg, e?.message ?? `The server answered ${res.status}.`);
      if (e?.field?.endsWith(r.field)) text(this.idMsg, e.message ?? '');
      return;
    }
    this.idInput.value = '';
    this.secret.value = '';
    this.labelInput.value = '';
    text(this.idMsg, '');
    text(this.formMsg, 'Saved.');
    await this.refresh();
  }

  async refresh(): Promise<void> {
    const q = new URLSearchParams({ organizer_id: this.org, limit: '500' });
    if (this.filterProvider.value) q.set('provider', this.filterProvider.value);
    if (this.filterEvent.value.trim()) q.set('event_id', this.filterEvent.value.trim());
    const res = await this.api('GET', `/api/v1/tracking-codes?${q}`);
    if (this.stopped) return;
    if (res.status !== 200) return this.onError((res.json as ApiError | null)?.error?.message ?? `Could not load the tracking codes (${res.status}).`);
    const items = (res.json as { items: Code[] }).items;
    clear(this.rows);
    for (const c of items) this.rows.append(this.row(c));
    this.empty.hidden = items.length > 0;
  }

  private row(c: Code): HTMLElement {
    const r = RULES[c.provider];
    const events = (c.settings.conversion_events as string[] | undefined) ?? [];
    const secret = c.has_access_token || c.has_api_secret ? ' · token set' : '';
    const toggle = h('button', { type: 'button', class: 'link', 'data-action': 'toggle', onclick: () => void this.update(c.id, { enabled: !c.enabled }) }, c.enabled ? 'Disable' : 'Enable');
    const del = h('button', { type: 'button', class: 'link danger', 'data-action': 'delete', onclick: () => void this.remove(c.id) }, 'Delete');
    return h('tr', { 'data-id': c.id, 'data-enabled': String(c.enabled), class: c.enabled ? '' : 'disabled' },
      h('td', null, r.label),
      h('td', null, h('code', null, String(c.settings[r.field] ?? ''))),
      h('td', null, c.event_id === null ? 'All events' : `Event ${c.event_id}`),
      h('td', null, c.consent),
      h('td', null, (events.length ? events.join(', ') : '—') + secret),
      h('td', { class: 'status' }, c.enabled ? 'Enabled' : 'Disabled', ...this.delivery(c)),
      h('td', null, toggle, ' ', del));
  }

  /** The server-side delivery under the status: a held badge with the provider's answer, and the counts that are not 0. */
  private delivery(c: Code): HTMLElement[] {
    const d = c.delivery;
    if (!d) return [];
    const out: HTMLElement[] = [];
    if (d.status === 'held') {
      const since = d.held_since ? ` (since ${d.held_since.slice(0, 16).replace('T', ' ')} UTC)` : '';
      out.push(h('div', { class: 'tc-held badge', 'data-delivery': 'held', title: (d.held_reason ?? '') + since }, `Held: ${d.held_reason ?? 'refused by the platform'}`));
    }
    const counts = [[d.pending, 'pending'], [d.failing, 'failing'], [d.dead_24h, 'dead in 24 h']].filter(([n]) => Number(n) > 0).map(([n, what]) => `${n} ${what}`);
    if (counts.length) out.push(h('div', { class: 'tc-counts', 'data-delivery': 'counts' }, counts.join(' · ')));
    if (d.status !== 'held' && d.failing > 0 && d.last_error) out.push(h('div', { class: 'tc-error' }, `Last error: ${d.last_error}`));
    return out;
  }

  private async update(id: number, body: unknown): Promise<void> {
    const res = await this.api('PUT', `/api/v1/tracking-codes/${id}`, body);
    if (res.status !== 200) this.onError((res.json as ApiError | null)?.error?.message ?? `Update failed (${res.status}).`);
    await this.refresh();
  }

  private async remove(id: number): Promise<void> {
    const res = await this.api('DELETE', `/api/v1/tracking-codes/${id}`);
    if (res.status !== 200) this.onError((res.json as ApiError | null)?.error?.message ?? `Delete failed (${res.status}).`);
    await this.refresh();
  }
}
