// The segments domain (README "Segments"; seed 004 AudienceSegment): a filter grammar compiled to SQL with bound
// parameters (grammar.ts), versions (an edit never changes a version campaigns refer to), the size on save, the
// segments.refresh job (every version of auto-refreshing segments, oldest first, atomic swap per version) and
// the evaluation time per segment on /metrics. With REDIS_URL the current versions are cached in Redis
// (cache.ts): every write below reaches the cache after its commit. app.ts builds it with createSegments.
import type { Logger } from 'pino';
import { ValidationError } from '../http/errors.js';
import type { Router } from '../http/router.js';
import type { Job } from '../jobs/index.js';
import type { Db } from '../store/db.js';
import type { Obj } from '../store/rows.js';
import { eventKnown as catalogEventKnown } from '../catalog/store.js';
import { createSegmentCache, type SegmentCache } from './cache.js';
import { eventIdRefs, type Filter } from './grammar.js';
import { registerSegmentRoutes } from './routes.js';
import type { SegmentBody } from './schemas.js';
import { createSegmentStore, type Evaluation, type SegmentStore } from './store.js';

export { registerSegmentCacheEraser, registerSegmentTables } from './gdpr.js';

/** How stale a version may get before segments.refresh recomputes it (the job runs every REFRESH_EVERY_S). */
export const REFRESH_EVERY_S = 900;
const CHUNK = 20;

export interface SegmentsDeps {
  db: Db;
  log: Logger;
  now?: () => Date;
  /** REDIS_URL: the segment summaries are cached there (README "Segments"). */
  redisUrl?: string | null;
  /** Redis key prefix (LIVE_REDIS_PREFIX). */
  redisPrefix?: string;
  /**
   * The ids of the remarketing audiences built on a segment (app.ts: remarketing's store): a segment they refer
   * to is not deleted (README "Segments"; an empty source would empty them, on the platforms too).
   */
  usedBy?: (tenantId: number, segmentId: number) => Promise<number[]>;
  /**
   * Whether an event id is in the tenant's catalog or named by its tracked events. Default: the check remarketing
   * audiences make of their event_id (catalog/store.ts eventKnown), so both refuse the same ids.
   */
  eventKnown?: (tenantId: number, eventId: string) => Promise<boolean>;
}

/** What a delete did: gone, no such segment, or refused while remarketing audiences are built on it. */
export type SegmentRemoval = { deleted: true } | { missing: true } | { usedBy: number[] };

export interface Segments {
  store: SegmentStore;
  /** Reads of current versions (cache first with Redis). */
  cache: SegmentCache;
  create(tenantId: number, body: SegmentBody): Promise<Obj>;
  edit(tenantId: number, id: number, body: SegmentBody): Promise<Obj | null>;
  remove(tenantId: number, id: number): Promise<SegmentRemoval>;
  register(router: Router): void;
  job(): Job;
  metricLines(): string[];
  close(): Promise<void>;
}

export function createSegments(deps: SegmentsDeps): Segments {
  const store = createSegmentStore(deps.db);
  const now = deps.now ?? (() => new Date());
  const eventKnown = deps.eventKnown ?? ((tenantId: number, eventId: string) => catalogEventKnown(deps.db, tenantId, eventId));
  /**
   * Refuses (400 invalid_field, with the path) a `did` leaf whose event_id names no event of the tenant: it would
   * silently match nobody. Checked on create and on an edit that sends filters; stored versions are not re-checked.
   */
  const checkEvents = async (tenantId: number, filters: Filter | undefined): Promise<void> => {
    if (!filters) return;
    const known = new Map<string, boolean>();
    for (const ref of eventIdRefs(filters)) {
      if (!known.has(ref.eventId)) known.set(ref.eventId, await eventKnown(tenantId, ref.eventId));
      if (!known.get(ref.eventId)) {
        throw new ValidationError({
          code: 'invalid_field', in: 'body', field: ref.field,
          message: `No event ${JSON.stringify(ref.eventId)} in this tenant's catalog or tracked events (PUT /api/v1/catalog/events syncs the catalog).`,
        });
      }
    }
  };
  const cache = createSegmentCache({ redisUrl: deps.redisUrl, prefix: deps.redisPrefix ?? 'tx:', log: deps.log, store });
  /** Runs a committed write, then brings the tenant's cache entry up to date (it never throws). */
  const written = async <T>(tenantId: number, r: T): Promise<T> => {
    if (r) await cache.changed(tenantId);
    return r;
  };
  const last = new Map<string, { tenant: number; segment: number; version: number; seconds: number; members: number }>();
  const totals = { ok: 0, error: 0, seconds: 0 };
  const record = (e: Evaluation) => {
    last.set(`${e.segmentId}:${e.version}`, { tenant: e.tenantId, segment: e.segmentId, version: e.version, seconds: e.seconds, members: e.members });
    totals[e.ok ? 'ok' : 'error']++;
    totals.seconds += e.seconds;
    if (!e.ok) deps.log.warn({ segment_id: e.segmentId, version: e.version, err: e.error }, 'segment refresh failed');
  };
  const timed = async <T extends { id: number; version: number; size_estimate: number } | null>(tenantId: number, fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const r = await fn();
    if (r) record({ tenantId, segmentId: r.id, version: r.version, ok: true, members: r.size_estimate, seconds: (performance.now() - started) / 1000 });
    return r;
  };
  const seg: Segments = {
    store,
    cache,
    async create(t, b) {
      await checkEvents(t, b.filters);
      return written(t, await timed(t, () => store.create(t, { name: b.name!, filters: b.filters!, marketingOnly: b.marketingOnly ?? true }, b.autoRefresh ?? true, now())));
    },
    async edit(t, id, b) {
      // A missing segment is a 404 whatever its body says (and costs no event lookups).
      if (b.filters && !(await store.get(t, id, null))) return null;
      await checkEvents(t, b.filters);
      return written(t, await timed(t, () => store.edit(t, id, { name: b.name, filters: b.filters, marketingOnly: b.marketingOnly, autoRefresh: b.autoRefresh }, now())));
    },
    async remove(t, id) {
      const users = deps.usedBy ? await deps.usedBy(t, id) : [];
      if (users.length) return (await store.get(t, id, null)) ? { usedBy: users } : { missing: true };
      return (await written(t, await store.remove(t, id))) ? { deleted: true } : { missing: true };
    },
    register: (router) => registerSegmentRoutes(router, seg),
    job: () => ({
      name: 'segments.refresh',
      schedule: { every: REFRESH_EVERY_S },
      timeoutS: 1800,
      // Each version once per run: the due list skips versions attempted since the run began.
      run: (ctx) => {
        const started = new Date(ctx.now());
        return ctx.chunk(async (limit) => {
          const due = await store.due(started, limit);
          for (const v of due) record(await store.refresh(v, new Date(ctx.now())));
          // A refresh changes the summaries (size, computed time, error count) even when it failed.
          for (const t of new Set(due.map((v) => v.tenantId))) await cache.changed(t);
          return due.length;
        }, CHUNK);
      },
    }),
    metricLines: () => [
      '# HELP tx_segment_eval_seconds Time of the last evaluation of each segment version on this node (seed 004 §8).',
      '# TYPE tx_segment_eval_seconds gauge',
      ...[...last.values()].map((m) => `tx_segment_eval_seconds{tenant="${m.tenant}",segment="${m.segment}",version="${m.version}"} ${m.seconds.toFixed(6)}`),
      '# TYPE tx_segment_members gauge',
      ...[...last.values()].map((m) => `tx_segment_members{tenant="${m.tenant}",segment="${m.segment}",version="${m.version}"} ${m.members}`),
      '# TYPE tx_segment_evaluations_total counter',
      `tx_segment_evaluations_total{outcome="ok"} ${totals.ok}`,
      `tx_segment_evaluations_total{outcome="error"} ${totals.error}`,
      '# TYPE tx_segment_eval_seconds_sum counter',
      `tx_segment_eval_seconds_sum ${totals.seconds.toFixed(6)}`,
    ],
    close: () => cache.close(),
  };
  return seg;
}
