import { describe, expect, it } from 'vitest';
import { parseAmount, parseIds, parseNewBudget, parseOverride, parseSuite } from './schemas.js';

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
});
