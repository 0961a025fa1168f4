// tx_sessions (seed 001 Migration 2): one row per client session id, maintained by a writer projector from
// every newly stored event. Duplicates never reach projectors; out-of-order arrival is handled by the merge
// in `upsert_sessions`, which is commutative: each "first"/"last" attribute travels with the ordering key of
// the event it came from, counts and engagement are sums, and sequence gaps are derived from the set of
// sequence numbers seen (a multirange), never from arrival order.
import type { Queryable } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import { loadQueries } from '../store/queries.js';

const Q = loadQueries('identity.sql');

const CLIENT_SOURCES = new Set(['web', 'mobile']);
const ORDER_EVENTS = new Set(['order_completed', 'order_completed_shop']);
/** Engagement of one page is capped at 24 days so a hostile value cannot overflow the sums. */
const MAX_MS = 2_147_483_647;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
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

/** The per-event contribution to its session, as consumed by `upsert_sessions`. */
export function sessionInput(row: EventRow) {
  const context = isObj(row.context) ? row.context : {};
  const client = CLIENT_SOURCES.has(row.source_system);
  const page = client ? pagePath(context) : null;
  const engagement = row.event_name === 'page_engagement';
  const seq = typeof row.sequence_no === 'number' && row.sequence_no >= 0 && row.sequence_no < 2_147_483_647 ? row.sequence_no : null;
  return {
    tenant_id: row.tenant_id,
    session_id: row.session_id,
    visitor_id: row.visitor_id,
    site_id: row.site_id,
    person_id: row.person_id,
    occurred_at: row.occurred_at,
    k: orderKey(row),
    client,
    seq,
    page_view: row.event_name === 'page_view',
    is_order: ORDER_EVENTS.has(row.event_name),
    active_ms: engagement ? clampMs(row.payload?.active_ms) : null,
    total_ms: engagement ? clampMs(row.payload?.total_ms) : null,
    consent: client ? row.consent_snapshot : null,
    first_touch: client
      ? {
          utm: compact(context.utm),
          click_ids: compact(context.click_ids),
          referrer: str(context.referrer),
          landing_page: page,
        }
      : null,
    landing: page,
    page,
    device: client ? compact(context.device) : null,
    is_bot: row.is_bot === true,
  };
}

/** Writer projector: folds the new rows into their sessions inside the commit's transaction. */
export async function projectSessions(q: Queryable, rows: EventRow[]): Promise<void> {
  const input = rows.filter((r) => typeof r.session_id === 'string' && r.session_id.length > 0).map(sessionInput);
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

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

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
  get(q: Queryable, tenantId: number, sessionId: string): Promise<SessionView | null>;
  list(q: Queryable, tenantId: number, f: { visitor_id?: string | null; person_id?: number | null; limit: number }): Promise<SessionView[]>;
}

export function createSessionStore(): SessionStore {
  return {
    async get(q, tenantId, sessionId) {
      const { rows } = await q.query<Obj>(Q.get_session, [tenantId, sessionId]);
      return rows.length ? toSessionView(rows[0]) : null;
    },
    async list(q, tenantId, f) {
      const { rows } = await q.query<Obj>(Q.list_sessions, [tenantId, f.visitor_id ?? null, f.person_id ?? null, f.limit]);
      return rows.map(toSessionView);
    },
  };
}
