// Google Ads API (REST v22): a CampaignBudget (amount_micros, STANDARD delivery) then a campaign on it, created
// PAUSED with Maximize conversions and enabled once created; status and budget edits are update operations with
// an update mask; lifetime metrics through googleAds:search with GAQL (cost_micros, conversions,
// conversions_value). external_adset_id holds the budget's resource name (the campaign's budget is edited there).
import type { CampaignsConfig } from '../config.js';
import type { Stats } from '../model.js';
import { call, notConfigured, num, type External, type Outcome, type PlatformAdapter } from './adapter.js';

export const GOOGLE_ADS_VERSION = 'v22';
const micros = (x: number) => String(Math.round(x * 1_000_000));

export function createGoogleAdapter(cfg: CampaignsConfig): PlatformAdapter {
  const { customerId: cid, token, developerToken } = cfg.google;
  const base = `${cfg.urls.googleAds}/${GOOGLE_ADS_VERSION}/customers/${cid}`;
  const headers = { authorization: `Bearer ${token ?? ''}`, 'developer-token': developerToken ?? '' };
  const mutate = (what: string, operations: unknown[]) => call(`${base}/${what}:mutate`, { method: 'POST', headers, body: { operations } });
  const ready = cid && token && developerToken;
  const missing = () => notConfigured('GOOGLE_ADS_CUSTOMER_ID / GOOGLE_ADS_TOKEN / GOOGLE_ADS_DEVELOPER_TOKEN');
  const rn = (r: Outcome<any>) => (r.ok ? String(r.value?.results?.[0]?.resourceName ?? '') : '');
  return {
    platform: 'google_ads',
    async publish(c): Promise<Outcome<External>> {
      if (!ready) return missing();
      const budget = await mutate('campaignBudgets', [{ create: { name: `${c.name} — budget`, amountMicros: micros(c.dailyBudget), deliveryMethod: 'STANDARD', explicitlyShared: false } }]);
      if (!budget.ok) return budget;
      const camp = await mutate('campaigns', [{
        create: {
          name: c.name, status: 'PAUSED', advertisingChannelType: c.campaignType === 'prospecting' ? 'DEMAND_GEN' : 'DISPLAY',
          campaignBudget: rn(budget), maximizeConversions: {}, containsEuPoliticalAdvertising: 'DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING',
        },
      }]);
      if (!camp.ok) return camp;
      const resource = rn(camp);
      const on = await mutate('campaigns', [{ updateMask: 'status', update: { resourceName: resource, status: 'ENABLED' } }]);
      if (!on.ok) return on;
      return { ok: true, value: { campaignId: resource.split('/').pop() ?? resource, adsetId: rn(budget) } };
    },
    async setActive(ext, active) {
      if (!ready) return missing();
      const r = await mutate('campaigns', [{ updateMask: 'status', update: { resourceName: `customers/${cid}/campaigns/${ext.campaignId}`, status: active ? 'ENABLED' : 'PAUSED' } }]);
      return r.ok ? { ok: true, value: undefined } : r;
    },
    async setDailyBudget(ext, amount) {
      if (!ready) return missing();
      if (!ext.adsetId) return { ok: false, error: 'no campaign budget resource recorded', retriable: false };
      const r = await mutate('campaignBudgets', [{ updateMask: 'amount_micros', update: { resourceName: ext.adsetId, amountMicros: micros(amount) } }]);
      return r.ok ? { ok: true, value: undefined } : r;
    },
    async fetchMetrics(ids) {
      if (!ready) return missing();
      const out = new Map<string, Stats>();
      const safe = ids.filter((id) => /^\d{1,20}$/.test(id));
      if (safe.length === 0) return { ok: true, value: out };
      const query = `SELECT campaign.id, metrics.impressions, metrics.clicks, metrics.cost_micros, metrics.conversions, metrics.conversions_value FROM campaign WHERE campaign.id IN (${safe.join(',')})`;
      let pageToken: string | undefined;
      for (let page = 0; page < 50; page++) {
        const r: Outcome<any> = await call(`${base}/googleAds:search`, { method: 'POST', headers, body: { query, ...(pageToken ? { pageToken } : {}) } });
        if (!r.ok) return r;
        for (const row of (r.value?.results ?? []) as { campaign?: { id?: string }; metrics?: Record<string, unknown> }[]) {
          const m = row.metrics ?? {};
          out.set(String(row.campaign?.id), { impressions: num(m.impressions), clicks: num(m.clicks), spend: num(m.costMicros) / 1_000_000, conversions: num(m.conversions), revenue: num(m.conversionsValue) });
        }
        pageToken = r.value?.nextPageToken;
        if (!pageToken) break;
      }
      return { ok: true, value: out };
    },
  };
}
