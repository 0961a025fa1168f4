// rawSearch / rawMentions: which rejected raw bodies are a person's. Visitor ids are matched only as the value of
// their own field, however short: a visitor id "web" must not claim every body that names that source (the export
// showed other visitors' rejected events, and erasure deleted them). Session ids are never matched (two persons'
// visitors can share one), nor a visitor id or contact digest another person holds too.
// matcher: which spooled events are a person's, as the stored-events eraser decides.
import { describe, expect, it } from 'vitest';
import type { EventRow } from '../store/events.js';
import { matcher, rawMentions, rawSearch, type MatchIds } from './match.js';

const ids = (o: Partial<MatchIds> = {}): MatchIds => ({
  tenantId: 1, personId: 7, externalId: 'cust-7', emailSha256: null, phoneSha256: null,
  visitorIds: ['web'], sessionIds: ['EUR'], orderIds: [], eventIds: [], ...o,
});

describe('rawSearch: visitor ids only in their own field, session ids never', () => {
  const s = rawSearch(ids());
  it.each([
    ['another visitor\'s web event', JSON.stringify({ event_name: 'page_view', source_system: 'web', visitor_id: 'v-other', session_id: 's-other' })],
    ['another visitor\'s price in EUR', JSON.stringify({ visitor_id: 'v-other', payload: { currency: 'EUR', cart_value: 'x' } })],
    ['the id as part of a longer value', '{"visitor_id":"web-2","session_id":"EUR1"}'],
    ['the id under another key', '{"events":[{"site":"web","sid":"EUR"}]}'],
    ['another visitor\'s event in their session', '[{"visitor_id":"v-other","session_id" :"EUR",'],
    ['their session id in Stripe metadata of another visitor', JSON.stringify({ data: { object: { metadata: { tx_vid: 'v-other', tx_sid: 'EUR' } } } })],
  ])('not: %s', (_name, body) => {
    expect(rawMentions(body, s)).toBe(false);
  });
  it.each([
    ['their visitor id', '{"source_system":"web","visitor_id": "web"}'],
    ['their visitor id, nested and not JSON', '[{"a":{"visitor_id" :"web",'],
    ['their visitor id in Stripe metadata', JSON.stringify({ data: { object: { metadata: { tx_vid: 'web' } } } })],
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

describe('rawSearch: what another person holds too claims no body', () => {
  const email = 'e'.repeat(64);
  const phone = 'f'.repeat(64);
  const s = rawSearch(ids({ visitorIds: ['v-own', 'v-laptop'], emailSha256: email, phoneSha256: phone, sharedVisitorIds: ['v-laptop'], sharedDigests: [email] }));
  it('not: another person\'s order with the shared email digest', () => {
    expect(rawMentions(JSON.stringify({ visitor_id: 'v-f', payload: { customer: { external_id: 'cust-f', email_sha256: email } } }), s)).toBe(false);
  });
  it('not: an event from the shared device', () => {
    expect(rawMentions(JSON.stringify({ visitor_id: 'v-laptop', session_id: 's-x' }), s)).toBe(false);
  });
  it('their own visitor, their unshared phone digest, and their customer id with the shared email', () => {
    expect(rawMentions(JSON.stringify({ visitor_id: 'v-own' }), s)).toBe(true);
    expect(rawMentions(JSON.stringify({ payload: { customer: { phone_sha256: phone } } }), s)).toBe(true);
    expect(rawMentions(JSON.stringify({ visitor_id: 'v-laptop', payload: { customer: { external_id: 'cust-7', email_sha256: email } } }), s)).toBe(true);
  });
});

describe('matcher: a spooled event is the person\'s as the stored-events eraser decides', () => {
  const email = 'd'.repeat(64);
  const m = matcher(ids({ personId: 1, externalId: 'CA', emailSha256: email, visitorIds: ['VS'], sessionIds: ['SS'] }));
  const ev = (o: Partial<EventRow>): EventRow => ({
    event_id: crypto.randomUUID(), event_name: 'page_view', event_version: 1, occurred_at: new Date().toISOString(), received_at: new Date().toISOString(),
    sent_at: null, tenant_id: 1, site_id: null, source_system: 'web', visitor_id: null, session_id: null, sequence_no: null, prev_event_id: null,
    person_id: null, consent_snapshot: {}, context: {}, entities: {}, payload: {}, idempotency_key: null, is_bot: false, ...o,
  } as EventRow);
  it.each([
    ['another person\'s event on the shared visitor', ev({ visitor_id: 'VS', session_id: 'SVS3', person_id: 2 })],
    ['another person\'s event in the shared session', ev({ visitor_id: 'VB', session_id: 'SS', person_id: 2 })],
    ['an unattributed event of another visitor in the shared session', ev({ visitor_id: 'VB', session_id: 'SS' })],
    ['another customer\'s order with the same email digest', ev({ event_name: 'order_completed', visitor_id: 'VB', person_id: 2, payload: { customer: { external_id: 'CB', email_sha256: email } } })],
    ['an unattributed order of another customer with the same email digest', ev({ event_name: 'order_completed', payload: { customer: { external_id: 'CB', email_sha256: email } } })],
  ])('not: %s', (_name, e) => {
    expect(m.event(e)).toBe(false);
  });
  it.each([
    ['stamped with them', ev({ visitor_id: 'VB', person_id: 1 })],
    ['unattributed, of their visitor', ev({ visitor_id: 'VS', session_id: 'SS' })],
    ['an order naming their customer id', ev({ event_name: 'order_completed', person_id: 2, payload: { customer: { external_id: 'CA' } } })],
    ['an unattributed order naming no customer id, with their email digest', ev({ event_name: 'order_completed', payload: { customer: { email_sha256: email } } })],
  ])('%s', (_name, e) => {
    expect(m.event(e)).toBe(true);
  });
  it('not by an email digest another person has', () => {
    const shared = matcher(ids({ personId: 1, externalId: 'CA', emailSha256: email, sharedDigests: [email] }));
    expect(shared.event(ev({ event_name: 'order_completed', payload: { customer: { email_sha256: email } } }))).toBe(false);
  });
});
