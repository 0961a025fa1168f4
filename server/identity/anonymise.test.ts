import { describe, expect, it } from 'vitest';
import type { EventRow } from '../store/events.js';
import { anonymise, anonymousContext, bareUrl } from './anonymise.js';

const row = (over: Partial<EventRow>): EventRow => ({
  event_id: 'e1', event_name: 'add_to_cart', event_version: 1, occurred_at: '2026-11-30T10:00:00.000Z', received_at: '2026-11-30T10:00:01.000Z',
  sent_at: null, tenant_id: 1, site_id: null, source_system: 'web', visitor_id: 'v1', session_id: 's1', sequence_no: 3, prev_event_id: 'e0',
  person_id: 7, consent_snapshot: { analytics: true, marketing: true }, context: {}, entities: {}, payload: {}, idempotency_key: null, is_bot: false,
  ...over,
});

describe('anonymise (a late event of an erased person)', () => {
  it('keeps what counts and funnels read and drops every identifier, listed or not', () => {
    const context = {
      page: { url: 'https://acme.example/e/E1?fbclid=FB1&utm_source=x#top', path: '/e/E1', title: 'E1', page_type: 'event' },
      referrer: 'https://mail.example/open?token=personal',
      utm: { source: 'newsletter', medium: 'email', campaign: 'nov', content: 'maria-42', term: 'x' },
      click_ids: { fbclid: 'FB1' }, fbp: 'fb.1.9.123', fbc: 'fb.1.9.FB1', ttp: 'TTP', _ga: 'GA1.1.2', ip: '203.0.113.0', user_agent: 'Mozilla/5.0',
      first_touch: { click_ids: { gclid: 'G' }, landing_page: 'https://acme.example/?gclid=G' },
      locale: 'ro-RO', screen: '390x844', library: 'tx-sdk/1.2', device: { device_type: 'mobile' }, clock_skew_ms: 12, tenant_field: 'anything',
    };
    expect(anonymousContext(context)).toEqual({
      page: { url: 'https://acme.example/e/E1', path: '/e/E1', title: 'E1', page_type: 'event' },
      referrer: 'https://mail.example/open',
      utm: { source: 'newsletter', medium: 'email', campaign: 'nov' },
      locale: 'ro-RO', screen: '390x844', library: 'tx-sdk/1.2', device: { device_type: 'mobile' }, clock_skew_ms: 12,
      anonymised: true,
    });
  });

  it('clears the visitor, session, person and chain, the cart and the customer, and leaves catalog ids and amounts', () => {
    const r = row({ entities: { event_entity_id: 'E1', cart_id: 'C9', order_id: 'O1' }, payload: { cart_value: 100, customer: { external_id: 'c1' }, customer_external_id: 'c1' } });
    anonymise(r);
    expect(r).toMatchObject({ visitor_id: null, session_id: null, prev_event_id: null, person_id: null, entities: { event_entity_id: 'E1', order_id: 'O1' }, payload: { cart_value: 100 } });
    expect(r.entities).not.toHaveProperty('cart_id');
    expect(r.payload).not.toHaveProperty('customer');
    expect(r.context).toEqual({ anonymised: true });
  });

  it('drops a ticket holder\'s id, and the entities it is asked to (an erased order\'s id)', () => {
    const r = row({ event_name: 'entry_granted', entities: { event_entity_id: 'E1', ticket_id: 'T1', order_id: 'O1' }, payload: { gate_id: 'G1', beneficiary_id: 'B1' } });
    anonymise(r, ['order_id']);
    expect(r.entities).toEqual({ event_entity_id: 'E1', ticket_id: 'T1' });
    expect(r.payload).toEqual({ gate_id: 'G1' });
  });

  it('cuts URLs at their query or fragment and ignores what is not a string', () => {
    expect(bareUrl('https://a.example/p#x?y')).toBe('https://a.example/p');
    expect(bareUrl('/p')).toBe('/p');
    expect(bareUrl(42)).toBeUndefined();
    expect(anonymousContext({ page: 'not an object', utm: ['x'], referrer: 7 })).toEqual({ anonymised: true });
  });
});
