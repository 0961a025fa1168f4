// The segment filter grammar: refusals name the field, the compiled SQL carries every value as a parameter,
// and the in-memory evaluator (the integration test's reference) follows not/or and time windows.
import { describe, expect, it } from 'vitest';
import { compileFilter, evaluate, MAX_NODES, parseFilter, type Filter, type PersonRecord } from './grammar.js';

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
    expect(c.sql.startsWith('(COALESCE(lower(btrim(p.city)) = $3::text, false) OR (NOT COALESCE(EXISTS')).toBe(true);
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
    expect(c.sql).toContain('lower(btrim(p.city)) = $3::text');
    expect(c.sql).toContain('lower(btrim(p.city)) = ANY($4::text[])');
    expect(c.sql).toContain('lower(btrim(a.genre)) = $5::text');
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
});
