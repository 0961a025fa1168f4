// The DOM-free part of the artist and venue views (entity.ts, #artist/{id} and #venue/{id}): the hash route, the
// claims of artist and venue tokens, the read of GET /api/v1/analytics/{artists|venues}/{id} (seed 003
// analytics_artist_daily / analytics_venue_daily, README "Daily analytics") into columns, days and range totals,
// and the readable message of a refusal. Kept apart so unit tests (type-checked without the DOM library) import it.

export type EntityKind = 'artist' | 'venue';
export interface EntityRoute {
  kind: EntityKind;
  id: string;
}

/** The range picker's choices, in UTC days ending with today (trend-data.ts trendRange). */
export const ENTITY_RANGES = [7, 30, 90] as const;

/**
 * How a column adds up over the range: counts of the day sum; a level (followers, upcoming events) is its value
 * on the last day; a rating is the mean of the days' averages weighted by that day's review count, because a
 * day with one review must not weigh as much as a day with twenty.
 */
export type TotalRule = 'sum' | 'last' | { weightedBy: string };

export interface EntityColumn {
  key: string;
  label: string;
  total: TotalRule;
  /** Shown under the range total. */
  hint: string;
}

const RATING_HINT = 'mean over the range, weighted by reviews';
const COLUMNS: Readonly<Record<EntityKind, readonly EntityColumn[]>> = {
  artist: [
    { key: 'profile_views', label: 'Profile views', total: 'sum', hint: 'artist clicks' },
    { key: 'new_followers', label: 'New followers', total: 'sum', hint: 'in the range' },
    { key: 'total_followers', label: 'Followers', total: 'last', hint: 'at the end of the range' },
    { key: 'active_events', label: 'Upcoming events', total: 'last', hint: 'starting today or later' },
    { key: 'event_impressions', label: 'Event impressions', total: 'sum', hint: 'cards of the artist\'s events' },
    { key: 'event_clicks', label: 'Event clicks', total: 'sum', hint: 'on those cards' },
    { key: 'reviews_received', label: 'Reviews', total: 'sum', hint: 'in the range' },
    { key: 'avg_rating', label: 'Avg rating', total: { weightedBy: 'reviews_received' }, hint: RATING_HINT },
    { key: 'total_engagement', label: 'Engagement', total: 'sum', hint: 'likes, comments, shares' },
  ],
  venue: [
    { key: 'profile_views', label: 'Profile views', total: 'sum', hint: 'venue clicks' },
    { key: 'new_followers', label: 'New followers', total: 'sum', hint: 'in the range' },
    { key: 'total_followers', label: 'Followers', total: 'last', hint: 'at the end of the range' },
    { key: 'events_hosted', label: 'Events hosted', total: 'sum', hint: 'starting in the range' },
    { key: 'event_impressions', label: 'Event impressions', total: 'sum', hint: 'cards of the venue\'s events' },
    { key: 'event_attendance', label: 'Attendance', total: 'sum', hint: 'entries granted' },
    { key: 'reviews_received', label: 'Reviews', total: 'sum', hint: 'in the range' },
    { key: 'avg_venue_rating', label: 'Avg rating', total: { weightedBy: 'reviews_received' }, hint: RATING_HINT },
  ],
};

export interface EntityDay {
  /** ISO-8601, the UTC day's midnight. */
  date: string;
  values: Record<string, number | null>;
}

export interface EntityReport {
  kind: EntityKind;
  id: string;
  from: string;
  to: string;
  /** The kind's columns that the answer carries (a column the server leaves out is not shown, not zeroed). */
  columns: EntityColumn[];
  days: EntityDay[];
  totals: Record<string, number | null>;
}

const ROUTE_RE = /^#(artist|venue)\/(.+)$/;

/** `#artist/{id}` or `#venue/{id}` (the id percent-encoded), else null. Pure. */
export function parseEntityHash(hash: string): EntityRoute | null {
  const m = ROUTE_RE.exec(hash);
  if (!m) return null;
  try {
    const id = decodeURIComponent(m[2]);
    return id.trim() ? { kind: m[1] as EntityKind, id } : null;
  } catch {
    // A malformed escape (%ZZ) is not a route: the page falls back to the token's default view.
    return null;
  }
}

export const entityHash = (r: EntityRoute): string => `#${r.kind}/${encodeURIComponent(r.id)}`;

/** The read API's address for a route and a [from, to) range in epoch ms. */
export function entityUrl(origin: string, r: EntityRoute, range: { from: number; to: number }): string {
  const q = `from=${new Date(range.from).toISOString()}&to=${new Date(range.to).toISOString()}`;
  return `${origin}/api/v1/analytics/${r.kind}s/${encodeURIComponent(r.id)}?${q}`;
}

export interface EntityClaims {
  tenant: number;
  role: EntityKind;
  ids: string[];
  exp: number;
}

function b64urlJson(s: string): unknown {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
}

/**
 * The unverified claims of an artist or venue dashboard token (`{"r":"artist","a":[…]}` / `{"r":"venue","v":[…]}`,
 * server/live/token.ts), else null. client/live/token.ts reads only organizer and gate tokens, the roles with a
 * live view. Only the server verifies; the page uses these to pick the view and its default id. Pure.
 */
export function entityClaims(token: string): EntityClaims | null {
  const parts = typeof token === 'string' && token.startsWith('v1.') ? token.split('.') : [];
  if (parts.length !== 3 || !parts[1]) return null;
  let c: { t?: unknown; r?: unknown; a?: unknown; v?: unknown; exp?: unknown };
  try {
    c = b64urlJson(parts[1]) as typeof c;
  } catch {
    return null;
  }
  if (!c || typeof c.t !== 'number' || typeof c.exp !== 'number' || (c.r !== 'artist' && c.r !== 'venue')) return null;
  const ids = c.r === 'artist' ? c.a : c.v;
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((x) => typeof x === 'string')) return null;
  return { tenant: c.t, role: c.r, ids: ids as string[], exp: c.exp };
}

/** The expiry (seconds) of an admin dashboard token (`{"r":"admin"}`): its page is the approval queue. Else null. Pure. */
export function adminTokenExp(token: string): number | null {
  const parts = typeof token === 'string' && token.startsWith('v1.') ? token.split('.') : [];
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const c = b64urlJson(parts[1]) as { t?: unknown; r?: unknown; exp?: unknown } | null;
    return c && c.r === 'admin' && typeof c.t === 'number' && typeof c.exp === 'number' ? c.exp : null;
  } catch {
    return null;
  }
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A column's figure over the whole range (null when no day has one). Pure. */
export function totalOf(col: EntityColumn, days: EntityDay[]): number | null {
  const vals = days.map((d) => d.values[col.key] ?? null);
  if (col.total === 'sum') return vals.some((v) => v !== null) ? vals.reduce<number>((s, v) => s + (v ?? 0), 0) : null;
  if (col.total === 'last') return [...vals].reverse().find((v) => v !== null) ?? null;
  const w = col.total.weightedBy;
  let sum = 0;
  let n = 0;
  days.forEach((d, i) => {
    const v = vals[i];
    if (v === null) return;
    // Without the weight column every rated day counts once.
    const weight = d.values[w] === undefined ? 1 : d.values[w] ?? 0;
    sum += v * weight;
    n += weight;
  });
  return n > 0 ? Math.round((sum / n) * 100) / 100 : null;
}

/** The answer of the artist/venue read API as the view draws it, or null when it is not one. Pure. */
export function entityReport(kind: EntityKind, body: unknown): EntityReport | null {
  const b = body as Record<string, unknown> | null;
  if (!b || typeof b !== 'object' || !Array.isArray(b.daily) || typeof b[`${kind}_id`] !== 'string') return null;
  const rows = b.daily as unknown[];
  if (!rows.every((r) => r && typeof r === 'object' && typeof (r as { date?: unknown }).date === 'string')) return null;
  const columns = COLUMNS[kind].filter((c) => rows.some((r) => c.key in (r as object)));
  const days = (rows as Record<string, unknown>[]).map((r) => ({
    date: r.date as string,
    values: Object.fromEntries(columns.map((c) => [c.key, num(r[c.key])])) as Record<string, number | null>,
  }));
  const totals = Object.fromEntries(columns.map((c) => [c.key, totalOf(c, days)]));
  return { kind, id: b[`${kind}_id`] as string, from: String(b.from ?? ''), to: String(b.to ?? ''), columns, days, totals };
}

/** The two series the chart draws: profile views (left scale) and event impressions (right), when carried. Pure. */
export function chartColumns(r: EntityReport): EntityColumn[] {
  return ['profile_views', 'event_impressions'].map((k) => r.columns.find((c) => c.key === k)).filter((c): c is EntityColumn => !!c);
}

/** A figure as the table and totals show it: ratings with two decimals, counts whole; none is "–". Pure. */
export function formatFigure(col: EntityColumn, v: number | null, locale?: string): string {
  if (v === null) return '–';
  const rating = typeof col.total === 'object';
  return new Intl.NumberFormat(locale, rating ? { minimumFractionDigits: 2, maximumFractionDigits: 2 } : { maximumFractionDigits: 0 }).format(v);
}

/**
 * What the page says when the read fails: `status` 0 is a network failure (`detail` its message), else the
 * HTTP status with the server's `{"error":{code,message,permission,scope}}`. Never blank. Pure.
 */
export function entityErrorMessage(r: EntityRoute, status: number, body: unknown, detail = ''): string {
  const what = `${r.kind} ${r.id}`;
  const err = ((body as { error?: Record<string, unknown> } | null)?.error ?? {}) as Record<string, unknown>;
  const said = typeof err.message === 'string' && err.message ? ` The server says: ${err.message}` : '';
  if (status === 0) return `The figures of ${what} could not be loaded: the server did not answer${detail ? ` (${detail})` : ''}. Check the connection and pick a range to try again.`;
  if (status === 401) return `The server refused this token for ${what} (expired, or its key was revoked). Sign out and sign in with a new token.${said}`;
  if (status === 403) {
    const why = typeof err.permission === 'string' && err.scope === undefined ? `its role lacks ${err.permission}` : `${what} is outside its scope`;
    return `This token may not read the figures of ${what}: ${why}. ${r.kind === 'artist' ? 'An artist token for that artist' : 'A venue token for that venue'} (or the secret key) can.${said}`;
  }
  if (status === 404) return `There is nothing at the address of ${what} (404).${said}`;
  if (status === 400) return `The request for ${what} was refused (400).${said}`;
  return `The figures of ${what} could not be loaded (HTTP ${status}).${said}`;
}
