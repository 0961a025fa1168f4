// The segment summaries' read path (README "Segments"): with REDIS_URL, each tenant's summaries (the current
// version of every segment) are cached in redis-om's layout at `<prefix>analytics:org:{tenant}:segments`, a
// HASH on plain Redis (fetch/remove through redis-om, a save as one MULTI/EXEC: no RediSearch index, no
// search()). Without REDIS_URL the reads go straight to the store and nothing connects to Redis.
//
// Reads try the cache first; a miss or any Redis failure reads the store (Redis away never fails a request,
// like the live layer: fail fast with no offline queue, reconnect in the background). Writes call `changed`
// after their commit: it stores a fresh snapshot (write-through), so the next read on any node sees it.
// A per-tenant generation keeps an older snapshot (a read's fill, or an earlier write) from being stored after
// a newer one begun on this node; across nodes that race is bounded by the TTL. A snapshot that cannot be
// stored is removed, and when even that fails this node reads the store for that tenant until a store succeeds.
import type { Logger } from 'pino';
import { createClient } from 'redis';
import { Repository, Schema } from 'redis-om';
import type { Obj } from '../store/rows.js';
import { entityId, findCurrent, fromEntity, MAX_CACHED_SEGMENTS, pageOf, schemaName, toEntity, type CachedEntity } from './cache-map.js';
import type { SegmentStore } from './store.js';

/** Seed 004: the segments cache lives longer than the 5-30 min of other warm keys; writes and refreshes replace it. */
export const SEGMENTS_CACHE_TTL_S = 3600;
const TIMEOUT_MS = 1000;
/** After a Redis failure the store answers alone for this long (a hung Redis costs one timeout, not one per request). */
const RETRY_MS = 1000;

export class SegmentCacheError extends Error {
  constructor(message: string, readonly op: string) {
    super(message);
    this.name = 'SegmentCacheError';
  }
}

export interface SegmentCache {
  readonly kind: 'redis' | 'none';
  /** The current version of segment `id` (`version` null, or the current one); null when there is none. */
  current(tenantId: number, id: number, version: number | null): Promise<Obj | null>;
  list(tenantId: number, after: number, limit: number): Promise<{ segments: Obj[]; next: number | null }>;
  /** The tenant's segments changed in the store (after the commit). Never throws. */
  changed(tenantId: number): Promise<void>;
  close(): Promise<void>;
}

/** What the cache uses of redis-om's Repository. */
export interface EntityRepo {
  fetch(id: string): Promise<Record<string, unknown>>;
  /** Replaces the entity; it expires after `ttlS` and is never visible without that TTL. */
  save(id: string, entity: CachedEntity, ttlS: number): Promise<unknown>;
  remove(id: string): Promise<void>;
}

export interface SegmentCacheDeps {
  redisUrl?: string | null;
  /** Tests: a stand-in for the repository on Redis (then redisUrl is not used). */
  entities?: EntityRepo;
  /** Key prefix (LIVE_REDIS_PREFIX), shared with the live layer. */
  prefix: string;
  log: Logger;
  store: Pick<SegmentStore, 'get' | 'listCurrent'>;
  ttlS?: number;
  timeoutMs?: number;
  now?: () => number;
}

/** The store alone: what runs without REDIS_URL. */
function storeReads(store: SegmentCacheDeps['store']): Omit<SegmentCache, 'kind' | 'changed' | 'close'> {
  return {
    current: (t, id, version) => store.get(t, id, version),
    async list(t, after, limit) {
      const rows = await store.listCurrent(t, after, limit + 1);
      const page = rows.slice(0, limit);
      return { segments: page, next: rows.length > limit ? Number(page[page.length - 1].id) : null };
    },
  };
}

export function createSegmentCache(deps: SegmentCacheDeps): SegmentCache {
  const direct = storeReads(deps.store);
  if (deps.entities) return cachedReads(deps, deps.entities, direct, async () => {});
  if (!deps.redisUrl) return { kind: 'none', ...direct, changed: async () => {}, close: async () => {} };
  const redis = redisRepository(deps.redisUrl, deps.prefix, deps.log);
  return cachedReads(deps, redis.repo, direct, redis.close);
}

/**
 * `p`, or a SegmentCacheError when it has not settled `ms` after the call. The deadline's rejection waits for
 * setImmediate, which runs after the event loop's poll phase: when the process was stalled past the deadline
 * (a busy machine, a long GC) while Redis's answer already sat in the socket, timers run before that answer is
 * read, and the answer must still win. Only a Redis that has not answered by the deadline times out.
 */
export function bounded<T>(p: Promise<T>, ms: number, op: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let expiry: NodeJS.Immediate | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expiry = setImmediate(() => reject(new SegmentCacheError(`redis did not answer within ${ms} ms`, op)));
    }, ms);
  });
  return Promise.race([p, late]).finally(() => {
    clearTimeout(timer);
    clearImmediate(expiry);
  });
}

/** A HASH per tenant through redis-om on its own node-redis client (redis-om 0.4 needs that client, not ioredis). */
function redisRepository(url: string, prefix: string, log: Logger): { repo: EntityRepo; close: () => Promise<void> } {
  // No offline queue: while Redis is away a command fails at once (the caller reads the store) instead of waiting.
  const client = createClient({ url, disableOfflineQueue: true, socket: { connectTimeout: 5000, reconnectStrategy: (n) => Math.min(100 * n, 2000) } });
  client.on('error', (err: Error) => log.debug({ err: err.message }, 'segments cache: redis error'));
  client.connect().catch((err: Error) => log.warn({ err: err.message }, 'segments cache: redis connect failed; reading segments from the store'));
  const repo = new Repository<CachedEntity>(new Schema<CachedEntity>(schemaName(prefix), {
    segments: { type: 'string', indexed: false },
    count: { type: 'number', indexed: false },
    cached_at: { type: 'number', indexed: false },
    format: { type: 'number', indexed: false },
  }, { dataStructure: 'HASH' }), client);
  const close = async () => {
    try {
      await client.disconnect();
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'segments cache: disconnect');
    }
  };
  // redis-om writes a HASH without a TTL (its save replaces the key); set apart, the entry would exist without one
  // until the EXPIRE that follows (forever if the node stopped between the two). The entry is written in the
  // layout redis-om reads (one field per schema field, numbers as their decimal strings, as its save writes them)
  // by one MULTI/EXEC: UNLINK, HSET and EXPIRE apply together, so the entry never exists without its TTL, a node
  // stopping before EXEC leaves nothing behind, and the save is one round trip, under one timeout like a fetch.
  const save = async (id: string, e: CachedEntity, ttlS: number) => {
    const key = `${schemaName(prefix)}:${id}`;
    const hash = Object.fromEntries(Object.entries(e).map(([field, v]) => [field, String(v)]));
    await client.multi().unlink(key).hSet(key, hash).expire(key, ttlS).exec();
  };
  return { repo: { fetch: (id) => repo.fetch(id), save, remove: (id) => repo.remove(id) }, close };
}

function cachedReads(deps: SegmentCacheDeps, repo: EntityRepo, direct: ReturnType<typeof storeReads>, close: () => Promise<void>): SegmentCache {
  const { log } = deps;
  const ttlS = deps.ttlS ?? SEGMENTS_CACHE_TTL_S;
  const timeoutMs = deps.timeoutMs ?? TIMEOUT_MS;
  const now = deps.now ?? Date.now;
  const generations = new Map<number, number>();
  const unsure = new Set<number>();
  let down = false;
  let failedAt = 0;
  const gen = (t: number) => generations.get(t) ?? 0;
  /** True while Redis failed less than RETRY_MS ago: the store answers without trying it. */
  const resting = () => down && now() - failedAt < RETRY_MS;

  const failed = (err: unknown, op: string, tenantId: number) => {
    const e = { err: (err as Error).message, op, tenant_id: tenantId };
    if (!down) log.warn(e, 'segments cache: redis failed; reading segments from the store');
    else log.debug(e, 'segments cache: redis still failing');
    down = true;
    failedAt = now();
  };
  const succeeded = () => {
    if (down) log.info('segments cache: redis answers again');
    down = false;
  };

  /** The whole tenant from the store; null when it has too many segments to cache. */
  const snapshot = async (t: number): Promise<Obj[] | null> => {
    const rows = await deps.store.listCurrent(t, 0, MAX_CACHED_SEGMENTS + 1);
    return rows.length > MAX_CACHED_SEGMENTS ? null : rows;
  };

  /** Trusts the tenant's entry again after storing generation `g`, unless a newer change began meanwhile. */
  const settled = (t: number, g: number) => {
    if (gen(t) === g) unsure.delete(t);
    succeeded();
  };

  const remove = async (t: number, g: number) => {
    try {
      await bounded(repo.remove(entityId(t)), timeoutMs, 'remove');
      settled(t, g);
    } catch (err) {
      failed(err, 'remove', t);
      unsure.add(t);
    }
  };

  /**
   * Stores a snapshot taken at generation `g` unless a newer write began meanwhile. `replaces`: the entry in
   * Redis is now stale, so when it cannot be replaced or removed this node stops trusting it.
   */
  const store = async (t: number, rows: Obj[] | null, g: number, replaces: boolean) => {
    if (gen(t) !== g) return;
    if (resting()) {
      if (replaces) unsure.add(t);
      return;
    }
    if (rows === null) return remove(t, g);
    try {
      await bounded(repo.save(entityId(t), toEntity(rows, now()), ttlS), timeoutMs, 'save');
      settled(t, g);
    } catch (err) {
      failed(err, 'save', t);
      if (replaces) await remove(t, g);
    }
  };

  /** The cached summaries; a tenant whose entry this node could not update is a miss (its refill replaces it). */
  const cached = async (t: number): Promise<{ rows: Obj[] } | 'miss' | 'unavailable'> => {
    if (resting()) return 'unavailable';
    if (unsure.has(t)) return 'miss';
    try {
      const r = fromEntity(await bounded(repo.fetch(entityId(t)), timeoutMs, 'fetch'), now(), ttlS * 1000);
      succeeded();
      if (!r.hit && r.reason !== 'absent') log.debug({ tenant_id: t, reason: r.reason }, 'segments cache: entry refused');
      return r.hit ? { rows: r.segments } : 'miss';
    } catch (err) {
      failed(err, 'fetch', t);
      return 'unavailable';
    }
  };

  /**
   * Cache first; on a miss the whole tenant is read from the store and stored for the next reader. null: Redis
   * is unavailable or the tenant too large, and the caller asks the store for just what it needs.
   */
  const summaries = async (t: number): Promise<Obj[] | null> => {
    const c = await cached(t);
    if (c === 'unavailable') return null;
    if (c !== 'miss') return c.rows;
    const g = gen(t);
    const rows = await snapshot(t);
    await store(t, rows, g, unsure.has(t));
    return rows;
  };

  return {
    kind: 'redis',
    async current(t, id, version) {
      const rows = await summaries(t);
      // Not in the entry (another version, or a segment the entry does not know yet): the store decides.
      return (rows && findCurrent(rows, id, version)) ?? direct.current(t, id, version);
    },
    async list(t, after, limit) {
      const rows = await summaries(t);
      return rows ? pageOf(rows, after, limit) : direct.list(t, after, limit);
    },
    async changed(t) {
      const g = gen(t) + 1;
      generations.set(t, g);
      try {
        await store(t, await snapshot(t), g, true);
      } catch (err) {
        log.warn({ err: (err as Error).message, tenant_id: t }, 'segments cache: snapshot after a change failed; dropping the entry');
        await remove(t, g);
      }
    },
    close,
  };
}
