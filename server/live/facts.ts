// Committed rows → live facts. A fact is the small, serialisable part of a row the live layer needs; it is
// what the hot state applies, what the Redis mirror writes, and what nodes send each other. Pure.
import { SERVER_SOURCES } from '../ingest/registry.js';
import { SKEW_TOLERANCE_MS } from '../ingest/validate.js';
import type { EventRow } from '../store/events.js';
import type { IdKind, Pseudonymizer } from './pseudo.js';

export type FactKind =
  | 'view'
  | 'select'
  | 'cart'
  | 'checkout'
  | 'pay_attempt'
  | 'pay_fail'
  | 'order'
  | 'grant'
  | 'deny'
  | 'snapshot'
  /** Any other row about the event entity: counts its visitor and links the organizer. */
  | 'touch';

/** g: granted (entry or re-entry), x: granted exit, d: denied. */
export type ScanKind = 'g' | 'x' | 'd';

/** The scan a grant or deny fact records. */
export const scanKind = (f: { kind: string; exit?: boolean }): ScanKind => (f.kind === 'deny' ? 'd' : f.exit ? 'x' : 'g');

const LANE = '\u0000';
/** The state key of a gate's scans and snapshots: the gate's own, or one scanner session's at it. */
export const laneKey = (gate: string, session: string | null): string => (session === null ? gate : `${gate}${LANE}${session}`);
/** The gate a lane belongs to (ingest refuses NUL in ids, so the separator is unambiguous). */
export const laneGate = (lane: string): string => {
  const i = lane.indexOf(LANE);
  return i === -1 ? lane : lane.slice(0, i);
};

export interface GateSnapshot {
  inside: number;
  entries: number | null;
  denied: number | null;
  rate_per_minute: number | null;
  capacity: number | null;
  venue_capacity: number | null;
}

/**
 * The id fields (id, visitor, session, cart, order) hold pseudonyms (pseudo.ts) in every fact the server
 * builds, never the raw ids; only equality between them matters to the live layer.
 */
export interface Fact {
  /** The row's event_id (unique per tenant). */
  id: string;
  tenant: number;
  /** Event entity id. */
  event: string;
  org: string | null;
  venue: string | null;
  kind: FactKind;
  /** The row's time for the live numbers, epoch ms: occurred_at, never later than received_at + 2 s (liveTime). */
  at: number;
  visitor: string | null;
  session: string | null;
  cart: string | null;
  order: string | null;
  tickets?: number;
  amount?: number;
  currency?: string;
  /** Scans and snapshots: the capacity lane (capacity.ts laneKey: the gate, or the gate and the scanner session). */
  gate?: string;
  /** An entry_granted whose scan_type is 'exit': takes one off the gate's inside. */
  exit?: boolean;
  snap?: GateSnapshot;
  /** Order: the catalog categories of its ticket types (catalog_ticket_types.category), distinct, sorted, ', '-joined. */
  cat?: string;
  /** Set by the node that applied it first: this fact linked the event to its organizer. */
  link?: boolean;
  /**
   * Where `org` comes from (owners.ts): 'public' when a write-key source could have sent it, 'secret' when
   * only the secret key can. Facts built from committed rows carry the stored owner, not the row's claim.
   */
  os?: ClaimSource;
  /** Set with `link` when the event moved to this organizer from another one (a secret claim). */
  from?: string;
}

/**
 * 'public': a write-key source could have sent it; 'secret': only the secret key can; 'catalog': the tenant's
 * synced catalog (catalog_events.organizer_id), which outranks both and follows the catalog's changes.
 */
export type ClaimSource = 'public' | 'secret' | 'catalog';

/** Precedence of owner sources: a higher one is never replaced by a lower one. */
export const SOURCE_RANK: Record<ClaimSource, number> = { public: 0, secret: 1, catalog: 2 };

/** A source as read back from Redis or the store (anything unknown counts as public). */
export const asClaimSource = (v: unknown): ClaimSource => (v === 'secret' || v === 'catalog' ? v : 'public');

/** An event's owner: the organizer and the kind of source its claim came from (owners.ts). */
export interface Owner {
  org: string;
  source: ClaimSource;
}

/**
 * Sources only the secret key can send (the registry's server sources: backend, payments, shop, through
 * /api/v1/server-events and Stripe; ingest refuses them with the public write key). Every other source may
 * come from a browser with the write key.
 */
export const SECRET_SOURCES: ReadonlySet<string> = new Set(SERVER_SOURCES);

export const claimSource = (sourceSystem: string): ClaimSource => (SECRET_SOURCES.has(sourceSystem) ? 'secret' : 'public');

const KINDS: Record<string, FactKind> = {
  event_view: 'view',
  ticket_type_selected: 'select',
  add_to_cart: 'cart',
  checkout_started: 'checkout',
  payment_attempted: 'pay_attempt',
  payment_failed: 'pay_fail',
  order_completed: 'order',
  entry_granted: 'grant',
  entry_denied: 'deny',
  capacity_snapshot: 'snapshot',
};

/** An entity id as the live layer keys it: a non-empty string, or a finite number as text. */
export const entityId = (v: unknown): string | null => {
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
};
const id = entityId;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * A row's time for the live numbers (and the per-minute history, sql/queries/live.sql): its occurred_at, but never
 * later than SKEW_TOLERANCE_MS (2 s) after the server received it. Nothing happens after it is sent: a later
 * occurred_at is a device clock that runs ahead (FUTURE_HOURS lets ingest store it, uncorrected without
 * sent_at). Taken as is, one capacity_snapshot dated hours ahead became a gate's base until that hour and every
 * real scan before it counted as already inside its totals (entries frozen), and a checkout dated an hour ahead
 * was "active" for 90 minutes. Within the tolerance the device's own order is kept (two scans a second apart
 * from a clock a second fast), as ingest's skew correction does. Pure.
 */
export function liveTime(occurredMs: number, receivedMs: number): number {
  return Number.isNaN(receivedMs) ? occurredMs : Math.min(occurredMs, receivedMs + SKEW_TOLERANCE_MS);
}

/** The UTC day (YYYY-MM-DD) of an epoch-ms instant: live state covers one such day. */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * The live days toFact keeps: exactly one (a recompute rebuilds that day), or `{ from }`, that day and any later
 * one. Committed rows use the latter with the state's day: a row may be dated up to the skew tolerance after its
 * receipt, so one received at 23:59:58.8 may be a row of the next day; the live layer starts that day for it
 * (index.ts applyFacts) instead of dropping a row the store, and so every recompute, counts on its day.
 */
export type FactDays = string | { from: string };

/**
 * Turns a committed row into a fact, or null when the live layer ignores it: bot traffic, rows without an
 * event entity, and rows whose time (liveTime) is not on `days` (live numbers are "today", like the recompute).
 * `pseudo` replaces the event, visitor, session, cart and order ids by their pseudonyms; the server always
 * passes it (createLive, recomputeDay). Without it the raw ids are kept (unit tests of the counting rules).
 * `owner` is the event's stored owner (owners.ts): it replaces the row's own organizer claim, so a row naming
 * another organizer neither links nor moves the event.
 */
export function toFact(row: EventRow, days: FactDays, pseudo?: Pseudonymizer, owner?: Owner | null): Fact | null {
  if (row.is_bot) return null;
  const ent = row.entities ?? {};
  const event = id(ent.event_entity_id);
  if (!event) return null;
  const at = liveTime(Date.parse(row.occurred_at), Date.parse(row.received_at));
  if (Number.isNaN(at)) return null;
  const day = utcDay(at);
  if (typeof days === 'string' ? day !== days : day < days.from) return null;
  const kind = KINDS[row.event_name] ?? 'touch';
  const p = row.payload ?? {};
  const tenant = Number(row.tenant_id);
  const ps = (kind: IdKind, raw: string | null): string | null => (raw === null || !pseudo ? raw : pseudo(tenant, kind, raw));
  const f: Fact = {
    id: ps('event', String(row.event_id))!,
    tenant,
    event,
    org: id(ent.organizer_id),
    venue: id(ent.venue_id),
    kind,
    at,
    visitor: ps('visitor', id(row.visitor_id)),
    session: ps('session', id(row.session_id)),
    cart: ps('cart', id(ent.cart_id)),
    order: ps('order', id(ent.order_id)),
  };
  // The stored owner (owners.ts) when known, else the row's own claim (unit tests, no store).
  if (owner) {
    f.org = owner.org;
    f.os = owner.source;
  } else if (f.org !== null) {
    f.os = claimSource(row.source_system);
  }
  switch (kind) {
    case 'order': {
      const items = Array.isArray(p.items) ? (p.items as { qty?: unknown }[]) : [];
      f.tickets = items.reduce((n, it) => n + (num(it?.qty) ?? 0), 0);
      f.amount = num(p.gross_amount) ?? 0;
      f.currency = typeof p.currency === 'string' ? p.currency : 'XXX';
      break;
    }
    case 'grant':
    case 'deny':
      f.gate = laneKey(id(p.gate_id) ?? 'unknown', id(p.scanner_session_id));
      if (kind === 'grant' && p.scan_type === 'exit') f.exit = true;
      break;
    case 'snapshot':
      f.gate = laneKey(id(p.gate_id) ?? 'unknown', id(p.scanner_session_id));
      f.snap = {
        inside: sessionInside(p),
        entries: num(p.total_entries),
        denied: num(p.total_denied),
        rate_per_minute: num(p.rate_per_minute),
        capacity: num(p.capacity),
        venue_capacity: num(p.venue_capacity),
      };
      break;
  }
  return f;
}

/**
 * The people a snapshot counts inside. A scanner session's snapshot (one device's shift) is its net flow, which
 * is negative on a device that scans more people out than in (a dedicated exit lane, the late shift): the payload
 * cannot carry a negative `current_inside`, so when it is the floor of total_entries − total_exits (what the
 * scanner tracker sends) the net is taken from those. The gate and event totals are floored at 0 instead
 * (capacity.ts). A gate-wide snapshot is the gate's own count, as sent. Pure.
 */
export function sessionInside(p: Record<string, unknown>): number {
  const inside = num(p.current_inside) ?? 0;
  const entries = num(p.total_entries);
  const exits = num(p.total_exits);
  if (id(p.scanner_session_id) === null || entries === null || exits === null) return inside;
  const net = entries - exits;
  return inside === Math.max(0, net) ? net : inside;
}

/** A decimal number as text: sign, digits with an optional point, optional exponent ("4.0005", "1e-7", "-2.5E+3"). */
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * A decimal text in integer thousandths, rounded exactly on its digits, ties away from zero: PostgreSQL's
 * round(numeric * 1000) of the same text. NaN when the text is no decimal number. A value beyond 2^53 − 1
 * thousandths comes out as a number that is no safe integer (the sums leave it out, as live.sql does). Pure.
 */
export function decimalToMilli(text: string): number {
  const m = DECIMAL.exec(text);
  if (!m || (m[2] === '' && !m[3])) return Number.NaN;
  const digits = m[2] + (m[3] ?? '');
  // Where the point falls in `digits` once multiplied by 1000.
  const point = m[2].length + Number(m[4] ?? 0) + 3;
  if (point > 400) return m[1] === '-' ? -Infinity : Infinity;
  const whole = point <= 0 ? '0' : digits.slice(0, point).padEnd(point, '0');
  const next = point < 0 ? '0' : digits.charAt(point);
  // Number(whole) is exact up to 2^53 − 1; past it the result is no safe integer either way.
  const n = Number(whole) + (next >= '5' ? 1 : 0);
  return m[1] === '-' && n !== 0 ? -n : n;
}

/**
 * Money is summed in integer thousandths so totals are exact (HINCRBY in Redis, no float drift). An amount is
 * rounded on its decimal text (String, as JSON.stringify wrote it to the store), not on amount × 1000 as a
 * double (4.0005 × 1000 = 4000.4999…): the per-minute history (sql/queries/live.sql) rounds that stored text
 * as a numeric, and both must give the same thousandths.
 */
export const toMilli = (amount: number): number => (Number.isFinite(amount) ? decimalToMilli(String(amount)) : Math.round(amount * 1000));
export const fromMilli = (milli: number): number => milli / 1000;
