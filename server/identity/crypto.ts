// Hashing and encryption for personal data and tenant secrets: SHA-256 of normalised contact data,
// AES-256-GCM for secrets (ENCRYPTION_KEY), and the key's resolution at boot.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { persistedSecret } from '../config/secrets.js';
import type { Config } from '../config/index.js';

export const sha256 = (s: string): string => crypto.createHash('sha256').update(s, 'utf8').digest('hex');

/** Emails are trimmed and lower-cased before hashing (the rule Meta, Google and TikTok use for matching). */
export function normaliseEmail(raw: string): string | null {
  const e = raw.trim().toLowerCase();
  return e.length > 0 && e.includes('@') ? e : null;
}

/**
 * Calling code and national trunk prefix per country (ISO 3166-1 alpha-2) for the countries whose national
 * format we turn into E.164 (ITU-T E.164 assignments; trunk prefixes as dialled nationally: "0721 234 567" in
 * RO is +40 721 234 567). An empty trunk: the country has none, a national number is the whole number after
 * the calling code ("06 1234 5678" in IT is +39 06 1234 5678). Countries not listed: only numbers written
 * with their country code ("+", "00", or digits not starting with 0) are kept. For a country without a trunk
 * prefix the third value is its longest national number that can start with the calling code's digits: there
 * the digits alone do not say whether the code is already in front ("34612345678" + ES), their length does
 * (Spanish national numbers have 9 digits; Italian ones up to 11, but those start with 0: one starting with 3,
 * a mobile, has at most 10).
 */
export const CALLING_CODES: Readonly<Record<string, readonly [code: string, trunk: string, maxNational?: number]>> = {
  RO: ['40', '0'], MD: ['373', '0'], BG: ['359', '0'], HU: ['36', '06'], RS: ['381', '0'], HR: ['385', '0'], SI: ['386', '0'],
  SK: ['421', '0'], CZ: ['420', '', 9], PL: ['48', '', 9], UA: ['380', '0'], GR: ['30', '', 10], TR: ['90', '0'],
  GB: ['44', '0'], IE: ['353', '0'], DE: ['49', '0'], AT: ['43', '0'], CH: ['41', '0'], FR: ['33', '0'], BE: ['32', '0'],
  NL: ['31', '0'], LU: ['352', '', 11], ES: ['34', '', 9], PT: ['351', '', 9], IT: ['39', '', 10], SE: ['46', '0'], DK: ['45', '', 8],
  NO: ['47', '', 8], FI: ['358', '0'], US: ['1', '1'], CA: ['1', '1'], AU: ['61', '0'], NZ: ['64', '0'], IL: ['972', '0'],
};

/**
 * Phones before SHA-256: the number in E.164, as digits (the "+" is added by the platforms that want it,
 * conversions/normalise-google.ts and normalise-tiktok.ts), or null when it cannot be made E.164. Meta's
 * documented `ph` rule (Customer information parameters; digits only with the country code) and the one
 * phone rule: the person's phone_sha256 (sent to Meta Custom Audiences) and the Conversions API's `ph`
 * (conversions/normalise-meta.ts metaPhone is this function) are the same digest for the same number.
 * - "+" or "00" first: international; symbols and letters go, and leading zeros after the "+" ("+0040").
 * - otherwise, with the customer's `country` (ISO alpha-2) in CALLING_CODES: a national number (its trunk
 *   prefix, or any number in a country without one) gets the country's calling code ("0721 234 567" + RO →
 *   40721234567); digits already starting with the calling code are kept ("40721234567" + RO), and in a
 *   country without a trunk prefix only when longer than its national numbers ("34612345678" + ES is kept,
 *   "612345678" + ES and the Italian mobile "3931234567" + IT get the code).
 * - otherwise digits not starting with 0 are taken as written with their country code ("16165551212").
 * A national number ("07700 900123") without a known country gives null: no digest rather than one of the
 * wrong number, which no platform can match. 7–15 digits, not starting with 0.
 */
export function normalisePhone(raw: string, country?: unknown): string | null {
  const t = raw.trim();
  const all = t.replace(/[^0-9]/g, '');
  const plus = /^[^0-9]*\+/.test(t);
  let digits: string;
  if (plus) digits = all.replace(/^0{1,2}/, '');
  else if (all.startsWith('00')) digits = all.slice(2);
  else {
    const known = typeof country === 'string' ? CALLING_CODES[country.trim().toUpperCase()] : undefined;
    if (!known) digits = all;
    else digits = withCallingCode(all, known);
  }
  return digits.length >= 7 && digits.length <= 15 && !digits.startsWith('0') ? digits : null;
}

function withCallingCode(all: string, [code, trunk, maxNational]: readonly [string, string, number?]): string {
  if (trunk) {
    if (all.startsWith(trunk)) return code + all.slice(trunk.length);
    return all.startsWith(code) ? all : code + all;
  }
  // No trunk prefix: a national number may itself start with the code's digits (Italian mobiles 39x), so only
  // a number longer than any national one is taken as already carrying the code.
  return maxNational !== undefined && all.length > maxNational && all.startsWith(code) ? all : code + all;
}

export const hashEmail = (raw: string): string | null => {
  const n = normaliseEmail(raw);
  return n === null ? null : sha256(n);
};
export const hashPhone = (raw: string, country?: unknown): string | null => {
  const n = normalisePhone(raw, country);
  return n === null ? null : sha256(n);
};

/** Digest used by tombstones: enough to recognise an id again, never to read it back. */
export const idDigest = (tenantId: number, kind: string, id: string | number): string => sha256(`${tenantId}:${kind}:${String(id)}`);

// ---------------------------------------------------------------------------------------------------------
// AES-256-GCM
// ---------------------------------------------------------------------------------------------------------

export class EncryptionUnavailableError extends Error {
  constructor() {
    super('ENCRYPTION_KEY is not set: secrets cannot be stored. Set ENCRYPTION_KEY (64 hex characters, e.g. `openssl rand -hex 32`) on every node.');
    this.name = 'EncryptionUnavailableError';
  }
}

export interface Cipher {
  readonly available: boolean;
  /** Short fingerprint of the key (not secret), stored with each ciphertext. */
  readonly keyId: string | null;
  encrypt(plaintext: string, aad: string): string;
  decrypt(ciphertext: string, aad: string): string;
}

export function parseKey(raw: string): Buffer | null {
  const s = raw.trim();
  if (/^[0-9a-f]{64}$/i.test(s)) return Buffer.from(s, 'hex');
  // Buffer.from never throws on a string: it skips what is not base64 (so no try/catch), hence the alphabet
  // check: "not base64" is the alphabet or the length, either way null below.
  const b = Buffer.from(s, 'base64');
  if (b.length === 32 && /^[A-Za-z0-9+/_-]+=*$/.test(s)) return b;
  return null;
}

export function createCipher(key: Buffer | null): Cipher {
  if (!key) {
    return {
      available: false,
      keyId: null,
      encrypt() {
        throw new EncryptionUnavailableError();
      },
      decrypt() {
        throw new EncryptionUnavailableError();
      },
    };
  }
  const keyId = crypto.createHash('sha256').update(key).digest('hex').slice(0, 8);
  return {
    available: true,
    keyId,
    // Format: v1.<keyId>.<iv>.<tag>.<ciphertext> (base64url); the AAD binds a ciphertext to its owner and purpose.
    encrypt(plaintext, aad) {
      const iv = crypto.randomBytes(12);
      const c = crypto.createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(Buffer.from(aad, 'utf8'));
      const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
      return ['v1', keyId, iv.toString('base64url'), c.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
    },
    decrypt(ciphertext, aad) {
      const [v, kid, iv, tag, ct] = ciphertext.split('.');
      if (v !== 'v1' || !iv || !tag || ct === undefined) throw new Error('unrecognised ciphertext format');
      if (kid !== keyId) throw new Error(`secret was encrypted with another ENCRYPTION_KEY (key id ${kid}, current ${keyId}); set it again`);
      const d = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      d.setAAD(Buffer.from(aad, 'utf8'));
      d.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
    },
  };
}

/**
 * ENCRYPTION_KEY when set; on the embedded store a key generated once into DATA_DIR/encryption-key (like the
 * admin token). With DATABASE_URL every node must share the key, so none is generated: features that store
 * secrets answer with a clear error until it is set.
 */
export function resolveEncryptionKey(config: Config, log: Logger): Buffer | null {
  if (config.encryptionKey) return parseKey(config.encryptionKey);
  if (config.databaseUrl) {
    log.warn('ENCRYPTION_KEY is not set: Stripe webhook secrets cannot be stored until it is (64 hex characters, the same on every node)');
    return null;
  }
  const key = parseKey(persistedSecret(config.dataDir, 'encryption-key', 32, 'ENCRYPTION_KEY', log));
  if (!key) log.error('DATA_DIR/encryption-key is not a valid 32-byte key; secrets cannot be decrypted');
  return key;
}
