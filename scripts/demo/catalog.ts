// The demo organizer's catalogue: two events with several ticket types, currencies and gates. Pure data.

export interface TicketType {
  id: string;
  name: string;
  price: number;
  /** The catalog category shown on the sales ticker (GA, VIP, EarlyBird, …). */
  category: string;
  /** Relative popularity. */
  weight: number;
}

export interface Gate {
  id: string;
  name: string;
  capacity: number;
  /** Share of the capacity inside when the demo starts. */
  startFill: number;
  /** Mean seconds between scans (at speed 1). */
  scanEverySec: number;
  /** Where occupancy drifts to: people leave when it is above, arrive faster when below. */
  targetFill: number;
}

export interface DemoEvent {
  id: string;
  name: string;
  slug: string;
  venueId: string;
  venueName: string;
  city: string;
  country: string;
  /** Doors, UTC hour of the demo day (the catalog's starts_at). */
  startsHourUtc: number;
  venueCapacity: number;
  /** The shop's currency; a share of orders is paid in `altCurrency` (tourists, another storefront). */
  currency: string;
  altCurrency: { code: string; rate: number; share: number };
  tickets: TicketType[];
  gates: Gate[];
  /** Share of the traffic this event gets. */
  popularity: number;
}

export const DEMO_ORG = 'org-demo';
export const DEMO_ORG_NAME = 'Tixello Demo Promotions';

export const DEMO_EVENTS: DemoEvent[] = [
  {
    id: 'evt-summer-fest',
    name: 'Summer Fest 2026',
    slug: 'summer-fest-2026',
    venueId: 'venue-arena',
    venueName: 'Arena Nord',
    city: 'Cluj-Napoca',
    country: 'RO',
    startsHourUtc: 17,
    venueCapacity: 2000,
    currency: 'EUR',
    altCurrency: { code: 'GBP', rate: 0.85, share: 0.15 },
    tickets: [
      { id: 'sf-early', name: 'Early Bird', price: 45, category: 'EarlyBird', weight: 2 },
      { id: 'sf-ga', name: 'General Admission', price: 59, category: 'GA', weight: 6 },
      { id: 'sf-vip', name: 'VIP', price: 149, category: 'VIP', weight: 1.5 },
      { id: 'sf-weekend', name: 'Weekend Pass', price: 99, category: 'Pass', weight: 2.5 },
    ],
    gates: [
      // Busy and nearly full: goes amber (85 %) within a minute or so, red (95 %) at peaks.
      { id: 'north', name: 'North Gate', capacity: 1200, startFill: 0.83, scanEverySec: 1.2, targetFill: 0.93 },
      { id: 'south', name: 'South Gate', capacity: 800, startFill: 0.55, scanEverySec: 2.5, targetFill: 0.7 },
    ],
    popularity: 0.62,
  },
  {
    id: 'evt-jazz-night',
    name: 'Jazz Night at the Ateneu',
    slug: 'jazz-night',
    venueId: 'venue-ateneu',
    venueName: 'Romanian Athenaeum',
    city: 'Bucharest',
    country: 'RO',
    startsHourUtc: 18,
    venueCapacity: 380,
    currency: 'RON',
    altCurrency: { code: 'EUR', rate: 0.2, share: 0.2 },
    tickets: [
      { id: 'jn-standard', name: 'Standard', price: 120, category: 'GA', weight: 5 },
      { id: 'jn-premium', name: 'Premium', price: 250, category: 'VIP', weight: 2 },
      { id: 'jn-student', name: 'Student', price: 60, category: 'Student', weight: 2 },
    ],
    gates: [
      { id: 'main', name: 'Main Entrance', capacity: 300, startFill: 0.4, scanEverySec: 3, targetFill: 0.6 },
      // A small balcony that is practically full: red.
      { id: 'balcony', name: 'Balcony', capacity: 80, startFill: 0.95, scanEverySec: 6, targetFill: 0.97 },
    ],
    popularity: 0.38,
  },
];

export const USER_AGENTS = [
  { ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36', device: { device_type: 'desktop', os: 'Windows', browser: 'Chrome' }, weight: 4 },
  { ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15', device: { device_type: 'desktop', os: 'macOS', browser: 'Safari' }, weight: 2 },
  { ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1', device: { device_type: 'mobile', os: 'iOS', browser: 'Safari' }, weight: 4 },
  { ua: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36', device: { device_type: 'mobile', os: 'Android', browser: 'Chrome' }, weight: 4 },
  { ua: 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0', device: { device_type: 'desktop', os: 'Linux', browser: 'Firefox' }, weight: 1 },
];

export const SOURCES = [
  { utm: null, referrer: null, weight: 4 },
  { utm: null, referrer: 'https://www.google.com/', weight: 4 },
  { utm: { source: 'newsletter', medium: 'email', campaign: 'weekly-picks' }, referrer: null, weight: 2 },
  { utm: { source: 'facebook', medium: 'paid_social', campaign: 'summer-launch' }, referrer: 'https://m.facebook.com/', weight: 2 },
  { utm: { source: 'instagram', medium: 'social', campaign: 'artist-story' }, referrer: 'https://l.instagram.com/', weight: 1.5 },
  { utm: { source: 'tiktok', medium: 'paid_social', campaign: 'teaser' }, referrer: null, weight: 1 },
];

export const PAYMENT_METHODS = [
  { method: 'card', weight: 6 },
  { method: 'apple_pay', weight: 2 },
  { method: 'google_pay', weight: 2 },
];

export const SITE = 'https://tickets.demo.tixello.example';
