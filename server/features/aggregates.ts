// The three aggregates (fs_event_funnel_hourly, fs_event_daily, fs_person_daily) over a range of UTC days.
// TimescaleDB: refresh_continuous_aggregate, ending each at its current bucket (the real-time part serves the
// bucket in progress; refreshing it would move the watermark past rows still to come). It cannot run inside a
// transaction, so each call is its own statement. Plain PostgreSQL: the tables of the same names, rewritten
// (DELETE + the aggregate's SELECT) a week at a time, one transaction each, through the day of the latest
// occurred_at ingest accepts (now + FUTURE_HOURS: a row dated into the next UTC day is counted as soon as it is
// stored, as the real-time part counts it on TimescaleDB). Neither reaches before the cutoff of the aggregate
// retention (retention.ts aggregateCutoff).
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import { DAY_MS, HOUR_MS, floorTo } from './model.js';
import { aggregateCutoff, recountFrom } from './retention.js';

const Q = queries('features.sql', [
  'refresh_cagg_hourly', 'refresh_cagg_event_daily', 'refresh_cagg_person_daily',
  'plain_delete_hourly', 'plain_recount_hourly', 'plain_delete_event_daily', 'plain_recount_event_daily',
  'plain_delete_person_daily', 'plain_recount_person_daily', 'lock_features',
]);

const PLAIN = [
  [Q.plain_delete_hourly, Q.plain_recount_hourly],
  [Q.plain_delete_event_daily, Q.plain_recount_event_daily],
  [Q.plain_delete_person_daily, Q.plain_recount_person_daily],
] as const;

/** Days rewritten per transaction in plain mode: bounds one statement's work (and the writer's wait on the embedded store). */
const PLAIN_STEP_MS = 7 * DAY_MS;

export interface Aggregates {
  /**
   * Brings the buckets of [from, now] up to date (plain mode: through the day of now + FUTURE_HOURS, see
   * plainRefreshEnd); returns the number of refresh statements run.
   */
  refresh(from: number, now: number, signal?: AbortSignal): Promise<number>;
  /** The UTC days (YYYY-MM-DD) an erasure touched: their buckets are recounted without the erased rows. */
  refreshDays(days: string[], now: number): Promise<number>;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** FUTURE_HOURS' default (config/index.ts), for callers that do not pass the configured value. */

/**
 * Plain mode's refresh end (exclusive): the end of the UTC day of the latest occurred_at ingest accepts at `now`
 * (ingest/validate.ts refuses more than `futureHours` ahead). Ending at the current day left a row dated into the
 * next day out of the tables until the first refresh after midnight, even after features.full. Pure.
 */
export function plainRefreshEnd(now: number, futureHours: number): number {
  return floorTo(now + futureHours * HOUR_MS, 'day') + DAY_MS;
}

export interface AggregatesDeps {
  db: Db;
  log: Logger;
  /** FUTURE_HOURS (config.limits.futureHours): how far ahead of its receipt a stored row's occurred_at can be. */
  futureHours: number;
}

export function createAggregates(deps: AggregatesDeps): Aggregates {
  const { db } = deps;
  const { futureHours } = deps;

  const timescale = async (from: number, now: number): Promise<number> => {
    let n = 0;
    const calls: [string, number][] = [
      [Q.refresh_cagg_hourly, floorTo(now, 'hour')],
      [Q.refresh_cagg_event_daily, floorTo(now, 'day')],
      [Q.refresh_cagg_person_daily, floorTo(now, 'day')],
    ];
    for (const [sql, end] of calls) {
      // A window without a whole bucket is refused by TimescaleDB; the real-time part covers it anyway.
      if (end <= from) continue;
      await db.query(sql, [iso(from), iso(end)]);
      n++;
    }
    return n;
  };

  const plain = async (from: number, now: number, signal?: AbortSignal): Promise<number> => {
    const end = plainRefreshEnd(now, futureHours);
    let n = 0;
    for (let a = from; a < end; a += PLAIN_STEP_MS) {
      signal?.throwIfAborted();
      const range = [iso(a), iso(Math.min(a + PLAIN_STEP_MS, end))];
      await rewrite(range);
      n++;
    }
    return n;
  };

  // Whole days on both stores: the plain rewrite deletes from `from` on, so a start inside a day kept that day's
  // earlier buckets and inserted them again beside the old rows (features.full passed the oldest row's time).
  // Never before the aggregate retention's cutoff (retention.ts aggregateCutoff): the days it removed stay removed.
  const refresh = async (from: number, now: number, signal?: AbortSignal) => {
    const start = recountFrom(from, await aggregateCutoff(db));
    return db.plain ? plain(start, now, signal) : timescale(start, now);
  };

  return {
    refresh,
    async refreshDays(days, now) {
      let n = 0;
      const cutoff = await aggregateCutoff(db);
      for (const d of [...new Set(days)].sort()) {
        const start = Date.parse(`${d}T00:00:00Z`);
        if (Number.isNaN(start) || recountFrom(start, cutoff) > start) continue;
        if (db.plain) {
          await rewrite([iso(start), iso(start + DAY_MS)]);
          n++;
        } else n += await timescale(start, Math.min(now, start + DAY_MS));
      }
      return n;
    },
  };

  /** Plain mode: the range's rows of the three tables, recounted from tx_events in one transaction. */
  async function rewrite(range: string[]): Promise<void> {
    await db.tx(async (q) => {
      await q.query(Q.lock_features);
      for (const [del, ins] of PLAIN) {
        await q.query(del, range);
        await q.query(ins, range);
      }
    });
  }
}
