// The resolution cache of GET /api/tx/tracking-config (seed 002: 5 min): in memory, and in Redis when
// REDIS_URL is set. A change must reach every node, with or without Redis, so every entry is stamped with
// the tenant's fingerprint (store.version: its codes, catalog events and live owners) and it is re-read from the store at most every
// 5 s per tenant (single-flight) — the mechanism the key cache and live/key-status.ts use for revocation: the
// node that made the change forgets at once, every other node within the re-read interval. Redis keys carry
// the fingerprint too, so a change needs no deletes there: stale keys are simply never asked for and expire.
import type { Logger } from 'pino';

export const RESOLUTION_TTL_MS = 5 * 60_000;
export const VERSION_TTL_MS = 5_000;
const MAX_ENTRIES = 20_000;

/** The shared tier (Redis); every failure is the caller's miss, never an error. */
export interface RemoteCache {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlS: number): Promise<void>;
}

export interface CacheDeps<T> {
  version(tenant: number): Promise<string>;
  compute(tenant: number, key: string): Promise<T>;
  remote: RemoteCache | null;
  /** Redis key prefix (LIVE_REDIS_PREFIX). */
  prefix: string;
  now: () => number;
  log: Logger;
  ttlMs?: number;
  versionTtlMs?: number;
}

export interface ResolutionCache<T> {
  get(tenant: number, key: string): Promise<{ value: T; from: 'memory' | 'redis' | 'store' }>;
  /** This node changed the tenant's codes or catalog events: forget its fingerprint and entries now. */
  invalidate(tenant: number): void;
  stats(): { entries: number; tenants: number };
}

interface Version {
  v: string;
  at: number;
  reading: Promise<string> | null;
}

export function createResolutionCache<T>(deps: CacheDeps<T>): ResolutionCache<T> {
  const ttl = deps.ttlMs ?? RESOLUTION_TTL_MS;
  const vttl = deps.versionTtlMs ?? VERSION_TTL_MS;
  const versions = new Map<number, Version>();
  const entries = new Map<string, { v: string; at: number; value: T }>();
  const entryKey = (tenant: number, key: string) => `${tenant}|${key}`;

  /** The tenant's fingerprint, re-read when older than vttl; the store away keeps the last one known. */
  const versionOf = async (tenant: number): Promise<string> => {
    const known = versions.get(tenant);
    if (known && deps.now() - known.at < vttl) return known.v;
    if (known?.reading) return known.reading;
    const slot: Version = known ?? { v: '', at: 0, reading: null };
    versions.set(tenant, slot);
    slot.reading = deps.version(tenant).then(
      (v) => {
        slot.v = v;
        slot.at = deps.now();
        return v;
      },
      (err: Error) => {
        if (!slot.v) throw err;
        deps.log.warn({ err: err.message, tenant_id: tenant }, 'tracking: codes version not read; keeping the last one');
        return slot.v;
      },
    ).finally(() => {
      slot.reading = null;
    });
    return slot.reading;
  };

  const remoteKey = (tenant: number, v: string, key: string) => `${deps.prefix}tracking:${tenant}:${v}:${key}`;

  const fromRemote = async (k: string): Promise<T | null> => {
    try {
      const s = await deps.remote!.get(k);
      return s === null ? null : (JSON.parse(s) as T);
    } catch (err) {
      deps.log.warn({ err: (err as Error).message }, 'tracking: redis read failed; resolving from the store');
      return null;
    }
  };

  const store = (k: string, v: string, value: T) => {
    if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
    entries.set(k, { v, at: deps.now(), value });
  };

  return {
    async get(tenant, key) {
      const v = await versionOf(tenant);
      const k = entryKey(tenant, key);
      const hit = entries.get(k);
      if (hit && hit.v === v && deps.now() - hit.at < ttl) return { value: hit.value, from: 'memory' };
      if (deps.remote) {
        const r = await fromRemote(remoteKey(tenant, v, key));
        if (r !== null) {
          store(k, v, r);
          return { value: r, from: 'redis' };
        }
      }
      const value = await deps.compute(tenant, key);
      store(k, v, value);
      if (deps.remote) {
        deps.remote.set(remoteKey(tenant, v, key), JSON.stringify(value), Math.ceil(ttl / 1000)).catch((err: Error) => deps.log.warn({ err: err.message }, 'tracking: redis write failed'));
      }
      return { value, from: 'store' };
    },
    invalidate(tenant) {
      versions.delete(tenant);
      for (const k of entries.keys()) if (k.startsWith(`${tenant}|`)) entries.delete(k);
    },
    stats: () => ({ entries: entries.size, tenants: versions.size }),
  };
}
