// The sync adapters' documented request shapes, batch limits and answer classes (no network).
import { describe, expect, it } from 'vitest';
import { BATCH, buildLookalikeRequest, buildRequest, classify, destinationProblem, KINDS } from './platforms.js';

const urls = { meta: 'https://graph.example', google_ads: 'https://dm.example', tiktok: 'https://tt.example' };
const d = { externalAudienceId: '6001', accountId: '123-456', token: 'tok' };
const h = 'a'.repeat(64);

describe('audience sync adapters', () => {
  it('Meta: POST to add, DELETE to remove, single-key payload, bearer token', () => {
    expect(buildRequest('meta', 'add', 'email', [h], d, urls)).toEqual({
      method: 'POST', url: 'https://graph.example/v25.0/6001/users', headers: { 'content-type': 'application/json', authorization: 'Bearer tok' },
      body: { payload: { schema: 'EMAIL_SHA256', data: [h] } },
    });
    const r = buildRequest('meta', 'remove', 'phone', [h], d, urls);
    expect(r.method).toBe('DELETE');
    expect(r.body).toEqual({ payload: { schema: 'PHONE_SHA256', data: [h] } });
  });

  it('Google Data Manager: ingest with consent and terms, remove without; HEX encoding', () => {
    const add = buildRequest('google_ads', 'add', 'email', [h], d, urls);
    expect(add.url).toBe('https://dm.example/v1/audienceMembers:ingest');
    expect(add.body).toEqual({
      destinations: [{ operatingAccount: { accountType: 'GOOGLE_ADS', accountId: '123-456' }, productDestinationId: '6001' }],
      audienceMembers: [{ userData: { userIdentifiers: [{ emailAddress: h }] } }], encoding: 'HEX',
      consent: { adUserData: 'CONSENT_GRANTED', adPersonalization: 'CONSENT_GRANTED' }, termsOfService: { customerMatchTermsOfServiceStatus: 'ACCEPTED' },
    });
    const rm = buildRequest('google_ads', 'remove', 'email', [h], d, urls);
    expect(rm.url).toBe('https://dm.example/v1/audienceMembers:remove');
    expect(rm.body).not.toHaveProperty('consent');
  });

  it('Google Data Manager: the operating account is the customer id\'s 10 digits, also for an audience stored with the dashes', () => {
    const r = buildRequest('google_ads', 'add', 'email', [h], { ...d, accountId: '123-456-7890' }, urls);
    expect((r.body as { destinations: { operatingAccount: { accountId: string } }[] }).destinations[0].operatingAccount.accountId).toBe('1234567890');
  });

  it('TikTok: segment mapping add/delete with Access-Token', () => {
    const r = buildRequest('tiktok', 'remove', 'email', [h], d, urls);
    expect(r).toEqual({
      method: 'POST', url: 'https://tt.example/open_api/v1.3/segment/mapping/', headers: { 'content-type': 'application/json', 'access-token': 'tok' },
      body: { advertiser_ids: ['123-456'], action: 'delete', id_schema: ['EMAIL_SHA256'], batch_data: [[{ id: h, audience_ids: ['6001'] }]] },
    });
  });

  it('Meta lookalike: created in the ad account from the seed audience, ratio = percentage / 100', () => {
    expect(buildLookalikeRequest({ name: 'L', accountId: 'act_555', originAudienceId: '6001', percentage: 3, country: 'RO' }, 'tok', urls)).toEqual({
      method: 'POST', url: 'https://graph.example/v25.0/act_555/customaudiences', headers: { 'content-type': 'application/json', authorization: 'Bearer tok' },
      body: { name: 'L', subtype: 'LOOKALIKE', origin_audience_id: '6001', lookalike_spec: { ratio: 0.03, country: 'RO' } },
    });
  });

  it('limits and identifier kinds per platform; what a destination needs', () => {
    expect(BATCH).toEqual({ meta: 10_000, google_ads: 10_000, tiktok: 1_000 });
    expect(KINDS.meta).toEqual(['email', 'phone']);
    expect(KINDS.google_ads).toEqual(['email']);
    expect(destinationProblem('meta', { externalAudienceId: '1', accountId: null })).toBeNull();
    expect(destinationProblem('tiktok', { externalAudienceId: '1', accountId: null })).toMatch(/account_id/);
    expect(destinationProblem('google_ads', { externalAudienceId: '', accountId: 'x' })).toMatch(/external_audience_id/);
  });

  it('classifies answers: ok, retry (throttle, 5xx, Graph throttle codes), fail (auth, bad request)', () => {
    expect(classify('meta', 200, { num_received: 1 }, null)).toEqual({ kind: 'ok' });
    expect(classify('meta', 400, { error: { code: 17 } }, null).kind).toBe('retry');
    expect(classify('meta', 400, { error: { code: 190 } }, null).kind).toBe('fail');
    expect(classify('google_ads', 503, {}, '7')).toMatchObject({ kind: 'retry', retryAfterMs: 7000 });
    expect(classify('google_ads', 400, {}, null).kind).toBe('fail');
    expect(classify('tiktok', 200, { code: 0 }, null).kind).toBe('ok');
    expect(classify('tiktok', 200, { code: 40100 }, null).kind).toBe('retry');
    expect(classify('tiktok', 200, { code: 40001 }, null).kind).toBe('fail');
  });
});
