// The resume decision of crash-safe publishing (publish.ts) and the adapters' pure helpers: which campaign an
// approval or the job takes, where an attempt's outcome leaves it, which platform object a lookup resumes with.
import { describe, expect, it } from 'vitest';
import { pickFound } from './adapters/adapter.js';
import { gaqlLike } from './adapters/google.js';
import { pickInterest } from './adapters/meta.js';
import { campaignKey, pixelOf, platformName, PUBLISH_LEASE_MS, PUBLISH_RETRY_MS, publishEnd, publishMove } from './publish.js';

const T = Date.UTC(2026, 2, 2, 12);
const at = (ms: number) => new Date(ms).toISOString();

describe('publishMove', () => {
  it('starts a campaign pending review, resumes one whose attempt is gone, leaves one an attempt holds', () => {
    expect(publishMove({ status: 'pending_review', publish_lease_until: null }, T)).toBe('start');
    // An attempt that crashed keeps its lease until it runs out: nobody else publishes meanwhile.
    expect(publishMove({ status: 'publishing', publish_lease_until: at(T + 1) }, T)).toBe('busy');
    expect(publishMove({ status: 'publishing', publish_lease_until: at(T + PUBLISH_LEASE_MS) }, T)).toBe('busy');
    expect(publishMove({ status: 'publishing', publish_lease_until: at(T - 1) }, T)).toBe('resume');
    expect(publishMove({ status: 'publishing', publish_lease_until: at(T) }, T)).toBe('resume');
    // Released (a start that may have taken effect failed): the next run takes it at once.
    expect(publishMove({ status: 'publishing', publish_lease_until: null }, T)).toBe('resume');
  });

  it('has nothing to publish in any other status (a repeated approval never publishes twice)', () => {
    for (const status of ['draft', 'active', 'paused', 'completed', 'failed'] as const) {
      expect(publishMove({ status, publish_lease_until: null }, T)).toBe('none');
    }
  });
});

describe('publishEnd', () => {
  it('ends active with the ids', () => {
    expect(publishEnd({ ok: true, value: { campaignId: '12', adsetId: 'as12' } })).toEqual({ to: 'active', campaignId: '12', adsetId: 'as12' });
  });

  it('fails on a refusal (not retriable) at any step', () => {
    expect(publishEnd({ ok: false, error: 'HTTP 400: targeting', retriable: false, step: 'adset' })).toEqual({ to: 'failed', error: 'HTTP 400: targeting' });
    expect(publishEnd({ ok: false, error: 'HTTP 400: name', retriable: false, step: 'campaign' })).toEqual({ to: 'failed', error: 'HTTP 400: name' });
    expect(publishEnd({ ok: false, error: 'HTTP 400: policy', retriable: false, step: 'activate' })).toEqual({ to: 'failed', error: 'starting it: HTTP 400: policy' });
  });

  it('keeps publishing (retried by the job) on a temporary failure at any step: 429, 5xx, a lost connection', () => {
    const now = { startedAt: at(T - 3_600_000), now: T };
    expect(publishEnd({ ok: false, error: 'HTTP 500: down', retriable: true, step: 'campaign' }, now)).toEqual({ to: 'retry', error: 'HTTP 500: down' });
    expect(publishEnd({ ok: false, error: 'HTTP 429: slow down', retriable: true, step: 'adset' }, now)).toEqual({ to: 'retry', error: 'HTTP 429: slow down' });
    expect(publishEnd({ ok: false, error: 'fetch failed', retriable: true, step: 'activate' }, now)).toEqual({ to: 'retry', error: 'starting it: fetch failed' });
  });

  it('gives up a day after the approval on a campaign that never ran; starting it is retried for as long as it takes', () => {
    const late = { startedAt: at(T - PUBLISH_RETRY_MS), now: T };
    expect(publishEnd({ ok: false, error: 'HTTP 500: down', retriable: true, step: 'adset' }, late))
      .toEqual({ to: 'failed', error: 'HTTP 500: down (still failing after retrying for 24 h since the approval)' });
    expect(publishEnd({ ok: false, error: 'fetch failed', retriable: true, step: 'activate' }, late)).toEqual({ to: 'retry', error: 'starting it: fetch failed' });
  });
});

describe('names and lookups', () => {
  it('the key always fits in the platform name', () => {
    const key = campaignKey({ budget_id: 7, platform: 'google_ads', campaign_type: 'dynamic_remarketing' });
    expect(key).toBe('txc-7-google_ads-dynamic_remarketing');
    expect(platformName('Rock Night — Prospecting (meta)', 'txc-7-meta-prospecting')).toBe('Rock Night — Prospecting (meta) [txc-7-meta-prospecting]');
    const long = platformName('x'.repeat(300), key);
    expect(long.length).toBe(255);
    expect(long.endsWith(` [${key}]`)).toBe(true);
  });

  it('picks the stored object, else the oldest carrying the key; never another campaign\'s', () => {
    const key = 'txc-1-meta-prospecting';
    const list = [
      { id: '120000000000000010', name: `A [${key}]`, active: true },
      { id: '99', name: `A [${key}]`, active: false },
      { id: '5', name: 'A [txc-11-meta-prospecting]', active: false },
      { id: '6', name: 'A [txc-1-meta-prospecting-x]', active: false },
    ];
    expect(pickFound(list, key)?.id).toBe('99');
    expect(pickFound(list, key, '120000000000000010')?.id).toBe('120000000000000010');
    expect(pickFound(list, key, '5')).toBeNull();
    expect(pickFound(list, 'txc-2-meta-prospecting')).toBeNull();
    expect(pickFound([], key)).toBeNull();
  });

  it('picks the Meta interest named exactly (case aside), else Meta\'s best match; none from an empty answer', () => {
    const found = [{ id: '6003343485089', name: 'Techno' }, { id: '6003902462066', name: 'Electronic music' }, { id: '1', name: 'rock' }, { name: 'no id' }];
    expect(pickInterest(found, 'Rock')).toEqual({ id: '1', name: 'rock' });
    expect(pickInterest(found, 'electronic')).toEqual({ id: '6003343485089', name: 'Techno' });
    expect(pickInterest([{ id: 6003146442552, name: 'Jazz' }], 'jazz')).toEqual({ id: '6003146442552', name: 'Jazz' });
    expect(pickInterest([{ name: 'no id' }], 'x')).toBeNull();
    expect(pickInterest([], 'x')).toBeNull();
  });

  it('GAQL LIKE pattern escapes the brackets and underscores of the key', () => {
    expect(gaqlLike('txc-3-google_ads-prospecting')).toBe('%[[]txc-3-google[_]ads-prospecting[]]%');
  });
});

describe('pixelOf', () => {
  it('takes the marketplace\'s pixel of the platform first, then the event\'s, then the organizer\'s; none for Google', () => {
    const code = (provider: string, owner: 'marketplace' | 'organizer' | 'event', pixel_id: unknown) => ({ provider, owner, settings: { pixel_id } });
    const codes = [code('meta', 'organizer', '111'), code('meta', 'event', '333'), code('tiktok', 'organizer', 'T1'), code('meta', 'marketplace', '222'), code('ga4', 'marketplace', 'G-1')];
    expect(pixelOf(codes, 'meta')).toBe('222');
    expect(pixelOf(codes.filter((c) => c.owner !== 'marketplace'), 'meta')).toBe('333');
    expect(pixelOf(codes, 'tiktok')).toBe('T1');
    expect(pixelOf(codes, 'google_ads')).toBeNull();
    expect(pixelOf([code('meta', 'marketplace', ''), code('meta', 'organizer', null)], 'meta')).toBeNull();
  });
});
