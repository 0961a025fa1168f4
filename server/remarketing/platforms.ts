// The platform adapters for audience sync, as pure request builders and answer classifiers (sync.ts sends):
//   Meta Custom Audiences  POST/DELETE {graph}/v25.0/{audience_id}/users  {"payload":{"schema":"EMAIL_SHA256","data":[…]}}
//                          ≤ 10,000 identifiers per request; one schema per request (single-key form).
//   Google Customer Match  POST {datamanager}/v1/audienceMembers:ingest | :remove (Data Manager API),
//                          destinations [{operatingAccount {accountType GOOGLE_ADS, accountId}, productDestinationId}],
//                          audienceMembers [{userData {userIdentifiers [{emailAddress}]}}], encoding HEX; ≤ 10,000.
//   TikTok                 POST {business-api}/open_api/v1.3/segment/mapping/ {advertiser_ids, action add|delete,
//                          id_schema ["EMAIL_SHA256"], batch_data [[{id, audience_ids}]]}; Access-Token header; ≤ 1,000 here.
// Digests are SHA-256 hex of the normalised identifier as identity/crypto.ts stores them: email trimmed and
// lower-cased (all three); phone digits with the country code and no "+" — Meta's form only, so phones go to
// Meta alone (Google and TikTok hash "+" E.164, which cannot be derived from our digest). Pure.
import { platformAccountId, type Platform } from './schemas.js';

export type Kind = 'email' | 'phone';
export interface Digest {
  kind: Kind;
  digest: string;
}

export interface Destination {
  externalAudienceId: string;
  accountId: string | null;
  token: string;
}

export interface PlatformRequest {
  method: 'POST' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

export interface PlatformUrls {
  meta: string;
  google_ads: string;
  tiktok: string;
}

export const META_VERSION = 'v25.0';
export const BATCH: Record<Platform, number> = { meta: 10_000, google_ads: 10_000, tiktok: 1_000 };
export const KINDS: Record<Platform, Kind[]> = { meta: ['email', 'phone'], google_ads: ['email'], tiktok: ['email'] };
export const HEX64 = /^[0-9a-f]{64}$/;

/** What each platform needs besides the audience id and token, or null. */
export function destinationProblem(p: Platform, d: Omit<Destination, 'token'>): string | null {
  if (!d.externalAudienceId) return 'no external_audience_id: create the audience on the platform and set its id';
  if (p !== 'meta' && !d.accountId) return `${p} needs account_id (${p === 'google_ads' ? 'the Google Ads customer id' : 'the TikTok advertiser id'})`;
  return null;
}

/** One request for one operation on up to BATCH[p] digests of one kind. */
export function buildRequest(p: Platform, op: 'add' | 'remove', kind: Kind, digests: string[], d: Destination, urls: PlatformUrls): PlatformRequest {
  const json = { 'content-type': 'application/json' };
  if (p === 'meta') {
    return {
      method: op === 'add' ? 'POST' : 'DELETE', url: `${urls.meta}/${META_VERSION}/${encodeURIComponent(d.externalAudienceId)}/users`,
      headers: { ...json, authorization: `Bearer ${d.token}` },
      body: { payload: { schema: kind === 'email' ? 'EMAIL_SHA256' : 'PHONE_SHA256', data: digests } },
    };
  }
  if (p === 'google_ads') {
    // The customer id's digits (an audience stored before they were normalised may hold 123-456-7890).
    const account = d.accountId === null ? null : platformAccountId(p, d.accountId) ?? d.accountId;
    const body: Record<string, unknown> = {
      destinations: [{ operatingAccount: { accountType: 'GOOGLE_ADS', accountId: account }, productDestinationId: d.externalAudienceId }],
      audienceMembers: digests.map((x) => ({ userData: { userIdentifiers: [kind === 'email' ? { emailAddress: x } : { phoneNumber: x }] } })),
      encoding: 'HEX',
    };
    // Members are sent only with marketing consent (remarketing_members): the consent the ingest asks for.
    if (op === 'add') Object.assign(body, { consent: { adUserData: 'CONSENT_GRANTED', adPersonalization: 'CONSENT_GRANTED' }, termsOfService: { customerMatchTermsOfServiceStatus: 'ACCEPTED' } });
    return { method: 'POST', url: `${urls.google_ads}/v1/audienceMembers:${op === 'add' ? 'ingest' : 'remove'}`, headers: { ...json, authorization: `Bearer ${d.token}` }, body };
  }
  return {
    method: 'POST', url: `${urls.tiktok}/open_api/v1.3/segment/mapping/`, headers: { ...json, 'access-token': d.token },
    body: {
      advertiser_ids: [d.accountId], action: op === 'add' ? 'add' : 'delete', id_schema: [kind === 'email' ? 'EMAIL_SHA256' : 'PHONE_SHA256'],
      batch_data: digests.map((x) => [{ id: x, audience_ids: [d.externalAudienceId] }]),
    },
  };
}

/**
 * Lookalikes, per platform. Meta: POST {graph}/v25.0/act_{ad account}/customaudiences with subtype LOOKALIKE,
 * origin_audience_id (the seed's Meta custom audience) and lookalike_spec {ratio: percentage / 100, country};
 * Meta builds its members, none are uploaded to it. Google Ads (similar audiences were retired in 2023) and
 * TikTok: the reference (ad-platforms.md) documents no lookalike call, so a lookalike for them is refused.
 */
export const LOOKALIKE_PLATFORMS: readonly Platform[] = ['meta'];

export interface LookalikeSpec {
  name: string;
  accountId: string;
  originAudienceId: string;
  percentage: number;
  country: string;
}

export function buildLookalikeRequest(l: LookalikeSpec, token: string, urls: PlatformUrls): PlatformRequest {
  const account = l.accountId.replace(/^act_/, '');
  return {
    method: 'POST', url: `${urls.meta}/${META_VERSION}/act_${encodeURIComponent(account)}/customaudiences`,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: { name: l.name, subtype: 'LOOKALIKE', origin_audience_id: l.originAudienceId, lookalike_spec: { ratio: l.percentage / 100, country: l.country } },
  };
}

export type Answer = { kind: 'ok' } | { kind: 'retry'; reason: string; retryAfterMs?: number } | { kind: 'fail'; reason: string };

/** How a platform's answer is taken: done, worth retrying (throttled, 5xx), or refused for good. */
export function classify(p: Platform, status: number, body: unknown, retryAfter: string | null): Answer {
  const b = (body ?? {}) as Record<string, unknown>;
  const after = retryAfter && /^\d{1,5}$/.test(retryAfter) ? Number(retryAfter) * 1000 : undefined;
  const text = JSON.stringify(body ?? null).slice(0, 300);
  if (p === 'tiktok' && status === 200) {
    const code = Number(b.code);
    if (code === 0) return { kind: 'ok' };
    // 40100: rate limit; 40700 and 5xxxx: TikTok's own failures (rudder-transformer's tiktok_ads network handler).
    if (code === 40100 || code === 40700 || code >= 50000) return { kind: 'retry', reason: `tiktok code ${code}: ${text}` };
    return { kind: 'fail', reason: `tiktok code ${code}: ${text}` };
  }
  if (status >= 200 && status < 300) return { kind: 'ok' };
  if (p === 'meta') {
    const code = Number((b.error as Record<string, unknown> | undefined)?.code);
    // Graph throttling (4, 17, 613, 80003) and transient errors (1, 2) are retried; token/permission errors are not.
    if ([1, 2, 4, 17, 341, 613, 80003].includes(code)) return { kind: 'retry', reason: `meta code ${code}: ${text}`, retryAfterMs: after };
  }
  if (status === 408 || status === 429 || status >= 500) return { kind: 'retry', reason: `HTTP ${status}: ${text}`, retryAfterMs: after };
  return { kind: 'fail', reason: `HTTP ${status}: ${text}` };
}
