// Pseudonyms for the identifiers the live layer keeps (visitor, session, cart, order and event ids).
//
// Design (GDPR): toFact() replaces every such id with a keyed HMAC-SHA256 of it as the fact is built, so raw
// ids never reach the hot state, the Redis mirror (streams, checkout/completion sets, ticker, scans, HLLs)
// or the pub/sub bus. The key is derived from the live token secret, which every node sharing a Redis must
// already share (the config requires LIVE_TOKEN_SECRET with REDIS_URL), so all nodes compute the same
// pseudonym for the same id and their counts, checkouts and completions keep matching. The live layer only
// ever compares ids for equality, so nothing else changes.
//
// Erasure (erase.ts) rebuilds the tenant's live state from the store, which no longer holds the person's
// rows: none of their pseudonyms is left anywhere, and no count includes them.
//
// Caveat: rotating LIVE_TOKEN_SECRET changes every pseudonym. Entries written before the rotation (at most
// the current UTC day) are then counted apart from new ones for unique visitors (an erasure still removes
// them: it rebuilds the tenant from the store with the current secret).
import crypto from 'node:crypto';

export type IdKind = 'visitor' | 'session' | 'cart' | 'order' | 'event';

/** Pseudonym of one id of a tenant: 22 base64url characters (128 bits of HMAC-SHA256). */
export type Pseudonymizer = (tenant: number, kind: IdKind, raw: string) => string;

const DOMAIN = 'tixello-live/id-pseudonym/v1';

/** Pseudonymizer keyed by a key derived from `secret` (the live token secret), never by the secret itself. */
export function createPseudonymizer(secret: string): Pseudonymizer {
  const key = crypto.createHmac('sha256', secret).update(DOMAIN).digest();
  return (tenant, kind, raw) => {
    // Event ids are UUIDs, stored lowercased; the person's ids come back from the store in that form too.
    const v = kind === 'event' ? raw.toLowerCase() : raw;
    return crypto.createHmac('sha256', key).update(`${tenant}\u0000${kind}\u0000${v}`).digest('base64url').slice(0, 22);
  };
}
