// A durable FIFO of events over an AsyncStorage-like adapter, kept in pages so that appending one event
// rewrites one page (≤ pageSize events), not the whole backlog of a long offline period.
//
// Keys: `${prefix}:meta` → {head, tail, state}, `${prefix}:p:${n}` → JSON array of events (page n).
// Writes are serialised and grouped (what arrives while a write is in flight goes into the next one).
// Order of a commit: changed pages, emptied pages removed, then meta. Recovery reads pages from meta.head
// and keeps reading past meta.tail while pages exist, so a crash between a page write and the meta write
// loses nothing; a missing page at or before meta.tail was emptied and is skipped.
import type { StorageAdapter } from './storage.js';

interface Page<T> {
  n: number;
  items: T[];
}

interface Meta<S> {
  v: 1;
  head: number;
  tail: number;
  state: S | null;
}

interface Waiter {
  append: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class DurableQueue<T extends { event_id: string }, S = unknown> {
  private pages: Page<T>[] = [];
  private dirty = new Set<number>();
  private removed = new Set<number>();
  private nextPage = 0;
  private pendingItems: T[] = [];
  private pendingAcks = new Set<string>();
  private pendingState: { value: S | null } | null = null;
  private waiters: Waiter[] = [];
  private writing: Promise<void> | null = null;
  private count = 0;
  /** Events appended by the write in progress (the last ones of the queue). */
  private inflight = 0;

  private constructor(
    private storage: StorageAdapter,
    private prefix: string,
    private pageSize: number,
    /** The tracker's own state (session, counters) as last committed. */
    public state: S | null,
  ) {}

  /**
   * Loads what an earlier run left. `onCorrupt` hears about every loss or repair: a page that could not be
   * parsed or is not a list (skipped), a page missing between others (its events are lost), and a meta that is
   * unreadable, empty or missing while pages exist (the pages are recovered; the tracker state is lost).
   */
  static async open<T extends { event_id: string }, S>(
    storage: StorageAdapter,
    prefix: string,
    pageSize = 200,
    onCorrupt: (key: string, err: unknown) => void = () => {},
  ): Promise<DurableQueue<T, S>> {
    const metaKey = `${prefix}:meta`;
    const raw = await storage.getItem(metaKey);
    let meta: Meta<S> | null = null;
    let metaProblem: string | null = raw === null ? 'missing' : raw.trim() === '' ? 'empty' : null;
    if (!metaProblem) {
      try {
        const m = JSON.parse(raw!) as Meta<S>;
        if (!m || typeof m !== 'object' || !Number.isInteger(m.head) || !Number.isInteger(m.tail)) throw new Error('not a queue meta');
        meta = { v: 1, head: m.head, tail: m.tail, state: m.state ?? null };
      } catch (err) {
        metaProblem = `unreadable (${(err as Error).message})`;
      }
    }
    // The page numbers stored, when the adapter can list its keys.
    const pagePrefix = `${prefix}:p:`;
    const listed = storage.getAllKeys
      ? (await storage.getAllKeys())
          .filter((k) => k.startsWith(pagePrefix) && /^\d+$/.test(k.slice(pagePrefix.length)))
          .map((k) => Number(k.slice(pagePrefix.length)))
          .sort((a, b) => a - b)
      : null;
    const head = meta?.head ?? (listed?.length ? listed[0] : 0);
    const tail = meta?.tail ?? (listed?.length ? listed[listed.length - 1] : -1);

    const q = new DurableQueue<T, S>(storage, prefix, pageSize, meta?.state ?? null);
    const at: { found: number | null } = { found: null }; // the last page number read (an existing page)
    const read = async (n: number): Promise<boolean> => {
      const key = `${pagePrefix}${n}`;
      const page = await storage.getItem(key);
      if (page === null) return false;
      // A page missing after an earlier one held events that were never acknowledged (emptied pages go from the front).
      const last = at.found;
      if (last !== null && n > last + 1) onCorrupt(`${pagePrefix}${last + 1}`, new Error(`page${n - last > 2 ? `s ${last + 1}..${n - 1}` : ` ${last + 1}`} missing: events lost`));
      at.found = n;
      try {
        const items = JSON.parse(page) as T[];
        if (!Array.isArray(items)) throw new Error('not a list of events');
        const ok = items.filter((it) => it && typeof it === 'object' && typeof it.event_id === 'string');
        if (ok.length !== items.length) onCorrupt(key, new Error(`${items.length - ok.length} malformed events skipped`));
        if (ok.length) {
          q.pages.push({ n, items: ok });
          q.count += ok.length;
        }
      } catch (err) {
        onCorrupt(key, new Error(`skipped, its events are lost: ${(err as Error).message}`));
      }
      return true;
    };
    let next = head;
    if (listed) {
      // Pages before head are acknowledged ones whose removal was not recorded; everything from head is read.
      for (const n of listed) if (n >= head) await read(n);
      next = Math.max(head, (listed[listed.length - 1] ?? -1) + 1, tail + 1);
    } else {
      // Without a listing: read on from head while pages exist, past tail too (a crash between a page write and
      // the meta write); a missing page before the first one found was emptied and removed.
      for (; ; next++) {
        if (!(await read(next)) && next > tail) break;
      }
    }
    const last = at.found;
    if (last !== null && last < tail) onCorrupt(`${pagePrefix}${last + 1}`, new Error(`page${tail > last + 1 ? `s ${last + 1}..${tail}` : ` ${tail}`} missing: events lost`));
    q.nextPage = next;
    if (metaProblem && (raw !== null || last !== null)) {
      onCorrupt(
        metaKey,
        new Error(`${metaProblem}; ${q.count} events recovered from ${q.pages.length} pages${listed ? '' : ' (from page 0 on: the storage cannot list its keys)'}, the tracker state (open session, counters) is lost`),
      );
    }
    return q;
  }

  /** Committed events waiting to be sent. */
  get size(): number {
    return this.count;
  }

  /** The oldest committed events, in order (not those of a write still in progress: it may fail). */
  peek(limit: number): T[] {
    const out: T[] = [];
    limit = Math.min(limit, this.count - this.inflight);
    for (const p of this.pages) {
      for (const it of p.items) {
        if (out.length >= limit) return out;
        out.push(it);
      }
    }
    return out;
  }

  /** Appends events (and the tracker state that goes with them); resolves once they are stored. */
  append(items: T[], state?: S | null): Promise<void> {
    this.pendingItems.push(...items);
    if (state !== undefined) this.pendingState = { value: state };
    return this.commit(true);
  }

  /** Removes acknowledged events; resolves once that is stored. */
  ack(ids: Iterable<string>): Promise<void> {
    for (const id of ids) this.pendingAcks.add(id);
    return this.commit(false);
  }

  /** Resolves when everything handed over so far is stored (rejects if the last write failed). */
  settled(): Promise<void> {
    return this.writing ?? Promise.resolve();
  }

  private commit(append: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ append, resolve, reject });
      if (!this.writing) this.writing = this.loop();
    });
  }

  private async loop(): Promise<void> {
    // Yield once so that calls made in the same tick share a write.
    await Promise.resolve();
    while (this.waiters.length) {
      const waiters = this.waiters.splice(0);
      const undo = { nextPage: this.nextPage, state: this.state, appended: this.pendingItems.length };
      this.apply();
      this.inflight = undo.appended;
      try {
        await this.persist();
        this.inflight = 0;
        for (const w of waiters) w.resolve();
      } catch (err) {
        // The appends of a failed write never happened: their callers are told so, so they must not be sent.
        this.inflight = 0;
        this.rollback(undo);
        // Best effort: take back what reached the storage before the failure (a page written, then the meta
        // failed), so that a restart does not recover events their callers were told are not stored.
        await this.persist().catch(() => undefined);
        // Appends made meanwhile were built on the failed ones (the tracker's sequence, totals): they fail too,
        // so that the state goes back to the last one stored. Acks wait for the next write.
        this.pendingItems = [];
        this.pendingState = null;
        const later = this.waiters.filter((w) => w.append);
        this.waiters = this.waiters.filter((w) => !w.append);
        for (const w of [...waiters, ...later]) w.reject(err);
      }
    }
    this.writing = null;
  }

  /** Applies pending appends and acks to the in-memory pages, marking what must be written. */
  private apply(): void {
    if (this.pendingAcks.size) {
      const acks = this.pendingAcks;
      this.pendingAcks = new Set();
      for (const p of this.pages) {
        const before = p.items.length;
        p.items = p.items.filter((it) => !acks.has(it.event_id));
        if (p.items.length !== before) {
          this.count -= before - p.items.length;
          this.dirty.add(p.n);
        }
      }
      // Emptied pages go, except the last one (appends continue there).
      while (this.pages.length > 1 && this.pages[0].items.length === 0) {
        const p = this.pages.shift()!;
        this.dirty.delete(p.n);
        this.removed.add(p.n);
      }
      if (this.pages.length === 1 && this.pages[0].items.length === 0) {
        const p = this.pages.shift()!;
        this.dirty.delete(p.n);
        this.removed.add(p.n);
      }
    }
    for (const it of this.pendingItems.splice(0)) {
      let last = this.pages[this.pages.length - 1];
      if (!last || last.items.length >= this.pageSize) {
        last = { n: this.nextPage++, items: [] };
        this.removed.delete(last.n); // taken back by a failed write, written again now
        this.pages.push(last);
      }
      last.items.push(it);
      this.count++;
      this.dirty.add(last.n);
    }
    if (this.pendingState) {
      this.state = this.pendingState.value;
      this.pendingState = null;
    }
  }

  /** Takes the last `appended` events out of the pages again and restores the state before the write. */
  private rollback(undo: { nextPage: number; state: S | null; appended: number }): void {
    let k = undo.appended;
    while (k > 0 && this.pages.length) {
      const last = this.pages[this.pages.length - 1];
      const take = Math.min(k, last.items.length);
      last.items.splice(last.items.length - take, take);
      this.count -= take;
      k -= take;
      if (last.items.length === 0 && last.n >= undo.nextPage) {
        this.pages.pop();
        this.dirty.delete(last.n);
        this.removed.add(last.n);
      } else this.dirty.add(last.n);
    }
    this.nextPage = undo.nextPage;
    this.state = undo.state;
  }

  private async persist(): Promise<void> {
    const dirty = [...this.dirty].sort((a, b) => a - b);
    for (const n of dirty) {
      const page = this.pages.find((p) => p.n === n);
      if (page) await this.storage.setItem(`${this.prefix}:p:${n}`, JSON.stringify(page.items));
      this.dirty.delete(n);
    }
    for (const n of [...this.removed]) {
      await this.storage.removeItem(`${this.prefix}:p:${n}`);
      this.removed.delete(n);
    }
    const meta: Meta<S> = {
      v: 1,
      head: this.pages.length ? this.pages[0].n : this.nextPage,
      tail: this.nextPage - 1,
      state: this.state,
    };
    await this.storage.setItem(`${this.prefix}:meta`, JSON.stringify(meta));
  }
}
