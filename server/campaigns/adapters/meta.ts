// Meta Marketing API (Graph v25.0): a campaign with its own daily budget (Advantage campaign budget, minor
// units), objective OUTCOME_SALES, special_ad_categories [] (required on every campaign); one ad set carrying
// the targeting; status changes and budget edits with POST /{campaign-id}; lifetime insights per campaign with
// GET /act_{id}/insights?level=campaign&date_preset=maximum (purchases from actions / action_values).
import type { CampaignsConfig } from '../config.js';
import type { Stats } from '../model.js';
import { call, notConfigured, num, type External, type Outcome, type PlatformAdapter, type PublishInput } from './adapter.js';

export const META_VERSION = 'v25.0';
const minor = (x: number) => Math.round(x * 100);

type ActionRow = { action_type?: string; value?: string };
const purchases = (rows: unknown): number => (Array.isArray(rows) ? (rows as ActionRow[]).filter((a) => a.action_type === 'purchase' || a.action_type === 'offsite_conversion.fb_pixel_purchase').reduce((s, a) => s + num(a.value), 0) : 0);

export function metaTargeting(t: PublishInput['targeting']) {
  return {
    age_min: t.age_min, age_max: t.age_max,
    geo_locations: t.locations.length ? { cities: t.locations.map((l) => ({ name: l.city, radius: l.radius_km, distance_unit: 'kilometer' })) } : { countries: ['RO'] },
    ...(t.interests.length ? { flexible_spec: [{ interests: t.interests.map((name) => ({ name })) }] } : {}),
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
  return {
    platform: 'meta',
    async publish(c): Promise<Outcome<External>> {
      if (!ready) return notConfigured('META_AD_ACCOUNT_ID / META_ADS_TOKEN');
      const camp = await post(`act_${acct}/campaigns`, {
        name: c.name, objective: 'OUTCOME_SALES', status: 'PAUSED', special_ad_categories: [],
        daily_budget: minor(c.dailyBudget), bid_strategy: 'LOWEST_COST_WITHOUT_CAP',
      });
      if (!camp.ok) return camp;
      const campaignId = String(camp.value?.id ?? '');
      const adset = await post(`act_${acct}/adsets`, {
        name: `${c.name} — ad set`, campaign_id: campaignId, optimization_goal: 'OFFSITE_CONVERSIONS', billing_event: 'IMPRESSIONS',
        targeting: metaTargeting(c.targeting), status: 'PAUSED',
      });
      if (!adset.ok) return adset;
      const on = await post(campaignId, { status: 'ACTIVE' });
      if (!on.ok) return on;
      return { ok: true, value: { campaignId, adsetId: String(adset.value?.id ?? '') } };
    },
    async setActive(ext, active) {
      if (!ready) return notConfigured('META_AD_ACCOUNT_ID / META_ADS_TOKEN');
      const r = await post(ext.campaignId, { status: active ? 'ACTIVE' : 'PAUSED' });
      return r.ok ? { ok: true, value: undefined } : r;
    },
    async setDailyBudget(ext, amount) {
      if (!ready) return notConfigured('META_AD_ACCOUNT_ID / META_ADS_TOKEN');
      const r = await post(ext.campaignId, { daily_budget: minor(amount) });
      return r.ok ? { ok: true, value: undefined } : r;
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
