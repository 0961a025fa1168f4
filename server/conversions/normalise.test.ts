// The providers' published normalisation examples, with digests computed independently (Python hashlib).
import { describe, expect, it } from 'vitest';
import { googleEmail, googleHash, googleName, googlePhone } from './normalise-google.js';
import { metaCity, metaCountry, metaEmail, metaExternalId, metaHash, metaName, metaPhone, metaZip } from './normalise-meta.js';
import { tiktokEmail, tiktokExternalId, tiktokHash, tiktokPhone } from './normalise-tiktok.js';
import { matchKeys, withKeys } from './match-keys.js';

describe('Meta normalisation (Customer information parameters)', () => {
  it('email: trimmed, lower case; the published example digest', () => {
    expect(metaEmail('  John_Smith@gmail.com ')).toBe('john_smith@gmail.com');
    expect(metaHash('John_Smith@gmail.com', metaEmail)).toBe('62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f');
    expect(metaEmail('not an email')).toBeNull();
  });
  it('phone: digits only, with the country code, no "+" and no leading zeros', () => {
    expect(metaPhone('+1 (616) 954-78 88')).toBe('16169547888');
    expect(metaPhone('0040 721 234 567')).toBe('40721234567');
    expect(metaHash('+1 (616) 954-78 88', metaPhone)).toBe('bb2fa2e6d2cea4746530c99686d0c7886ab2019875dca2d7e9e171c0e6ada00d');
    expect(metaPhone('12')).toBeNull();
    expect(metaPhone('0721 234 567', 'RO')).toBe('40721234567');
    expect(metaHash('0721 234 567', (p) => metaPhone(p, 'RO'))).toBe('199e1b4016e608f916950c57efa5810cc73cbcb6d805f16f37c982c090696d04');
    expect(metaPhone('0721 234 567')).toBeNull(); // no country: "721234567" would match nobody
    expect(metaPhone('06 20 123 4567', 'HU')).toBe('36201234567'); // trunk "06"
  });
  it('names keep non-Roman letters, lose punctuation; city, zip, country as documented', () => {
    expect(metaName('Valéry')).toBe('valéry');
    expect(metaHash('Valéry', metaName)).toBe('08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c');
    expect(metaName('정')).toBe('정');
    expect(metaName("O'Neil")).toBe('oneil');
    expect(metaCity('New York')).toBe('newyork');
    expect(metaHash('New York', metaCity)).toBe('350c754ba4d38897693aa077ef43072a859d23f613443133fecbbd90a3512ca5');
    expect(metaZip('94035-1234')).toBe('94035');
    expect(metaZip('M1 1AE')).toBe('m11ae');
    expect(metaHash('M1 1AE', metaZip)).toBe('1dc694c2070e697769fb959b50671d76cafd430d8ca191fbdd0affcaea344ac5');
    expect(metaCountry('US')).toBe('us');
    expect(metaCountry('USA')).toBeNull();
    expect(metaExternalId(' Cust-42 ')).toBe('cust-42');
  });
  it('a value that already is a digest is not hashed again (the SDK rule)', () => {
    const d = '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f';
    expect(metaHash(d, metaEmail)).toBe(d);
  });
});

describe('Google normalisation (enhanced conversions, Data Manager)', () => {
  it('phone in E.164 with the "+"', () => {
    expect(googlePhone('+1 (212) 565-0000')).toBe('+12125650000');
    expect(googleHash('+1 212 565 0000', googlePhone)).toBe('d360a79e746532a6a1e7b8164440b04cdd8797e23126f7a4de7a4b67fdcdba98');
    expect(googlePhone('0040721234567')).toBe('+40721234567');
    expect(googlePhone('0721234567')).toBeNull();
    expect(googlePhone('0721234567', 'RO')).toBe('+40721234567');
    expect(googlePhone('(212) 565-0000', 'US')).toBe('+12125650000');
    expect(googlePhone('1 212 565 0000', 'US')).toBe('+12125650000');
    expect(googlePhone('06 1234 5678', 'IT')).toBe('+390612345678'); // no trunk prefix: the 0 is part of the number
  });
  it('dots removed from gmail.com and googlemail.com local parts only', () => {
    expect(googleEmail('John.Smith@Gmail.com')).toBe('johnsmith@gmail.com');
    expect(googleHash('john.smith@gmail.com', googleEmail)).toBe('3586de92bb3636d0885a12eff961429a32e4ebd764b96f50d85d016f9338d586');
    expect(googleEmail('j.s@googlemail.com')).toBe('js@googlemail.com');
    expect(googleEmail('john.smith@example.com')).toBe('john.smith@example.com');
    expect(googleName(' Mary ')).toBe('mary');
  });
});

describe('TikTok normalisation', () => {
  it('email lower case, phone "+" and digits, external_id trimmed and lower case', () => {
    expect(tiktokEmail(' A@B.co ')).toBe('a@b.co');
    expect(tiktokPhone('+1 (616) 954-78 88')).toBe('+16169547888');
    expect(tiktokHash('+1 (616) 954-78 88', tiktokPhone)).toBe('0a36809ca24463df1133c40c2e2fa2b7f180038fe7d86bd1923a32a1a54dfe58');
    expect(tiktokExternalId(' ABC ')).toBe('abc');
    expect(tiktokPhone('0721 234 567')).toBeNull(); // was "+0721234567", not E.164
    expect(tiktokPhone('0721 234 567', 'RO')).toBe('+40721234567');
  });
});

describe('match keys at ingest', () => {
  const customer = { external_id: 'C1', email: 'John.Smith@gmail.com', phone: '+1 (616) 954-78 88', city: 'New York', first_name: 'Mary', zip: 'M1 1AE', country: 'US' };
  it('differ per provider where the providers differ', () => {
    const k = matchKeys(customer);
    expect(k.meta!.ph).toBe('bb2fa2e6d2cea4746530c99686d0c7886ab2019875dca2d7e9e171c0e6ada00d');
    expect(k.tiktok!.ph).toBe('0a36809ca24463df1133c40c2e2fa2b7f180038fe7d86bd1923a32a1a54dfe58');
    expect(k.google!.em).toBe('3586de92bb3636d0885a12eff961429a32e4ebd764b96f50d85d016f9338d586');
    expect(k.meta!.em).not.toBe(k.google!.em);
    expect(k.meta!.fn).toBe('6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec');
    expect(k.meta!.country).toBe('79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621');
  });
  it('a national-format phone takes the customer\'s country (E.164), and is dropped for every platform without one', () => {
    // sha256 of "40721234567" (Meta) and of "+40721234567" (Google, TikTok), computed with Python hashlib.
    const ro = matchKeys({ phone: '0721 234 567', country: 'RO' });
    expect(ro.meta!.ph).toBe('199e1b4016e608f916950c57efa5810cc73cbcb6d805f16f37c982c090696d04');
    expect(ro.google!.ph).toBe('bc4d7e7d07c12f4ef1c15e16cbdf0c19868e561bff2f2a5a14ba770f97220d67');
    expect(ro.tiktok!.ph).toBe('bc4d7e7d07c12f4ef1c15e16cbdf0c19868e561bff2f2a5a14ba770f97220d67');
    // The wrong digests the local format used to give: no country code (Meta), not E.164 (TikTok).
    expect(ro.meta!.ph).not.toBe('55cb47eeb976fd6fb65eed23774573bf224730824b6ae37ea6c28d010bd1e830');
    expect(ro.tiktok!.ph).not.toBe('51882f8053c977a48b8cd68cc850518088fb0eb292d10a93e7ac3ae379fe4369');
    // The same number written internationally gives the same digests, whatever the country.
    const intl = matchKeys({ phone: '+40 721 234 567', country: 'GB' });
    expect([intl.meta!.ph, intl.google!.ph, intl.tiktok!.ph]).toEqual([ro.meta!.ph, ro.google!.ph, ro.tiktok!.ph]);
    expect(matchKeys({ phone: '40721234567', country: 'ro' }).meta!.ph).toBe(ro.meta!.ph);
    // Without a country (or with one we have no calling code for), a national number is sent to nobody.
    for (const c of [{ phone: '0721 234 567' }, { phone: '0721 234 567', country: 'XX' }]) {
      const k = matchKeys(c);
      expect(k.meta?.ph ?? null).toBeNull();
      expect(k.google?.ph ?? null).toBeNull();
      expect(k.tiktok?.ph ?? null).toBeNull();
    }
  });
  it('are added to a consented conversion event, and clear matching fields are dropped', () => {
    const ev = { event_name: 'order_completed', consent_snapshot: { marketing: false, analytics: false, data_processing: true }, payload: { customer } };
    const out = withKeys(ev) as { payload: { customer: Record<string, unknown> } };
    expect(out.payload.customer.match_keys).toBeTruthy();
    expect(out.payload.customer.first_name).toBeUndefined();
    expect(out.payload.customer.zip).toBeUndefined();
    expect(out.payload.customer.email).toBe(customer.email); // protectPii replaces it next
    expect(ev.payload.customer.first_name).toBe('Mary'); // the input is not modified
  });
  it('are not computed without consent, nor for other events, and a sent match_keys is never trusted', () => {
    const none = withKeys({ event_name: 'order_completed', consent_snapshot: { marketing: false, data_processing: false }, payload: { consent_marketing: false, customer: { ...customer, match_keys: { meta: { em: 'x' } } } } }) as any;
    expect(none.payload.customer.match_keys).toBeUndefined();
    const other = { event_name: 'page_view', payload: { customer } };
    expect(withKeys(other)).toBe(other);
  });
});
