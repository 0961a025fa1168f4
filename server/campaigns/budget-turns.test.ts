import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../store/db.js';
import { createBudgetTurns, TURN_LEASE_MS, turnWait, type TurnDeps, type TurnLease } from './budget-turns.js';

const tick = () => new Promise<void>((r) => setTimeout(r, 1));

/** The store's leases in memory (take_budget_turn / release_budget_turn), shared by the "nodes" of a test. */
function memoryLease(budgets: string[] = ['1:1', '1:2']) {
  const rows = new Map(budgets.map((k) => [k, { holder: null as string | null, until: null as Date | null }]));
  const calls = { take: 0, release: 0 };
  const lease: TurnLease = {
    async take(tenant, budgetId, token, now, until) {
      calls.take++;
      const row = rows.get(`${tenant}:${budgetId}`);
      if (!row) return 'missing';
      if (row.until && row.until > now) return 'held';
      Object.assign(row, { holder: token, until });
      return 'taken';
    },
    async release(tenant, budgetId, token) {
      calls.release++;
      const row = rows.get(`${tenant}:${budgetId}`);
      if (row?.holder === token) Object.assign(row, { holder: null, until: null });
    },
  };
  return { lease, rows, calls };
}

const warnings: unknown[] = [];
const node = (lease: TurnLease, more: Partial<TurnDeps> = {}) =>
  createBudgetTurns({ lease, now: Date.now, log: { warn: (o: unknown) => void warnings.push(o) }, sleep: tick, random: () => 0.5, ...more });

describe('budget turns', () => {
  it('runs the changes of one budget one after another, in the order asked, and of two budgets side by side', async () => {
    const turns = node(memoryLease().lease);
    const log: string[] = [];
    const step = (budget: number, name: string) => turns(1, budget, async () => {
      log.push(`${name} start`);
      await tick();
      await tick();
      log.push(`${name} end`);
      return name;
    });
    const out = await Promise.all([step(1, 'a'), step(1, 'b'), step(2, 'x'), step(1, 'c')]);
    expect(out).toEqual(['a', 'b', 'x', 'c']);
    const of = (names: string[]) => log.filter((l) => names.includes(l.split(' ')[0]));
    expect(of(['a', 'b', 'c'])).toEqual(['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
    // Budget 2 did not wait for budget 1.
    expect(log.indexOf('x start')).toBeLessThan(log.indexOf('a end'));
  });

  it('a node\'s own turns queue in memory: each asks the store once, never waits on its own lease', async () => {
    const { lease, calls } = memoryLease();
    const turns = node(lease);
    await Promise.all([1, 2, 3].map(() => turns(1, 1, tick)));
    expect(calls).toEqual({ take: 3, release: 3 });
  });

  it('two nodes on one store take one budget\'s turns one after another', async () => {
    const { lease } = memoryLease();
    const [a, b] = [node(lease), node(lease)];
    let inside = 0;
    let most = 0;
    const work = (turns: typeof a) => turns(1, 1, async () => {
      most = Math.max(most, ++inside);
      await tick();
      await tick();
      inside--;
    });
    await Promise.all([work(a), work(b), work(a), work(b), work(b)]);
    expect(most).toBe(1);
  });

  it('a lease left by a dead holder is taken once it ran out, not before', async () => {
    const { lease, rows } = memoryLease();
    const clock = { now: 1_000_000 };
    rows.set('1:1', { holder: 'dead node', until: new Date(clock.now + 5_000) });
    let slept = 0;
    const turns = node(lease, { now: () => clock.now, sleep: async (ms) => { slept += ms; clock.now += ms; } });
    await expect(turns(1, 1, async () => 'mine')).resolves.toBe('mine');
    expect(slept).toBeGreaterThanOrEqual(5_000);
    expect(rows.get('1:1')).toEqual({ holder: null, until: null });
  });

  it('a budget that does not exist does not wait: its work runs and answers for itself', async () => {
    const { lease, calls } = memoryLease([]);
    await expect(node(lease)(1, 9, async () => 'not_found')).resolves.toBe('not_found');
    expect(calls).toEqual({ take: 1, release: 0 });
  });

  it('gives up with a 503 once another holder kept the budget for two leases', async () => {
    const { lease, rows } = memoryLease();
    rows.set('1:1', { holder: 'stuck', until: new Date(8.64e15) });
    let ran = false;
    const turns = node(lease, { sleep: async () => undefined });
    await expect(turns(1, 1, async () => (ran = true))).rejects.toThrow(StoreUnavailableError);
    expect(ran).toBe(false);
    // The node's next turn of the budget is not stuck behind the refused one.
    rows.set('1:1', { holder: null, until: null });
    await expect(turns(1, 1, async () => 'next')).resolves.toBe('next');
  });

  it('a failed change frees the turn for the next one, here and in the store', async () => {
    const { lease, rows } = memoryLease();
    const turns = node(lease);
    const failed = turns(1, 1, async () => {
      throw new Error('platform refused');
    });
    await expect(failed).rejects.toThrow('platform refused');
    expect(rows.get('1:1')).toEqual({ holder: null, until: null });
    await expect(turns(1, 1, async () => 'next')).resolves.toBe('next');
  });

  it('a release the store did not take keeps the work\'s answer (the lease runs out by itself)', async () => {
    const { lease } = memoryLease();
    warnings.length = 0;
    const turns = node({ ...lease, release: async () => { throw new Error('connection lost'); } });
    await expect(turns(1, 1, async () => 'done')).resolves.toBe('done');
    expect(warnings).toEqual([expect.objectContaining({ budget: 1, err: 'connection lost' })]);
  });
});

describe('turnWait', () => {
  it('doubles from 10 ms to at most 250 ms, the upper half of each step at random', () => {
    expect([0, 1, 2, 3, 4, 5, 40].map((n) => turnWait(n, 0, () => 1))).toEqual([10, 20, 40, 80, 160, 250, 250]);
    expect([0, 1, 5].map((n) => turnWait(n, 0, () => 0))).toEqual([5, 10, 125]);
  });

  it('stops once the waits added up to two leases', () => {
    expect(turnWait(3, 2 * TURN_LEASE_MS - 1, () => 0.5)).not.toBeNull();
    expect(turnWait(3, 2 * TURN_LEASE_MS, () => 0.5)).toBeNull();
    expect(turnWait(0, 200, () => 0.5, 100)).toBeNull();
  });
});
