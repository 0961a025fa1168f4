import { describe, expect, it } from 'vitest';
import { buildSuite, parseUtmCampaign, suiteCountry, suiteLanding, suitePlatforms } from './suite.js';

describe('campaign suite', () => {
  const inp = { budgetId: 7, organizerId: 'org-1', platformAllocations: {}, lookalikePct: 2, landingUrl: 'https://t.example/e/1?x=1', country: 'RO', event: { id: 'E1', title: 'Rock Night', genres: ['rock', 'indie'], city: 'Cluj', url: 'https://t.example/e/1?x=1' } };
  it('one campaign per platform and type, audiences as definitions', () => {
    const s = buildSuite(inp);
    expect(s).toHaveLength(12);
    const pro = s.find((c) => c.platform === 'meta' && c.campaign_type === 'prospecting')!;
    expect(pro.targeting.interests).toEqual(['rock', 'indie']);
    expect(pro.targeting.excluded_audiences).toEqual([{ type: 'ticket_buyers', criteria: { event_id: 'E1' }, audience_id: null }]);
    const rt = s.find((c) => c.campaign_type === 'retargeting')!;
    expect(rt.targeting.custom_audiences[0]).toMatchObject({ type: 'event_viewers', criteria: { event_id: 'E1' } });
    const lal = s.find((c) => c.campaign_type === 'lookalike')!;
    expect(lal.targeting.lookalike_audiences[0]).toMatchObject({ type: 'lookalike', ratio: 0.02, criteria: { seed: { type: 'ticket_buyers', organizer_id: 'org-1' } } });
    const dyn = s.find((c) => c.campaign_type === 'dynamic_remarketing')!;
    expect(dyn.targeting.custom_audiences[0].type).toBe('cart_abandoners');
  });
  it('landing URLs carry the utm_campaign that credits the campaign', () => {
    const s = buildSuite(inp);
    const u = new URL(s.find((c) => c.platform === 'tiktok' && c.campaign_type === 'lookalike')!.creative.landing_page_url);
    expect(u.searchParams.get('x')).toBe('1');
    expect(parseUtmCampaign(u.searchParams.get('utm_campaign')!)).toEqual({ budgetId: 7, platform: 'tiktok', type: 'lookalike' });
    expect(parseUtmCampaign('txc-7-meta-other')).toBeNull();
  });
  it('only platforms with a share, all three when none is named', () => {
    expect(suitePlatforms({ meta: { percentage: 70 }, tiktok: { percentage: 0 } })).toEqual(['meta']);
    expect(suitePlatforms({})).toEqual(['meta', 'google_ads', 'tiktok']);
  });
  it('assumes no landing page nor country: the request, the catalog, the configuration, else the field to send', () => {
    // Before, a budget without event_id sent its ads to https://tixello.com/events and Meta to countries ["RO"].
    expect(suiteLanding('https://o.example/x', 'E1', 'https://t.example/e/1', null)).toEqual({ url: 'https://o.example/x' });
    expect(suiteLanding(null, 'E1', 'https://t.example/e/1', 'https://m.example/')).toEqual({ url: 'https://t.example/e/1' });
    expect(suiteLanding(null, 'E1', 'not a url', 'https://m.example/')).toEqual({ url: 'https://m.example/' });
    expect(suiteLanding(null, null, null, null)).toEqual({ problem: expect.stringMatching(/^The suite's ads need a landing page: its budget names no event_id, and CAMPAIGNS_LANDING_URL is not set\. Send \{"landing_page_url": "https:\/\/…"\} with the suite/) });
    expect(suiteLanding(null, 'E1', null, null)).toMatchObject({ problem: expect.stringContaining('event E1 has no url in the catalog') });
    expect(suiteCountry('DE', 'RO', [], null)).toEqual({ country: 'DE' });
    expect(suiteCountry(null, 'HU', ['RO'], 'RO')).toEqual({ country: 'HU' });
    expect(suiteCountry(null, null, ['AT'], 'RO')).toEqual({ country: 'AT' });
    expect(suiteCountry(null, null, ['AT', 'DE'], 'RO')).toEqual({ country: 'RO' });
    expect(suiteCountry(null, null, ['AT', 'DE'], null)).toEqual({ problem: expect.stringMatching(/several \(AT, DE, …\).*Send \{"country": "RO"\} \(ISO 3166-1 alpha-2\) with the suite/) });
    const noEvent = buildSuite({ ...inp, country: 'DE', landingUrl: 'https://o.example/org-1', event: { id: null, title: null, genres: [], city: null, url: null } });
    expect(noEvent[0].targeting.locations).toEqual([{ country: 'DE' }]);
    expect(new URL(noEvent[0].creative.landing_page_url).origin + new URL(noEvent[0].creative.landing_page_url).pathname).toBe('https://o.example/org-1');
    expect(buildSuite(inp)[0].targeting.locations).toEqual([{ city: 'Cluj', radius_km: 50, country: 'RO' }]);
  });
  it('no genres: broad live-music interests', () => {
    const s = buildSuite({ ...inp, event: { ...inp.event, genres: [] } });
    expect(s[0].targeting.interests).toEqual(['live music', 'concerts']);
  });
});

describe('linking audiences', () => {
  it('links a definition to a synced audience of the same platform, type and event; others stay unlinked', async () => {
    const { linkAudiences } = await import('./suite.js');
    const s = buildSuite({ budgetId: 1, organizerId: 'O1', platformAllocations: { meta: { percentage: 100 } }, lookalikePct: 1, landingUrl: 'https://t.example', country: 'RO', event: { id: 'E1', title: null, genres: [], city: null, url: null } });
    const rt = s.find((c) => c.campaign_type === 'retargeting')!;
    const cands = [
      { id: 5, platform: 'meta' as const, audience_type: 'event_viewers' as const, organizer_id: 'O1', event_id: 'E1', external_audience_id: '2384' },
      { id: 6, platform: 'tiktok' as const, audience_type: 'ticket_buyers' as const, organizer_id: 'O1', event_id: 'E1', external_audience_id: '99' },
      { id: 7, platform: 'meta' as const, audience_type: 'event_viewers' as const, organizer_id: 'O1', event_id: 'E2', external_audience_id: '77' },
    ];
    const t = linkAudiences(rt.targeting, 'meta', 'O1', cands);
    expect(t.custom_audiences[0]).toMatchObject({ type: 'event_viewers', audience_id: 5, external_id: '2384' });
    expect(t.excluded_audiences[0]).toMatchObject({ type: 'ticket_buyers', audience_id: null });
    const lal = linkAudiences(s.find((c) => c.campaign_type === 'lookalike')!.targeting, 'meta', 'O1', [{ id: 8, platform: 'meta', audience_type: 'lookalike', organizer_id: 'O1', event_id: null, external_audience_id: 'L1' }]);
    expect(lal.lookalike_audiences[0]).toMatchObject({ audience_id: 8, external_id: 'L1', ratio: 0.01 });
  });
});
