// GDPR erasure as a privacy auditor runs it (issue 8.11). Unit part: contact data is hashed on every path
// into storage, and a rejected body is recognised as the person's whatever its shape.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rawMentions, rawSearch, type PersonIds } from '../server/identity/gdpr.js';
import { protectRawEvent, scrubBody } from '../server/identity/pii.js';

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');
const PHONE = '+40 722 123 456';
const PHONE_SHA = sha('40722123456');

describe('contact data never reaches storage in clear', () => {
  it('a stored-as-sent body of any shape keeps no phone or email: fields anywhere, numbers, free text', () => {
    const shapes = [
      JSON.stringify({ events: { a: { payload: { customer: { phone: PHONE, email: 'Ana@Example.org' } } } } }),
      JSON.stringify({ event_name: 'refund_completed', source_system: 'web', payload: { customer: { external_id: 'c1', phone: PHONE } } }),
      '{"phone": 40722123456, "note": "call me on +40 (722) 123-456"',
      '[{"contact":{"phone":"+40722123456"}}',
    ];
    for (const body of shapes) {
      const out = scrubBody(body);
      expect(out.replace(/[^0-9]/g, '')).not.toContain('722123456');
      expect(out).not.toMatch(/ana@example/i);
      expect(out).toContain(PHONE_SHA);
    }
    // Timestamps and exponents are not phone numbers.
    expect(scrubBody('{"t":"2020-01-01T00:00:00+02:00","n":1e+1234567}')).toBe('{"t":"2020-01-01T00:00:00+02:00","n":1e+1234567}');
  });

  it('an event with contact data outside payload.customer is hashed too; one without any is returned as is', () => {
    const ev = { event_name: 'x', payload: { contact: [{ phone: PHONE }] }, context: { email: 'a@b.org' } };
    const out = protectRawEvent(ev) as any;
    expect(out.payload.contact[0]).toEqual({ phone_sha256: PHONE_SHA });
    expect(out.context).toEqual({ email_sha256: sha('a@b.org') });
    expect(ev.payload.contact[0]).toEqual({ phone: PHONE });
    const plain = { event_name: 'x', payload: { a: [1, { b: 2 }] } };
    expect(protectRawEvent(plain)).toBe(plain);
  });
});

describe('a rejected body is the person\'s whatever its shape', () => {
  const ids: PersonIds = {
    tenantId: 1, personId: 7, externalId: '123', emailSha256: sha('ana@example.org'), phoneSha256: PHONE_SHA,
    visitorIds: ['v-ana-1', 'v-ana-2'], sessionIds: ['s-ana-1'], orderIds: ['O9'], eventIds: [],
  };
  const s = rawSearch(ids);
  it.each([
    ['events as an object', JSON.stringify({ events: { x: { visitor_id: 'v-ana-2' } } })],
    ['a lone server event with a wrong source', JSON.stringify({ event_name: 'order_completed', source_system: 'web', payload: { customer: { external_id: 123 } } })],
    ['deeply nested', JSON.stringify({ a: [{ b: { c: { session_id: 's-ana-1' } } }] })],
    ['not JSON', '[{"visitor_id":"v-ana-1",'],
    ['only the hashed phone', scrubBody(JSON.stringify({ events: { customer: { phone: PHONE } } }))],
    ['a short order id in its field', '{"entities":{"order_id":"O9"}}'],
  ])('%s', (_name, body) => {
    expect(rawMentions(body, s)).toBe(true);
  });
  it.each([
    ['another visitor', JSON.stringify({ events: [{ visitor_id: 'v-ana-10' }] })],
    ['the customer id as part of another number', '{"external_id":1234}'],
    ['a short order id elsewhere', '{"ticket_type_id":"O9"}'],
  ])('not: %s', (_name, body) => {
    expect(rawMentions(body, s)).toBe(false);
  });
});
