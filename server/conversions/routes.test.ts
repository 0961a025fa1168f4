import { describe, expect, it } from 'vitest';
import { parseSettings } from './routes.js';

describe('PUT /api/v1/settings/conversions body', () => {
  it('takes purchase_basis and nothing else', () => {
    expect(parseSettings({ purchase_basis: 'legitimate_interest' })).toEqual({ ok: true, value: { purchase_basis: 'legitimate_interest' } });
    expect(parseSettings({ purchase_basis: 'consent' })).toEqual({ ok: true, value: { purchase_basis: 'consent' } });
    for (const bad of [null, [], 'consent', {}, { purchase_basis: 'always' }, { purchase_basis: 1 }]) expect(parseSettings(bad).ok, JSON.stringify(bad)).toBe(false);
    const extra = parseSettings({ purchase_basis: 'consent', x: 1 });
    expect(!extra.ok && extra.error.field).toBe('x');
  });
});
