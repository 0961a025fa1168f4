// TikTok Events API 1.3 identifiers: email lower-cased, phone as "+" and digits (E.164), external_id trimmed
// and lower-cased, each SHA-256 (Segment's production TikTok destination, formatter.ts; README notes the "+"
// should be checked in TikTok's Test Events before relying on phone matching). Pure.
import { sha256 } from '../identity/crypto.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function tiktokEmail(raw: string): string | null {
  const e = raw.trim().toLowerCase();
  return EMAIL.test(e) ? e : null;
}

export function tiktokPhone(raw: string): string | null {
  const t = raw.trim();
  let digits = t.replace(/[^0-9]/g, '');
  if (!t.startsWith('+') && digits.startsWith('00')) digits = digits.slice(2);
  return digits.length >= 7 && digits.length <= 15 ? `+${digits}` : null;
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
