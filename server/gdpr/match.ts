// Recognising a person's data where it is not keyed by person: events in the spool (not yet stored) and
// rejected raw bodies (any shape, possibly not JSON). The SQL of the rejected-events eraser and the spool
// rewrite use the same search, so both remove the same bodies.
// What the person shares with other persons (a device's visitor id, a family's email) does not make data theirs:
// a session id (two visitors at one till) is never matched, and a visitor id or contact digest another person
// holds too is not matched in raw bodies (sharedIds); a spooled event is matched by visitor only when it names no
// person, as the stored-events eraser does.
import type { Queryable } from '../store/db.js';
import type { EventRow } from '../store/events.js';
import { queries } from '../store/queries.js';
import { isObj } from '../store/rows.js';
import type { Spool, SpoolRecord } from '../store/spool.js';
import type { PersonIds } from './registry.js';

const Q = queries('gdpr.sql', ['shared_person_ids']);

/**
 * What of a person's ids another (not erased) person holds too, noted with the ids (erasure.ts): their visitor
 * ids another person is linked to, their email / phone digests another person has. They ride in the ids (and
 * so in the erasure's saved steps, for a resumed spool step); ids without them are taken as sharing nothing.
 */
export interface SharedIds {
  sharedVisitorIds?: string[];
  sharedDigests?: string[];
}
export type MatchIds = PersonIds & SharedIds;

/** Notes in `ids` which of their visitor ids and contact digests other persons hold too (one query). */
export async function noteShared(q: Queryable, ids: PersonIds): Promise<MatchIds> {
  const digests = [ids.emailSha256, ids.phoneSha256].filter((d): d is string => !!d);
  const rows = ids.visitorIds.length || digests.length
    ? (await q.query<{ kind: string; id: string }>(Q.shared_person_ids, [ids.tenantId, ids.personId, ids.visitorIds, digests])).rows
    : [];
  const out = ids as MatchIds;
  out.sharedVisitorIds = rows.filter((r) => r.kind === 'visitor').map((r) => r.id).sort();
  out.sharedDigests = rows.filter((r) => r.kind === 'digest').map((r) => r.id.trim()).sort();
  return out;
}

/**
 * Removes the person's events and rejected events from every spooled record; returns records changed.
 * Skipped when nothing is spooled. A segment can vanish under the rewrite when a replay finishes it at the
 * same moment (ENOENT): the rewrite is then simply repeated.
 */
export async function eraseFromSpool(spool: Spool, ids: MatchIds): Promise<number> {
  const m = matcher(ids);
  const edit = (r: SpoolRecord): SpoolRecord | null => {
    const events = r.events.filter((e) => !m.event(e));
    const rejected = r.rejected.filter((x) => !m.rejected(x.tenant_id, x.event_id, x.raw_body));
    if (events.length === r.events.length && rejected.length === r.rejected.length) return r;
    return events.length === 0 && rejected.length === 0 ? null : { events, rejected };
  };
  for (let attempt = 1; ; attempt++) {
    if (spool.pendingBytes() === 0) return 0;
    try {
      return await spool.rewrite(edit);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw err;
    }
  }
}

/**
 * Lookup sets over a person's ids, built once per erasure. A spooled event is the person's as the stored-events
 * eraser decides (gdpr.sql delete_person_events): stamped with them, or of one of their visitors and stamped with
 * no one; or one of their own events or orders; or an order or points naming their customer id, or (naming no
 * other customer or person) their contact digest when no other person has it. Never by session id.
 */
export function matcher(ids: MatchIds) {
  const visitors = new Set(ids.visitorIds);
  const events = new Set(ids.eventIds);
  const orders = new Set(ids.orderIds);
  const digests = ownDigests(ids);
  const search = rawSearch(ids);
  return {
    /** True when a stored or spooled row is part of the person's data. */
    event(e: EventRow): boolean {
      if (Number(e.tenant_id) !== ids.tenantId) return false;
      const stamped = e.person_id !== null && e.person_id !== undefined;
      if (stamped && Number(e.person_id) === ids.personId) return true;
      if (!stamped && e.visitor_id && visitors.has(e.visitor_id)) return true;
      if (events.has(e.event_id)) return true;
      const order = e.entities?.order_id;
      if ((typeof order === 'string' || typeof order === 'number') && orders.has(String(order))) return true;
      const customer = isObj(e.payload?.customer) ? e.payload.customer : null;
      if (customer) {
        const named = customer.external_id !== null && customer.external_id !== undefined;
        if (named && String(customer.external_id) === ids.externalId) return true;
        // A digest only when the event names no other customer or person.
        if (!named && !stamped && [customer.email_sha256, customer.phone_sha256].some((d) => typeof d === 'string' && digests.includes(d))) return true;
      }
      if (e.event_name === 'points_earned' && e.payload && String(e.payload.customer_external_id) === ids.externalId) return true;
      return false;
    },
    /** True when a rejected event (raw body as sent) is part of the person's data. */
    rejected(tenantId: number, eventId: unknown, raw: string): boolean {
      if (Number(tenantId) !== ids.tenantId) return false;
      if (typeof eventId === 'string' && events.has(eventId)) return true;
      return rawMentions(raw, search);
    },
  };
}

/** The person's contact digests no other person has. */
function ownDigests(ids: MatchIds): string[] {
  const shared = new Set(ids.sharedDigests ?? []);
  return [ids.emailSha256, ids.phoneSha256].filter((d): d is string => !!d && !shared.has(d));
}

/** Below this length an order or customer id is matched only as the value of its own field, not anywhere. */
const SHORT_ID = 8;
/** Ids per alternation in one pattern: a long alternation is "too complex" for Postgres' regex engine. */
const PER_PATTERN = 100;
const reEscape = (s: string) => s.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');

/**
 * How a raw (rejected) body is recognised as the person's, whatever its shape, by text search (the SQL
 * query and the spool use the same): `needles` are substrings — their event ids (and long order / customer
 * ids) as JSON strings, and their contact digests no other person has (bodies are stored with contact data
 * hashed, pii.ts) —, `patterns` are regular expressions (valid in JavaScript and in Postgres) for ids as the
 * value of their own field: visitor ids no other person is linked to (`visitor_id`, Stripe metadata's `tx_vid`)
 * whatever their length (a visitor id "web" must not match every body naming that source), and order and
 * customer ids, string or number. Session ids are not searched: a session id is the client's and two persons
 * can share it (one till), and neither is a visitor id or digest another person holds too (a shared device, a
 * family's email): those bodies may be the other person's. A body found by one of the person's own ids is
 * theirs even when it also names someone else: erasure then removes that whole rejected body.
 */
export function rawSearch(ids: MatchIds): { needles: string[]; patterns: string[] } {
  const long = [ids.externalId, ...ids.orderIds].filter((x) => x.length >= SHORT_ID);
  const needles = [...ids.eventIds, ...long].map((x) => JSON.stringify(x));
  needles.push(...ownDigests(ids));
  const sharedVisitors = new Set(ids.sharedVisitorIds ?? []);
  const value = (x: string) => {
    const lit = reEscape(JSON.stringify(x));
    return /^-?[0-9]+$/.test(x) ? `(?:${lit}|${reEscape(x)}(?![0-9.eE]))` : lit;
  };
  const inField = (fields: string, values: string[]): string[] => {
    const out: string[] = [];
    const uniq = [...new Set(values)];
    for (let i = 0; i < uniq.length; i += PER_PATTERN) {
      out.push(`"(?:${fields})"\\s*:\\s*(?:${uniq.slice(i, i + PER_PATTERN).map(value).join('|')})`);
    }
    return out;
  };
  const patterns = [
    ...inField('external_id|customer_external_id', [ids.externalId]),
    ...inField('order_id', ids.orderIds),
    ...inField('visitor_id|tx_vid', ids.visitorIds.filter((v) => !sharedVisitors.has(v))),
  ];
  return { needles: [...new Set(needles)], patterns };
}

/** True when a raw (rejected) body is about the person (see rawSearch). */
export function rawMentions(raw: string, s: { needles: string[]; patterns: string[] }): boolean {
  return s.needles.some((n) => raw.includes(n)) || s.patterns.some((p) => new RegExp(p).test(raw));
}
