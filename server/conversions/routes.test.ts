import { describe, expect, it } from 'vitest';
import { parseBulkRetry, parseDestination, parseSettings } from './routes.js';

describe('PUT /api/v1/settings/conversions body', () => {
  it('takes purchase_basis and nothing else', () => {
    expect(parseSettings({ purchase_basis: 'legitimate_interest' })).toEqual({ ok: true, value: { purchase_basis: 'legitimate_interest' } });
    expect(parseSettings({ purchase_basis: 'consent' })).toEqual({ ok: true, value: { purchase_basis: 'consent' } });
    for (const bad of [null, [], 'consent', {}, { purchase_basis: 'always' }, { purchase_basis: 1 }]) expect(parseSettings(bad).ok, JSON.stringify(bad)).toBe(false);
    const extra = parseSettings({ purchase_basis: 'consent', x: 1 });
    expect(!extra.ok && extra.error.field).toBe('x');
  });
});

describe('the destination filter of GET /api/v1/conversions', () => {
  it('is "<provider>:<tracking code id>", else a 400 naming destination (a bare provider used to return every destination\'s rows)', () => {
    expect(parseDestination('query', 'meta:12')).toEqual({ ok: true, value: 'meta:12' });
    expect(parseDestination('query', 'google_ads:7')).toEqual({ ok: true, value: 'google_ads:7' });
    expect(parseDestination('query', null)).toEqual({ ok: true, value: null });
    expect(parseDestination('query', '')).toEqual({ ok: true, value: null });
    for (const bad of ['meta', 'meta:', 'meta:abc', 'meta:0', 'meta:-1', 'meta:1.5', 'gtm:3', 'META:3', 'meta:12 ', 'meta:12:1', ':12', 'meta:99999999999999999999', 'meta:\u00001']) {
      const r = parseDestination('query', bad);
      expect(r.ok, bad).toBe(false);
      expect(!r.ok && r.error).toMatchObject({ code: 'invalid_field', in: 'query', field: 'destination' });
    }
  });
});

describe('POST /api/v1/conversions/retry body', () => {
  it('takes a destination and nothing else, refused naming the field', () => {
    expect(parseBulkRetry({ destination: 'meta:12' })).toEqual({ ok: true, value: { destination: 'meta:12' } });
    const cases: [unknown, string][] = [[null, ''], [[], ''], ['meta:12', ''], [{}, 'destination'], [{ destination: 'meta' }, 'destination'], [{ destination: 12 }, 'destination'], [{ destination: 'meta:1', status: 'dead' }, 'status']];
    for (const [bad, field] of cases) {
      const r = parseBulkRetry(bad);
      expect(!r.ok && r.error, JSON.stringify(bad)).toMatchObject({ code: 'invalid_field', in: 'body', field });
    }
  });
});
