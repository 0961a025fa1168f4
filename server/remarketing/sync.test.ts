// The sync's retry budget and claim, without I/O: a stub store and a platform that always answers 500, on a
// clock that only the stubbed sleep advances.
import { describe, expect, it } from 'vitest';
import { createSync, MANUAL_BUDGET_MS, MAX_ATTEMPTS } from './sync.js';
import type { AudienceRow, RemarketingStore } from './store.js';

const audience = { id: 7, tenant_id: 1, platform: 'meta', audience_type: 'event_viewers', status: 'ready', external_audience_id: '6001', account_id: null, criteria: {} } as unknown as AudienceRow;

function setup(claimable = true) {
  let clock = Date.parse('2026-06-01T00:00:00Z');
  const slept: number[] = [];
  const statuses: string[] = [];
  const store = {
    claim: async () => claimable,
    renew: async () => ({ rows: [] }),
    release: async () => ({ rows: [] }),
    getAny: async () => audience,
    removes: async () => [],
    adds: async (_t: number, _id: number, _k: unknown, _l: number) => [{ kind: 'email', digest: 'a'.repeat(64), person_id: 1 }],
    setStatus: async (_t: number, _id: number, s: string) => void statuses.push(s),
    setFailed: async (_t: number, _id: number, s: string) => void statuses.push(`failed:${s}`),
    setSynced: async () => void statuses.push('synced'),
  } as unknown as RemarketingStore;
  let requests = 0;
  const sync = createSync({
    store, urls: { meta: 'http://meta.test', google_ads: '', tiktok: '' }, token: async () => 'tok',
    fetch: (async () => {
      requests++;
      return new Response('{"error":{"message":"down","code":2}}', { status: 500 });
    }) as typeof fetch,
    sleep: async (ms) => {
      slept.push(ms);
      clock += ms;
    },
    now: () => new Date(clock),
  });
  return { sync, slept, statuses, requests: () => requests };
}

describe('audience sync', () => {
  it('a budgeted (manual) sync stops retrying before its budget; the job retries up to MAX_ATTEMPTS', async () => {
    const manual = setup();
    const r = await manual.sync.sync(audience, { budgetMs: MANUAL_BUDGET_MS });
    expect(r).toMatchObject({ ok: false, error: expect.stringContaining('stopped retrying') });
    expect(manual.slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(MANUAL_BUDGET_MS);
    expect(manual.requests()).toBeLessThan(MAX_ATTEMPTS);
    expect(manual.statuses).toEqual(['syncing', 'failed:ready']);
    const job = setup();
    expect(await job.sync.sync(audience)).toMatchObject({ ok: false });
    expect(job.requests()).toBe(MAX_ATTEMPTS);
  });

  it('is refused as busy while another sync holds the audience, sending nothing', async () => {
    const s = setup(false);
    expect(await s.sync.sync(audience, { budgetMs: MANUAL_BUDGET_MS })).toMatchObject({ ok: false, busy: true, requests: 0, error: expect.stringMatching(/sync in progress/) });
    expect(s.requests()).toBe(0);
    expect(s.statuses).toEqual([]);
  });
});
