// GA4 deduplicates nothing: a purchase whose request went out and got no answer (the 10 s timeout, a connection
// cut after sending) may have been counted, so sending it again could double its revenue. Such a row is settled
// `dead` as unconfirmed and never sent again by the dispatcher; a request that never left (connection refused,
// DNS) is retried; Meta, which deduplicates by event_id, is retried after a timeout as before.
// Embedded store, fake platforms that record what they received.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpAnswer, HttpPost } from '../server/conversions/adapter.js';
import { createDispatcher } from '../server/conversions/dispatch.js';
import { adaptersFor } from '../server/conversions/index.js';
import { createRateLimiter } from '../server/conversions/ratelimit.js';
import { createConversionStats } from '../server/conversions/stats.js';
import type { Db } from '../server/store/db.js';
import { silent } from './helpers.js';
import { storeCode, storeTenant } from './conversions-helpers.js';
import { scratchEmbedded } from './store-suites.js';

const STAND_IN = 'http://stand-in.invalid';
const URLS = { meta: STAND_IN, tiktok: STAND_IN, googleDataManager: STAND_IN, ga4: STAND_IN };
const TIMED_OUT: HttpAnswer = { status: 0, json: null, text: 'network error: The operation was aborted due to timeout' };
const REFUSED: HttpAnswer = { status: 0, json: null, text: 'network error: fetch failed (ECONNREFUSED)', notSent: true };

describe('GA4 requests that got no answer', () => {
  let db: Db;
  let store: Awaited<ReturnType<typeof scratchEmbedded>> | undefined;
  beforeAll(async () => {
    store = await scratchEmbedded('conv-ga4-timeout');
    db = store.db;
  }, 180_000);
  afterAll(async () => store?.close());

  const tenant = (name: string) => storeTenant(db, name);
  const code = (t: number, provider: string, settings: Record<string, unknown>) => storeCode(db, t, provider, settings);
  /** One purchase per order, each of its own visitor (GA4: one request each). */
  const queue = async (t: number, provider: string, codeId: number, orders: string[]) => {
    for (const o of orders) {
      await db.query(
        `INSERT INTO conversion_outbox (tenant_id, destination, provider, code_id, owner, event_id, event_name, occurred_at, legal_basis, data)
         VALUES ($1, $2, $3, $4, 'marketplace', gen_random_uuid(), 'order_completed', now(), 'consent', $5)`,
        [t, `${provider}:${codeId}`, provider, codeId, JSON.stringify({ order_id: o, visitor_id: `v-${o}`, value: 10, currency: 'EUR', ip: '203.0.113.0', user_agent: 'UA' })],
      );
    }
  };
  const rows = async (t: number) => Object.fromEntries((await db.query<{ order_id: string; status: string; last_error: string | null }>(
    `SELECT data->>'order_id' AS order_id, CASE WHEN status = 'sending' THEN 'pending' ELSE status END AS status, last_error FROM conversion_outbox WHERE tenant_id = $1 ORDER BY id`, [t],
  )).rows.map((r) => [r.order_id, r]));
  /** Every pending row due now (their backoff skipped), as a later run would find them. */
  const due = (t: number) => db.query(`UPDATE conversion_outbox SET next_at = now() - interval '1 second' WHERE tenant_id = $1 AND status IN ('pending', 'sending')`, [t]);

  /** A stand-in that counts what it received (GA4 transaction ids, Meta event ids) and answers `answer(n)`. */
  function standIn(answer: (n: number) => HttpAnswer) {
    const received = new Map<string, number>();
    let n = 0;
    const http: HttpPost = async (_url, body: any) => {
      n++;
      const a = answer(n);
      if (!a.notSent) {
        const ids: string[] = body.events ? body.events.map((e: any) => e.params.transaction_id) : body.data.map((e: any) => e.event_id);
        for (const id of ids) received.set(id, (received.get(id) ?? 0) + 1);
      }
      return a;
    };
    return { http, received, requests: () => n };
  }
  // A new dispatcher each run (another node, or after a restart): nothing rests in memory between them.
  const run = (http: HttpPost) => createDispatcher({
    db, log: silent, http, adapters: adaptersFor(URLS), rate: createRateLimiter(), stats: createConversionStats(),
    secrets: () => ({ access_token: 'tok', api_secret: 'sec' }),
  }).runOnce();

  it('a purchase whose GA4 request timed out after it was sent is dead as unconfirmed and never sent again; the clients not yet sent are retried once', { timeout: 120_000 }, async () => {
    const t = await tenant('ga4-timeout');
    await queue(t, 'ga4', await code(t, 'ga4', { measurement_id: 'G-TIMEOUT1' }), ['T-1', 'T-2', 'T-3']);
    // GA4 receives T-1's request but its answer never comes (the timeout); later it answers at once.
    const s = standIn((n) => (n === 1 ? TIMED_OUT : { status: 204, json: null, text: '' }));
    await run(s.http);
    let r = await rows(t);
    expect(r['T-1'].status).toBe('dead');
    expect(r['T-1'].last_error).toMatch(/^unconfirmed: .*aborted due to timeout.*not sent again.*POST \/api\/v1\/conversions\/\d+\/retry/s);
    expect([r['T-2'].status, r['T-3'].status]).toEqual(['pending', 'pending']);
    // Later runs, once the backoff is over: T-2 and T-3 go, T-1 is not sent again.
    for (let i = 0; i < 3; i++) {
      await due(t);
      await run(s.http);
    }
    r = await rows(t);
    expect(Object.fromEntries(Object.entries(r).map(([o, x]) => [o, x.status]))).toEqual({ 'T-1': 'dead', 'T-2': 'sent', 'T-3': 'sent' });
    expect(Object.fromEntries(s.received)).toEqual({ 'T-1': 1, 'T-2': 1, 'T-3': 1 });
  });

  it('a GA4 request that never left (connection refused) is retried, and sent once', { timeout: 120_000 }, async () => {
    const t = await tenant('ga4-refused');
    await queue(t, 'ga4', await code(t, 'ga4', { measurement_id: 'G-REFUSED1' }), ['R-1']);
    const s = standIn((n) => (n === 1 ? REFUSED : { status: 204, json: null, text: '' }));
    await run(s.http);
    expect((await rows(t))['R-1'].status).toBe('pending');
    await due(t);
    await run(s.http);
    expect((await rows(t))['R-1'].status).toBe('sent');
    expect(Object.fromEntries(s.received)).toEqual({ 'R-1': 1 });
  });

  it('a Meta request that timed out is retried (Meta deduplicates by event_id)', { timeout: 120_000 }, async () => {
    const t = await tenant('meta-timeout');
    await queue(t, 'meta', await code(t, 'meta', { pixel_id: '123456789012345' }), ['M-1']);
    const s = standIn((n) => (n === 1 ? TIMED_OUT : { status: 200, json: { events_received: 1 }, text: '{}' }));
    await run(s.http);
    expect((await rows(t))['M-1'].status).toBe('pending');
    await due(t);
    await run(s.http);
    expect((await rows(t))['M-1'].status).toBe('sent');
    // Sent twice under the same event_id (the order id): Meta counts it once.
    expect(Object.fromEntries(s.received)).toEqual({ 'M-1': 2 });
  });
});
