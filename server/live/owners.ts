// Event → organizer ownership (issue 8.3). Ownership decides who may read an event's live topics and which
// dashboard the event joins, so it must not follow whatever a public write key sends. A row naming
// `entities.organizer_id` is a *claim*; claims are decided when the row commits, in commit (receive) order,
// never in occurred_at order, and the result is stored (live_event_owners, sql/004) so a restart reads the
// same owner back instead of re-deriving it from back-datable rows:
//   * no owner yet: the claim sets it;
//   * a claim from a secret-key source (SECRET_SOURCES) replaces an owner set by a public claim, once: the
//     backend knows which organizer sells an event, the browser does not. A secret owner is final;
//   * any other claim naming another organizer is a conflict: recorded (live_owner_conflicts, log, counter)
//     and ignored.
//   * the catalog (catalog_events.organizer_id, synced by the tenant) comes first: a catalog owner is final
//     against both kinds of claim and is not copied into live_event_owners (the catalog is its record).
// GDPR: ownership and conflict rows hold tenant, event and organizer ids (business entities) and times: no
// personal data.
import type { Logger } from 'pino';
import type { Queryable } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import { queries } from '../store/queries.js';
import { claimSource, entityId, type ClaimSource, type Owner } from './facts.js';

export { claimSource, SECRET_SOURCES, type ClaimSource, type Owner } from './facts.js';

/** 'kept': same organizer, nothing changes; 'confirmed': a secret claim makes the same owner final. */
export type ClaimOutcome = 'set' | 'kept' | 'confirmed' | 'replaced' | 'ignored';

/**
 * The ownership rule for one claim against the current owner. Pure. A catalog owner (the tenant's synced
 * catalog) is final against public and secret claims, and a catalog claim always holds: a change of the
 * event's organizer in the catalog moves the event. A secret claim replaces a public owner once.
 */
export function decideClaim(current: Owner | null, claim: Owner): { owner: Owner; outcome: ClaimOutcome } {
  if (current === null) return { owner: claim, outcome: 'set' };
  const same = current.org === claim.org;
  if (claim.source === 'catalog' || (current.source === 'public' && claim.source === 'secret')) {
    if (same && current.source === claim.source) return { owner: current, outcome: 'kept' };
    return { owner: claim, outcome: same ? 'confirmed' : 'replaced' };
  }
  return { owner: current, outcome: same ? 'kept' : 'ignored' };
}

export interface Claim extends Owner {
  tenant: number;
  event: string;
  /** received_at of the claiming row (ISO). */
  at: string;
}

/** The claim a committed row makes, if any: non-bot rows naming both an event entity and an organizer. */
export function claimOf(row: EventRow): Claim | null {
  if (row.is_bot) return null;
  const ent = row.entities ?? {};
  const event = entityId(ent.event_entity_id);
  const org = entityId(ent.organizer_id);
  if (event === null || org === null) return null;
  return { tenant: Number(row.tenant_id), event, org, source: claimSource(row.source_system), at: row.received_at };
}

export interface Conflict extends Claim {
  /** The owner that stays (or, for a displaced public owner, the secret owner that replaced it). */
  owner: string;
}

/**
 * Folds a key's claims, in commit order, over its stored owner. Returns the final owner, whether it differs
 * from the stored one, the claims that did not hold (a displaced public owner counts as one) and the claim
 * that made the final owner (null when it was already stored). Pure.
 */
export function foldClaims(stored: Owner | null, claims: Claim[]): { owner: Owner | null; changed: boolean; conflicts: Conflict[]; claim: Claim | null } {
  let owner = stored;
  let ownerClaim: Claim | null = null;
  const conflicts: Conflict[] = [];
  for (const c of claims) {
    const d = decideClaim(owner, c);
    if (d.outcome === 'ignored') conflicts.push({ ...c, owner: d.owner.org });
    if (d.outcome === 'replaced') {
      const prev = ownerClaim ?? { tenant: c.tenant, event: c.event, org: owner!.org, source: owner!.source, at: c.at };
      conflicts.push({ ...prev, owner: c.org });
    }
    if (d.outcome === 'set' || d.outcome === 'replaced' || d.outcome === 'confirmed') ownerClaim = c;
    owner = { org: d.owner.org, source: d.owner.source };
  }
  const changed = owner !== null && (stored === null || stored.org !== owner.org || stored.source !== owner.source);
  return { owner, changed, conflicts, claim: ownerClaim };
}

const Q = queries('owners.sql', ['lock_owners', 'insert_owners', 'upgrade_owners', 'record_conflicts']);
const keyOf = (tenant: number, event: string) => `${tenant}\u0000${event}`;
const CACHE_MAX = 100_000;

export interface OwnerClaims {
  /** Writer projector: decides and stores the claims of newly committed rows, inside their transaction. */
  project(q: Queryable, rows: EventRow[]): Promise<void>;
  /** After the commit: the owner decided for `row`'s event (undefined when the projector did not see it). */
  ownerOf(row: EventRow): Owner | null | undefined;
  /** Claims recorded as conflicts since start. */
  conflicts(): number;
  /**
   * An owner another node stored (heard over the bus), or the catalog's. A secret owner never changes, so
   * caching it cannot go stale; a catalog owner changes only with the catalog, whose changes every node hears
   * of (index.ts). Either replaces a public owner this node may still have cached.
   */
  learn(tenant: number, event: string, owner: Owner): void;
  /** The catalog no longer names an organizer for this event: the next claim asks the store again. */
  forget(tenant: number, event: string): void;
}

/**
 * Ownership claims against the store. Owners known to be stored are cached (filled only once a commit
 * succeeded, see ownerOf), so steady traffic of an owned event costs no query, nor does traffic without
 * organizer of an event known to have no owner (null: another node may set one meanwhile, which this node
 * then hears of over the bus, and a restart reads from the store); a claim the cache cannot
 * answer as 'kept' goes to the database, which is the arbiter between nodes (row locks, ON CONFLICT).
 */
export function createOwnerClaims(deps: { log: Logger }): OwnerClaims {
  const cache = new Map<string, Owner | null>();
  // Decided inside a transaction that may still roll back: only ownerOf (called after commit) trusts it.
  // `conflicts` (on one row per event) is counted once the commit succeeded: a retried commit counts once.
  const decided = new WeakMap<EventRow, { key: string; owner: Owner | null; conflicts?: number }>();
  let conflictCount = 0;

  const remember = (key: string, owner: Owner | null) => {
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(key, owner);
  };

  const project = async (q: Queryable, rows: EventRow[]): Promise<void> => {
    const byKey = new Map<string, { tenant: number; event: string; claims: Claim[]; rows: EventRow[] }>();
    for (const r of rows) {
      if (r.is_bot) continue;
      const event = entityId(r.entities?.event_entity_id);
      if (event === null) continue;
      const tenant = Number(r.tenant_id);
      const key = keyOf(tenant, event);
      let g = byKey.get(key);
      if (!g) byKey.set(key, (g = { tenant, event, claims: [], rows: [] }));
      g.rows.push(r);
      const c = claimOf(r);
      if (c) g.claims.push(c);
    }
    // Keys the cache answers: every claim keeps the cached owner.
    const ask = [...byKey].filter(([key, g]) => {
      const cached = cache.get(key);
      if (cached === undefined) return true;
      if (cached === null ? g.claims.length > 0 : !g.claims.every((c) => decideClaim(cached, c).outcome === 'kept')) return true;
      for (const r of g.rows) decided.set(r, { key, owner: cached });
      return false;
    });
    if (ask.length === 0) return;
    const tenants = ask.map(([, g]) => g.tenant);
    const events = ask.map(([, g]) => g.event);
    // FOR UPDATE: two nodes deciding the same stored owner take turns.
    const { rows: found } = await q.query<{ tenant_id: string; event_entity_id: string; organizer_id: string; source: ClaimSource }>(Q.lock_owners, [tenants, events]);
    // The catalog's organizer outranks a stored claim (decideClaim): claims against it are only conflicts.
    const stored = new Map<string, Owner>();
    for (const o of found) {
      const key = keyOf(Number(o.tenant_id), o.event_entity_id);
      if (stored.get(key)?.source !== 'catalog') stored.set(key, { org: o.organizer_id, source: o.source });
    }
    const inserts: Claim[] = [];
    const upgrades: Claim[] = [];
    const conflicts: Conflict[] = [];
    const finals = new Map<string, Owner | null>();
    const conflictsOf = new Map<string, number>();
    for (const [key, g] of ask) {
      const before = stored.get(key) ?? null;
      const f = foldClaims(before, g.claims);
      finals.set(key, f.owner);
      conflictsOf.set(key, f.conflicts.length);
      conflicts.push(...f.conflicts);
      if (f.changed) (before === null ? inserts : upgrades).push({ tenant: g.tenant, event: g.event, ...f.owner!, at: f.claim!.at });
    }
    if (inserts.length > 0) {
      const { rows: won } = await q.query<{ tenant_id: string; event_entity_id: string }>(Q.insert_owners, [JSON.stringify(inserts.map(ownerRow))]);
      const got = new Set(won.map((w) => keyOf(Number(w.tenant_id), w.event_entity_id)));
      const lost = new Set(inserts.map((i) => keyOf(i.tenant, i.event)).filter((k) => !got.has(k)));
      if (lost.size > 0) {
        // Another node stored a first claim meanwhile: decide those keys again against its row (visible and
        // locked on the second pass, so this recursion ends there).
        const keep = conflicts.filter((c) => !lost.has(keyOf(c.tenant, c.event)));
        conflicts.splice(0, conflicts.length, ...keep);
        for (const k of lost) finals.delete(k);
        await project(q, ask.filter(([k]) => lost.has(k)).flatMap(([, g]) => g.rows));
      }
    }
    if (upgrades.length > 0) await q.query(Q.upgrade_owners, [JSON.stringify(upgrades.map(ownerRow))]);
    if (conflicts.length > 0) {
      await q.query(Q.record_conflicts, [JSON.stringify(conflicts.map((c) => ({ ...ownerRow(c), owner_id: c.owner })))]);
      deps.log.warn(
        { conflicts: conflicts.length, first: { tenant: conflicts[0].tenant, event: conflicts[0].event, claimed: conflicts[0].org, source: conflicts[0].source, owner: conflicts[0].owner } },
        'live: organizer claims that do not match the event owner were ignored (live_owner_conflicts)',
      );
    }
    for (const [key, g] of ask) {
      if (!finals.has(key)) continue;
      for (const r of g.rows) decided.set(r, { key, owner: finals.get(key)! });
      decided.set(g.rows[0], { key, owner: finals.get(key)!, conflicts: conflictsOf.get(key) });
    }
  };

  return {
    project,
    ownerOf(row) {
      const d = decided.get(row);
      if (!d) return undefined;
      remember(d.key, d.owner);
      if (d.conflicts) {
        conflictCount += d.conflicts;
        d.conflicts = 0;
      }
      return d.owner;
    },
    conflicts: () => conflictCount,
    learn(tenant, event, owner) {
      if (owner.source !== 'public') remember(keyOf(tenant, event), owner);
    },
    forget(tenant, event) {
      cache.delete(keyOf(tenant, event));
    },
  };
}

const ownerRow = (c: Claim) => ({ tenant_id: c.tenant, event_entity_id: c.event, organizer_id: c.org, source: c.source, claimed_at: c.at });
