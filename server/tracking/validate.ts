// What a tracking code may hold (README "Tracking codes"), checked at the API boundary. Pure.
// The ids end up inside <script> text and script URLs of tenant pages, so the per-provider patterns are also
// the XSS guard: only [A-Za-z0-9_-] ever passes, and nothing else of a code reaches a snippet unescaped.
import { BODY_ROOT, describeJson, stringProblem, type Parsed } from '../http/params.js';
import { isObj, type Obj } from '../store/rows.js';

export const PROVIDERS = ['meta', 'ga4', 'gtm', 'google_ads', 'tiktok'] as const;
export type Provider = (typeof PROVIDERS)[number];
export const isProvider = (v: unknown): v is Provider => typeof v === 'string' && (PROVIDERS as readonly string[]).includes(v);

/** tx events a code may convert on (server-side conversions, issue 15 part 2; Google Ads' browser conversion). */
export const CONVERSION_EVENTS = ['order_completed', 'add_to_cart', 'checkout_started', 'event_view'] as const;
export type ConversionEvent = (typeof CONVERSION_EVENTS)[number];
export const DEFAULT_CONVERSION_EVENTS: ConversionEvent[] = ['order_completed'];

export type ConsentCategory = 'marketing' | 'analytics';
/**
 * The consent a page needs before loading the code. GA4 measures (analytics); the ad pixels are marketing, and
 * so is a GTM container, which can load any tag (the strict side).
 */
export const CONSENT: Record<Provider, ConsentCategory> = { meta: 'marketing', ga4: 'analytics', gtm: 'marketing', google_ads: 'marketing', tiktok: 'marketing' };

/** The settings key holding each provider's id. */
export const ID_FIELD: Record<Provider, 'pixel_id' | 'measurement_id' | 'container_id' | 'conversion_id'> = {
  meta: 'pixel_id', ga4: 'measurement_id', gtm: 'container_id', google_ads: 'conversion_id', tiktok: 'pixel_id',
};

const ID_RULE: Record<Provider, { re: RegExp; what: string }> = {
  meta: { re: /^\d{15,16}$/, what: 'a Meta pixel (dataset) id is 15-16 digits, e.g. 123456789012345 (Events Manager → Data sources → your pixel → Settings)' },
  ga4: { re: /^G-[A-Z0-9]{4,20}$/, what: 'a GA4 measurement id is G- and 4-20 upper-case letters or digits, e.g. G-AB12CD34EF (Admin → Data streams → your web stream)' },
  gtm: { re: /^GTM-[A-Z0-9]{4,12}$/, what: 'a GTM container id is GTM- and 4-12 upper-case letters or digits, e.g. GTM-AB12CD3 (Tag Manager, next to the container name)' },
  google_ads: { re: /^AW-\d{6,14}$/, what: 'a Google Ads conversion id is AW- and 6-14 digits, e.g. AW-123456789 (Goals → Conversions → the action → Tag setup)' },
  tiktok: { re: /^[A-Z0-9]{20}$/, what: 'a TikTok pixel code is 20 upper-case letters or digits, e.g. CABCDEFGHIJ123456789 (Events Manager → Web → your pixel)' },
};
const LABEL = /^[A-Za-z0-9_-]{1,64}$/;
const TEST_CODE = /^[A-Za-z0-9_-]{1,64}$/;
const PARAM_KEY = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;
const MAX_PARAMS = 20;
const MAX_PARAM_TEXT = 100;
const MAX_SECRET = 4096;
export const MAX_OWNER_ID = 128;

/**
 * Settings the server needs (the Data Manager API's account and conversion action) that never reach a page: not
 * in snippets nor in the public tracking-config (snippets.ts publicCode). Sent inside custom_params (as README
 * once said), they are moved out of them: custom_params go into page scripts.
 */
export const SERVER_ONLY = { google_ads: ['customer_id', 'conversion_action_id'] } as const;
const CUSTOMER_ID = /^\d{3}-?\d{3}-?\d{4}$/;
const ACTION_ID = /^\d{1,20}$/;

/** Which optional settings and secrets each provider takes (anything else is refused by name). */
const EXTRA: Record<Provider, { settings: string[]; secrets: ('access_token' | 'api_secret')[] }> = {
  meta: { settings: ['advanced_matching', 'test_event_code'], secrets: ['access_token'] },
  ga4: { settings: [], secrets: ['api_secret'] },
  gtm: { settings: [], secrets: [] },
  google_ads: { settings: ['conversion_label', ...SERVER_ONLY.google_ads], secrets: ['access_token'] },
  tiktok: { settings: ['advanced_matching', 'test_event_code'], secrets: ['access_token'] },
};
const COMMON_SETTINGS = ['conversion_events', 'custom_params'];

export interface Settings {
  pixel_id?: string;
  measurement_id?: string;
  container_id?: string;
  conversion_id?: string;
  conversion_label?: string;
  conversion_events: ConversionEvent[];
  advanced_matching?: boolean;
  custom_params: Record<string, string | number | boolean>;
  test_event_code?: string;
  /** Google Ads (server-only): the Data Manager operating account, 10 digits. */
  customer_id?: string;
  /** Google Ads (server-only): the conversion action's id. */
  conversion_action_id?: string;
}

/** Secret changes: a string sets it, null removes it, absent keeps what is stored. */
export type SecretsPatch = Partial<Record<'access_token' | 'api_secret', string | null>>;

export interface NewCode {
  provider: Provider;
  organizer_id: string | null;
  event_id: string | null;
  enabled: boolean;
  settings: Settings;
  secrets: SecretsPatch;
}

export interface CodePatch {
  enabled?: boolean;
  settings?: Settings;
  secrets: SecretsPatch;
}

type Bad = Parsed<never>;
const bad = (field: string, message: string): Bad => ({ ok: false, error: { code: 'invalid_field', in: 'body', field, message } });

/** The provider's id, or why it is refused (the message says what the id looks like and where to find it). Pure. */
export function checkProviderId(provider: Provider, raw: unknown): { ok: true; value: string } | { ok: false; message: string } {
  const rule = ID_RULE[provider];
  if (typeof raw !== 'string' || !rule.re.test(raw)) {
    const got = typeof raw === 'string' ? ` (got ${JSON.stringify(raw.slice(0, 40))})` : '';
    return { ok: false, message: `${ID_FIELD[provider]}: ${rule.what}${got}.` };
  }
  return { ok: true, value: raw };
}

function parseCustomParams(v: unknown, field: string): Parsed<Settings['custom_params']> {
  if (v === undefined || v === null) return { ok: true, value: {} };
  if (!isObj(v)) return bad(field, `${field} must be an object of at most ${MAX_PARAMS} name → string/number/boolean.`);
  const entries = Object.entries(v);
  if (entries.length > MAX_PARAMS) return bad(field, `${field} holds at most ${MAX_PARAMS} parameters (got ${entries.length}).`);
  const out: Settings['custom_params'] = {};
  for (const [k, val] of entries) {
    if (!PARAM_KEY.test(k)) return bad(`${field}.${k.slice(0, 40)}`, 'A parameter name is a letter then up to 39 letters, digits or _.');
    const ok = typeof val === 'boolean' || (typeof val === 'number' && Number.isFinite(val))
      || (typeof val === 'string' && val.length <= MAX_PARAM_TEXT && stringProblem(val) === null);
    if (!ok) return bad(`${field}.${k}`, `A parameter value is a finite number, a boolean or a string of at most ${MAX_PARAM_TEXT} printable characters.`);
    out[k] = val as string | number | boolean;
  }
  return { ok: true, value: out };
}

function parseConversionEvents(v: unknown, field: string): Parsed<ConversionEvent[]> {
  if (v === undefined || v === null) return { ok: true, value: [...DEFAULT_CONVERSION_EVENTS] };
  const allowed = CONVERSION_EVENTS as readonly string[];
  if (!Array.isArray(v) || v.length > allowed.length * 2) return bad(field, `${field} must be a list of ${CONVERSION_EVENTS.join(', ')}.`);
  for (const [i, e] of v.entries()) if (typeof e !== 'string' || !allowed.includes(e)) return bad(`${field}[${i}]`, `${field} takes ${CONVERSION_EVENTS.join(', ')}.`);
  return { ok: true, value: [...new Set(v as ConversionEvent[])] };
}

/** A provider's settings object: its id, the common options and its own extras; unknown keys are refused. Pure. */
export function parseSettings(provider: Provider, v: unknown, field = 'settings'): Parsed<Settings> {
  if (!isObj(v)) return bad(field, `${field} must be an object with ${ID_FIELD[provider]} (see README "Tracking codes").`);
  const known = [ID_FIELD[provider], ...COMMON_SETTINGS, ...EXTRA[provider].settings];
  const unknown = Object.keys(v).find((k) => !known.includes(k));
  if (unknown !== undefined) return bad(`${field}.${unknown.slice(0, 40)}`, `A ${provider} code takes ${known.join(', ')} in ${field}.`);
  const id = checkProviderId(provider, v[ID_FIELD[provider]]);
  if (!id.ok) return bad(`${field}.${ID_FIELD[provider]}`, id.message);
  const events = parseConversionEvents(v.conversion_events, `${field}.conversion_events`);
  if (!events.ok) return events;
  const params = parseCustomParams(v.custom_params, `${field}.custom_params`);
  if (!params.ok) return params;
  const out: Settings = { [ID_FIELD[provider]]: id.value, conversion_events: events.value, custom_params: params.value };
  if (provider === 'google_ads') {
    for (const k of SERVER_ONLY.google_ads) {
      const given = v[k] ?? params.value[k];
      delete params.value[k];
      if (given === undefined || given === null) continue;
      const text = typeof given === 'number' && Number.isInteger(given) ? String(given) : given;
      const where = v[k] !== undefined && v[k] !== null ? `${field}.${k}` : `${field}.custom_params.${k}`;
      if (k === 'customer_id') {
        if (typeof text !== 'string' || !CUSTOMER_ID.test(text)) return bad(where, 'customer_id is the Google Ads account the conversions go to: 10 digits, dashes allowed (123-456-7890).');
        out.customer_id = text.replace(/-/g, '');
      } else {
        if (typeof text !== 'string' || !ACTION_ID.test(text)) return bad(where, 'conversion_action_id is the numeric id of the Google Ads conversion action (1-20 digits).');
        out.conversion_action_id = text;
      }
    }
  }
  if (v.advanced_matching !== undefined) {
    if (typeof v.advanced_matching !== 'boolean') return bad(`${field}.advanced_matching`, 'advanced_matching is true or false.');
    out.advanced_matching = v.advanced_matching;
  }
  if (v.conversion_label !== undefined && v.conversion_label !== null) {
    if (typeof v.conversion_label !== 'string' || !LABEL.test(v.conversion_label)) {
      return bad(`${field}.conversion_label`, 'conversion_label is the part after the slash of send_to (AW-123456789/AbC-D_efG): 1-64 letters, digits, - or _.');
    }
    out.conversion_label = v.conversion_label;
  }
  if (v.test_event_code !== undefined && v.test_event_code !== null) {
    if (typeof v.test_event_code !== 'string' || !TEST_CODE.test(v.test_event_code)) return bad(`${field}.test_event_code`, 'test_event_code is 1-64 letters, digits, - or _ (from Events Manager → Test events).');
    out.test_event_code = v.test_event_code;
  }
  return { ok: true, value: out };
}

function parseSecrets(provider: Provider, v: unknown): Parsed<SecretsPatch> {
  if (v === undefined || v === null) return { ok: true, value: {} };
  const allowed = EXTRA[provider].secrets;
  if (!isObj(v)) return bad('secrets', `secrets must be an object with ${allowed.join(', ') || 'nothing (this provider takes no secret)'}.`);
  const out: SecretsPatch = {};
  for (const [k, val] of Object.entries(v)) {
    if (!(allowed as string[]).includes(k)) return bad(`secrets.${k.slice(0, 40)}`, `A ${provider} code takes ${allowed.length ? allowed.join(', ') : 'no secret'} in secrets.`);
    if (val !== null && (typeof val !== 'string' || val.length === 0 || val.length > MAX_SECRET || stringProblem(val) !== null)) {
      return bad(`secrets.${k}`, `secrets.${k} is a token of 1-${MAX_SECRET} printable characters, or null to remove it.`);
    }
    out[k as keyof SecretsPatch] = val as string | null;
  }
  return { ok: true, value: out };
}

function ownerId(v: unknown, field: string): Parsed<string | null> {
  if (v === undefined || v === null) return { ok: true, value: null };
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_OWNER_ID || stringProblem(v) !== null) {
    return bad(field, `${field} is the catalog id (1-${MAX_OWNER_ID} printable characters), or null.`);
  }
  return { ok: true, value: v };
}

const unknownField = (b: Obj, known: string[]): string | undefined => Object.keys(b).find((k) => !known.includes(k));

/** The body of POST /api/v1/tracking-codes. Pure. */
export function parseNewCode(v: unknown): Parsed<NewCode> {
  if (!isObj(v)) return bad(BODY_ROOT, 'Send {"provider","organizer_id"?,"event_id"?,"enabled"?,"settings":{…},"secrets"?:{…}}.');
  const extra = unknownField(v, ['provider', 'organizer_id', 'event_id', 'enabled', 'settings', 'secrets']);
  if (extra !== undefined) return bad(extra.slice(0, 40), `Unknown field ${JSON.stringify(extra.slice(0, 40))}: a tracking code takes provider, organizer_id, event_id, enabled, settings, secrets.`);
  if (!isProvider(v.provider)) return bad('provider', `provider must be one of ${PROVIDERS.join(', ')}.`);
  const org = ownerId(v.organizer_id, 'organizer_id');
  if (!org.ok) return org;
  const ev = ownerId(v.event_id, 'event_id');
  if (!ev.ok) return ev;
  if (ev.value !== null && org.value === null) return bad('organizer_id', 'An event\'s code belongs to its organizer: send organizer_id with event_id (neither = the marketplace\'s own code).');
  if (v.enabled !== undefined && typeof v.enabled !== 'boolean') return bad('enabled', `enabled is true or false; got ${describeJson(v.enabled)}.`);
  const settings = parseSettings(v.provider, v.settings);
  if (!settings.ok) return settings;
  const secrets = parseSecrets(v.provider, v.secrets);
  if (!secrets.ok) return secrets;
  return { ok: true, value: { provider: v.provider, organizer_id: org.value, event_id: ev.value, enabled: v.enabled ?? true, settings: settings.value, secrets: secrets.value } };
}

/**
 * The body of PUT /api/v1/tracking-codes/{id} for a code of `provider`: enabled, settings (replaced whole)
 * and secrets (per key). Owner and provider are fixed: delete and create to move a code. Pure.
 */
export function parseCodePatch(provider: Provider, v: unknown): Parsed<CodePatch> {
  if (!isObj(v)) return bad(BODY_ROOT, 'Send {"enabled"?,"settings"?:{…},"secrets"?:{…}}.');
  const extra = unknownField(v, ['enabled', 'settings', 'secrets']);
  if (extra !== undefined) {
    const fixed = ['provider', 'organizer_id', 'event_id'].includes(extra);
    return bad(extra.slice(0, 40), fixed ? `${extra} cannot change: delete this code and create one for the other owner or provider.` : `Unknown field ${JSON.stringify(extra.slice(0, 40))}: an update takes enabled, settings, secrets.`);
  }
  if (v.enabled !== undefined && typeof v.enabled !== 'boolean') return bad('enabled', `enabled is true or false; got ${describeJson(v.enabled)}.`);
  let settings: Settings | undefined;
  if (v.settings !== undefined) {
    const s = parseSettings(provider, v.settings);
    if (!s.ok) return s;
    settings = s.value;
  }
  const secrets = parseSecrets(provider, v.secrets);
  if (!secrets.ok) return secrets;
  return { ok: true, value: { enabled: v.enabled as boolean | undefined, settings, secrets: secrets.value } };
}

/** Stored secrets after a patch (null when none is left). Pure. */
export function applySecrets(stored: Partial<Record<'access_token' | 'api_secret', string>>, patch: SecretsPatch): Partial<Record<'access_token' | 'api_secret', string>> | null {
  const out = { ...stored };
  for (const [k, v] of Object.entries(patch) as ['access_token' | 'api_secret', string | null][]) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return Object.keys(out).length ? out : null;
}

/** Who a code belongs to. */
export type Owner = 'event' | 'organizer' | 'marketplace';
export const ownerOf = (c: { organizer_id: string | null; event_id: string | null }): Owner => (c.organizer_id === null ? 'marketplace' : c.event_id === null ? 'organizer' : 'event');
