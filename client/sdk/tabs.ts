// What the tabs of a site share, made safe across tab processes. Chromium syncs localStorage between tab
// processes asynchronously (even a Web Lock around a read-modify-write does not help: two tabs still read
// the same value), so:
// - each tab queues in a localStorage key of its own (`tx_q.<tab>`), which only it writes while it lives;
// - a tab's liveness is a Web Lock it holds for its life (`tx_tab.<tab>`, released by the browser when the
//   tab goes away); a dead tab's queue is adopted by a live one, once, decided in IndexedDB;
// - sequence numbers come from a per-session counter in IndexedDB, whose read-write transactions are
//   serialized across tabs (and run in creation order within one).
// Browsers without Web Locks or IndexedDB fall back to one shared queue (best effort, as before).
export class Tabs {
  /** Other tabs of the site that held their lock at the last look (unknown before it: assume some). */
  peers_ = 1;
  private db_: Promise<IDBDatabase | null>;
  private seen_: Record<string, 1> = {};
  private unlock_ = () => {};
  private bc_?: BroadcastChannel;

  constructor(public id: string) {
    this.hold_(id);
    // The first look at the locks now, not at the first flush interval: a visit shorter than that which
    // closes its only tab must number its last events (page_engagement) at once, for the beacon.
    this.dead_([]).catch(() => 0);
    this.db_ = new Promise((ok) => {
      try {
        const r = indexedDB.open('tx', 1);
        r.onupgradeneeded = () => r.result.createObjectStore('kv');
        r.onsuccess = () => {
          const db = r.result;
          // Another tab of a newer SDK wants to upgrade: let it.
          db.onversionchange = () => db.close();
          ok(db);
        };
        r.onerror = r.onblocked = () => ok(null);
      } catch {
        ok(null); // IndexedDB unavailable (some private modes)
      }
    });
  }

  /**
   * Holds the lock of tab `id` until free(). A page entering the back/forward cache frees it (Chromium does
   * not cache a page holding a Web Lock) and comes back as a new tab: its old queue is adopted like any other.
   */
  hold_(id: string) {
    navigator.locks.request('tx_tab.' + (this.id = id), () => new Promise<void>((r) => (this.unlock_ = r)));
    // A new tab says so at once: a tab leaving the page numbers its last events by itself only while it
    // is the site's only tab, and the next look at the locks may be a flush interval away.
    try {
      const bc = (this.bc_ = new BroadcastChannel('tx_tabs'));
      bc.onmessage = () => this.peers_++;
      bc.postMessage(1);
    } catch {
      /* no BroadcastChannel: new tabs are seen at the next look */
    }
  }

  /** Releases this tab's lock and channel (Chromium evicts cached pages that hold either). */
  free_() {
    this.unlock_();
    this.bc_?.close();
  }

  /**
   * One read-write transaction on `key`: `fn` gets the stored value (read when the transaction runs, after
   * every earlier one of every tab) and returns [value to store, result]. Resolves after the commit;
   * null when IndexedDB is unavailable or the transaction failed.
   */
  rw_<T>(key: string, fn: (v: any) => [unknown, T]): Promise<T | null> {
    return this.db_.then(
      (db) =>
        db &&
        new Promise<T | null>((ok) => {
          let out: T | null = null;
          try {
            const t = db.transaction('kv', 'readwrite');
            const s = t.objectStore('kv');
            const g = s.get(key);
            g.onsuccess = () => {
              const vr = fn(g.result);
              out = vr[1];
              s.put(vr[0], key);
            };
            t.oncomplete = () => ok(out);
            t.onerror = t.onabort = () => ok(null);
          } catch {
            ok(null);
          }
        }),
    );
  }

  /** Forgets every counter (consent withdrawn). */
  wipe_(): void {
    this.db_.then((db) => {
      try {
        db?.transaction('kv', 'readwrite').objectStore('kv').clear();
      } catch {
        /* closed or unavailable: nothing stored to forget */
      }
    });
  }

  /**
   * The dead tabs among `ids` that may be adopted now: their lock is free and was free at the previous
   * look too (a look per flush interval), so their last writes have long reached this tab's copy of
   * localStorage. Also counts the live peers.
   */
  async dead_(ids: string[]): Promise<[dead: string[], live: string[]]> {
    const q = await navigator.locks.query();
    const live: string[] = [];
    for (const l of q.held || []) if (l.name?.startsWith('tx_tab.') && l.name !== 'tx_tab.' + this.id) live.push(l.name.slice(7));
    this.peers_ = live.length;
    const dead: string[] = [];
    const seen: Record<string, 1> = {};
    for (const id of ids)
      if (id !== this.id && !live.includes(id)) {
        if (this.seen_[id]) dead.push(id);
        seen[id] = 1;
      }
    this.seen_ = seen;
    return [dead, live];
  }
}
