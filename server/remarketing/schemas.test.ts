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
    // Outside the API's 1970-2199 like every date (0026 was read as 1926, 2300 was taken).
    for (const raw of ['0026-06-02T00:00:00Z', '2300-01-01T00:00:00Z']) {
      expect(parseNewAudience({ ...base, expires_at: raw }, NOW)).toMatchObject({ ok: false, error: { field: 'expires_at', message: expect.stringContaining('between 1970-01-01 and 2199-12-31') } });
    }
  });

  it('gives an empty or blank name the default "{type} ({platform})", as an absent one', () => {
    for (const name of [undefined, '', '   ']) {
      expect(parseNewAudience({ ...base, ...(name === undefined ? {} : { name }) }, NOW)).toMatchObject({ ok: true, value: { name: 'website_visitors (meta)' } });
    }
    expect(parseNewAudience({ ...base, name: 'Visitors' }, NOW)).toMatchObject({ ok: true, value: { name: 'Visitors' } });
  });

  it('takes a Google Ads customer id with or without dashes and keeps its 10 digits; a TikTok advertiser id is digits; anything else is a 400 naming account_id', () => {
    const g = { platform: 'google_ads', audience_type: 'website_visitors' };
    expect(parseNewAudience({ ...g, account_id: '123-456-7890' }, NOW)).toMatchObject({ ok: true, value: { account_id: '1234567890' } });
    expect(parseNewAudience({ ...g, account_id: '1234567890' }, NOW)).toMatchObject({ ok: true, value: { account_id: '1234567890' } });
    for (const bad of ['123-456', '12345678901', 'abc-def-ghij', '123 456 7890', 'act_1234567890']) {
      expect(parseNewAudience({ ...g, account_id: bad }, NOW), bad).toMatchObject({ ok: false, error: { field: 'account_id', message: expect.stringMatching(/10 digits/) } });
    }
    const t = { platform: 'tiktok', audience_type: 'website_visitors' };
    expect(parseNewAudience({ ...t, account_id: '7012345678901234567' }, NOW)).toMatchObject({ ok: true, value: { account_id: '7012345678901234567' } });
    for (const bad of ['adv-1', '7012-3456', 'x']) {
      expect(parseNewAudience({ ...t, account_id: bad }, NOW), bad).toMatchObject({ ok: false, error: { field: 'account_id', message: expect.stringMatching(/digits/) } });
    }
    // Without one the audience is kept; its sync asks for it (platforms.ts destinationProblem).
    expect(parseNewAudience(g, NOW)).toMatchObject({ ok: true, value: { account_id: null } });
  });

  it('refuses a criteria field another audience type takes, naming the field and the types that take it', () => {
    const r = parseNewAudience({ platform: 'meta', audience_type: 'ticket_buyers', criteria: { segment_id: 3 } }, NOW);
    expect(r).toMatchObject({ ok: false, error: { field: 'criteria.segment_id', message: expect.stringContaining('applies to a custom_segment audience only; this audience_type is ticket_buyers') } });
    const behaviour = parseNewAudience({ platform: 'meta', audience_type: 'custom_segment', criteria: { segment_id: 3, min_actions: 2 } }, NOW);
    expect(behaviour).toMatchObject({ ok: false, error: { field: 'criteria.min_actions', message: expect.stringContaining('a website_visitors, event_viewers, cart_abandoners or ticket_buyers audience') } });
    expect(parseNewAudience({ platform: 'meta', audience_type: 'website_visitors', criteria: { lookalike_percentage: 5 } }, NOW)).toMatchObject({ ok: false, error: { field: 'criteria.lookalike_percentage' } });
    expect(parseNewAudience({ platform: 'meta', audience_type: 'custom_segment', criteria: { segment_id: 3, segment_version: 2 } }, NOW)).toMatchObject({ ok: true, value: { criteria: { segment_id: 3, segment_version: 2 } } });
  });

  it('takes an assigned ISO 3166-1 alpha-2 lookalike_country only, upper-cased', () => {
    const lal = (country: unknown) => parseNewAudience({ platform: 'meta', audience_type: 'lookalike', criteria: { lookalike_source_id: 1, lookalike_country: country } }, NOW);
    for (const bad of ['ZZ', 'UK', 'EU', 'XK', 'QZ', 'XX', 'AA', 'RO ', 'ROU', '', null]) {
      expect(lal(bad), String(bad)).toMatchObject({ ok: false, error: { field: 'criteria.lookalike_country' } });
    }
    expect(lal('zz')).toMatchObject({ ok: false, error: { message: expect.stringContaining('"zz" is not an assigned country code') } });
    for (const good of ['ro', 'GB', 'Us', 'AQ', 'BQ', 'SS', 'SX', 'ZW']) expect(lal(good), good).toMatchObject({ ok: true, value: { criteria: { lookalike_country: good.toUpperCase() } } });
  });
  it('refuses a numeric event_id or organizer_id JSON could not keep exactly, instead of storing another id', () => {
    for (const field of ['event_id', 'organizer_id']) {
      for (const n of [JSON.parse('9007199254740993'), 1e21, 1.5, -1]) {
        expect(parseNewAudience({ ...base, [field]: n }, NOW), `${field} ${n}`).toMatchObject({ ok: false, error: { field, message: expect.stringContaining('send larger numeric ids as strings') } });
      }
    }
    expect(parseNewAudience({ ...base, organizer_id: 7 }, NOW)).toMatchObject({ ok: true, value: { organizer_id: '7' } });
  });
});

describe('criteria.source_events', () => {
  it('refuses an empty list, naming the field (an empty list is not left out: it fell back to page_view)', () => {
    const r = parseNewAudience({ ...base, criteria: { source_events: [] } }, NOW);
    expect(r).toMatchObject({ ok: false, error: { code: 'invalid_field', field: 'criteria.source_events', message: expect.stringMatching(/at least one/) } });
    // Left out, the type's default applies.
    expect(parseNewAudience({ ...base, criteria: {} }, NOW)).toMatchObject({ ok: true, value: { criteria: { source_events: ['page_view'] } } });
    expect(parseNewAudience({ ...base, criteria: { source_events: ['event_view'] } }, NOW)).toMatchObject({ ok: true, value: { criteria: { source_events: ['event_view'] } } });
  });
});
