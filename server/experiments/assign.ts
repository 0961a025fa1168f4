// The assignments GET /api/tx/experiments answers: every running experiment's variant for a visitor, computed
// with the hash the SDK uses (client/shared/experiment-hash.ts). The running experiments of a tenant are read
// at most once per TTL per node (the endpoint is public and hot); this node's own changes drop them at once.
import { assignVariant, type ExperimentDef } from '../../client/shared/experiment-hash.js';
import type { Db } from '../store/db.js';
import type { ExperimentStore } from './store.js';

export const RUNNING_TTL_MS = 5_000;

/** `{experiment key: variant key}` for the experiments `visitorId` is in (outside the coverage: absent). Pure. */
export function assignmentsFor(defs: ExperimentDef[], visitorId: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of defs) {
    const v = assignVariant(d, visitorId);
    if (v !== null) out[d.key] = v;
  }
  return out;
}

export interface AssignmentCache {
  of(tenantId: number, visitorId: string): Promise<Record<string, string>>;
  forget(tenantId: number): void;
}

export function createAssignmentCache(deps: { db: Db; store: ExperimentStore; now: () => Date; ttlMs?: number }): AssignmentCache {
  const ttl = deps.ttlMs ?? RUNNING_TTL_MS;
  const cache = new Map<number, { defs: ExperimentDef[]; expires: number }>();
  const running = async (tenantId: number): Promise<ExperimentDef[]> => {
    const now = deps.now();
    const hit = cache.get(tenantId);
    if (hit && hit.expires > now.getTime()) return hit.defs;
    const defs = await deps.store.running(deps.db, tenantId, now);
    if (cache.size > 10_000) cache.clear();
    cache.set(tenantId, { defs, expires: now.getTime() + ttl });
    return defs;
  };
  return {
    of: async (tenantId, visitorId) => assignmentsFor(await running(tenantId), visitorId),
    forget: (tenantId) => void cache.delete(tenantId),
  };
}
