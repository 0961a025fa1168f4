// Google Ads API (REST v22): a CampaignBudget (amount_micros, STANDARD delivery) then a campaign on it, created
// PAUSED with Maximize conversions and enabled once created; status and budget edits are update operations with
// an update mask; lifetime metrics through googleAds:search with GAQL (cost_micros, conversions,
// conversions_value). external_adset_id holds the budget's resource name (the campaign's budget is edited there).
// Before creating the budget or the campaign, googleAds:search looks it up by `[key]` in its name (GAQL LIKE), so
// an interrupted attempt's objects are reused (Google also refuses a second campaign of the same name).
import type { CampaignsConfig } from '../config.js';
import { decimalsOf, toMinor, type Stats } from '../model.js';
import { atStep, call, currencyRefusal, notConfigured, num, pickFound, type Found, type Outcome, type PlatformAdapter, type PublishOutcome } from './adapter.js';

export const GOOGLE_ADS_VERSION = 'v22';
/** amount_micros: millionths of the currency unit, a whole number of its minor units (Google refuses a JPY amount that is not whole yen). */
const micros = (x: number, currency: string) => {
  const d = decimalsOf(currency);
  return String(toMinor(x, d) * 10 ** (6 - d));
};

/** A GAQL LIKE pattern for names containing `[key]`: [, ], % and _ match literally inside brackets. Pure. */
export function gaqlLike(key: string): string {
  return `%${`[${key}]`.replace(/[[\]%_]/g, (ch) => `[${ch}]`)}%`;
}

export function createGoogleAdapter(cfg: CampaignsConfig): PlatformAdapter {
  const { customerId: cid, token, developerToken } = cfg.google;
  const base = `${cfg.urls.googleAds}/${GOOGLE_ADS_VERSION}/customers/${cid}`;
  const headers = { authorization: `Bearer ${token ?? ''}`, 'developer-token': developerToken ?? '' };
  const mutate = (what: string, operations: unknown[]) => call(`${base}/${what}:mutate`, { method: 'POST', headers, body: { operations } });
  const ready = cid && token && developerToken;
  const missing = () => notConfigured('GOOGLE_ADS_CUSTOMER_ID / GOOGLE_ADS_TOKEN / GOOGLE_ADS_DEVELOPER_TOKEN');
  const rn = (r: Outcome<any>) => (r.ok ? String(r.value?.results?.[0]?.resourceName ?? '') : '');
  /** googleAds:search (first page: a key names one object): the publish's lookups by key. */
  const search = async (query: string, row: (r: any) => Found): Promise<Outcome<Found[]>> => {
    const r = await call(`${base}/googleAds:search`, { method: 'POST', headers, body: { query } });
    if (!r.ok) return r;
    const results = r.value?.results ?? [];
    if (!Array.isArray(results)) return { ok: false, error: 'Google Ads answered googleAds:search without results', retriable: false };
    return { ok: true, value: results.map(row) };
  };
  return {
    platform: 'google_ads',
    async publish(c, progress): Promise<PublishOutcome> {
      if (!ready) return atStep(missing(), 'campaign');
      const wrong = currencyRefusal('Google Ads', 'GOOGLE_ADS_CURRENCY', cfg.google.currency, c.currency);
      if (wrong) return atStep(wrong, 'adset');
      const like = gaqlLike(c.key);
      // 1. The budget (held as the "ad set"): the stored resource, else one found by its key, else a new one.
      let budgetRn = progress.existing.adsetId;
      let created = false;
      if (!budgetRn) {
        const found = await search(`SELECT campaign_budget.resource_name, campaign_budget.name FROM campaign_budget WHERE campaign_budget.name LIKE '${like}' AND campaign_budget.status != 'REMOVED'`,
          (r) => ({ id: String(r.campaignBudget?.resourceName ?? ''), name: String(r.campaignBudget?.name ?? ''), active: true }));
        if (!found.ok) return atStep(found, 'adset');
        budgetRn = pickFound(found.value, c.key)?.id ?? null;
        if (!budgetRn) {
          const budget = await mutate('campaignBudgets', [{ create: { name: `${c.name} — budget`, amountMicros: micros(c.dailyBudget, c.currency), deliveryMethod: 'STANDARD', explicitlyShared: false } }]);
          if (!budget.ok) return atStep(budget, 'adset');
          budgetRn = rn(budget);
          if (!budgetRn) return { ok: false, error: 'Google Ads returned no budget resource name', retriable: false, step: 'adset' };
          created = true;
        }
        await progress.save({ adsetId: budgetRn });
      }
      // 2. The campaign on it (PAUSED), likewise (a budget just created has no campaign on it).
      const stored = progress.existing.campaignId;
      let mine: Found | null = null;
      if (!created) {
        const found = await search(`SELECT campaign.id, campaign.name, campaign.status FROM campaign WHERE campaign.name LIKE '${like}' AND campaign.status != 'REMOVED'`,
          (r) => ({ id: String(r.campaign?.id ?? ''), name: String(r.campaign?.name ?? ''), active: r.campaign?.status === 'ENABLED' }));
        if (!found.ok) return atStep(found, 'campaign');
        mine = pickFound(found.value, c.key, stored);
      }
      let campaignId = stored ?? mine?.id ?? null;
      if (!campaignId) {
        const camp = await mutate('campaigns', [{
          create: {
            name: c.name, status: 'PAUSED', advertisingChannelType: c.campaignType === 'prospecting' ? 'DEMAND_GEN' : 'DISPLAY',
            campaignBudget: budgetRn, maximizeConversions: {}, containsEuPoliticalAdvertising: 'DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING',
          },
        }]);
        if (!camp.ok) return atStep(camp, 'campaign');
        const resource = rn(camp);
        campaignId = resource.split('/').pop() ?? '';
        if (!campaignId) return { ok: false, error: 'Google Ads returned no campaign resource name', retriable: false, step: 'campaign' };
      }
      if (campaignId !== stored) await progress.save({ campaignId });
      // 3. Enable it, unless it already runs.
      if (!(mine?.id === campaignId && mine.active)) {
        const on = await mutate('campaigns', [{ updateMask: 'status', update: { resourceName: `customers/${cid}/campaigns/${campaignId}`, status: 'ENABLED' } }]);
        if (!on.ok) return atStep(on, 'activate');
      }
      return { ok: true, value: { campaignId, adsetId: budgetRn } };
    },
    async setActive(ext, active) {
      if (!ready) return missing();
      const r = await mutate('campaigns', [{ updateMask: 'status', update: { resourceName: `customers/${cid}/campaigns/${ext.campaignId}`, status: active ? 'ENABLED' : 'PAUSED' } }]);
      return r.ok ? { ok: true, value: undefined } : r;
    },
    async setDailyBudget(ext, amount, currency) {
      if (!ready) return missing();
      const wrong = currencyRefusal('Google Ads', 'GOOGLE_ADS_CURRENCY', cfg.google.currency, currency);
      if (wrong) return wrong;
      if (!ext.adsetId) return { ok: false, error: 'no campaign budget resource recorded', retriable: false };
      const r = await mutate('campaignBudgets', [{ updateMask: 'amount_micros', update: { resourceName: ext.adsetId, amountMicros: micros(amount, currency) } }]);
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
