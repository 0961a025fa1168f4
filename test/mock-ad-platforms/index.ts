// Local stand-ins for the Meta Marketing API, Google Ads API and TikTok Business API campaign calls the adapters
// make (server/campaigns/adapters/), on one HTTP server (their paths do not overlap). Delivery is simulated on
// a clock the caller advances: each simulated hour, every enabled campaign spends about daily_budget / 24
// (±15 %, the platforms' pacing) and turns it into impressions, clicks, purchases and revenue from hidden
// per-campaign true rates, deterministically from the seed, the campaign and the hour. The platform claims
// more purchases than happened (claimFactor: view-through and modelled conversions); the true purchases, each
// with the campaign's utm_campaign, are what the site's own tracking sees (purchasesSince).
// The documented lookups a crash-safe publish makes before creating are answered too (Meta GET act_{id}/campaigns
// with a name filter and GET {campaign}/adsets, TikTok campaign/get and adgroup/get, Google googleAds:search on
// campaign / campaign_budget names), ad sets / ad groups / budgets are kept (adsets) and activations counted, and
// a test can cut a call after the platform carried it out (cut: the connection dropped, or never answered).
// Delivery follows the platforms' effective status: a Meta campaign delivers only while it is ACTIVE and has an
// ACTIVE ad set (created ACTIVE by default; a PAUSED ad set under an ACTIVE campaign is ADSET_PAUSED, an ad set under a
// PAUSED campaign CAMPAIGN_PAUSED), a TikTok campaign only while it is enabled with an enabled ad group (operation_status
// ENABLE by default); a Google Ads campaign by its own status. Meta's targeting search (GET /search?type=adinterest&q=)
// answers from a small interest catalog (INTERESTS), as Meta does: ids with names, matched on the query.
// Refused as the platforms refuse them: a daily budget of zero or below `minDaily` (the test's stand-in for an
// account's minimum), a Meta ad set optimising OFFSITE_CONVERSIONS without promoted_object {pixel_id,
// custom_event_type}, or with interests not given by a known id, a TikTok ad group without location_ids,
// schedule_start_time, pacing, or a pixel_id without optimization_event.
// Meta ads (one per creative variant) are meta-ads.ts: a Meta campaign with ads delivers through its ACTIVE ads.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { binomial, hash32, poisson, prng } from '../../server/campaigns/rng.js';
import { createMetaAds, deliverAds, type MockAd } from './meta-ads.js';
import { checkGeo, searchCities } from './meta-geo.js';

export type { MockAd } from './meta-ads.js';

export interface TrueRates {
  /** Cost per 1000 impressions. */
  cpm: number;
  ctr: number;
  /** Purchases per click. */
  cvr: number;
  /** Mean order value. */
  aov: number;
  /** Platform-reported purchases ÷ true purchases. */
  claimFactor: number;
}

export interface MockCampaign {
  platform: 'meta' | 'google_ads' | 'tiktok';
  id: string;
  name: string;
  utm: string | null;
  active: boolean;
  daily: number;
  rates: TrueRates;
  impressions: number;
  clicks: number;
  spend: number;
  purchases: number;
  revenue: number;
  /** Per simulated UTC day: spend (checks the daily limits against what was really spent). */
  spendByDay: Map<number, number>;
  /** Calls that set it running (ACTIVE / ENABLE / ENABLED), repeats included. */
  activations: number;
}

/** A Meta ad set, TikTok ad group or Google Ads campaign budget (campaignId: the campaign on it, '' before one). */
export interface MockAdset {
  platform: MockCampaign['platform'];
  id: string;
  campaignId: string;
  name: string;
  /** Its own status (Meta ad set ACTIVE, TikTok ad group ENABLE); Google budgets have none (always true). */
  active: boolean;
}

export { CITIES } from './meta-geo.js';

/** Meta's interest catalog as the stand-in's targeting search knows it (ids in Meta's form). */
export const INTERESTS: { id: string; name: string }[] = [
  { id: '6003139266461', name: 'Rock music' }, { id: '6003204346561', name: 'Indie music' }, { id: '6003332344237', name: 'Live music' },
  { id: '6002991239659', name: 'Concerts' }, { id: '6003146442552', name: 'Jazz' }, { id: '6003902462066', name: 'Electronic music' },
  { id: '6003225556345', name: 'Hip hop music' }, { id: '6003076016339', name: 'Pop music' }, { id: '6003343485089', name: 'Techno' },
];

export interface MockCall {
  method: string;
  path: string;
  /** The query string with its '?' ('' without one). */
  query: string;
  body: any;
}

export interface Purchase {
  order_id: string;
  utm_campaign: string;
  revenue: number;
  tickets: number;
  occurred_at: string;
}

export interface MockPlatforms {
  url: string;
  campaigns: Map<string, MockCampaign>;
  /** Simulated time: delivers every whole hour between the last call and `ms`. */
  advanceTo(ms: number): void;
  purchasesSince(ms: number): Purchase[];
  /** Ad sets, ad groups and Google budgets, by id (resource name for Google). */
  adsets: Map<string, MockAdset>;
  /** Meta ads (one per creative variant), by id, with their hidden factor and figures (meta-ads.ts). */
  metaAds: Map<string, MockAd>;
  /**
   * A campaign's effective status as the platform reports it: ACTIVE (delivering), CAMPAIGN_PAUSED (its own status),
   * ADSET_PAUSED (running, but no ad set / ad group of it runs). Only ACTIVE delivers.
   */
  effectiveStatus(campaignId: string): 'ACTIVE' | 'CAMPAIGN_PAUSED' | 'ADSET_PAUSED';
  /** Calls received, by path pattern (tests check the documented calls were made). */
  calls: MockCall[];
  /** Make the next n calls fail with 500 (retry paths). */
  failNext(n: number): void;
  /**
   * The next call matching `match` is answered `answer` (by default a 500: a temporary outage at one step) without
   * the platform acting on it; e.g. TikTok's refusal `{status: 200, body: {code: 40002, …}}`.
   */
  failOn(match: (c: MockCall) => boolean, answer?: { status: number; body: unknown }): void;
  /**
   * The next call matching `match` is carried out (a create creates) and then its answer is lost: `drop` closes
   * the connection, `stall` never answers (until close). A crash, or a network cut, right after the platform acted.
   * Resolves with the call once it happened.
   */
  cut(match: (c: MockCall) => boolean, mode: 'drop' | 'stall'): Promise<MockCall>;
  close(): Promise<void>;
}

const HOUR = 3_600_000;
const round2 = (x: number) => Math.round(x * 100) / 100;

export async function startMockPlatforms(opts: {
  seed: number;
  startMs: number;
  rates: (name: string, platform: MockCampaign['platform']) => TrueRates;
  /** The smallest daily budget each platform takes (in units of the account's currency); any positive one by default. */
  minDaily?: Partial<Record<MockCampaign['platform'], number>>;
  /** A Meta ad's purchases-per-click factor on its campaign's cvr (by default seeded per campaign and variant, 0.5-1.5). */
  variantFactor?: (adName: string, campaignId: string) => number;
}): Promise<MockPlatforms> {
  const campaigns = new Map<string, MockCampaign>();
  const budgets = new Map<string, string>(); // google budget resource → campaign id
  const adsets = new Map<string, MockAdset>();
  const purchases: (Purchase & { at: number })[] = [];
  const calls: MockCall[] = [];
  const cuts: { match: (c: MockCall) => boolean; mode: 'drop' | 'stall'; hit: (c: MockCall) => void }[] = [];
  const stalled: http.ServerResponse[] = [];
  let nextId = 1000;
  let reads = 0;
  let clock = Math.floor(opts.startMs / HOUR) * HOUR;
  let failing = 0;
  const failOn: { match: (c: MockCall) => boolean; answer: { status: number; body: unknown } }[] = [];
  const metaAds = createMetaAds({ seed: opts.seed, variantFactor: opts.variantFactor });

  const add = (platform: MockCampaign['platform'], name: string, daily: number): MockCampaign => {
    const id = String(++nextId);
    const utm = /\[(txc-[^\]]+)\]/.exec(name)?.[1] ?? null;
    const c: MockCampaign = { platform, id, name, utm, active: false, daily, rates: opts.rates(name, platform), impressions: 0, clicks: 0, spend: 0, purchases: 0, revenue: 0, spendByDay: new Map(), activations: 0 };
    campaigns.set(id, c);
    return c;
  };
  const setActive = (c: MockCampaign, on: boolean) => {
    c.active = on;
    if (on) c.activations++;
  };
  /** An ad set / ad group: the first of a campaign keeps the id it always had (`as{id}`, `ag{id}`), later ones get a suffix. */
  const addAdset = (platform: MockCampaign['platform'], prefix: string, campaignId: string, name: string, active: boolean): MockAdset => {
    const n = [...adsets.values()].filter((a) => a.campaignId === campaignId && a.platform === platform).length;
    const a: MockAdset = { platform, id: `${prefix}${campaignId}${n ? `-${n + 1}` : ''}`, campaignId, name, active };
    adsets.set(a.id, a);
    return a;
  };
  /** Meta's filtering on a list edge: name CONTAIN / EQUAL (what the adapters send). */
  const metaFilter = (raw: string | null) => {
    const rules = JSON.parse(raw ?? '[]') as { field: string; operator: string; value: unknown }[];
    return (name: string) => rules.every((r) => r.field !== 'name' || (r.operator === 'CONTAIN' ? name.includes(String(r.value)) : r.operator === 'EQUAL' ? name === String(r.value) : true));
  };
  /** A GAQL LIKE pattern back to the text it matches inside (%…% with [x] escapes), or an = literal. */
  const gaqlName = (query: string, field: string): ((name: string) => boolean) | null => {
    const like = new RegExp(`${field.replace('.', '\\.')} LIKE '%((?:[^'%]|\\[.\\])*)%'`).exec(query);
    if (like) {
      const text = like[1].replace(/\[(.)\]/g, '$1');
      return (name) => name.includes(text);
    }
    const eq = new RegExp(`${field.replace('.', '\\.')} = '((?:[^'\\\\]|\\\\.)*)'`).exec(query);
    if (eq) {
      const text = eq[1].replace(/\\(.)/g, '$1');
      return (name) => name === text;
    }
    return null;
  };

  const effectiveStatus = (c: MockCampaign): 'ACTIVE' | 'CAMPAIGN_PAUSED' | 'ADSET_PAUSED' => {
    if (!c.active) return 'CAMPAIGN_PAUSED';
    if (c.platform === 'google_ads') return 'ACTIVE';
    return [...adsets.values()].some((a) => a.platform === c.platform && a.campaignId === c.id && a.active) ? 'ACTIVE' : 'ADSET_PAUSED';
  };

  function deliverHour(hourStart: number) {
    for (const c of campaigns.values()) {
      if (effectiveStatus(c) !== 'ACTIVE' || c.daily <= 0) continue;
      const rand = prng(hash32(`${opts.seed}:${c.platform}:${c.id}:${hourStart}`));
      // A Meta campaign with ads delivers through its ACTIVE ads (the hour shared evenly), each at its own cvr.
      const ads = c.platform === 'meta' ? metaAds.of(c.id) : [];
      const running = ads.filter((a) => a.active);
      if (ads.length && !running.length) continue;
      const spend = round2((c.daily / 24) * (0.85 + 0.3 * rand()));
      const perAd = running.length ? deliverAds(running, c.rates, spend, rand) : null;
      const impressions = perAd ? perAd.reduce((t, x) => t + x.impressions, 0) : Math.round((spend / c.rates.cpm) * 1000);
      const clicks = perAd ? perAd.reduce((t, x) => t + x.clicks, 0) : binomial(impressions, c.rates.ctr, rand);
      const conv = perAd ? perAd.reduce((t, x) => t + x.conv, 0) : binomial(clicks, c.rates.cvr, rand);
      let revenue = 0;
      for (let i = 0; i < conv; i++) {
        const tickets = 1 + poisson(0.8, rand);
        const value = round2((c.rates.aov / 1.8) * tickets);
        revenue += value;
        let k = i;
        const ad = perAd?.find((x) => (k -= x.conv) < 0)?.a;
        if (ad) ad.revenue = round2(ad.revenue + value);
        if (c.utm) purchases.push({ order_id: `o-${c.id}-${hourStart}-${i}`, utm_campaign: c.utm, revenue: value, tickets, occurred_at: new Date(hourStart + 30 * 60_000).toISOString(), at: hourStart });
      }
      c.impressions += impressions;
      c.clicks += clicks;
      c.spend = round2(c.spend + spend);
      c.purchases += conv;
      c.revenue = round2(c.revenue + revenue);
      const day = Math.floor(hourStart / 86_400_000);
      c.spendByDay.set(day, round2((c.spendByDay.get(day) ?? 0) + spend));
    }
  }

  const claimed = (c: MockCampaign) => ({ conv: Math.round(c.purchases * c.rates.claimFactor), value: round2(c.revenue * c.rates.claimFactor) });

  /** Why a daily budget is refused, or null. */
  const budgetProblem = (platform: MockCampaign['platform'], amount: number): string | null => {
    if (!(amount > 0)) return `daily budget ${amount} must be positive`;
    const min = opts.minDaily?.[platform];
    return min !== undefined && amount < min ? `daily budget ${amount} is below the minimum ${min}` : null;
  };
  const metaBad = (message: string) => ({ status: 400, body: { error: { message, type: 'OAuthException', code: 100 } } });

  function route(method: string, url: URL, body: any): { status: number; body: unknown } {
    const p = url.pathname;
    const ad = metaAds.route(method, url, body, (id) => (adsets.get(id)?.platform === 'meta' ? adsets.get(id)!.campaignId : null), (id) => campaigns.get(id)?.rates.claimFactor ?? 1);
    if (ad) return ad;
    // --- Meta Marketing API ---
    let m = /^\/v\d+\.\d+\/act_(\d+)\/(campaigns|adsets|insights)$/.exec(p);
    if (m) {
      if (!url.searchParams.get('access_token')) return { status: 400, body: { error: { message: 'An access token is required', type: 'OAuthException', code: 104 } } };
      if (m[2] === 'campaigns' && method === 'POST') {
        if (!Array.isArray(body?.special_ad_categories)) return { status: 400, body: { error: { message: 'special_ad_categories is required', code: 100 } } };
        const bp = budgetProblem('meta', Number(body.daily_budget) / 100);
        if (bp) return metaBad(`Invalid parameter: ${bp}`);
        return { status: 200, body: { id: add('meta', String(body.name), Number(body.daily_budget) / 100).id } };
      }
      if (m[2] === 'campaigns' && method === 'GET') {
        const keep = metaFilter(url.searchParams.get('filtering'));
        const data = [...campaigns.values()].filter((c) => c.platform === 'meta' && keep(c.name)).map((c) => ({ id: c.id, name: c.name, status: c.active ? 'ACTIVE' : 'PAUSED' }));
        return { status: 200, body: { data, paging: {} } };
      }
      if (m[2] === 'adsets' && method === 'POST') {
        const cid = String(body?.campaign_id);
        if (body?.optimization_goal === 'OFFSITE_CONVERSIONS' && !(body?.promoted_object?.pixel_id && body?.promoted_object?.custom_event_type)) {
          return metaBad('Invalid parameter: promoted_object with pixel_id and custom_event_type is required for optimization_goal OFFSITE_CONVERSIONS');
        }
        if (body?.status !== undefined && body.status !== 'ACTIVE' && body.status !== 'PAUSED') return metaBad('Invalid parameter: status must be ACTIVE or PAUSED at creation');
        // Interests go by id (from the targeting search); a name alone, or an id Meta does not know, is refused.
        const interests = ((body?.targeting?.flexible_spec ?? []) as { interests?: { id?: unknown }[] }[]).flatMap((f) => f.interests ?? []);
        const unknown = interests.find((i) => !INTERESTS.some((x) => x.id === String(i.id ?? '')));
        if (unknown) return metaBad(`Invalid parameter: targeting interests need a valid id from the targeting search (got ${JSON.stringify(unknown)})`);
        const geo = checkGeo(body?.targeting?.geo_locations);
        if (geo) return metaBad(geo);
        // Meta's default status of a new ad set is ACTIVE.
        return campaigns.get(cid)?.platform === 'meta' ? { status: 200, body: { id: addAdset('meta', 'as', cid, String(body.name), body.status !== 'PAUSED').id } } : { status: 400, body: { error: { message: 'campaign_id', code: 100 } } };
      }
      if (m[2] === 'insights' && method === 'GET') {
        const ids = new Set<string>(JSON.parse(url.searchParams.get('filtering') ?? '[]')[0]?.value ?? []);
        const data = [...campaigns.values()].filter((c) => c.platform === 'meta' && ids.has(c.id)).map((c) => ({
          campaign_id: c.id, impressions: String(c.impressions), clicks: String(c.clicks), spend: c.spend.toFixed(2),
          actions: [{ action_type: 'purchase', value: String(claimed(c).conv) }], action_values: [{ action_type: 'purchase', value: claimed(c).value.toFixed(2) }],
        }));
        return { status: 200, body: { data, paging: {} } };
      }
    }
    m = /^\/v\d+\.\d+\/(\d+)\/adsets$/.exec(p);
    if (m && method === 'GET') {
      if (!url.searchParams.get('access_token')) return { status: 400, body: { error: { message: 'An access token is required', type: 'OAuthException', code: 104 } } };
      if (campaigns.get(m[1])?.platform !== 'meta') return { status: 400, body: { error: { message: 'Unsupported get request', code: 100 } } };
      const camp = campaigns.get(m[1])!;
      const data = [...adsets.values()].filter((a) => a.platform === 'meta' && a.campaignId === m![1])
        .map((a) => ({ id: a.id, name: a.name, status: a.active ? 'ACTIVE' : 'PAUSED', effective_status: !camp.active ? 'CAMPAIGN_PAUSED' : a.active ? 'ACTIVE' : 'PAUSED' }));
      return { status: 200, body: { data, paging: {} } };
    }
    // Meta's targeting search: interests whose name contains the query (case-insensitive), best match first.
    if (/^\/v\d+\.\d+\/search$/.test(p) && method === 'GET') {
      if (!url.searchParams.get('access_token')) return { status: 400, body: { error: { message: 'An access token is required', type: 'OAuthException', code: 104 } } };
      if (url.searchParams.get('type') === 'adgeolocation') return searchCities(url.searchParams, metaBad);
      if (url.searchParams.get('type') !== 'adinterest') return metaBad('Invalid parameter: type');
      const q = (url.searchParams.get('q') ?? '').trim().toLowerCase();
      if (!q) return metaBad('Invalid parameter: q is required');
      const data = INTERESTS.filter((i) => i.name.toLowerCase().includes(q))
        .sort((a, b) => Number(b.name.toLowerCase() === q) - Number(a.name.toLowerCase() === q))
        .slice(0, Number(url.searchParams.get('limit') ?? 8))
        .map((i) => ({ ...i, audience_size_lower_bound: 1000000, audience_size_upper_bound: 1200000, path: ['Interests', i.name] }));
      return { status: 200, body: { data } };
    }
    // An ad set's status (POST /{ad-set-id} status).
    m = /^\/v\d+\.\d+\/(as\d+(?:-\d+)?)$/.exec(p);
    if (m && method === 'POST') {
      const a = adsets.get(m[1]);
      if (!a || a.platform !== 'meta') return { status: 400, body: { error: { message: 'Unsupported post request', code: 100 } } };
      if (body?.status !== undefined) a.active = body.status === 'ACTIVE';
      return { status: 200, body: { success: true } };
    }
    m = /^\/v\d+\.\d+\/(\d+)$/.exec(p);
    if (m && method === 'POST') {
      const c = campaigns.get(m[1]);
      if (!c || c.platform !== 'meta') return { status: 400, body: { error: { message: 'Unsupported post request', code: 100 } } };
      if (body.daily_budget !== undefined) {
        const bp = budgetProblem('meta', Number(body.daily_budget) / 100);
        if (bp) return metaBad(`Invalid parameter: ${bp}`);
      }
      if (body.status !== undefined) setActive(c, body.status === 'ACTIVE');
      if (body.daily_budget !== undefined) c.daily = Number(body.daily_budget) / 100;
      return { status: 200, body: { success: true } };
    }
    // --- Google Ads API ---
    m = /^\/v\d+\/customers\/(\d+)\/(campaignBudgets|campaigns):mutate$/.exec(p);
    if (m && method === 'POST') {
      const op = body?.operations?.[0];
      if (m[2] === 'campaignBudgets') {
        const amount = Number(op?.create?.amountMicros ?? op?.update?.amountMicros) / 1e6;
        const bp = budgetProblem('google_ads', amount);
        if (bp) return { status: 400, body: { error: { code: 400, message: `amount_micros: ${bp}`, status: 'INVALID_ARGUMENT' } } };
        if (op?.create) {
          const rn = `customers/${m[1]}/campaignBudgets/${++nextId}`;
          budgets.set(rn, '');
          adsets.set(rn, { platform: 'google_ads', id: rn, campaignId: '', name: String(op.create.name), active: true });
          budgets.set(`${rn}#amount`, String(Number(op.create.amountMicros) / 1e6));
          return { status: 200, body: { results: [{ resourceName: rn }] } };
        }
        const rn = op?.update?.resourceName;
        const cid = budgets.get(rn);
        if (cid === undefined) return { status: 400, body: { error: { code: 400, message: 'budget not found', status: 'INVALID_ARGUMENT' } } };
        const c = campaigns.get(cid);
        if (c) c.daily = Number(op.update.amountMicros) / 1e6;
        return { status: 200, body: { results: [{ resourceName: rn }] } };
      }
      if (op?.create) {
        const amount = Number(budgets.get(`${op.create.campaignBudget}#amount`) ?? 0);
        const c = add('google_ads', String(op.create.name), amount);
        budgets.set(op.create.campaignBudget, c.id);
        const b = adsets.get(op.create.campaignBudget);
        if (b) b.campaignId = c.id;
        return { status: 200, body: { results: [{ resourceName: `customers/${m[1]}/campaigns/${c.id}` }] } };
      }
      const c = campaigns.get(String(op?.update?.resourceName ?? '').split('/').pop() ?? '');
      if (!c) return { status: 400, body: { error: { code: 400, message: 'campaign not found', status: 'INVALID_ARGUMENT' } } };
      if (op.updateMask === 'status') setActive(c, op.update.status === 'ENABLED');
      return { status: 200, body: { results: [{ resourceName: op.update.resourceName }] } };
    }
    m = /^\/v\d+\/customers\/(\d+)\/googleAds:search$/.exec(p);
    if (m && method === 'POST') {
      const query = String(body?.query);
      // Lookups by name (a crash-safe publish): FROM campaign_budget / FROM campaign with a name condition.
      if (/FROM campaign_budget\b/.test(query)) {
        const keep = gaqlName(query, 'campaign_budget.name');
        const results = [...adsets.values()].filter((a) => a.platform === 'google_ads' && (!keep || keep(a.name))).map((a) => ({ campaignBudget: { resourceName: a.id, name: a.name } }));
        return { status: 200, body: results.length ? { results } : {} };
      }
      const byName = gaqlName(query, 'campaign.name');
      if (byName) {
        const results = [...campaigns.values()].filter((c) => c.platform === 'google_ads' && byName(c.name)).map((c) => ({
          campaign: { resourceName: `customers/${m![1]}/campaigns/${c.id}`, id: c.id, name: c.name, status: c.active ? 'ENABLED' : 'PAUSED' },
        }));
        return { status: 200, body: results.length ? { results } : {} };
      }
      const ids = new Set((/IN \(([^)]*)\)/.exec(String(body?.query))?.[1] ?? '').split(',').map((s) => s.trim()));
      const results = [...campaigns.values()].filter((c) => c.platform === 'google_ads' && ids.has(c.id)).map((c) => ({
        campaign: { resourceName: `customers/${m![1]}/campaigns/${c.id}`, id: c.id },
        metrics: { impressions: String(c.impressions), clicks: String(c.clicks), costMicros: String(Math.round(c.spend * 1e6)), conversions: claimed(c).conv, conversionsValue: claimed(c).value },
      }));
      return { status: 200, body: { results } };
    }
    // --- TikTok Business API ---
    m = /^\/open_api\/v1\.3\/(campaign\/create|adgroup\/create|campaign\/status\/update|campaign\/update|report\/integrated\/get|campaign\/get|adgroup\/get)\/$/.exec(p);
    if (m) {
      // Reads take their request_id from a counter of their own: ids of created objects (which seed delivery) stay
      // what they were before the publish made lookups.
      const ok = (data: unknown, read = false) => ({ status: 200, body: { code: 0, message: 'OK', request_id: read ? `r${++reads}` : String(++nextId), data } });
      const bad = (msg: string) => ({ status: 200, body: { code: 40002, message: msg, request_id: String(++nextId), data: {} } });
      if (m[1] === 'campaign/create' || m[1] === 'campaign/update') {
        const bp = body?.budget === undefined ? null : budgetProblem('tiktok', Number(body.budget));
        if (bp) return bad(`budget: ${bp}`);
      }
      if (m[1] === 'adgroup/create') {
        const missing = ['location_ids', 'schedule_start_time', 'pacing'].find((f) => (f === 'location_ids' ? !(Array.isArray(body?.location_ids) && body.location_ids.length) : !body?.[f]));
        if (missing) return bad(`${missing} is required`);
        if (body.pixel_id && !body.optimization_event) return bad('optimization_event is required with pixel_id');
      }
      if (m[1] === 'campaign/create') return body?.advertiser_id ? ok({ campaign_id: add('tiktok', String(body.campaign_name), Number(body.budget)).id }) : bad('advertiser_id');
      // An ad group's operation_status is ENABLE unless created DISABLE.
      if (m[1] === 'adgroup/create') return campaigns.get(String(body?.campaign_id))?.platform === 'tiktok' ? ok({ adgroup_id: addAdset('tiktok', 'ag', String(body.campaign_id), String(body.adgroup_name), body.operation_status !== 'DISABLE').id }) : bad('campaign_id');
      if (m[1] === 'campaign/get' || m[1] === 'adgroup/get') {
        if (!url.searchParams.get('advertiser_id')) return bad('advertiser_id');
        const f = JSON.parse(url.searchParams.get('filtering') ?? '{}') as { campaign_name?: string; campaign_ids?: string[] };
        const page = { page: 1, page_size: 1000 };
        if (m[1] === 'campaign/get') {
          // campaign_name: TikTok documents a fuzzy match; a substring here.
          const list = [...campaigns.values()].filter((c) => c.platform === 'tiktok' && (f.campaign_name === undefined || c.name.includes(f.campaign_name)) && (!f.campaign_ids || f.campaign_ids.includes(c.id)))
            .map((c) => ({ campaign_id: c.id, campaign_name: c.name, operation_status: c.active ? 'ENABLE' : 'DISABLE' }));
          return ok({ list, page_info: { ...page, total_number: list.length, total_page: 1 } }, true);
        }
        const list = [...adsets.values()].filter((a) => a.platform === 'tiktok' && (!f.campaign_ids || f.campaign_ids.includes(a.campaignId)))
          .map((a) => ({ adgroup_id: a.id, adgroup_name: a.name, campaign_id: a.campaignId, operation_status: a.active ? 'ENABLE' : 'DISABLE' }));
        return ok({ list, page_info: { ...page, total_number: list.length, total_page: 1 } }, true);
      }
      if (m[1] === 'campaign/status/update') {
        for (const id of body?.campaign_ids ?? []) { const c = campaigns.get(String(id)); if (c) setActive(c, body.operation_status === 'ENABLE'); }
        return ok({ campaign_ids: body?.campaign_ids ?? [] });
      }
      if (m[1] === 'campaign/update') {
        const c = campaigns.get(String(body?.campaign_id));
        if (!c) return bad('campaign_id');
        c.daily = Number(body.budget);
        return ok({ campaign_id: c.id });
      }
      const filter = JSON.parse(url.searchParams.get('filtering') ?? '[]')[0];
      const ids = new Set<string>(JSON.parse(filter?.filter_value ?? '[]'));
      const list = [...campaigns.values()].filter((c) => c.platform === 'tiktok' && ids.has(c.id)).map((c) => ({
        dimensions: { campaign_id: c.id },
        metrics: { spend: c.spend.toFixed(2), impressions: String(c.impressions), clicks: String(c.clicks), complete_payment: String(claimed(c).conv), total_complete_payment_rate: claimed(c).value.toFixed(2) },
      }));
      return ok({ list, page_info: { page: 1, page_size: 1000, total_number: list.length, total_page: 1 } });
    }
    return { status: 404, body: { error: { message: `no mock for ${method} ${p}` } } };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://mock');
      let body: unknown = null;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : null;
      } catch {
        body = null;
      }
      const call: MockCall = { method: req.method ?? 'GET', path: url.pathname, query: url.search, body };
      calls.push(call);
      let out: { status: number; body: unknown };
      const down = failOn.findIndex((f) => f.match(call));
      if (down >= 0) {
        out = failOn.splice(down, 1)[0].answer;
      } else if (failing > 0) {
        failing--;
        out = { status: 500, body: { error: { message: 'temporarily unavailable' } } };
      } else {
        out = route(req.method ?? 'GET', url, body);
      }
      const cut = cuts.findIndex((x) => x.match(call));
      if (cut >= 0) {
        const [{ mode, hit }] = cuts.splice(cut, 1);
        if (mode === 'drop') req.socket.destroy();
        else stalled.push(res);
        hit(call);
        return;
      }
      res.writeHead(out.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    campaigns,
    adsets,
    metaAds: metaAds.ads,
    calls,
    advanceTo(ms) {
      for (; clock + HOUR <= ms; clock += HOUR) deliverHour(clock);
    },
    purchasesSince: (ms) => purchases.filter((x) => x.at >= ms).map(({ at: _at, ...rest }) => rest),
    failNext: (n) => void (failing = n),
    failOn: (match, answer = { status: 500, body: { error: { message: 'temporarily unavailable' } } }) => void failOn.push({ match, answer }),
    effectiveStatus: (id) => {
      const c = campaigns.get(id);
      if (!c) throw new Error(`no mock campaign ${id}`);
      return effectiveStatus(c);
    },
    cut: (match, mode) => new Promise<MockCall>((hit) => void cuts.push({ match, mode, hit })),
    close: () =>
      new Promise<void>((r) => {
        for (const res of stalled.splice(0)) res.socket?.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
