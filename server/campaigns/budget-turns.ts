// One budget's checks and writes one after another, on one node and across nodes. Approving its campaigns and
// setting a daily budget by hand each read what the budget's running campaigns take a day, check the headroom and
// then write: two at once each saw the other's campaigns as they were, and four hand-set daily budgets sent together
// added up to 89.6 against a daily limit of 40 (the same went for approvals against the day's target). A turn holds
// only store work (a claimed campaign is `publishing` with its amount, a hand-set amount is written before it is
// sent); the platform calls come after it, so a slow platform never holds the budget's other requests.
// A node's own turns queue in memory (they never poll the store); each also holds a lease on the budget's row
// (migration 043), since the work runs as separate statements that no transaction or row lock spans. The lease
// runs out by itself, so a node that died in its turn holds the budget no longer than that.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { StoreUnavailableError, type Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';

const Q = queries('campaigns.sql', ['take_budget_turn', 'release_budget_turn']);

/** Long enough for a turn's store work; a turn's lease left by a dead node frees the budget after it. */
export const TURN_LEASE_MS = 30_000;
const FIRST_WAIT_MS = 10;
const LONGEST_WAIT_MS = 250;

export type BudgetTurns = <T>(tenant: number, budgetId: number, fn: () => Promise<T>) => Promise<T>;

/** The store's side of a turn: a lease on the budget's row. */
export interface TurnLease {
  /** taken: `token` holds the budget until `until`; held: another holder's lease runs past `now`; missing: no such budget. */
  take(tenant: number, budgetId: number, token: string, now: Date, until: Date): Promise<'taken' | 'held' | 'missing'>;
  /** Ends `token`'s lease (one that ran out and was taken by another holder is left to it). */
  release(tenant: number, budgetId: number, token: string): Promise<void>;
}

export function storeLease(db: Queryable): TurnLease {
  return {
    async take(tenant, budgetId, token, now, until) {
      const r = (await db.query<{ known: boolean; taken: boolean }>(Q.take_budget_turn, [tenant, budgetId, token, now, until])).rows[0];
      return !r?.known ? 'missing' : r.taken ? 'taken' : 'held';
    },
    async release(tenant, budgetId, token) {
      await db.query(Q.release_budget_turn, [tenant, budgetId, token]);
    },
  };
}

/**
 * How long to wait before asking for a held budget again, after `attempt` refusals (0 first): doubling from 10 ms
 * up to 250 ms, the upper half of it at random so that waiting nodes do not ask in step. Null once `waited` (ms
 * spent waiting so far) reached two leases: the holder neither finished nor died in that time.
 */
export function turnWait(attempt: number, waited: number, random: () => number, leaseMs = TURN_LEASE_MS): number | null {
  if (waited >= 2 * leaseMs) return null;
  const step = Math.min(LONGEST_WAIT_MS, FIRST_WAIT_MS * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + (random() * step) / 2);
}

export interface TurnDeps {
  lease: TurnLease;
  /** The clock leases are written and compared with (the service's: the same on every node). */
  now: () => number;
  log: Pick<Logger, 'warn'>;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  leaseMs?: number;
}

/**
 * A turn per budget: `fn` starts once every earlier turn of the same budget on this node has settled and no other
 * node's turn holds it. Waiting longer than two leases throws StoreUnavailableError (answered 503, to try again).
 */
export function createBudgetTurns(deps: TurnDeps): BudgetTurns {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = deps.random ?? Math.random;
  const leaseMs = deps.leaseMs ?? TURN_LEASE_MS;
  const tails = new Map<string, Promise<void>>();

  /** This turn's token once it holds the budget's lease; null for a budget that does not exist. */
  async function take(tenant: number, budgetId: number): Promise<string | null> {
    const token = randomUUID();
    let waited = 0;
    for (let attempt = 0; ; attempt++) {
      const t = deps.now();
      const got = await deps.lease.take(tenant, budgetId, token, new Date(t), new Date(t + leaseMs));
      if (got === 'taken') return token;
      if (got === 'missing') return null;
      const ms = turnWait(attempt, waited, random, leaseMs);
      if (ms === null) throw new StoreUnavailableError(`budget ${budgetId}: another node held its turn for over ${waited} ms`);
      await sleep(ms);
      waited += ms;
    }
  }

  return async (tenant, budgetId, fn) => {
    const key = `${tenant}:${budgetId}`;
    const before = tails.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = before.then(() => new Promise<void>((resolve) => (done = resolve)));
    tails.set(key, mine);
    await before;
    try {
      const token = await take(tenant, budgetId);
      try {
        return await fn();
      } finally {
        if (token) {
          await deps.lease.release(tenant, budgetId, token).catch((err: Error) =>
            deps.log.warn({ tenant, budget: budgetId, err: err.message }, 'releasing a budget turn failed; its lease runs out by itself'));
        }
      }
    } finally {
      done();
      // The last turn of a budget leaves nothing behind.
      if (tails.get(key) === mine) tails.delete(key);
    }
  };
}
