// One budget's checks and writes one after another on this node. Approving its campaigns and setting a daily
// budget by hand each read what the budget's running campaigns take a day, check the headroom and then write: two
// at once each saw the other's campaigns as they were, and four hand-set daily budgets sent together added up to
// 89.6 against a daily limit of 40 (the same went for approvals against the day's target). A turn holds only store
// work (the check and the write: a claimed campaign is `publishing` with its amount, a hand-set amount is written
// before it is sent); the platform calls come after it, so a slow platform never holds the budget's other
// requests. Hand changes of one budget on two nodes in the same instant are not serialised (README "Campaigns").

export type BudgetTurns = <T>(budgetId: number, fn: () => Promise<T>) => Promise<T>;

/** A turn per budget id: `fn` starts once every earlier turn of the same budget has settled. */
export function createBudgetTurns(): BudgetTurns {
  const tails = new Map<number, Promise<void>>();
  return async (budgetId, fn) => {
    const before = tails.get(budgetId) ?? Promise.resolve();
    let done!: () => void;
    const mine = before.then(() => new Promise<void>((resolve) => (done = resolve)));
    tails.set(budgetId, mine);
    await before;
    try {
      return await fn();
    } finally {
      done();
      // The last turn of a budget leaves nothing behind.
      if (tails.get(budgetId) === mine) tails.delete(budgetId);
    }
  };
}
