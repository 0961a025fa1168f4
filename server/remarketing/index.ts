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
import { createSync, type SyncDeps, type SyncOutcome } from './sync.js';

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

export interface Remarketing {
  store: RemarketingStore;
  create(tenantId: number, a: NewAudience): Promise<{ ok: true; value: Obj } | { ok: false; code: 'invalid_field' | 'conflict'; field: string; message: string }>;
  syncNow(tenantId: number, id: number): Promise<(SyncOutcome & { audience: Obj }) | null>;
  register(router: Router): void;
  job(): Job;
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
      if (c.lookalike_source_id !== undefined && !(await store.get(tenantId, c.lookalike_source_id))) {
        return { ok: false, code: 'invalid_field', field: 'criteria.lookalike_source_id', message: `No remarketing audience ${c.lookalike_source_id} for this tenant.` };
      }
      // One platform audience feeds one of ours (the unique key): a second binding would fight over its members.
      const taken = a.external_audience_id ? await store.externalTaken(a.platform, a.external_audience_id) : null;
      if (taken !== null) return { ok: false, code: 'conflict', field: 'external_audience_id', message: `The ${a.platform} audience ${a.external_audience_id} is already synced by remarketing audience ${taken}.` };
      let id: number;
      try {
        id = await store.create(tenantId, a);
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
      const r = await sync.sync(a);
      return { ...r, audience: audienceView((await store.get(tenantId, id))!) };
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
            await store.refresh(a, new Date(ctx.now()));
            // Audiences that were synced before get their deltas; the others wait for a first sync by hand.
            if (a.last_synced_at) {
              const r = await sync.sync((await store.get(d.tenantId, d.id))!);
              if (!r.ok) deps.log.warn({ audience_id: d.id, err: r.error }, 'remarketing sync failed');
            }
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
