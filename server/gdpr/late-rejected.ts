// Late copies of an erased person's past that the validator rejects (README "GDPR": afterwards only digests
// remain). A valid late copy is anonymised by the identity enricher (identity/anonymise.ts); a rejected one is
// kept as a raw body in tx_rejected_events, so the writer runs this on the commit's rejected rows before they
// are inserted (ingest/writer.ts): one statement reads the tombstones of every visitor, customer and order id
// the bodies name (gdpr_erased_visitors, gdpr_erasures, gdpr_erased_orders), after one that locks the visitors'
// identity links as the enricher does. The rule is the enricher's (identity/persons.ts applyTombstones): an
// event of an erased visitor or customer dated at or before the erasure, and any event naming an erased order,
// keeps what tells the developer why it was rejected (event id and name, time, source, the shape and values of
// entities and payload, the reasons) without the visitor, session, customer, contact, click or device data, nor
// the erased order's id.
import { anonymousContext } from '../identity/anonymise.js';
import { idDigest } from '../identity/crypto.js';
import { uniquePairs } from '../identity/persons.js';
import type { Queryable } from '../store/db.js';
import type { RejectedRow } from '../store/events.js';
import { queries } from '../store/queries.js';
import { iso, isObj, type Obj } from '../store/rows.js';

const Q = queries('rejected-erased.sql', ['lock_rejected_links']);
// The tombstones the identity enricher reads for valid rows: one statement for both.
const P = queries('persons.sql', ['erasure_lookups']);

/** What is kept of a body that names an erased person but cannot be read as events (not JSON, or ids elsewhere). */
export const NOT_KEPT = JSON.stringify('<not kept: it names an erased visitor, customer or order>');

const STRING = String.raw`"(?:[^"\\\n]|\\.)*"`;
/** Where a body names a visitor (Stripe metadata: tx_vid), a customer or an order, whatever its shape; JSON or not. */
const VISITOR_FIELD = new RegExp(String.raw`"(?:visitor_id|tx_vid)"\s*:\s*(${STRING}|-?[0-9]+(?![0-9.eE]))`, 'g');
const CUSTOMER_FIELD = new RegExp(String.raw`"(?:external_id|customer_external_id)"\s*:\s*(${STRING}|-?[0-9]+(?![0-9.eE]))`, 'g');
const ORDER_FIELD = new RegExp(String.raw`"order_id"\s*:\s*(${STRING}|-?[0-9]+(?![0-9.eE]))`, 'g');
const MENTIONS = /"(?:visitor_id|tx_vid|external_id|customer_external_id|order_id)"/;

type Kind = 'visitor' | 'customer' | 'order';
/** Ids a body names, by kind. */
type Named = Record<Kind, Set<string>>;
const KINDS: Kind[] = ['visitor', 'customer', 'order'];
/** idDigest's kind for each (a customer is the tenant's external id). */
const DIGEST_KIND: Record<Kind, string> = { visitor: 'visitor', customer: 'external', order: 'order' };

function literal(lit: string): string | null {
  try {
    const v: unknown = JSON.parse(lit);
    // An id with a NUL was never stored (validation refuses it), so it names no erased person; and PostgreSQL
    // refuses it as a parameter, which would fail the whole commit.
    if (typeof v === 'string' && v.includes('\u0000')) return null;
    return (typeof v === 'string' && v.length > 0) || typeof v === 'number' ? String(v) : null;
  } catch {
    return null;
  }
}

/** The visitor, customer and order ids a body names as the value of their fields, anywhere in its text. Pure. */
export function namedIds(raw: string): Named {
  const out: Named = { visitor: new Set(), customer: new Set(), order: new Set() };
  if (!MENTIONS.test(raw)) return out;
  for (const [re, into] of [[VISITOR_FIELD, out.visitor], [CUSTOMER_FIELD, out.customer], [ORDER_FIELD, out.order]] as const) {
    for (const m of raw.matchAll(re)) {
      const v = literal(m[1]);
      if (v !== null) into.add(v);
    }
  }
  return out;
}

/** An event's own ids: its visitor, its customer (orders: payload.customer.external_id; points: payload.customer_external_id), its order. */
function ownIds(ev: Obj): { kind: Kind; id: string }[] {
  const out: { kind: Kind; id: string }[] = [];
  const add = (kind: Kind, v: unknown) => {
    if ((typeof v === 'string' && v.length > 0 && !v.includes('\u0000')) || typeof v === 'number') out.push({ kind, id: String(v) });
  };
  add('visitor', ev.visitor_id);
  const p = isObj(ev.payload) ? ev.payload : null;
  if (p) {
    if (isObj(p.customer)) add('customer', p.customer.external_id);
    add('customer', p.customer_external_id);
  }
  if (isObj(ev.entities)) add('order', ev.entities.order_id);
  return out;
}

/** Envelope fields a stored anonymised event keeps as sent; visitor_id … person_id are kept as null. */
const ENVELOPE = ['event_id', 'event_name', 'event_version', 'occurred_at', 'sent_at', 'tenant_id', 'site_id', 'source_system', 'sequence_no', 'idempotency_key', 'consent_snapshot'];
const PERSONAL_ENVELOPE = ['visitor_id', 'session_id', 'prev_event_id', 'person_id'];
/** As identity/anonymise.ts: entities naming the person's own session objects. */
const PERSONAL_ENTITIES = new Set(['cart_id']);
/**
 * Keys of entities and payload (at any depth) that hold the person or their contact data: the customer, objects
 * describing a person (identity/pii.ts PERSON_KEYS), contact digests and match keys, names, device data. A valid
 * payload has none of them but `customer` (its schema drops the rest); a rejected one can hold anything.
 */
const PERSONAL_KEYS = new Set([
  'customer', 'customer_external_id', 'customer_details', 'shipping', 'shipping_details', 'billing', 'billing_details', 'billing_address', 'shipping_address',
  'email', 'phone', 'email_sha256', 'phone_sha256', 'match_keys', 'first_name', 'last_name', 'zip', 'ip', 'user_agent',
  'visitor_id', 'session_id', 'tx_vid', 'tx_sid', 'person_id', 'beneficiary_id',
]);
/** Contact data found in free text, as the ingest scrubbers leave it (identity/pii.ts). */
const DIGEST = /sha256:[0-9a-f]{64}/g;

function stripPersonal(v: unknown, drop: ReadonlySet<string>, depth = 0): unknown {
  if (typeof v === 'string') return v.replace(DIGEST, 'sha256:<erased>');
  if (v === null || typeof v !== 'object' || depth > 32) return v;
  if (Array.isArray(v)) return v.map((x) => stripPersonal(x, drop, depth + 1));
  const out: Obj = {};
  for (const [k, x] of Object.entries(v as Obj)) if (!drop.has(k)) out[k] = stripPersonal(x, drop, depth + 1);
  return out;
}

/**
 * A raw event as a stored anonymised late copy would be (identity/anonymise.ts): envelope fields kept, visitor,
 * session, previous event and person null, the context rebuilt from what aggregates read (anonymousContext), the
 * personal entities and the customer gone, and from entities and payload whatever else names a person;
 * `dropOrder`: its order is an erased one, whose id goes too (only its digest may remain). Pure.
 */
export function anonymousRawEvent(ev: Obj, dropOrder = false): Obj {
  const out: Obj = {};
  for (const k of ENVELOPE) if (k in ev) out[k] = ev[k];
  for (const k of PERSONAL_ENVELOPE) if (k in ev) out[k] = null;
  out.context = anonymousContext(ev.context);
  const order = dropOrder ? ['order_id'] : [];
  if ('entities' in ev) out.entities = stripPersonal(ev.entities, new Set([...PERSONAL_KEYS, ...PERSONAL_ENTITIES, ...order]));
  if ('payload' in ev) out.payload = stripPersonal(ev.payload, new Set([...PERSONAL_KEYS, ...order]));
  return out;
}

/** When the tombstone of an id was written (ms), by `${tenant}:${kind}:${id}`. */
export type Tombstones = Map<string, number>;
const tkey = (tenantId: number, kind: Kind, id: string) => `${tenantId}:${kind}:${id}`;

/**
 * Rewrites one rejected row in place when its body names an erased visitor, customer or order: each event of the
 * body (the body itself, the elements of a list, or of `events`) of an erased visitor or customer dated at or
 * before that erasure (or without a readable occurred_at), or naming an erased order, becomes anonymousRawEvent;
 * an event of an erased visitor or customer dated after the erasure is new data and is kept. A body that is not
 * JSON, or still names an erased id elsewhere, is replaced by NOT_KEPT. The reasons lose the erased ids they
 * quote. Returns whether the row changed. Pure.
 */
export function forgetInRejected(row: RejectedRow, erased: Tombstones): boolean {
  const t = Number(row.tenant_id);
  const hit = (kind: Kind, id: string) => erased.get(tkey(t, kind, id));
  const flat = (n: Named) => KINDS.flatMap((kind) => [...n[kind]].map((id) => ({ kind, id })));
  const found = flat(namedIds(row.raw_body)).filter((x) => hit(x.kind, x.id) !== undefined);
  if (found.length === 0) return false;

  let body: unknown;
  try {
    body = JSON.parse(row.raw_body);
  } catch {
    body = undefined;
  }
  // Ids named by events dated after their erasure: new data under an old id, kept like a valid one.
  const kept = new Set<string>();
  const forget = (ev: unknown): unknown => {
    if (!isObj(ev)) return ev;
    const at = typeof ev.occurred_at === 'string' ? Date.parse(ev.occurred_at) : NaN;
    const mine = ownIds(ev).filter((x) => hit(x.kind, x.id) !== undefined);
    const order = mine.some((x) => x.kind === 'order');
    if (order || mine.some((x) => Number.isNaN(at) || at <= hit(x.kind, x.id)!)) return anonymousRawEvent(ev, order);
    for (const x of mine) kept.add(tkey(t, x.kind, x.id));
    return ev;
  };
  let text = NOT_KEPT;
  if (body !== undefined) {
    const rebuilt = Array.isArray(body)
      ? body.map(forget)
      : isObj(body) && Array.isArray(body.events)
        ? { ...body, events: body.events.map(forget) }
        : forget(body);
    const candidate = JSON.stringify(rebuilt);
    const stillNamed = flat(namedIds(candidate)).map((x) => tkey(t, x.kind, x.id)).some((k) => erased.has(k) && !kept.has(k));
    if (!stillNamed) text = candidate;
  }
  const gone = found.filter((x) => !kept.has(tkey(t, x.kind, x.id))).map((x) => x.id);
  const changed = text !== row.raw_body;
  row.raw_body = text;
  if (gone.length > 0) row.reasons = scrubQuoted(row.reasons, gone.map((id) => JSON.stringify(id)));
  return changed;
}

/** Reasons quote values (`got "v-123"`): the erased ids among them are replaced. */
function scrubQuoted(v: unknown, quoted: string[], depth = 0): unknown {
  if (typeof v === 'string') return quoted.reduce((s, q) => s.split(q).join('"<erased>"'), v);
  if (v === null || typeof v !== 'object' || depth > 8) return v;
  if (Array.isArray(v)) return v.map((x) => scrubQuoted(x, quoted, depth + 1));
  return Object.fromEntries(Object.entries(v as Obj).map(([k, x]) => [k, scrubQuoted(x, quoted, depth + 1)]));
}


/**
 * The writer's step for rejected rows (inside the commit, before they are inserted; rows edited in place). No
 * statement when no body names a visitor, customer or order; otherwise two for the whole commit (the links'
 * lock only when a visitor is named), sent back to back. Idempotent: a retried commit or a spool replay finds
 * the rewritten body naming none of the erased ids.
 */
export async function forgetErasedInRejected(q: Queryable, rows: RejectedRow[]): Promise<void> {
  if (rows.length === 0) return;
  const named = rows.map((r) => ({ r, t: Number(r.tenant_id), ids: namedIds(r.raw_body) }));
  const of = (kind: Kind) => named.flatMap(({ t, ids }) => [...ids[kind]].map((id) => [t, id] as [number, string]));
  const ids = { visitor: of('visitor'), customer: of('customer'), order: of('order') };
  if (KINDS.every((k) => ids[k].length === 0)) return;
  // Digest → id, to read the tombstones back by the ids the bodies name.
  const byDigest = new Map<string, { t: number; id: string }>();
  const digests = (kind: Kind) =>
    uniquePairs(ids[kind].map(([t, id]) => {
      const d = idDigest(t, DIGEST_KIND[kind], id);
      byDigest.set(`${kind}:${t}:${d}`, { t, id });
      return [t, d];
    }));
  const lookups = [...digests('visitor'), ...digests('customer'), ...digests('order')];
  // Handed to the session in this order before either answers: the tombstones are read once the lock is held.
  const [, { rows: found }] = await Promise.all([
    ids.visitor.length > 0 ? q.query(Q.lock_rejected_links, uniquePairs(ids.visitor)) : null,
    q.query<{ kind: `erased_${Kind}`; tenant_id: string; key: string; at: Date | string }>(P.erasure_lookups, lookups),
  ]);
  const erased: Tombstones = new Map();
  for (const f of found) {
    const kind = f.kind.slice('erased_'.length) as Kind;
    const x = byDigest.get(`${kind}:${f.tenant_id}:${f.key.trim()}`);
    if (x) erased.set(tkey(x.t, kind, x.id), Date.parse(iso(f.at)));
  }
  if (erased.size === 0) return;
  for (const { r } of named) forgetInRejected(r, erased);
}
