// Key and token checks for HTTP routes. Tenant keys are cached so ingest does not hit the database per
// request, and so ingest keeps working from the cache (into the spool) while the database is down.
import crypto from 'node:crypto';
import type { Db } from '../store/db.js';
import type { KeyLookup, TenantStore } from '../store/tenants.js';

export interface KeyResolver {
  /** null = unknown key. Throws StoreUnavailableError when the key is not cached and the store is down. */
  resolve(key: string): Promise<KeyLookup | null>;
  invalidate(): void;
}

export function createKeyResolver(db: Db, tenants: TenantStore, ttlMs = 60_000, negativeTtlMs = 5_000, now = Date.now): KeyResolver {
  const cache = new Map<string, { value: KeyLookup | null; expires: number }>();
  return {
    async resolve(key) {
      const hit = cache.get(key);
      if (hit && hit.expires > now()) return hit.value;
      try {
        const value = await tenants.lookupKey(db, key);
        if (cache.size > 50_000) cache.clear();
        cache.set(key, { value, expires: now() + (value ? ttlMs : negativeTtlMs) });
        return value;
      } catch (err) {
        // A known key stays usable while the database is away; acknowledged events then go to the spool.
        if (hit?.value) return hit.value;
        throw err;
      }
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
