import { describe, expect, it } from 'vitest';
import { createBudgetTurns } from './budget-turns.js';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('budget turns', () => {
  it('runs the changes of one budget one after another, in the order asked, and of two budgets side by side', async () => {
    const turns = createBudgetTurns();
    const log: string[] = [];
    const step = (budget: number, name: string) => turns(budget, async () => {
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

  it('a failed change frees the turn for the next one', async () => {
    const turns = createBudgetTurns();
    const failed = turns(1, async () => {
      throw new Error('platform refused');
    });
    await expect(failed).rejects.toThrow('platform refused');
    await expect(turns(1, async () => 'next')).resolves.toBe('next');
  });
});
