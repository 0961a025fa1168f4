// Unit tests: contact-data normalisation and hashing, the ingest PII wrapper, AES-256-GCM secrets, config.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../server/config/index.js';
import { createCipher, normaliseEmail, normalisePhone, parseKey, resolveEncryptionKey } from '../server/identity/crypto.js';
import { protectRawEvent, scrubEmails } from '../server/identity/pii.js';
import { silent, tmpDir } from './helpers.js';

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

describe('contact data', () => {
  it('normalises emails and phones the way ad platforms match them', () => {
    expect(normaliseEmail('  Ana.Pop@Example.COM ')).toBe('ana.pop@example.com');
    expect(normaliseEmail('not-an-email')).toBeNull();
    expect(normalisePhone('+40 (721) 000-111')).toBe('40721000111');
    expect(normalisePhone('0040 721 000 111')).toBe('40721000111');
    expect(normalisePhone('12')).toBeNull();
  });

  it('replaces customer email/phone by digests before anything else sees the event', () => {
    const ev = { event_name: 'order_completed', payload: { customer: { external_id: 7, email: 'A@B.io', phone: '+1 555 0100', city: 'X' } } };
    const out = protectRawEvent(ev) as any;
    expect(out.payload.customer).toEqual({ external_id: 7, city: 'X', email_sha256: sha('a@b.io'), phone_sha256: sha('15550100') });
    expect(ev.payload.customer.email).toBe('A@B.io'); // the input is not mutated
    expect(protectRawEvent({ payload: { customer: { external_id: 1, email: 42 } } })).toEqual({ payload: { customer: { external_id: 1 } } });
    expect(scrubEmails('{"events":[{"email":"Jo@Ex.org",')).toBe(`{"events":[{"email":"sha256:${sha('jo@ex.org')}",`);
  });
});

describe('secrets', () => {
  const key = crypto.randomBytes(32);
  it('round-trips with AES-256-GCM, bound to its owner, and refuses another key', () => {
    const c = createCipher(key);
    const ct = c.encrypt('whsec_abc', 'tenant:1:x');
    expect(ct).not.toContain('whsec');
    expect(c.decrypt(ct, 'tenant:1:x')).toBe('whsec_abc');
    expect(() => c.decrypt(ct, 'tenant:2:x')).toThrow();
    const tampered = ct.slice(0, -2) + (ct.endsWith('A') ? 'BB' : 'AA');
    expect(() => c.decrypt(tampered, 'tenant:1:x')).toThrow();
    expect(() => createCipher(crypto.randomBytes(32)).decrypt(ct, 'tenant:1:x')).toThrow(/another ENCRYPTION_KEY/);
    expect(createCipher(null).available).toBe(false);
    expect(() => createCipher(null).encrypt('x', 'y')).toThrow(/ENCRYPTION_KEY/);
  });

  it('accepts hex or base64 keys and generates one once into DATA_DIR on the embedded store', () => {
    expect(parseKey(key.toString('hex'))?.equals(key)).toBe(true);
    expect(parseKey(key.toString('base64'))?.equals(key)).toBe(true);
    expect(parseKey('short')).toBeNull();
    // Not base64 is null, never a throw: a character outside the alphabet (skipped by the decoder, which would
    // still give 32 bytes) or text that decodes to another length.
    const b64 = key.toString('base64');
    expect(parseKey(`${b64.slice(0, 10)}*${b64.slice(10)}`)).toBeNull();
    expect(parseKey('!'.repeat(44))).toBeNull();
    expect(parseKey(key.toString('base64url'))?.equals(key)).toBe(true);
    const dir = tmpDir();
    const cfg = loadConfig({ DATA_DIR: dir });
    const k1 = resolveEncryptionKey(cfg, silent)!;
    expect(fs.readFileSync(path.join(dir, 'encryption-key'), 'utf8').trim()).toBe(k1.toString('hex'));
    expect(resolveEncryptionKey(cfg, silent)!.equals(k1)).toBe(true);
    // With DATABASE_URL nothing is generated: every node must share the configured key.
    expect(resolveEncryptionKey(loadConfig({ DATA_DIR: dir, DATABASE_URL: 'postgres://h/db', ADMIN_TOKEN: 'x'.repeat(16) }), silent)).toBeNull();
  });

  it('validates ENCRYPTION_KEY and the retention settings', () => {
    expect(() => loadConfig({ ENCRYPTION_KEY: 'nope' })).toThrow(ConfigError);
    expect(loadConfig({ ENCRYPTION_KEY: 'ab'.repeat(32) }).encryptionKey).toBe('ab'.repeat(32));
    expect(loadConfig({}).retentionMonths).toBe(24);
    expect(loadConfig({}).retentionIntervalS).toBe(3600);
    expect(() => loadConfig({ RETENTION_MONTHS: '0' })).toThrow(ConfigError);
  });
});
