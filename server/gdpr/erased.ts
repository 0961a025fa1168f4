// Erasures as seen by the per-node copies of store data (audience snapshots, funnel indexes): which of a tenant's
// persons were erased, on any node, since a copy was read. A copy that may hold one of them is read again.
import type { Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';

const Q = queries('gdpr.sql', ['erased_since']);

/**
 * An erasure's time is its transaction's start, which can precede a copy's read although it committed during
 * it: erasures are compared from this long before the read (erasures are short; a longer one would be missed).
 */
export const ERASURE_MARGIN_MS = 10 * 60_000;

/** Digests (identity/crypto idDigest 'person') of the tenant's persons erased at or after `at`. */
export async function erasedSince(q: Queryable, tenantId: number, at: Date): Promise<string[]> {
  return (await q.query<{ person_sha256: string }>(Q.erased_since, [tenantId, at])).rows.map((r) => r.person_sha256.trim());
}
