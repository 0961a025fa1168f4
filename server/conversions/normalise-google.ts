// Google's normalisation for hashed user identifiers (Google Ads enhanced conversions and the Data Manager
// API formatting guidelines): trim and lower-case; dots removed from the local part of gmail.com and
// googlemail.com addresses; phone numbers in E.164 *with* the "+"; names hashed; city, region, postal code
// and country are sent in clear, so they are not handled here. Pure.
import { normalisePhone, sha256 } from '../identity/crypto.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function googleEmail(raw: string): string | null {
  const e = raw.trim().toLowerCase();
  if (!EMAIL.test(e)) return null;
  const at = e.lastIndexOf('@');
  const domain = e.slice(at + 1);
  return domain === 'gmail.com' || domain === 'googlemail.com' ? `${e.slice(0, at).replaceAll('.', '')}@${domain}` : e;
}

/**
 * E.164: "+", the country code and the number, nothing else ("+1 (212) 565-0000" → "+12125650000"); a
 * national number takes the customer's country (identity/crypto.ts normalisePhone, the one phone rule), and
 * one that cannot be made E.164 is dropped.
 */
export function googlePhone(raw: string, country?: unknown): string | null {
  const n = normalisePhone(raw, country);
  return n === null ? null : `+${n}`;
}

export function googleName(raw: string): string | null {
  const n = raw.normalize('NFC').trim().toLowerCase();
  return n.length > 0 ? n : null;
}

export function googleHash(raw: unknown, normalise: (s: string) => string | null): string | null {
  if (typeof raw !== 'string' && typeof raw !== 'number') return null;
  const n = normalise(String(raw));
  return n === null ? null : sha256(n);
}
