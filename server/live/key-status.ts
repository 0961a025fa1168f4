// Whether the key that minted a dashboard token is still valid (issue 18: revoking a key ends its tokens).
// Tokens carry their key's id (`k`, token.ts). Each node remembers what it learnt of a key id for KEY_TTL_MS
// (the same 5 s as the key cache in http/auth.ts) and re-reads the ids it was asked about in one set-based
// query; a revocation is final, so a revoked id is never read again. Nothing here runs on a timer: a check
// that finds its id unknown or stale starts one read (single-flight); the transports' 5 s sweeps and every
// token verification are what ask. An id unknown on this node is refused only once its read answers: the
// synchronous check lets it through meanwhile, the asynchronous one (a subscribe, before any data) waits.
// The same read gives the key's role and scope (fixed once the key exists): a token minted by a limited key is
// held to that scope at every use (index.ts keyBound), not only when minted.
import type { Logger } from 'pino';
import { parseScope, type Scope as KeyScope } from '../authz/principal.js';
import { KEY_TTL_MS } from '../http/auth.js';
import type { Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';

const Q = queries('key-status.sql', ['key_status']);

/** Ids remembered at most; past it the valid (re-readable) ones are forgotten, never the revoked ones. */
const MAX_KNOWN = 50_000;

export interface KeyStatus {
  /** Known revoked (or not this tenant's, or gone) right now; an unknown or stale id starts a read. */
  revokedNow(tenant: number, keyId: number): boolean;
  /** Like revokedNow, after reading the id when it is unknown or stale (a failed read keeps what was known). */
  revoked(tenant: number, keyId: number): Promise<boolean>;
  /**
   * The key's role and scope, after reading the id when it is unknown or stale; null when it is revoked, another
   * tenant's, gone, or never read (the store away): nothing can be vouched for by it.
   */
  grant(tenant: number, keyId: number): Promise<KeyGrant | null>;
  /** This node revoked it: refused here at once. */
  markRevoked(keyId: number): void;
}

/** What a key allows (authz/principal.ts): its role and the ids it is limited to. */
export interface KeyGrant {
  role: string;
  scope: KeyScope;
}

interface Known {
  tenant: number | null;
  revoked: boolean;
  at: number;
  grant?: KeyGrant;
}

/** A stored scope that does not parse covers nothing (an unknown kind must not widen the key). */
const grantOf = (role: string | null | undefined, scope: unknown): KeyGrant => {
  const parsed = parseScope(scope);
  return { role: role ?? 'admin', scope: parsed.ok ? parsed.value : { events: [] } };
};

export function createKeyStatus(deps: { db: Queryable; log: Logger; now: () => number; ttlMs?: number }): KeyStatus {
  const ttl = deps.ttlMs ?? KEY_TTL_MS;
  const known = new Map<number, Known>();
  const wanted = new Set<number>();
  let reading: Promise<void> | null = null;

  const fresh = (k: Known | undefined): k is Known => !!k && (k.revoked || deps.now() - k.at < ttl);

  const read = (): Promise<void> => {
    if (reading) return reading;
    reading = (async () => {
      // Ids asked for since the last read, plus the remembered valid ids that went stale.
      const ids = [...wanted];
      wanted.clear();
      for (const [id, k] of known) if (!fresh(k) && !ids.includes(id)) ids.push(id);
      if (ids.length === 0) return;
      try {
        const { rows } = await deps.db.query<{ id: string; tenant_id: string; revoked: boolean; role?: string | null; scope?: unknown }>(Q.key_status, [ids]);
        const at = deps.now();
        const found = new Map(rows.map((r) => [Number(r.id), r]));
        if (known.size > MAX_KNOWN) for (const [id, k] of known) if (!k.revoked) known.delete(id);
        // An id that is no key (deleted with its tenant) counts as revoked.
        for (const id of ids) {
          const r = found.get(id);
          known.set(id, r ? { tenant: Number(r.tenant_id), revoked: r.revoked, at, grant: grantOf(r.role, r.scope) } : { tenant: null, revoked: true, at });
        }
      } catch (err) {
        // The store is away: what was known stays in force (like the key cache); unknown ids are read next time.
        for (const id of ids) if (!known.has(id)) wanted.add(id);
        deps.log.warn({ err: (err as Error).message, ids: ids.length }, 'live: key revocation status not read');
      }
    })().finally(() => {
      reading = null;
    });
    return reading;
  };

  const verdict = (tenant: number, k: Known | undefined): boolean => !!k && (k.revoked || k.tenant !== tenant);

  /** Reads the id when it is unknown or stale (a failed read keeps what was known). */
  const refresh = async (keyId: number): Promise<Known | undefined> => {
    if (!fresh(known.get(keyId))) {
      wanted.add(keyId);
      // A read already running may have started before this id was wanted: wait for it, then for ours.
      await read();
      if (!fresh(known.get(keyId))) await read();
    }
    return known.get(keyId);
  };

  return {
    revokedNow(tenant, keyId) {
      const k = known.get(keyId);
      if (!fresh(k)) {
        wanted.add(keyId);
        void read();
      }
      return verdict(tenant, k);
    },
    async revoked(tenant, keyId) {
      return verdict(tenant, await refresh(keyId));
    },
    async grant(tenant, keyId) {
      const k = await refresh(keyId);
      return k && !verdict(tenant, k) && k.grant ? k.grant : null;
    },
    markRevoked(keyId) {
      known.set(keyId, { tenant: null, revoked: true, at: deps.now() });
    },
  };
}
