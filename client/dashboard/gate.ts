// Gate staff view: one capacity panel per event of the gate token (analytics:event:{id}:capacity).
import type { LiveClient, Subscription } from '../live/client.js';
import { topics, type CapacityData } from '../live/types.js';
import { CapacityPanel } from './capacity.js';
import { h } from './dom.js';

export class GateView {
  readonly el: HTMLElement;
  private subs: Subscription<CapacityData>[] = [];
  private panels = new Map<string, CapacityPanel>();

  constructor(
    private client: LiveClient,
    readonly events: string[],
    private onError: (message: string) => void,
  ) {
    this.el = h(
      'div',
      { class: 'gate-view', id: 'gate-view' },
      h('div', { class: 'title-row' }, h('h1', null, 'Gates'), h('p', { class: 'muted legend-cap' }, h('span', { class: 'sw cap-ok' }), ' under 85 %  ', h('span', { class: 'sw cap-warn' }), ' 85 % and over  ', h('span', { class: 'sw cap-crit' }), ' 95 % and over')),
    );
    for (const id of events) {
      const p = new CapacityPanel(id, id);
      this.panels.set(id, p);
      this.el.append(p.el);
    }
  }

  start(): void {
    for (const id of this.events) {
      this.subs.push(
        this.client.subscribe(topics.capacity(id), (m) => {
          const p = this.panels.get(id);
          p?.update(m.data);
          if (m.data.event_title) p?.setTitle(m.data.event_title);
        }, (e) => this.onError(`Event ${id}: ${e.code}`)),
      );
    }
  }

  destroy(): void {
    for (const s of this.subs) s.unsubscribe();
  }
}
