// Recognising a person's data where it is not keyed by person: events in the spool (not yet stored) and
// rejected raw bodies (any shape, possibly not JSON). The SQL of the rejected-events eraser and the spool
// rewrite use the same search, so both remove the same bodies.
import type { EventRow } from '../store/events.js';
import { isObj } from '../store/rows.js';
import type { Spool, SpoolRecord } from '../store/spool.js';
import type { PersonIds } from './registry.js';

/**
 * Removes the person's events and rejected events from every spooled record; returns records changed.
 * Skipped when nothing is spooled. A segment can vanish under the rewrite when a replay finishes it at the
 * same moment (ENOENT): the rewrite is then simply repeated.
 */
export async function eraseFromSpool(spool: Spool, ids: PersonIds): Promise<number> {
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

/** Lookup sets over a person's ids, built once per erasure. */
export function matcher(ids: PersonIds) {
  const visitors = new Set(ids.visitorIds);
  const sessions = new Set(ids.sessionIds);
  const events = new Set(ids.eventIds);
  const orders = new Set(ids.orderIds);
  const search = rawSearch(ids);
  return {
    /** True when a stored or spooled row is part of the person's data. */
    event(e: EventRow): boolean {
      if (Number(e.tenant_id) !== ids.tenantId) return false;
      if (e.person_id !== null && e.person_id !== undefined && Number(e.person_id) === ids.personId) return true;
      if (e.visitor_id && visitors.has(e.visitor_id)) return true;
      if (e.session_id && sessions.has(e.session_id)) return true;
      if (events.has(e.event_id)) return true;
      const order = e.entities?.order_id;
      if ((typeof order === 'string' || typeof order === 'number') && orders.has(String(order))) return true;
      const customer = isObj(e.payload?.customer) ? e.payload.customer : null;
      if (customer && (String(customer.external_id) === ids.externalId || (ids.emailSha256 && customer.email_sha256 === ids.emailSha256))) return true;
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

/** Below this length an order or customer id is matched only as the value of its own field, not anywhere. */
const SHORT_ID = 8;
/** Ids per alternation in one pattern: a long alternation is "too complex" for Postgres' regex engine. */
const PER_PATTERN = 100;
const reEscape = (s: string) => s.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');

/**
 * How a raw (rejected) body is recognised as the person's, whatever its shape, by text search (the SQL
 * query and the spool use the same): `needles` are substrings — their event ids (and long order / customer
 * ids) as JSON strings, and their contact digests (bodies are stored with contact data hashed, pii.ts) —,
 * `patterns` are regular expressions (valid in JavaScript and in Postgres) for ids as the value of their own
 * field: visitor ids (`visitor_id`, Stripe metadata's `tx_vid`) and session ids (`session_id`, `tx_sid`) whatever
 * their length (a visitor id "web" or a session id "EUR" must not match every body naming that source or
 * currency), and order and customer ids, string or number. Ids of another person that happen to equal one of
 * these strings match too: erasure then removes that whole rejected body.
 */
export function rawSearch(ids: PersonIds): { needles: string[]; patterns: string[] } {
  const long = [ids.externalId, ...ids.orderIds].filter((x) => x.length >= SHORT_ID);
  const needles = [...ids.eventIds, ...long].map((x) => JSON.stringify(x));
  for (const h of [ids.emailSha256, ids.phoneSha256]) if (h) needles.push(h);
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
    ...inField('visitor_id|tx_vid', ids.visitorIds),
    ...inField('session_id|tx_sid', ids.sessionIds),
  ];
  return { needles: [...new Set(needles)], patterns };
}

/** True when a raw (rejected) body is about the person (see rawSearch). */
export function rawMentions(raw: string, s: { needles: string[]; patterns: string[] }): boolean {
  return s.needles.some((n) => raw.includes(n)) || s.patterns.some((p) => new RegExp(p).test(raw));
}
