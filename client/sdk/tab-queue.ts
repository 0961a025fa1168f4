// This tab's queue and the numbering of its events, shared safely with the site's other tabs (tabs.ts
// says why nothing shared is read-modify-written in localStorage):
// - the queue is this tab's own key (`tx_q.<tab>`); without Web Locks or IndexedDB, one shared `tx_queue`;
// - sequence numbers come from the session's counter in IndexedDB; each claim leaves this tab's view of
//   the counter in `tx_n.<tab>` (a floor for claims made later, anywhere);
// - the queues of dead tabs are adopted by one live tab.
import type { Envelope } from '../shared/types.js';
import { uuid } from '../shared/uuid.js';
import { K_SESSION, StoredQueue, bounded, claimIn, floorOf, readJson, writeJson, type Hint, type KV, type SessionState } from './core.js';
import { Tabs } from './tabs.js';

const K_QUEUE = 'tx_queue'; // one queue shared by the tabs (browsers without Web Locks or IndexedDB; SDK 1.0)
const K_Q = 'tx_q.'; // + tab id: that tab's queue
const K_HINT = 'tx_n.'; // + tab id: the sequence counter as that tab last knew it

export interface TabQueueDeps {
  /** Memory before consent, localStorage after (`persist`). */
  store_: KV & { keys(): string[]; persist_: boolean };
  maxQueue_: number;
  log_(...args: unknown[]): void;
  /** An event of the queue got its number: send it (by beacon when `beacon`). */
  numbered_(beacon?: boolean): void;
  flush_(): void;
}

export class TabQueue {
  /** Tab liveness and the IndexedDB counters; null: one shared queue, numbers from localStorage. */
  tabs_: Tabs | null = null;
  /** This tab's id ('' without Tabs). */
  tab_ = '';
  /** Claims sent to IndexedDB and not answered yet. */
  pending = 0;
  q_: StoredQueue<Envelope>;
  private adopting_ = false;

  constructor(
    private d: TabQueueDeps,
    shared: boolean,
  ) {
    if (shared) this.tabs_ = new Tabs((this.tab_ = uuid()));
    this.q_ = this.queue_();
  }

  /** Back from the back/forward cache as a new tab (the old one's lock was freed: its queue may be adopted). */
  renew_() {
    if (this.tabs_) this.tabs_.hold_((this.tab_ = uuid())), (this.q_ = this.queue_());
  }

  /**
   * Gives a queued event its sequence number and previous event: from the session's counter in IndexedDB
   * (asynchronous; the event is sent once numbered), or right away without Tabs, before consent (memory
   * only, this tab only) or when `now` is asked while this is the site's only live tab and none of its own
   * claims is pending (in hide(): the page may be gone before IndexedDB answers). Every claim leaves this
   * tab's view of the counter in its hint key, which claims made later, anywhere, never go below.
   */
  claim_(e: Envelope, now?: boolean, beacon?: boolean) {
    const sid = e.session_id!;
    const id = e.event_id;
    const t = this.tabs_;
    const done = (c: { c_: { n: number; p?: string }; seq_: number; prev_?: string }) => {
      writeJson(this.d.store_, K_HINT + this.tab_, { s: sid, n: c.c_.n, p: c.c_.p } as Hint);
      // (no previous event: undefined, which JSON leaves out)
      this.q_.patch_(id, { sequence_no: c.seq_, prev_event_id: c.prev_ });
      this.d.numbered_(beacon);
    };
    if (!t || !this.d.store_.persist_ || (now && !t.peers_ && !this.pending)) return done(claimIn(null, id, this.floor_(sid)));
    this.pending++;
    t.rw_('c', (v) => {
      const c = claimIn(v?.[sid], id, this.floor_(sid));
      return [bounded(v, sid, c.c_, 8), c];
    }).then((c) => {
      this.pending--;
      // IndexedDB failed (quota, shutdown): number it as a single tab would rather than never send it.
      done(c || claimIn(null, id, this.floor_(sid)));
    });
  }

  private queue_() {
    return new StoredQueue<Envelope>(this.d.store_, this.tab_ ? K_Q + this.tab_ : K_QUEUE, this.d.maxQueue_, (x) => this.d.log_('dropped', x.length));
  }

  /** The highest counter any tab's hint reports for the session. */
  private floor_(sid: string): Hint | null {
    const s = readJson<SessionState>(this.d.store_, K_SESSION);
    const hints = this.d.store_.keys().filter((k) => k.startsWith(K_HINT)).map((k) => readJson<Hint>(this.d.store_, k));
    return floorOf(s ? [...hints, { s: s.id, n: s.seq, p: s.prev }] : hints, sid);
  }

  /**
   * Takes over the queues of tabs that are gone (closed, navigated away, crashed) with events still
   * queued: the first live tab that claims one in IndexedDB moves its events into its own queue, numbers
   * those that were not numbered yet and sends them (what the current consent no longer covers is dropped
   * there, on its way to the network: tracker.ts, out()).
   */
  async adopt_() {
    const t = this.tabs_;
    if (!t || !this.d.store_.persist_ || this.adopting_) return;
    this.adopting_ = true;
    // (one method, not two: the core's size budget)
    try {
      const old = readJson<Envelope[]>(this.d.store_, K_QUEUE);
      if (old?.length) this.q_.push_(...old), this.d.store_.removeItem(K_QUEUE); // left by SDK 1.0
      const ids: Record<string, 1> = {};
      for (const k of this.d.store_.keys()) if (k.startsWith(K_Q) || k.startsWith(K_HINT)) ids[k.slice(5)] = 1;
      const look = await t.dead_(Object.keys(ids));
      const live = look[1];
      for (const id of look[0]) {
        // Adopted by a tab that is still alive (this one too): done or being done. By one that died since: again.
        if (
          !(await t.rw_('a', (v) => {
            const by = v?.[id];
            return by && (by === this.tab_ || live.includes(by)) ? [v, 0] : [bounded(v, id, this.tab_, 100), 1];
          }))
        )
          continue;
        const evs = readJson<Envelope[]>(this.d.store_, K_Q + id) || [];
        const hint = readJson<Hint>(this.d.store_, K_HINT + id);
        // Its last claims may have missed IndexedDB (made as the page closed): raise the counter to its hint.
        if (hint)
          await t.rw_('c', (v) => {
            const c = v?.[hint.s];
            return [c?.n >= hint.n ? v : bounded(v, hint.s, { ids: c?.ids || {}, n: hint.n, p: hint.p }, 8), 0];
          });
        const mine = this.q_.all_().map((e) => e.event_id); // (a list, not a map: the core's size budget)
        const add = evs.filter((e) => !mine.includes(e.event_id));
        this.q_.push_(...add);
        this.d.store_.removeItem(K_Q + id);
        this.d.store_.removeItem(K_HINT + id);
        for (const e of add) if (e.sequence_no === undefined) this.claim_(e);
        this.d.flush_();
      }
    } finally {
      this.adopting_ = false;
    }
  }
}
