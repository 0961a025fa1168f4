// Campaign automation's configuration (README "Campaigns"): the platforms' API bases (the conversions' META_GRAPH_URL
// and TIKTOK_API_URL, plus GOOGLE_ADS_URL) and the marketplace's own ad accounts the suites are published in.
// A platform without its account or token cannot publish: its campaigns fail with that reason.

export interface CampaignsConfig {
  urls: { meta: string; googleAds: string; tiktok: string };
  /**
   * `currency`: the ad account's currency when configured (META_AD_ACCOUNT_CURRENCY, GOOGLE_ADS_CURRENCY,
   * TIKTOK_ADVERTISER_CURRENCY). The platforms take every amount in the account's currency and none takes one per
   * campaign: a budget in another currency is refused there. Unset: the budget's currency is trusted to be the
   * account's (README "Campaigns" → "Currency").
   */
  /**
   * `pixelId` (META_PIXEL_ID, TIKTOK_PIXEL_ID): the ad account's pixel the ad sets / ad groups optimise purchases on
   * when the tenant has no Meta / TikTok tracking code (the tenant's code comes first). TikTok `locationIds`
   * (TIKTOK_LOCATION_IDS, comma-separated): the locations its ad groups target (TikTok requires location_ids; its
   * ids come from its /tool/region/ endpoint and cannot be derived from a city name here).
   */
  /**
   * Meta `pageId` (META_PAGE_ID): the Facebook Page the ads speak for (object_story_spec.page_id of each ad
   * creative). With it, a Meta campaign gets one ad per creative variant and the optimiser rotates them (keeps the
   * winner after 48 h, rotation.ts); without it, campaigns are published with no ads, as before (no rotation).
   */
  meta: { adAccountId: string | null; token: string | null; currency: string | null; pixelId: string | null; pageId: string | null };
  google: { customerId: string | null; token: string | null; developerToken: string | null; currency: string | null };
  tiktok: { advertiserId: string | null; token: string | null; currency: string | null; pixelId: string | null; locationIds: string[] };
  /** CAMPAIGNS_WEBHOOK_URL: where notices (budget below 20 %) are POSTed as JSON; unset = logged only. */
  webhookUrl: string | null;
  /**
   * The smallest daily budget each ad account takes, in its currency (META_MIN_DAILY_BUDGET,
   * GOOGLE_ADS_MIN_DAILY_BUDGET, TIKTOK_MIN_DAILY_BUDGET): a campaign whose share of the day is below it is not
   * published (409 at approval) and a daily budget set by hand below it is refused. The platforms set these per
   * currency and objective and our reference gives no figures, so none is assumed: unset, only a zero is refused.
   */
  minDaily: Partial<Record<'meta' | 'google_ads' | 'tiktok', number>>;
  /**
   * CAMPAIGNS_LANDING_URL: the page the ads of a suite lead to when its budget names no event, or its event has no url
   * in the catalog (the marketplace's events listing, say); CAMPAIGNS_COUNTRY (ISO 3166-1 alpha-2): the country they
   * target when neither the event's venue nor the organizer's venues in the catalog give one. Unset, such a suite
   * must say it (`landing_page_url`, `country` in POST …/suite): nothing is assumed (it once was tixello.com and RO).
   */
  landingUrl: string | null;
  country: string | null;
}

import { currencyDecimals } from './model.js';
import { redact } from '../config/redact.js';

type Env = Record<string, string | undefined>;

/**
 * The ad accounts' ids as each platform's UI shows them, normalised to what its API takes in a path or body: Meta's
 * Business Manager shows `act_123…` (the adapters add `act_` themselves), Google Ads shows `123-456-7890` (the API
 * wants the 10 digits), TikTok shows the digits. Anything else is refused at boot: it would only fail at publishing.
 */
export const ACCOUNT_IDS = {
  META_AD_ACCOUNT_ID: { re: /^(?:act_)?(\d{1,20})$/, what: 'the Meta ad account id: its digits, with or without act_ (act_1234567890 or 1234567890)' },
  GOOGLE_ADS_CUSTOMER_ID: { re: /^(\d{3})-?(\d{3})-?(\d{4})$/, what: 'the Google Ads customer id: 10 digits, with or without the dashes (123-456-7890 or 1234567890)' },
  TIKTOK_ADVERTISER_ID: { re: /^(\d{1,20})$/, what: 'the TikTok advertiser id: digits (7012345678901234567)' },
} as const;

/** An ad account id as the platform's API takes it (see ACCOUNT_IDS), or null when it is not one. Pure. */
export function accountId(name: keyof typeof ACCOUNT_IDS, raw: string): string | null {
  const m = ACCOUNT_IDS[name].re.exec(raw.trim());
  return m ? m.slice(1).join('') : null;
}

/** From the environment; refusals are appended to `problems` (loadConfig reports them together). */
export function campaignsConfig(env: Env, problems: string[]): CampaignsConfig {
  const url = (name: string, def: string): string => {
    const raw = env[name];
    if (!raw) return def;
    try {
      const u = new URL(raw);
      if (u.protocol === 'https:' || u.protocol === 'http:') return raw.replace(/\/+$/, '');
    } catch (err) {
      // Not a URL (ERR_INVALID_URL, a TypeError): reported below, with any other scheme.
      if (!(err instanceof TypeError)) throw err;
    }
    problems.push(`${name} must be a URL starting with https:// or http:// (got ${JSON.stringify(redact(raw))})`);
    return def;
  };
  const id = (name: keyof typeof ACCOUNT_IDS): string | null => {
    const raw = env[name];
    if (!raw) return null;
    const v = accountId(name, raw);
    if (v === null) problems.push(`${name}="${raw.slice(0, 40)}" must be ${ACCOUNT_IDS[name].what}`);
    return v;
  };
  const secret = (name: string): string | null => env[name] || null;
  const currency = (name: string): string | null => {
    const raw = env[name];
    if (!raw) return null;
    if (currencyDecimals(raw) === null) {
      problems.push(`${name} must be an ISO 4217 currency code in use (EUR)`);
      return null;
    }
    return raw;
  };
  const amount = (name: string): number | undefined => {
    const raw = env[name];
    if (!raw) return undefined;
    const n = /^\d{1,9}(\.\d{1,3})?$/.test(raw) ? Number(raw) : NaN;
    if (!(n > 0)) {
      problems.push(`${name} must be a positive amount such as 5 or 1.50 (the ad account's currency)`);
      return undefined;
    }
    return n;
  };
  const matching = (name: string, re: RegExp, what: string): string | null => {
    const raw = env[name];
    if (!raw) return null;
    if (re.test(raw)) return raw;
    problems.push(`${name} must be ${what}`);
    return null;
  };
  const locations = matching('TIKTOK_LOCATION_IDS', /^\d{1,12}(,\d{1,12}){0,99}$/, 'comma-separated TikTok location ids (digits, from its /tool/region/)');
  const minDaily: CampaignsConfig['minDaily'] = {};
  for (const [p, name] of [['meta', 'META_MIN_DAILY_BUDGET'], ['google_ads', 'GOOGLE_ADS_MIN_DAILY_BUDGET'], ['tiktok', 'TIKTOK_MIN_DAILY_BUDGET']] as const) {
    const v = amount(name);
    if (v !== undefined) minDaily[p] = v;
  }
  const landing = env.CAMPAIGNS_LANDING_URL ? url('CAMPAIGNS_LANDING_URL', '') || null : null;
  const country = env.CAMPAIGNS_COUNTRY ? matching('CAMPAIGNS_COUNTRY', /^[A-Za-z]{2}$/, 'an ISO 3166-1 alpha-2 country code (RO, DE, US)')?.toUpperCase() ?? null : null;
  return {
    minDaily,
    landingUrl: landing,
    country,
    urls: {
      meta: url('META_GRAPH_URL', 'https://graph.facebook.com'),
      googleAds: url('GOOGLE_ADS_URL', 'https://googleads.googleapis.com'),
      tiktok: url('TIKTOK_API_URL', 'https://business-api.tiktok.com'),
    },
    meta: { adAccountId: id('META_AD_ACCOUNT_ID'), token: secret('META_ADS_TOKEN'), currency: currency('META_AD_ACCOUNT_CURRENCY'), pixelId: matching('META_PIXEL_ID', /^\d{5,20}$/, 'a Meta pixel (dataset) id: digits'),
      pageId: matching('META_PAGE_ID', /^\d{5,20}$/, 'a Facebook Page id: its digits (Page → About → Page transparency, or Business Settings → Pages), e.g. 104123456789012; unset, Meta campaigns get no ads and no creative rotation') },
    google: { customerId: id('GOOGLE_ADS_CUSTOMER_ID'), token: secret('GOOGLE_ADS_TOKEN'), developerToken: secret('GOOGLE_ADS_DEVELOPER_TOKEN'), currency: currency('GOOGLE_ADS_CURRENCY') },
    tiktok: {
      advertiserId: id('TIKTOK_ADVERTISER_ID'), token: secret('TIKTOK_ADS_TOKEN'), currency: currency('TIKTOK_ADVERTISER_CURRENCY'),
      pixelId: matching('TIKTOK_PIXEL_ID', /^[A-Z0-9]{20}$/, 'a TikTok pixel code (20 of A-Z 0-9)'), locationIds: locations ? locations.split(',') : [],
    },
    webhookUrl: env.CAMPAIGNS_WEBHOOK_URL ? url('CAMPAIGNS_WEBHOOK_URL', '') || null : null,
  };
}
