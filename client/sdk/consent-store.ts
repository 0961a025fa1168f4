// Memory before consent, localStorage after: no identifier is written to the device without consent.
import type { KV } from './core.js';

/** Keys that identify the visitor: removed when consent is withdrawn (tx_q.*, tx_n.*, tx_queue: tab-queue.ts). */
const PERSONAL = /^tx_(vid|session|first_touch|queue|q\.|n\.)/;

export class ConsentStore implements KV {
  mem_: Record<string, string> = {};
  persist_ = false;
  constructor(public ls_: KV | null) {}
  private t_(): KV | null {
    return this.persist_ ? this.ls_ : null;
  }
  getItem(k: string) {
    const t = this.t_();
    return t ? t.getItem(k) : k in this.mem_ ? this.mem_[k] : null;
  }
  setItem(k: string, v: string) {
    const t = this.t_();
    t ? t.setItem(k, v) : (this.mem_[k] = v);
  }
  removeItem(k: string) {
    const t = this.t_();
    t ? t.removeItem(k) : delete this.mem_[k];
  }
  keys(): string[] {
    const t = this.t_();
    return Object.keys(t ? (t.keys ? t.keys() : t) : this.mem_);
  }
  setPersist_(on: boolean) {
    const ls = this.ls_;
    if (on === this.persist_ || !ls) return;
    try {
      if (on) for (const k in this.mem_) ls.setItem(k, this.mem_[k]);
      else for (const k of ls.keys ? ls.keys() : Object.keys(ls)) PERSONAL.test(k) && ls.removeItem(k);
    } catch {
      /* storage unavailable: nothing was kept there either */
    }
    this.mem_ = {};
    this.persist_ = on;
  }
}
