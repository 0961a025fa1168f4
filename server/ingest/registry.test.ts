import { describe, it, expect } from 'vitest';
import FastestValidator from 'fastest-validator';
import { ENTITY_NAMES, MONEY, MONEY_KEYS, REGISTRY_V1, type EventDefinition } from './registry.js';

// The v1 event names by category, as first specified (README "Ingest API"; GET /api/tx/schema serves the registry):
// a name dropped or renamed in registry.ts by mistake fails here.
const SPEC_NAMES: Record<string, string[]> = {
  web: [
    'page_view', 'page_engagement', 'search_performed', 'event_card_impression', 'event_card_click', 'event_view',
    'ticket_type_selected', 'add_to_cart', 'remove_from_cart', 'cart_view', 'checkout_started', 'checkout_step_viewed',
    'checkout_step_completed', 'beneficiary_added', 'beneficiary_updated', 'beneficiary_removed', 'discount_code_applied',
    'discount_code_rejected', 'affiliate_attribution_captured', 'payment_method_selected', 'payment_attempted',
    'ticket_link_click', 'share', 'event_interest_marked',
    // issue 17 item 1 (seed 003 interactions)
    'event_detail_view', 'artist_click', 'venue_click', 'review_submitted', 'review_liked', 'review_commented',
    'artist_followed', 'venue_followed', 'feed_scroll_depth', 'feed_load_more', 'feed_tab_changed',
  ],
  backend: ['payment_succeeded', 'payment_failed', 'order_completed', 'refund_completed', 'chargeback_opened'],
  scanner: [
    'scanner_session_started', 'scanner_session_ended', 'ticket_scan_attempted', 'ticket_scan_result',
    'entry_granted', 'entry_denied', 'capacity_snapshot',
  ],
  shop: ['product_view', 'add_to_cart_shop', 'checkout_started_shop', 'order_completed_shop', 'shipment_created', 'shipment_delivered'],
  other: ['points_earned', 'wallet_pass_added', 'experiment_exposure'],
};
const ALL_SPEC_NAMES = Object.values(SPEC_NAMES).flat();

// fastest-validator is CommonJS but its typings declare `export default class`: under NodeNext the default
// import is typed as the module, while at runtime it is the class itself.
const Validator = FastestValidator as unknown as typeof FastestValidator.default;
const v = new Validator();
const compile = (def: EventDefinition) => v.compile({ ...def.payload, $$strict: false });
const byName = (name: string): EventDefinition => {
  const def = REGISTRY_V1.find((d) => d.name === name);
  if (!def) throw new Error(`missing ${name}`);
  return def;
};
const check = (name: string, payload: unknown) => compile(byName(name))(payload);

describe('REGISTRY_V1', () => {
  it('holds every event named in the spec exactly once, and nothing else', () => {
    const names = REGISTRY_V1.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of ALL_SPEC_NAMES) expect(names.filter((n) => n === name)).toHaveLength(1);
    expect([...names].sort()).toEqual([...ALL_SPEC_NAMES].sort());
    expect(names).toHaveLength(56);
  });

  it('files each event under its spec category (backend/payments -> backend)', () => {
    for (const [category, names] of Object.entries(SPEC_NAMES)) {
      for (const name of names) expect(byName(name).category, name).toBe(category);
    }
  });

  it('has well-formed entries: version 1, a one-line description, valid scope', () => {
    for (const def of REGISTRY_V1) {
      expect(def.version, def.name).toBe(1);
      expect(def.description.length, def.name).toBeGreaterThan(0);
      expect(def.description, def.name).not.toMatch(/\n/);
      expect(['necessary', 'analytics', 'marketing'], def.name).toContain(def.scope);
    }
  });

  it('uses only known entity names for required entities', () => {
    for (const def of REGISTRY_V1) {
      expect(new Set(def.required_entities).size, def.name).toBe(def.required_entities.length);
      for (const e of def.required_entities) expect(ENTITY_NAMES, def.name).toContain(e);
    }
  });

  it('compiles every payload schema with fastest-validator without mutating it', () => {
    for (const def of REGISTRY_V1) {
      const before = JSON.stringify(def.payload);
      const fn = compile(def);
      expect(typeof fn, def.name).toBe('function');
      expect(JSON.stringify(def.payload), def.name).toBe(before);
    }
  });

  it('is JSON-serialisable without loss (served at GET /api/tx/schema)', () => {
    const roundTrip = JSON.parse(JSON.stringify(REGISTRY_V1)) as EventDefinition[];
    expect(roundTrip).toEqual(REGISTRY_V1);
    // A round-tripped schema still compiles and validates the same way.
    const def = roundTrip.find((d) => d.name === 'add_to_cart')!;
    const fn = v.compile({ ...def.payload, $$strict: false });
    expect(fn({ items: [], cart_value: 1, currency: 'eur' })).not.toBe(true);
  });

  it('applies the consent scopes of the spec', () => {
    const scope = (n: string) => byName(n).scope;
    for (const n of ['page_view', 'page_engagement', 'add_to_cart', 'checkout_started', 'share', 'event_interest_marked', 'experiment_exposure']) {
      expect(scope(n), n).toBe('analytics');
    }
    for (const n of [...SPEC_NAMES.backend, ...SPEC_NAMES.scanner, 'order_completed_shop', 'shipment_created', 'shipment_delivered', 'points_earned', 'wallet_pass_added']) {
      expect(scope(n), n).toBe('necessary');
    }
    expect(scope('affiliate_attribution_captured')).toBe('marketing');
  });

  it('requires the spec entities on key events', () => {
    const ents = (n: string) => byName(n).required_entities;
    expect(ents('event_view')).toEqual(['event_entity_id']);
    expect(ents('add_to_cart')).toEqual(['cart_id', 'event_entity_id']);
    expect(ents('checkout_started')).toEqual(['cart_id']);
    expect(ents('order_completed')).toEqual(['order_id']);
    expect(ents('payment_succeeded')).toEqual(['order_id']);
    expect(ents('entry_granted')).toEqual(['event_entity_id', 'ticket_id']);
    expect(ents('capacity_snapshot')).toEqual(['event_entity_id']);
    expect(ents('product_view')).toEqual(['product_id']);
  });
});

describe('payload validation', () => {
  it('accepts a realistic page_view from the SDK', () => {
    expect(check('page_view', { page_type: 'event', is_first_touch: false, navigation_type: 'navigate' })).toBe(true);
    expect(check('page_view', {})).toBe(true);
  });

  it('accepts a realistic add_to_cart (SDK example) and extra keys', () => {
    const payload = { items: [{ ticket_type_id: 'tt_1', qty: 2, price: 50.0 }], cart_value: 100.0, currency: 'EUR', extra: 'ok' };
    expect(check('add_to_cart', payload)).toBe(true);
    // numeric ids from some tenants
    expect(check('add_to_cart', { items: [{ ticket_type_id: 17, qty: 1 }], cart_value: 0, currency: 'RON' })).toBe(true);
  });

  it('rejects a wrong-typed cart_value on the cart_value field', () => {
    const res = check('add_to_cart', { items: [{ ticket_type_id: 'tt_1', qty: 2, price: 50 }], cart_value: 'abc', currency: 'EUR' });
    expect(res).not.toBe(true);
    expect((res as Array<{ field: string }>).map((e) => e.field)).toContain('cart_value');
  });

  it('rejects add_to_cart without its defining fields or with a bad currency', () => {
    const res = check('add_to_cart', { cart_value: 10, currency: 'eur' });
    expect(res).not.toBe(true);
    const fields = (res as Array<{ field: string }>).map((e) => e.field);
    expect(fields).toContain('items');
    expect(fields).toContain('currency');
  });

  it('accepts a realistic order_completed from the backend (nulls for unknowns)', () => {
    const payload = {
      gross_amount: 105.5,
      net_amount: 100,
      fees_amount: 5.5,
      discount_total: 0,
      currency: 'EUR',
      items: [{ ticket_type_id: '42', qty: 2, price: 50 }],
      affiliate_id: null,
      channel: 'web',
      consent_data_processing: true,
      consent_marketing: false,
      customer: { external_id: 981, email: 'ana@example.ro', city: 'Cluj-Napoca' },
    };
    expect(check('order_completed', payload)).toBe(true);
    expect(check('order_completed', { gross_amount: 10, currency: 'EUR', items: [] })).toBe(true);
    expect(check('order_completed', { gross_amount: -1, currency: 'EUR', items: [] })).not.toBe(true);
  });

  it('accepts a realistic capacity_snapshot from the scanner', () => {
    const payload = { gate_id: 'gate-A', current_inside: 812, total_entries: 950, total_denied: 12, rate_per_minute: 14.5, capacity: 1000, venue_capacity: 4000 };
    expect(check('capacity_snapshot', payload)).toBe(true);
    expect(check('capacity_snapshot', { gate_id: 'gate-A', current_inside: 3 })).toBe(true);
    expect(check('capacity_snapshot', { gate_id: 'gate-A' })).not.toBe(true);
    expect(check('capacity_snapshot', { gate_id: 'gate-A', current_inside: 1.5 })).not.toBe(true);
  });

  it('accepts the other payloads the SDK, the scanner and the webhooks send', () => {
    expect(check('event_view', { price_from: 50, currency: 'EUR', availability_snapshot: { vip: 10, ga: 100 } })).toBe(true);
    expect(check('checkout_started', { cart_value: 100, currency: 'EUR', login_state: 'guest' })).toBe(true);
    expect(check('checkout_step_completed', { step_name: 'details', step_duration_ms: 5300, validation_errors: [] })).toBe(true);
    expect(check('page_engagement', { active_ms: 1200, total_ms: 3000, scroll_max_pct: 80, visibility_changes: 1, focus_changes: 2 })).toBe(true);
    expect(check('payment_succeeded', { provider: 'stripe', provider_tx_id: 'pi_123', amount: 100, currency: 'EUR', latency_ms: null })).toBe(true);
    expect(check('scanner_session_started', { scanner_session_id: 'u-1', staff_id: 's1', gate_id: 'g1', device_id: 'd1', app_version: '1.2.0', offline_mode: false })).toBe(true);
    expect(check('ticket_scan_result', { scanner_session_id: 'u-1', gate_id: 'g1', scan_type: 'entry', result: 'already_used', reason_code: 'dup', latency_ms: 85, offline_resolution: false })).toBe(true);
    expect(check('ticket_scan_result', { gate_id: 'g1', result: 'maybe' })).not.toBe(true);
    expect(check('entry_granted', { gate_id: 'g1', entry_time: new Date().toISOString() })).toBe(true);
    expect(check('entry_granted', {})).not.toBe(true);
    expect(check('scanner_session_ended', { scanner_session_id: 'u-1', totals: { scans: 10, granted: 9, denied: 1 } })).toBe(true);
  });

  it('accepts seed 003\'s interaction payloads (issue 17) and refuses them without their defining fields', () => {
    expect(byName('event_detail_view').required_entities).toEqual(['event_entity_id']);
    expect(byName('artist_click').required_entities).toEqual(['artist_id']);
    expect(byName('venue_followed').required_entities).toEqual(['venue_id']);
    for (const n of ['event_detail_view', 'artist_click', 'venue_click', 'review_submitted', 'review_liked', 'review_commented', 'artist_followed', 'venue_followed', 'feed_scroll_depth', 'feed_load_more', 'feed_tab_changed']) {
      expect(byName(n).scope, n).toBe('analytics');
    }
    expect(check('event_detail_view', { action: 'open', source: 'event_modal' })).toBe(true);
    expect(check('event_detail_view', { action: 'close', duration_ms: 42_000, interacted: true, scrolled_to_bottom: false })).toBe(true);
    expect(check('event_detail_view', { duration_ms: 5 })).not.toBe(true);
    expect(check('event_detail_view', { action: 'close', duration_ms: -1 })).not.toBe(true);
    expect(check('artist_click', { source: 'event_modal', artist_name: 'Subcarpați', from_view: '/events/E1', position: 2 })).toBe(true);
    expect(check('venue_click', { source: 'event_modal', venue_name: 'Arenele Romane', venue_city: 'București' })).toBe(true);
    expect(check('review_submitted', { rating: 4.5, review_length: 120, has_photos: true, photo_count: 2, mood_tags: ['hype'], privacy: 'public', time_to_complete_ms: 90_000 })).toBe(true);
    expect(check('review_submitted', { privacy: 'friends' })).not.toBe(true);
    expect(check('review_liked', { review_id: 'R1', liked: true, review_rating: 5, source: 'feed' })).toBe(true);
    expect(check('review_liked', { liked: true })).not.toBe(true);
    expect(check('review_commented', { review_id: 9, comment_length: 40 })).toBe(true);
    expect(check('artist_followed', { followed: false, source: 'artist_page' })).toBe(true);
    expect(check('feed_scroll_depth', { max_scroll_pct: 73, active_tab: 'events', feed_type: 'personalized' })).toBe(true);
    expect(check('feed_scroll_depth', {})).not.toBe(true);
    expect(check('feed_load_more', { active_tab: 'events', current_items: 20, offset: 20 })).toBe(true);
    expect(check('feed_tab_changed', { from_tab: 'events', to_tab: 'reviews', items_viewed: 12 })).toBe(true);
    expect(check('feed_tab_changed', { from_tab: 'events' })).not.toBe(true);
  });
});

describe('MONEY_KEYS', () => {
  it('lists the registry payload keys bounded as amounts, nested item prices included, and no counts', () => {
    for (const k of ['gross_amount', 'net_amount', 'amount', 'price', 'cart_value', 'price_from']) expect(MONEY_KEYS.has(k), k).toBe(true);
    for (const k of ['qty', 'currency', 'points', 'capacity', 'active_ms']) expect(MONEY_KEYS.has(k), k).toBe(false);
  });
  it('lists the containers holding an amount at any depth (items: their prices), and none without one', () => {
    expect(MONEY.containers.has('items')).toBe(true);
    for (const k of ['qty', 'currency', 'price', 'utm', 'gates']) expect(MONEY.containers.has(k), k).toBe(false);
  });
});
