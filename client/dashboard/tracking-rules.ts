// What the tracking-codes form checks as the organizer types (the server checks again: server/tracking/
// validate.ts, whose patterns these mirror; test/tracking-dashboard.test.ts compares them). Pure, no DOM.

export type Provider = 'meta' | 'ga4' | 'gtm' | 'google_ads' | 'tiktok';

export interface ProviderRule {
  label: string;
  field: 'pixel_id' | 'measurement_id' | 'container_id' | 'conversion_id';
  fieldLabel: string;
  re: RegExp;
  example: string;
  /** Where to find the id (the form's help box). */
  help: string;
  secret: 'access_token' | 'api_secret' | null;
  secretHelp: string;
  matching: boolean;
  label2: boolean;
}

export const RULES: Record<Provider, ProviderRule> = {
  meta: {
    label: 'Meta Pixel', field: 'pixel_id', fieldLabel: 'Pixel ID', re: /^\d{15,16}$/, example: '123456789012345',
    help: 'Meta Events Manager → Data sources → select your pixel → Settings: the Pixel ID (dataset ID) is the 15–16 digit number under its name.',
    secret: 'access_token', secretHelp: 'Conversions API access token (Events Manager → Settings → Generate access token), for server-side purchases.', matching: true, label2: false,
  },
  ga4: {
    label: 'Google Analytics 4', field: 'measurement_id', fieldLabel: 'Measurement ID', re: /^G-[A-Z0-9]{4,20}$/, example: 'G-AB12CD34EF',
    help: 'Google Analytics → Admin → Data streams → your web stream: the Measurement ID starts with G-.',
    secret: 'api_secret', secretHelp: 'Measurement Protocol API secret (same web stream → Measurement Protocol API secrets), for server-side purchases.', matching: false, label2: false,
  },
  gtm: {
    label: 'Google Tag Manager', field: 'container_id', fieldLabel: 'Container ID', re: /^GTM-[A-Z0-9]{4,12}$/, example: 'GTM-AB12CD3',
    help: 'Tag Manager → your container: the ID next to the container name starts with GTM-.',
    secret: null, secretHelp: '', matching: false, label2: false,
  },
  google_ads: {
    label: 'Google Ads', field: 'conversion_id', fieldLabel: 'Conversion ID', re: /^AW-\d{6,14}$/, example: 'AW-123456789',
    help: 'Google Ads → Goals → Conversions → your purchase action → Tag setup: send_to is AW-conversion ID/label.',
    secret: 'access_token', secretHelp: 'OAuth access token for the Data Manager API, for server-side conversions.', matching: false, label2: true,
  },
  tiktok: {
    label: 'TikTok Pixel', field: 'pixel_id', fieldLabel: 'Pixel code', re: /^[A-Z0-9]{20}$/, example: 'CABCDEFGHIJ123456789',
    help: 'TikTok Events Manager → Web → your pixel: the pixel code is 20 capital letters and digits (it starts with C or D).',
    secret: 'access_token', secretHelp: 'Events API access token (Events Manager → your pixel → Settings → Generate access token).', matching: true, label2: false,
  },
};

export const PROVIDERS = Object.keys(RULES) as Provider[];
export const CONVERSION_EVENTS = [
  ['order_completed', 'Purchase'], ['checkout_started', 'Checkout started'], ['add_to_cart', 'Add to cart'], ['event_view', 'Event page view'],
] as const;
const LABEL = /^[A-Za-z0-9_-]{1,64}$/;

/** The message for an id as typed (null: fine). Pure. */
export function idProblem(p: Provider, raw: string): string | null {
  const r = RULES[p];
  const v = raw.trim();
  if (v === '') return `${r.fieldLabel} is required.`;
  if (r.re.test(v)) return null;
  if (r.re.test(v.toUpperCase())) return `${r.fieldLabel} must be in capital letters: ${v.toUpperCase()}.`;
  return `That is not a ${r.label} ${r.fieldLabel}: it looks like ${r.example}.`;
}

export function labelProblem(raw: string): string | null {
  return raw === '' || LABEL.test(raw) ? null : 'The conversion label is the part after the slash of send_to: letters, digits, - and _.';
}
