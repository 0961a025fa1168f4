// tx_sessions (README "Sessions, identity and GDPR" → "Sessions"): one row per client session id, maintained by a deferred writer
// projector (ingest/projector.ts: out of the commit, from a durable cursor, exactly once) from every stored event.
// Reads through the API first wait for it to catch up with what was committed before them (read your writes). Duplicates never reach projectors; out-of-order arrival is handled by the merge
// in `upsert_sessions`, which is commutative: each "first"/"last" attribute travels with the ordering key of
// the event it came from, counts and engagement are sums, and sequence gaps are derived from the set of
// sequence numbers seen (a multirange), never from arrival order.
import { pageOf } from '../http/params.js';
import type { Queryable } from '../store/db.js';
import type { EventRow, Page } from '../store/events.js';
import { queries } from '../store/queries.js';
import { iso, isObj, num, type Obj } from '../store/rows.js';

const Q = queries('sessions.sql', ['upsert_sessions', 'get_session', 'list_sessions']);

const CLIENT_SOURCES = new Set(['web', 'mobile']);
const ORDER_EVENTS = new Set(['order_completed', 'order_completed_shop']);
/** Engagement of one page is capped at 24 days so a hostile value cannot overflow the sums. */
const MAX_MS = 2_147_483_647;

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/**
 * Total order of events inside a session: occurred_at, then sequence_no, then event id. Fixed-width parts,
 * compared bytewise (COLLATE "C") in SQL.
 */
export function orderKey(row: Pick<EventRow, 'occurred_at' | 'sequence_no' | 'event_id'>): string {
  const iso = new Date(row.occurred_at).toISOString();
  const seq = row.sequence_no === null || row.sequence_no === undefined ? 'zzzzzzzzzz' : String(row.sequence_no).padStart(10, '0');
  return `${iso}|${seq}|${row.event_id}`;
}

export function pagePath(context: Obj): string | null {
  const page = isObj(context.page) ? context.page : null;
  if (!page) return null;
  const path = str(page.path);
  if (path) return path;
  const url = str(page.url);
  if (!url) return null;
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

function compact(o: unknown): Obj | null {
  if (!isObj(o)) return null;
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined && v !== '') out[k] = v;
  return Object.keys(out).length > 0 ? out : null;
}

const clampMs = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? Math.min(MAX_MS, Math.max(0, Math.round(v))) : null);

/** A session's aggregate over some of its events; merging two is commutative and associative. */
export interface SessionPartial {
  tenant_id: number;
  session_id: string;
  visitor_key: string | null;
  visitor_id: string | null;
  person_key: string | null;
  person_id: number | null;
  site_key: string | null;
  site_id: string | null;
  first_seen_at: string;
  last_seen_at: string;
  events_count: number;
  page_views: number;
  orders_count: number;
  seqs: number[];
  first_key: string | null;
  first_touch: Obj | null;
  landing_page: string | null;
  consent_initial: unknown;
  last_key: string | null;
  consent_latest: unknown;
  entry_key: string | null;
  entry_page: string | null;
  exit_key: string | null;
  exit_page: string | null;
  device_key: string | null;
  device: Obj | null;
  engagement_active_ms: number;
  engagement_total_ms: number;
  is_bot: boolean;
}

/** One event's contribution to its session. */
export function sessionPartial(row: EventRow): SessionPartial {
  const context = isObj(row.context) ? row.context : {};
  const client = CLIENT_SOURCES.has(row.source_system);
  const page = client ? pagePath(context) : null;
  const engagement = row.event_name === 'page_engagement';
  const seq = typeof row.sequence_no === 'number' && row.sequence_no >= 0 && row.sequence_no < 2_147_483_647 ? row.sequence_no : null;
  const device = client ? compact(context.device) : null;
  const k = orderKey(row);
  const at = new Date(row.occurred_at).toISOString();
  return {
    tenant_id: row.tenant_id,
    session_id: row.session_id!,
    visitor_key: row.visitor_id ? k : null,
    visitor_id: row.visitor_id || null,
    person_key: row.person_id !== null && row.person_id !== undefined ? k : null,
    person_id: row.person_id ?? null,
    site_key: row.site_id ? k : null,
    site_id: row.site_id || null,
    first_seen_at: at,
    last_seen_at: at,
    events_count: 1,
    page_views: row.event_name === 'page_view' ? 1 : 0,
    orders_count: ORDER_EVENTS.has(row.event_name) ? 1 : 0,
    seqs: seq === null ? [] : [seq],
    first_key: client ? k : null,
    first_touch: client ? { utm: compact(context.utm), click_ids: compact(context.click_ids), referrer: str(context.referrer), landing_page: page } : null,
    landing_page: client ? page : null,
    consent_initial: client ? row.consent_snapshot : null,
    last_key: client ? k : null,
    consent_latest: client ? row.consent_snapshot : null,
    entry_key: page ? k : null,
    entry_page: page,
    exit_key: page ? k : null,
    exit_page: page,
    device_key: device ? k : null,
    device,
    engagement_active_ms: engagement ? clampMs(row.payload?.active_ms) ?? 0 : 0,
    engagement_total_ms: engagement ? clampMs(row.payload?.total_ms) ?? 0 : 0,
    is_bot: row.is_bot === true,
  };
}

const earlier = (a: string | null, b: string | null) => a !== null && (b === null || a < b);
const later = (a: string | null, b: string | null) => a !== null && (b === null || a > b);

/** The same merge `upsert_sessions` applies to the stored row (keys compare bytewise, like COLLATE "C"). */
export function mergePartials(a: SessionPartial, b: SessionPartial): SessionPartial {
  const first = earlier(b.first_key, a.first_key) ? b : a;
  const last = later(b.last_key, a.last_key) ? b : a;
  const entry = earlier(b.entry_key, a.entry_key) ? b : a;
  const exit = later(b.exit_key, a.exit_key) ? b : a;
  const device = earlier(b.device_key, a.device_key) ? b : a;
  const visitor = earlier(b.visitor_key, a.visitor_key) ? b : a;
  const person = later(b.person_key, a.person_key) ? b : a;
  const site = earlier(b.site_key, a.site_key) ? b : a;
  return {
    tenant_id: a.tenant_id,
    session_id: a.session_id,
    visitor_key: visitor.visitor_key,
    visitor_id: visitor.visitor_id,
    person_key: person.person_key,
    person_id: person.person_id,
    site_key: site.site_key,
    site_id: site.site_id,
    first_seen_at: a.first_seen_at < b.first_seen_at ? a.first_seen_at : b.first_seen_at,
    last_seen_at: a.last_seen_at > b.last_seen_at ? a.last_seen_at : b.last_seen_at,
    events_count: a.events_count + b.events_count,
    page_views: a.page_views + b.page_views,
    orders_count: a.orders_count + b.orders_count,
    seqs: a.seqs.concat(b.seqs),
    first_key: first.first_key,
    first_touch: first.first_touch,
    landing_page: first.landing_page,
    consent_initial: first.consent_initial,
    last_key: last.last_key,
    consent_latest: last.consent_latest,
    entry_key: entry.entry_key,
    entry_page: entry.entry_page,
    exit_key: exit.exit_key,
    exit_page: exit.exit_page,
    device_key: device.device_key,
    device: device.device,
    engagement_active_ms: a.engagement_active_ms + b.engagement_active_ms,
    engagement_total_ms: a.engagement_total_ms + b.engagement_total_ms,
    is_bot: a.is_bot || b.is_bot,
  };
}

/** Distinct sequence numbers as a multirange literal, with min, max and the holes inside. */
export function sequenceSummary(seqs: number[]) {
  const xs = [...new Set(seqs)].sort((x, y) => x - y);
  if (xs.length === 0) return { ranges: '{}', min: null, max: null, gaps: 0 };
  const parts: string[] = [];
  let lo = xs[0];
  let prev = xs[0];
  for (const x of xs.slice(1)) {
    if (x === prev + 1) {
      prev = x;
      continue;
    }
    parts.push(`[${lo},${prev + 1})`);
    lo = prev = x;
  }
  parts.push(`[${lo},${prev + 1})`);
  const min = xs[0];
  const max = xs[xs.length - 1];
  return { ranges: `{${parts.join(',')}}`, min, max, gaps: max - min + 1 - xs.length };
}

/** Folds new rows into one partial per session, ready for `upsert_sessions`. */
export function foldSessions(rows: EventRow[]) {
  const by = new Map<string, SessionPartial>();
  for (const r of rows) {
    if (typeof r.session_id !== 'string' || r.session_id.length === 0) continue;
    const k = `${r.tenant_id}\u0000${r.session_id}`;
    const p = sessionPartial(r);
    const cur = by.get(k);
    by.set(k, cur ? mergePartials(cur, p) : p);
  }
  // Sorted by key: concurrent writer lanes then lock session rows in one order and cannot deadlock on them.
  const sorted = [...by.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => p);
  return sorted.map((p) => {
    const seq = sequenceSummary(p.seqs);
    return {
      tenant_id: p.tenant_id, session_id: p.session_id, visitor_id: p.visitor_id, person_id: p.person_id, site_id: p.site_id,
      first_seen_at: p.first_seen_at, last_seen_at: p.last_seen_at, events_count: p.events_count, page_views: p.page_views,
      orders_count: p.orders_count, sequence_ranges: seq.ranges, min_sequence_no: seq.min, max_sequence_no: seq.max, sequence_gaps: seq.gaps,
      first_key: p.first_key, first_touch: p.first_touch, landing_page: p.landing_page, consent_initial: p.consent_initial,
      last_key: p.last_key, consent_latest: p.consent_latest, entry_key: p.entry_key, entry_page: p.entry_page,
      exit_key: p.exit_key, exit_page: p.exit_page, device_key: p.device_key, device: p.device,
      engagement_active_ms: p.engagement_active_ms, engagement_total_ms: p.engagement_total_ms, is_bot: p.is_bot,
    };
  });
}

/** Deferred writer projector: folds committed rows into their sessions, in the projection pass's transaction. */
export async function projectSessions(q: Queryable, rows: EventRow[]): Promise<void> {
  const input = foldSessions(rows);
  if (input.length === 0) return;
  await q.query(Q.upsert_sessions, [JSON.stringify(input)]);
}

export interface SessionView {
  session_id: string;
  visitor_id: string | null;
  person_id: number | null;
  site_id: string | null;
  first_seen_at: string;
  last_seen_at: string;
  duration_ms: number;
  events_count: number;
  page_views: number;
  orders_count: number;
  sequence: { min: number | null; max: number | null; seen: number; gaps: number };
  first_touch: unknown;
  landing_page: string | null;
  entry_page: string | null;
  exit_page: string | null;
  consent_initial: unknown;
  consent_latest: unknown;
  device: unknown;
  engagement_active_ms: number;
  engagement_total_ms: number;
  is_bot: boolean;
  updated_at: string;
}

export function toSessionView(r: Obj): SessionView {
  const min = num(r.min_sequence_no);
  const max = num(r.max_sequence_no);
  const gaps = Number(r.sequence_gaps ?? 0);
  return {
    session_id: String(r.session_id),
    visitor_id: (r.visitor_id as string | null) ?? null,
    person_id: num(r.person_id),
    site_id: (r.site_id as string | null) ?? null,
    first_seen_at: iso(r.first_seen_at),
    last_seen_at: iso(r.last_seen_at),
    duration_ms: Date.parse(iso(r.last_seen_at)) - Date.parse(iso(r.first_seen_at)),
    events_count: Number(r.events_count),
    page_views: Number(r.page_views),
    orders_count: Number(r.orders_count),
    sequence: { min, max, seen: min === null || max === null ? 0 : max - min + 1 - gaps, gaps },
    first_touch: r.first_touch ?? null,
    landing_page: (r.landing_page as string | null) ?? null,
    entry_page: (r.entry_page as string | null) ?? null,
    exit_page: (r.exit_page as string | null) ?? null,
    consent_initial: r.consent_initial ?? null,
    consent_latest: r.consent_latest ?? null,
    device: r.device ?? null,
    engagement_active_ms: Number(r.engagement_active_ms),
    engagement_total_ms: Number(r.engagement_total_ms),
    is_bot: r.is_bot === true,
    updated_at: iso(r.updated_at),
  };
}

export interface SessionStore {
  /** Resolves once every event committed before the call is folded into its session (bounded wait). */
  projected(): Promise<void>;
  get(q: Queryable, tenantId: number, sessionId: string): Promise<SessionView | null>;
  /** Newest first; `after` = the previous page's `last` (keyset cursor over first_seen_at, session_id). */
  list(q: Queryable, tenantId: number, f: { visitor_id?: string | null; person_id?: number | null; limit: number; after?: string[] | null }): Promise<Page<SessionView>>;
}

/** `projected`: the writer's barrier for the deferred projectors (none: sessions are read as stored). */
export function createSessionStore(projected: () => Promise<void> = async () => undefined): SessionStore {
  return {
    projected,
    async get(q, tenantId, sessionId) {
      await projected();
      const { rows } = await q.query<Obj>(Q.get_session, [tenantId, sessionId]);
      return rows.length ? toSessionView(rows[0]) : null;
    },
    async list(q, tenantId, f) {
      await projected();
      const { rows, more } = pageOf((await q.query<Obj>(Q.list_sessions, [tenantId, f.visitor_id ?? null, f.person_id ?? null, f.limit + 1, f.after?.[0] ?? null, f.after?.[1] ?? null])).rows, f.limit);
      const last = more ? rows[rows.length - 1] : null;
      return { rows: rows.map(toSessionView), last: last ? [String(last.cursor_ts), String(last.session_id)] : null };
    },
  };
}
