// Today's hot state at start: loaded from Redis when Redis holds the whole day, otherwise recomputed from the
// store's rows of the day (and, when this node was elected to seed it, written to Redis as it goes). Apart
// from the assembly (index.ts) because it runs once, before the writer starts, and decides between the tiers.
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import type { Relay } from './bus-relay.js';
import type { Mirror } from './core.js';
import { utcDay, type Fact } from './facts.js';
import type { Pseudonymizer } from './pseudo.js';
import { recomputeDay } from './recompute.js';
import { SEED_RACE_MS } from './redis-keys.js';
import type { LiveState } from './state.js';

export interface RestoreDeps {
  db: Db;
  state: LiveState;
  mirror: Mirror | null;
  relay: Relay | null;
  pseudo: Pseudonymizer;
  log: Logger;
  now: () => number;
  /** Applies recomputed facts to the hot state (the assembly's applyFacts). */
  applyFacts: (facts: Fact[]) => void;
}

/** Today's live state from Redis, or recomputed from the store; says which. */
export async function restoreToday(o: RestoreDeps): Promise<{ source: 'redis' | 'store'; rows?: number }> {
  const { state, mirror, relay, log, now, applyFacts } = o;
  const day = utcDay(now());
  state.reset(day);
  let seeding = !!mirror;
  try {
    if (mirror && (await mirror.restore(state, day)) === 'restored') {
      log.info({ events: state.events.size }, 'live: state restored from Redis');
      return { source: 'redis' };
    }
  } catch (err) {
    if (!mirror || mirror.health() === 'up') throw err;
    // Redis is away: the store alone; Redis is re-seeded when it answers (redis-recovery.ts).
    log.warn({ err: (err as Error).message }, 'live: Redis unavailable at restore; recomputing from the store');
    state.reset(day);
    seeding = false;
  }
  const t0 = Date.now();
  // Other nodes' facts keep arriving over the bus meanwhile, and the store holds them too: the relay tells which
  // rows the bus already delivered, so each is applied once. Emptied again here, in the same tick as the relay
  // starts watching: a fact the bus delivered before (while the mirror cleared Redis) would be counted again from
  // its row.
  state.reset(day);
  const recompute = relay?.recompute(now() - SEED_RACE_MS);
  let n: number;
  try {
    n = await recomputeDay(o.db, day, o.pseudo, (facts, received) => {
      applyFacts(recompute ? recompute.take(facts, received) : facts);
      // Every row to Redis (the bus' copies never are): the mirror counts each one once (warm.ts).
      mirror?.write(facts, () => undefined, received);
    });
  } finally {
    recompute?.end();
  }
  if (mirror && seeding) await mirror.seeded(day);
  log.info({ rows: n, events: state.events.size, ms: Date.now() - t0, redis: !!mirror }, 'live: state recomputed from the store');
  return { source: 'store', rows: n };
}
