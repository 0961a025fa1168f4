// The segment filter grammar: refusals name the field, the compiled SQL carries every value as a parameter,
// and the in-memory evaluator (the integration test's reference) follows not/or and time windows.
import { describe, expect, it } from 'vitest';
import { compileFilter, evaluate, eventIdRefs, MAX_NODES, parseFilter, type Filter, type PersonRecord } from './grammar.js';
import { CUSTOMER_SEGMENTS, segmentOf } from '../features/model.js';

const NOW = Date.parse('2026-06-10T15:00:00Z');
const DAY = 86_400_000;
const person = (over: Partial<PersonRecord> = {}): PersonRecord => ({
  city: 'Cluj', total_orders: 2, events_attended: 1, avg_order_value: 80, last_purchase_at: NOW - 10.5 * DAY, marketing_consent: true,
  artist: { A1: 40 }, genre: { rock: 70 }, daily: [], scores: null, events: [], ...over,
});

describe('segment filter grammar', () => {
  it('accepts the documented leaves and combinators', () => {
    const f = {
      and: [
        { or: [{ attribute: 'city', op: 'in', value: ['Cluj', 'Iasi'] }, { affinity: 'genre', id: 'rock', gte: 50 }] },
        { not: { did: 'order_completed', event_id: 'E1', within_days: 30 } },
        { activity: 'views', within_days: 7, gte: 3 },
        { rfm: 'segment', in: ['vip', 'loyal'] },
        { rfm: 'recency', gte: 4 },
        { engagement: { gte: 0.5 } },
        { consent: 'marketing' },
        { attribute: 'last_purchase_days', op: 'lte', value: 90 },
      ],
    };
    expect(parseFilter(f)).toEqual({ ok: true, value: f });
  });

  it('suggests the nearest event name for a misspelt one', () => {
    const f = parseFilter({ did: 'oder_completed', within_days: 3 });
    expect(f.ok ? null : f.error.message).toMatch(/did you mean order_completed\?/);
  });

  it('refuses bad filters naming the path', () => {
    const cases: [unknown, string][] = [
      [null, 'filters'],
      [{ and: [] }, 'filters.and'],
      [{ and: [{ attribute: 'city', op: 'eq', value: 'x' }, { attribute: 'shoe_size', op: 'eq', value: 1 }] }, 'filters.and[1].attribute'],
      [{ affinity: 'genre', id: 'rock', gte: -1 }, 'filters.gte'],
      [{ activity: 'views', within_days: 0 }, 'filters.within_days'],
      [{ did: 'event_view', within_days: 1.5 }, 'filters.within_days'],
      [{ did: 'oder_completed', within_days: 3 }, 'filters.did'],
      [{ rfm: 'recency', gte: 4, lte: 2 }, 'filters.lte'],
      [{ did: '__proto__', within_days: 3 }, 'filters.did'],
      [{ not: { consent: 'marketing', extra: 1 } }, 'filters.not.extra'],
      [{ attribute: 'city', op: 'eq', value: 'a\u0000b' }, 'filters.value'],
      [{ rfm: 'recency' }, 'filters.gte'],
      [{ rfm: 'recency', gte: 6 }, 'filters.gte'],
      [{ and: [{ consent: 'marketing' }], or: [] }, 'filters'],
      [{ or: Array.from({ length: 50 }, () => ({ or: [{ consent: 'marketing' }, { consent: 'marketing' }] })) }, 'filters.or[33]'],
    ];
    for (const [f, field] of cases) {
      const r = parseFilter(f);
      expect(r.ok, JSON.stringify(f).slice(0, 60)).toBe(false);
      if (!r.ok) expect(r.error.field).toBe(field);
    }
    let deep: unknown = { consent: 'marketing' };
    for (let i = 0; i < 10; i++) deep = { not: deep };
    expect(parseFilter(deep).ok).toBe(false);
    expect(MAX_NODES).toBe(100);
  });

  it('refuses an RFM segment label the feature store never gives, naming the path and the labels', () => {
    for (const label of CUSTOMER_SEGMENTS) expect(parseFilter({ rfm: 'segment', in: [label] }).ok, label).toBe(true);
    const upper = parseFilter({ and: [{ consent: 'marketing' }, { rfm: 'segment', in: ['vip', 'VIP'] }] });
    expect(upper.ok ? null : upper.error).toEqual({
      field: 'filters.and[1].in[1]',
      message: 'filters.and[1].in[1] "VIP" is not a segment label (labels are lower-case: vip); one of prospect, vip, new, loyal, lost, at_risk, regular.',
    });
    const typo = parseFilter({ rfm: 'segment', in: ['champions'] });
    expect(typo.ok ? null : typo.error.field).toBe('filters.in[0]');
    expect(typo.ok ? '' : typo.error.message).not.toContain('lower-case');
    // Scores are 1-5 quintiles, checked as before.
    expect(parseFilter({ rfm: 'monetary', gte: 0 }).ok).toBe(false);
    // A definition stored before the check still reads (its refresh and a name-only edit go on).
    expect(parseFilter({ rfm: 'segment', in: ['VIP'] }, 'filters', { stored: true }).ok).toBe(true);
    // The list is the one segmentOf draws from.
    const rfm = (r: number, f: number, m: number, frequency: number, recencyDays: number) => segmentOf({ r, f, m, frequency, recencyDays });
    for (const s of [segmentOf(null), rfm(5, 5, 5, 9, 1), rfm(3, 1, 1, 1, 3), rfm(3, 4, 1, 5, 40), rfm(1, 1, 1, 2, 300), rfm(2, 3, 3, 3, 200), rfm(3, 3, 3, 3, 40)]) {
      expect(CUSTOMER_SEGMENTS).toContain(s);
    }
  });

  it('lists the event ids a filter names with their paths', () => {
    const f = parseFilter({ and: [{ did: 'add_to_cart', event_id: 'E1', within_days: 3 }, { or: [{ consent: 'marketing' }, { not: { did: 'order_completed', event_id: 7, within_days: 3 } }] }, { did: 'event_view', within_days: 2 }] });
    if (!f.ok) throw new Error(f.error.message);
    expect(eventIdRefs(f.value)).toEqual([{ field: 'filters.and[0].event_id', eventId: 'E1' }, { field: 'filters.and[1].or[1].not.event_id', eventId: '7' }]);
    expect(eventIdRefs({ did: 'event_view', event_id: 'X', within_days: 1 })).toEqual([{ field: 'filters.event_id', eventId: 'X' }]);
  });

  it('compiles to SQL with every value bound, never spliced', () => {
    const evil = "x'); DROP TABLE persons; --";
    const f = parseFilter({ or: [{ attribute: 'city', op: 'eq', value: evil }, { not: { did: 'event_view', within_days: 3, event_id: evil } }] });
    if (!f.ok) throw new Error('parse');
    const c = compileFilter(f.value);
    expect(c.sql).not.toContain('DROP');
    expect(c.params).toEqual([evil.toLowerCase(), 'event_view', 3, evil]);
    expect(c.sql).toContain('$3::text');
    expect(c.sql).toContain('$6::text');
    expect(c.sql).toContain('$5::int');
    expect(c.sql.startsWith('(COALESCE(audience_name_key(p.city) = $3::text, false) OR (NOT COALESCE(EXISTS')).toBe(true);
  });

  it('evaluates not/or with missing data as false and not(missing) as true', () => {
    const city = (op: 'eq' | 'neq', value: string): Filter => ({ attribute: 'city', op, value });
    expect(evaluate(city('neq', 'Cluj'), person({ city: null }), NOW)).toBe(false);
    expect(evaluate({ not: city('eq', 'Cluj') }, person({ city: null }), NOW)).toBe(true);
    expect(evaluate({ or: [city('eq', 'Iasi'), { affinity: 'artist', id: 'A1', gte: 40 }] }, person(), NOW)).toBe(true);
    expect(evaluate({ and: [city('eq', 'Cluj'), { not: { affinity: 'genre', id: 'rock', gte: 70 } }] }, person(), NOW)).toBe(false);
    expect(evaluate({ attribute: 'last_purchase_days', op: 'eq', value: 10 }, person(), NOW)).toBe(true);
    expect(evaluate({ rfm: 'segment', in: ['vip'] }, person(), NOW)).toBe(false);
  });

  it('matches cities and genres case-insensitively, trimmed and lower-cased as README "Audiences" does, in SQL and in the evaluator', () => {
    const p = person({ city: 'cluj-napoca', genre: { ' Rock ': 70 } });
    expect(evaluate({ attribute: 'city', op: 'eq', value: 'Cluj-Napoca' }, p, NOW)).toBe(true);
    expect(evaluate({ attribute: 'city', op: 'neq', value: ' CLUJ-NAPOCA ' }, p, NOW)).toBe(false);
    expect(evaluate({ attribute: 'city', op: 'in', value: ['Iasi', 'CLUJ-napoca'] }, p, NOW)).toBe(true);
    expect(evaluate({ affinity: 'genre', id: 'ROCK', gte: 50 }, p, NOW)).toBe(true);
    expect(evaluate({ affinity: 'genre', id: 'rock', gte: 80 }, p, NOW)).toBe(false);
    // Artist ids are ids, not names: matched exactly.
    expect(evaluate({ affinity: 'artist', id: 'a1', gte: 0 }, person(), NOW)).toBe(false);
    const c = compileFilter({ or: [
      { attribute: 'city', op: 'eq', value: ' Cluj-Napoca ' }, { attribute: 'city', op: 'in', value: ['IASI', 'Cluj'] }, { affinity: 'genre', id: 'ROCK ', gte: 1 },
    ] });
    expect(c.params).toEqual(['cluj-napoca', ['iasi', 'cluj'], 'rock', 1]);
    expect(c.sql).toContain('audience_name_key(p.city) = $3::text');
    expect(c.sql).toContain('audience_name_key(p.city) = ANY($4::text[])');
    expect(c.sql).toContain('audience_name_key(a.genre) = $5::text');
  });

  it('time windows: did within N days, activity over the last N UTC days including today', () => {
    const p = person({
      events: [{ name: 'add_to_cart', event_id: 'E1', at: NOW - 2.9 * DAY }],
      daily: [{ day: Math.floor(NOW / DAY) * DAY - 2 * DAY, views: 2, carts: 0, checkouts: 0, purchases: 0, attendance: 0 }, { day: Math.floor(NOW / DAY) * DAY, views: 1, carts: 0, checkouts: 0, purchases: 0, attendance: 0 }],
    });
    expect(evaluate({ did: 'add_to_cart', within_days: 3 }, p, NOW)).toBe(true);
    expect(evaluate({ did: 'add_to_cart', within_days: 2 }, p, NOW)).toBe(false);
    expect(evaluate({ did: 'add_to_cart', event_id: 'E2', within_days: 3 }, p, NOW)).toBe(false);
    expect(evaluate({ activity: 'views', within_days: 3, gte: 3 }, p, NOW)).toBe(true);
    expect(evaluate({ activity: 'views', within_days: 2, gte: 2 }, p, NOW)).toBe(false);
  });
  it('time windows end now: an event or a day after now (ingest accepts them within FUTURE_HOURS) is not in the last N days', () => {
    const today = Math.floor(NOW / DAY) * DAY;
    const later = person({
      events: [{ name: 'event_view', event_id: 'E1', at: today + DAY + 3_600_000 }, { name: 'add_to_cart', event_id: 'E1', at: NOW + 60_000 }],
      daily: [{ day: today + DAY, views: 5, carts: 1, checkouts: 0, purchases: 0, attendance: 0 }],
    });
    for (const f of [{ did: 'event_view', within_days: 1 }, { did: 'add_to_cart', within_days: 30 }, { activity: 'views', within_days: 1, gte: 1 }, { activity: 'carts', within_days: 7, gte: 1 }] as Filter[]) {
      expect(evaluate(f, later, NOW), JSON.stringify(f)).toBe(false);
      expect(evaluate({ not: f }, later, NOW), JSON.stringify(f)).toBe(true);
    }
    // Up to now and today itself still count.
    const now = person({ events: [{ name: 'event_view', event_id: 'E1', at: NOW }], daily: [{ day: today, views: 1, carts: 0, checkouts: 0, purchases: 0, attendance: 0 }] });
    expect(evaluate({ did: 'event_view', within_days: 1 }, now, NOW)).toBe(true);
    expect(evaluate({ activity: 'views', within_days: 1, gte: 1 }, now, NOW)).toBe(true);
    // The SQL bounds both windows above too (no new parameter: $2 is now).
    const c = compileFilter({ and: [{ did: 'event_view', within_days: 1 }, { activity: 'views', within_days: 1, gte: 1 }] });
    expect(c.sql).toContain('e.occurred_at <= $2::timestamptz');
    expect(c.sql).toContain("d.date <= date_trunc('day', $2::timestamptz)");
    expect(c.params).toEqual(['event_view', 1, 0, 1]);
  });

  it('refuses a numeric artist or event id JSON could not keep exactly (past 2^53, fractions, negatives)', () => {
    const big = JSON.parse('9007199254740993');
    expect(parseFilter({ affinity: 'artist', id: big, gte: 50 })).toMatchObject({ ok: false, error: { field: 'filters.id' } });
    expect(parseFilter({ affinity: 'artist', id: 1e21 })).toMatchObject({ ok: false, error: { field: 'filters.id' } });
    expect(parseFilter({ did: 'event_view', within_days: 7, event_id: 1.5 })).toMatchObject({ ok: false, error: { field: 'filters.event_id' } });
    expect(parseFilter({ affinity: 'artist', id: 12, gte: 50 })).toMatchObject({ ok: true, value: { affinity: 'artist', id: '12' } });
  });
});
