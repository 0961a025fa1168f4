import { describe, expect, it } from 'vitest';
import { parseNewAudience } from './schemas.js';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const base = { platform: 'meta', audience_type: 'website_visitors' };

describe('new remarketing audience body', () => {
  it('refuses an expires_at already past, naming it (the audience would be created expired and still synced)', () => {
    const r = parseNewAudience({ ...base, expires_at: '2020-01-01T00:00:00Z' }, NOW);
    expect(r).toMatchObject({ ok: false, error: { field: 'expires_at', message: expect.stringMatching(/already passed/) } });
    expect(parseNewAudience({ ...base, expires_at: new Date(NOW).toISOString() }, NOW).ok).toBe(false);
    expect(parseNewAudience({ ...base, expires_at: '2026-06-02T00:00:00Z' }, NOW)).toMatchObject({ ok: true, value: { expires_at: '2026-06-02T00:00:00.000Z' } });
  });

  it('gives an empty or blank name the default "{type} ({platform})", as an absent one', () => {
    for (const name of [undefined, '', '   ']) {
      expect(parseNewAudience({ ...base, ...(name === undefined ? {} : { name }) }, NOW)).toMatchObject({ ok: true, value: { name: 'website_visitors (meta)' } });
    }
    expect(parseNewAudience({ ...base, name: 'Visitors' }, NOW)).toMatchObject({ ok: true, value: { name: 'Visitors' } });
  });
});
