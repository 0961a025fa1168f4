// Per-node funnel indexes of large tenants (analytics/columns.ts; README "Funnels", "The funnel index"). A tenant
// gets one after a funnel read from the store took at least `minQueryMs`; it is read once in pages by id (pages
// keep each read short, so ingest interleaves on the embedded store's one session) and before every funnel it
// reads the rows stored since, so new events count at once. What changes rows in place — pseudonymisation and
// retention, which touch old rows on their own schedule — is picked up when the index is read again (past half
// of `maxAgeMs`, in the background; one past `maxAgeMs` is not used). An erasure on this node drops the tenant's
// index (its rows are found by person, visitor and order, which the index does not hold); one on another node
// after the index was read makes the next funnel read the store while the index is read again.
import type { Logger } from 'pino';
import type { PersonIds } from '../gdpr/registry.js';
import { ERASURE_MARGIN_MS } from '../gdpr/erased.js';
import { createTenantCache } from '../store/tenant-cache.js';
import { appendPage, columnsBytes, emptyColumns, type EventColumns, type IndexPage } from './columns.js';

export interface FunnelIndexOptions {
  /** FUNNEL_INDEX_MAX_AGE_S in ms; 0 = no indexes (every funnel reads the store). */
  maxAgeMs: number;
  /** FUNNEL_INDEX_MIN_QUERY_MS: a tenant gets an index after a store funnel took this long. */
  minQueryMs: number;
  /** FUNNEL_INDEX_MAX_TENANTS: indexes one node keeps (least recently used dropped). */
  maxTenants: number;
  /** FUNNEL_INDEX_MAX_ROWS: a larger tenant is not indexed (≈ 38 bytes a row). */
  maxRows: number;
  /** Ids spanned by one page read (the first page's, when pages are sized by time). */
  pageSize?: number;
  /**
   * Pages sized to take about this long (0 = fixed pages). On the embedded store every page holds its one
   * session, so ingest waits behind it: 100 ms there by default; a PostgreSQL server reads pages on a connection
   * of their own.
   */
  pageTargetMs?: number;
  /**
   * After each page the read rests this many times the page's duration (0 = none), so on the embedded store's
   * one session ingest keeps most of the time while an index is read: 1 there by default.
   */
  pageRest?: number;
  /**
   * A commit in flight this long after a read is assumed done: the ids read since are read again, so a commit
   * that lands below the highest id already read still counts. 0 on the embedded store (one session: commits
   * are seen in id order); 2 s by default on a PostgreSQL server.
   */
  settleMs?: number;
}

export interface IndexSource {
  /** The tenant's rows with afterId < id <= throughId, in id order. */
  page(tenantId: number, afterId: number, throughId: number): Promise<IndexPage>;
  /** The highest id stored now, all tenants (0 when none). */
  maxId(): Promise<number>;
  erasedSince(tenantId: number, at: Date): Promise<string[]>;
}

/** A tenant's index with what keeps it current. */
interface Held {
  cols: EventColumns;
  /** When the first page was read: its age, and the erasures it may miss, count from there. */
  readAt: number;
  /** Erasures committed before the read began (their rows were already gone). */
  reflected: Set<string>;
  /**
   * After each page read: when it began, the id it read through and the ids it added. The first mark is the
   * settled one (every commit in flight at its time is done, so nothing below its maxId is missing); the ids of
   * the later ones are what a read from there may bring again (kept once). Pruned as marks settle.
   */
  marks: { at: number; maxId: number; ids: Set<number> }[];
  pulling: Promise<void> | null;
}

export interface FunnelIndex {
  /** The tenant's columns, caught up to now, or null (no index, too old, or an erasure since): read the store. */
  acquire(tenant: number): Promise<{ cols: EventColumns; asOf: Date } | null>;
  /** After a store funnel: a tenant whose funnel took this long gets an index, read in the background. */
  consider(tenant: number, queryMs: number): void;
  /** Reads (or reads again) now. */
  load(tenant: number): Promise<EventColumns>;
  /** GDPR erasure: the tenant's index is dropped and read again. */
  erase(ids: Pick<PersonIds, 'tenantId'>): Promise<Record<string, number>>;
  stats(): { tenants: number; rows: number; bytes: number; loads: number; failures: number };
}

export class IndexTooLargeError extends Error {
  constructor(
    readonly tenant: number,
    readonly maxRows: number,
  ) {
    super(`Tenant ${tenant} has more than FUNNEL_INDEX_MAX_ROWS=${maxRows} stored events; its funnels read the store (raise the limit if the node has the memory: ~38 bytes a row).`);
    this.name = 'IndexTooLargeError';
  }
}

const DEFAULT_PAGE = 50_000;
const MIN_PAGE = 5_000;
const MAX_PAGE = 1_000_000;

/** The next page's id span for a page of `rows` ids that took `ms`, aiming at `targetMs` (halving or doubling at most). Pure. */
export function nextPageSize(rows: number, ms: number, targetMs: number): number {
  const scaled = ms > 0 ? (rows * targetMs) / ms : rows * 2;
  return Math.round(Math.min(MAX_PAGE, Math.max(MIN_PAGE, rows / 2, Math.min(rows * 2, scaled))));
}
const SETTLE_MS = 2_000;
const TOO_LARGE_RETRY_MS = 86_400_000;

export function createFunnelIndex(deps: { source: IndexSource; log: Logger; now?: () => number; options: FunnelIndexOptions }): FunnelIndex {
  const { source, options } = deps;
  const log = deps.log;
  const now = deps.now ?? Date.now;
  const firstPage = options.pageSize ?? DEFAULT_PAGE;
  const target = options.pageTargetMs ?? 0;
  const rest = options.pageRest ?? 0;
  const settle = options.settleMs ?? SETTLE_MS;

  /**
   * Reads the rows after the last settled mark up to the highest id stored when it starts, in id ranges (a range
   * walks the id index whatever the planner knows: the embedded store has no statistics, and a row-count page
   * planned without them scanned every row of the tenant); a row already held is skipped. `paced`: the
   * background read rests after each page (pageRest); a funnel's catch-up does not make its caller wait longer.
   */
  const pull = async (h: Held, paced: boolean): Promise<void> => {
    const tenant = h.cols.tenant;
    let after = settled(h, now() - settle);
    const top = await source.maxId();
    let span = firstPage;
    while (after < top) {
      const at = now();
      const through = Math.min(top, after + span);
      const started = performance.now();
      const p = await source.page(tenant, after, through);
      const took = performance.now() - started;
      if (target > 0) span = nextPageSize(span, took, target);
      if (paced && rest > 0) await new Promise((r) => setTimeout(r, took * rest));
      const fresh = keepNew(h, p);
      if (!appendPage(h.cols, fresh)) throw new IndexTooLargeError(tenant, options.maxRows);
      h.marks.push({ at, maxId: through, ids: new Set(fresh.id) });
      settled(h, now() - settle);
      if (h.cols.size > options.maxRows) throw new IndexTooLargeError(tenant, options.maxRows);
      after = through;
    }
  };

  /** Tenants found past maxRows, and when: not read again for a day (each attempt reads maxRows rows first). */
  const tooLarge = new Map<number, number>();

  const read = async (tenant: number): Promise<Held> => {
    const readAt = now();
    const reflected = new Set(await source.erasedSince(tenant, new Date(readAt - ERASURE_MARGIN_MS)));
    const h: Held = { cols: emptyColumns(tenant), readAt, reflected, marks: [], pulling: null };
    try {
      await pull(h, true);
    } catch (err) {
      if (err instanceof IndexTooLargeError) tooLarge.set(tenant, now());
      throw err;
    }
    return h;
  };

  const cache = createTenantCache<Held>({
    what: 'funnel index', log, now, read, readAt: (h) => h.readAt,
    options: { maxAgeMs: options.maxAgeMs, maxTenants: options.maxTenants },
  });

  const catchUp = (h: Held): Promise<void> => {
    h.pulling ??= pull(h, false).finally(() => (h.pulling = null));
    return h.pulling;
  };

  return {
    async acquire(tenant) {
      const h = cache.get(tenant);
      if (!h) return null;
      const erased = await source.erasedSince(tenant, new Date(h.readAt - ERASURE_MARGIN_MS));
      if (erased.some((d) => !h.reflected.has(d))) {
        log.info({ tenant }, 'funnel index read again: a person was erased since it was read');
        cache.reload(tenant);
        return null;
      }
      try {
        await catchUp(h);
      } catch (err) {
        log.warn({ err, tenant }, 'funnel index catch-up failed; the funnel reads the store and the index is read again');
        cache.reload(tenant);
        return null;
      }
      return { cols: h.cols, asOf: new Date(h.readAt) };
    },
    consider(tenant, queryMs) {
      if (now() - (tooLarge.get(tenant) ?? -Infinity) < TOO_LARGE_RETRY_MS) return;
      if (options.maxAgeMs > 0 && queryMs >= options.minQueryMs && !cache.has(tenant)) cache.background(tenant);
    },
    load: async (tenant) => (await cache.load(tenant)).cols,
    async erase(ids) {
      const held = cache.has(ids.tenantId) || cache.loading(ids.tenantId) !== null;
      if (held) cache.reload(ids.tenantId);
      return { funnel_index: held ? 1 : 0 };
    },
    stats() {
      let rows = 0;
      let bytes = 0;
      for (const h of cache.values()) {
        rows += h.cols.size;
        bytes += columnsBytes(h.cols);
      }
      return { ...cache.stats(), rows, bytes };
    },
  };
}

/**
 * The id to read from: the maxId of the newest mark begun before `cutoff`, which becomes the first mark (its ids
 * and the older marks are dropped). Right after the first read nothing has settled: its first page (the tenant's
 * oldest rows) is taken as read.
 */
function settled(h: Held, cutoff: number): number {
  let s = 0;
  h.marks.forEach((m, k) => {
    if (m.at <= cutoff) s = k;
  });
  h.marks = h.marks.slice(s);
  if (h.marks.length === 0) return 0;
  h.marks[0].ids = new Set();
  return h.marks[0].maxId;
}

/** The page's rows this index does not hold yet: ids above its maximum, and late commits below it. */
function keepNew(h: Held, p: IndexPage): IndexPage {
  if (p.id.every((id) => id > h.cols.maxId)) return p;
  const keep = p.id.map((id) => id > h.cols.maxId || !h.marks.some((m) => m.ids.has(id)));
  const pick = <T>(xs: T[]) => xs.filter((_, i) => keep[i]);
  return { id: pick(p.id), name: pick(p.name), t: pick(p.t), visitor: pick(p.visitor), dims: p.dims.map(pick) };
}
