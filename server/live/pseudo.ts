// Pseudonyms for the identifiers the live layer keeps (visitor, session, cart, order and event ids).
//
// Design (GDPR): toFact() replaces every such id with a keyed HMAC-SHA256 of it as the fact is built, so raw
// ids never reach the hot state, the Redis mirror (streams, checkout/completion sets, ticker, scans, HLLs and
// their exact visitor sets) or the pub/sub bus. The key is derived from the live token secret, which every
// node sharing a Redis must already share (the config requires LIVE_TOKEN_SECRET with REDIS_URL), so all nodes
// compute the same pseudonym for the same id and their counts, checkouts and completions keep matching. The
// live layer only ever compares ids for equality, so nothing else changes.
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

/** A pseudonymizer that remembers recent visitor, session, cart and order pseudonyms; forget() drops them. */
export type MemoPseudonymizer = Pseudonymizer & { forget(): void };

/** Remembered pseudonyms at most (≈100 bytes each); the memory starts again empty when full. */
const MEMO_MAX = 20_000;

/**
 * Pseudonymizer keyed by a key derived from `secret` (the live token secret), never by the secret itself.
 * A visitor's or session's id comes with each of its events: its HMAC was a twentieth of the ingest thread, so
 * recent ones are remembered (never event ids, which come once). The memory holds raw ids in this process
 * only; erasure's rebuild calls forget() so none of an erased person's stays.
 */
export function createPseudonymizer(secret: string): MemoPseudonymizer {
  const key = crypto.createHmac('sha256', secret).update(DOMAIN).digest();
  let memo = new Map<string, string>();
  const hmac = (input: string) => crypto.createHmac('sha256', key).update(input).digest('base64url').slice(0, 22);
  const fn: Pseudonymizer = (tenant, kind, raw) => {
    // Event ids are UUIDs, stored lowercased; the person's ids come back from the store in that form too.
    if (kind === 'event') return hmac(`${tenant}\u0000${kind}\u0000${raw.toLowerCase()}`);
    const input = `${tenant}\u0000${kind}\u0000${raw}`;
    let out = memo.get(input);
    if (out === undefined) {
      if (memo.size >= MEMO_MAX) memo = new Map();
      out = hmac(input);
      memo.set(input, out);
    }
    return out;
  };
  return Object.assign(fn, { forget: () => void (memo = new Map()) });
}
