import { describe, expect, it } from 'vitest';
import type { Db } from '../store/db.js';
import { raisedFirst, settleDaily } from './daily-budgets.js';
import { Q } from './store.js';

/** A store that records the statements it is sent. */
function recording(): { db: Db; sent: { sql: string; params: unknown[] }[] } {
  const sent: { sql: string; params: unknown[] }[] = [];
  const db = { query: async (sql: string, params: unknown[] = []) => (sent.push({ sql, params }), { rows: [], rowCount: 0 }) } as unknown as Db;
  return { db, sent };
}

describe('daily budgets: a raise is written before the platform is asked, a lowering after it took it', () => {
  const at = new Date('2026-12-01T12:00:00Z');

  it('writes only raises first: a lowering or the same amount keeps the higher amount (and its room) until the platform runs it', () => {
    expect(raisedFirst(10, 12.5)).toBe(true);
    expect(raisedFirst(30, 10)).toBe(false);
    expect(raisedFirst(10, 10)).toBe(false);
  });

  it('puts a refused raise back and writes nothing for a raise the platform took', async () => {
    const refused = recording();
    await settleDaily(refused.db, 1, 7, 10, 30, false, at);
    expect(refused.sent).toEqual([{ sql: Q.replace_daily_budget, params: [1, 7, 30, 10, at] }]);
    const taken = recording();
    await settleDaily(taken.db, 1, 7, 10, 30, true, at);
    expect(taken.sent).toEqual([]);
  });

  it('writes a lowering the platform took, from the amount it replaced only, and nothing for one it refused', async () => {
    const taken = recording();
    await settleDaily(taken.db, 1, 7, 30, 10, true, at);
    expect(taken.sent).toEqual([{ sql: Q.replace_daily_budget, params: [1, 7, 30, 10, at] }]);
    const refused = recording();
    await settleDaily(refused.db, 1, 7, 30, 10, false, at);
    expect(refused.sent).toEqual([]);
  });
});
