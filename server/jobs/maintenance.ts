// What store.analyze and store.vacuum share: the embedded store has one session, so table maintenance runs one
// statement per table (ingest's commits run in between) and stops starting new ones once a run's budget is spent.
import { isUndefinedTable } from '../store/db.js';
import type { JobContext } from './runner.js';

/**
 * Runs `step` for each table in order until the run is aborted or `budgetMs` has passed since it began (tables
 * `urgent` says must not wait are run whatever the budget). A table dropped between the listing and its turn
 * (retention drops chunks) is skipped. Returns how many tables `step` completed.
 */
export async function eachTable<T>(
  ctx: Pick<JobContext, 'signal' | 'now'>,
  tables: T[],
  budgetMs: number,
  step: (table: T) => Promise<void>,
  urgent: (table: T) => boolean = () => false,
): Promise<number> {
  const started = ctx.now();
  let done = 0;
  for (const t of tables) {
    if (ctx.signal.aborted) break;
    if (!urgent(t) && ctx.now() - started > budgetMs) break;
    try {
      await step(t);
      done++;
    } catch (err) {
      if (!isUndefinedTable(err)) throw err;
    }
  }
  return done;
}
