// How a tenant's segment summaries sit in Redis (seed 004: `analytics:org:{org_id}:segments`; "org" is the
// tenant, segments are per tenant). redis-om builds a key as `<schema name>:<entity id>`, so the schema is named
// `<prefix>analytics:org` and the entity id is `<tenant>:segments`. One HASH per tenant: the summaries as one
// JSON field (plain Redis has no RedisJSON), their count, when they were cached and a format number. Pure.
import { isObj, type Obj } from '../store/rows.js';

/** Bumped when the summary shape changes: entries of another format are misses, never misread. */
export const CACHE_FORMAT = 1;
/** A tenant with more segments than this is not cached (one entry holds them all). */
export const MAX_CACHED_SEGMENTS = 1000;

export interface CachedEntity {
  [field: string]: string | number;
  segments: string;
  count: number;
  cached_at: number;
  format: number;
}

export type CacheRead =
  | { hit: true; segments: Obj[] }
  | { hit: false; reason: 'absent' | 'format' | 'expired' | 'corrupt' };

export const schemaName = (prefix: string) => `${prefix}analytics:org`;
export const entityId = (tenantId: number) => `${tenantId}:segments`;
export const cacheKey = (prefix: string, tenantId: number) => `${schemaName(prefix)}:${entityId(tenantId)}`;

export function toEntity(segments: Obj[], nowMs: number): CachedEntity {
  return { segments: JSON.stringify(segments), count: segments.length, cached_at: nowMs, format: CACHE_FORMAT };
}

const isSummary = (v: unknown): v is Obj => isObj(v) && Number.isSafeInteger(v.id) && Number.isSafeInteger(v.current_version);

/**
 * Reads what redis-om fetched. A missing key comes back as an entity without fields. The age check bounds an
 * entry's life even if its EXPIRE was never applied (a failure between the save and the expire).
 */
export function fromEntity(e: Record<string, unknown>, nowMs: number, ttlMs: number): CacheRead {
  if (e.segments === undefined) return { hit: false, reason: 'absent' };
  if (e.format !== CACHE_FORMAT) return { hit: false, reason: 'format' };
  if (typeof e.cached_at !== 'number' || nowMs - e.cached_at > ttlMs) return { hit: false, reason: 'expired' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(e.segments));
  } catch {
    return { hit: false, reason: 'corrupt' };
  }
  if (!Array.isArray(parsed) || parsed.length !== e.count || !parsed.every(isSummary)) return { hit: false, reason: 'corrupt' };
  return { hit: true, segments: parsed };
}

/** The current version of segment `id` when `version` is null or names it; undefined otherwise. */
export function findCurrent(segments: Obj[], id: number, version: number | null): Obj | undefined {
  const s = segments.find((x) => x.id === id);
  return s && (version === null || s.current_version === version) ? s : undefined;
}

/** One page of summaries ordered by id, after id `after`; `next` is the last id when more may follow. */
export function pageOf(segments: Obj[], after: number, limit: number): { segments: Obj[]; next: number | null } {
  const rest = segments.filter((s) => Number(s.id) > after).sort((a, b) => Number(a.id) - Number(b.id));
  const page = rest.slice(0, limit);
  return { segments: page, next: rest.length > limit ? Number(page[page.length - 1].id) : null };
}
