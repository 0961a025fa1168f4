// The Meta stand-in's ads (README "Campaigns" → "Creative rotation"): ad creatives (POST act_{id}/adcreatives, a
// link ad's object_story_spec with page_id and link_data.link required, as Meta requires them; a call_to_action's
// value.link must be the creative's link), ads (POST act_{id}/ads: name, adset_id of a known ad set, creative
// {creative_id} of a known creative), the ad set's ads (GET {adset}/ads), an ad's status (POST {ad} status), the
// account's ads with their effective_status (GET act_{id}/ads filtered by campaign.id; an ad removed from `ads`, as
// deleted on Meta, is listed no more and has no insights row) and per-ad insights (GET act_{id}/insights?level=ad). Each ad has a hidden conversion-rate factor on its campaign's
// rates (variantFactor, by default seeded per campaign and variant): a campaign with ads delivers through its ACTIVE
// ads only, sharing its hour evenly between them; one whose ads are all PAUSED delivers nothing.
import { binomial, hash32, prng } from '../../server/campaigns/rng.js';

export interface MockAd {
  id: string;
  name: string;
  adsetId: string;
  campaignId: string;
  creativeId: string;
  active: boolean;
  /** A review outcome shown as its effective_status while set (e.g. DISAPPROVED; set `active` false too: it does not deliver). */
  review?: string;
  /** The variant's purchases-per-click factor on its campaign's cvr. */
  factor: number;
  impressions: number;
  clicks: number;
  spend: number;
  purchases: number;
  revenue: number;
}

export interface MockCreative {
  id: string;
  name: string;
  body: any;
}

type Reply = { status: number; body: unknown };
const bad = (message: string): Reply => ({ status: 400, body: { error: { message, type: 'OAuthException', code: 100 } } });

/** The variant index an ad's name carries (`[…:v{i}]`), or 0. */
export const variantOf = (name: string): number => Number(/:v(\d+)\]/.exec(name)?.[1] ?? 0);

export function createMetaAds(opts: { seed: number; variantFactor?: (adName: string, campaignId: string) => number }) {
  const ads = new Map<string, MockAd>();
  const creatives = new Map<string, MockCreative>();
  let next = 5000;
  const factor = opts.variantFactor ?? ((name: string, campaignId: string) => 0.5 + prng(hash32(`${opts.seed}:ad:${campaignId}:${variantOf(name)}`))());
  const of = (campaignId: string) => [...ads.values()].filter((a) => a.campaignId === campaignId);

  /**
   * The ads' routes; null for any other call. `adset(id)`: the ad set's campaign id when it is a Meta ad set.
   * `claim`: the platform's purchase claim factor of a campaign.
   */
  function route(method: string, url: URL, body: any, adset: (id: string) => string | null, claim: (campaignId: string) => number): Reply | null {
    const p = url.pathname;
    let m = /^\/v\d+\.\d+\/act_(\d+)\/(adcreatives|ads)$/.exec(p);
    if (m && method === 'POST') {
      if (m[2] === 'adcreatives') {
        const spec = body?.object_story_spec;
        if (!/^\d+$/.test(String(spec?.page_id ?? ''))) return bad('Invalid parameter: object_story_spec requires page_id');
        const link = spec?.link_data?.link;
        if (typeof link !== 'string' || !/^https?:\/\//.test(link)) return bad('Invalid parameter: link_data requires link');
        const cta = spec.link_data.call_to_action;
        if (cta && (typeof cta.type !== 'string' || (cta.value?.link !== undefined && cta.value.link !== link))) return bad('Invalid parameter: call_to_action value.link must be the link of the creative');
        const c: MockCreative = { id: `cr${++next}`, name: String(body?.name ?? ''), body };
        creatives.set(c.id, c);
        return { status: 200, body: { id: c.id } };
      }
      const campaignId = adset(String(body?.adset_id ?? ''));
      if (!campaignId) return bad('Invalid parameter: adset_id is required (an ad set of this account)');
      if (!creatives.has(String(body?.creative?.creative_id ?? ''))) return bad('Invalid parameter: creative requires creative_id');
      if (!body?.name) return bad('Invalid parameter: name is required');
      if (body.status !== undefined && body.status !== 'ACTIVE' && body.status !== 'PAUSED') return bad('Invalid parameter: status');
      const a: MockAd = {
        id: `ad${++next}`, name: String(body.name), adsetId: String(body.adset_id), campaignId, creativeId: String(body.creative.creative_id),
        active: body.status !== 'PAUSED', factor: factor(String(body.name), campaignId), impressions: 0, clicks: 0, spend: 0, purchases: 0, revenue: 0,
      };
      ads.set(a.id, a);
      return { status: 200, body: { id: a.id } };
    }
    m = /^\/v\d+\.\d+\/act_(\d+)\/ads$/.exec(p);
    if (m && method === 'GET') {
      const filter = JSON.parse(url.searchParams.get('filtering') ?? '[]') as { field?: string; operator?: string; value?: string[] }[];
      const byCampaign = filter.find((f) => f.field === 'campaign.id' && f.operator === 'IN');
      if (!byCampaign || !Array.isArray(byCampaign.value)) return bad('Invalid parameter: filtering');
      const ids = new Set(byCampaign.value.map(String));
      const data = [...ads.values()].filter((a) => ids.has(a.campaignId)).map((a) => ({ id: a.id, name: a.name, campaign_id: a.campaignId, effective_status: a.review ?? (a.active ? 'ACTIVE' : 'PAUSED') }));
      return { status: 200, body: { data, paging: {} } };
    }
    m = /^\/v\d+\.\d+\/(as\d+(?:-\d+)?)\/ads$/.exec(p);
    if (m && method === 'GET') {
      if (!adset(m[1])) return bad('Unsupported get request');
      const data = [...ads.values()].filter((a) => a.adsetId === m![1]).map((a) => ({ id: a.id, name: a.name, status: a.active ? 'ACTIVE' : 'PAUSED' }));
      return { status: 200, body: { data, paging: {} } };
    }
    m = /^\/v\d+\.\d+\/(ad\d+)$/.exec(p);
    if (m && method === 'POST') {
      const a = ads.get(m[1]);
      if (!a) return bad('Unsupported post request');
      if (body?.status !== undefined) a.active = body.status === 'ACTIVE';
      return { status: 200, body: { success: true } };
    }
    if (/^\/v\d+\.\d+\/act_\d+\/insights$/.test(p) && method === 'GET' && url.searchParams.get('level') === 'ad') {
      const ids = new Set<string>(JSON.parse(url.searchParams.get('filtering') ?? '[]')[0]?.value ?? []);
      const data = [...ads.values()].filter((a) => ids.has(a.campaignId)).map((a) => ({
        ad_id: a.id, campaign_id: a.campaignId, impressions: String(a.impressions), clicks: String(a.clicks), spend: a.spend.toFixed(2),
        actions: [{ action_type: 'purchase', value: String(Math.round(a.purchases * claim(a.campaignId))) }],
        action_values: [{ action_type: 'purchase', value: (a.revenue * claim(a.campaignId)).toFixed(2) }],
      }));
      return { status: 200, body: { data, paging: {} } };
    }
    return null;
  }

  return { ads, creatives, of, route };
}

/** One hour of a campaign's delivery through its running ads: the spend shared evenly, each ad at its own cvr. */
export function deliverAds(running: MockAd[], rates: { cpm: number; ctr: number; cvr: number }, spend: number, rand: () => number): { a: MockAd; impressions: number; clicks: number; conv: number }[] {
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return running.map((a) => {
    const sp = r2(spend / running.length);
    const impressions = Math.round((sp / rates.cpm) * 1000);
    const clicks = binomial(impressions, rates.ctr, rand);
    const conv = binomial(clicks, Math.min(1, rates.cvr * a.factor), rand);
    a.impressions += impressions;
    a.clicks += clicks;
    a.spend = r2(a.spend + sp);
    a.purchases += conv;
    return { a, impressions, clicks, conv };
  });
}
