// Memory before consent, localStorage after: no identifier is written to the device without consent.
import type { KV } from './core.js';

/**
 * Keys that identify the visitor: removed when consent is withdrawn (tx_q.*, tx_n.*, tx_queue: tab-queue.ts;
 * tx_session_xp.*, the experiments' exposure keys in the helpers chunk: experiments.ts).
 */
const PERSONAL = /^tx_(vid|session|first_touch|queue|q\.|n\.)/;

export class ConsentStore implements KV {
  mem_: Record<string, string> = {};
  persist_ = false;
  constructor(public ls_: KV | null) {}
  // persist_ is only ever on with a localStorage (setPersist_). A write it refuses (quota full) is kept in memory
  // for this page instead of throwing into the host page's call: storage is best effort.
  getItem(k: string) {
    return this.mem_[k] ?? (this.persist_ ? this.ls_!.getItem(k) : null);
  }
  setItem(k: string, v: string) {
    try {
      if (this.persist_) return this.ls_!.setItem(k, v), void delete this.mem_[k];
    } catch {}
    this.mem_[k] = v;
  }
  removeItem(k: string) {
    delete this.mem_[k];
    this.persist_ && this.ls_!.removeItem(k);
  }
  keys(): string[] {
    // localStorage's own keys are enumerable, another KV lists them; memory never holds a `keys` entry.
    const t = (this.persist_ ? this.ls_ : this.mem_) as KV;
    return t.keys ? t.keys() : Object.keys(t);
  }
  setPersist_(on: boolean) {
    const ls = this.ls_;
    if (on === this.persist_ || !ls) return;
    try {
      if (on) for (const k in this.mem_) ls.setItem(k, this.mem_[k]);
      else for (const k of this.keys()) PERSONAL.test(k) && ls.removeItem(k); // persist_ is still on here
    } catch {
      /* storage unavailable: nothing was kept there either */
    }
    this.mem_ = {};
    this.persist_ = on;
  }
}
