import { describe, expect, it } from 'vitest';
import { amountProblem, parseAmount, parseIds, parseNewBudget, parseOverride, parseSuite } from './schemas.js';

const field = (r: { ok: boolean; error?: { field: string } }) => (r.ok ? null : r.error!.field);

describe('campaign request bodies', () => {
  it('names an unknown field itself, not the expected one or the body', () => {
    expect(field(parseAmount({ daily_budget: 25, x: 1 }))).toBe('x');
    expect(field(parseIds({ notes: 'typo' }))).toBe('notes');
    expect(field(parseSuite({ lookalike: 2 }))).toBe('lookalike');
    // A body that is not an object is still the body's fault.
    expect(field(parseAmount([25]))).toBe('');
    expect(field(parseIds('x'))).toBe('');
    expect(parseAmount({ daily_budget: 25 })).toEqual({ ok: true, value: 25 });
    expect(field(parseAmount({}))).toBe('daily_budget');
  });

  it('says the unknown field by name in the message, cut to 40 characters', () => {
    expect(parseOverride({ name: 1 })).toEqual({ ok: false, error: { code: 'invalid_field', in: 'body', field: 'name', message: 'Unknown field "name"; a budget override takes total_budget and/or daily_budget_limit (null removes the limit).' } });
    expect(parseNewBudget({ organizer_id: 'O1', total_budget: 100, budget: 5 }, 0)).toMatchObject({ ok: false, error: { field: 'budget', message: expect.stringMatching(/^Unknown field "budget"; a budget takes organizer_id, /) } });
    const long = 'y'.repeat(100);
    expect(parseAmount({ daily_budget: 25, [long]: 1 })).toMatchObject({ ok: false, error: { field: 'y'.repeat(40), message: `Unknown field "${'y'.repeat(40)}": Send {"daily_budget": amount}.` } });
    const alloc = (a: unknown) => parseNewBudget({ organizer_id: 'O1', total_budget: 100, platform_allocations: a }, 0);
    expect(alloc({ meta: { percentage: 100, cap: 1 } })).toMatchObject({ ok: false, error: { field: 'platform_allocations.meta.cap', message: 'Unknown field "cap"; platform_allocations.meta takes percentage (0-100) and an optional daily_limit.' } });
    expect(alloc({ bing: { percentage: 100 } })).toMatchObject({ ok: false, error: { field: 'platform_allocations.bing', message: 'Unknown platform "bing"; platforms are meta, google_ads and tiktok.' } });
  });

  it('takes budget times from 2000-01-01 up to 2199-12-31 like every date of the API, naming the field', () => {
    const now = Date.UTC(2026, 0, 1);
    const budget = (ends_at: string) => parseNewBudget({ organizer_id: 'O1', total_budget: 100, ends_at }, now);
    expect(budget('2199-12-31T23:59:59Z')).toMatchObject({ ok: true, value: { ends_at: '2199-12-31T23:59:59.000Z' } });
    for (const raw of ['2200-01-01T00:00:00Z', '0026-11-20T00:00:00Z', '1999-12-31T23:59:59Z']) {
      expect(budget(raw)).toMatchObject({ ok: false, error: { field: 'ends_at', message: expect.stringContaining('between 2000-01-01 and 2199-12-31') } });
    }
  });

  it('states one rule per field and currency, naming the field, the value, the rule and the fix', () => {
    const msg = (r: unknown) => (r as { error: { message: string } } | null)?.error.message;
    // The probe's pair on an EUR budget: 0 said "at least 0.001 and at most 1000000, with at most 3 decimals" (the
    // parser's guess, no currency), 5.001 "at most 10000000 EUR" (the total's cap): neither was the daily budget's rule.
    expect(parseAmount({ daily_budget: 0 })).toEqual({ ok: true, value: 0 });
    expect(msg(amountProblem(0, 'daily_budget', 'EUR'))).toBe('daily_budget 0 EUR is below 0.01 EUR, the smallest amount it takes (an amount in EUR from 0.01 to 1000000, with at most 2 decimals (EUR\'s minor unit)): send at least 0.01 (to stop the campaign, pause it: POST /api/v1/campaigns/{id}/pause).');
    expect(msg(amountProblem(5.001, 'daily_budget', 'EUR'))).toBe('daily_budget 5.001 EUR has more than 2 decimals (an amount in EUR from 0.01 to 1000000, with at most 2 decimals (EUR\'s minor unit)): send it rounded to 2, e.g. 5.00.');
    expect(msg(amountProblem(2_000_000, 'daily_budget', 'EUR'))).toContain('daily_budget 2000000 EUR is above 1000000 EUR, the most it takes');
    expect(msg(amountProblem(2_000_000, 'total_budget', 'EUR'))).toBeUndefined();
    expect(msg(amountProblem(150000.5, 'total_budget', 'JPY'))).toContain('with at most 0 decimals (JPY\'s minor unit)): send it rounded to 0, e.g. 150000.');
    // The same rule at creation as in a PATCH.
    const created = parseNewBudget({ organizer_id: 'O1', total_budget: 100, daily_budget_limit: 0, currency: 'EUR' }, 0);
    expect(msg(created)).toBe(msg(amountProblem(0, 'daily_budget_limit', 'EUR')));
    expect(msg(parseAmount({ daily_budget: '5' }))).toBe('daily_budget must be a number, an amount in the budget\'s currency (e.g. 25 or 25.50 for EUR); got a string ("5").');
  });

  it('says what a null total is, instead of asking for fields that were sent', () => {
    expect(parseOverride({ total_budget: null })).toMatchObject({ ok: false, error: { field: 'total_budget', message: expect.stringMatching(/^total_budget null is not a total: a budget always has one\. .*only daily_budget_limit takes null, which removes the daily limit/) } });
    expect(parseOverride({ daily_budget_limit: null })).toEqual({ ok: true, value: { daily_budget_limit: null } });
    expect(parseOverride({})).toMatchObject({ ok: false, error: { field: '' } });
  });
});
