// The body of POST /api/v1/remarketing-audiences (seed 002 §2.3): platform, audience_type, optional event and
// organizer, criteria {source_events, time_window_days, min_actions, exclude_purchasers, lookalike_source_id,
// lookalike_percentage, segment_id, segment_version}, optional name, external_audience_id, account_id,
// auto_refresh and expires_at. Unknown fields are refused. Pure.
import type { Parsed } from '../http/params.js';
import { bodyTime, idFromJson } from '../http/params.js';
import { bad, num, str, strList, unknownField } from '../audiences/schemas.js';
import { isObj } from '../store/rows.js';
import { eventNameProblem } from '../segments/grammar.js';
import { ACCOUNT_IDS, accountId } from '../campaigns/config.js';
import { ISO_3166_ALPHA2 } from './countries.js';

export const PLATFORMS = ['meta', 'google_ads', 'tiktok'] as const;
export type Platform = (typeof PLATFORMS)[number];
export const TYPES = ['website_visitors', 'event_viewers', 'cart_abandoners', 'ticket_buyers', 'lookalike', 'custom_segment'] as const;
export type AudienceType = (typeof TYPES)[number];

/** The events each behaviour type counts unless criteria.source_events says otherwise. */
export const DEFAULT_SOURCE_EVENTS: Record<AudienceType, string[]> = {
  website_visitors: ['page_view'], event_viewers: ['event_view'], cart_abandoners: ['add_to_cart'], ticket_buyers: ['order_completed'], lookalike: [], custom_segment: [],
};

/** The types that count behaviour (events in a window); the others are a lookalike's seed or a segment's members. */
const BEHAVIOUR: readonly AudienceType[] = ['website_visitors', 'event_viewers', 'cart_abandoners', 'ticket_buyers'];

/**
 * The audience types each criteria field applies to. A field sent for another type would be stored and mean
 * nothing (a segment_id on ticket_buyers names a segment that may then be deleted; exclude_purchasers on a
 * custom_segment drops nobody), so it is refused.
 */
export const CRITERIA_TYPES: Record<string, readonly AudienceType[]> = {
  source_events: BEHAVIOUR, time_window_days: BEHAVIOUR, min_actions: BEHAVIOUR, exclude_purchasers: BEHAVIOUR,
  lookalike_source_id: ['lookalike'], lookalike_percentage: ['lookalike'], lookalike_country: ['lookalike'],
  segment_id: ['custom_segment'], segment_version: ['custom_segment'],
};

/** "a lookalike audience", "a website_visitors, event_viewers, cart_abandoners or ticket_buyers audience". Pure. */
const typesText = (types: readonly AudienceType[]) => (types.length === 1 ? `a ${types[0]}` : `a ${types.slice(0, -1).join(', ')} or ${types[types.length - 1]}`) + ' audience';

/**
 * The ad account an audience lives in, normalised as campaigns' ad accounts are (campaigns/config.ts accountId):
 * a Google Ads customer id as its 10 digits (123-456-7890 is taken; Data Manager's operatingAccount.accountId is
 * the digits), a TikTok advertiser id as digits. Meta's (a lookalike's ad account, act_ optional) is kept as sent.
 */
const ACCOUNT_ID_OF: Partial<Record<Platform, keyof typeof ACCOUNT_IDS>> = { google_ads: 'GOOGLE_ADS_CUSTOMER_ID', tiktok: 'TIKTOK_ADVERTISER_ID' };

/** `raw` as the platform's API takes it, or null when it is not one of its account ids. Pure. */
export function platformAccountId(p: Platform, raw: string): string | null {
  const name = ACCOUNT_ID_OF[p];
  return name ? accountId(name, raw) : raw;
}

export interface Criteria {
  source_events: string[];
  time_window_days: number;
  min_actions: number;
  exclude_purchasers: boolean;
  lookalike_source_id?: number;
  lookalike_percentage?: number;
  /** ISO 3166-1 alpha-2 country the platform draws the lookalike from (Meta's lookalike_spec.country). */
  lookalike_country?: string;
  segment_id?: number;
  segment_version?: number;
}

export interface NewAudience {
  platform: Platform;
  audience_type: AudienceType;
  event_id: string | null;
  organizer_id: string | null;
  name: string;
  criteria: Criteria;
  external_audience_id: string | null;
  account_id: string | null;
  auto_refresh: boolean;
  expires_at: string | null;
}

const oneOf = <T extends string>(v: unknown, list: readonly T[], field: string): Parsed<T> =>
  typeof v === 'string' && (list as readonly string[]).includes(v) ? { ok: true, value: v as T } : bad(field, `${field} must be one of ${list.join(', ')}.`);

function parseCriteria(v: unknown, type: AudienceType): Parsed<Criteria> {
  if (v !== undefined && !isObj(v)) return bad('criteria', 'criteria must be an object.');
  const c = (v ?? {}) as Record<string, unknown>;
  const unknown = unknownField(c, Object.keys(CRITERIA_TYPES), 'criteria');
  if (unknown) return unknown;
  for (const [k, types] of Object.entries(CRITERIA_TYPES)) {
    if (c[k] !== undefined && !types.includes(type)) {
      return bad(`criteria.${k}`, `criteria.${k} applies to ${typesText(types)} only; this audience_type is ${type}: leave it out.`);
    }
  }
  const src = strList(c.source_events, 'criteria.source_events', 20, 100);
  if (!src.ok) return src;
  // An empty list is not a list left out: taking the type's default would count events the tenant did not ask for.
  if (Array.isArray(c.source_events) && src.value.length === 0) {
    return bad('criteria.source_events', `criteria.source_events must name at least one event; leave it out for the type's default (${DEFAULT_SOURCE_EVENTS[type].join(', ')}).`);
  }
  // A name no event carries would match nobody while the audience reports success.
  for (const [i, name] of src.value.entries()) {
    const problem = eventNameProblem(name, `criteria.source_events[${i}]`);
    if (problem) return bad('criteria.source_events', problem);
  }
  const days = num(c.time_window_days, 'criteria.time_window_days', 1, 540, 30);
  if (!days.ok || !Number.isInteger(days.value)) return bad('criteria.time_window_days', 'criteria.time_window_days must be an integer between 1 and 540.');
  const min = num(c.min_actions, 'criteria.min_actions', 1, 1000, 1);
  if (!min.ok || !Number.isInteger(min.value)) return bad('criteria.min_actions', 'criteria.min_actions must be an integer between 1 and 1000.');
  if (c.exclude_purchasers !== undefined && typeof c.exclude_purchasers !== 'boolean') return bad('criteria.exclude_purchasers', 'criteria.exclude_purchasers must be true or false.');
  const out: Criteria = {
    source_events: src.value.length ? src.value : DEFAULT_SOURCE_EVENTS[type], time_window_days: days.value, min_actions: min.value,
    exclude_purchasers: c.exclude_purchasers === true,
  };
  const ints: [keyof Criteria, number, number][] = [['lookalike_source_id', 1, Number.MAX_SAFE_INTEGER], ['lookalike_percentage', 1, 10], ['segment_id', 1, Number.MAX_SAFE_INTEGER], ['segment_version', 1, 1_000_000]];
  for (const [k, lo, hi] of ints) {
    if (c[k] === undefined) continue;
    const n = num(c[k], `criteria.${k}`, lo, hi, 0);
    if (!n.ok || !Number.isInteger(n.value)) return bad(`criteria.${k}`, `criteria.${k} must be an integer between ${lo} and ${hi}.`);
    (out as unknown as Record<string, number>)[k] = n.value;
  }
  if (type === 'lookalike' && out.lookalike_source_id === undefined) return bad('criteria.lookalike_source_id', 'A lookalike names its seed audience: criteria.lookalike_source_id.');
  if (type === 'lookalike' && out.lookalike_percentage === undefined) out.lookalike_percentage = 1;
  // Optional here (the audience and its seed exist without it); Meta's lookalike call needs it, so its sync asks.
  if (c.lookalike_country !== undefined) {
    const code = typeof c.lookalike_country === 'string' ? c.lookalike_country.toUpperCase() : null;
    if (code === null || !ISO_3166_ALPHA2.has(code)) {
      const what = code !== null && /^[A-Z]{2}$/.test(code) ? ` ${JSON.stringify(c.lookalike_country)} is not an assigned country code;` : '';
      return bad('criteria.lookalike_country', `criteria.lookalike_country is the country the platform draws the lookalike from:${what} an ISO 3166-1 alpha-2 code like "RO".`);
    }
    out.lookalike_country = code;
  }
  if (type === 'custom_segment' && out.segment_id === undefined) return bad('criteria.segment_id', 'A custom_segment audience names its segment: criteria.segment_id.');
  return { ok: true, value: out };
}

/** The body of a new audience; `now` refuses an expires_at already past (the audience would start expired). */
export function parseNewAudience(v: unknown, now: number): Parsed<NewAudience> {
  if (!isObj(v)) return bad('', 'Send {"platform","audience_type","event_id"?,"criteria":{…}}.');
  const unknown = unknownField(v, ['platform', 'audience_type', 'event_id', 'organizer_id', 'name', 'criteria', 'external_audience_id', 'account_id', 'auto_refresh', 'expires_at']);
  if (unknown) return unknown;
  const platform = oneOf(v.platform, PLATFORMS, 'platform');
  if (!platform.ok) return platform;
  const type = oneOf(v.audience_type, TYPES, 'audience_type');
  if (!type.ok) return type;
  const ids = { event_id: idFromJson('event_id', v.event_id), organizer_id: idFromJson('organizer_id', v.organizer_id) };
  for (const [field, r] of Object.entries(ids)) if (!r.ok) return bad(field, r.message);
  const idValue = (k: keyof typeof ids) => (ids[k] as { value: unknown }).value;
  const texts = {
    event_id: str(idValue('event_id'), 'event_id', 128),
    organizer_id: str(idValue('organizer_id'), 'organizer_id', 128),
    name: str(v.name, 'name', 255, { def: `${type.value} (${platform.value})` }),
    external_audience_id: str(v.external_audience_id, 'external_audience_id', 128),
    account_id: str(v.account_id, 'account_id', 128),
  };
  for (const t of Object.values(texts)) if (!t.ok) return t;
  const val = (k: keyof typeof texts) => (texts[k] as { value: string }).value || null;
  const rawAccount = val('account_id');
  const account = rawAccount === null ? null : platformAccountId(platform.value, rawAccount);
  if (rawAccount !== null && account === null) {
    return bad('account_id', `account_id must be ${ACCOUNT_IDS[ACCOUNT_ID_OF[platform.value]!].what} for a ${platform.value} audience.`);
  }
  if (type.value === 'event_viewers' && !val('event_id')) return bad('event_id', 'event_viewers needs the event_id whose viewers it holds.');
  if (type.value === 'lookalike' && val('external_audience_id')) {
    return bad('external_audience_id', 'A lookalike is created on the platform by its first sync (from the synced seed audience); it takes no external_audience_id.');
  }
  const criteria = parseCriteria(v.criteria, type.value);
  if (!criteria.ok) return criteria;
  if (v.auto_refresh !== undefined && typeof v.auto_refresh !== 'boolean') return bad('auto_refresh', 'auto_refresh must be true or false.');
  let expires: string | null = null;
  if (v.expires_at !== undefined && v.expires_at !== null) {
    const at = bodyTime('expires_at', v.expires_at, 'an ISO-8601 timestamp like 2026-12-31T00:00:00Z');
    if (!at.ok) return at;
    const ms = at.value;
    expires = new Date(ms).toISOString();
    if (ms <= now) return bad('expires_at', `expires_at ${expires} has already passed (now ${new Date(now).toISOString()}); an audience expires in the future, or leave it out.`);
  }
  // An empty or blank name is no name: the default, as when it is left out.
  const name = val('name')?.trim() ? val('name')! : `${type.value} (${platform.value})`;
  return {
    ok: true,
    value: {
      platform: platform.value, audience_type: type.value, event_id: val('event_id'), organizer_id: val('organizer_id'), name,
      criteria: criteria.value, external_audience_id: val('external_audience_id'), account_id: account, auto_refresh: v.auto_refresh !== false, expires_at: expires,
    },
  };
}
