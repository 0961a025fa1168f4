// The audit_log table (sql/007_audit.sql): append, page newest first, prune in chunks. Set-based SQL only.
import type { Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import { iso } from '../store/rows.js';

const Q = queries('audit.sql', ['insert_audit', 'list_audit', 'prune_audit']);

/** Who did it: the operator's ADMIN_TOKEN, a tenant key (by id), or a dashboard token. */
export type ActorKind = 'admin_token' | 'key' | 'token';
export interface Actor {
  kind: ActorKind;
  /** A key id, or 'admin_token'. */
  id: string;
}

export interface AuditEntry {
  /** null: an operator action that concerns no tenant (a job run by hand). */
  tenant: number | null;
  actor: Actor;
  /** Dotted verb, e.g. `key.created`, `gdpr.erase`, `catalog.delete`, `job.run`, `token.minted`. */
  action: string;
  /** What it acted on, e.g. `key:12`, `person:abc`, `events:E1`. */
  target: string | null;
  ip: string | null;
  /** Small, never a tracked person's contact data. */
  details?: Record<string, unknown>;
}

export interface AuditRow {
  id: number;
  tenant_id: number | null;
  at: string;
  actor_kind: ActorKind;
  actor_id: string;
  action: string;
  target: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

export interface AuditStore {
  insert(q: Queryable, e: AuditEntry): Promise<{ id: number; at: string }>;
  /** The tenant's rows, newest first, with ids below `beforeId`. */
  list(q: Queryable, tenant: number, limit: number, beforeId: number | null): Promise<AuditRow[]>;
  /** Deletes at most `limit` rows older than `before`; returns how many. */
  pruneChunk(q: Queryable, before: Date, limit: number): Promise<number>;
}

const row = (r: Record<string, unknown>): AuditRow => ({
  id: Number(r.id),
  tenant_id: r.tenant_id === null ? null : Number(r.tenant_id),
  at: iso(r.at),
  actor_kind: r.actor_kind as ActorKind,
  actor_id: String(r.actor_id),
  action: String(r.action),
  target: (r.target as string | null) ?? null,
  ip: (r.ip as string | null) ?? null,
  details: (typeof r.details === 'string' ? JSON.parse(r.details) : r.details ?? {}) as Record<string, unknown>,
});

export function createAuditStore(): AuditStore {
  return {
    async insert(q, e) {
      const { rows } = await q.query<{ id: string; at: unknown }>(Q.insert_audit, [
        e.tenant, e.actor.kind, e.actor.id, e.action, e.target, e.ip, JSON.stringify(e.details ?? {}),
      ]);
      return { id: Number(rows[0].id), at: iso(rows[0].at) };
    },
    async list(q, tenant, limit, beforeId) {
      const { rows } = await q.query<Record<string, unknown>>(Q.list_audit, [tenant, limit, beforeId]);
      return rows.map(row);
    },
    async pruneChunk(q, before, limit) {
      return (await q.query<{ n: number }>(Q.prune_audit, [before.toISOString(), limit])).rows[0].n;
    },
  };
}
