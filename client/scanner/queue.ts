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

  private constructor(
    private storage: StorageAdapter,
    private prefix: string,
    private pageSize: number,
    /** The tracker's own state (session, counters) as last committed. */
    public state: S | null,
  ) {}

  /** Loads what an earlier run left. `onCorrupt` hears about pages that could not be parsed (skipped). */
  static async open<T extends { event_id: string }, S>(
    storage: StorageAdapter,
    prefix: string,
    pageSize = 200,
    onCorrupt: (key: string, err: unknown) => void = () => {},
  ): Promise<DurableQueue<T, S>> {
    const raw = await storage.getItem(`${prefix}:meta`);
    let meta: Meta<S> = { v: 1, head: 0, tail: -1, state: null };
    if (raw) {
      try {
        meta = { ...meta, ...(JSON.parse(raw) as Meta<S>) };
      } catch (err) {
        onCorrupt(`${prefix}:meta`, err);
      }
    }
    const q = new DurableQueue<T, S>(storage, prefix, pageSize, meta.state);
    let n = meta.head;
    for (; ; n++) {
      const key = `${prefix}:p:${n}`;
      const page = await storage.getItem(key);
      if (page === null) {
        if (n <= meta.tail) continue;
        break;
      }
      try {
        const items = JSON.parse(page) as T[];
        if (Array.isArray(items) && items.length) {
          q.pages.push({ n, items });
          q.count += items.length;
        }
      } catch (err) {
        onCorrupt(key, err);
      }
    }
    q.nextPage = n;
    return q;
  }

  /** Committed events waiting to be sent. */
  get size(): number {
    return this.count;
  }

  /** The oldest committed events, in order. */
  peek(limit: number): T[] {
    const out: T[] = [];
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
    return this.commit();
  }

  /** Removes acknowledged events; resolves once that is stored. */
  ack(ids: Iterable<string>): Promise<void> {
    for (const id of ids) this.pendingAcks.add(id);
    return this.commit();
  }

  /** Resolves when everything handed over so far is stored (rejects if the last write failed). */
  settled(): Promise<void> {
    return this.writing ?? Promise.resolve();
  }

  private commit(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (!this.writing) this.writing = this.loop();
    });
  }

  private async loop(): Promise<void> {
    // Yield once so that calls made in the same tick share a write.
    await Promise.resolve();
    while (this.waiters.length) {
      const waiters = this.waiters.splice(0);
      this.apply();
      try {
        await this.persist();
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
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
