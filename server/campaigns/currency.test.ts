import { describe, expect, it } from 'vitest';
import { createMetaAdapter } from './adapters/meta.js';
import { campaignsConfig } from './config.js';
import { currencyDecimals, fitsDecimals, floorTo, toMinor } from './model.js';
import { parseNewBudget } from './schemas.js';

describe('currency minor units', () => {
  it('knows ISO 4217 exponents and refuses codes not in use', () => {
    expect(['JPY', 'EUR', 'KWD', 'BHD', 'OMR', 'JOD', 'TND', 'ZZZ', 'XXX', 'eur'].map(currencyDecimals)).toEqual([0, 2, 3, 3, 3, 3, 3, null, null, null]);
    expect([toMinor(1109, 0), toMinor(11.09, 2), toMinor(1.125, 3)]).toEqual([1109, 1109, 1125]);
    expect([floorTo(1190.47, 0), floorTo(0.29, 2), floorTo(1.1259, 3)]).toEqual([1190, 0.29, 1.125]);
    expect([fitsDecimals(150000.55, 0), fitsDecimals(500.125, 3), fitsDecimals(500.1255, 3), fitsDecimals(0.1 + 0.2, 2), fitsDecimals(9_999_999.99, 2)]).toEqual([false, true, false, true, true]);
  });
  it('takes a budget\'s amounts in exactly its currency\'s decimals', () => {
    const p = (b: Record<string, unknown>) => parseNewBudget({ organizer_id: 'O', ...b }, 0);
    expect(p({ total_budget: 150000.55, currency: 'JPY' })).toMatchObject({ ok: false, error: { field: 'total_budget' } });
    expect(p({ total_budget: 150000, currency: 'JPY', platform_allocations: { meta: { percentage: 100, daily_limit: 0.5 } } })).toMatchObject({ ok: false, error: { field: 'platform_allocations.meta.daily_limit' } });
    expect(p({ total_budget: 500.125, currency: 'KWD', daily_budget_limit: 50.005 })).toMatchObject({ ok: true, value: { total_budget: 500.125, daily_budget_limit: 50.005 } });
    expect(p({ total_budget: 100, currency: 'ZZZ' })).toMatchObject({ ok: false, error: { field: 'currency' } });
    expect(p({ total_budget: 10.5, target_roas: 1.25, currency: 'JPY' })).toMatchObject({ ok: false, error: { field: 'total_budget' } });
    expect(p({ total_budget: 10, target_roas: 1.25, currency: 'JPY' })).toMatchObject({ ok: true });
  });
  it('refuses to publish or change a budget in another currency than the ad account\'s', async () => {
    const cfg = campaignsConfig({ META_GRAPH_URL: 'http://127.0.0.1:9', META_AD_ACCOUNT_ID: '1', META_ADS_TOKEN: 't', META_AD_ACCOUNT_CURRENCY: 'EUR' }, []);
    const meta = createMetaAdapter(cfg);
    const r = await meta.publish({ name: 'x [k]', key: 'k', campaignType: 'prospecting', dailyBudget: 1190, currency: 'JPY', targeting: {} as never, creative: {} as never, pixelId: null }, { existing: { campaignId: null, adsetId: null }, save: async () => undefined });
    expect(r).toMatchObject({ ok: false, retriable: false, step: 'campaign' });
    expect((r as { error: string }).error).toMatch(/Meta ad account is in EUR .*budget is in JPY/);
    expect(await meta.setDailyBudget({ campaignId: '5', adsetId: null }, 1000, 'JPY')).toMatchObject({ ok: false, retriable: false });
    const problems: string[] = [];
    campaignsConfig({ GOOGLE_ADS_CURRENCY: 'ZZZ' }, problems);
    expect(problems).toEqual(['GOOGLE_ADS_CURRENCY must be an ISO 4217 currency code in use (EUR)']);
  });
});
