// Per-node estimate snapshots of large tenants (audiences/snapshot.ts; README "Audiences", "Estimates over a
// snapshot"). A tenant gets one after a store-path estimate counted at least `minPersons` consented persons; it
// serves estimates while younger than `maxAgeMs` and is reloaded in the background once past half of that, so a
// tenant in regular use never waits for the store's full pass. A snapshot past `maxAgeMs` is not used: the
// estimate goes back to the store (exact) and a reload starts. Loads are requested by estimates, never by a
// timer. Erasure on this node removes the person from the snapshot at once (GDPR registry store); an erasure on
// any node after a snapshot's read began makes the next estimate read the store and the snapshot be read again
// (audiences/service.ts, gdpr_erasures).
import type { Logger } from 'pino';
import type { PersonIds } from '../gdpr/registry.js';
import { idDigest } from '../identity/crypto.js';
import { ERASURE_MARGIN_MS } from '../gdpr/erased.js';
import { createTenantCache } from '../store/tenant-cache.js';
import { columnsBuilder, forgetPerson, snapshotBytes, type PersonColumns, type SnapshotRow } from './snapshot.js';

export interface SnapshotCacheOptions {
  /** AUDIENCE_SNAPSHOT_MAX_AGE_S in ms; 0 = snapshots off (every estimate reads the store). */
  maxAgeMs: number;
  /** AUDIENCE_SNAPSHOT_MIN_PERSONS: smaller tenants read the store (it answers them in well under a second). */
  minPersons: number;
  /** AUDIENCE_SNAPSHOT_MAX_TENANTS: snapshots kept at once on this node (least recently used dropped). */
  maxTenants: number;
  pageSize?: number;
}

export interface SnapshotSource {
  snapshotPage(tenantId: number, after: number, limit: number): Promise<SnapshotRow[]>;
  /** Digests of the tenant's persons erased at or after `at` (gdpr_erasures). */
  erasedSince(tenantId: number, at: Date): Promise<string[]>;
}

export { ERASURE_MARGIN_MS };

export interface SnapshotCache {
  /** The tenant's snapshot when one is fresh enough (and a background reload once it is past half its age). */
  get(tenant: number): PersonColumns | null;
  /** After a store-path estimate: a tenant this large gets a snapshot, loaded in the background. */
  consider(tenant: number, consented: number): void;
  /** Loads (or reloads) now; resolves when the snapshot is in place. */
  load(tenant: number): Promise<PersonColumns>;
  /** Drops the tenant's snapshot and reads it again in the background (an erasure on some node since it was read). */
  reload(tenant: number): void;
  /** GDPR erasure: the person leaves every snapshot of their tenant on this node. */
  erase(ids: Pick<PersonIds, 'tenantId' | 'personId'>): Promise<Record<string, number>>;
  stats(): { tenants: number; bytes: number; loads: number; failures: number };
}

/** The person leaves the snapshot, and their digest is noted as an erasure the snapshot already reflects. */
function forget(cols: PersonColumns, personId: number): boolean {
  cols.forgotten.add(idDigest(cols.tenant, 'person', personId));
  return forgetPerson(cols, personId);
}
const DEFAULT_PAGE = 50_000;

export function createSnapshotCache(deps: { source: SnapshotSource; log: Logger; now?: () => number; options: SnapshotCacheOptions }): SnapshotCache {
  const { source, log, options } = deps;
  const now = deps.now ?? Date.now;
  const page = options.pageSize ?? DEFAULT_PAGE;
  /** Persons erased on this node while their tenant's snapshot was being read, taken out once it is in. */
  const erasedDuringRead = new Map<number, Set<number>>();

  const read = async (tenant: number): Promise<PersonColumns> => {
    const started = now();
    const erased = new Set<number>();
    erasedDuringRead.set(tenant, erased);
    try {
      // Committed before the read began, so their persons are not in it: a later estimate need not reload for them.
      const gone = await source.erasedSince(tenant, new Date(started - ERASURE_MARGIN_MS));
      const b = columnsBuilder(tenant);
      let after = 0;
      for (;;) {
        const rows = await source.snapshotPage(tenant, after, page);
        b.push(rows);
        if (rows.length < page) break;
        after = rows[rows.length - 1].person_id;
      }
      // The start of the read: every change after it may be missing, so the age counts from there.
      const cols = b.done(new Date(started));
      for (const d of gone) cols.forgotten.add(d);
      for (const id of erased) forget(cols, id);
      log.debug({ tenant, persons: cols.size }, 'audience snapshot read');
      return cols;
    } finally {
      erasedDuringRead.delete(tenant);
    }
  };
  const cache = createTenantCache({ what: 'audience snapshot', log, now, options, read, readAt: (c) => c.loadedAt.getTime() });

  return {
    get: (tenant) => cache.get(tenant),
    consider(tenant, consented) {
      if (options.maxAgeMs > 0 && consented >= options.minPersons && !cache.has(tenant)) cache.background(tenant);
    },
    load: (tenant) => cache.load(tenant),
    reload: (tenant) => cache.reload(tenant),
    async erase(ids) {
      let removed = 0;
      const s = cache.peek(ids.tenantId);
      if (s && forget(s, ids.personId)) removed++;
      erasedDuringRead.get(ids.tenantId)?.add(ids.personId);
      return { audience_snapshot: removed };
    },
    stats() {
      let bytes = 0;
      for (const c of cache.values()) bytes += snapshotBytes(c);
      return { ...cache.stats(), bytes };
    },
  };
}
