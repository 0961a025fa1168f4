// Per-minute history of the live funnel, read from the store (the record of truth) for the REST mirror:
//   GET /api/v1/live/events/{event_id}/history?minutes=60[&to=…]
//   GET /api/v1/live/dashboard/{org_id}/history?minutes=60[&to=…]
// → {"bucket_s":60,"from","to","series":[{"ts","views","unique_visitors","add_to_carts","checkouts_started",
//    "orders","tickets_sold","revenue":{"EUR":n}}…]}, one entry per minute, oldest first, zero-filled.
// The window is `minutes` whole minutes ending with the minute of `to` (default now; that minute is partial).
// The SQL (sql/queries/live.sql) counts what facts.ts counts; the same text runs on PGlite and on pg.
// `?totals=day` adds `day_totals`: the counts of the UTC day of `to` up to `to` (views, add_to_carts,
// checkouts_started, orders, tickets_sold, revenue; no unique visitors: they do not add up), read in the same
// statement as the minutes. A live snapshot cannot bound the history exactly (a row dated before it may be
// committed, and applied live, after it), so the dashboard does the reverse: it counts live only what today's
// live totals hold beyond `day_totals` (client/dashboard/series.ts rebase), and every row is counted once.
import type { Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import { fail } from '../http/errors.js';
import type { ReqInfo, Reply } from '../http/uws.js';
import { MIN_TIME_MS, parseIsoTime } from '../http/params.js';
import type { LiveCore } from './core.js';
import { fromMilli } from './facts.js';
import type { Scope } from './token.js';
import type { Topic } from './topics.js';

const Q = queries('live.sql', ['history']);

export const BUCKET_MS = 60_000;
export const DEFAULT_MINUTES = 60;
export const MAX_MINUTES = 1440;

export interface HistoryPoint {
  ts: string;
  views: number;
  unique_visitors: number;
  add_to_carts: number;
  checkouts_started: number;
  orders: number;
  tickets_sold: number;
  revenue: Record<string, number>;
}

export type DayTotals = Omit<HistoryPoint, 'ts' | 'unique_visitors'> & { day: string };

export interface History {
  bucket_s: 60;
  from: string;
  to: string;
  series: HistoryPoint[];
  day_totals?: DayTotals;
}

/** `totals`: absent or `day`. null when invalid. */
export function parseTotals(raw: string | null): boolean | null {
  return raw === null ? false : raw === 'day' ? true : null;
}

const DAY_MS = 86_400_000;

/** `minutes`: an integer 1..1440; absent → 60. null when invalid. */
export function parseMinutes(raw: string | null): number | null {
  if (raw === null) return DEFAULT_MINUTES;
  if (!/^\d{1,4}$/.test(raw)) return null;
  const n = Number(raw);
  return n >= 1 && n <= MAX_MINUTES ? n : null;
}

/**
 * `to`: a strict ISO-8601 timestamp or epoch milliseconds, from 1970 on; absent → now, later than now → now.
 * null when invalid (Date.parse's leniency let `0000-01-01T00:00:00Z` through to Postgres, which refused it).
 */
export function parseTo(raw: string | null, now: number): number | null {
  if (raw === null) return now;
  const ms = /^\d{1,15}$/.test(raw) ? Number(raw) : raw.length <= 40 ? parseIsoTime(raw) : null;
  if (ms === null || !Number.isFinite(ms) || ms < MIN_TIME_MS) return null;
  return Math.min(ms, now);
}

/** The window: `minutes` whole minutes, the last one holding `to`. */
export function windowOf(minutes: number, to: number): { from: number; to: number } {
  return { from: Math.floor(to / BUCKET_MS) * BUCKET_MS - (minutes - 1) * BUCKET_MS, to };
}

const ms = (v: unknown): number => (v instanceof Date ? v.getTime() : Date.parse(String(v)));
const n = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** One point per minute of the window, oldest first: the rows' minutes, zeros elsewhere. Pure. */
export function zeroFill(rows: Record<string, unknown>[], from: number, minutes: number): HistoryPoint[] {
  const byMinute = new Map<number, Record<string, unknown>>();
  for (const r of rows) byMinute.set(ms(r.ts), r);
  const out: HistoryPoint[] = [];
  for (let i = 0; i < minutes; i++) {
    const t = from + i * BUCKET_MS;
    const r = byMinute.get(t);
    const milli = (r?.revenue_milli ?? {}) as Record<string, unknown>;
    const revenue = Object.fromEntries(Object.entries(typeof milli === 'string' ? (JSON.parse(milli) as Record<string, unknown>) : milli).sort(([a], [b]) => a.localeCompare(b)).map(([c, v]) => [c, fromMilli(n(v))]));
    out.push({
      ts: new Date(t).toISOString(),
      views: n(r?.views),
      unique_visitors: n(r?.unique_visitors),
      add_to_carts: n(r?.add_to_carts),
      checkouts_started: n(r?.checkouts_started),
      orders: n(r?.orders),
      tickets_sold: n(r?.tickets_sold),
      revenue,
    });
  }
  return out;
}

export type HistoryTarget = { kind: 'event'; event: string } | { kind: 'org'; org: string; events: string[] };

/** The day's totals from the row the query gives them in (ts NULL); zeros when the day has none. Pure. */
export function dayTotalsOf(rows: Record<string, unknown>[], dayStart: number): DayTotals {
  const r = rows.find((x) => x.ts === null || x.ts === undefined);
  const { ts: _ts, unique_visitors: _u, ...counts } = zeroFill(r ? [{ ...r, ts: new Date(dayStart) }] : [], dayStart, 1)[0];
  return { day: new Date(dayStart).toISOString().slice(0, 10), ...counts };
}

/** Reads the per-minute history of an event or an organizer's events from the store (and, asked, the day's totals). */
export async function loadHistory(db: Queryable, tenant: number, target: HistoryTarget, minutes: number, to: number, withDay = false): Promise<History> {
  const w = windowOf(minutes, to);
  const from = new Date(w.from).toISOString();
  const until = new Date(w.to).toISOString();
  const dayStart = Math.floor(to / DAY_MS) * DAY_MS;
  const [events, org] = target.kind === 'event' ? [[target.event], null] : [target.events, target.org];
  const { rows } = await db.query<Record<string, unknown>>(Q.history, [tenant, events, from, until, org, withDay ? new Date(dayStart).toISOString() : null]);
  const minuteRows = rows.filter((x) => x.ts !== null && x.ts !== undefined);
  const body: History = { bucket_s: 60, from, to: until, series: zeroFill(minuteRows, w.from, minutes) };
  if (withDay) body.day_totals = dayTotalsOf(rows, dayStart);
  return body;
}

/**
 * The history of an event or organizer for an authenticated scope (the declared routes in routes.ts: the
 * router has checked the role's permission and the resource's scope; the topic rule still applies to tokens).
 */
export async function historyReply(
  deps: { core: LiveCore; db: Queryable; /** The topic rule with the event as the router resolved it (routes.ts); else core.allowed. */ allowed?: (scope: Scope, topic: Topic, wholeTenant: boolean) => Promise<boolean> },
  kind: 'event' | 'org', id: string, scope: Scope, info: ReqInfo, revenue = true, wholeTenant = false,
): Promise<Reply> {
  const { core, db } = deps;
  // Without revenue (an artist, a venue key): the revenue-free event topic's rule, and no money in the series.
  const topic: Topic = kind === 'event' ? { kind: 'event', event: id, ...(revenue ? {} : { revenue: false as const }) } : { kind: 'dashboard', org: id };
  if (!(deps.allowed ? await deps.allowed(scope, topic, wholeTenant) : core.allowed(scope, topic, wholeTenant))) return fail('forbidden', 'This key or token does not give access to that topic.');
  const rawMinutes = info.query.get('minutes');
  const minutes = parseMinutes(rawMinutes);
  if (minutes === null) return fail('invalid_field', `minutes must be an integer between 1 and ${MAX_MINUTES} (default ${DEFAULT_MINUTES}); got ${JSON.stringify(String(rawMinutes).slice(0, 40))}.`, { field: 'minutes', in: 'query' });
  const rawTo = info.query.get('to');
  const to = parseTo(rawTo, core.now());
  if (to === null) return fail('invalid_field', `to must be an ISO-8601 timestamp like 2026-03-07T18:00:00Z or epoch milliseconds, from 1970 on (default now); got ${JSON.stringify(String(rawTo).slice(0, 40))}.`, { field: 'to', in: 'query' });
  const withDay = parseTotals(info.query.get('totals'));
  if (withDay === null) return fail('invalid_field', `totals must be "day" or absent; got ${JSON.stringify(String(info.query.get('totals')).slice(0, 40))}.`, { field: 'totals', in: 'query' });
  const tenant = scope.tenant;
  const target: HistoryTarget = kind === 'event' ? { kind, event: id } : { kind, org: id, events: [...(core.state.getOrg(tenant, id)?.events ?? [])] };
  const body = await loadHistory(db, tenant, target, minutes, to, withDay);
  if (!revenue) body.series = body.series.map(({ revenue: _r, ...rest }) => rest) as typeof body.series;
  if (!revenue && body.day_totals) body.day_totals = (({ revenue: _r, ...rest }) => rest)(body.day_totals) as DayTotals;
  return { status: 200, body, headers: { 'Cache-Control': 'no-store' } };
}
