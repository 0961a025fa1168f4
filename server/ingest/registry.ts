/**
 * Event schema registry v1 (README "Ingest API" → "The envelope"; served as JSON at GET /api/tx/schema).
 *
 * Pure data: each entry names an event, its consent scope, the entity ids the envelope must carry and a
 * fastest-validator schema for `payload`. The ingest compiler adds strictness/`$$root` itself and allows
 * extra payload keys, so only the fields that define an event are listed as required; everything else is
 * `optional` and `nullable` (the SDKs send `null` for absent values, e.g. `latency_ms: null`).
 *
 * Everything here is JSON-serialisable (it is served at GET /api/tx/schema): patterns are strings, no
 * functions, no RegExp objects. fastest-validator does not mutate schemas on compile, so shared helper
 * rules are safe.
 */

export type ConsentScope = 'necessary' | 'analytics' | 'marketing';
export type EventCategory = 'web' | 'backend' | 'scanner' | 'shop' | 'other';
export type SourceSystem = 'web' | 'mobile' | 'scanner' | 'backend' | 'payments' | 'shop' | 'wallet';

export const SOURCE_SYSTEMS: readonly SourceSystem[] = Object.freeze(['web', 'mobile', 'scanner', 'backend', 'payments', 'shop', 'wallet'] as const);
/**
 * Sources that speak for the tenant's servers: they take the secret key (/api/v1/server-events, Stripe) and are
 * refused on the public ingest endpoints, whose write key sits in every page's source.
 */
export const SERVER_SOURCES: readonly SourceSystem[] = Object.freeze(['backend', 'payments', 'shop'] as const);
/** What a write key may send: every source but server truth, which takes the secret key. */
export const PUBLIC_SOURCES: readonly SourceSystem[] = Object.freeze(SOURCE_SYSTEMS.filter((x) => !SERVER_SOURCES.includes(x)));
export type EntityName =
  | 'event_entity_id'
  | 'order_id'
  | 'cart_id'
  | 'ticket_id'
  | 'ticket_type_id'
  | 'venue_id'
  | 'artist_id'
  | 'product_id'
  | 'organizer_id';

export const ENTITY_NAMES: readonly EntityName[] = Object.freeze([
  'event_entity_id',
  'order_id',
  'cart_id',
  'ticket_id',
  'ticket_type_id',
  'venue_id',
  'artist_id',
  'product_id',
  'organizer_id',
] as const);

export interface EventDefinition {
  name: string;
  version: number;
  category: EventCategory;
  scope: ConsentScope;
  required_entities: EntityName[];
  /**
   * The source_system values that may emit this event. Server truth (orders, payments, refunds, points,
   * shipments) lists only SERVER_SOURCES: anyone holding the public write key could forge it otherwise.
   */
  sources: SourceSystem[];
  description: string;
  payload: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------------------
// Rule helpers
// ---------------------------------------------------------------------------------------------------------

type Rule = Record<string, unknown>;
type Props = Record<string, Rule>;

/** Ids arrive as strings (UUIDs, slugs) or, in some tenants, as integer database ids. */
const ID: Rule = {
  type: 'multi',
  rules: [
    { type: 'string', min: 1, max: 128 },
    // Database ids: exact integers only (1e308 is an "integer" to JavaScript, but no database's id).
    { type: 'number', integer: true, min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER },
  ],
};
// Every number has an upper bound: one absurd value (1e308) must not overflow live or SQL sums.
/**
 * Money in major units (120.5 = 120.50 EUR). 1e10 leaves room for high-denomination currencies (10 billion VND
 * is about 400k USD) while keeping a sum of thousands of orders in milli-units exact in a double.
 */
export const MAX_AMOUNT = 10_000_000_000;
/** Tickets or products on one line or one selection. */
export const MAX_QTY = 10_000;
/** Durations: nothing a client measures lasts longer than a week. */
export const MAX_MS = 7 * 24 * 3_600_000;
/** Generic counters (search results, list positions, points, scans). */
export const MAX_COUNT = 1_000_000_000;
/** People: gate and venue capacity, occupancy and entry totals (the largest festivals hold a few hundred thousand). */
export const MAX_PEOPLE = 10_000_000;

const AMOUNT: Rule = { type: 'number', min: 0, max: MAX_AMOUNT, finite: true };
const COUNT: Rule = { type: 'number', integer: true, min: 0, max: MAX_COUNT };
/** A line quantity: at least one unit. */
const QTY: Rule = { type: 'number', integer: true, min: 1, max: MAX_QTY };
const QTY0: Rule = { type: 'number', integer: true, min: 0, max: MAX_QTY };
const MS: Rule = { type: 'number', integer: true, min: 0, max: MAX_MS };
const PEOPLE: Rule = { type: 'number', integer: true, min: 0, max: MAX_PEOPLE };
/** Percentages; overscroll and odd layouts can report slightly above 100, so the bound is loose. */
const PCT: Rule = { type: 'number', min: 0, max: 1000, finite: true };
const INDEX: Rule = { type: 'number', integer: true, min: 0, max: MAX_QTY };
const CURRENCY: Rule = { type: 'string', length: 3, pattern: '^[A-Z]{3}$' };
const BOOL: Rule = { type: 'boolean' };
const URL: Rule = { type: 'string', max: 2048 };
/** ISO-8601 timestamp as sent by clients; parsed by whoever consumes it. */
const TIMESTAMP: Rule = { type: 'string', min: 1, max: 64 };
const NAME: Rule = { type: 'string', max: 256 };
const CODE: Rule = { type: 'string', max: 64 };
/** A required short code/name: must not be empty. */
const KEY: Rule = { type: 'string', min: 1, max: 64 };
/** Any JSON object (free-form maps such as availability or filters). */
const ANY_OBJECT: Rule = { type: 'object' };

const str = (max: number): Rule => ({ type: 'string', max });
const oneOf = (...values: string[]): Rule => ({ type: 'enum', values });
const obj = (props: Props): Rule => ({ type: 'object', props });
const arr = (items: Rule, max = 200): Rule => ({ type: 'array', items, max });
/** Optional field; `null` accepted too (SDKs send null for unknown values). */
const opt = (rule: Rule): Rule => ({ ...rule, optional: true, nullable: true });

// Shared shapes ------------------------------------------------------------------------------------------

const TICKET_ITEM = obj({
  ticket_type_id: ID,
  qty: QTY,
  price: opt(AMOUNT),
  ticket_type_name: opt(NAME),
});
const TICKET_ITEMS = arr(TICKET_ITEM);

const SHOP_ITEM = obj({
  product_id: ID,
  variant_id: opt(ID),
  qty: QTY,
  price: opt(AMOUNT),
  name: opt(NAME),
});
const SHOP_ITEMS = arr(SHOP_ITEM);

const CUSTOMER = obj({
  external_id: ID,
  email: opt(str(320)),
  phone: opt(str(64)),
  city: opt(str(128)),
});

const LOGIN_STATE = oneOf('authenticated', 'guest');
const SCAN_TYPE = oneOf('entry', 'exit', 'reentry');
const SCAN_RESULTS = ['valid', 'invalid', 'already_used', 'wrong_gate', 'wrong_day', 'refunded', 'unknown'];
const DENIAL_REASONS = [...SCAN_RESULTS.filter((r) => r !== 'valid'), 'capacity_full', 'other'];

/** List/feed placement shared by impressions and clicks. */
const PLACEMENT: Props = {
  source: opt(CODE), // feed, search, artist_page, venue_page, profile, ...
  position: opt(COUNT),
  list_name: opt(NAME),
  feed_tab: opt(CODE),
};

function ev(
  name: string,
  category: EventCategory,
  scope: ConsentScope,
  required_entities: EntityName[],
  description: string,
  payload: Props,
): EventDefinition {
  return { name, version: 1, category, scope, required_entities, sources: [...SOURCE_SYSTEMS], description, payload };
}

/** Marks events only the tenant's servers may emit (the secret-key path). */
const serverOnly = (defs: EventDefinition[], names: string[]): EventDefinition[] => {
  for (const n of names) if (!defs.some((d) => d.name === n)) throw new Error(`serverOnly: no event ${n}`);
  return defs.map((d) => (names.includes(d.name) ? { ...d, sources: [...SERVER_SOURCES] } : d));
};

// ---------------------------------------------------------------------------------------------------------
// Interactions of a concert app (seed 003 §1.4, §1.6, §3.1, §3.3; issue 17 item 1): web, analytics.
// Seed 003's seconds are milliseconds here, like every other duration of the registry.
// ---------------------------------------------------------------------------------------------------------

const REVIEW_TARGET = oneOf('event', 'artist', 'venue');

const INTERACTIONS: EventDefinition[] = [
  ev('event_detail_view', 'web', 'analytics', ['event_entity_id'], 'An event detail view (page or modal) opened or closed; the close carries how long it was open.', {
    action: oneOf('open', 'close'),
    duration_ms: opt(MS),
    interacted: opt(BOOL), // liked, commented, shared, clicked a ticket link while open
    source: opt(CODE), // event_modal, event_page, ...
    scrolled_to_bottom: opt(BOOL),
    viewed_setlist: opt(BOOL),
    viewed_reviews: opt(BOOL),
  }),
  ev('artist_click', 'web', 'analytics', ['artist_id'], 'An artist name or card was clicked.', {
    ...PLACEMENT,
    artist_name: opt(NAME),
    from_view: opt(str(2048)),
  }),
  ev('venue_click', 'web', 'analytics', ['venue_id'], 'A venue name or card was clicked.', {
    ...PLACEMENT,
    venue_name: opt(NAME),
    venue_city: opt(NAME),
    venue_state: opt(NAME),
    from_view: opt(str(2048)),
  }),
  ev('review_submitted', 'web', 'analytics', [], 'A review of an event, artist or venue was submitted.', {
    review_id: opt(ID),
    target_type: opt(REVIEW_TARGET),
    rating: opt({ type: 'number', min: 0, max: 10, finite: true }),
    review_length: opt(COUNT),
    has_photos: opt(BOOL),
    photo_count: opt(QTY0),
    has_setlist: opt(BOOL),
    mood_tags: opt(arr(CODE, 20)),
    privacy: opt(oneOf('public', 'private')),
    time_to_complete_ms: opt(MS),
  }),
  ev('review_liked', 'web', 'analytics', [], 'A review was liked (or unliked).', {
    review_id: ID,
    liked: opt(BOOL),
    review_rating: opt({ type: 'number', min: 0, max: 10, finite: true }),
    had_photos: opt(BOOL),
    source: opt(CODE),
  }),
  ev('review_commented', 'web', 'analytics', [], 'A comment was posted on a review.', {
    review_id: ID,
    comment_length: opt(COUNT),
    source: opt(CODE),
  }),
  ev('artist_followed', 'web', 'analytics', ['artist_id'], 'The visitor followed (or unfollowed) an artist.', {
    followed: opt(BOOL),
    source: opt(CODE),
  }),
  ev('venue_followed', 'web', 'analytics', ['venue_id'], 'The visitor followed (or unfollowed) a venue.', {
    followed: opt(BOOL),
    source: opt(CODE),
  }),
  ev('feed_scroll_depth', 'web', 'analytics', [], 'The deepest scroll reached in a feed, sent when it is left.', {
    max_scroll_pct: PCT,
    active_tab: opt(CODE),
    feed_type: opt(CODE), // personalized, following, ...
    items_viewed: opt(COUNT),
  }),
  ev('feed_load_more', 'web', 'analytics', [], 'More items were requested in a feed.', {
    active_tab: opt(CODE),
    current_items: opt(COUNT),
    offset: opt(COUNT),
  }),
  ev('feed_tab_changed', 'web', 'analytics', [], 'The feed tab was changed.', {
    to_tab: KEY,
    from_tab: opt(CODE),
    items_viewed: opt(COUNT),
  }),
];

// ---------------------------------------------------------------------------------------------------------
// Web (browser SDK): behavioural, consent scope analytics unless stated
// ---------------------------------------------------------------------------------------------------------

const WEB: EventDefinition[] = [
  ev('page_view', 'web', 'analytics', [], 'A page was viewed (page details live in context.page).', {
    page_type: opt(CODE),
    is_first_touch: opt(BOOL),
    navigation_type: opt(oneOf('navigate', 'reload', 'back_forward', 'prerender', 'unknown')),
  }),
  ev('page_engagement', 'web', 'analytics', [], 'Engagement totals for a page, sent when the page is left.', {
    active_ms: MS,
    total_ms: MS,
    scroll_max_pct: opt(PCT),
    visibility_changes: opt(COUNT),
    focus_changes: opt(COUNT),
  }),
  ev('search_performed', 'web', 'analytics', [], 'A search was run, with its result count.', {
    query: str(512),
    search_type: opt(CODE),
    result_count: opt(COUNT),
    load_time_ms: opt(MS),
    has_results: opt(BOOL),
    filters_applied: opt(ANY_OBJECT),
  }),
  ev('event_card_impression', 'web', 'analytics', ['event_entity_id'], 'An event card became visible (>=50%) in a list or feed.', {
    ...PLACEMENT,
    scroll_depth_pct: opt(PCT),
  }),
  ev('event_card_click', 'web', 'analytics', ['event_entity_id'], 'An event card in a list or feed was clicked.', {
    ...PLACEMENT,
    relevance_score: opt({ type: 'number', min: -1e6, max: 1e6, finite: true }),
    distance_km: opt({ type: 'number', min: 0, max: 50_000, finite: true }), // more than once around the Earth is an error
  }),
  ev('event_view', 'web', 'analytics', ['event_entity_id'], 'An event detail page or modal was viewed.', {
    price_from: opt(AMOUNT),
    currency: opt(CURRENCY),
    availability_snapshot: opt(ANY_OBJECT), // e.g. { vip: 10, ga: 100 }
    source: opt(CODE),
  }),
  ev('ticket_type_selected', 'web', 'analytics', ['event_entity_id'], 'A ticket type (and quantity) was selected on an event page.', {
    ticket_type_id: opt(ID),
    ticket_type_name: opt(NAME),
    qty: opt(QTY0),
    price: opt(AMOUNT),
    currency: opt(CURRENCY),
  }),
  ev('add_to_cart', 'web', 'analytics', ['cart_id', 'event_entity_id'], 'Tickets were added to the cart.', {
    items: TICKET_ITEMS,
    cart_value: AMOUNT,
    currency: CURRENCY,
  }),
  ev('remove_from_cart', 'web', 'analytics', ['cart_id'], 'Tickets were removed from the cart.', {
    items: TICKET_ITEMS,
    cart_value: opt(AMOUNT),
    currency: opt(CURRENCY),
  }),
  ev('cart_view', 'web', 'analytics', ['cart_id'], 'The cart was viewed.', {
    items: opt(TICKET_ITEMS),
    cart_value: opt(AMOUNT),
    currency: opt(CURRENCY),
  }),
  ev('checkout_started', 'web', 'analytics', ['cart_id'], 'Checkout was started for a cart.', {
    cart_value: AMOUNT,
    currency: CURRENCY,
    login_state: opt(LOGIN_STATE),
    items: opt(TICKET_ITEMS),
  }),
  ev('checkout_step_viewed', 'web', 'analytics', ['cart_id'], 'A checkout step was shown.', {
    step_name: KEY,
    step_index: opt(INDEX),
  }),
  ev('checkout_step_completed', 'web', 'analytics', ['cart_id'], 'A checkout step was completed, with its duration and validation errors.', {
    step_name: KEY,
    step_index: opt(INDEX),
    step_duration_ms: opt(MS),
    validation_errors: opt(arr({ type: 'multi', rules: [str(256), ANY_OBJECT] }, 100)),
  }),
  // Beneficiaries (named ticket holders) can be edited during checkout or after purchase, so no cart/order
  // entity is required. Payloads carry ids and field names only, never the beneficiary's personal data.
  ev('beneficiary_added', 'web', 'analytics', [], 'A beneficiary (ticket holder) was assigned to a ticket.', {
    beneficiary_id: opt(ID),
    ticket_type_id: opt(ID),
    ticket_index: opt(INDEX),
    is_buyer: opt(BOOL),
    fields: opt(arr(CODE, 50)),
  }),
  ev('beneficiary_updated', 'web', 'analytics', [], "A ticket's beneficiary details were changed.", {
    beneficiary_id: opt(ID),
    ticket_type_id: opt(ID),
    ticket_index: opt(INDEX),
    fields_changed: opt(arr(CODE, 50)),
  }),
  ev('beneficiary_removed', 'web', 'analytics', [], 'A beneficiary was removed from a ticket.', {
    beneficiary_id: opt(ID),
    ticket_type_id: opt(ID),
    ticket_index: opt(INDEX),
  }),
  ev('discount_code_applied', 'web', 'analytics', ['cart_id'], 'A discount code was accepted for the cart.', {
    code: KEY,
    discount_type: opt(CODE), // percent, fixed, ...
    discount_amount: opt(AMOUNT),
    cart_value: opt(AMOUNT),
    currency: opt(CURRENCY),
  }),
  ev('discount_code_rejected', 'web', 'analytics', ['cart_id'], 'A discount code was refused, with the reason.', {
    code: KEY,
    reason: opt(CODE), // invalid, expired, min_not_met, ...
  }),
  ev('affiliate_attribution_captured', 'web', 'marketing', [], 'An affiliate referral was captured for attribution.', {
    affiliate_id: ID,
    click_id: opt(str(256)),
    landing_url: opt(URL),
    attribution_window_days: opt({ type: 'number', integer: true, min: 0, max: 3650 }),
  }),
  ev('payment_method_selected', 'web', 'analytics', ['cart_id'], 'A payment method was chosen in checkout.', {
    method: KEY, // card, apple_pay, google_pay, bank_transfer, ...
    provider: opt(CODE),
  }),
  ev('payment_attempted', 'web', 'analytics', ['order_id'], 'The buyer submitted a payment (client side; the outcome comes from payments).', {
    amount: AMOUNT,
    currency: CURRENCY,
    method: opt(CODE),
    provider: opt(CODE),
  }),
  ev('ticket_link_click', 'web', 'analytics', ['event_entity_id'], 'An outbound ticket purchase link was clicked.', {
    ticket_url: URL,
    ticket_provider: opt(CODE),
    source: opt(CODE),
    price_range: opt(CODE),
  }),
  // The shared content is identified by entities (event_entity_id, artist_id, venue_id).
  ev('share', 'web', 'analytics', [], 'Content (an event, artist or venue) was shared.', {
    content_type: opt(CODE), // event, artist, venue, ...
    method: opt(CODE), // whatsapp, facebook, copy_link, native, in_app, ...
    recipient_count: opt({ type: 'number', integer: true, min: 0, max: 1_000_000 }),
  }),
  ev('event_interest_marked', 'web', 'analytics', ['event_entity_id'], 'The visitor marked (or unmarked) interest in an event.', {
    interested: opt(BOOL),
    source: opt(CODE),
  }),
  ...INTERACTIONS,
];

// ---------------------------------------------------------------------------------------------------------
// Backend / payments (server-side truth): necessary
// ---------------------------------------------------------------------------------------------------------

const BACKEND: EventDefinition[] = [
  ev('payment_succeeded', 'backend', 'necessary', ['order_id'], 'The payment provider confirmed a payment.', {
    provider: KEY,
    provider_tx_id: opt(str(256)),
    amount: AMOUNT,
    currency: CURRENCY,
    method: opt(CODE),
    latency_ms: opt(MS),
  }),
  ev('payment_failed', 'backend', 'necessary', ['order_id'], 'The payment provider reported a failed payment.', {
    provider: KEY,
    provider_tx_id: opt(str(256)),
    amount: opt(AMOUNT),
    currency: opt(CURRENCY),
    method: opt(CODE),
    failure_code: opt(str(128)),
    failure_message: opt(str(1024)),
    latency_ms: opt(MS),
  }),
  ev('order_completed', 'backend', 'necessary', ['order_id'], 'A ticket order was completed (emitted by the tenant backend).', {
    gross_amount: AMOUNT,
    net_amount: opt(AMOUNT),
    fees_amount: opt(AMOUNT),
    discount_total: opt(AMOUNT),
    currency: CURRENCY,
    items: TICKET_ITEMS,
    affiliate_id: opt(ID),
    discount_code: opt(str(64)),
    channel: opt(CODE), // web, app, box_office, ...
    consent_data_processing: opt(BOOL),
    consent_marketing: opt(BOOL),
    customer: opt(CUSTOMER),
  }),
  ev('refund_completed', 'backend', 'necessary', ['order_id'], 'A refund (full or partial) was completed.', {
    amount: AMOUNT,
    currency: CURRENCY,
    provider: opt(CODE),
    provider_refund_id: opt(str(256)),
    is_partial: opt(BOOL),
    reason: opt(NAME),
    items: opt(TICKET_ITEMS),
  }),
  ev('chargeback_opened', 'backend', 'necessary', ['order_id'], 'A chargeback (dispute) was opened against a payment.', {
    amount: AMOUNT,
    currency: CURRENCY,
    provider: opt(CODE),
    provider_dispute_id: opt(str(256)),
    reason: opt(NAME),
  }),
];

// ---------------------------------------------------------------------------------------------------------
// Scanner (gate devices, TxScannerTracker): necessary
// ---------------------------------------------------------------------------------------------------------

const SCANNER: EventDefinition[] = [
  ev('scanner_session_started', 'scanner', 'necessary', ['event_entity_id'], 'A gate scanner session started.', {
    scanner_session_id: ID,
    gate_id: ID,
    staff_id: opt(ID),
    device_id: opt(ID),
    app_version: opt(CODE),
    offline_mode: opt(BOOL),
  }),
  ev('scanner_session_ended', 'scanner', 'necessary', ['event_entity_id'], 'A gate scanner session ended, with its totals.', {
    scanner_session_id: ID,
    gate_id: opt(ID),
    duration_ms: opt(MS),
    totals: opt(
      obj({
        scans: opt(COUNT),
        granted: opt(COUNT),
        denied: opt(COUNT),
        offline_scans: opt(COUNT),
      }),
    ),
  }),
  ev('ticket_scan_attempted', 'scanner', 'necessary', ['event_entity_id', 'ticket_id'], 'A ticket code was scanned at a gate.', {
    gate_id: ID,
    scanner_session_id: opt(ID),
    scan_type: opt(SCAN_TYPE),
    qr_payload_hash: opt(str(256)),
  }),
  ev('ticket_scan_result', 'scanner', 'necessary', ['event_entity_id', 'ticket_id'], 'The outcome of a ticket scan.', {
    gate_id: ID,
    result: { type: 'enum', values: SCAN_RESULTS },
    scanner_session_id: opt(ID),
    scan_type: opt(SCAN_TYPE),
    reason_code: opt(CODE),
    latency_ms: opt(MS),
    offline_resolution: opt(BOOL),
  }),
  ev('entry_granted', 'scanner', 'necessary', ['event_entity_id', 'ticket_id'], 'A ticket holder was let in through a gate.', {
    gate_id: ID,
    entry_time: opt(TIMESTAMP),
    beneficiary_id: opt(ID),
    ticket_type_id: opt(ID),
    scan_type: opt(SCAN_TYPE),
    scanner_session_id: opt(ID),
  }),
  ev('entry_denied', 'scanner', 'necessary', ['event_entity_id', 'ticket_id'], 'Entry through a gate was refused, with the reason.', {
    gate_id: ID,
    reason: opt({ type: 'enum', values: DENIAL_REASONS }),
    reason_code: opt(CODE),
    scan_type: opt(SCAN_TYPE),
    scanner_session_id: opt(ID),
  }),
  ev('capacity_snapshot', 'scanner', 'necessary', ['event_entity_id'], 'Periodic occupancy counters for a gate.', {
    gate_id: ID,
    // With it, the counters are that scanner session's own (one device's shift at the gate); without it, the gate's.
    scanner_session_id: opt(ID),
    current_inside: PEOPLE,
    total_entries: opt(PEOPLE),
    total_exits: opt(PEOPLE),
    total_denied: opt(PEOPLE),
    rate_per_minute: opt({ type: 'number', min: 0, max: 1_000_000, finite: true }),
    capacity: opt(PEOPLE), // gate capacity
    venue_capacity: opt(PEOPLE),
  }),
];

// ---------------------------------------------------------------------------------------------------------
// Shop (merchandise): browsing is analytics, orders and shipments are necessary
// ---------------------------------------------------------------------------------------------------------

const SHOP: EventDefinition[] = [
  ev('product_view', 'shop', 'analytics', ['product_id'], 'A shop product page was viewed.', {
    name: opt(NAME),
    variant_id: opt(ID),
    category: opt(NAME),
    price: opt(AMOUNT),
    currency: opt(CURRENCY),
    in_stock: opt(BOOL),
  }),
  ev('add_to_cart_shop', 'shop', 'analytics', ['product_id'], 'A shop product was added to the cart.', {
    qty: QTY,
    variant_id: opt(ID),
    price: opt(AMOUNT),
    cart_value: opt(AMOUNT),
    currency: opt(CURRENCY),
  }),
  ev('checkout_started_shop', 'shop', 'analytics', ['cart_id'], 'Checkout was started for a shop cart.', {
    cart_value: AMOUNT,
    currency: CURRENCY,
    items: opt(SHOP_ITEMS),
    login_state: opt(LOGIN_STATE),
  }),
  ev('order_completed_shop', 'shop', 'necessary', ['order_id'], 'A shop order was completed.', {
    gross_amount: AMOUNT,
    net_amount: opt(AMOUNT),
    shipping_amount: opt(AMOUNT),
    tax_amount: opt(AMOUNT),
    discount_total: opt(AMOUNT),
    currency: CURRENCY,
    items: SHOP_ITEMS,
    shipping_method: opt(CODE),
    channel: opt(CODE),
    customer: opt(CUSTOMER),
  }),
  ev('shipment_created', 'shop', 'necessary', ['order_id'], 'A shipment was created for a shop order.', {
    shipment_id: opt(ID),
    carrier: opt(CODE),
    tracking_number: opt(str(128)),
    shipping_method: opt(CODE),
    items_count: opt(QTY0),
    estimated_delivery_at: opt(TIMESTAMP),
  }),
  ev('shipment_delivered', 'shop', 'necessary', ['order_id'], 'A shipment was delivered.', {
    shipment_id: opt(ID),
    carrier: opt(CODE),
    tracking_number: opt(str(128)),
    delivered_at: opt(TIMESTAMP),
  }),
];

// ---------------------------------------------------------------------------------------------------------
// Other: gamification, wallet passes, experiments
// ---------------------------------------------------------------------------------------------------------

const OTHER: EventDefinition[] = [
  ev('points_earned', 'other', 'necessary', [], 'Loyalty points were credited to a customer.', {
    points: COUNT,
    reason: opt(CODE), // order, referral, check_in, review, ...
    balance_after: opt({ type: 'number', integer: true, min: -MAX_COUNT, max: MAX_COUNT }),
    customer_external_id: opt(ID),
  }),
  ev('wallet_pass_added', 'other', 'necessary', ['ticket_id'], 'A ticket pass was added to a mobile wallet.', {
    platform: KEY, // apple_wallet, google_wallet, ...
    pass_id: opt(str(128)),
  }),
  ev('experiment_exposure', 'other', 'analytics', [], 'The visitor was exposed to an experiment variant.', {
    experiment_id: ID,
    variant: { type: 'string', min: 1, max: 128 },
    experiment_name: opt(NAME),
  }),
];

/**
 * Browser events a backend may also post to /api/v1/server-events (source_system backend): an exposure of a
 * server-side assignment (GET /api/tx/experiments from the tenant's server).
 */
export const SERVER_ALSO_EVENTS: readonly string[] = Object.freeze(['experiment_exposure']);

/** Server truth: only the secret-key path may post these (with SERVER_ALSO_EVENTS, what /api/v1/server-events takes). */
export const SERVER_ONLY_EVENTS: readonly string[] = Object.freeze([
  'order_completed', 'payment_succeeded', 'payment_failed', 'refund_completed', 'chargeback_opened',
  'points_earned', 'order_completed_shop', 'shipment_created', 'shipment_delivered',
]);

export const REGISTRY_V1: readonly EventDefinition[] = Object.freeze(
  serverOnly([...WEB, ...BACKEND, ...SCANNER, ...SHOP, ...OTHER], [...SERVER_ONLY_EVENTS]),
);

/**
 * Payload keys that carry money anywhere in the registry (rules bounded by MAX_AMOUNT: gross_amount, price,
 * cart_value, …, nested item prices included), and the keys of containers (objects, arrays) holding one at any
 * depth (`items`: each item's price). Filters and breakdowns that read either reveal amounts — a container read
 * whole lists the amounts inside, and `contains` on it bisects them — so they need view_revenue
 * (analytics/spec.ts moneyField, for funnels and experiment metrics).
 */
export interface MoneyKeys {
  keys: ReadonlySet<string>;
  containers: ReadonlySet<string>;
}

export const MONEY: MoneyKeys = (() => {
  const keys = new Set<string>();
  const containers = new Set<string>();
  /** Whether `rule` is or holds an amount; records the keys on the way. */
  const walk = (rule: Rule, key: string | null): boolean => {
    if (rule.type === 'number' && rule.max === MAX_AMOUNT) {
      if (key !== null) keys.add(key);
      return true;
    }
    let money = false;
    if (rule.type === 'object') for (const [k, r] of Object.entries((rule.props ?? {}) as Props)) money = walk(r, k) || money;
    // An array's elements go under its key: a list of amounts is an amount key, a list of objects a container.
    if (rule.type === 'array') money = walk(rule.items as Rule, key);
    if (rule.type === 'multi') for (const r of rule.rules as Rule[]) money = walk(r, key) || money;
    if (money && key !== null && rule.type === 'object') containers.add(key);
    return money;
  };
  for (const d of REGISTRY_V1) for (const [k, r] of Object.entries(d.payload)) walk(r as Rule, k);
  return { keys, containers };
})();

/** The money leaf keys alone (MONEY.keys). */
export const MONEY_KEYS: ReadonlySet<string> = MONEY.keys;
