// The campaign suite of a budget (seed 002 §2.4 createCampaignSuite), per platform: prospecting (cold audience
// on the event's genres from the catalog), retargeting (event viewers minus buyers), lookalike (the organizer's
// buyers as the seed, 1-3 %) and dynamic remarketing (cart abandoners). Pure.
//
// Audiences are written as their definitions (type + criteria, issue 14 item 4) with audience_id null: the
// audiences module links them to built audiences and syncs them to the platforms (RefreshAudiences). Every
// landing URL carries utm_campaign=txc-{budget}-{platform}-{type}, which is how a tracked sale finds its campaign.
import { CAMPAIGN_TYPES, PLATFORMS, type CampaignType, type Platform, type PlatformAllocations } from './model.js';

export type AudienceType = 'website_visitors' | 'event_viewers' | 'cart_abandoners' | 'ticket_buyers' | 'lookalike' | 'custom_segment';

export interface AudienceRef {
  type: AudienceType;
  criteria: Record<string, unknown>;
  /** The remarketing audience (server/remarketing, remarketing_audiences.id) once linked; null until then. */
  audience_id: number | null;
  /** Its id on the platform (external_audience_id): what the adapters send. */
  external_id?: string | null;
}

/** A remarketing audience as linking needs it (remarketing_audiences, issue 14). */
export interface AudienceCandidate {
  id: number;
  platform: Platform;
  audience_type: AudienceType;
  organizer_id: string | null;
  event_id: string | null;
  external_audience_id: string | null;
}

/**
 * Links a campaign's audience definitions to built remarketing audiences of the same platform and type for the
 * same event (or, without an event in the criteria, the same organizer), synced to the platform (an external id).
 * Definitions already linked, or without a match, stay as they are. Pure.
 */
export function linkAudiences(t: Targeting, platform: Platform, organizerId: string, candidates: AudienceCandidate[]): Targeting {
  const link = <A extends AudienceRef>(a: A): A => {
    if (a.audience_id !== null) return a;
    const eventId = typeof a.criteria.event_id === 'string' ? a.criteria.event_id : null;
    const type = a.type;
    const m = candidates.find((c) => c.platform === platform && c.audience_type === type && c.external_audience_id !== null
      && (eventId !== null ? c.event_id === eventId : c.event_id === null && c.organizer_id === organizerId));
    return m ? { ...a, audience_id: m.id, external_id: m.external_audience_id } : a;
  };
  return { ...t, custom_audiences: t.custom_audiences.map(link), lookalike_audiences: t.lookalike_audiences.map(link), excluded_audiences: t.excluded_audiences.map(link) };
}

export interface Targeting {
  age_min: number;
  age_max: number;
  genders: string[];
  locations: { country?: string; city?: string; radius_km?: number }[];
  interests: string[];
  custom_audiences: AudienceRef[];
  lookalike_audiences: (AudienceRef & { ratio: number })[];
  excluded_audiences: AudienceRef[];
}

export interface Creative {
  headline: string;
  description: string;
  cta_type: string;
  image_url: string | null;
  video_url: string | null;
  landing_page_url: string;
  variants: { headline: string; description: string }[];
  /** Dynamic remarketing: the catalog product set the ads show (the event's ticket types). */
  product_set?: { event_id: string | null };
}

export interface CampaignDraft {
  platform: Platform;
  campaign_type: CampaignType;
  name: string;
  objective: 'conversions' | 'traffic' | 'awareness';
  targeting: Targeting;
  creative: Creative;
  bid_strategy: 'lowest_cost' | 'cost_cap' | 'bid_cap';
  bid_amount: number | null;
}

export interface SuiteEvent {
  id: string | null;
  title: string | null;
  genres: string[];
  city: string | null;
  /** The venue's country (ISO alpha-2), when the catalog gives one. */
  country?: string | null;
  url: string | null;
}

export interface SuiteInput {
  budgetId: number;
  organizerId: string;
  event: SuiteEvent;
  platformAllocations: PlatformAllocations;
  /** Lookalike size, 1-3 (% of the country's population). */
  lookalikePct: number;
  /** The page the ads lead to (utm_* added): resolved by suiteLanding, never assumed. */
  landingUrl: string;
  /** The country the ads target (ISO alpha-2), with the event's city when there is one: resolved by suiteCountry. */
  country: string;
}

/** An http(s) URL, or null: a catalog url that is not one cannot be a landing page. Pure. */
export function httpUrl(v: string | null | undefined): string | null {
  if (!v) return null;
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.toString() : null;
  } catch {
    return null;
  }
}

/**
 * Where a suite's ads lead, or why none is known: the request's landing_page_url, else the event's url in the catalog,
 * else the deployment's CAMPAIGNS_LANDING_URL. Nothing is assumed (it was https://tixello.com/events). Pure.
 */
export function suiteLanding(asked: string | null, eventId: string | null, eventUrl: string | null, configured: string | null): { url: string } | { problem: string } {
  const url = asked ?? httpUrl(eventUrl) ?? configured;
  if (url) return { url };
  const why = eventId === null ? 'its budget names no event_id' : `event ${eventId} has no url in the catalog`;
  return { problem: `The suite's ads need a landing page: ${why}, and CAMPAIGNS_LANDING_URL is not set. Send {"landing_page_url": "https://…"} with the suite (the page the ads lead to; utm_source, utm_medium and utm_campaign are added)${eventId === null ? '' : `, or set the event's url in the catalog (PUT /api/v1/catalog/events)`}.` };
}

/**
 * Which country a suite's ads target, or why none is known: the request's country, else the event's venue's
 * (catalog), else the one country of the organizer's catalog venues, else the deployment's CAMPAIGNS_COUNTRY. Nothing
 * is assumed (Meta was sent countries ["RO"]). Pure.
 */
export function suiteCountry(asked: string | null, venueCountry: string | null, organizerCountries: string[], configured: string | null): { country: string } | { problem: string } {
  const country = asked ?? venueCountry ?? (organizerCountries.length === 1 ? organizerCountries[0] : null) ?? configured;
  if (country) return { country };
  const venues = organizerCountries.length > 1 ? `the organizer's venues are in several (${organizerCountries.join(', ')}, …)` : 'the catalog gives no venue country for it';
  return { problem: `The suite's ads need a country to target: ${venues}, and CAMPAIGNS_COUNTRY is not set. Send {"country": "RO"} (ISO 3166-1 alpha-2) with the suite, or set the venue's country in the catalog.` };
}

/** Genres when the catalog has none for the event: the marketplace's broad live-music interests. */
export const DEFAULT_INTERESTS = ['live music', 'concerts'];

/** Platforms with a positive share; all three when the budget names none. */
export function suitePlatforms(pa: PlatformAllocations): Platform[] {
  const named = PLATFORMS.filter((p) => (pa[p]?.percentage ?? 0) > 0);
  return named.length > 0 ? named : [...PLATFORMS];
}

export const utmCampaign = (budgetId: number, platform: Platform, type: CampaignType) => `txc-${budgetId}-${platform}-${type}`;

/** The utm_campaign of a tracked sale → its campaign's key, or null when it is not one of ours. */
export function parseUtmCampaign(v: string): { budgetId: number; platform: Platform; type: CampaignType } | null {
  const m = /^txc-(\d{1,18})-(meta|google_ads|tiktok)-(prospecting|retargeting|lookalike|dynamic_remarketing)$/.exec(v);
  return m ? { budgetId: Number(m[1]), platform: m[2] as Platform, type: m[3] as CampaignType } : null;
}

function landing(base: string, budgetId: number, platform: Platform, type: CampaignType): string {
  const u = new URL(base);
  u.searchParams.set('utm_source', platform);
  u.searchParams.set('utm_medium', 'paid');
  u.searchParams.set('utm_campaign', utmCampaign(budgetId, platform, type));
  return u.toString();
}

function targetingFor(type: CampaignType, inp: SuiteInput): Targeting {
  const ev = inp.event;
  const forEvent = ev.id ? { event_id: ev.id } : { organizer_id: inp.organizerId };
  const buyers: AudienceRef = { type: 'ticket_buyers', criteria: forEvent, audience_id: null };
  const base: Targeting = {
    age_min: 18, age_max: 65, genders: [], locations: ev.city ? [{ city: ev.city, radius_km: 50, country: inp.country }] : [{ country: inp.country }], interests: [],
    custom_audiences: [], lookalike_audiences: [], excluded_audiences: [buyers],
  };
  switch (type) {
    case 'prospecting':
      return { ...base, interests: ev.genres.length ? [...ev.genres] : [...DEFAULT_INTERESTS] };
    case 'retargeting':
      return { ...base, custom_audiences: [{ type: 'event_viewers', criteria: { ...forEvent, days: 30 }, audience_id: null }] };
    case 'lookalike':
      return { ...base, lookalike_audiences: [{ type: 'lookalike', criteria: { seed: { type: 'ticket_buyers', organizer_id: inp.organizerId } }, audience_id: null, ratio: inp.lookalikePct / 100 }] };
    case 'dynamic_remarketing':
      return { ...base, custom_audiences: [{ type: 'cart_abandoners', criteria: { ...forEvent, days: 7 }, audience_id: null }] };
  }
}

function creativeFor(type: CampaignType, platform: Platform, inp: SuiteInput): Creative {
  const title = inp.event.title ?? 'Live events';
  const headline = type === 'dynamic_remarketing' || type === 'retargeting' ? `Your tickets for ${title} are waiting` : `${title}: get your tickets`;
  return {
    headline, description: inp.event.genres.length ? `${inp.event.genres.slice(0, 3).join(', ')} — live.` : 'Live on stage.',
    cta_type: 'BUY_TICKETS', image_url: null, video_url: null,
    landing_page_url: landing(inp.landingUrl, inp.budgetId, platform, type),
    variants: [{ headline, description: 'Tickets selling fast.' }, { headline: `Don't miss ${title}`, description: 'Secure your seat today.' }],
    ...(type === 'dynamic_remarketing' ? { product_set: { event_id: inp.event.id } } : {}),
  };
}

const LABEL: Record<CampaignType, string> = { prospecting: 'Prospecting', retargeting: 'Retargeting', lookalike: 'Lookalike', dynamic_remarketing: 'Cart abandoners' };

/** The suite's drafts: one per (platform, type). */
export function buildSuite(inp: SuiteInput): CampaignDraft[] {
  const what = inp.event.title ?? (inp.event.id ? `event ${inp.event.id}` : `organizer ${inp.organizerId}`);
  return suitePlatforms(inp.platformAllocations).flatMap((platform) => CAMPAIGN_TYPES.map((type): CampaignDraft => ({
    platform, campaign_type: type,
    name: `${what} — ${LABEL[type]}${type === 'lookalike' ? ` ${inp.lookalikePct} %` : ''} (${platform})`.slice(0, 255),
    objective: 'conversions',
    targeting: targetingFor(type, inp),
    creative: creativeFor(type, platform, inp),
    bid_strategy: 'lowest_cost', bid_amount: null,
  })));
}
