// Per-provider hashes of the buyer's contact data, computed at ingest (README "Server-side conversions",
// item 9). The identity domain replaces email/phone by one digest before anything is stored (identity/pii.ts);
// that digest follows Meta's rules, and Google (E.164 with "+", gmail dots) and TikTok ("+" phone) hash other
// texts, which cannot be derived from it later. So, while the plaintext is still in the request, this wrapper
// adds `payload.customer.match_keys` = {meta, google, tiktok}: digests only, never the clear values. Names and
// postal codes sent for matching (first_name, last_name, zip) are hashed the same way and their clear values
// dropped. Only for the events a destination can receive, and only with marketing or data-processing consent.
import type { Ingest } from '../ingest/index.js';
import { isObj, type Obj } from '../store/rows.js';
import { googleEmail, googleHash, googleName, googlePhone } from './normalise-google.js';
import { metaCity, metaCountry, metaEmail, metaExternalId, metaHash, metaName, metaPhone, metaZip } from './normalise-meta.js';
import { tiktokEmail, tiktokExternalId, tiktokHash, tiktokPhone } from './normalise-tiktok.js';

/** The tx events a tracking code may list in conversion_events. */
export const CONVERSION_EVENTS = ['order_completed', 'add_to_cart', 'checkout_started', 'event_view'] as const;
const NAMES = new Set<string>(CONVERSION_EVENTS);
/** Clear-text matching fields that go once hashed. */
const CLEAR_FIELDS = ['first_name', 'last_name', 'zip'];

export type MatchKeys = Record<'meta' | 'google' | 'tiktok', Record<string, string>>;

const compact = (o: Record<string, string | null>): Record<string, string> =>
  Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => e[1] !== null));

/** Digests per provider from a customer object (clear values); empty providers are left out. Pure. */
export function matchKeys(c: Obj): Partial<MatchKeys> {
  // A national-format phone is made E.164 with the customer's country (ISO alpha-2), or dropped for every platform.
  const phone = (rule: (raw: string, country?: unknown) => string | null) => (raw: string) => rule(raw, c.country);
  const meta = compact({
    em: metaHash(c.email, metaEmail), ph: metaHash(c.phone, phone(metaPhone)), fn: metaHash(c.first_name, metaName), ln: metaHash(c.last_name, metaName),
    ct: metaHash(c.city, metaCity), zp: metaHash(c.zip, metaZip), country: metaHash(c.country, metaCountry), external_id: metaHash(c.external_id, metaExternalId),
  });
  const google = compact({
    em: googleHash(c.email, googleEmail), ph: googleHash(c.phone, phone(googlePhone)), fn: googleHash(c.first_name, googleName), ln: googleHash(c.last_name, googleName),
  });
  // Stored as em/ph, never "email"/"phone": protectPii hashes any field of those names wherever it sits.
  const tiktok = compact({ em: tiktokHash(c.email, tiktokEmail), ph: tiktokHash(c.phone, phone(tiktokPhone)), external_id: tiktokHash(c.external_id, tiktokExternalId) });
  const out: Partial<MatchKeys> = {};
  if (Object.keys(meta).length) out.meta = meta;
  if (Object.keys(google).length) out.google = google;
  if (Object.keys(tiktok).length) out.tiktok = tiktok;
  return out;
}

const consented = (ev: Obj, payload: Obj): boolean => {
  const snap = isObj(ev.consent_snapshot) ? ev.consent_snapshot : {};
  return payload.consent_marketing === true || payload.consent_data_processing === true || snap.marketing === true || snap.data_processing === true;
};

/** The raw event with match_keys added to payload.customer (copy on write; anything else is returned as is). Pure. */
export function withKeys(ev: unknown): unknown {
  if (!isObj(ev) || typeof ev.event_name !== 'string' || !NAMES.has(ev.event_name)) return ev;
  const payload = ev.payload;
  if (!isObj(payload) || !isObj(payload.customer)) return ev;
  const customer: Obj = { ...payload.customer };
  delete customer.match_keys; // only this server computes them
  const keys = consented(ev, payload) ? matchKeys(customer) : {};
  for (const f of CLEAR_FIELDS) delete customer[f];
  if (Object.keys(keys).length) customer.match_keys = keys;
  return { ...ev, payload: { ...payload, customer } };
}

/** Wraps the PII-protected ingest: every path into it (public, server events, webhooks) gets match keys first. */
export function withMatchKeys(ingest: Ingest): Ingest {
  return {
    ingest: (events, req, opts) => ingest.ingest(events.map(withKeys), req, opts),
    recordBadBody: (tenantId, body, error) => ingest.recordBadBody(tenantId, body, error),
    metrics: () => ingest.metrics(),
  };
}
