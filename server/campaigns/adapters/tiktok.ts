// TikTok Business API v1.3: campaign/create (WEB_CONVERSIONS, daily budget mode, created disabled) and one ad
// group with the targeting (location_ids from TIKTOK_LOCATION_IDS, purchases — optimization_event SHOPPING — on
// the pixel, promotion_type WEBSITE, smooth pacing, scheduled from now), each first looked up (campaign/get filtered by campaign_name `[key]`, adgroup/get by
// campaign_ids) so an interrupted attempt's objects are reused, then campaign/status/update ENABLE; budget edits with campaign/update; lifetime
// figures per campaign with report/integrated/get (BASIC, AUCTION_CAMPAIGN). Every answer is HTTP 200 with
// {code, message, data}: code 0 is success, 40100 (rate limit) and 5xxxx are retried, the rest are refusals.
import type { CampaignsConfig } from '../config.js';
import { decimalsOf, floorTo, type Stats } from '../model.js';

/** TikTok's budget: a number in the advertiser's currency, in that currency's decimals (whole yen). */
const units = (x: number, currency: string) => floorTo(x, decimalsOf(currency));
import { atStep, call, currencyRefusal, notConfigured, num, pickFound, type Found, type Outcome, type PlatformAdapter, type PublishOutcome } from './adapter.js';

/** TikTok's schedule times: "YYYY-MM-DD HH:MM:SS" in UTC. Pure. */
export const tiktokTime = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

function unwrap(r: Outcome<any>): Outcome<any> {
  if (!r.ok) return r;
  const code = num(r.value?.code);
  if (code === 0) return { ok: true, value: r.value?.data ?? {} };
  return { ok: false, error: `TikTok code ${code}: ${String(r.value?.message ?? '').slice(0, 200)}`, retriable: code === 40100 || code >= 50000 };
}

export function createTiktokAdapter(cfg: CampaignsConfig): PlatformAdapter {
  const { advertiserId: adv, token } = cfg.tiktok;
  const base = `${cfg.urls.tiktok}/open_api/v1.3`;
  const headers = { 'Access-Token': token ?? '' };
  const post = async (path: string, body: Record<string, unknown>) => unwrap(await call(`${base}/${path}/`, { method: 'POST', headers, body: { advertiser_id: adv, ...body } }));
  const ready = adv && token;
  const missing = () => notConfigured('TIKTOK_ADVERTISER_ID / TIKTOK_ADS_TOKEN');
  /** GET campaign/get or adgroup/get with a filtering object (first 1000): the publish's lookups by key. */
  const lookup = async (path: string, filtering: Record<string, unknown>, row: (x: Record<string, unknown>) => Found): Promise<Outcome<Found[]>> => {
    const qs = new URLSearchParams({ advertiser_id: adv ?? '', filtering: JSON.stringify(filtering), page: '1', page_size: '1000' });
    const r = unwrap(await call(`${base}/${path}/?${qs}`, { method: 'GET', headers }));
    if (!r.ok) return r;
    if (!Array.isArray(r.value?.list)) return { ok: false, error: `TikTok answered ${path} without a list`, retriable: false };
    return { ok: true, value: (r.value.list as Record<string, unknown>[]).map(row) };
  };
  return {
    platform: 'tiktok',
    async publish(c, progress): Promise<PublishOutcome> {
      if (!ready) return atStep(missing(), 'campaign');
      const wrong = currencyRefusal('TikTok', 'TIKTOK_ADVERTISER_CURRENCY', cfg.tiktok.currency, c.currency);
      if (wrong) return atStep(wrong, 'campaign');
      // The ad group needs location_ids, and optimises purchases (optimization_event) on a pixel: refused before
      // anything is created when either is missing.
      const pixel = c.pixelId ?? cfg.tiktok.pixelId;
      if (!pixel) return atStep({ retriable: false, error: 'no TikTok pixel: the ad group optimises purchases on one (pixel_id); add the tenant\'s TikTok tracking code (settings.pixel_id) or set TIKTOK_PIXEL_ID' }, 'campaign');
      if (cfg.tiktok.locationIds.length === 0) return atStep({ retriable: false, error: 'no TikTok locations: an ad group requires location_ids; set TIKTOK_LOCATION_IDS (ids from TikTok\'s /tool/region/)' }, 'campaign');
      // 1. The campaign: the stored id, else one found by its key (campaign_name filters by fuzzy match: the key
      // is checked here), else a new one (disabled).
      const found = await lookup('campaign/get', { campaign_name: `[${c.key}]` }, (x) => ({ id: String(x.campaign_id ?? ''), name: String(x.campaign_name ?? ''), active: x.operation_status === 'ENABLE' }));
      if (!found.ok) return atStep(found, 'campaign');
      const stored = progress.existing.campaignId;
      const mine = pickFound(found.value, c.key, stored);
      let campaignId = stored ?? mine?.id ?? null;
      let created = false;
      if (!campaignId) {
        const camp = await post('campaign/create', { campaign_name: c.name.slice(0, 512), objective_type: 'WEB_CONVERSIONS', budget_mode: 'BUDGET_MODE_DAY', budget: units(c.dailyBudget, c.currency), operation_status: 'DISABLE' });
        if (!camp.ok) return atStep(camp, 'campaign');
        campaignId = String(camp.value.campaign_id ?? '');
        if (!campaignId) return { ok: false, error: 'TikTok returned no campaign_id', retriable: false, step: 'campaign' };
        created = true;
      }
      if (campaignId !== stored) await progress.save({ campaignId });
      // 2. The ad group (a campaign just created has none to find).
      let adsetId = progress.existing.adsetId;
      if (!adsetId && !created) {
        const groups = await lookup('adgroup/get', { campaign_ids: [campaignId] }, (x) => ({ id: String(x.adgroup_id ?? ''), name: String(x.adgroup_name ?? ''), active: x.operation_status === 'ENABLE' }));
        if (!groups.ok) return atStep(groups, 'adset');
        adsetId = pickFound(groups.value, c.key)?.id ?? null;
        if (adsetId) await progress.save({ adsetId });
      }
      if (!adsetId) {
        const t = c.targeting;
        const group = await post('adgroup/create', {
          campaign_id: campaignId, adgroup_name: `${c.name} — ad group`.slice(0, 512), placement_type: 'PLACEMENT_TYPE_AUTOMATIC',
          // Enabled (TikTok's default, said explicitly): the campaign, created disabled, gates its delivery.
          operation_status: 'ENABLE',
          promotion_type: 'WEBSITE', optimization_goal: 'CONVERT', optimization_event: 'SHOPPING', pixel_id: pixel, billing_event: 'OCPM', bid_type: 'BID_TYPE_NO_BID',
          pacing: 'PACING_MODE_SMOOTH', budget_mode: 'BUDGET_MODE_INFINITE', schedule_type: 'SCHEDULE_FROM_NOW', schedule_start_time: tiktokTime(Date.now()),
          location_ids: cfg.tiktok.locationIds,
          audience_ids: [...t.custom_audiences, ...t.lookalike_audiences].filter((a) => a.external_id).map((a) => a.external_id),
          excluded_audience_ids: t.excluded_audiences.filter((a) => a.external_id).map((a) => a.external_id),
        });
        if (!group.ok) return atStep(group, 'adset');
        adsetId = String(group.value.adgroup_id ?? '');
        await progress.save({ adsetId });
      }
      // 3. Enable it, unless it already runs.
      if (!(mine?.id === campaignId && mine.active)) {
        const on = await post('campaign/status/update', { campaign_ids: [campaignId], operation_status: 'ENABLE' });
        if (!on.ok) return atStep(on, 'activate');
      }
      return { ok: true, value: { campaignId, adsetId } };
    },
    async setActive(ext, active) {
      if (!ready) return missing();
      const r = await post('campaign/status/update', { campaign_ids: [ext.campaignId], operation_status: active ? 'ENABLE' : 'DISABLE' });
      return r.ok ? { ok: true, value: undefined } : r;
    },
    async setDailyBudget(ext, amount, currency) {
      if (!ready) return missing();
      const wrong = currencyRefusal('TikTok', 'TIKTOK_ADVERTISER_CURRENCY', cfg.tiktok.currency, currency);
      if (wrong) return wrong;
      const r = await post('campaign/update', { campaign_id: ext.campaignId, budget: units(amount, currency) });
      return r.ok ? { ok: true, value: undefined } : r;
    },
    async fetchMetrics(ids) {
      if (!ready) return missing();
      const out = new Map<string, Stats>();
      for (let page = 1; page <= 50; page++) {
        const qs = new URLSearchParams({
          advertiser_id: adv, report_type: 'BASIC', data_level: 'AUCTION_CAMPAIGN', lifetime: 'true', page: String(page), page_size: '1000',
          dimensions: JSON.stringify(['campaign_id']),
          metrics: JSON.stringify(['spend', 'impressions', 'clicks', 'complete_payment', 'total_complete_payment_rate']),
          filtering: JSON.stringify([{ field_name: 'campaign_ids', filter_type: 'IN', filter_value: JSON.stringify(ids) }]),
        });
        const r = unwrap(await call(`${base}/report/integrated/get/?${qs}`, { method: 'GET', headers }));
        if (!r.ok) return r;
        for (const row of (r.value.list ?? []) as { dimensions?: { campaign_id?: string }; metrics?: Record<string, unknown> }[]) {
          const m = row.metrics ?? {};
          out.set(String(row.dimensions?.campaign_id), { impressions: num(m.impressions), clicks: num(m.clicks), spend: num(m.spend), conversions: num(m.complete_payment), revenue: num(m.total_complete_payment_rate) });
        }
        if (page >= num(r.value.page_info?.total_page)) break;
      }
      return { ok: true, value: out };
    },
  };
}
