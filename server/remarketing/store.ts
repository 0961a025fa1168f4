// Remarketing audiences in the store: creation, one set-based refresh statement per audience type
// (sql/queries/remarketing.sql), member pages, the platform export (digests only) and the sync bookkeeping.
import { eventKnown } from '../catalog/store.js';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import { iso, isoOrNull, num, type Obj } from '../store/rows.js';
import type { Kind } from './platforms.js';
import type { Criteria, NewAudience } from './schemas.js';

const Q = queries('remarketing.sql', [
  'fill_behaviour', 'fill_from_segment', 'insert_audience', 'get_audience', 'get_any', 'list_audiences', 'set_built', 'set_status', 'set_failed',
  'set_synced', 'set_cleaned', 'set_external', 'expire_due', 'due_refresh', 'due_removals', 'mark_deleting', 'drop_drained', 'claim_sync', 'renew_sync', 'release_sync',
  'members_page', 'export_page', 'sync_adds', 'relink_synced', 'sync_removes', 'mark_added', 'mark_removed', 'tracking_code', 'external_taken',
  'segment_ref', 'segment_users', 'event_organizer',
]);

/**
 * An audience row as read: its organizer is the one its event has in the catalog now, else the one stored at its
 * creation (the query's current_organizer_id), so a catalog move of the event moves the audience. Pure.
 */
export function audienceRow(r: Obj): AudienceRow {
  const { current_organizer_id: current, ...rest } = r;
  return { ...rest, organizer_id: (current ?? rest.organizer_id ?? null) as string | null } as AudienceRow;
}

/** Why a custom_segment audience's source cannot be read: its segment (or the version it names) is gone. Pure. */
export function sourceGoneMessage(a: Pick<AudienceRow, 'platform' | 'criteria'>): string {
  const c = a.criteria;
  return `The source of this custom_segment audience, segment ${c.segment_id}${c.segment_version ? ` version ${c.segment_version}` : ''}, no longer exists: `
    + `its members are kept as they were and nothing more is synced to ${a.platform}; delete this audience, or build another on an existing segment.`;
}

/** What a refresh did: the member count, or why the members were left as they were (recorded on the audience). */
export type RefreshOutcome = { ok: true; members: number } | { ok: false; error: string };

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
  status: 'building' | 'ready' | 'syncing' | 'active' | 'expired' | 'deleting';
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
    /** The audience bound to a platform audience, any tenant's; `deleting`: deleted, its platform removal pending. */
    async externalTaken(platform: string, externalId: string): Promise<{ id: number; tenantId: number; deleting: boolean } | null> {
      const r = (await db.query<Obj>(Q.external_taken, [platform, externalId])).rows[0];
      return r ? { id: Number(r.id), tenantId: Number(r.tenant_id), deleting: r.status === 'deleting' } : null;
    },
    /** The tenant's audience (not one being deleted), or null. */
    async get(tenantId: number, id: number): Promise<AudienceRow | null> {
      const r = (await db.query<Obj>(Q.get_audience, [tenantId, id])).rows[0];
      return r ? audienceRow(r) : null;
    },
    /** Any audience row, one being deleted included (the sync and the job). */
    async getAny(tenantId: number, id: number): Promise<AudienceRow | null> {
      const r = (await db.query<Obj>(Q.get_any, [tenantId, id])).rows[0];
      return r ? audienceRow(r) : null;
    },
    /** A page of audiences after id `after`, oldest first. */
    async list(tenantId: number, after: number, limit: number): Promise<AudienceRow[]> {
      return (await db.query<Obj>(Q.list_audiences, [tenantId, after, limit])).rows.map(audienceRow);
    },
    /** Hides the audience and drops its members; its synced digests stay until a removal sync (true: marked). */
    async markDeleting(tenantId: number, id: number): Promise<boolean> {
      return (await db.query(Q.mark_deleting, [tenantId, id])).rows.length > 0;
    },
    /** Deletes the row when the platform holds nothing of it (`deletingOnly`: only one marked deleting). */
    async dropDrained(tenantId: number, id: number, deletingOnly: boolean): Promise<boolean> {
      return (await db.query(Q.drop_drained, [tenantId, id, deletingOnly])).rows.length > 0;
    },
    /** Claims the audience's sync for `leaseMs` under `claim`; false while another claim's lease holds. */
    async claim(tenantId: number, id: number, claim: string, leaseMs: number): Promise<boolean> {
      return (await db.query(Q.claim_sync, [tenantId, id, claim, leaseMs])).rows.length > 0;
    },
    renew: (id: number, claim: string, leaseMs: number) => db.query(Q.renew_sync, [id, claim, leaseMs]),
    release: (id: number, claim: string) => db.query(Q.release_sync, [id, claim]),
    /**
     * Recomputes the members (one statement) and records the count; `building` becomes `ready`. A custom_segment
     * whose segment is gone keeps its members: the error is recorded on the audience and returned.
     */
    async refresh(a: AudienceRow, now: Date): Promise<RefreshOutcome> {
      const c = a.criteria;
      const t = Number(a.tenant_id);
      let n: number;
      // A lookalike holds no members of ours: the platform widens the seed's (sync.ts creates it there).
      if (a.audience_type === 'lookalike') {
        n = 0;
      } else if (a.audience_type === 'custom_segment') {
        const r = (await db.query<{ n: number; found: boolean }>(Q.fill_from_segment, [t, now, c.segment_id, a.id, c.segment_version ?? null])).rows[0];
        if (r.found !== true) {
          const error = sourceGoneMessage(a);
          await db.query(Q.set_failed, [t, a.id, a.status, error.slice(0, 500)]);
          return { ok: false, error };
        }
        n = Number(r.n);
      } else {
        const cart = a.audience_type === 'cart_abandoners';
        n = Number((await db.query<{ n: number }>(Q.fill_behaviour, [
          t, now, a.event_id ?? '', c.time_window_days, c.min_actions, c.source_events, c.exclude_purchasers, a.id, cart,
        ])).rows[0].n);
      }
      await db.query(Q.set_built, [t, a.id, n, now]);
      return { ok: true, members: n };
    },
    setStatus: (tenantId: number, id: number, status: string) => db.query(Q.set_status, [tenantId, id, status]),
    setFailed: (tenantId: number, id: number, status: string, error: string) => db.query(Q.set_failed, [tenantId, id, status, error.slice(0, 500)]),
    setSynced: (tenantId: number, id: number, at: Date) => db.query(Q.set_synced, [tenantId, id, at]),
    setExternal: (tenantId: number, id: number, externalId: string) => db.query(Q.set_external, [tenantId, id, externalId]),
    setCleaned: (tenantId: number, id: number, at: Date) => db.query(Q.set_cleaned, [tenantId, id, at]),
    async expireDue(now: Date): Promise<number> {
      return (await db.query(Q.expire_due, [now])).rows.length;
    },
    async dueRefresh(before: Date, after: number, limit: number): Promise<{ tenantId: number; id: number }[]> {
      return (await db.query<Obj>(Q.due_refresh, [before, after, limit])).rows.map((r) => ({ tenantId: Number(r.tenant_id), id: Number(r.id) }));
    },
    /** Audiences with erased persons' digests or being deleted, whatever their auto_refresh or status. */
    async dueRemovals(after: number, limit: number): Promise<{ tenantId: number; id: number }[]> {
      return (await db.query<Obj>(Q.due_removals, [after, limit])).rows.map((r) => ({ tenantId: Number(r.tenant_id), id: Number(r.id) }));
    },
    async members(tenantId: number, id: number, after: number, limit: number) {
      return (await db.query<Obj>(Q.members_page, [tenantId, id, after, limit])).rows.map((r) => ({ person_id: Number(r.person_id), added_at: iso(r.added_at) }));
    },
    /**
     * Up to `limit` members after person `after` with a digest of the `kinds` the platform takes (KINDS: phones
     * are Meta's form, so Meta's alone), each with those digests only; members holding none are skipped.
     */
    async exportPage(tenantId: number, id: number, after: number, limit: number, kinds: readonly Kind[]) {
      const out: { person_id: number; email_sha256?: string | null; phone_sha256?: string | null }[] = [];
      for (let from = after; ;) {
        const rows = (await db.query<Obj>(Q.export_page, [tenantId, id, from, limit])).rows;
        for (const r of rows) {
          const digest = (k: Kind) => (r[`${k}_sha256`] as string | null)?.trim() || null;
          if (!kinds.some((k) => digest(k) !== null)) continue;
          out.push({ person_id: Number(r.person_id), ...Object.fromEntries(kinds.map((k) => [`${k}_sha256`, digest(k)])) });
          if (out.length === limit) return out;
        }
        if (rows.length < limit) return out;
        from = Number(rows[rows.length - 1].person_id);
      }
    },
    async adds(tenantId: number, id: number, kinds: Kind[], limit: number) {
      return (await db.query<Obj>(Q.sync_adds, [tenantId, id, kinds, limit])).rows.map((r) => ({ kind: r.kind as Kind, digest: String(r.digest).trim(), person_id: num(r.person_id) }));
    },
    /** Hands digests whose person is no longer an eligible member to another member holding them (how many). */
    async relink(tenantId: number, id: number): Promise<number> {
      return (await db.query(Q.relink_synced, [tenantId, id])).rows.length;
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
    /** A custom_segment's reference: 'segment' or 'version' when it names nothing of the tenant's, else null. */
    async segmentProblem(tenantId: number, segmentId: number, version: number | null): Promise<'segment' | 'version' | null> {
      const r = (await db.query<Obj>(Q.segment_ref, [tenantId, segmentId, version])).rows[0];
      return !r ? 'segment' : r.has_version === true ? null : 'version';
    },
    /** The ids of the tenant's audiences (not being deleted) built on a segment. */
    async segmentUsers(tenantId: number, segmentId: number): Promise<number[]> {
      return (await db.query<Obj>(Q.segment_users, [tenantId, segmentId])).rows.map((r) => Number(r.id));
    },
    /** Whether an event id is in the tenant's catalog or was ever tracked (catalog/store.ts). */
    eventKnown: (tenantId: number, eventId: string): Promise<boolean> => eventKnown(db, tenantId, eventId),
    /** The organizer the catalog gives an event, or null (not in the catalog, or without an organizer). */
    async eventOrganizer(tenantId: number, eventId: string): Promise<string | null> {
      return ((await db.query<Obj>(Q.event_organizer, [tenantId, eventId])).rows[0]?.organizer_id as string | null | undefined) ?? null;
    },
    async trackingCode(tenantId: number, provider: string, organizerId: string | null): Promise<Obj | null> {
      return (await db.query<Obj>(Q.tracking_code, [tenantId, provider, organizerId])).rows[0] ?? null;
    },
  };
}

export type RemarketingStore = ReturnType<typeof createRemarketingStore>;
