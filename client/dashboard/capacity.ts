// Gate capacity panel: per gate inside now, entries, denials, rate per minute and a capacity bar that turns
// amber at 85 % and red at 95 %; the venue total on top. Used by the gate view and the organizer's event view.
import type { Capacity, GateCapacity } from '../live/types.js';
import { gateMeterLabel, venueMeterLabel } from './a11y.js';
import { attr, h, number, text } from './dom.js';
import { capacityLevel } from './funnel.js';
import { formatCount, formatPercent } from './format.js';

interface GateEls {
  root: HTMLElement;
  inside: HTMLElement;
  fill: HTMLElement;
  pct: HTMLElement;
  entries: HTMLElement;
  denied: HTMLElement;
  rate: HTMLElement;
  capacity: HTMLElement;
}

function meter(label: string): { root: HTMLElement; fill: HTMLElement; pct: HTMLElement } {
  const fill = h('div', { class: 'fill' });
  const pct = h('span', { class: 'pct' }, '–');
  const root = h('div', { class: 'meter', role: 'meter', 'aria-label': label, 'aria-valuemin': 0, 'aria-valuemax': 100 }, fill, pct);
  return { root, fill, pct };
}

function setMeter(m: { root: HTMLElement; fill: HTMLElement; pct: HTMLElement }, percent: number | null): void {
  const p = percent === null ? 0 : Math.max(0, Math.min(100, percent));
  const w = `${p}%`;
  if (m.fill.style.width !== w) m.fill.style.width = w;
  attr(m.root, 'aria-valuenow', percent === null ? null : String(percent));
  text(m.pct, formatPercent(percent));
}

/** Sets cap-ok / cap-warn / cap-crit / cap-unknown and data-percent on an element. */
function level(el: HTMLElement, percent: number | null): void {
  const cls = `cap-${capacityLevel(percent)}`;
  for (const c of ['cap-ok', 'cap-warn', 'cap-crit', 'cap-unknown']) if (c !== cls) el.classList.remove(c);
  el.classList.add(cls);
  attr(el, 'data-percent', percent === null ? null : String(percent));
}

export class CapacityPanel {
  readonly el: HTMLElement;
  private venue: HTMLElement;
  private venueText: HTMLElement;
  private venueMeter: ReturnType<typeof meter>;
  private gatesEl: HTMLElement;
  private empty: HTMLElement;
  private gates = new Map<string, GateEls>();

  constructor(readonly eventId: string, title: string) {
    this.venueMeter = meter(venueMeterLabel(eventId));
    this.venueText = h('span', { class: 'venue-text' }, '–');
    this.venue = h('div', { class: 'venue cap-unknown', 'data-venue': eventId }, h('div', { class: 'venue-head' }, h('span', { class: 'label' }, 'Venue'), this.venueText), this.venueMeter.root);
    this.gatesEl = h('div', { class: 'gates' });
    this.empty = h('p', { class: 'muted empty' }, 'No scanner has reported for this event yet.');
    this.el = h('section', { class: 'panel capacity', 'data-event': eventId }, h('h2', null, title), this.venue, this.empty, this.gatesEl);
  }

  private gate(id: string): GateEls {
    let g = this.gates.get(id);
    if (g) return g;
    const m = meter(gateMeterLabel(id, this.eventId));
    const dd = () => h('dd', { class: 'num' }, '–');
    const inside = h('b', { class: 'big num', 'data-field': 'inside' }, '–');
    const entries = dd();
    const denied = dd();
    const rate = dd();
    const capacity = dd();
    entries.setAttribute('data-field', 'entries');
    denied.setAttribute('data-field', 'denied');
    rate.setAttribute('data-field', 'rate_per_minute');
    capacity.setAttribute('data-field', 'capacity');
    const root = h(
      'article',
      { class: 'gate cap-unknown', 'data-gate': id, 'data-event': this.eventId },
      h('h3', null, `Gate ${id}`),
      h('div', { class: 'inside' }, inside, h('span', { class: 'muted' }, ' inside now')),
      m.root,
      h('dl', null, h('dt', null, 'Entries'), entries, h('dt', null, 'Denied'), denied, h('dt', null, 'Per minute'), rate, h('dt', null, 'Capacity'), capacity),
    );
    g = { root, inside, fill: m.fill, pct: m.pct, entries, denied, rate, capacity };
    this.gates.set(id, g);
    // keep gates sorted by id
    const after = [...this.gates.keys()].sort().find((k) => k > id);
    this.gatesEl.insertBefore(root, after ? this.gates.get(after)!.root : null);
    return g;
  }

  update(c: Capacity): void {
    const ids = Object.keys(c.gates ?? {});
    this.empty.hidden = ids.length > 0;
    level(this.venue, c.percent);
    text(this.venueText, c.capacity === null ? `${formatCount(c.inside)} inside · ${formatCount(c.entries)} entries · ${formatCount(c.denied)} denied` : `${formatCount(c.inside)} of ${formatCount(c.capacity)} inside · ${formatCount(c.entries)} entries · ${formatCount(c.denied)} denied · ${c.rate_per_minute}/min`);
    attr(this.venue, 'data-inside', String(c.inside));
    setMeter(this.venueMeter, c.percent);
    for (const id of ids) this.updateGate(this.gate(id), c.gates[id]);
    for (const [id, g] of this.gates) {
      if (!ids.includes(id)) {
        g.root.remove();
        this.gates.delete(id);
      }
    }
  }

  private updateGate(g: GateEls, v: GateCapacity): void {
    level(g.root, v.percent);
    number(g.inside, v.inside, formatCount(v.inside));
    number(g.entries, v.entries, formatCount(v.entries));
    number(g.denied, v.denied, formatCount(v.denied));
    number(g.rate, v.rate_per_minute, formatCount(v.rate_per_minute));
    if (v.capacity === null) text(g.capacity, '–');
    else number(g.capacity, v.capacity, formatCount(v.capacity));
    setMeter({ root: g.fill.parentElement as HTMLElement, fill: g.fill, pct: g.pct }, v.percent);
    // The gate's name from the tenant's catalog, when it has one (data-gate keeps the id).
    const heading = g.root.querySelector('h3');
    if (heading && v.name) text(heading, v.name);
    attr(g.fill.parentElement as HTMLElement, 'aria-label', gateMeterLabel(v.name || (g.root.getAttribute('data-gate') ?? ''), this.eventId));
  }

  /** The panel's heading (the event's catalog title in the gate view). */
  setTitle(title: string): void {
    const heading = this.el.querySelector('h2');
    if (heading) text(heading, title);
  }
}
