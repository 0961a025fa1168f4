import { describe, expect, it } from 'vitest';
import { eachTable } from './maintenance.js';

const ctx = (clock: { t: number }) => ({ signal: new AbortController().signal, now: () => clock.t });
const gone = Object.assign(new Error('relation "x" does not exist'), { code: '42P01' });

describe('eachTable', () => {
  it('stops starting tables once the budget is spent, except the urgent ones', async () => {
    const clock = { t: 0 };
    const ran: string[] = [];
    const n = await eachTable(ctx(clock), ['a', 'b', 'URGENT', 'c'], 100, async (x) => {
      ran.push(x);
      clock.t += 60;
    }, (x) => x === 'URGENT');
    expect({ n, ran }).toEqual({ n: 3, ran: ['a', 'b', 'URGENT'] });
  });

  it('skips a table dropped since the listing and throws any other failure', async () => {
    const clock = { t: 0 };
    expect(await eachTable(ctx(clock), ['a', 'dropped', 'b'], 1000, async (x) => {
      if (x === 'dropped') throw gone;
    })).toBe(2);
    await expect(eachTable(ctx(clock), ['a'], 1000, async () => {
      throw new Error('disk full');
    })).rejects.toThrow('disk full');
  });
});
