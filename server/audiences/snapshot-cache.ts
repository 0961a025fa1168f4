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

/**
 * An erasure's time is its transaction's start, which can precede a snapshot's read although it committed during
 * it: erasures are compared from this long before the read (erasures are short; a longer one would be missed).
 */
export const ERASURE_MARGIN_MS = 10 * 60_000;

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

const RETRY_AFTER_FAILURE_MS = 60_000;

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
  const snaps = new Map<number, { cols: PersonColumns; usedAt: number }>();
  const loading = new Map<number, { promise: Promise<PersonColumns>; erased: Set<number> }>();
  const failedAt = new Map<number, number>();
  let loads = 0;
  let failures = 0;

  const read = async (tenant: number, erased: Set<number>): Promise<PersonColumns> => {
    const started = now();
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
    return cols;
  };

  const load = (tenant: number): Promise<PersonColumns> => {
    const inFlight = loading.get(tenant);
    if (inFlight) return inFlight.promise;
    const erased = new Set<number>();
    const promise = read(tenant, erased).then(
      (cols) => {
        loads++;
        failedAt.delete(tenant);
        snaps.set(tenant, { cols, usedAt: now() });
        evict();
        log.info({ tenant, persons: cols.size, ms: now() - cols.loadedAt.getTime() }, 'audience snapshot loaded');
        return cols;
      },
      (err: unknown) => {
        failures++;
        failedAt.set(tenant, now());
        log.warn({ err, tenant }, 'audience snapshot load failed; estimates read the store');
        throw err;
      },
    ).finally(() => loading.delete(tenant));
    loading.set(tenant, { promise, erased });
    return promise;
  };

  const background = (tenant: number) => {
    if (loading.has(tenant) || now() - (failedAt.get(tenant) ?? -Infinity) < RETRY_AFTER_FAILURE_MS) return;
    // The failure is logged and counted by load(); the estimate that asked has its answer from the store.
    load(tenant).catch(() => undefined);
  };

  const evict = () => {
    while (snaps.size > options.maxTenants) {
      let oldest: number | null = null;
      let at = Infinity;
      for (const [t, s] of snaps) if (s.usedAt < at) [oldest, at] = [t, s.usedAt];
      snaps.delete(oldest!);
    }
  };

  return {
    get(tenant) {
      if (options.maxAgeMs <= 0) return null;
      const s = snaps.get(tenant);
      if (!s) return null;
      const age = now() - s.cols.loadedAt.getTime();
      if (age > options.maxAgeMs) {
        snaps.delete(tenant);
        background(tenant);
        return null;
      }
      if (age > options.maxAgeMs / 2) background(tenant);
      s.usedAt = now();
      return s.cols;
    },
    consider(tenant, consented) {
      if (options.maxAgeMs > 0 && consented >= options.minPersons && !snaps.has(tenant)) background(tenant);
    },
    load,
    reload(tenant) {
      snaps.delete(tenant);
      background(tenant);
    },
    async erase(ids) {
      let removed = 0;
      const s = snaps.get(ids.tenantId);
      if (s && forget(s.cols, ids.personId)) removed++;
      loading.get(ids.tenantId)?.erased.add(ids.personId);
      return { audience_snapshot: removed };
    },
    stats() {
      let bytes = 0;
      for (const s of snaps.values()) bytes += snapshotBytes(s.cols);
      return { tenants: snaps.size, bytes, loads, failures };
    },
  };
}
