// Segments in the store: versions with immutable definitions, and each version's membership recomputed by one
// INSERT … SELECT of the compiled filter inside a transaction that first deletes the old rows (the atomic swap:
// other sessions see the old membership until the commit, then the new one, never a mix).
import type { Db, Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import { iso, isoOrNull, num, type Obj } from '../store/rows.js';
import { compileFilter, parseFilter, type Filter } from './grammar.js';

const Q = queries('segments.sql', [
  'insert_segment', 'insert_version', 'lock_segment', 'set_current', 'get_version', 'list_current', 'list_versions', 'delete_segment',
  'clear_members', 'fill_members', 'finish_version', 'fail_version', 'due_versions', 'members_page',
]);

export interface Definition {
  name: string;
  filters: Filter;
  marketingOnly: boolean;
}

export interface Evaluation {
  segmentId: number;
  version: number;
  tenantId: number;
  ok: boolean;
  members: number;
  seconds: number;
  error?: string;
}

const FILTER_ARGS_FROM = 6;

/** Recomputes one version's members in `q`'s transaction; answers the member count. */
async function fill(q: Queryable, tenantId: number, segmentId: number, version: number, def: Pick<Definition, 'filters' | 'marketingOnly'>, now: Date): Promise<number> {
  const c = compileFilter(def.filters, FILTER_ARGS_FROM);
  await q.query(Q.clear_members, [segmentId, version]);
  const sql = Q.fill_members.replace('/*filter*/', c.sql);
  return Number((await q.query<{ n: number }>(sql, [tenantId, now, segmentId, version, def.marketingOnly, ...c.params])).rows[0].n);
}

export function versionView(r: Obj): Obj {
  return {
    id: Number(r.id), version: Number(r.version), current_version: Number(r.current_version), name: r.name, filters: r.filters, marketing_only: r.marketing_only,
    auto_refresh: r.auto_refresh, size_estimate: num(r.size_estimate), member_count: num(r.member_count), computed_at: isoOrNull(r.computed_at),
    eval_ms: num(r.eval_ms), error_count: Number(r.error_count), last_error: r.last_error ?? null, created_at: iso(r.created_at), version_created_at: iso(r.version_created_at),
  };
}

export function createSegmentStore(db: Db) {
  /** Creates a version and computes its membership in the same transaction (size estimate on save). */
  async function saveVersion(q: Queryable, tenantId: number, segmentId: number, version: number, def: Definition, now: Date): Promise<number> {
    await q.query(Q.insert_version, [tenantId, segmentId, version, def.name, JSON.stringify(def.filters), def.marketingOnly]);
    const started = performance.now();
    const n = await fill(q, tenantId, segmentId, version, def, now);
    await q.query(Q.finish_version, [segmentId, version, n, now, performance.now() - started]);
    return n;
  }

  return {
    async create(tenantId: number, def: Definition, autoRefresh: boolean, now: Date) {
      return db.tx(async (q) => {
        const id = Number((await q.query<{ id: string }>(Q.insert_segment, [tenantId, autoRefresh])).rows[0].id);
        const size = await saveVersion(q, tenantId, id, 1, def, now);
        return { id, version: 1, size_estimate: size };
      });
    },
    /** The next version of a segment from a partial edit; null when there is no such segment. */
    async edit(tenantId: number, id: number, change: Partial<Definition> & { autoRefresh?: boolean }, now: Date) {
      return db.tx(async (q) => {
        const s = (await q.query<Obj>(Q.lock_segment, [tenantId, id])).rows[0];
        if (!s) return null;
        const cur = (await q.query<Obj>(Q.get_version, [tenantId, id, null])).rows[0];
        const filters = change.filters ?? (parseFilter(cur.filters, 'filters', { stored: true }).ok ? (cur.filters as Filter) : null);
        if (!filters) throw new Error(`segment ${id} holds a filter that no longer parses`);
        const def: Definition = { name: change.name ?? String(cur.name), filters, marketingOnly: change.marketingOnly ?? Boolean(cur.marketing_only) };
        const version = Number(s.current_version) + 1;
        const size = await saveVersion(q, tenantId, id, version, def, now);
        await q.query(Q.set_current, [tenantId, id, version, change.autoRefresh ?? Boolean(s.auto_refresh)]);
        return { id, version, size_estimate: size };
      });
    },
    async get(tenantId: number, id: number, version: number | null): Promise<Obj | null> {
      const r = (await db.query<Obj>(Q.get_version, [tenantId, id, version])).rows[0];
      return r ? versionView(r) : null;
    },
    /** The current version of up to `limit` segments after id `after`, by id. */
    async listCurrent(tenantId: number, after: number, limit: number): Promise<Obj[]> {
      return (await db.query<Obj>(Q.list_current, [tenantId, after, limit])).rows.map(versionView);
    },
    async versions(tenantId: number, id: number): Promise<Obj[]> {
      return (await db.query<Obj>(Q.list_versions, [tenantId, id])).rows.map((r) => ({
        version: Number(r.version), name: r.name, filters: r.filters, marketing_only: r.marketing_only, size_estimate: num(r.size_estimate), member_count: num(r.member_count),
        computed_at: isoOrNull(r.computed_at), eval_ms: num(r.eval_ms), error_count: Number(r.error_count), last_error: r.last_error ?? null, created_at: iso(r.created_at),
      }));
    },
    async remove(tenantId: number, id: number): Promise<boolean> {
      return (await db.query(Q.delete_segment, [tenantId, id])).rows.length > 0;
    },
    async members(tenantId: number, id: number, version: number, after: number, limit: number): Promise<number[]> {
      return (await db.query<Obj>(Q.members_page, [tenantId, id, version, after, limit])).rows.map((r) => Number(r.person_id));
    },
    /** Up to `limit` versions due for a refresh (not attempted since `before`). */
    async due(before: Date, limit: number) {
      return (await db.query<Obj>(Q.due_versions, [before, limit])).rows.map((r) => ({
        tenantId: Number(r.tenant_id), segmentId: Number(r.segment_id), version: Number(r.version), filters: r.filters, marketingOnly: Boolean(r.marketing_only),
      }));
    },
    /** Recomputes one version (atomic swap); a failure is recorded on the version and returned as a value. */
    async refresh(v: { tenantId: number; segmentId: number; version: number; filters: unknown; marketingOnly: boolean }, now: Date): Promise<Evaluation> {
      const started = performance.now();
      const base = { segmentId: v.segmentId, version: v.version, tenantId: v.tenantId };
      const parsed = parseFilter(v.filters, 'filters', { stored: true });
      try {
        if (!parsed.ok) throw new Error(`stored filter no longer parses: ${parsed.error.message}`);
        const n = await db.tx(async (q) => {
          const count = await fill(q, v.tenantId, v.segmentId, v.version, { filters: parsed.value, marketingOnly: v.marketingOnly }, now);
          await q.query(Q.finish_version, [v.segmentId, v.version, count, now, performance.now() - started]);
          return count;
        });
        return { ...base, ok: true, members: n, seconds: (performance.now() - started) / 1000 };
      } catch (err) {
        const message = (err as Error).message.slice(0, 500);
        await db.query(Q.fail_version, [v.segmentId, v.version, now, message]);
        return { ...base, ok: false, members: 0, seconds: (performance.now() - started) / 1000, error: message };
      }
    },
  };
}

export type SegmentStore = ReturnType<typeof createSegmentStore>;
