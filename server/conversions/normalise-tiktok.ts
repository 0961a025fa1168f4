// TikTok Events API 1.3 identifiers: email lower-cased, phone as "+" and digits (E.164), external_id trimmed
// and lower-cased, each SHA-256 (Segment's production TikTok destination, formatter.ts; README notes the "+"
// should be checked in TikTok's Test Events before relying on phone matching). Pure.
import { normalisePhone, sha256 } from '../identity/crypto.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function tiktokEmail(raw: string): string | null {
  const e = raw.trim().toLowerCase();
  return EMAIL.test(e) ? e : null;
}

/** E.164 with the "+": the one phone rule (identity/crypto.ts normalisePhone) with the customer's country. */
export function tiktokPhone(raw: string, country?: unknown): string | null {
  const n = normalisePhone(raw, country);
  return n === null ? null : `+${n}`;
}

export function tiktokExternalId(raw: string): string | null {
  const x = raw.trim().toLowerCase();
  return x.length > 0 ? x : null;
}

export function tiktokHash(raw: unknown, normalise: (s: string) => string | null): string | null {
  if (typeof raw !== 'string' && typeof raw !== 'number') return null;
  const n = normalise(String(raw));
  return n === null ? null : sha256(n);
}
