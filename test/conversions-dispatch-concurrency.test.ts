// One slow provider must not hold the others: the dispatcher works on a few destinations at once, so a Meta
// that hangs (up to the 10 s timeout per request) does not delay TikTok's conversion; and no destination is
// started once the run's budget is spent (the job's timeout is 300 s). Embedded store, stand-in HTTP.
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

const META = 'http://meta.stand-in.invalid';
const TIKTOK = 'http://tiktok.stand-in.invalid';
const DATA = { order_id: 'O-1', value: 10, currency: 'EUR', ip: '203.0.113.0', user_agent: 'UA', url: 'https://t.example/c' };

describe('dispatching several destinations', () => {
  let db: Db;
  let store: Awaited<ReturnType<typeof scratchEmbedded>> | undefined;
  beforeAll(async () => {
    store = await scratchEmbedded('conv-concurrency');
    db = store.db;
  }, 180_000);
  afterAll(async () => store?.close());

  /** A tenant with a Meta and a TikTok code and one purchase queued for each (Meta's due first). */
  async function setup(name: string): Promise<number> {
    const tenant = Number((await db.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ($1) RETURNING tenant_id::text AS id`, [name])).rows[0].id);
    const codes: Record<string, number> = {};
    for (const [provider, pixel] of [['meta', '123456789012345'], ['tiktok', 'D17TA5JC77UDOT6CA5FG']]) {
      codes[provider] = Number((await db.query<{ id: string }>(
        `INSERT INTO tracking_codes (tenant_id, provider, settings) VALUES ($1, $2, $3) RETURNING id::text AS id`, [tenant, provider, JSON.stringify({ pixel_id: pixel })],
      )).rows[0].id);
    }
    for (const [provider, ago] of [['meta', 20], ['tiktok', 10]] as const) {
      await db.query(
        `INSERT INTO conversion_outbox (tenant_id, destination, provider, code_id, owner, event_id, event_name, occurred_at, legal_basis, data, next_at)
         VALUES ($1, $2, $3, $4, 'marketplace', $5, 'order_completed', now(), 'consent', $6, now() - make_interval(secs => $7))`,
        [tenant, `${provider}:${codes[provider]}`, provider, codes[provider], crypto.randomUUID(), JSON.stringify(DATA), ago],
      );
    }
    return tenant;
  }
  const dispatcher = (http: HttpPost, extra: { now?: () => number; concurrency?: number; runBudgetMs?: number } = {}) => createDispatcher({
    db, log: silent, http, ...extra,
    adapters: adaptersFor({ meta: META, tiktok: TIKTOK, googleDataManager: META, ga4: META }),
    rate: createRateLimiter(), stats: createConversionStats(),
    secrets: () => ({ access_token: 'tok' }),
  });
  const statusOf = async (tenant: number) => Object.fromEntries((await db.query<{ provider: string; status: string }>(
    `SELECT provider, status FROM conversion_outbox WHERE tenant_id = $1`, [tenant],
  )).rows.map((r) => [r.provider, r.status]));

  it('delivers TikTok\'s conversion while Meta\'s request hangs', { timeout: 120_000 }, async () => {
    const tenant = await setup('concurrency');
    let tiktokArrived!: () => void;
    const arrived = new Promise<void>((r) => (tiktokArrived = r));
    const order: string[] = [];
    const http: HttpPost = async (url) => {
      if (url.startsWith(TIKTOK)) {
        order.push('tiktok');
        tiktokArrived();
        return { status: 200, json: { code: 0 }, text: '{"code":0}' };
      }
      // Meta hangs until TikTok was sent (or, as it would be without concurrency, until its timeout, here 5 s).
      await Promise.race([arrived, new Promise((r) => setTimeout(r, 5000))]);
      order.push('meta answered');
      return { status: 200, json: { events_received: 1 }, text: '{}' };
    };
    expect(await dispatcher(http).runOnce()).toBe(2);
    expect(order).toEqual(['tiktok', 'meta answered']);
    expect(await statusOf(tenant)).toEqual({ meta: 'sent', tiktok: 'sent' });
  });

  it('starts no destination once the run\'s budget is spent (the next run takes it)', { timeout: 120_000 }, async () => {
    const tenant = await setup('budget');
    let clock = Date.now();
    // Meta's request takes the whole budget (a fake clock: no waiting).
    const http: HttpPost = async (url) => {
      if (url.startsWith(META)) clock += 60_000;
      return url.startsWith(META) ? { status: 200, json: { events_received: 1 }, text: '{}' } : { status: 200, json: { code: 0 }, text: '{}' };
    };
    expect(await dispatcher(http, { now: () => clock, concurrency: 1, runBudgetMs: 30_000 }).runOnce()).toBe(1);
    expect(await statusOf(tenant)).toEqual({ meta: 'sent', tiktok: 'pending' });
  });
});
