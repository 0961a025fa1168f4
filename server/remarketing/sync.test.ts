// The sync's retry budget and claim, without I/O: a stub store and a platform that always answers 500, on a
// clock that only the stubbed sleep advances.
import { describe, expect, it } from 'vitest';
import { BATCH } from './platforms.js';
import { createSync, MANUAL_BUDGET_MS, MAX_ATTEMPTS, REQUEST_TIMEOUT_MS } from './sync.js';
import type { AudienceRow, RemarketingStore } from './store.js';

const audience = { id: 7, tenant_id: 1, platform: 'meta', audience_type: 'event_viewers', status: 'ready', external_audience_id: '6001', account_id: null, criteria: {} } as unknown as AudienceRow;

interface Setup {
  claimable?: boolean;
  audience?: AudienceRow;
  /** The platform's answer (default: always 500); may move the clock (`tick`). */
  platform?: (tick: (ms: number) => void) => Response;
  /** Full batches of additions before the last, short one. */
  fullBatches?: number;
}

function setup(o: Setup = {}) {
  let clock = Date.parse('2026-06-01T00:00:00Z');
  const slept: number[] = [];
  const statuses: string[] = [];
  const timeouts: number[] = [];
  let batches = o.fullBatches ?? 0;
  const store = {
    claim: async () => o.claimable ?? true,
    renew: async () => ({ rows: [] }),
    release: async () => ({ rows: [] }),
    getAny: async () => o.audience ?? audience,
    relink: async () => 0,
    removes: async () => [],
    adds: async (_t: number, _id: number, _k: unknown, limit: number) =>
      Array.from({ length: batches-- > 0 ? limit : 1 }, (_, i) => ({ kind: 'email', digest: String(i).padStart(64, 'a'), person_id: i })),
    markAdded: async () => undefined,
    setStatus: async (_t: number, _id: number, s: string) => void statuses.push(s),
    setFailed: async (_t: number, _id: number, s: string) => void statuses.push(`failed:${s}`),
    setSynced: async () => void statuses.push('synced'),
    setCleaned: async () => void statuses.push('cleaned'),
  } as unknown as RemarketingStore;
  let requests = 0;
  const sync = createSync({
    store, urls: { meta: 'http://meta.test', google_ads: '', tiktok: '' }, token: async () => 'tok',
    fetch: (async () => {
      requests++;
      if (o.platform) return o.platform((ms) => (clock += ms));
      return new Response('{"error":{"message":"down","code":2}}', { status: 500 });
    }) as typeof fetch,
    sleep: async (ms) => {
      slept.push(ms);
      clock += ms;
    },
    timeout: (ms) => {
      timeouts.push(ms);
      return new AbortController().signal;
    },
    now: () => new Date(clock),
  });
  return { sync, slept, statuses, timeouts, requests: () => requests };
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
    const s = setup({ claimable: false });
    expect(await s.sync.sync(audience, { budgetMs: MANUAL_BUDGET_MS })).toMatchObject({ ok: false, busy: true, requests: 0, error: expect.stringMatching(/sync in progress/) });
    expect(s.requests()).toBe(0);
    expect(s.statuses).toEqual([]);
  });

  it('refuses a full sync of an audience whose expires_at has passed before the daily job marked it expired', async () => {
    const s = setup({ audience: { ...audience, expires_at: '2026-05-31T23:59:59.000Z' } as AudienceRow });
    expect(await s.sync.sync(audience, { budgetMs: MANUAL_BUDGET_MS })).toMatchObject({ ok: false, requests: 0, error: expect.stringMatching(/has expired/) });
    expect(s.requests()).toBe(0);
    expect(s.statuses).toEqual(['expired']);
    // Erased persons still leave it (removal-only).
    const rm = setup({ audience: { ...audience, expires_at: '2026-05-31T23:59:59.000Z' } as AudienceRow });
    expect(await rm.sync.sync(audience, { removalsOnly: true })).toMatchObject({ ok: true });
  });

  it('bounds each request of a budgeted (manual) sync by what is left of its budget; the job\'s by REQUEST_TIMEOUT_MS', async () => {
    const manual = setup();
    await manual.sync.sync(audience, { budgetMs: MANUAL_BUDGET_MS });
    // The first request gets the whole budget; each retry what is left after the waits before it.
    expect(manual.timeouts[0]).toBe(MANUAL_BUDGET_MS);
    expect(manual.timeouts.every((ms, i) => ms <= MANUAL_BUDGET_MS - manual.slept.slice(0, i).reduce((a, b) => a + b, 0))).toBe(true);
    const job = setup();
    await job.sync.sync(audience);
    expect(new Set(job.timeouts)).toEqual(new Set([REQUEST_TIMEOUT_MS]));
  });

  it('sends nothing more once a budgeted sync\'s time is used up, recording what was sent', async () => {
    // Each answer takes 10 s: the second batch ends past the 15 s budget, and no third request is sent.
    const s = setup({ fullBatches: 5, platform: (tick) => (tick(10_000), new Response('{}', { status: 200 })) });
    const r = await s.sync.sync(audience, { budgetMs: MANUAL_BUDGET_MS });
    expect(r).toMatchObject({ ok: false, added: 2 * BATCH.meta, error: expect.stringMatching(/within 15 s/) });
    expect(s.requests()).toBe(2);
    expect(s.timeouts).toEqual([MANUAL_BUDGET_MS, MANUAL_BUDGET_MS - 10_000]);
    expect(s.statuses).toEqual(['syncing', 'failed:ready']);
  });
});
