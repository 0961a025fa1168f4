// Plain PostgreSQL mode (README "Plain PostgreSQL mode"): tx_events is partitioned by month on occurred_at,
// tx_events_pYYYYMM for [first of the month, first of the next) in UTC, plus tx_events_default, which takes a row
// whose month has no partition yet, so no row is ever refused for that. `ensure` (job store.partitions, and once
// at boot) creates the months ahead and the ones backfill can reach, and moves rows out of the DEFAULT
// partition into their new month; `dropExpired` (job gdpr.retention) drops whole months past retention.
// Each month is its own short transaction: writes to tx_events wait (reads go on), a standalone table, the DEFAULT
// partition's rows of that month moved in, then ATTACH (CREATE TABLE … PARTITION OF would take ACCESS EXCLUSIVE
// on tx_events and block reads too).
import type { Logger } from 'pino';
import type { Db } from './db.js';
import { queries } from './queries.js';

const Q = queries('partitions.sql', ['list_partitions', 'default_months', 'partitions_lock', 'lock_timeout', 'lock_writes', 'delete_expired_default']);

/** Months created ahead of the current one. */
export const MONTHS_AHEAD = 2;
const NAME = /^tx_events_p(\d{4})(\d{2})$/;

/** A month as YYYYMM (UTC). */
export type Month = string;

export function monthOf(d: Date): Month {
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** First instant of a month, UTC. */
export function monthStart(m: Month): Date {
  return new Date(Date.UTC(Number(m.slice(0, 4)), Number(m.slice(4)) - 1, 1));
}

export function addMonths(m: Month, n: number): Month {
  const d = monthStart(m);
  d.setUTCMonth(d.getUTCMonth() + n);
  return monthOf(d);
}

export const partitionName = (m: Month): string => `tx_events_p${m}`;

/** The month of a partition's name, or null for any other table (the DEFAULT partition). */
export function monthOfPartition(name: string): Month | null {
  const m = NAME.exec(name);
  return m && Number(m[2]) >= 1 && Number(m[2]) <= 12 ? `${m[1]}${m[2]}` : null;
}

/** The cutoff of `months` of retention at `now` (what drop_chunks is given on TimescaleDB). */
export function retentionCutoff(now: Date, months: number): Date {
  const d = new Date(now);
  d.setUTCMonth(d.getUTCMonth() - months);
  return d;
}

export interface PartitionPolicy {
  /** BACKFILL_DAYS: how far back an event may be accepted. */
  backfillDays: number;
  /** RETENTION_MONTHS. */
  retentionMonths: number;
}

/**
 * The months that should have a partition at `now`: from the month backfill reaches (not before the retention
 * cutoff's month) to MONTHS_AHEAD after the current one, plus the months of rows waiting in the DEFAULT
 * partition that are not past retention. Pure.
 */
export function wantedMonths(now: Date, p: PartitionPolicy, inDefault: Month[] = []): Month[] {
  const cutoff = monthOf(retentionCutoff(now, p.retentionMonths));
  const back = monthOf(new Date(now.getTime() - p.backfillDays * 86_400_000));
  const first = back > cutoff ? back : cutoff;
  const last = addMonths(monthOf(now), MONTHS_AHEAD);
  const out = new Set<Month>();
  for (let m = first; m <= last; m = addMonths(m, 1)) out.add(m);
  for (const m of inDefault) if (m >= cutoff) out.add(m);
  return [...out].sort();
}

/** Partitions whose whole month ends at or before the cutoff (drop_chunks' rule). Pure. */
export function expiredPartitions(names: string[], cutoff: Date): string[] {
  return names.filter((n) => {
    const m = monthOfPartition(n);
    return m !== null && monthStart(addMonths(m, 1)).getTime() <= cutoff.getTime();
  }).sort();
}

export interface Partitions {
  /** Creates the missing months and moves rows out of the DEFAULT partition; what it did. */
  ensure(now: Date, policy: PartitionPolicy): Promise<{ created: string[]; moved: number }>;
  /** Drops the months past retention and deletes expired rows left in the DEFAULT partition. */
  dropExpired(cutoff: Date): Promise<{ dropped: string[]; deleted: number }>;
}

export function createPartitions(deps: { db: Db; log: Logger }): Partitions {
  const { db, log } = deps;
  const existing = async (): Promise<Set<string>> =>
    new Set((await db.query<{ name: string }>(Q.list_partitions)).rows.map((r) => r.name));

  /** One month: returns the number of rows moved in from the DEFAULT partition, or null if it already existed. */
  const createMonth = (m: Month): Promise<number | null> =>
    db.tx(async (q) => {
      await q.query(Q.lock_timeout);
      await q.query(Q.partitions_lock);
      const name = partitionName(m);
      const have = new Set((await q.query<{ name: string }>(Q.list_partitions)).rows.map((r) => r.name));
      if (have.has(name)) return null;
      const from = monthStart(m).toISOString();
      const to = monthStart(addMonths(m, 1)).toISOString();
      await q.query(Q.lock_writes);
      // `name` matches NAME and the bounds are our own ISO strings: nothing from a request reaches this DDL.
      // These three statements name the new month's table, which a bind parameter cannot, so they are built here
      // rather than kept in partitions.sql (see its header); the bounds of the move are parameters.
      await q.query(`CREATE TABLE ${name} (LIKE tx_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
      const moved = await q.query<{ n: number }>(
        `WITH m AS (DELETE FROM tx_events_default WHERE occurred_at >= $1::timestamptz AND occurred_at < $2::timestamptz RETURNING *)
         , i AS (INSERT INTO ${name} SELECT * FROM m RETURNING 1) SELECT count(*)::int AS n FROM i`,
        [from, to],
      );
      await q.query(`ALTER TABLE tx_events ATTACH PARTITION ${name} FOR VALUES FROM ('${from}') TO ('${to}')`);
      return moved.rows[0].n;
    });

  return {
    async ensure(now, policy) {
      const have = await existing();
      const inDefault = (await db.query<{ month: string }>(Q.default_months)).rows.map((r) => r.month);
      const created: string[] = [];
      let moved = 0;
      for (const m of wantedMonths(now, policy, inDefault)) {
        if (have.has(partitionName(m))) continue;
        const n = await createMonth(m);
        if (n === null) continue;
        created.push(partitionName(m));
        moved += n;
      }
      if (created.length) log.info({ created, moved }, 'tx_events partitions created');
      return { created, moved };
    },
    async dropExpired(cutoff) {
      return db.tx(async (q) => {
        await q.query(Q.lock_timeout);
        await q.query(Q.partitions_lock);
        const names = (await q.query<{ name: string }>(Q.list_partitions)).rows.map((r) => r.name);
        const dropped = expiredPartitions(names, cutoff);
        // Names from the catalog that matched NAME (expiredPartitions keeps only those).
        for (const n of dropped) await q.query(`DROP TABLE ${n}`);
        const deleted = (await q.query<{ n: number }>(Q.delete_expired_default, [cutoff.toISOString()])).rows[0].n;
        if (dropped.length || deleted) log.info({ dropped, deleted }, 'tx_events partitions past retention dropped');
        return { dropped, deleted };
      });
    },
  };
}
