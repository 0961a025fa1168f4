// A batch refused as a whole for one row's content is split until the bad row is alone (README "Server-side
// conversions"), and the split spends calls of the destination's rate budget. When the budget runs out halfway,
// the split must go on at the next slots where it stopped, not start again from the whole batch (which a spent
// budget can never split again: the destination stayed blocked until the next hourly burst); rows queued
// meanwhile go in their own batches, not into the refused one; and the rows being split show the provider's
// refusal, not only the rate limit. Embedded store, stand-in HTTP, a fake clock driving the rate limiter, a new
// dispatcher per run (nothing carried in memory from one run to the next).
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpAnswer, HttpPost } from '../server/conversions/adapter.js';
import { createDispatcher } from '../server/conversions/dispatch.js';
import { adaptersFor } from '../server/conversions/index.js';
import { createRateLimiter, rateBudget } from '../server/conversions/ratelimit.js';
import { createConversionStats } from '../server/conversions/stats.js';
import type { Db } from '../server/store/db.js';
import { queries } from '../server/store/queries.js';
import { silent } from './helpers.js';
import { scratchEmbedded } from './store-suites.js';

const STAND_IN = 'http://stand-in.invalid';
const URLS = { meta: STAND_IN, tiktok: STAND_IN, googleDataManager: STAND_IN, ga4: STAND_IN };
const DATA = { value: 10, currency: 'EUR', ip: '203.0.113.0', user_agent: 'UA', url: 'https://t.example/c', visitor_id: 'v-1' };
const INVALID = { error: { message: 'Invalid parameter', type: 'OAuthException', code: 100, fbtrace_id: 'x' } };
/** 10 calls an hour: one call per slot of 514.3 s and one more for bursts per hour (ratelimit.ts rateBudget). */
const LIMIT = { calls: 10, periodMs: 3_600_000 };
const SLOT = rateBudget(LIMIT).slotMs;

describe('a batch refused as a whole while the rate budget runs out', () => {
  let db: Db;
  let store: Awaited<ReturnType<typeof scratchEmbedded>> | undefined;
  beforeAll(async () => {
    store = await scratchEmbedded('conv-bisect-rate');
    db = store.db;
  }, 180_000);
  afterAll(async () => store?.close());

  it('goes on splitting at the next slots, sends the rows queued meanwhile in their own batches, and shows Meta\'s refusal', { timeout: 180_000 }, async () => {
    const tenant = Number((await db.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('bisect-rate') RETURNING tenant_id::text AS id`)).rows[0].id);
    const code = Number((await db.query<{ id: string }>(
      `INSERT INTO tracking_codes (tenant_id, provider, settings, secrets_enc) VALUES ($1, 'meta', '{"pixel_id":"123456789012345"}', 'enc') RETURNING id::text AS id`, [tenant],
    )).rows[0].id);
    const queue = async (orders: string[]) => {
      for (const order of orders) {
        await db.query(
          `INSERT INTO conversion_outbox (tenant_id, destination, provider, code_id, owner, event_id, event_name, occurred_at, legal_basis, data, user_data)
           VALUES ($1, $2, 'meta', $3, 'marketplace', $4, 'order_completed', now(), 'consent', $5, '{"em":"${'a'.repeat(64)}"}')`,
          [tenant, `meta:${code}`, code, crypto.randomUUID(), JSON.stringify({ ...DATA, order_id: order })],
        );
      }
    };
    const rows = async () => (await db.query<{ order_id: string; status: string; last_error: string | null }>(
      `SELECT data->>'order_id' AS order_id, CASE WHEN status = 'sending' THEN 'pending' ELSE status END AS status, last_error
       FROM conversion_outbox WHERE tenant_id = $1 ORDER BY id`, [tenant],
    )).rows;

    // 100 purchases, 3 of which Meta refuses (any request carrying one of them is refused as a whole).
    const first = Array.from({ length: 100 }, (_, i) => ([17, 48, 83].includes(i) ? `RLBAD-${i}` : `O-${i}`));
    await queue(first);

    // The stand-in: every request recorded with its slot; accepted orders counted.
    const requests: { slot: number; hour: number; orders: string[]; ok: boolean }[] = [];
    const accepted = new Map<string, number>();
    // The dispatcher's clock: the start of a slot a day ago (rows parked until a slot of that clock are due at once
    // in the store); each run below is at the start of a slot, or a few seconds into it.
    const t0 = Math.floor((Date.now() - 86_400_000) / SLOT) * SLOT;
    let clock = t0;
    const slotOf = (t: number) => Math.floor((t - t0) / SLOT);
    const http: HttpPost = async (_url, body: any): Promise<HttpAnswer> => {
      const orders: string[] = body.data.map((e: any) => e.custom_data.order_id);
      const ok = !orders.some((o) => o.startsWith('RLBAD'));
      requests.push({ slot: slotOf(clock), hour: Math.floor(clock / LIMIT.periodMs), orders, ok });
      if (!ok) return { status: 400, json: INVALID, text: JSON.stringify(INVALID) };
      for (const o of orders) accepted.set(o, (accepted.get(o) ?? 0) + 1);
      return { status: 200, json: { events_received: orders.length }, text: '{}' };
    };
    const rate = createRateLimiter({ meta: LIMIT });
    // A new dispatcher each run: whatever the split achieved must be in the store, not in memory.
    const run = () => createDispatcher({
      db, log: silent, http, adapters: adaptersFor(URLS), rate, stats: createConversionStats(), secrets: () => ({ access_token: 'tok' }), now: () => clock,
    }).runOnce();

    // The first slot: the whole batch, refused; one half with the burst's call, refused; then the budget is spent.
    await run();
    expect(requests.map((r) => r.orders.length)).toEqual([100, 50]);
    // A few more runs in the same slot send nothing (no call left).
    clock += 5_000;
    await run();
    clock += 5_000;
    await run();
    expect(requests).toHaveLength(2);
    // The rows being split say what Meta refused, not only that they wait for the rate budget.
    const waiting = (await rows()).filter((r) => r.status === 'pending');
    expect(waiting).toHaveLength(100);
    for (const r of waiting) expect(r.last_error).toMatch(/Meta error 100: Invalid parameter/);

    // The next slots: the split goes on where it stopped, one call per slot (never the whole 100 again).
    let added: string[] = [];
    for (let slot = 1; slot <= 80; slot++) {
      clock = t0 + slot * SLOT;
      if (slot === 3) {
        // New purchases arrive while the split goes on: they go in a batch of their own.
        added = Array.from({ length: 5 }, (_, i) => `NEW-${i}`);
        await queue(added);
      }
      await run();
      clock += 5_000;
      await run();
      const now = await rows();
      if (now.every((r) => r.status !== 'pending')) break;
    }
    // Never more calls than the rate budget gives (one a slot, plus one burst call an hour), never the whole batch again.
    const perSlot = new Map<number, { hour: number; n: number }>();
    for (const r of requests) perSlot.set(r.slot, { hour: r.hour, n: (perSlot.get(r.slot)?.n ?? 0) + 1 });
    const burst = new Map<number, number>();
    for (const { hour, n } of perSlot.values()) burst.set(hour, (burst.get(hour) ?? 0) + n - 1);
    for (const [hour, n] of burst) expect(n, `burst calls in hour ${hour}`).toBeLessThanOrEqual(1);
    expect(requests.slice(1).every((r) => r.orders.length <= 50)).toBe(true);

    // The bad rows are dead with Meta's error, each alone in its last request; every other row is sent, once.
    const final = await rows();
    const byOrder = Object.fromEntries(final.map((r) => [r.order_id, r]));
    for (const o of ['RLBAD-17', 'RLBAD-48', 'RLBAD-83']) {
      expect(byOrder[o]).toMatchObject({ status: 'dead', last_error: expect.stringMatching(/^Meta error 100: Invalid parameter/) });
      expect(requests.filter((r) => r.orders.length === 1 && r.orders[0] === o)).toHaveLength(1);
    }
    const good = [...first.filter((o) => !o.startsWith('RLBAD')), ...added];
    for (const o of good) {
      expect(byOrder[o]?.status, o).toBe('sent');
      expect(accepted.get(o), o).toBe(1);
    }
    // The new purchases were not held by the split: sent in their own request, without rows of the refused batch,
    // within two slots of their arrival.
    const carried = requests.find((r) => r.orders.includes('NEW-0'))!;
    expect(carried.ok).toBe(true);
    expect(carried.orders.every((o) => o.startsWith('NEW-'))).toBe(true);
    expect(carried.slot).toBeLessThanOrEqual(3 + 1);
  });

  it('a retry by hand starts the split over: a dead row revived (one, or a destination\'s) carries no batch cap', async () => {
    const Q = queries('conversions.sql', ['retry_dead', 'retry_destination']);
    const tenant = Number((await db.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('bisect-retry') RETURNING tenant_id::text AS id`)).rows[0].id);
    const code = Number((await db.query<{ id: string }>(
      `INSERT INTO tracking_codes (tenant_id, provider, settings, secrets_enc) VALUES ($1, 'tiktok', '{"pixel_code":"CABCDEFGHIJKLMNOPQRS"}', 'enc') RETURNING id::text AS id`, [tenant],
    )).rows[0].id);
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(Number((await db.query<{ id: string }>(
        `INSERT INTO conversion_outbox (tenant_id, destination, provider, code_id, owner, event_id, event_name, occurred_at, legal_basis, data, status, batch_cap, last_error)
         VALUES ($1, $2, 'tiktok', $3, 'marketplace', $4, 'add_to_cart', now(), 'consent', '{}', 'dead', 2, 'held too long') RETURNING id::text AS id`,
        [tenant, `tiktok:${code}`, code, crypto.randomUUID()],
      )).rows[0].id));
    }
    await db.query(Q.retry_dead, [tenant, ids[0]]);
    await db.query(Q.retry_destination, [tenant, `tiktok:${code}`]);
    const after = (await db.query<{ status: string; batch_cap: number | null }>(`SELECT status, batch_cap FROM conversion_outbox WHERE tenant_id = $1 ORDER BY id`, [tenant])).rows;
    expect(after).toEqual(ids.map(() => ({ status: 'pending', batch_cap: null })));
  });
});

