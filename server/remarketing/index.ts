// The remarketing domain (README "Remarketing audiences"; seed 002 §2.3, §2.6): person-based audiences of
// website visitors, event viewers, cart abandoners, ticket buyers, lookalikes of another audience and segment
// members, for Meta, Google Ads and TikTok; statuses building → ready → syncing → active → expired; the daily
// remarketing.refresh job (refresh, expire, sync deltas) and the platform adapters (platforms.ts, sync.ts).
import type { Logger } from 'pino';
import type { Router } from '../http/router.js';
import type { Job } from '../jobs/index.js';
import type { Db } from '../store/db.js';
import type { Obj } from '../store/rows.js';
import type { PlatformUrls } from './platforms.js';
import { registerRemarketingRoutes } from './routes.js';
import type { NewAudience } from './schemas.js';
import { audienceView, createRemarketingStore, type AudienceRow, type RemarketingStore } from './store.js';
import { randomUUID } from 'node:crypto';
import { busyError, createSync, LEASE_MS, MANUAL_BUDGET_MS, type SyncDeps, type SyncOutcome } from './sync.js';

export { registerRemarketingTables } from './gdpr.js';

export interface RemarketingDeps {
  db: Db;
  log: Logger;
  urls: PlatformUrls;
  /** Decrypts a tracking code row's secrets (tracking/decryptSecrets with the server's cipher). */
  decrypt(row: Obj): { access_token?: string };
  now?: () => Date;
  sync?: Partial<Pick<SyncDeps, 'fetch' | 'sleep' | 'backoff'>>;
}

/** What DELETE did: gone, or hidden with platform removals pending (the daily job retries them). */
export type Removal = { deleted: true; platform_removed: number; pending: boolean; error?: string } | { busy: true; error: string } | null;

export interface Remarketing {
  store: RemarketingStore;
  create(tenantId: number, a: NewAudience): Promise<{ ok: true; value: Obj } | { ok: false; code: 'invalid_field' | 'conflict'; field: string; message: string }>;
  syncNow(tenantId: number, id: number): Promise<(SyncOutcome & { audience: Obj }) | null>;
  /** Deletes an audience, first removing what the platform holds of it (bounded; the job finishes a failure). */
  remove(tenantId: number, id: number): Promise<Removal>;
  register(router: Router): void;
  job(): Job;
}

/**
 * Why a platform audience cannot be bound again: synced by another of ours (named only to its own tenant), or by
 * one deleted whose platform removal is still pending (it answers 404 now; it lets go once the removal succeeds). Pure.
 */
export function takenMessage(platform: string, externalId: string, taken: { id: number; tenantId: number; deleting: boolean }, tenantId: number): string {
  const mine = taken.tenantId === tenantId;
  if (taken.deleting) {
    return `The ${platform} audience ${externalId} is still held by ${mine ? `remarketing audience ${taken.id}, deleted` : 'a deleted remarketing audience'} and awaiting its removal from ${platform}: `
      + 'try again once the daily remarketing.refresh job has removed its members from the platform.';
  }
  return `The ${platform} audience ${externalId} is already synced by ${mine ? `remarketing audience ${taken.id}` : 'another remarketing audience'}.`;
}

export function createRemarketing(deps: RemarketingDeps): Remarketing {
  const store = createRemarketingStore(deps.db);
  const now = deps.now ?? (() => new Date());
  const sync = createSync({
    store, urls: deps.urls, now, purge: deps.db.purge?.bind(deps.db), ...deps.sync,
    async token(a: AudienceRow) {
      const row = await store.trackingCode(Number(a.tenant_id), a.platform, a.organizer_id);
      if (!row) return null;
      try {
        return deps.decrypt(row).access_token ?? null;
      } catch (err) {
        deps.log.warn({ err: (err as Error).message, tenant_id: a.tenant_id }, 'cannot decrypt the tracking code secrets for an audience sync');
        return null;
      }
    },
  });
  const rm: Remarketing = {
    store,
    async create(tenantId, a) {
      const c = a.criteria;
      const invalid = (field: string, message: string) => ({ ok: false as const, code: 'invalid_field' as const, field, message });
      let seed: AudienceRow | null = null;
      if (c.lookalike_source_id !== undefined) {
        seed = await store.get(tenantId, c.lookalike_source_id);
        if (!seed) return invalid('criteria.lookalike_source_id', `No remarketing audience ${c.lookalike_source_id} for this tenant.`);
        // A lookalike of a lookalike has no members to start from.
        if (seed.audience_type === 'lookalike') {
          return invalid('criteria.lookalike_source_id', `The seed of a lookalike is an audience of members (audience ${seed.id} is itself a lookalike).`);
        }
        // The platform widens its own audience (Meta's origin_audience_id is a Meta custom audience): a seed on
        // another platform could never be the origin, and every sync would be refused.
        if (seed.platform !== a.platform) {
          return invalid('criteria.lookalike_source_id', `The seed of a ${a.platform} lookalike is a ${a.platform} audience: audience ${seed.id} is a ${seed.platform} audience. Name one of your ${a.platform} audiences.`);
        }
      }
      // References that name nothing would build an empty audience and report success.
      if (c.segment_id !== undefined) {
        const p = await store.segmentProblem(tenantId, c.segment_id, c.segment_version ?? null);
        if (p === 'segment') return invalid('criteria.segment_id', `No segment ${c.segment_id} for this tenant.`);
        if (p === 'version') return invalid('criteria.segment_version', `Segment ${c.segment_id} has no version ${c.segment_version}.`);
      }
      if (a.event_id !== null && !(await store.eventKnown(tenantId, a.event_id))) {
        return invalid('event_id', `No event ${JSON.stringify(a.event_id)} in this tenant's catalog or tracked events (PUT /api/v1/catalog/events syncs the catalog).`);
      }
      // The audience's organizer, whose tracking code token its syncs use: its event's in the catalog (an explicit
      // other one is refused), else a lookalike's seed's (the origin audience lives in that organizer's ad account),
      // else the one named. Stored; a later catalog move of the event moves the audience (store.audienceRow).
      let organizer = a.organizer_id;
      const owner = a.event_id !== null ? await store.eventOrganizer(tenantId, a.event_id) : null;
      if (owner !== null) {
        if (organizer !== null && organizer !== owner) {
          return invalid('organizer_id', `Event ${JSON.stringify(a.event_id)} is organizer ${JSON.stringify(owner)}'s in the catalog: an audience of it is that organizer's (leave organizer_id out, or name ${JSON.stringify(owner)}).`);
        }
        organizer = owner;
      }
      if (seed !== null && seed.organizer_id !== null) {
        if (organizer !== null && organizer !== seed.organizer_id) {
          return invalid('organizer_id', `The lookalike's seed, audience ${seed.id}, is organizer ${JSON.stringify(seed.organizer_id)}'s: a lookalike of it is that organizer's (leave organizer_id out, or name ${JSON.stringify(seed.organizer_id)}).`);
        }
        organizer = seed.organizer_id;
      }
      // One platform audience feeds one of ours (the unique key): a second binding would fight over its members.
      // Another tenant's audience is not named (its id is not this tenant's to know).
      const taken = a.external_audience_id ? await store.externalTaken(a.platform, a.external_audience_id) : null;
      if (taken !== null) return { ok: false, code: 'conflict', field: 'external_audience_id', message: takenMessage(a.platform, a.external_audience_id!, taken, tenantId) };
      let id: number;
      try {
        id = await store.create(tenantId, { ...a, organizer_id: organizer });
      } catch (err) {
        // Two requests binding the same platform audience at once: the unique key decides, the loser is told.
        if ((err as { code?: string }).code !== '23505') throw err;
        return { ok: false, code: 'conflict', field: 'external_audience_id', message: `The ${a.platform} audience ${a.external_audience_id} is already synced by another remarketing audience.` };
      }
      const row = (await store.get(tenantId, id))!;
      await store.refresh(row, now());
      return { ok: true, value: audienceView((await store.get(tenantId, id))!) };
    },
    async syncNow(tenantId, id) {
      const a = await store.get(tenantId, id);
      if (!a) return null;
      const r = await sync.sync(a, { budgetMs: MANUAL_BUDGET_MS });
      return { ...r, audience: audienceView((await store.getAny(tenantId, id)) ?? a) };
    },
    async remove(tenantId, id) {
      const a = await store.get(tenantId, id);
      if (!a) return null;
      const claim = randomUUID();
      if (!(await store.claim(tenantId, id, claim, LEASE_MS))) return { busy: true, error: busyError(id) };
      try {
        // Nothing on the platform: gone now. Else hidden and member-less first (durable), then the removals.
        if (await store.dropDrained(tenantId, id, false)) return { deleted: true, platform_removed: 0, pending: false };
        await store.markDeleting(tenantId, id);
        const r = await sync.sync(a, { removalsOnly: true, budgetMs: MANUAL_BUDGET_MS, claim });
        const gone = r.ok && (await store.dropDrained(tenantId, id, true));
        return { deleted: true, platform_removed: r.removed, pending: !gone, ...(r.ok ? {} : { error: r.error }) };
      } finally {
        await store.release(id, claim);
      }
    },
    register: (router) => registerRemarketingRoutes(router, rm),
    job: () => ({
      name: 'remarketing.refresh',
      schedule: { daily: '03:00', tz: 'UTC' },
      timeoutS: 3600,
      async run(ctx) {
        const started = new Date(ctx.now());
        await store.expireDue(started);
        let after = 0;
        let done = 0;
        for (;;) {
          ctx.signal.throwIfAborted();
          const due = await store.dueRefresh(started, after, 50);
          for (const d of due) {
            const a = (await store.get(d.tenantId, d.id))!;
            const built = await store.refresh(a, new Date(ctx.now()));
            // A source that is gone left the members as they were (the error is on the audience): nothing to sync.
            if (!built.ok) deps.log.warn({ audience_id: d.id, err: built.error }, 'remarketing refresh failed; members kept, not synced');
            // Audiences that were synced (or tried) before get their deltas; the others wait for a first sync by hand.
            else if (a.last_synced_at || a.last_error) {
              const r = await sync.sync(a);
              if (!r.ok) deps.log.warn({ audience_id: d.id, err: r.error }, 'remarketing sync failed');
            }
            done++;
          }
          if (due.length < 50) break;
          after = due[due.length - 1].id;
        }
        // Erased persons' digests and deleted audiences' leave every platform audience, whatever its auto_refresh
        // or status (an expired audience stays expired); a deleted one's row goes once the platform holds nothing.
        for (after = 0; ;) {
          ctx.signal.throwIfAborted();
          const due = await store.dueRemovals(after, 50);
          for (const d of due) {
            const a = await store.getAny(d.tenantId, d.id);
            if (!a) continue;
            const r = await sync.sync(a, { removalsOnly: true });
            if (!r.ok) deps.log.warn({ audience_id: d.id, err: r.error }, 'remarketing removal sync failed');
            else if (a.status === 'deleting') await store.dropDrained(d.tenantId, d.id, true);
            done++;
          }
          if (due.length < 50) return done;
          after = due[due.length - 1].id;
        }
      },
    }),
  };
  return rm;
}
