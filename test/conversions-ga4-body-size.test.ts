// GA4 drops a Measurement Protocol request of 130 kB or more without an error (it answers 2xx to everything), so
// a till's big orders grouped into one request were all marked sent and never counted. Through the dispatcher
// and the real outbox (embedded store): every request the GA4 stand-in receives is under 130 kB, every order is
// sent once, and an order too big alone is dead, saying why, and never sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpPost } from '../server/conversions/adapter.js';
import { createDispatcher } from '../server/conversions/dispatch.js';
import { adaptersFor } from '../server/conversions/index.js';
import { createRateLimiter } from '../server/conversions/ratelimit.js';
import { createConversionStats } from '../server/conversions/stats.js';
import type { Db } from '../server/store/db.js';
import { silent } from './helpers.js';
import { storeCode, storeTenant } from './conversions-helpers.js';
import { scratchEmbedded } from './store-suites.js';

const STAND_IN = 'http://ga4.stand-in.invalid';
const URLS = { meta: STAND_IN, tiktok: STAND_IN, googleDataManager: STAND_IN, ga4: STAND_IN };

describe('GA4 requests stay under 130 kB', () => {
  let db: Db;
  let store: Awaited<ReturnType<typeof scratchEmbedded>> | undefined;
  beforeAll(async () => {
    store = await scratchEmbedded('conv-ga4-size');
    db = store.db;
  }, 180_000);
  afterAll(async () => store?.close());

  it('six 200-line orders of one till are sent in requests under 130 kB, each once; an order too big alone is dead, never sent', { timeout: 120_000 }, async () => {
    const t = await storeTenant(db, 'ga4-size');
    const code = await storeCode(db, t, 'ga4', { measurement_id: 'G-BOXOFFICE1' });
    const line = (o: number, k: number) => ({ ticket_type_id: `${'T'.repeat(90)}-${String(o * 1000 + k).padStart(9, '0')}`, qty: 1, price: 25.5 });
    const orders = [1, 2, 3, 4, 5, 6].map((o) => ({ order_id: `BOX-${o}`, items: Array.from({ length: 200 }, (_, k) => line(o, k)) }));
    // Within the ingest rules: 200 lines, ids of 100 control characters (6 bytes each once JSON-escaped).
    const huge = { order_id: 'BOX-HUGE', items: Array.from({ length: 200 }, () => ({ ticket_type_id: '\u0001'.repeat(100), qty: 10_000, price: 9_999_999_999.99 })) };
    for (const o of [...orders.slice(0, 3), huge, ...orders.slice(3)]) {
      await db.query(
        `INSERT INTO conversion_outbox (tenant_id, destination, provider, code_id, owner, event_id, event_name, occurred_at, legal_basis, data)
         VALUES ($1, $2, 'ga4', $3, 'marketplace', gen_random_uuid(), 'order_completed', now(), 'consent', $4)`,
        [t, `ga4:${code}`, code, JSON.stringify({ ...o, visitor_id: 'till-1', value: 100, currency: 'EUR' })],
      );
    }
    const requests: { bytes: number; transactions: string[] }[] = [];
    const http: HttpPost = async (_url, body: any) => {
      requests.push({ bytes: Buffer.byteLength(JSON.stringify(body)), transactions: body.events.map((e: any) => e.params.transaction_id) });
      return { status: 204, json: null, text: '' };
    };
    await createDispatcher({
      db, log: silent, http, adapters: adaptersFor(URLS), rate: createRateLimiter(), stats: createConversionStats(),
      secrets: () => ({ api_secret: 'sec' }),
    }).runOnce();

    expect(requests.length).toBeGreaterThan(1);
    for (const r of requests) expect(r.bytes).toBeLessThan(130_000);
    expect(requests.flatMap((r) => r.transactions)).toEqual(['BOX-1', 'BOX-2', 'BOX-3', 'BOX-4', 'BOX-5', 'BOX-6']);
    const rows = Object.fromEntries((await db.query<{ order_id: string; status: string; last_error: string | null }>(
      `SELECT data->>'order_id' AS order_id, status, last_error FROM conversion_outbox WHERE tenant_id = $1`, [t],
    )).rows.map((r) => [r.order_id, r]));
    for (const o of orders) expect(rows[o.order_id].status).toBe('sent');
    expect(rows['BOX-HUGE'].status).toBe('dead');
    expect(rows['BOX-HUGE'].last_error).toMatch(/over the Measurement Protocol's 130 kB \(130000 bytes\) limit/);
  });
});
