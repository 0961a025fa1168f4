// Persons and identity stitching (README "Sessions, identity and GDPR" → "Identity stitching"). A person is the tenant's customer, resolved
// from `external_id`; visitors are linked to persons by an order placed with data-processing consent or by a
// login (POST /api/v1/identify). Linking backfills person_id on the visitor's stored events (only where it is
// still empty, so it is idempotent) and the writer's enricher stamps later events of a linked visitor, and
// payments, refunds and entry scans of an attributed order, at ingest. A row naming an order (followsOrder) takes
// the order's person only, never the visitor's link: a till's newest link is often the previous buyer. A visitor linked to several persons
// keeps every link; the link with the newest evidence wins. An event naming its own customer (customerIdOf: an
// order, a points event) is that customer's only, never another person's through a visitor id they share (a
// box-office till, a family laptop): neither a link's backfill nor the enricher gives it to anyone else.
import type { Logger } from 'pino';
import type { Queryable } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import { queries } from '../store/queries.js';
import { iso, isObj, isoIfDate, isoOrNull, num, type Obj } from '../store/rows.js';
import { anonymise } from './anonymise.js';
import { idDigest } from './crypto.js';
import { protectRow } from './pii.js';

const Q = queries('persons.sql', [
  'lock_external_id', 'tombstone_for_external', 'erased_visitor', 'identity_lookups', 'erasure_lookups', 'persons_for_orders', 'upsert_person', 'newest_link', 'upsert_link', 'backfill_events_by_visitor',
  'backfill_events_by_order', 'backfill_sessions_by_visitor',
]);

/** A person row as the API shows it (export, GET /api/v1/persons). */
export function personView(p: Obj) {
  return {
    person_id: Number(p.person_id),
    external_id: p.external_id,
    email_sha256: p.email_sha256 ?? null,
    phone_sha256: p.phone_sha256 ?? null,
    city: p.city ?? null,
    created_at: isoOrNull(p.created_at),
    updated_at: isoOrNull(p.updated_at),
    // Catalog attributes (README "Catalog"): derived from the stored events unless synced (`synced_fields`).
    marketing_consent: p.marketing_consent ?? null,
    marketing_consent_at: isoOrNull(p.marketing_consent_at),
    total_orders: num(p.total_orders) ?? 0,
    events_attended: num(p.events_attended) ?? 0,
    last_purchase_at: isoOrNull(p.last_purchase_at),
    avg_order_value: num(p.avg_order_value),
    synced_fields: p.synced_fields ?? [],
  };
}

/** An identity link as the API shows it (export, GET /api/v1/persons/{id}). */
export const linkView = (l: Obj) => ({ ...l, person_id: Number(l.person_id), first_linked_at: isoIfDate(l.first_linked_at), linked_at: isoIfDate(l.linked_at) });

export const ORDER_EVENTS = new Set(['order_completed', 'order_completed_shop']);
/**
 * A row that belongs to an order (payments, refunds, chargebacks, shipments, a web event on the order's page, an
 * entry scan: anything naming `entities.order_id` but the order itself, and naming no customer of its own) takes
 * the order's person and only that: never the visitor's link, which on a shared device (a box-office till) is
 * often the previous buyer's, and Stripe regularly delivers a payment before the backend's order. Until the order
 * is attributed such a row is no one's; the order's backfill (linkIdentity → backfill_events_by_order) then
 * stamps it, and an order left unattributed (no consent) leaves it unattributed. `entry_granted`: a scanner's
 * scan is the buyer's attendance (fs_person_daily.attendance_count, affinities' entry weight,
 * persons.events_attended). The same rule is backfill_events_by_visitor's in SQL.
 */
export function followsOrder(r: EventRow): boolean {
  return orderIdOf(r) !== null && !ORDER_EVENTS.has(r.event_name) && customerIdOf(r) === null;
}

export type LinkSource = 'order_completed' | 'login' | 'manual';

export interface LinkInput {
  tenantId: number;
  externalId: string;
  visitorId: string | null;
  orderId: string | null;
  source: LinkSource;
  /** Time of the evidence (order occurred_at, login time). */
  at: Date;
  emailSha256?: string | null;
  phoneSha256?: string | null;
  city?: string | null;
  confidence?: number;
}

export interface LinkResult {
  linked: boolean;
  /** Why nothing was linked (the person or the visitor was erased before this evidence). */
  reason?: 'erased_person' | 'erased_visitor';
  person_id: number | null;
  person_created: boolean;
  visitor_id: string | null;
  link_created: boolean;
  /** The person this visitor was attributed to before, when this link moved attribution to another person. */
  previous_person_id: number | null;
  backfilled_events: number;
  backfilled_sessions: number;
}

/**
 * Resolves or creates the person and links the visitor (when given), then backfills. Runs inside the
 * caller's transaction. Serialised per (tenant, external id) with an advisory lock, shared with erasure.
 */
export async function linkIdentity(q: Queryable, input: LinkInput, log?: Logger): Promise<LinkResult> {
  const { tenantId, externalId, visitorId, orderId } = input;
  const none: LinkResult = {
    linked: false, person_id: null, person_created: false, visitor_id: visitorId, link_created: false,
    previous_person_id: null, backfilled_events: 0, backfilled_sessions: 0,
  };
  await q.query(Q.lock_external_id, [tenantId, externalId]);
  const tomb = await q.query<{ erased_at: Date | string | null }>(Q.tombstone_for_external, [tenantId, idDigest(tenantId, 'external', externalId)]);
  const erasedAt = tomb.rows[0]?.erased_at;
  // Evidence from before an erasure (a late webhook, a replayed spool) must not bring the person back.
  if (erasedAt && input.at.getTime() <= Date.parse(iso(erasedAt))) return { ...none, reason: 'erased_person' };

  const p = await q.query<{ person_id: string; created: boolean }>(Q.upsert_person, [
    tenantId, externalId, input.emailSha256 ?? null, input.phoneSha256 ?? null, input.city ?? null,
  ]);
  const personId = Number(p.rows[0].person_id);
  const out: LinkResult = { ...none, linked: true, person_id: personId, person_created: p.rows[0].created === true };

  if (visitorId) {
    const visitorSha = idDigest(tenantId, 'visitor', visitorId);
    const ev = await q.query<{ erased_at: Date | string }>(Q.erased_visitor, [tenantId, visitorSha]);
    const vErased = ev.rows[0]?.erased_at;
    if (vErased && input.at.getTime() <= Date.parse(iso(vErased))) {
      out.reason = 'erased_visitor';
    } else {
      const prev = await q.query<{ person_id: string; linked_at: Date | string }>(Q.newest_link, [tenantId, visitorId]);
      const before = prev.rows[0];
      const moves = before && Number(before.person_id) !== personId && Date.parse(iso(before.linked_at)) <= input.at.getTime();
      const metadata: Obj = moves ? { previous_person_id: Number(before.person_id), attribution_changed_at: input.at.toISOString() } : {};
      const l = await q.query<{ created: boolean }>(Q.upsert_link, [
        tenantId, visitorId, personId, input.confidence ?? 1.0, input.source, orderId, input.at.toISOString(), JSON.stringify(metadata),
      ]);
      out.link_created = l.rows[0]?.created === true;
      if (moves) {
        out.previous_person_id = Number(before.person_id);
        log?.info({ tenant_id: tenantId, person_id: personId, previous_person_id: out.previous_person_id }, 'visitor linked to a second person; newest link wins attribution');
      }
      // Only what the visitor did after an erasure of theirs: rows of the erased past (a late copy stored before
      // the erasure committed) are not this new person's.
      // Nor rows naming another customer (an order of another buyer on the same device).
      out.backfilled_events += (await q.query<{ n: number }>(Q.backfill_events_by_visitor, [tenantId, visitorId, personId, visitorSha, externalId])).rows[0].n;
      out.backfilled_sessions += (await q.query<{ n: number }>(Q.backfill_sessions_by_visitor, [tenantId, visitorId, personId, visitorSha])).rows[0].n;
    }
  }
  if (orderId) {
    out.backfilled_events += (await q.query<{ n: number }>(Q.backfill_events_by_order, [tenantId, orderId, personId])).rows[0].n;
  }
  return out;
}

/** The order's customer, when the order may be used for stitching (consent_data_processing true). */
export function stitchableOrder(row: EventRow): { externalId: string; customer: Obj } | null {
  if (!ORDER_EVENTS.has(row.event_name)) return null;
  const payload = isObj(row.payload) ? row.payload : {};
  if (payload.consent_data_processing !== true) return null;
  const customer = isObj(payload.customer) ? payload.customer : null;
  const ext = customer?.external_id;
  if (!customer || (typeof ext !== 'string' && typeof ext !== 'number') || String(ext).length === 0) return null;
  return { externalId: String(ext), customer };
}

function orderIdOf(row: EventRow): string | null {
  const o = row.entities?.order_id;
  return typeof o === 'string' || typeof o === 'number' ? String(o) : null;
}

/**
 * Writer enricher (inside the commit, before the insert): hashes contact data still in plaintext, anonymises
 * late events of erased visitors and customers and every event naming an erased order, and stamps person_id on
 * events of linked visitors (newest link wins; an event naming its own customer only with that customer's person,
 * when the visitor is linked to it) and, with the order's person only, on rows naming an order already
 * attributed to a person (followsOrder). Two statements read what every commit needs, asking for a superset of
 * what each step applies: links and persons (identity_lookups, which locks the links an erasure deletes first),
 * then the tombstones (erasure_lookups: a later statement, so it sees the tombstones of an erasure the first one
 * waited for). They are sent back to back, without a round trip between them. The steps then run in order in
 * memory, each re-checking its condition on the row as the earlier steps left it. Orders' persons are a third
 * statement, only for commits with rows naming an order (it reads tx_events).
 */
export function createEnricher() {
  return async function enrichIdentity(q: Queryable, rows: EventRow[]): Promise<void> {
    if (rows.length === 0) return;
    for (const r of rows) protectRow(r);
    const params = lookupParams(rows);
    // Both are handed to the session in this order before either answers: the store runs them in that order.
    const asked = (p: unknown[]) => p.some((a) => (a as unknown[]).length > 0);
    const none = { rows: [] };
    const [found, erased] = await Promise.all([
      asked(params.links) ? q.query<LookupRow>(Q.identity_lookups, params.links) : none,
      asked(params.erased) ? q.query<ErasedRow>(Q.erasure_lookups, params.erased) : none,
    ]);
    if (erased.rows.length > 0) applyTombstones(rows, erased.rows);
    if (found.rows.length > 0) applyLookups(rows, found.rows);
    const followers = rows.filter(isFollower);
    if (followers.length === 0) return;
    const { rows: orders } = await q.query<{ tenant_id: string; order_id: string; person_id: string }>(
      Q.persons_for_orders, uniquePairs(followers.map((r) => [r.tenant_id, orderIdOf(r)!])),
    );
    const byOrder = new Map(orders.map((f) => [`${f.tenant_id}:${f.order_id}`, Number(f.person_id)]));
    for (const r of followers) {
      const p = byOrder.get(`${r.tenant_id}:${orderIdOf(r)}`);
      if (p !== undefined) r.person_id = p;
    }
  };
}

interface LookupRow {
  kind: 'link' | 'person';
  tenant_id: string;
  key: string;
  at: Date | string | null;
  person_id: string | null;
  id: string | null;
}

export interface ErasedRow {
  kind: 'erased_visitor' | 'erased_customer' | 'erased_order';
  tenant_id: string;
  /** The erased id's digest (identity/crypto.ts idDigest). */
  key: string;
  at: Date | string;
}

const hasVisitor = (r: EventRow) => typeof r.visitor_id === 'string' && r.visitor_id.length > 0;
const isFollower = (r: EventRow) => r.person_id === null && followsOrder(r);
const pointsCustomer = (r: EventRow): string | null => {
  const c = r.payload?.customer_external_id;
  return r.person_id === null && r.event_name === 'points_earned' && (typeof c === 'string' || typeof c === 'number') ? String(c) : null;
};

function lookupParams(rows: EventRow[]): { links: unknown[]; erased: unknown[] } {
  const withVisitor = rows.filter(hasVisitor);
  const withCustomer = rows.filter((r) => customerIdOf(r) !== null);
  const withOrder = rows.filter((r) => orderIdOf(r) !== null);
  // Persons: of points events' customers, and of the customers that events of a visitor name (whose visitor link
  // stamps them only when it is to that very customer: applyLookups).
  const customers = rows.flatMap((r) => {
    const c = pointsCustomer(r) ?? (hasVisitor(r) ? customerIdOf(r) : null);
    return c === null ? [] : [[r.tenant_id, c] as [number, string]];
  });
  return {
    links: [
      ...uniquePairs(withVisitor.map((r) => [r.tenant_id, r.visitor_id!])),
      ...uniquePairs(customers),
    ],
    erased: [
      ...uniquePairs(withVisitor.map((r) => [r.tenant_id, idDigest(r.tenant_id, 'visitor', r.visitor_id!)])),
      ...uniquePairs(withCustomer.map((r) => [r.tenant_id, idDigest(r.tenant_id, 'external', customerIdOf(r)!)])),
      ...uniquePairs(withOrder.map((r) => [r.tenant_id, idDigest(r.tenant_id, 'order', orderIdOf(r)!)])),
    ],
  };
}

/**
 * Late copies of an erased person's past lose what identifies them (anonymise): events of an erased visitor, and
 * orders and points of an erased customer, that occurred at or before the erasure (later ones are new data); and
 * every event naming one of their orders, whenever it occurred (an order id, unlike a visitor id, is never the
 * next person's), which loses that order id too: only its digest remains. Pure.
 */
export function applyTombstones(rows: EventRow[], erased: ErasedRow[]): void {
  const erasedAt = (kind: ErasedRow['kind']) => new Map(erased.filter((e) => e.kind === kind).map((e) => [`${e.tenant_id}:${e.key}`, Date.parse(iso(e.at))]));
  const erasedVisitors = erasedAt('erased_visitor');
  if (erasedVisitors.size > 0) {
    for (const r of rows.filter(hasVisitor)) {
      const t = erasedVisitors.get(`${r.tenant_id}:${idDigest(r.tenant_id, 'visitor', r.visitor_id!)}`);
      if (t !== undefined && Date.parse(r.occurred_at) <= t) anonymise(r);
    }
  }
  const erasedCustomers = erasedAt('erased_customer');
  if (erasedCustomers.size > 0) {
    for (const r of rows) {
      const c = customerIdOf(r);
      const t = c === null ? undefined : erasedCustomers.get(`${r.tenant_id}:${idDigest(r.tenant_id, 'external', c)}`);
      if (t !== undefined && Date.parse(r.occurred_at) <= t) anonymise(r);
    }
  }
  const erasedOrders = erasedAt('erased_order');
  if (erasedOrders.size > 0) {
    for (const r of rows) {
      const o = orderIdOf(r);
      if (o !== null && erasedOrders.has(`${r.tenant_id}:${idDigest(r.tenant_id, 'order', o)}`)) anonymise(r, ['order_id']);
    }
  }
}

function applyLookups(rows: EventRow[], found: LookupRow[]): void {
  const of = (kind: LookupRow['kind']) => found.filter((f) => f.kind === kind);
  const newest = new Map<string, { person: number; at: number; id: number }>();
  const linked = new Set<string>();
  for (const l of of('link')) {
    const k = `${l.tenant_id}:${l.key}`;
    const cand = { person: Number(l.person_id), at: Date.parse(iso(l.at)), id: Number(l.id) };
    linked.add(`${k}:${cand.person}`);
    const cur = newest.get(k);
    if (!cur || cand.at > cur.at || (cand.at === cur.at && cand.id > cur.id)) newest.set(k, cand);
  }
  const byExternal = new Map(of('person').map((f) => [`${f.tenant_id}:${f.key}`, Number(f.person_id)]));
  for (const r of rows) {
    // A consented order is attributed to its own customer by the identity projector, not to the visitor's link.
    if (!hasVisitor(r) || stitchableOrder(r)) continue;
    const c = customerIdOf(r);
    if (c === null) {
      // The order's person, or no one yet (createEnricher's followers): not whoever used the device last.
      if (followsOrder(r)) continue;
      const hit = newest.get(`${r.tenant_id}:${r.visitor_id}`);
      if (hit) r.person_id = hit.person;
      continue;
    }
    // An event naming its own customer is theirs, whoever the visitor's newest link is (a device shared by
    // several buyers): it takes that customer's person when the visitor is linked to it, else none through the
    // visitor (a points event still gets its customer's person below), as a link's backfill would give it.
    const own = byExternal.get(`${r.tenant_id}:${c}`);
    if (own !== undefined && linked.has(`${r.tenant_id}:${r.visitor_id}:${own}`)) r.person_id = own;
  }
  for (const r of rows) {
    const c = pointsCustomer(r);
    const p = c === null ? undefined : byExternal.get(`${r.tenant_id}:${c}`);
    if (p !== undefined) r.person_id = p;
  }
}

/**
 * Writer projector (inside the commit, after the insert, new rows only): an order placed with
 * data-processing consent resolves its person, links its visitor and backfills. The rows handed to later
 * projectors and to the live layer carry the person id too.
 */
export function createIdentityProjector(log: Logger) {
  return async function projectIdentity(q: Queryable, rows: EventRow[]): Promise<void> {
    for (const r of rows) {
      const order = stitchableOrder(r);
      if (!order) continue;
      const c = order.customer;
      const res = await linkIdentity(q, {
        tenantId: r.tenant_id,
        externalId: order.externalId,
        visitorId: typeof r.visitor_id === 'string' && r.visitor_id.length > 0 ? r.visitor_id : null,
        orderId: orderIdOf(r),
        source: 'order_completed',
        at: new Date(r.occurred_at),
        emailSha256: typeof c.email_sha256 === 'string' ? c.email_sha256 : null,
        phoneSha256: typeof c.phone_sha256 === 'string' ? c.phone_sha256 : null,
        city: typeof c.city === 'string' ? c.city.slice(0, 128) : null,
      }, log);
      if (!res.linked || res.person_id === null) continue;
      // Rows of the same commit were stamped by the database backfill; keep the in-memory copies in step: by the
      // visitor those naming no customer or this one (another buyer's order on the same device stays theirs, for
      // its own link) and no order but their own (followsOrder), by the order every row naming it.
      const visitorLinked = res.reason === undefined && !!r.visitor_id;
      const orderId = orderIdOf(r);
      const ownOrNone = (other: EventRow) => { const c = customerIdOf(other); return c === null || c === order.externalId; };
      for (const other of rows) {
        if (other === r || other.tenant_id !== r.tenant_id || other.person_id !== null) continue;
        if ((visitorLinked && other.visitor_id === r.visitor_id && ownOrNone(other) && !followsOrder(other)) || (orderId !== null && orderIdOf(other) === orderId)) other.person_id = res.person_id;
      }
      r.person_id = res.person_id;
    }
  };
}

/** The tenant's customer id an event carries (orders: payload.customer.external_id; points: customer_external_id). */
export function customerIdOf(r: EventRow): string | null {
  const p = isObj(r.payload) ? r.payload : null;
  if (!p) return null;
  const c = isObj(p.customer) ? p.customer.external_id : p.customer_external_id;
  return (typeof c === 'string' && c.length > 0) || typeof c === 'number' ? String(c) : null;
}

/** Pairwise arrays (tenant ids, values) of the distinct pairs, for `unnest($1::bigint[], $2::…[])`. */
export function uniquePairs(pairs: Iterable<[number, string]>): [number[], string[]] {
  const seen = new Set<string>();
  const t: number[] = [];
  const v: string[] = [];
  for (const [a, b] of pairs) {
    const k = `${a}:${b}`;
    if (seen.has(k)) continue;
    seen.add(k);
    t.push(a);
    v.push(b);
  }
  return [t, v];
}
