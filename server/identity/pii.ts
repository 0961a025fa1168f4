// Contact data never reaches storage in plaintext: `payload.customer.email` / `.phone` are replaced by the
// SHA-256 of their normalised form before validation, so the database, the spool and the rejected-events
// table only ever see digests. The same rewrite runs again on stored rows as a safety net (spool replays
// written by older versions).
import type { Ingest } from '../ingest/index.js';
import type { EventRow } from '../store/events.js';
import { hashEmail, hashPhone } from './crypto.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

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

/** The raw event with its customer contact data hashed (a shallow copy; the input is not modified). */
export function protectRawEvent(ev: unknown): unknown {
  if (!isObj(ev) || !isObj(ev.payload)) return ev;
  const customer = hashCustomer(ev.payload.customer);
  if (!customer) return ev;
  return { ...ev, payload: { ...ev.payload, customer } };
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

/** Wraps an Ingest so every path into it (public ingest, server events, webhooks) hashes contact data first. */
export function protectPii(ingest: Ingest): Ingest {
  return {
    ingest: (events, req, opts) => ingest.ingest(events.map(protectRawEvent), req, opts),
    recordBadBody: (tenantId, body, error) => ingest.recordBadBody(tenantId, scrubEmails(body), error),
    metrics: () => ingest.metrics(),
  };
}
