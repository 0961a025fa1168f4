// A published campaign delivers (issue 16 item 3, README "Campaigns" → Platforms): on each platform the objects the
// adapter creates end with the platform's effective status ACTIVE — on Meta the campaign AND its ad set, on TikTok
// the campaign and its ad group — and pausing / resuming at campaign level stops and restarts delivery. Before, the
// Meta ad set was created PAUSED and only the campaign was started: effective status ADSET_PAUSED, nothing spent.
// Against the stand-ins (test/mock-ad-platforms), which deliver only what the platform's effective status allows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformAdapter, PublishProgress } from '../server/campaigns/adapters/adapter.js';
import { createGoogleAdapter } from '../server/campaigns/adapters/google.js';
import { createMetaAdapter } from '../server/campaigns/adapters/meta.js';
import { createTiktokAdapter } from '../server/campaigns/adapters/tiktok.js';
import type { Targeting } from '../server/campaigns/suite.js';
import { mockPlatformsConfig } from './campaigns-stores.js';
import { startMockPlatforms, type MockPlatforms } from './mock-ad-platforms/index.js';

const HOUR = 3_600_000;

describe('published campaigns deliver', { timeout: 60_000 }, () => {
  let mock: MockPlatforms;
  let clock = Date.UTC(2026, 2, 5, 12);
  let adapters: Record<'meta' | 'google_ads' | 'tiktok', PlatformAdapter>;

  beforeAll(async () => {
    mock = await startMockPlatforms({ seed: 9, startMs: clock, rates: () => ({ cpm: 5, ctr: 0.01, cvr: 0.03, aov: 60, claimFactor: 1.2 }) });
    const cfg = mockPlatformsConfig(mock.url);
    adapters = { meta: createMetaAdapter(cfg), google_ads: createGoogleAdapter(cfg), tiktok: createTiktokAdapter(cfg) };
  });
  afterAll(async () => {
    await mock?.close();
  });

  const targeting = (o: Partial<Targeting> = {}): Targeting => ({
    age_min: 18, age_max: 45, genders: [], locations: [{ country: 'RO' }], interests: [], custom_audiences: [], lookalike_audiences: [], excluded_audiences: [], ...o,
  } as Targeting);
  const progress = (existing: PublishProgress['existing'] = { campaignId: null, adsetId: null }): PublishProgress => ({ existing, save: async () => undefined });
  const input = (key: string, o: Partial<Targeting> = {}) => ({
    name: `Test [${key}]`, key, campaignType: 'retargeting', dailyBudget: 48, currency: 'EUR', targeting: targeting(o),
    creative: { headline: 'h', text: 't', url: 'https://tickets.example/e1', variants: [] } as never, pixelId: null,
  });
  /** Spend of a platform campaign over the next `hours` simulated hours. */
  const spendOver = (id: string, hours: number) => {
    const before = mock.campaigns.get(id)!.spend;
    clock += hours * HOUR;
    mock.advanceTo(clock);
    return mock.campaigns.get(id)!.spend - before;
  };

  for (const platform of ['meta', 'tiktok', 'google_ads'] as const) {
    it(`${platform}: a published campaign is effectively ACTIVE and spends; paused at campaign level it stops, resumed it spends again`, async () => {
      const r = await adapters[platform].publish(input(`txc-1-${platform}-retargeting`), progress());
      expect(r.ok, JSON.stringify(r)).toBe(true);
      if (!r.ok) return;
      expect(mock.effectiveStatus(r.value.campaignId)).toBe('ACTIVE');
      expect(spendOver(r.value.campaignId, 2)).toBeGreaterThan(0);
      expect((await adapters[platform].setActive(r.value, false)).ok).toBe(true);
      expect(mock.effectiveStatus(r.value.campaignId)).toBe('CAMPAIGN_PAUSED');
      expect(spendOver(r.value.campaignId, 2)).toBe(0);
      expect((await adapters[platform].setActive(r.value, true)).ok).toBe(true);
      expect(mock.effectiveStatus(r.value.campaignId)).toBe('ACTIVE');
      expect(spendOver(r.value.campaignId, 2)).toBeGreaterThan(0);
    });
  }

  it('meta: the ad set is created ACTIVE under the PAUSED campaign, which alone gates delivery until it is started', async () => {
    const before = mock.calls.length;
    const r = await adapters.meta.publish(input('txc-2-meta-retargeting'), progress());
    expect(r.ok).toBe(true);
    const sent = mock.calls.slice(before).filter((c) => c.method === 'POST');
    expect(sent.map((c) => [c.path.replace(/\d+/g, 'N'), c.body?.status])).toEqual([
      ['/vN.N/act_N/campaigns', 'PAUSED'], ['/vN.N/act_N/adsets', 'ACTIVE'], ['/vN.N/N', 'ACTIVE'],
    ]);
  });

  it('meta: the suite\'s interest names go to the ad set as Meta interest ids from the targeting search; one Meta does not know is left out', async () => {
    // Before, flexible_spec carried [{"name":"rock"}]: Meta takes interests by id and refuses a name alone.
    const before = mock.calls.length;
    const r = await adapters.meta.publish(input('txc-6-meta-prospecting', { interests: ['rock music', 'Indie', 'zzz-no-such-interest', '6003146442552'] }), progress());
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const sent = mock.calls.slice(before);
    const searches = sent.filter((c) => c.method === 'GET' && c.path === '/v25.0/search').map((c) => new URLSearchParams(c.query).get('q'));
    expect(searches).toEqual(['rock music', 'Indie', 'zzz-no-such-interest']);
    const adset = sent.find((c) => c.method === 'POST' && c.path === '/v25.0/act_1001/adsets')!;
    expect(adset.body.targeting.flexible_spec).toEqual([{ interests: [{ id: '6003139266461', name: 'Rock music' }, { id: '6003204346561', name: 'Indie music' }, { id: '6003146442552' }] }]);
    // None known: no interest targeting at all (broad within the locations), never a name.
    const none = mock.calls.length;
    expect((await adapters.meta.publish(input('txc-7-meta-prospecting', { interests: ['zzz-no-such-interest'] }), progress())).ok).toBe(true);
    expect(mock.calls.slice(none).find((c) => c.path === '/v25.0/act_1001/adsets')!.body.targeting.flexible_spec).toBeUndefined();
    // The search failing for a while is a temporary failure at the ad set step (the publish is retried).
    mock.failOn((c) => c.path === '/v25.0/search');
    const down = await adapters.meta.publish(input('txc-8-meta-prospecting', { interests: ['jazz'] }), progress());
    expect(down).toMatchObject({ ok: false, retriable: true, step: 'adset' });
  });

  it('meta: the suite\'s city goes to the ad set by its key from the location search, in the venue\'s country; an unknown city leaves the country', async () => {
    // Before, geo_locations.cities carried [{"name":"Cluj"}]: Meta takes a city by key and refuses a name alone.
    const adsetOf = async (key: string, locations: Targeting['locations']) => {
      const before = mock.calls.length;
      const r = await adapters.meta.publish(input(key, { locations }), progress());
      expect(r.ok, JSON.stringify(r)).toBe(true);
      const sent = mock.calls.slice(before);
      return { searches: sent.filter((c) => c.path === '/v25.0/search').map((c) => Object.fromEntries(new URLSearchParams(c.query))), geo: sent.find((c) => c.path === '/v25.0/act_1001/adsets')!.body.targeting.geo_locations };
    };
    const cluj = await adsetOf('txc-9-meta-prospecting', [{ city: 'Cluj', radius_km: 50, country: 'RO' }]);
    expect(cluj.searches).toEqual([expect.objectContaining({ type: 'adgeolocation', location_types: '["city"]', q: 'Cluj' })]);
    expect(cluj.geo).toEqual({ cities: [{ key: '1788569', radius: 50, distance_unit: 'kilometer' }] });
    // In the United States, the same name is another city; diacritics aside; the radius within Meta's 17-80 km.
    expect((await adsetOf('txc-10-meta-prospecting', [{ city: 'Cluj', country: 'US', radius_km: 200 }])).geo).toEqual({ cities: [{ key: '2673730', radius: 80, distance_unit: 'kilometer' }] });
    expect((await adsetOf('txc-11-meta-prospecting', [{ city: 'timisoara', radius_km: 5, country: 'RO' }])).geo).toEqual({ cities: [{ key: '1792103', radius: 17, distance_unit: 'kilometer' }] });
    // A city Meta does not know: the country, never a name.
    expect((await adsetOf('txc-12-meta-prospecting', [{ city: 'Atlantis', country: 'RO' }])).geo).toEqual({ countries: ['RO'] });
    // No country is assumed (it was RO): a targeting that names none (a draft of an earlier version) is refused
    // before anything is created.
    const before = mock.calls.length;
    expect(await adapters.meta.publish(input('txc-13-meta-prospecting', { locations: [{ city: 'Atlantis' }] }), progress())).toMatchObject({ ok: false, retriable: false, step: 'campaign', error: expect.stringMatching(/^no country to target/) });
    expect(mock.calls.slice(before).filter((c) => c.method === 'POST')).toEqual([]);
  });

  it('meta: an ad set an earlier version left PAUSED is started — when a publish resumes with it, and when the campaign is resumed', async () => {
    // What an earlier version left: the campaign created and started, its ad set PAUSED (ADSET_PAUSED: no delivery).
    const q = 'access_token=tok';
    const post = async (path: string, body: unknown) => (await fetch(`${mock.url}/v25.0/${path}?${q}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Promise<{ id: string }>;
    const legacy = async (key: string) => {
      const camp = await post('act_1001/campaigns', { name: `Old [${key}]`, objective: 'OUTCOME_SALES', status: 'PAUSED', special_ad_categories: [], daily_budget: 4800 });
      const set = await post('act_1001/adsets', { name: `Old [${key}] — ad set`, campaign_id: camp.id, status: 'PAUSED', targeting: { geo_locations: { countries: ['RO'] } } });
      await post(camp.id, { status: 'ACTIVE' });
      expect(mock.effectiveStatus(camp.id)).toBe('ADSET_PAUSED');
      return { campaignId: camp.id, adsetId: set.id };
    };
    const a = await legacy('txc-3-meta-retargeting');
    const r = await adapters.meta.publish(input('txc-3-meta-retargeting'), progress(a));
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(mock.effectiveStatus(a.campaignId)).toBe('ACTIVE');
    expect(spendOver(a.campaignId, 2)).toBeGreaterThan(0);
    // Found by its key (an attempt that stored no ids) rather than stored: started too.
    const b = await legacy('txc-4-meta-retargeting');
    expect((await adapters.meta.publish(input('txc-4-meta-retargeting'), progress())).ok).toBe(true);
    expect(mock.effectiveStatus(b.campaignId)).toBe('ACTIVE');
    // A running campaign published before this fix: pausing and resuming it starts its ad set.
    const c = await legacy('txc-5-meta-retargeting');
    expect((await adapters.meta.setActive(c, false)).ok).toBe(true);
    expect((await adapters.meta.setActive(c, true)).ok).toBe(true);
    expect(mock.effectiveStatus(c.campaignId)).toBe('ACTIVE');
  });
});
