// Daily analytics' pure parts (README "Daily analytics"): the days a request may ask for and which of the
// computed columns each of seed 003's tables carries. No I/O; `now` is passed in.
import { time, type Parsed } from '../http/params.js';
import { DAY_MS, floorTo, parseDays, type Range } from '../features/model.js';

/** The artist and venue figures scan tx_events by name and day: a year per request keeps that bounded. */
export const MAX_DAYS = 366;

export type EntityKind = 'artist' | 'venue';

/** Columns of seed 003 analytics_artist_daily / analytics_venue_daily (friends and messages are not tracked). */
export const ENTITY_COLUMNS: Readonly<Record<EntityKind, readonly string[]>> = Object.freeze({
  artist: ['profile_views', 'new_followers', 'total_followers', 'active_events', 'event_impressions', 'event_clicks', 'reviews_received', 'avg_rating', 'total_engagement'],
  venue: ['profile_views', 'new_followers', 'total_followers', 'events_hosted', 'event_impressions', 'event_attendance', 'reviews_received', 'avg_venue_rating'],
});

/** What entity_daily (sql/queries/analytics-daily.sql) is told for each kind: the entity key and its events. */
export const ENTITY_SQL: Readonly<Record<EntityKind, { key: string; click: string; follow: string; target: string }>> = Object.freeze({
  artist: { key: 'artist_id', click: 'artist_click', follow: 'artist_followed', target: 'artist' },
  venue: { key: 'venue_id', click: 'venue_click', follow: 'venue_followed', target: 'venue' },
});

/**
 * `from`/`to` as the feature store's person reads (days, 90 by default), at most MAX_DAYS. A longer span is refused
 * with this route's limit, also when the feature store's parser refused it first with its own (731 days).
 */
export function parseDailyRange(query: URLSearchParams, now: number): Parsed<Range> {
  const r = parseDays(query, now);
  // Any other refusal of parseDays (unknown parameter, bucket, a time that does not parse, from after to) stands.
  const asked = r.ok ? r.value : r.error.field === 'from' ? requestedDays(query, now) : null;
  if (asked && asked.to - asked.from > MAX_DAYS * DAY_MS) {
    const at = (ms: number) => new Date(ms).toISOString();
    return { ok: false, error: { code: 'invalid_field', in: 'query', field: 'from',
      message: `At most ${MAX_DAYS} days per request; from ${at(asked.from)} to ${at(asked.to)} is ${Math.ceil((asked.to - asked.from) / DAY_MS)} days.` } };
  }
  return r;
}

/** The whole days [from, to) asked for, rounded as parseDays rounds them; null when `from` or `to` does not parse. */
function requestedDays(query: URLSearchParams, now: number): { from: number; to: number } | null {
  const from = time('query', 'from', query.get('from'), { epochMs: true });
  const to = time('query', 'to', query.get('to'), { epochMs: true });
  if (!from.ok || !to.ok || from.value === null) return null;
  return { from: floorTo(from.value, 'day'), to: to.value === null ? floorTo(now, 'day') + DAY_MS : Math.ceil(to.value / DAY_MS) * DAY_MS };
}

const iso = (v: unknown) => new Date(v as string).toISOString();

/** A row of entity_daily as the kind's table: its columns only, the date as ISO-8601 (avg_rating is the venue's avg_venue_rating). */
export function shapeEntityDay(kind: EntityKind, row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { date: iso(row.date) };
  for (const col of ENTITY_COLUMNS[kind]) out[col] = col === 'avg_venue_rating' ? row.avg_rating ?? null : row[col] ?? null;
  return out;
}

/** A row of user_daily with the date as ISO-8601. */
export const shapeUserDay = (row: Record<string, unknown>): Record<string, unknown> => ({ ...row, date: iso(row.date) });
