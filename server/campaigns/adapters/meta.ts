// Meta Marketing API (Graph v25.0): a campaign with its own daily budget (Advantage campaign budget, minor
// units), objective OUTCOME_SALES, special_ad_categories [] (required on every campaign); one ad set carrying
// the targeting and optimising purchases on the pixel (promoted_object {pixel_id, custom_event_type: PURCHASE},
// required with optimization_goal OFFSITE_CONVERSIONS); before creating either, GET /act_{id}/campaigns filtered on the name containing `[key]` (and
// GET /{campaign-id}/adsets) finds one an interrupted attempt created; status changes and budget edits with
// POST /{campaign-id}; lifetime insights per campaign with GET /act_{id}/insights?level=campaign&date_preset=maximum (purchases from actions / action_values).
// Interests go by id: each of the suite's interest names is looked up with the targeting search
// (GET /search?type=adinterest&q=) before the ad set is created (resolveInterests); cities by key likewise
// (GET /search?type=adgeolocation, meta-geo.ts).
// With META_PAGE_ID, one ad per creative variant is created under the ad set before the campaign starts
// (meta-ads.ts): the optimiser's creative rotation pauses the losing variants' ads (rotation.ts).
// Delivery needs the campaign AND its ad set ACTIVE (Meta's effective_status: ADSET_PAUSED, CAMPAIGN_PAUSED): the ad
// set is created ACTIVE under the campaign, which is created PAUSED and alone gates delivery (started last; paused
// and resumed by the optimiser). An ad set found or stored PAUSED (left so by an earlier version) is started
// before the campaign, and resuming a campaign starts its ad set too (an absolute status: a no-op when it runs).
import type { CampaignsConfig } from '../config.js';
import { decimalsOf, toMinor, type Stats } from '../model.js';
import { countriesOf, metaGeo, resolveCities, type MetaCity } from './meta-geo.js';
import { atStep, call, currencyRefusal, notConfigured, num, pickFound, type Found, type Outcome, type PlatformAdapter, type PublishInput, type PublishOutcome } from './adapter.js';
import { ensureAds, fetchAdInsights, fetchAdStatuses, type MetaAdsDeps } from './meta-ads.js';

export const META_VERSION = 'v25.0';
/** Meta's daily_budget is in the currency's minor units (its currency offsets: EUR 100, JPY 1, KWD 1000). */
const minor = (x: number, currency: string) => toMinor(x, decimalsOf(currency));

type ActionRow = { action_type?: string; value?: string };
const purchases = (rows: unknown): number => (Array.isArray(rows) ? (rows as ActionRow[]).filter((a) => a.action_type === 'purchase' || a.action_type === 'offsite_conversion.fb_pixel_purchase').reduce((s, a) => s + num(a.value), 0) : 0);

/** A Meta interest as its targeting spec takes it: the id from the targeting search, with its name. */
export interface MetaInterest {
  id: string;
  /** Null for an id the suite gave as such (Meta needs only the id). */
  name: string | null;
}

/** A suite's interest that already is a Meta interest id (digits): sent as it is, not searched. */
const interestId = (x: string): boolean => /^\d{6,20}$/.test(x);

/**
 * Of the targeting search's answer for `query` (GET /search?type=adinterest&q=, best match first), the interest
 * the suite means: the one named exactly so (case aside), else Meta's best match; null when Meta knows none. Pure.
 */
export function pickInterest(found: { id?: unknown; name?: unknown }[], query: string): MetaInterest | null {
  const rows = found.filter((f) => (typeof f.id === 'string' || typeof f.id === 'number') && typeof f.name === 'string').map((f) => ({ id: String(f.id), name: String(f.name) }));
  const q = query.trim().toLowerCase();
  return rows.find((r) => r.name.toLowerCase() === q) ?? rows[0] ?? null;
}

/**
 * The ad set's targeting spec; `interests`: the suite's interests as Meta ids (resolved by the targeting search);
 * `cities`: its cities as Meta keys (meta-geo.ts).
 */
export function metaTargeting(t: PublishInput['targeting'], interests: MetaInterest[], cities: MetaCity[] = []) {
  return {
    age_min: t.age_min, age_max: t.age_max,
    // Never null here: publish refuses a targeting without a country first.
    geo_locations: metaGeo(t.locations, cities) ?? {},
    ...(interests.length ? { flexible_spec: [{ interests: interests.map((i) => (i.name === null ? { id: i.id } : { id: i.id, name: i.name })) }] } : {}),
    custom_audiences: [...t.custom_audiences, ...t.lookalike_audiences].filter((a) => a.external_id).map((a) => ({ id: a.external_id })),
    excluded_custom_audiences: t.excluded_audiences.filter((a) => a.external_id).map((a) => ({ id: a.external_id })),
  };
}

export function createMetaAdapter(cfg: CampaignsConfig): PlatformAdapter {
  const base = `${cfg.urls.meta}/${META_VERSION}`;
  const { adAccountId: acct, token } = cfg.meta;
  const q = () => `access_token=${encodeURIComponent(token ?? '')}`;
  const post = (path: string, body: Record<string, unknown>) => call(`${base}/${path}?${q()}`, { method: 'POST', body });
  const ready = acct && token;
  /** GET of an edge listing objects (`data`: [{id, name, status}], first 500): the publish's lookups by key. */
  const lookup = async (path: string, params: Record<string, string>): Promise<Outcome<Found[]>> => {
    const r = await call(`${base}/${path}?${new URLSearchParams({ ...params, limit: '500' })}&${q()}`, { method: 'GET' });
    if (!r.ok) return r;
    if (!Array.isArray(r.value?.data)) return { ok: false, error: `Meta answered ${path} without a data list`, retriable: false };
    return { ok: true, value: (r.value.data as Record<string, unknown>[]).map((x) => ({ id: String(x.id ?? ''), name: String(x.name ?? ''), active: x.status === 'ACTIVE' })) };
  };
  /**
   * The suite's interests (genres, "live music") as Meta interest objects: Meta's targeting spec takes interests by
   * id, from its targeting search (GET /search?type=adinterest&q=): a name alone is refused. One search per name; a
   * name Meta knows nothing for is left out (the ad set then targets the others, or broadly within its locations).
   */
  const resolveInterests = async (names: string[]): Promise<Outcome<MetaInterest[]>> => {
    const out: MetaInterest[] = [];
    for (const name of [...new Set(names.map((x) => x.trim()).filter(Boolean))].slice(0, 25)) {
      if (interestId(name)) {
        out.push({ id: name, name: null });
        continue;
      }
      const r = await call(`${base}/search?${new URLSearchParams({ type: 'adinterest', q: name, limit: '10' })}&${q()}`, { method: 'GET' });
      if (!r.ok) return r;
      if (!Array.isArray(r.value?.data)) return { ok: false, error: 'Meta answered the targeting search without a data list', retriable: false };
      const hit = pickInterest(r.value.data, name);
      if (hit && !out.some((x) => x.id === hit.id)) out.push(hit);
    }
    return { ok: true, value: out };
  };
  const adsDeps: MetaAdsDeps = { acct: acct ?? '', base, q, post, lookup };
  return {
    platform: 'meta',
    async publish(c, progress): Promise<PublishOutcome> {
      if (!ready) return atStep(notConfigured('META_AD_ACCOUNT_ID / META_ADS_TOKEN'), 'campaign');
      const wrong = currencyRefusal('Meta', 'META_AD_ACCOUNT_CURRENCY', cfg.meta.currency, c.currency);
      if (wrong) return atStep(wrong, 'campaign');
      // An ad set optimising OFFSITE_CONVERSIONS needs promoted_object {pixel_id, custom_event_type}: refused before
      // anything is created when there is no pixel.
      const pixel = c.pixelId ?? cfg.meta.pixelId;
      if (!pixel) return atStep({ retriable: false, error: 'no Meta pixel: the ad set optimises purchases on one (promoted_object.pixel_id); add the tenant\'s Meta tracking code (settings.pixel_id) or set META_PIXEL_ID' }, 'campaign');
      // geo_locations is required: a targeting naming no country (a draft of a version that assumed RO) is refused
      // before anything is created rather than sent to a country nobody chose.
      if (countriesOf(c.targeting.locations).length === 0) return atStep({ retriable: false, error: 'no country to target: the campaign\'s targeting names none (a suite created before countries were required); create the budget\'s suite again with its country (POST …/suite {"country": "RO"}) or set CAMPAIGNS_COUNTRY' }, 'campaign');
      // 1. The campaign: the stored id, else one found by its key, else a new one (PAUSED).
      const found = await lookup(`act_${acct}/campaigns`, { fields: 'id,name,status', filtering: JSON.stringify([{ field: 'name', operator: 'CONTAIN', value: `[${c.key}]` }]) });
      if (!found.ok) return atStep(found, 'campaign');
      const stored = progress.existing.campaignId;
      const mine = pickFound(found.value, c.key, stored);
      let campaignId = stored ?? mine?.id ?? null;
      let created = false;
      if (!campaignId) {
        const camp = await post(`act_${acct}/campaigns`, {
          name: c.name, objective: 'OUTCOME_SALES', status: 'PAUSED', special_ad_categories: [],
          daily_budget: minor(c.dailyBudget, c.currency), bid_strategy: 'LOWEST_COST_WITHOUT_CAP',
        });
        if (!camp.ok) return atStep(camp, 'campaign');
        campaignId = String(camp.value?.id ?? '');
        if (!campaignId) return { ok: false, error: 'Meta returned no campaign id', retriable: false, step: 'campaign' };
        created = true;
      }
      if (campaignId !== stored) await progress.save({ campaignId });
      // 2. The ad set (a campaign just created has none to find), ACTIVE: the campaign, still PAUSED, gates it.
      let adsetId = progress.existing.adsetId;
      /** Whether the ad set is known to be ACTIVE (created so now, or found so); a stored one is not known. */
      let adsetRuns = false;
      /** Created by this attempt: it has no ads to look up. */
      let adsetFresh = false;
      if (!adsetId && !created) {
        const sets = await lookup(`${campaignId}/adsets`, { fields: 'id,name,status' });
        if (!sets.ok) return atStep(sets, 'adset');
        const set = pickFound(sets.value, c.key);
        adsetId = set?.id ?? null;
        adsetRuns = set?.active ?? false;
        if (adsetId) await progress.save({ adsetId });
      }
      if (!adsetId) {
        const interests = await resolveInterests(c.targeting.interests);
        if (!interests.ok) return atStep(interests, 'adset');
        const cities = await resolveCities(base, q, c.targeting.locations);
        if (!cities.ok) return atStep(cities, 'adset');
        const adset = await post(`act_${acct}/adsets`, {
          name: `${c.name} — ad set`, campaign_id: campaignId, optimization_goal: 'OFFSITE_CONVERSIONS', billing_event: 'IMPRESSIONS',
          promoted_object: { pixel_id: pixel, custom_event_type: 'PURCHASE' }, targeting: metaTargeting(c.targeting, interests.value, cities.value), status: 'ACTIVE',
        });
        if (!adset.ok) return atStep(adset, 'adset');
        adsetId = String(adset.value?.id ?? '');
        if (!adsetId) return { ok: false, error: 'Meta returned no ad set id', retriable: false, step: 'adset' };
        adsetRuns = true;
        adsetFresh = true;
        await progress.save({ adsetId });
      }
      // An ad set left PAUSED (an earlier version created it so) would hold the campaign at ADSET_PAUSED.
      if (!adsetRuns) {
        const on = await post(adsetId, { status: 'ACTIVE' });
        if (!on.ok) return atStep(on, 'adset');
      }
      // 3. One ad per creative variant (with a Page to run them as): before the campaign starts, so it never runs
      // without them. Without META_PAGE_ID, none (as before: no creative rotation).
      if (cfg.meta.pageId) {
        const ads = await ensureAds(adsDeps, { name: c.name, key: c.key, creative: c.creative, pageId: cfg.meta.pageId, adsetId, fresh: adsetFresh }, progress);
        if (!ads.ok) return atStep(ads, 'ads');
      }
      // 4. Start it, unless it already runs (an earlier attempt started it and stopped before recording that).
      if (!(mine?.id === campaignId && mine.active)) {
        const on = await post(campaignId, { status: 'ACTIVE' });
        if (!on.ok) return atStep(on, 'activate');
      }
      return { ok: true, value: { campaignId, adsetId } };
    },
    async setActive(ext, active) {
      if (!ready) return notConfigured('META_AD_ACCOUNT_ID / META_ADS_TOKEN');
      // Pausing is the campaign's alone (it gates its ad set); resuming starts the ad set first, in case an earlier
      // version left it PAUSED (absolute: nothing changes when it runs).
      if (active && ext.adsetId) {
        const set = await post(ext.adsetId, { status: 'ACTIVE' });
        if (!set.ok) return set;
      }
      const r = await post(ext.campaignId, { status: active ? 'ACTIVE' : 'PAUSED' });
      return r.ok ? { ok: true, value: undefined } : r;
    },
    async setDailyBudget(ext, amount, currency) {
      if (!ready) return notConfigured('META_AD_ACCOUNT_ID / META_ADS_TOKEN');
      const wrong = currencyRefusal('Meta', 'META_AD_ACCOUNT_CURRENCY', cfg.meta.currency, currency);
      if (wrong) return wrong;
      const r = await post(ext.campaignId, { daily_budget: minor(amount, currency) });
      return r.ok ? { ok: true, value: undefined } : r;
    },
    async setAdActive(adId, active) {
      if (!ready) return notConfigured('META_AD_ACCOUNT_ID / META_ADS_TOKEN');
      const r = await post(adId, { status: active ? 'ACTIVE' : 'PAUSED' });
      return r.ok ? { ok: true, value: undefined } : r;
    },
    async fetchAdMetrics(ids) {
      if (!ready) return notConfigured('META_AD_ACCOUNT_ID / META_ADS_TOKEN');
      return fetchAdInsights(adsDeps, ids);
    },
    async fetchAdStatuses(ids) {
      if (!ready) return notConfigured('META_AD_ACCOUNT_ID / META_ADS_TOKEN');
      return fetchAdStatuses(adsDeps, ids);
    },
    async fetchMetrics(ids) {
      if (!ready) return notConfigured('META_AD_ACCOUNT_ID / META_ADS_TOKEN');
      const out = new Map<string, Stats>();
      const filtering = encodeURIComponent(JSON.stringify([{ field: 'campaign.id', operator: 'IN', value: ids }]));
      let url: string | null = `${base}/act_${acct}/insights?level=campaign&date_preset=maximum&fields=campaign_id,impressions,clicks,spend,actions,action_values&limit=500&filtering=${filtering}&${q()}`;
      for (let page = 0; url && page < 50; page++) {
        const r: Outcome<any> = await call(url, { method: 'GET' });
        if (!r.ok) return r;
        for (const row of (r.value?.data ?? []) as Record<string, unknown>[]) {
          out.set(String(row.campaign_id), { impressions: num(row.impressions), clicks: num(row.clicks), spend: num(row.spend), conversions: purchases(row.actions), revenue: purchases(row.action_values) });
        }
        url = typeof r.value?.paging?.next === 'string' ? r.value.paging.next : null;
      }
      return { ok: true, value: out };
    },
  };
}
