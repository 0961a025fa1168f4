import { describe, expect, it } from 'vitest';
import { accountId, campaignsConfig } from './config.js';

describe('campaigns config: ad account ids', () => {
  it('takes the ids as the platforms\' UIs show them and keeps what their APIs take (act_ added by the Meta adapter, Google without dashes)', () => {
    const problems: string[] = [];
    const c = campaignsConfig({ META_AD_ACCOUNT_ID: 'act_123456789', GOOGLE_ADS_CUSTOMER_ID: '123-456-7890', TIKTOK_ADVERTISER_ID: '7012345678901234567' }, problems);
    expect(problems).toEqual([]);
    expect(c.meta.adAccountId).toBe('123456789');
    expect(c.google.customerId).toBe('1234567890');
    expect(c.tiktok.advertiserId).toBe('7012345678901234567');
    expect(campaignsConfig({ META_AD_ACCOUNT_ID: '123456789', GOOGLE_ADS_CUSTOMER_ID: '1234567890' }, []).meta.adAccountId).toBe('123456789');
    expect(accountId('GOOGLE_ADS_CUSTOMER_ID', '1234567890')).toBe('1234567890');
  });

  it('refuses at boot what no platform would take, saying the expected form', () => {
    const problems: string[] = [];
    const c = campaignsConfig({ META_AD_ACCOUNT_ID: 'act_abc', GOOGLE_ADS_CUSTOMER_ID: '123-4567', TIKTOK_ADVERTISER_ID: 'adv-1' }, problems);
    expect(c.meta.adAccountId).toBeNull();
    expect(problems).toEqual([
      expect.stringMatching(/^META_AD_ACCOUNT_ID="act_abc" must be the Meta ad account id: its digits, with or without act_/),
      expect.stringMatching(/^GOOGLE_ADS_CUSTOMER_ID="123-4567" must be the Google Ads customer id: 10 digits, with or without the dashes \(123-456-7890/),
      expect.stringMatching(/^TIKTOK_ADVERTISER_ID="adv-1" must be the TikTok advertiser id: digits/),
    ]);
    for (const bad of ['act_act_123', '12345678901', '123_456_7890', '']) expect(accountId(bad.startsWith('act') ? 'META_AD_ACCOUNT_ID' : 'GOOGLE_ADS_CUSTOMER_ID', bad)).toBeNull();
  });
});

describe('campaigns config: platform URLs', () => {
  it('refuses a value that is not an http(s) URL, keeping the default, and takes one that is without its trailing slashes', () => {
    const problems: string[] = [];
    const c = campaignsConfig({ META_GRAPH_URL: 'not a url', GOOGLE_ADS_URL: 'http://127.0.0.1:9//' }, problems);
    expect(problems).toEqual(['META_GRAPH_URL must be a URL starting with https:// or http:// (got "not a url")']);
    expect(c.urls.meta).toBe('https://graph.facebook.com');
    expect(c.urls.googleAds).toBe('http://127.0.0.1:9');
  });
});
