// Remarketing audiences in the store: creation, one set-based refresh statement per audience type
// (sql/queries/remarketing.sql), member pages, the platform export (digests only) and the sync bookkeeping.
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import { iso, isoOrNull, num, type Obj } from '../store/rows.js';
import type { Kind } from './platforms.js';
import type { Criteria, NewAudience } from './schemas.js';

const Q = queries('remarketing.sql', [
  'fill_behaviour', 'fill_from_audience', 'fill_from_segment', 'insert_audience', 'get_audience', 'list_audiences', 'set_built', 'set_status', 'set_failed',
  'set_synced', 'expire_due', 'due_refresh', 'delete_audience', 'members_page', 'export_page', 'sync_adds', 'sync_removes', 'mark_added',
  'mark_removed', 'tracking_code', 'external_taken',
]);

export interface AudienceRow {
  id: number;
  tenant_id: number;
  organizer_id: string | null;
  event_id: string | null;
  platform: 'meta' | 'google_ads' | 'tiktok';
  audience_type: NewAudience['audience_type'];
  name: string;
  criteria: Criteria;
  external_audience_id: string | null;
  account_id: string | null;
  status: 'building' | 'ready' | 'syncing' | 'active' | 'expired';
  member_count: number;
  [k: string]: unknown;
}

export function audienceView(r: AudienceRow): Obj {
  return {
    id: Number(r.id), platform: r.platform, audience_type: r.audience_type, name: r.name, event_id: r.event_id, organizer_id: r.organizer_id, criteria: r.criteria,
    external_audience_id: r.external_audience_id, account_id: r.account_id, status: r.status, member_count: Number(r.member_count), auto_refresh: r.auto_refresh,
    refreshed_at: isoOrNull(r.refreshed_at), last_synced_at: isoOrNull(r.last_synced_at), expires_at: isoOrNull(r.expires_at),
    error_count: Number(r.error_count), last_error: r.last_error ?? null, created_at: iso(r.created_at),
  };
}

export function createRemarketingStore(db: Db) {
  return {
    async create(tenantId: number, a: NewAudience): Promise<number> {
      const r = await db.query<{ id: string }>(Q.insert_audience, [
        tenantId, a.organizer_id, a.event_id, a.platform, a.audience_type, a.name, JSON.stringify(a.criteria), a.external_audience_id, a.account_id, a.auto_refresh, a.expires_at,
      ]);
      return Number(r.rows[0].id);
    },
    /** The audience already bound to this platform audience id (any tenant: the id is the platform's), or null. */
    async externalTaken(platform: string, externalId: string): Promise<number | null> {
      return num((await db.query<Obj>(Q.external_taken, [platform, externalId])).rows[0]?.id);
    },
    async get(tenantId: number, id: number): Promise<AudienceRow | null> {
      return ((await db.query<AudienceRow>(Q.get_audience, [tenantId, id])).rows[0] as AudienceRow | undefined) ?? null;
    },
    /** A page of audiences after id `after`, oldest first. */
    async list(tenantId: number, after: number, limit: number): Promise<AudienceRow[]> {
      return (await db.query<AudienceRow>(Q.list_audiences, [tenantId, after, limit])).rows as AudienceRow[];
    },
    async remove(tenantId: number, id: number): Promise<boolean> {
      return (await db.query(Q.delete_audience, [tenantId, id])).rows.length > 0;
    },
    /** Recomputes the members (one statement) and records the count; `building` becomes `ready`. */
    async refresh(a: AudienceRow, now: Date): Promise<number> {
      const c = a.criteria;
      const t = Number(a.tenant_id);
      let n: number;
      if (a.audience_type === 'lookalike') {
        n = Number((await db.query<{ n: number }>(Q.fill_from_audience, [t, now, c.lookalike_source_id, a.id])).rows[0].n);
      } else if (a.audience_type === 'custom_segment') {
        n = Number((await db.query<{ n: number }>(Q.fill_from_segment, [t, now, c.segment_id, a.id, c.segment_version ?? null])).rows[0].n);
      } else {
        const cart = a.audience_type === 'cart_abandoners';
        n = Number((await db.query<{ n: number }>(Q.fill_behaviour, [
          t, now, a.event_id ?? '', c.time_window_days, c.min_actions, c.source_events, c.exclude_purchasers, a.id, cart,
        ])).rows[0].n);
      }
      await db.query(Q.set_built, [t, a.id, n, now]);
      return n;
    },
    setStatus: (tenantId: number, id: number, status: string) => db.query(Q.set_status, [tenantId, id, status]),
    setFailed: (tenantId: number, id: number, status: string, error: string) => db.query(Q.set_failed, [tenantId, id, status, error.slice(0, 500)]),
    setSynced: (tenantId: number, id: number, at: Date) => db.query(Q.set_synced, [tenantId, id, at]),
    async expireDue(now: Date): Promise<number> {
      return (await db.query(Q.expire_due, [now])).rows.length;
    },
    async dueRefresh(before: Date, after: number, limit: number): Promise<{ tenantId: number; id: number }[]> {
      return (await db.query<Obj>(Q.due_refresh, [before, after, limit])).rows.map((r) => ({ tenantId: Number(r.tenant_id), id: Number(r.id) }));
    },
    async members(tenantId: number, id: number, after: number, limit: number) {
      return (await db.query<Obj>(Q.members_page, [tenantId, id, after, limit])).rows.map((r) => ({ person_id: Number(r.person_id), added_at: iso(r.added_at) }));
    },
    async exportPage(tenantId: number, id: number, after: number, limit: number) {
      return (await db.query<Obj>(Q.export_page, [tenantId, id, after, limit])).rows.map((r) => ({
        person_id: Number(r.person_id), email_sha256: (r.email_sha256 as string | null)?.trim() ?? null, phone_sha256: (r.phone_sha256 as string | null)?.trim() ?? null,
      }));
    },
    async adds(tenantId: number, id: number, kinds: Kind[], limit: number) {
      return (await db.query<Obj>(Q.sync_adds, [tenantId, id, kinds, limit])).rows.map((r) => ({ kind: r.kind as Kind, digest: String(r.digest).trim(), person_id: num(r.person_id) }));
    },
    async removes(tenantId: number, id: number, limit: number) {
      return (await db.query<Obj>(Q.sync_removes, [tenantId, id, limit])).rows.map((r) => ({ kind: r.kind as Kind, digest: String(r.digest).trim(), erased: r.erased === true }));
    },
    async markAdded(tenantId: number, id: number, rows: { kind: Kind; digest: string; person_id: number | null }[], at: Date) {
      await db.query(Q.mark_added, [tenantId, id, rows.map((r) => r.kind), rows.map((r) => r.digest), rows.map((r) => r.person_id), rows.map(() => at)]);
    },
    async markRemoved(id: number, rows: { kind: Kind; digest: string }[]) {
      await db.query(Q.mark_removed, [id, rows.map((r) => r.kind), rows.map((r) => r.digest)]);
    },
    async trackingCode(tenantId: number, provider: string, organizerId: string | null): Promise<Obj | null> {
      return (await db.query<Obj>(Q.tracking_code, [tenantId, provider, organizerId])).rows[0] ?? null;
    },
  };
}

export type RemarketingStore = ReturnType<typeof createRemarketingStore>;
