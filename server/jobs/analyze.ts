// store.analyze (embedded store only). PGlite runs Postgres in single-user mode, without autovacuum: nothing
// ever gathers planner statistics, so every table and chunk is planned as "never analyzed" (reltuples -1), with
// default selectivities whatever the data — the funnel index's id pages were once planned as a bitmap scan of
// the whole tenant plus a sort for that reason (bench/RESULTS.md). This job does what autovacuum's analyze would:
// a table or chunk is analyzed when it never was, or when it grew by a fifth since. ANALYZE holds the one
// session while it samples, so it is kept short: 3,000 sampled rows (statistics target 10) and, for tables with
// json/jsonb columns, the other columns only (measured on a 78k-row tx_events chunk: all columns at target 100
// 2.2 s, scalar columns at target 10 38 ms); one table per statement, so ingest's commits run in between.
// Statistics hold sampled values: a GDPR erasure's disk purge (Db.purge) deletes them all, and this job gathers
// them again (a table with rows at its last analyze and no statistics is due).
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import { eachTable } from './maintenance.js';
import type { Job } from './runner.js';

const Q = queries('analyze.sql', ['analyze_candidates', 'analyze_sample']);

export interface AnalyzeCandidate {
  rel: string;
  /** Pages when last analyzed (see analyzeDue), and rows (reltuples -1: never analyzed nor vacuumed). */
  analyzedPages: number;
  reltuples: number;
  /** Whether pg_statistic holds any row for it. */
  hasStats: boolean;
  /** Pages now. */
  pages: number;
  scalarColumns: string | null;
  hasJson: boolean;
}

/** Grown by this share of its size at the last analyze, and by at least GROWTH_MIN_PAGES pages (autovacuum: 10 % + 50 rows). */
const GROWTH = 0.2;
const GROWTH_MIN_PAGES = 8;
/** One run stops starting new ANALYZEs after this long; the rest are due at the next run. */
const RUN_BUDGET_MS = 2_000;

/**
 * Whether a table needs (new) statistics. Pure. `analyzedPages`: its size when last analyzed — what this job
 * remembers, or at first sight pg_class.relpages (set by the last ANALYZE, but by every VACUUM too: store.vacuum
 * keeps it current, so it cannot serve as the baseline once this job has seen the table).
 */
export function analyzeDue(c: { analyzedPages: number; reltuples: number; pages: number; hasStats: boolean }): boolean {
  if (c.pages <= 0) return false;
  if (c.reltuples < 0 || (c.reltuples > 0 && !c.hasStats)) return true;
  return c.pages - c.analyzedPages >= Math.max(GROWTH_MIN_PAGES, GROWTH * c.analyzedPages);
}

/** The statement for one table: its scalar columns alone when it has json/jsonb ones. Pure. */
export function analyzeStatement(c: Pick<AnalyzeCandidate, 'rel' | 'scalarColumns' | 'hasJson'>): string {
  return c.hasJson && c.scalarColumns ? `ANALYZE ${c.rel} (${c.scalarColumns})` : `ANALYZE ${c.rel}`;
}

export function analyzeJob(deps: { db: Db; log: Logger }): Job {
  // Pages of each table when this process last analyzed it or first saw it (one process owns the embedded store).
  const analyzedPages = new Map<string, number>();
  return {
    name: 'store.analyze',
    schedule: { every: 300 },
    timeoutS: 300,
    async run(ctx) {
      const { rows } = await deps.db.query<{ rel: string; relpages: number; reltuples: number; has_stats: boolean; pages: string; scalar_columns: string | null; has_json: boolean }>(Q.analyze_candidates);
      const due: AnalyzeCandidate[] = [];
      for (const r of rows) {
        if (!analyzedPages.has(r.rel)) analyzedPages.set(r.rel, Number(r.relpages));
        const c = { rel: r.rel, analyzedPages: analyzedPages.get(r.rel)!, reltuples: Number(r.reltuples), hasStats: r.has_stats, pages: Number(r.pages), scalarColumns: r.scalar_columns, hasJson: r.has_json };
        if (analyzeDue(c)) due.push(c);
      }
      const started = ctx.now();
      const done = await eachTable(ctx, due, RUN_BUDGET_MS, async (c) => {
        await deps.db.tx(async (q) => {
          await q.query(Q.analyze_sample);
          await q.query(analyzeStatement(c));
        });
        analyzedPages.set(c.rel, c.pages);
      });
      if (done > 0) deps.log.info({ analyzed: done, due: due.length, ms: Math.round(ctx.now() - started) }, 'planner statistics gathered');
      return done;
    },
  };
}
