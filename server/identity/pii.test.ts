// scrubBody: a body kept as sent (a rejected event, a body of the wrong shape, text that is not JSON) keeps
// no clear contact data, names or full IP: what a stored event keeps of them (digests, an IP cut to /24 or /48).
import { describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import { hashEmail, hashPhone } from './crypto.js';
import { hashCustomer, protectRawEvent, scrubBody, scrubText } from './pii.js';

describe('scrubBody', () => {
  it('truncates IPs and hashes names and postal codes wherever they sit, whatever the shape', () => {
    const body = '{"events":[{"context":{"ip":"203.0.113.77"},"payload":{"customer":{"first_name":"Ana","last_name":"Pop","zip":"700001"}}}],"x":{"ip" : "2001:db8:1:2::5"}';
    const out = scrubBody(body);
    for (const clear of ['203.0.113.77', '"Ana"', '"Pop"', '700001', '2001:db8:1:2::5']) expect(out).not.toContain(clear);
    expect(out).toContain('"ip":"203.0.113.0"');
    expect(out).toContain('"ip" : "2001:db8:1::"');
    expect(out).toMatch(/"first_name":"sha256:[0-9a-f]{64}"/);
    // Not an IP at all: nothing is kept of it.
    expect(scrubBody('{"ip":"not-an-ip"}')).toBe('{"ip":null}');
  });
});

const hex = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

describe('emails and phones inside URLs', () => {
  it('replaces a percent-encoded email in a URL by the digest of the decoded address, as a plain one is', () => {
    const url = 'https://dpo.example/events/E1?email=alice.dpo%40example.com&x=1';
    expect(scrubText(url)).toBe(`https://dpo.example/events/E1?email=sha256:${hashEmail('alice.dpo@example.com')}&x=1`);
    expect(scrubText('https://x.example/?e=Alice%2Btag%40Example.com')).toBe(`https://x.example/?e=sha256:${hashEmail('alice+tag@example.com')}`);
    expect(scrubText('?e=bob+x%2540ex.org')).toBe(`?e=sha256:${hashEmail('bob+x@ex.org')}`);
    // The escape before the address is not part of it.
    expect(scrubText('?q=foo%20ann%40ex.org')).toBe(`?q=foo%20sha256:${hashEmail('ann@ex.org')}`);
    expect(scrubText('mailto:ann@ex.org')).toBe(`mailto:sha256:${hashEmail('ann@ex.org')}`);
  });

  it('replaces the value of a phone-named query parameter by its digest, and nothing else', () => {
    expect(scrubText('https://x.example/p?phone=%2B40721234567&tel=abc')).toBe(`https://x.example/p?phone=sha256:${hashPhone('+40721234567')}&tel=abc`);
    // A national number (no country here) has no phone digest (identity/crypto.ts normalisePhone): its digits' digest stands in.
    expect(hashPhone('0721 234 567')).toBeNull();
    expect(scrubText('https://x.example/p?a=1&Mobile_Number=0721+234+567#f')).toBe(`https://x.example/p?a=1&Mobile_Number=sha256:${crypto.createHash('sha256').update('0721234567').digest('hex')}#f`);
    expect(scrubText('https://x.example/telephone/0721234567?page=2')).toBe('https://x.example/telephone/0721234567?page=2');
  });

  it('keeps no clear email in a stored event\'s page URL, referrer or free text, nor in a kept body', () => {
    const ev = { event_id: 'e@1', context: { page: { url: 'https://dpo.example/events/E1?email=alice.dpo%40example.com' }, referrer: 'https://m.example/?to=alice.dpo@example.com' }, payload: { query: 'alice.dpo%40example.com' } };
    const out = JSON.stringify(protectRawEvent(ev));
    expect(out).not.toMatch(/alice/);
    expect(out).toContain(hashEmail('alice.dpo@example.com'));
    expect(JSON.parse(out).event_id).toBe('e@1'); // ids are kept as sent
    const body = scrubBody(JSON.stringify(ev));
    expect(body).not.toMatch(/alice/);
  });
});

describe('names and postal addresses of a person', () => {
  const d = (s: string) => `sha256:${hex(s.trim().toLowerCase())}`;
  const stripe = {
    id: 'evt_1', type: 'payment_intent.succeeded', data: { object: {
      id: 'pi_1', object: 'payment_intent', amount: -5, description: 'Concert', receipt_email: 'a@ex.org',
      shipping: { name: 'Alicia Probescu', phone: '+40721234567', carrier: 'DHL', address: { line1: 'Strada Probei 42', line2: 'Ap 3', city: 'Cluj', state: 'CJ', postal_code: '400777', country: 'RO' } },
      charges: { data: [{ billing_details: { name: 'Alicia Probescu', email: 'a@ex.org', phone: '0721234567', address: { line1: 'Strada Probei 42', postal_code: 400777, city: 'Cluj' } } }] },
      metadata: { name: 'Spring tour' },
    } },
  };

  it('digests Stripe shipping and billing details in a kept body, and leaves other names alone', () => {
    const out = scrubBody(JSON.stringify(stripe, null, 2));
    for (const clear of ['Alicia', 'Probei', 'Ap 3', '400777', '"Cluj"', '"CJ"', '0721234567']) expect(out).not.toContain(clear);
    expect(out).toContain(`"name": "${d('Alicia Probescu')}"`);
    expect(out).toContain(`"postal_code": "${d('400777')}"`);
    for (const kept of ['"DHL"', '"RO"', '"Spring tour"', '"Concert"', '"payment_intent.succeeded"']) expect(out).toContain(kept);
  });

  it('digests a Stripe customer object\'s own name and address, wherever its "object" key sits', () => {
    const out = scrubBody(JSON.stringify({ data: { object: { name: 'Alicia Probescu', address: { city: 'Cluj', line1: 'Str 1' }, object: 'customer', metadata: {} } }, type: 'customer.updated' }));
    expect(out).not.toMatch(/Alicia|Cluj|Str 1/);
    expect(out).toContain('"type":"customer.updated"');
  });

  it('digests payload.customer\'s name and address fields in a stored event, keeping city, event and ticket names', () => {
    const ev = { event_name: 'order_completed', payload: { event_name: 'Spring', items: [{ ticket_type_name: 'VIP', name: 'Merch' }], customer: { external_id: 'C1', city: 'Cluj', name: 'Alicia Probescu', address: 'Strada Probei 42', address_line2: 'Ap 3', street: 'Probei', postal_code: '400777', first_name: 'Alicia' } } };
    const out = protectRawEvent(ev) as any;
    expect(out.payload.customer).toEqual({ external_id: 'C1', city: 'Cluj', name: d('Alicia Probescu'), address: d('Strada Probei 42'), address_line2: d('Ap 3'), street: d('Probei'), postal_code: d('400777'), first_name: d('Alicia') });
    expect(out.payload.items).toBe(ev.payload.items);
    expect(out.payload.event_name).toBe('Spring');
    // The same rule on the text of a kept body.
    const body = scrubBody(JSON.stringify(ev));
    expect(JSON.parse(body).payload.customer).toEqual(out.payload.customer);
  });
});

describe('hashCustomer', () => {
  it('digests a national phone number with the customer\'s country as the conversions do, and none without a country', () => {
    const sha = (x: string) => crypto.createHash('sha256').update(x).digest('hex');
    expect(hashCustomer({ phone: '0721 234 567', country: 'RO' })).toEqual({ country: 'RO', phone_sha256: sha('40721234567') });
    expect(hashCustomer({ phone: '+40 721 234 567' })).toEqual({ phone_sha256: sha('40721234567') });
    expect(hashCustomer({ phone: '0721 234 567' })).toEqual({});
  });
});
