// persons.stats: recomputes the persons' derived attributes (catalog/store.ts recomputePersonStats) every
// 10 minutes, catching what the writer projector cannot see (events linked to a person later by identity
// stitching, erasures). In chunks of persons in id order, so one statement never covers the whole table and,
// on the embedded store, ingest's commits run between two chunks.
import { recomputePersonStats } from '../catalog/index.js';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import type { Job } from './runner.js';

const Q = queries('jobs.sql', ['person_ids_after']);

export const PERSON_STATS_CHUNK = 1000;

export function personStatsJob(db: Db, chunk = PERSON_STATS_CHUNK): Job {
  return {
    name: 'persons.stats',
    schedule: { every: 600 },
    timeoutS: 600,
    async run(ctx) {
      let after = 0;
      let changed = 0;
      for (;;) {
        ctx.signal.throwIfAborted();
        const ids = (await db.query<{ person_id: string | number }>(Q.person_ids_after, [after, chunk])).rows.map((r) => Number(r.person_id));
        if (ids.length === 0) return changed;
        changed += await recomputePersonStats(db, null, ids);
        if (ids.length < chunk) return changed;
        after = ids[ids.length - 1];
        await new Promise<void>((r) => setImmediate(r));
      }
    },
  };
}
