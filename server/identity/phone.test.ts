// One phone rule for every digest of a phone: the person's phone_sha256 (identity, sent to Meta Custom
// Audiences by remarketing) and the Conversions API's `ph` match key are the same digest for the same
// number, following Meta's documented normalisation (E.164 digits with the country code, 7–15 digits; a
// national number takes the customer's country or gives no digest). The shared vectors below are checked against every path. Pure.
import { describe, expect, it } from 'vitest';
import { matchKeys } from '../conversions/match-keys.js';
import { metaHash, metaPhone } from '../conversions/normalise-meta.js';
import { hashPhone, normalisePhone, sha256 } from './crypto.js';
import { hashCustomer, scrubBody } from './pii.js';

/** [as sent, normalised text before SHA-256 (null: no digest)] */
export const PHONE_VECTORS: [string, string | null][] = [
  ['+40 721 234 567', '40721234567'],
  ['0040 721 234 567', '40721234567'],
  ['+0040 721 234 567', '40721234567'],
  ['+1 (616) 954-78 88', '16169547888'],
  ['tel:+40721234567', '40721234567'],
  ['  +44.7700.900123  ', '447700900123'],
  // A national number without a country cannot be made E.164: no digest on any path (it would match nobody).
  ['07700 900123', null],
  // "00" is the international prefix; a number left starting with 0 is not E.164.
  ['000 44 7700 900123', null],
  ['+40-721-234-567 ext 9', '407212345679'],
  ['1234567', '1234567'],
  ['123456', null],
  ['00 12345', null],
  ['1234567890123456', null],
  ['', null],
  ['no digits', null],
];

describe('phone normalisation: one rule, Meta\'s', () => {
  it.each(PHONE_VECTORS)('%j → %j on the identity path and the Conversions API path alike', (raw, want) => {
    expect(normalisePhone(raw)).toBe(want);
    expect(metaPhone(raw)).toBe(want);
    expect(hashPhone(raw)).toBe(want === null ? null : sha256(want));
    expect(metaHash(raw, metaPhone)).toBe(want === null ? null : sha256(want));
  });

  it('a person\'s phone_sha256 (Custom Audiences) equals the order\'s Meta `ph` match key (Conversions API)', () => {
    for (const [raw, want] of PHONE_VECTORS) {
      if (want === null) continue;
      expect(hashCustomer({ external_id: 'c1', phone: raw })!.phone_sha256).toBe(matchKeys({ phone: raw }).meta!.ph);
    }
  });

  it('with the country, a national number is the same digest as the international one, on every path', () => {
    expect(normalisePhone('07700 900123', 'GB')).toBe('447700900123');
    expect(hashPhone('07700 900123', 'GB')).toBe(hashPhone('+44 7700 900123'));
    expect(metaPhone('07700 900123', 'GB')).toBe(normalisePhone('07700 900123', 'GB'));
    expect(matchKeys({ phone: '07700 900123', country: 'GB' }).meta!.ph).toBe(hashPhone('+44 7700 900123'));
    expect(normalisePhone('07700 900123', 'ZZ')).toBeNull();
  });

  it('"07700 900123" and "+0040 721 234 567" no longer keep their leading zeros (they did: two digests for one number)', () => {
    expect(hashPhone('07700 900123')).not.toBe(sha256('07700900123'));
    expect(hashPhone('+0040 721 234 567')).toBe(hashPhone('+40 721 234 567'));
  });

  it('a "+" number in free text too short once its zeros are dropped is still replaced by a digest, never kept', () => {
    const out = scrubBody('note: call +00 12345 6');
    expect(out).not.toContain('12345');
    expect(out).toMatch(/sha256:[0-9a-f]{64}/);
  });
});

describe('phone normalisation in countries without a trunk prefix', () => {
  it.each([
    ['34612345678', 'ES', '34612345678'],
    ['612 345 678', 'ES', '34612345678'],
    ['393331234567', 'IT', '393331234567'],
    ['333 123 4567', 'IT', '393331234567'],
    ['06 1234 5678', 'IT', '390612345678'],
    // A Rome landline (06 + 7 digits) written with its code: 11 digits, and no Italian national number of 11 starts with 3.
    ['39061234567', 'IT', '39061234567'],
    ['3906123456789', 'IT', '3906123456789'],
    // An Italian mobile whose national number starts with the calling code's digits (393…) still gets the code.
    ['3931234567', 'IT', '393931234567'],
    ['351912345678', 'PT', '351912345678'],
    ['4512345678', 'DK', '4512345678'],
    ['12345678', 'DK', '4512345678'],
  ])('%j in %s is the E.164 digits %s, not the calling code twice', (raw, country, want) => {
    expect(normalisePhone(raw, country)).toBe(want);
    expect(hashPhone(raw, country)).toBe(hashPhone(`+${want}`));
  });
});
