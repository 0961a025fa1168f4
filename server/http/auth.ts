// Key and token checks for HTTP routes. Tenant keys are cached so ingest does not hit the database per
// request, and so ingest keeps working from the cache (into the spool) while the database is down.
import crypto from 'node:crypto';
import { isUnavailable, StoreUnavailableError, type Db } from '../store/db.js';
import type { KeyCheck, KeyLookup, TenantStore } from '../store/tenants.js';

/**
 * A key not cached on this node could not be looked up because the store is unreachable: nothing about the key is
 * known (neither accepted nor refused). Still a StoreUnavailableError (503 store_unavailable, Retry-After), whose
 * message on ingest says the key could not be checked, not that the spool failed.
 */
export class KeyUncheckedError extends StoreUnavailableError {
  constructor(cause: unknown) {
    super(`the key could not be checked: ${(cause as Error)?.message ?? String(cause)}`, cause);
    this.name = 'KeyUncheckedError';
  }
}

export interface KeyResolver {
  /** null = unknown or revoked key. Throws KeyUncheckedError (a StoreUnavailableError) when the key is not cached and the store is down. */
  resolve(key: string): Promise<KeyLookup | null>;
  /** Like resolve, but says why a key is refused (`invalid_key` or `revoked_key`). */
  check(key: string): Promise<KeyCheck>;
  /** Drops a key from this node's cache (revoked here: refused at once instead of after the TTL). */
  forget(keyId: number): void;
  invalidate(): void;
}

/**
 * Positive entries live `ttlMs` (5 s): a key revoked on any node is refused by every node within that time,
 * while a busy key still costs one lookup per 5 s per node, not one per request.
 */
export const KEY_TTL_MS = 5_000;

export function createKeyResolver(db: Db, tenants: TenantStore, ttlMs = KEY_TTL_MS, negativeTtlMs = 5_000, now = Date.now): KeyResolver {
  const cache = new Map<string, { value: KeyCheck; expires: number }>();
  const check = async (key: string): Promise<KeyCheck> => {
    const hit = cache.get(key);
    if (hit && hit.expires > now()) return hit.value;
    try {
      const value = await tenants.lookupKey(db, key);
      if (cache.size > 50_000) cache.clear();
      cache.set(key, { value, expires: now() + (value.ok ? ttlMs : negativeTtlMs) });
      return value;
    } catch (err) {
      // A known key stays usable while the database is away; acknowledged events then go to the spool.
      if (hit?.value.ok) return hit.value;
      if (isUnavailable(err) && !(err instanceof KeyUncheckedError)) throw new KeyUncheckedError(err);
      throw err;
    }
  };
  return {
    check,
    async resolve(key) {
      const c = await check(key);
      return c.ok ? c.lookup : null;
    },
    forget(keyId) {
      for (const [k, v] of cache) if (v.value.ok && v.value.lookup.key_id === keyId) cache.delete(k);
    },
    invalidate: () => cache.clear(),
  };
}

export function bearer(authorization: string | undefined): string | null {
  if (!authorization) return null;
  const m = authorization.match(/^Bearer\s+(\S+)\s*$/i);
  return m ? m[1] : null;
}

export function safeEqual(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

export function originAllowed(allowed: string[], origin: string | undefined): boolean {
  if (!origin) return true;
  if (allowed.length === 0 || allowed.includes('*')) return true;
  return allowed.includes(origin);
}
