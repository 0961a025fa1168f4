// rawSearch / rawMentions: which rejected raw bodies are a person's. Visitor and session ids are matched only as
// the value of their own field, however short: a visitor id "web" or a session id "EUR" must not claim every
// body that names that source or currency (the export showed other visitors' rejected events, and erasure
// deleted them).
import { describe, expect, it } from 'vitest';
import { rawMentions, rawSearch } from './match.js';
import type { PersonIds } from './registry.js';

const ids = (o: Partial<PersonIds> = {}): PersonIds => ({
  tenantId: 1, personId: 7, externalId: 'cust-7', emailSha256: null, phoneSha256: null,
  visitorIds: ['web'], sessionIds: ['EUR'], orderIds: [], eventIds: [], ...o,
});

describe('rawSearch: visitor and session ids only in their own field', () => {
  const s = rawSearch(ids());
  it.each([
    ['another visitor\'s web event', JSON.stringify({ event_name: 'page_view', source_system: 'web', visitor_id: 'v-other', session_id: 's-other' })],
    ['another visitor\'s price in EUR', JSON.stringify({ visitor_id: 'v-other', payload: { currency: 'EUR', cart_value: 'x' } })],
    ['the id as part of a longer value', '{"visitor_id":"web-2","session_id":"EUR1"}'],
    ['the id under another key', '{"events":[{"site":"web","sid":"EUR"}]}'],
  ])('not: %s', (_name, body) => {
    expect(rawMentions(body, s)).toBe(false);
  });
  it.each([
    ['their visitor id', '{"source_system":"web","visitor_id": "web"}'],
    ['their session id, nested and not JSON', '[{"a":{"session_id" :"EUR",'],
    ['their visitor id in Stripe metadata', JSON.stringify({ data: { object: { metadata: { tx_vid: 'web' } } } })],
    ['their session id in Stripe metadata', JSON.stringify({ data: { object: { metadata: { tx_sid: 'EUR' } } } })],
  ])('%s', (_name, body) => {
    expect(rawMentions(body, s)).toBe(true);
  });
  it('many ids are split over several patterns, each still anchored to its field', () => {
    const many = rawSearch(ids({ visitorIds: Array.from({ length: 250 }, (_, i) => `v${i}`), sessionIds: [] }));
    expect(many.patterns.filter((p) => p.includes('visitor_id')).length).toBe(3);
    expect(rawMentions('{"visitor_id":"v249"}', many)).toBe(true);
    expect(rawMentions('{"cart_id":"v249"}', many)).toBe(false);
  });
});
