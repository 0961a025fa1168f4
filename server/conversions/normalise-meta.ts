// Meta's normalisation of customer information before SHA-256 (Conversions API "Customer information
// parameters"; Meta's Node SDK src/objects/serverside/utils.js). Pure: each function returns the normalised
// text, or null when the value cannot be a valid one (nothing is sent rather than a digest Meta cannot match).
import { normalisePhone, sha256 } from '../identity/crypto.js';

const HEX64 = /^[a-f0-9]{64}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function metaEmail(raw: string): string | null {
  const e = raw.trim().toLowerCase();
  return EMAIL.test(e) ? e : null;
}

/**
 * Digits only with the country code (E.164 without the "+"); a national number takes the customer's country
 * ("0721 234 567" + RO → "40721234567") or is dropped. The identity domain's rule (identity/crypto.ts
 * normalisePhone), so a person's phone_sha256 equals their `ph`.
 */
export const metaPhone = normalisePhone;

/** Names: lower case, no punctuation or spaces; letters of any script kept as UTF-8 ("Valéry" → "valéry"). */
export function metaName(raw: string): string | null {
  const n = raw.normalize('NFC').trim().toLowerCase().replace(/[\p{P}\p{S}\s]/gu, '');
  return n.length > 0 ? n : null;
}

/** City: lower case without digits, spaces or punctuation ("New York" → "newyork"). */
export function metaCity(raw: string): string | null {
  const c = raw.normalize('NFC').trim().toLowerCase().replace(/[\p{P}\p{S}\s\d]/gu, '');
  return c.length > 0 ? c : null;
}

/** Zip: lower case, no spaces, the part before a dash ("94035-1234" → "94035", "M1 1AE" → "m11ae"). */
export function metaZip(raw: string): string | null {
  const z = raw.trim().toLowerCase().split('-')[0].replace(/\s/g, '');
  return z.length > 0 && /^[a-z0-9]+$/.test(z) ? z : null;
}

/** ISO 3166-1 alpha-2, lower case ("US" → "us"). */
export function metaCountry(raw: string): string | null {
  const c = raw.trim().toLowerCase();
  return /^[a-z]{2}$/.test(c) ? c : null;
}

export function metaExternalId(raw: string): string | null {
  const x = raw.trim().toLowerCase();
  return x.length > 0 ? x : null;
}

/** SHA-256 of the normalised value; a value that already is a lower-case digest is kept (the SDK's rule). */
export function metaHash(raw: unknown, normalise: (s: string) => string | null): string | null {
  if (typeof raw !== 'string' && typeof raw !== 'number') return null;
  const s = String(raw);
  if (HEX64.test(s)) return s;
  const n = normalise(s);
  return n === null ? null : sha256(n);
}
