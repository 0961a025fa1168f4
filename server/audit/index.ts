// The audit domain (issue 18 item 4): a record of administrative actions — keys created and revoked (admin API
// and /api/v1/keys), GDPR export and erasure, catalog deletes, jobs run by hand, dashboard tokens minted — with
// who (actor), what (action, target, details), when and from where (ip).
//   GET /api/v1/audit[?limit&cursor]   the tenant's rows, newest first (permission view_audit)
// Routes record after the action succeeded; a failed audit write is logged at error level with the whole
// entry (the action itself already happened and is not undone). The audit.prune job drops rows older than
// AUDIT_RETENTION_DAYS. audit_log holds operators' ips and key ids, not tracked persons' (registerAuditTables).
import type { Logger } from 'pino';
import type { GdprRegistry } from '../gdpr/registry.js';
import { paramFail } from '../http/errors.js';
import { collect, cursor, int, nextCursor, pageOf } from '../http/params.js';
import type { AuditSink, Principal, Router } from '../http/router.js';
import type { ReqInfo } from '../http/uws.js';
import type { Job } from '../jobs/runner.js';
import type { Queryable } from '../store/db.js';
import { createAuditStore, type Actor, type AuditEntry, type AuditStore } from './store.js';

export type { Actor, AuditEntry, AuditRow } from './store.js';

export interface AuditDeps {
  db: Queryable;
  log: Logger;
  /** AUDIT_RETENTION_DAYS. */
  retentionDays: number;
}

export interface Audit extends AuditSink {
  /** Appends one row (inside `q`'s transaction when given). False when the write failed (logged, never thrown). */
  record(e: AuditEntry, q?: Queryable): Promise<boolean>;
  /** The entry for an action taken by `principal` from `info`'s address. */
  entry(principal: Principal, info: ReqInfo, action: string, target: string | null, details?: Record<string, unknown>, tenant?: number | null): AuditEntry;
  job(): Job;
  registerRoutes(router: Router): void;
  store: AuditStore;
}

const DAY_MS = 86_400_000;

/** The actor of a resolved principal. Pure. */
export function actorOf(p: Principal): Actor {
  switch (p.kind) {
    case 'admin':
      return { kind: 'admin_token', id: 'admin_token' };
    case 'secret':
    case 'write':
      return { kind: 'key', id: 'keyId' in p && p.keyId !== undefined ? String(p.keyId) : 'unknown' };
    case 'token':
      if (p.keyId !== undefined) return { kind: 'key', id: String(p.keyId) };
      // A dashboard token: the key that minted it when the token names it (tokens minted since key ids), else its role.
      return { kind: 'token', id: 'key' in p.scope && p.scope.key !== undefined ? `key:${p.scope.key}` : `role:${p.scope.role}` };
    case 'none':
      return { kind: 'token', id: 'anonymous' };
  }
}

/** The tenant a principal acts for (null for the operator). Pure. */
export function tenantOf(p: Principal): number | null {
  if (p.kind === 'secret' || p.kind === 'write') return p.tenant.tenant_id;
  if (p.kind === 'token') return p.scope.tenant;
  return null;
}

/** The audit.prune job: rows older than `days` at the run's clock, in chunks of 5000. */
export function auditPruneJob(db: Queryable, store: AuditStore, days: number): Job {
  return {
    name: 'audit.prune',
    schedule: { daily: '03:45', tz: 'UTC' },
    timeoutS: 600,
    run: (ctx) => ctx.chunk((limit) => store.pruneChunk(db, new Date(ctx.now() - days * DAY_MS), limit), 5000),
  };
}

/** audit_log in the GDPR registry: no tracked person's data in it. */
export function registerAuditTables(registry: GdprRegistry): void {
  registry.none(['audit_log'], 'administrative actions: ips and key ids of the tenant\'s operators and integrations, not of tracked persons; person ids appear only as the target of an erasure request');
}

export function createAudit(deps: AuditDeps): Audit {
  const store = createAuditStore();
  const { db, log } = deps;
  const record = async (e: AuditEntry, q: Queryable = db): Promise<boolean> => {
    try {
      await store.insert(q, e);
      return true;
    } catch (err) {
      log.error({ err: (err as Error).message, audit: e }, 'audit: row not written');
      return false;
    }
  };
  return {
    store,
    record,
    entry: (principal, info, action, target, details, tenant) => ({
      tenant: tenant === undefined ? tenantOf(principal) : tenant,
      actor: actorOf(principal),
      action,
      target,
      ip: info.ip,
      details,
    }),
    note: (principal, info, n) =>
      record({ tenant: n.tenant === undefined ? tenantOf(principal) : n.tenant, actor: actorOf(principal), action: n.action, target: n.target, ip: info.ip, details: n.details }),
    job: () => auditPruneJob(db, store, deps.retentionDays),
    registerRoutes(router) {
      router.add({
        method: 'get', path: '/api/v1/audit', auth: 'secret', permission: 'view_audit', query: ['limit', 'cursor'],
        handler: async ({ info, principal }) => {
          const p = collect({
            limit: int('query', 'limit', info.query.get('limit'), { min: 1, max: 1000, def: 100 }),
            after: cursor(info.query.get('cursor'), 'audit', ['id']),
          });
          if (!p.ok) return paramFail(p.error);
          const page = pageOf(await store.list(db, principal.tenant.tenant_id, p.value.limit + 1, p.value.after ? Number(p.value.after[0]) : null), p.value.limit);
          return { status: 200, body: { audit: page.rows, next_cursor: nextCursor('audit', page, (r) => [r.id]) } };
        },
      });
    },
  };
}
