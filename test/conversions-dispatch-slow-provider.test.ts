// A provider that hangs past the HTTP timeout must hold only its own destinations, not every tenant's
// conversions: a destination whose request timed out sends nothing more in the run (and this node leaves it
// out for its backoff), one provider never takes every worker while other destinations wait, and one
// destination's time in a run is bounded. Embedded store, fake platforms; the dispatcher's clock is a counter
// each fake request moves on (a hanging request: the 10 s timeout), so nothing waits and nothing is timed.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HTTP_TIMEOUT_MS, type HttpAnswer, type HttpPost } from '../server/conversions/adapter.js';
import { createDispatcher, DESTINATION_BUDGET_MS } from '../server/conversions/dispatch.js';
import { adaptersFor } from '../server/conversions/index.js';
import { BACKOFF_BASE_MS } from '../server/conversions/backoff.js';
import { createRateLimiter } from '../server/conversions/ratelimit.js';
import { createConversionStats } from '../server/conversions/stats.js';
import type { Db } from '../server/store/db.js';
import { silent } from './helpers.js';
import { storeCode, storeTenant } from './conversions-helpers.js';
import { scratchEmbedded } from './store-suites.js';

const GA4 = 'http://ga4.stand-in.invalid';
const META = 'http://meta.stand-in.invalid';
const TIKTOK = 'http://tiktok.stand-in.invalid';
const URLS = { meta: META, tiktok: TIKTOK, googleDataManager: META, ga4: GA4 };
/** What createHttpPost answers when the 10 s timeout aborts a request it sent. */
const TIMED_OUT: HttpAnswer = { status: 0, json: null, text: 'network error: The operation was aborted due to timeout' };
const META_OK: HttpAnswer = { status: 200, json: { events_received: 1 }, text: '{}' };
const TIKTOK_OK: HttpAnswer = { status: 200, json: { code: 0 }, text: '{"code":0}' };

describe('a slow provider holds only its own destinations', () => {
  let db: Db;
  let store: Awaited<ReturnType<typeof scratchEmbedded>> | undefined;
  beforeAll(async () => {
    store = await scratchEmbedded('conv-slow-provider');
    db = store.db;
  }, 180_000);
  afterAll(async () => store?.close());
  // Each test's destinations alone: what an earlier test left due is not dispatched again.
  beforeEach(async () => void (await db.query(`DELETE FROM conversion_outbox`)));

  const tenant = (name: string) => storeTenant(db, name);
  const code = (t: number, provider: string, settings: Record<string, unknown>) => storeCode(db, t, provider, settings);
  /** `n` purchases of distinct visitors (GA4: one request each), due since `dueAgoS` seconds. */
  const queue = (t: number, provider: string, codeId: number, n: number, dueAgoS: number, prefix = 'O') => db.query(
    `INSERT INTO conversion_outbox (tenant_id, destination, provider, code_id, owner, event_id, event_name, occurred_at, legal_basis, data, next_at)
     SELECT $1, $2, $3, $4, 'marketplace', gen_random_uuid(), 'order_completed', now(), 'consent',
       jsonb_build_object('order_id', $5 || '-' || g, 'visitor_id', 'v-' || $5 || '-' || g, 'value', 10, 'currency', 'EUR', 'ip', '203.0.113.0', 'user_agent', 'UA'),
       now() - make_interval(secs => $6)
     FROM generate_series(1, $7) g`,
    [t, `${provider}:${codeId}`, provider, codeId, `${prefix}${t}`, dueAgoS, n],
  );
  const statusOf = async (t: number) => (await db.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM conversion_outbox WHERE tenant_id = $1 GROUP BY status ORDER BY status`, [t],
  )).rows.map((r) => [r.status, r.n]);

  /** A dispatcher on a fake clock; `ga4` answers GA4's requests (moving the clock as long as they take). */
  function setup(ga4: (body: any) => { takesMs: number; answer: HttpAnswer }, extra: { concurrency?: number; runBudgetMs?: number; rand?: () => number } = {}) {
    let clock = Date.now();
    const requests: { provider: string; body: any }[] = [];
    const http: HttpPost = async (url, body) => {
      const provider = url.startsWith(GA4) ? 'ga4' : url.startsWith(META) ? 'meta' : 'tiktok';
      requests.push({ provider, body });
      if (provider !== 'ga4') return provider === 'meta' ? META_OK : TIKTOK_OK;
      const { takesMs, answer } = ga4(body);
      clock += takesMs;
      return answer;
    };
    const d = createDispatcher({
      db, log: silent, http, now: () => clock, ...extra,
      adapters: adaptersFor(URLS), rate: createRateLimiter(), stats: createConversionStats(),
      secrets: () => ({ access_token: 'tok', api_secret: 'sec' }),
    });
    // The store's now() does not follow the fake clock: the rows due by the dispatcher's clock are made due in the
    // store, as if its time had caught up; returns how many pending rows were not (backing off).
    const catchUp = async () => {
      await db.query(`UPDATE conversion_outbox SET next_at = now() - interval '1 millisecond' WHERE status IN ('pending', 'sending') AND next_at <= $1`, [new Date(clock)]);
      return (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM conversion_outbox WHERE status IN ('pending', 'sending') AND next_at > now()`)).rows[0].n;
    };
    return { d, requests, clock: () => clock, advance: (ms: number) => void (clock += ms), catchUp };
  }
  const hangs = () => ({ takesMs: HTTP_TIMEOUT_MS, answer: TIMED_OUT });

  it('four tenants\' GA4 hangs with 800 purchases each: tenant B\'s Meta purchase is sent in the first run, each GA4 destination is tried once', { timeout: 180_000 }, async () => {
    const ga4Tenants: number[] = [];
    for (let i = 0; i < 4; i++) {
      const t = await tenant(`slow-ga4-${i}`);
      await queue(t, 'ga4', await code(t, 'ga4', { measurement_id: `G-SLOW${i}` }), 800, 600);
      ga4Tenants.push(t);
    }
    const b = await tenant('slow-b');
    await queue(b, 'meta', await code(b, 'meta', { pixel_id: '123456789012345' }), 1, 0);

    // What is counted here is requests (each of which would take the 10 s timeout), so they take no time on the
    // fake clock; the next test lets them take it.
    const { d, requests, advance } = setup(() => ({ takesMs: 0, answer: TIMED_OUT }), { rand: () => 0.999 });
    await d.runOnce();
    expect(await statusOf(b)).toEqual([['sent', 1]]);
    // One timed-out request per GA4 destination, then it stops for the run (before: 20 batches each, 80 requests,
    // 800 s of timeouts in all).
    expect(requests.filter((r) => r.provider === 'ga4')).toHaveLength(4);

    // The next run, at once: the GA4 destinations rest (their backoff), nothing more is sent to them.
    await d.runOnce();
    expect(requests.filter((r) => r.provider === 'ga4')).toHaveLength(4);
    for (const t of ga4Tenants) {
      // The timed-out client's purchase (GA4 may have counted it) is not retried; the rest of its batch and the
      // rows never claimed wait.
      expect(Object.fromEntries(await statusOf(t))).toEqual({ dead: 1, pending: 799 });
    }
    // After the backoff (10 s with this random source) each is tried once more, and stops there again.
    advance(BACKOFF_BASE_MS);
    await d.runOnce();
    expect(requests.filter((r) => r.provider === 'ga4')).toHaveLength(8);
  });

  it('a healthy destination due behind many hanging ones is sent in the first run, and the run starts nothing after its budget', { timeout: 180_000 }, async () => {
    for (let i = 0; i < 12; i++) {
      const t = await tenant(`many-slow-${i}`);
      await queue(t, 'ga4', await code(t, 'ga4', { measurement_id: `G-MANY${i}` }), 3, 600);
    }
    const healthy = await tenant('many-healthy');
    await queue(healthy, 'tiktok', await code(healthy, 'tiktok', { pixel_id: 'D17TA5JC77UDOT6CA5FG' }), 1, 0);

    // A budget of three timeouts (the fake clock adds up every worker's wait, so this is tighter than it reads).
    const { d, requests } = setup(hangs, { runBudgetMs: 3 * HTTP_TIMEOUT_MS });
    await d.runOnce();
    expect(await statusOf(healthy)).toEqual([['sent', 1]]);
    // No destination started once the budget was spent: at most the budget's timeouts plus one per worker.
    expect(requests.filter((r) => r.provider === 'ga4').length).toBeLessThanOrEqual(3 + 4);
  });

  it('one destination\'s time in a run is bounded: a GA4 answering each request just under the timeout moves on, and what it did not send goes in the next run, once', { timeout: 180_000 }, async () => {
    const t = await tenant('slow-answers');
    await queue(t, 'ga4', await code(t, 'ga4', { measurement_id: 'G-SLOWOK' }), 60, 600);
    const received = new Map<string, number>();
    const { d, requests, advance, catchUp } = setup((body) => {
      for (const e of body.events) received.set(e.params.transaction_id, (received.get(e.params.transaction_id) ?? 0) + 1);
      return { takesMs: HTTP_TIMEOUT_MS - 1_000, answer: { status: 204, json: null, text: '' } };
    });
    await d.runOnce();
    // It stopped within its time (at most one request past it), not after its 60 clients.
    const perRun = Math.floor(DESTINATION_BUDGET_MS / (HTTP_TIMEOUT_MS - 1_000)) + 1;
    expect(requests.length).toBeLessThanOrEqual(perRun);
    expect(requests.length).toBeGreaterThan(0);
    const first = Object.fromEntries(await statusOf(t));
    expect(first.sent).toBe(requests.length);
    expect(first.dead).toBeUndefined();
    // The rest is due again at once (not backing off: nothing failed) and goes in the next runs.
    for (let run = 0; run < 10 && Object.fromEntries(await statusOf(t)).pending; run++) {
      advance(5_000);
      expect(await catchUp()).toBe(0); // nothing backs off: nothing failed
      await d.runOnce();
    }
    expect(await statusOf(t)).toEqual([['sent', 60]]);
    expect(received.size).toBe(60);
    expect([...received.values()].every((n) => n === 1)).toBe(true);
  });
});
