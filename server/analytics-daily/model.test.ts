import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../features/model.js';
import { MAX_DAYS, parseDailyRange, shapeEntityDay } from './model.js';

const NOW = Date.UTC(2026, 10, 30, 15, 0, 0);
const q = (s: string) => new URLSearchParams(s);

describe('parseDailyRange', () => {
  it('defaults to the 90 days ending today', () => {
    const r = parseDailyRange(q(''), NOW);
    expect(r.ok && r.value).toEqual({ from: Date.UTC(2026, 10, 30) - 89 * DAY_MS, to: Date.UTC(2026, 11, 1), bucket: 'day' });
  });
  it('accepts MAX_DAYS and refuses one more', () => {
    const to = Date.UTC(2026, 11, 1);
    expect(parseDailyRange(q(`from=${to - MAX_DAYS * DAY_MS}&to=${to}`), NOW).ok).toBe(true);
    const r = parseDailyRange(q(`from=${to - (MAX_DAYS + 1) * DAY_MS}&to=${to}`), NOW);
    expect(r.ok ? null : r.error.field).toBe('from');
  });
  it("states this route's limit (366 days) whatever the span, also past the feature store's 731 days", () => {
    for (const [from, days] of [['2025-10-27T00:00:00Z', 400], ['2024-06-01T00:00:00Z', 913]] as const) {
      const r = parseDailyRange(q(`bucket=day&from=${from}&to=2026-12-01T00:00:00Z`), NOW);
      expect(r.ok ? null : r.error).toEqual({
        code: 'invalid_field', in: 'query', field: 'from',
        message: `At most ${MAX_DAYS} days per request; from ${from.replace('Z', '.000Z')} to 2026-12-01T00:00:00.000Z is ${days} days.`,
      });
    }
  });
  it('refuses unknown parameters, bad times and an hour bucket', () => {
    for (const s of ['x=1', 'from=yesterday', 'bucket=hour', 'from=2026-11-20&to=2026-11-10']) expect(parseDailyRange(q(s), NOW).ok).toBe(false);
  });
});

describe('shapeEntityDay', () => {
  const row = { date: new Date(Date.UTC(2026, 10, 1)), profile_views: 2, new_followers: 1, total_followers: 5, active_events: 3, events_hosted: 1,
    event_impressions: 9, event_clicks: 4, event_attendance: 7, reviews_received: 1, avg_rating: 4.5, total_engagement: 2 };
  it('keeps the artist table columns (no attendance, no hosted events)', () => {
    const a = shapeEntityDay('artist', row);
    expect(Object.keys(a)).toEqual(['date', 'profile_views', 'new_followers', 'total_followers', 'active_events', 'event_impressions', 'event_clicks', 'reviews_received', 'avg_rating', 'total_engagement']);
    expect(a.date).toBe('2026-11-01T00:00:00.000Z');
  });
  it('names the venue rating avg_venue_rating', () => {
    const v = shapeEntityDay('venue', row);
    expect(v.avg_venue_rating).toBe(4.5);
    expect(v).not.toHaveProperty('active_events');
    expect(v.event_attendance).toBe(7);
  });
});
