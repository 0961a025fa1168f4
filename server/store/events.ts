// Raw event persistence: idempotent bulk insert, rejected events, read-back.
import { pageOf } from '../http/params.js';
import type { Queryable } from './db.js';
import { queries } from './queries.js';
import { isoIfDate } from './rows.js';

/** A validated, normalised envelope as stored in tx_events. */
export interface EventRow {
  event_id: string;
  event_name: string;
  event_version: number;
  occurred_at: string;
  received_at: string;
  sent_at: string | null;
  tenant_id: number;
  site_id: string | null;
  source_system: string;
  visitor_id: string | null;
  session_id: string | null;
  sequence_no: number | null;
  prev_event_id: string | null;
  person_id: number | null;
  consent_snapshot: Record<string, unknown>;
  context: Record<string, unknown>;
  entities: Record<string, unknown>;
  payload: Record<string, unknown>;
  idempotency_key: string | null;
  is_bot: boolean;
}

export interface RejectedRow {
  tenant_id: number;
  event_id: string | null;
  event_name: string | null;
  raw_body: string;
  reasons: unknown;
  received_at: string;
}

export interface ListFilter {
  limit: number;
  event_name?: string | null;
  visitor_id?: string | null;
  event_entity_id?: string | null;
  before?: string | null;
  /** Keyset cursor: the previous page's `last` ([occurred_at UTC with microseconds, id]). */
  after?: string[] | null;
}

/** One page of a keyset-paged list; `last` is the sort key of the last row when more rows follow, null on the last page. */
export interface Page<T> {
  rows: T[];
  last: string[] | null;
}

export const eventKey = (tenantId: number | string, eventId: string) => `${tenantId}:${eventId}`;

/** An order event's claim on its order in the order ledger (ingest/orders.ts orderClaims). */
export interface OrderClaim {
  tenant_id: number;
  event_id: string;
  event_name: string;
  /** As sent (a number as its decimal text): the warning names it; the ledger keeps only its digest. */
  order_id: string;
  /** identity/crypto.ts idDigest(tenant, 'order', order_id). */
  order_sha256: string;
  received_at: string;
}

/** What became of an order event whose order was already stored. */
export interface HeldOrder {
  order_id: string;
  /** The stored event that holds the order; null when not known (stored concurrently by another writer, or erased). */
  held_by: string | null;
}

export interface Inserted {
  /** eventKey()s of the rows that were new and are stored. */
  fresh: Set<string>;
  /** eventKey() of an order event not stored because its order already was (its claim lost) → the order. */
  held: Map<string, HeldOrder>;
}

const Q = queries('events.sql', ['insert_events', 'insert_events_orders', 'hash_joins_only', 'nested_loops_again', 'insert_rejected', 'known_event_ids', 'list_events', 'list_rejected', 'prune_event_ids']);

export interface EventStore {
  /**
   * Inserts rows (which must have distinct ids). `orders`: one claim per order event, in row order (ingest/orders.ts);
   * the store gives each order to its first row with a new event id, and a row whose order is already stored (or
   * taken by an earlier row) is a duplicate, reported in `held`.
   */
  insert(q: Queryable, rows: EventRow[], orders?: readonly OrderClaim[]): Promise<Inserted>;
  insertRejected(q: Queryable, rows: RejectedRow[]): Promise<void>;
  knownIds(q: Queryable, tenantId: number, eventIds: string[]): Promise<Set<string>>;
  list(q: Queryable, tenantId: number, f: ListFilter): Promise<Page<Record<string, unknown>>>;
  /** Newest first; `after` = the previous page's `last` ([received_at UTC with microseconds, id]). */
  listRejected(q: Queryable, tenantId: number, limit: number, after?: string[] | null): Promise<Page<Record<string, unknown>>>;
  pruneIds(q: Queryable, before: Date): Promise<void>;
}

export function createEventStore(): EventStore {
  return {
    async insert(q, rows, orders = []) {
      if (rows.length === 0) return { fresh: new Set(), held: new Map() };
      if (orders.length === 0) {
        const { rows: fresh } = await q.query<{ tenant_id: string; event_id: string }>(Q.insert_events, [JSON.stringify(rows)]);
        return { fresh: new Set(fresh.map((r) => eventKey(r.tenant_id, r.event_id))), held: new Map() };
      }
      // The statement joins its own CTEs (new ids, claims, winners), which the planner estimates at a handful of
      // rows and joins by nested loops: quadratic in the orders of a commit (89,700 comparisons for 300, most of a
      // 100-order commit's time on the embedded store). Hash joins for this statement only; the commit's other
      // statements (identity lookups by index) keep nested loops. A failed statement aborts the transaction,
      // which discards the setting with it.
      await q.query(Q.hash_joins_only);
      const { rows: out } = await q.query<{ tenant_id: string; event_id: string; stored: boolean; held_by: string | null }>(
        Q.insert_events_orders, [JSON.stringify(rows), JSON.stringify(orders)],
      );
      await q.query(Q.nested_loops_again);
      const fresh = new Set<string>();
      const held = new Map<string, HeldOrder>();
      const orderOf = new Map(orders.map((o) => [eventKey(o.tenant_id, o.event_id), o.order_id]));
      for (const r of out) {
        const k = eventKey(r.tenant_id, r.event_id);
        if (r.stored) fresh.add(k);
        else held.set(k, { order_id: orderOf.get(k) ?? '', held_by: r.held_by || null });
      }
      return { fresh, held };
    },
    async insertRejected(q, rows) {
      if (rows.length === 0) return;
      await q.query(Q.insert_rejected, [JSON.stringify(rows, pgSafe)]);
    },
    async knownIds(q, tenantId, eventIds) {
      if (eventIds.length === 0) return new Set();
      const { rows } = await q.query<{ event_id: string }>(Q.known_event_ids, [tenantId, eventIds]);
      return new Set(rows.map((r) => r.event_id));
    },
    async list(q, tenantId, f) {
      const { rows, more } = pageOf((await q.query<Record<string, unknown>>(Q.list_events, [
        tenantId, f.event_name ?? null, f.visitor_id ?? null, f.event_entity_id ?? null, f.before ?? null, f.limit + 1,
        f.after?.[0] ?? null, f.after?.[1] ?? null,
      ])).rows, f.limit);
      const last = more ? rows[rows.length - 1] : null;
      return {
        rows: rows.map(({ cursor_ts: _t, cursor_id: _i, ...r }) => toEnvelope(r)),
        last: last ? [String(last.cursor_ts), String(last.cursor_id)] : null,
      };
    },
    async listRejected(q, tenantId, limit, after) {
      const { rows, more } = pageOf((await q.query<Record<string, unknown>>(Q.list_rejected, [tenantId, limit + 1, after?.[0] ?? null, after?.[1] ?? null])).rows, limit);
      const last = more ? rows[rows.length - 1] : null;
      return {
        rows: rows.map(({ cursor_ts: _t, ...r }) => ({ ...r, received_at: isoIfDate(r.received_at) })),
        last: last ? [String(last.cursor_ts), String(last.id)] : null,
      };
    },
    async pruneIds(q, before) {
      await q.query(Q.prune_event_ids, [before.toISOString()]);
    },
  };
}

/**
 * Rejected input is kept as sent where Postgres allows: text and jsonb cannot hold NUL, and jsonb refuses
 * lone surrogates, so those characters become U+FFFD.
 */
function pgSafe(_key: string, v: unknown): unknown {
  if (typeof v !== 'string' || (v.isWellFormed() && !v.includes('\u0000'))) return v;
  return v.toWellFormed().replaceAll('\u0000', '\uFFFD');
}

function toEnvelope(r: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) {
    if (v === null && k !== 'person_id') continue;
    out[k] = isoIfDate(v);
  }
  out.tenant_id = Number(r.tenant_id);
  out.person_id = r.person_id === null ? null : Number(r.person_id);
  return out;
}
