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
 * Phones before SHA-256, by Meta's documented rule (Customer information parameters `ph`; its Node SDK's
 * normalizePhone): digits only (symbols, letters and "+" go), then up to two leading zeros dropped (an
 * international "00" prefix, or a national trunk "0"), 7–15 digits or none. The one phone rule: the person's
 * phone_sha256 (sent to Meta Custom Audiences) and the Conversions API's `ph` (conversions/normalise-meta.ts
 * metaPhone is this function) are the same digest for the same number. A number without its country code
 * ("07700 900123") hashes as "7700900123", which Meta cannot match: send phones with their country code.
 */
export function normalisePhone(raw: string): string | null {
  const digits = raw.replace(/[^0-9]/g, '').replace(/^0{1,2}/, '');
  return digits.length >= 7 && digits.length <= 15 ? digits : null;
}

export const hashEmail = (raw: string): string | null => {
  const n = normaliseEmail(raw);
  return n === null ? null : sha256(n);
};
export const hashPhone = (raw: string): string | null => {
  const n = normalisePhone(raw);
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
  try {
    const b = Buffer.from(s, 'base64');
    if (b.length === 32 && /^[A-Za-z0-9+/_-]+=*$/.test(s)) return b;
  } catch {
    /* not base64 */
  }
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
