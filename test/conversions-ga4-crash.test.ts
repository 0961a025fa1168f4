// GA4 counts every copy it receives (no deduplication), and the adapter sends a claimed batch as one request per
// client. A dispatcher that dies between two of those requests must not send the first client's events again
// when the batch's lease ends: each acknowledged request is marked sent before the next one goes out.
// The crash is simulated at the dispatch level with the real outbox (embedded store): the stand-in's second
// request throws out of the dispatcher (as a kill -9 during that request would stop it), then a fresh
// dispatcher (the restarted node) runs once the lease has ended.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpPost } from '../server/conversions/adapter.js';
import { createDispatcher } from '../server/conversions/dispatch.js';
import { adaptersFor } from '../server/conversions/index.js';
import { createRateLimiter } from '../server/conversions/ratelimit.js';
import { createConversionStats } from '../server/conversions/stats.js';
import type { Db } from '../server/store/db.js';
import { silent } from './helpers.js';
import { scratchEmbedded } from './store-suites.js';

const STAND_IN = 'http://ga4.stand-in.invalid';

describe('GA4 dispatch across a crash between two requests of one batch', () => {
  let db: Db;
  let store: Awaited<ReturnType<typeof scratchEmbedded>> | undefined;
  beforeAll(async () => {
    store = await scratchEmbedded('conv-ga4-crash');
    db = store.db;
  }, 180_000);
  afterAll(async () => store?.close());

  it('sends the first client\'s events once: they were marked sent before the second request', { timeout: 120_000 }, async () => {
    const tenant = Number((await db.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('ga4-crash') RETURNING tenant_id::text AS id`)).rows[0].id);
    const code = Number((await db.query<{ id: string }>(
      `INSERT INTO tracking_codes (tenant_id, provider, settings) VALUES ($1, 'ga4', '{"measurement_id":"G-CRASH1"}') RETURNING id::text AS id`, [tenant],
    )).rows[0].id);
    // Three clients in one claimed batch (GA4's maxBatch is 25): v-1 with two purchases, v-2 and v-3 with one.
    const rows = [['v-1', 'O-1a'], ['v-1', 'O-1b'], ['v-2', 'O-2'], ['v-3', 'O-3']];
    for (const [visitor, order] of rows) {
      await db.query(
        `INSERT INTO conversion_outbox (tenant_id, destination, provider, code_id, owner, event_id, event_name, occurred_at, legal_basis, data)
         VALUES ($1, $2, 'ga4', $3, 'marketplace', $4, 'order_completed', now(), 'consent', $5)`,
        [tenant, `ga4:${code}`, code, crypto.randomUUID(), JSON.stringify({ visitor_id: visitor, order_id: order, value: 10, currency: 'EUR' })],
      );
    }

    // The stand-in: counts the transaction ids GA4 accepted; `crashAt` = the request during which the node dies.
    const accepted = new Map<string, number>();
    let requests = 0;
    const standIn = (crashAt: number | null): HttpPost => async (_url, body) => {
      requests++;
      if (requests === crashAt) throw new Error('killed while this request was on the wire');
      for (const e of (body as { events: { params: { transaction_id: string } }[] }).events) {
        accepted.set(e.params.transaction_id, (accepted.get(e.params.transaction_id) ?? 0) + 1);
      }
      return { status: 204, json: null, text: '' };
    };
    const dispatcher = (http: HttpPost) => createDispatcher({
      db, log: silent, http, leaseS: 1,
      adapters: adaptersFor({ meta: STAND_IN, tiktok: STAND_IN, googleDataManager: STAND_IN, ga4: STAND_IN }),
      rate: createRateLimiter(), stats: createConversionStats(),
      secrets: () => ({ api_secret: 's3cr3t' }),
    });

    await dispatcher(standIn(2)).runOnce();
    expect(requests).toBe(2);
    expect(Object.fromEntries(accepted)).toEqual({ 'O-1a': 1, 'O-1b': 1 });
    const status = async () => Object.fromEntries((await db.query<{ order_id: string; status: string }>(
      `SELECT data->>'order_id' AS order_id, status FROM conversion_outbox WHERE tenant_id = $1 ORDER BY id`, [tenant],
    )).rows.map((r) => [r.order_id, r.status]));
    // The acknowledged client is recorded; the client in flight and the one never sent wait for the lease.
    expect(await status()).toEqual({ 'O-1a': 'sent', 'O-1b': 'sent', 'O-2': 'sending', 'O-3': 'sending' });

    await new Promise((r) => setTimeout(r, 1500)); // the lease (1 s) ends
    await dispatcher(standIn(null)).runOnce();
    expect(await status()).toEqual({ 'O-1a': 'sent', 'O-1b': 'sent', 'O-2': 'sent', 'O-3': 'sent' });
    // v-1 was not sent again; v-2 (whose request was cut) and v-3 once each after the restart.
    expect(Object.fromEntries(accepted)).toEqual({ 'O-1a': 1, 'O-1b': 1, 'O-2': 1, 'O-3': 1 });
    expect(requests).toBe(4);
  });

  it('keeps the lease of the clients still waiting while earlier requests are slow (another node would send them again)', { timeout: 120_000 }, async () => {
    const tenant = Number((await db.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('ga4-lease') RETURNING tenant_id::text AS id`)).rows[0].id);
    const code = Number((await db.query<{ id: string }>(
      `INSERT INTO tracking_codes (tenant_id, provider, settings) VALUES ($1, 'ga4', '{"measurement_id":"G-LEASE1"}') RETURNING id::text AS id`, [tenant],
    )).rows[0].id);
    for (const [visitor, order] of [['v-1', 'L-1'], ['v-2', 'L-2'], ['v-3', 'L-3']]) {
      await db.query(
        `INSERT INTO conversion_outbox (tenant_id, destination, provider, code_id, owner, event_id, event_name, occurred_at, legal_basis, data)
         VALUES ($1, $2, 'ga4', $3, 'marketplace', $4, 'order_completed', now(), 'consent', $5)`,
        [tenant, `ga4:${code}`, code, crypto.randomUUID(), JSON.stringify({ visitor_id: visitor, order_id: order, value: 10, currency: 'EUR' })],
      );
    }
    // Each request is slow: it takes the whole lease (simulated without waiting: the rows' lease is moved into the
    // past while the request is on the wire). Before each request, the orders whose row another node could claim now.
    const claimable: string[][] = [];
    const slow: HttpPost = async (_url, body) => {
      claimable.push((await db.query<{ order_id: string }>(
        `SELECT data->>'order_id' AS order_id FROM conversion_outbox WHERE tenant_id = $1 AND status IN ('pending', 'sending') AND next_at <= now() ORDER BY id`, [tenant],
      )).rows.map((r) => r.order_id));
      await db.query(`UPDATE conversion_outbox SET lease_until = now() - interval '1 second', next_at = now() - interval '1 second' WHERE tenant_id = $1 AND status = 'sending'`, [tenant]);
      void body;
      return { status: 204, json: null, text: '' };
    };
    await createDispatcher({
      db, log: silent, http: slow,
      adapters: adaptersFor({ meta: STAND_IN, tiktok: STAND_IN, googleDataManager: STAND_IN, ga4: STAND_IN }),
      rate: createRateLimiter(), stats: createConversionStats(),
      secrets: () => ({ api_secret: 's3cr3t' }),
    }).runOnce();
    // No request found a waiting client's row claimable: its lease was extended before each request.
    expect(claimable).toEqual([[], [], []]);
    const status = (await db.query<{ status: string }>(`SELECT status FROM conversion_outbox WHERE tenant_id = $1`, [tenant])).rows.map((r) => r.status);
    expect(status).toEqual(['sent', 'sent', 'sent']);
  });
});
