import { describe, expect, it } from 'vitest';
import { parseAmount, parseIds, parseSuite } from './schemas.js';

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
});
