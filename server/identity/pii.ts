// Contact data never reaches storage in plaintext: `payload.customer.email` / `.phone` are replaced by the
// SHA-256 of their normalised form before validation, so the database, the spool and the rejected-events
// table only ever see digests. The same rewrite runs again on stored rows as a safety net (spool replays
// written by older versions).
import type { Ingest } from '../ingest/index.js';
import type { EventRow } from '../store/events.js';
import { isObj, type Obj } from '../store/rows.js';
import crypto from 'node:crypto';
import { truncateIp } from '../ingest/validate.js';
import { hashEmail, hashPhone } from './crypto.js';

/** Returns a customer object with email/phone replaced by email_sha256/phone_sha256, or null when unchanged. */
export function hashCustomer(customer: unknown): Obj | null {
  if (!isObj(customer)) return null;
  if (!('email' in customer) && !('phone' in customer)) return null;
  const out: Obj = { ...customer };
  if ('email' in out) {
    const e = out.email;
    delete out.email;
    if (typeof e === 'string') {
      const h = hashEmail(e);
      if (h) out.email_sha256 = h;
    }
  }
  if ('phone' in out) {
    const p = out.phone;
    delete out.phone;
    if (typeof p === 'string') {
      const h = hashPhone(p);
      if (h) out.phone_sha256 = h;
    }
  }
  return out;
}

/** Deeper than the validator's MAX_DEPTH (20): an event nested deeper is stored only as a placeholder. */
const PROTECT_DEPTH = 24;

/**
 * The raw event with contact data hashed wherever it sits: every `email` / `phone` field, at any depth (the
 * registry's only such fields are payload.customer's, so valid events are unchanged otherwise; an event
 * that will be rejected keeps no clear contact data in its stored raw body either). Copy on write: the input
 * is not modified and an event without contact data is returned as is.
 */
export function protectRawEvent(ev: unknown, depth = 0): unknown {
  if (depth > PROTECT_DEPTH || ev === null || typeof ev !== 'object') return ev;
  if (Array.isArray(ev)) {
    let out: unknown[] | null = null;
    ev.forEach((x, i) => {
      const y = protectRawEvent(x, depth + 1);
      if (y !== x) (out ??= [...ev])[i] = y;
    });
    return out ?? ev;
  }
  const obj = ev as Obj;
  let out: Obj | null = hashCustomer(obj);
  const base = out ?? obj;
  for (const [k, v] of Object.entries(base)) {
    if (v === null || typeof v !== 'object') continue;
    const y = protectRawEvent(v, depth + 1);
    if (y !== v) (out ??= { ...obj })[k] = y;
  }
  return out ?? ev;
}

/** Same rewrite on a normalised row, in place. */
export function protectRow(row: EventRow): void {
  const customer = hashCustomer(row.payload?.customer);
  if (customer) row.payload = { ...row.payload, customer };
}

const LOCAL = /[A-Z0-9._%+-]{1,64}$/i;
const DOMAIN = /[A-Z0-9-]{1,63}(?:\.[A-Z0-9-]{1,63}){0,8}\.[A-Z]{2,24}/iy;

/**
 * A body that is not even JSON cannot be rewritten field by field: email addresses in it are replaced by
 * digests. Linear on hostile input: only the few characters around each '@' are examined.
 */
export function scrubEmails(text: string): string {
  let out = '';
  let from = 0;
  for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', at + 1)) {
    if (at < from) continue;
    DOMAIN.lastIndex = at + 1;
    const domain = DOMAIN.exec(text);
    if (!domain) continue;
    const local = LOCAL.exec(text.slice(Math.max(from, at - 64), at));
    if (!local) continue;
    const start = at - local[0].length;
    const end = at + 1 + domain[0].length;
    out += text.slice(from, start) + `sha256:${hashEmail(text.slice(start, end))}`;
    from = end;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** A JSON `"email"` / `"phone"` field with a string or number value, found in text whatever the body's shape. */
const CONTACT_FIELD = /"(email|phone)"(\s*:\s*)("(?:[^"\\\n]|\\.)*"|-?[0-9][0-9.eE+-]{0,40})/g;
/** An international phone number in free text: "+", then 7 to 15 digits with single separators between them. */
const PHONE_TEXT = /(?<![0-9A-Za-z.])\+[ ]?[0-9](?:[ .()-]{0,2}[0-9]){6,14}(?![0-9])/g;

const literalValue = (lit: string): string => {
  if (!lit.startsWith('"')) return lit;
  try {
    return String(JSON.parse(lit));
  } catch {
    // An invalid escape: hash what was sent between the quotes; the digest still stands in for it.
    return lit.slice(1, -1);
  }
};

/**
 * A body stored as sent (a rejected batch of the wrong shape, bad JSON, a server event refused before
 * validation) keeps no clear contact data: `"email"` / `"phone"` fields anywhere become `"email_sha256"` /
 * `"phone_sha256"` digests (the same digests a person row holds, so erasure finds the body by them), and
 * email addresses and "+"-prefixed phone numbers in free text become `sha256:<digest>`. Works on text, so
 * neither the shape nor the nesting depth of the body matters, and it is linear in the body's length.
 * A phone number written without its "+" country prefix in free text cannot be told from other numbers
 * and is not recognised (README, GDPR).
 */
export function scrubBody(text: string): string {
  const fields = text
    .replace(CONTACT_FIELD, (_m, key: string, sep: string, lit: string) => {
      const v = literalValue(lit);
      const h = key === 'email' ? hashEmail(v) : hashPhone(v);
      return `"${key}_sha256"${sep}${h ? `"${h}"` : 'null'}`;
    })
    // As a stored event keeps them: names and postal codes only hashed (conversions' match keys), IPs truncated.
    .replace(NAME_FIELD, (_m, key: string, sep: string, lit: string) => `"${key}"${sep}"sha256:${sha256Hex(literalValue(lit).trim().toLowerCase())}"`)
    .replace(IP_FIELD, (_m, sep: string, lit: string) => {
      const ip = truncateIp(literalValue(lit).trim());
      return `"ip"${sep}${ip ? JSON.stringify(ip) : 'null'}`;
    });
  // A match too short for a phone digest once its zeros are dropped is still replaced, by the digest of its digits.
  return scrubEmails(fields).replace(PHONE_TEXT, (m) => `sha256:${hashPhone(m) ?? sha256Hex(m.replace(/[^0-9]/g, ''))}`);
}

/** Clear matching fields a stored event never keeps (conversions/match-keys.ts hashes and drops them). */
const NAME_FIELD = /"(first_name|last_name|zip)"(\s*:\s*)("(?:[^"\\\n]|\\.)*"|-?[0-9][0-9.eE+-]{0,40})/g;
/** A client IP, stored truncated (IPv4 /24, IPv6 /48) on accepted events (ingest/validate.ts). */
const IP_FIELD = /"ip"(\s*:\s*)("(?:[^"\\\n]|\\.)*")/g;
const sha256Hex = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

/** Wraps an Ingest so every path into it (public ingest, server events, webhooks) hashes contact data first. */
export function protectPii(ingest: Ingest): Ingest {
  return {
    ingest: (events, req, opts) => ingest.ingest(events.map(protectRawEvent), req, opts),
    recordBadBody: (tenantId, body, error) => ingest.recordBadBody(tenantId, scrubBody(body), error),
    metrics: () => ingest.metrics(),
  };
}
