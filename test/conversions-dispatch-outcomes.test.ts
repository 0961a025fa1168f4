// What the dispatcher does with each kind of answer, on the real outbox (embedded store) with a scripted
// stand-in for the providers: which rows end dead and what they keep.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpAnswer, HttpPost } from '../server/conversions/adapter.js';
import { createDispatcher } from '../server/conversions/dispatch.js';
import { adaptersFor, createConversions } from '../server/conversions/index.js';
import { createRateLimiter } from '../server/conversions/ratelimit.js';
import { createConversionStats } from '../server/conversions/stats.js';
import type { JobContext } from '../server/jobs/runner.js';
import type { Db } from '../server/store/db.js';
import { silent } from './helpers.js';
import { storeCode, storeTenant } from './conversions-helpers.js';
import { scratchEmbedded } from './store-suites.js';

const STAND_IN = 'http://stand-in.invalid';
const URLS = { meta: STAND_IN, tiktok: STAND_IN, googleDataManager: STAND_IN, ga4: STAND_IN };
const DATA = { order_id: 'O-1', value: 10, currency: 'EUR', ip: '203.0.113.0', user_agent: 'UA', url: 'https://t.example/c', visitor_id: 'v-1' };
const DIGESTS = { em: 'a'.repeat(64), ph: 'b'.repeat(64) };
const META_OK: HttpAnswer = { status: 200, json: { events_received: 1 }, text: '{}' };
const metaError = (code: number, subcode?: number, message = 'error'): HttpAnswer => {
  const json = { error: { message, type: 'OAuthException', code, error_subcode: subcode, fbtrace_id: 'x' } };
  return { status: 400, json, text: JSON.stringify(json) };
};

describe('dispatch outcomes', () => {
  let db: Db;
  let store: Awaited<ReturnType<typeof scratchEmbedded>> | undefined;
  beforeAll(async () => {
    store = await scratchEmbedded('conv-outcomes');
    db = store.db;
  }, 180_000);
  afterAll(async () => store?.close());

  const tenant = (name: string) => storeTenant(db, name);
  const code = (t: number, provider: string, settings: Record<string, unknown>) => storeCode(db, t, provider, settings);
  /** Queues `n` purchases for the code; `age`: how long ago they occurred and were queued (ms). */
  const queue = async (t: number, provider: string, codeId: number, n: number, age = 0): Promise<number[]> => {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      ids.push(Number((await db.query<{ id: string }>(
        `INSERT INTO conversion_outbox (tenant_id, destination, provider, code_id, owner, event_id, event_name, occurred_at, created_at, legal_basis, data, user_data)
         VALUES ($1, $2, $3, $4, 'marketplace', $5, 'order_completed', now() - make_interval(secs => $6), now() - make_interval(secs => $6), 'consent', $7, $8) RETURNING id::text AS id`,
        [t, `${provider}:${codeId}`, provider, codeId, crypto.randomUUID(), age / 1000, JSON.stringify({ ...DATA, order_id: `O-${crypto.randomUUID().slice(0, 8)}` }), JSON.stringify(DIGESTS)],
      )).rows[0].id));
    }
    return ids;
  };
  const rows = async (t: number) => (await db.query<{ id: string; status: string; user_data: unknown; last_error: string | null }>(
    `SELECT id::text AS id, CASE WHEN status = 'sending' THEN 'pending' ELSE status END AS status, user_data, last_error FROM conversion_outbox WHERE tenant_id = $1 ORDER BY id`, [t],
  )).rows;
  /** A dispatcher whose stand-in answers with `answer(body, n)` (n: the request's number) and records the requests. */
  const dispatcher = (answer: (body: any, n: number) => HttpAnswer, secrets: Record<string, string> = { access_token: 'tok', api_secret: 'sec' }) => {
    const requests: any[] = [];
    const http: HttpPost = async (_url, body) => (requests.push(body), answer(body, requests.length));
    const d = createDispatcher({ db, log: silent, http, adapters: adaptersFor(URLS), rate: createRateLimiter(), stats: createConversionStats(), secrets: () => secrets });
    return { d, requests };
  };

  const holdOf = async (t: number, destination: string) => (await db.query<{ holds: number; held_until: Date; last_error: string; in_force: boolean }>(
    `SELECT h.holds, h.held_until, h.last_error, h.held_until > now() AND tc.updated_at = h.code_updated_at AS in_force
     FROM conversion_holds h LEFT JOIN tracking_codes tc ON tc.tenant_id = h.tenant_id AND tc.id = h.code_id
     WHERE h.tenant_id = $1 AND h.destination = $2`, [t, destination],
  )).rows[0];
  /** The tracking code's settings were updated (PUT /api/v1/tracking-codes/{id} sets updated_at). */
  const touch = (codeId: number) => db.query(`UPDATE tracking_codes SET updated_at = clock_timestamp() WHERE id = $1`, [codeId]);
  const GOOGLE = { conversion_id: 'AW-1234567', customer_id: '1234567890', conversion_action_id: '42' };
  const unauthenticated: HttpAnswer = { status: 401, json: { error: { code: 401, status: 'UNAUTHENTICATED', message: 'Request had invalid authentication credentials.' } }, text: '{}' };

  describe('a destination whose credential or permission is refused is held, not its rows', () => {
    it('Google 401: the rows stay pending, nothing is sent while it is held, and an update of the code sends them at once', { timeout: 120_000 }, async () => {
      const t = await tenant('held-google');
      const g = await code(t, 'google_ads', GOOGLE);
      const first = await queue(t, 'google_ads', g, 3);
      let answer = unauthenticated;
      const { d, requests } = dispatcher(() => answer);
      await d.runOnce();
      expect(requests).toHaveLength(1);
      expect((await rows(t)).map((r) => r.status)).toEqual(['pending', 'pending', 'pending']);
      expect((await rows(t))[0].last_error).toMatch(/Google 401 UNAUTHENTICATED/);
      const hold = await holdOf(t, `google_ads:${g}`);
      expect(hold).toMatchObject({ holds: 1, in_force: true });
      // The error says what was refused and how to fix it.
      expect(hold.last_error).toMatch(/Google 401 UNAUTHENTICATED.*held.*PUT \/api\/v1\/tracking-codes\/\d+.*access_token/s);

      // Held: later runs send nothing, new purchases wait with the others.
      await queue(t, 'google_ads', g, 1);
      await d.runOnce();
      await d.runOnce();
      expect(requests).toHaveLength(1);
      expect((await rows(t)).every((r) => r.status === 'pending' && r.user_data !== null)).toBe(true);

      // The operator puts a new token on the code: the next run sends everything, and the hold is gone.
      answer = { status: 200, json: { requestId: 'r' }, text: '{}' };
      await touch(g);
      await d.runOnce();
      expect(requests).toHaveLength(2);
      expect(requests[1].events).toHaveLength(4);
      expect((await rows(t)).map((r) => r.status)).toEqual(['sent', 'sent', 'sent', 'sent']);
      expect(await holdOf(t, `google_ads:${g}`)).toBeUndefined();
      expect(first).toHaveLength(3);
    });

    it('Meta 190, TikTok 40001 and GA4 401 hold too; a hold that ends tries once and holds again for longer, up to an hour', { timeout: 120_000 }, async () => {
      const t = await tenant('held-others');
      const meta = await code(t, 'meta', { pixel_id: '123456789012345' });
      const tiktok = await code(t, 'tiktok', { pixel_id: 'D17TA5JC77UDOT6CA5FG' });
      const ga4 = await code(t, 'ga4', { measurement_id: 'G-HELD1' });
      await queue(t, 'meta', meta, 2);
      await queue(t, 'tiktok', tiktok, 2);
      await queue(t, 'ga4', ga4, 2);
      const { d, requests } = dispatcher((body) =>
        body.event_source === 'web' ? { status: 200, json: { code: 40001, message: 'Access token is invalid' }, text: '{}' }
          : body.data ? metaError(190, 463, 'Error validating access token: Session has expired')
            : { status: 401, json: null, text: 'unauthorized' });
      await d.runOnce();
      expect((await rows(t)).every((r) => r.status === 'pending')).toBe(true);
      for (const dest of [`meta:${meta}`, `tiktok:${tiktok}`, `ga4:${ga4}`]) expect((await holdOf(t, dest))?.in_force, dest).toBe(true);
      const sent = requests.length;
      // The hold ends: one more try, refused again: held again, for longer.
      const before = await holdOf(t, `meta:${meta}`);
      await db.query(`UPDATE conversion_holds SET held_until = now() - interval '1 second' WHERE tenant_id = $1`, [t]);
      await d.runOnce();
      expect(requests.length).toBe(sent + 3);
      const again = await holdOf(t, `meta:${meta}`);
      expect(again).toMatchObject({ holds: 2, in_force: true });
      expect(again.held_until.getTime() - Date.now()).toBeLessThanOrEqual(3_600_000);
      expect(before.holds).toBe(1);
      expect((await rows(t)).every((r) => r.status === 'pending')).toBe(true);
    });

    it('a held row is dead once the provider\'s limit passes (TikTok: the 24 h retry budget), with the reason; a Meta row held for days is not killed by the 24 h budget after its release', { timeout: 120_000 }, async () => {
      const t = await tenant('held-expiry');
      const tiktok = await code(t, 'tiktok', { pixel_id: 'D17TA5JC77UDOT6CA5FG' });
      const [old] = await queue(t, 'tiktok', tiktok, 1, 25 * 3_600_000);
      const [fresh] = await queue(t, 'tiktok', tiktok, 1);
      const meta = await code(t, 'meta', { pixel_id: '123456789012345' });
      const [twoDays] = await queue(t, 'meta', meta, 1, 2 * 86_400_000);
      let metaAnswer = metaError(190, undefined, 'Invalid OAuth access token');
      const { d } = dispatcher((body) => (body.event_source === 'web' ? { status: 200, json: { code: 40002, message: 'auth' }, text: '{}' } : metaAnswer));
      await d.runOnce();
      const byId = Object.fromEntries((await rows(t)).map((r) => [r.id, r]));
      expect(byId[old]).toMatchObject({ status: 'dead', last_error: expect.stringMatching(/held.*24 h/s), user_data: DIGESTS });
      expect(byId[fresh].status).toBe('pending');
      expect(byId[twoDays].status).toBe('pending');
      // The Meta code gets a new token; Meta is briefly down: the two-day-old row is retried, not dead.
      metaAnswer = { status: 503, json: null, text: 'down' };
      await touch(meta);
      await d.runOnce();
      const meta2 = (await rows(t)).find((r) => r.id === String(twoDays))!;
      expect(meta2.status).toBe('pending');
      expect(meta2.last_error).toMatch(/503/);
    });
  });

  describe('Meta errors about the destination itself', () => {
    it('code 100 subcode 33 (object does not exist or no permission) holds the whole batch in one request instead of 2N-1', { timeout: 120_000 }, async () => {
      const t = await tenant('meta-33');
      const meta = await code(t, 'meta', { pixel_id: '123456789012345' });
      await queue(t, 'meta', meta, 8);
      const { d, requests } = dispatcher(() => metaError(100, 33, "Unsupported post request. Object with ID '123456789012345' does not exist, cannot be loaded due to missing permissions, or does not support this operation."));
      await d.runOnce();
      expect(requests).toHaveLength(1);
      expect((await rows(t)).map((r) => r.status)).toEqual(Array(8).fill('pending'));
      expect((await holdOf(t, `meta:${meta}`))?.in_force).toBe(true);
    });

    it('a destination error met while splitting a batch stops the split: the other half is not sent', { timeout: 120_000 }, async () => {
      const t = await tenant('meta-split');
      const meta = await code(t, 'meta', { pixel_id: '123456789012345' });
      await queue(t, 'meta', meta, 8);
      // The batch is refused for a row's content, then the token is refused on the first half.
      const { d, requests } = dispatcher((_body, n) => (n === 1 ? metaError(100, 2804003, 'Invalid parameter') : metaError(190, undefined, 'Invalid OAuth access token')));
      await d.runOnce();
      expect(requests.map((r) => r.data.length)).toEqual([8, 4]);
      expect((await rows(t)).map((r) => r.status)).toEqual(Array(8).fill('pending'));
    });
  });

  describe('what a dead row keeps', () => {
    it('drops the digests of a row the provider refused for itself (a retry cannot help), keeps them where a retry after a fix can', { timeout: 120_000 }, async () => {
      const t = await tenant('dead-digests');
      const meta = await code(t, 'meta', { pixel_id: '123456789012345' });
      // Refused before sending (older than Meta's 7 days), and refused by Meta alone in its batch.
      const [old] = await queue(t, 'meta', meta, 1, 8 * 86_400_000);
      const [bad] = await queue(t, 'meta', meta, 1);
      const { d } = dispatcher(() => metaError(100, 2804003, 'Invalid parameter'));
      await d.runOnce();
      const byId = Object.fromEntries((await rows(t)).map((r) => [r.id, r]));
      expect(byId[old]).toMatchObject({ status: 'dead', user_data: null, last_error: expect.stringMatching(/7 days/) });
      expect(byId[bad]).toMatchObject({ status: 'dead', user_data: null, last_error: expect.stringMatching(/2804003/) });

      // Out of retry time after 24 h of 5xx, or a code that lost its token: a retry after the fix sends the same
      // conversion, digests included.
      const t2 = await tenant('dead-digests-kept');
      const meta2 = await code(t2, 'meta', { pixel_id: '123456789012346' });
      const [late] = await queue(t2, 'meta', meta2, 1, 25 * 3_600_000);
      await dispatcher(() => ({ status: 503, json: null, text: 'down' })).d.runOnce();
      const tiktok = await code(t2, 'tiktok', { pixel_id: 'D17TA5JC77UDOT6CA5FG' });
      const [tokenless] = await queue(t2, 'tiktok', tiktok, 1);
      await dispatcher(() => META_OK, {}).d.runOnce();
      const kept = Object.fromEntries((await rows(t2)).map((r) => [r.id, r]));
      expect(kept[late]).toMatchObject({ status: 'dead', user_data: DIGESTS, last_error: expect.stringMatching(/no success within 24 h/) });
      expect(kept[tokenless]).toMatchObject({ status: 'dead', user_data: DIGESTS, last_error: expect.stringMatching(/access_token/) });

      // ... for 7 days after they were queued: conversions.prune clears them then (and deletes the row at 30 days).
      await db.query(`UPDATE conversion_outbox SET created_at = now() - interval '8 days' WHERE id = $1`, [late]);
      const conversions = createConversions({ db, log: silent, urls: URLS, decryptSecrets: () => ({}) });
      const ctx = {
        now: () => Date.now(), signal: new AbortController().signal,
        chunk: async (step: (limit: number) => Promise<number>, limit = 1000) => {
          let total = 0;
          for (let n = limit; n === limit; total += n) n = await step(limit);
          return total;
        },
      } as unknown as JobContext;
      await conversions.pruneJob().run(ctx);
      const after = Object.fromEntries((await rows(t2)).map((r) => [r.id, r]));
      expect(after[late]).toMatchObject({ status: 'dead', user_data: null });
      expect(after[tokenless].user_data).toEqual(DIGESTS);
    });
  });

  describe('a busy destination batches within its spread rate budget', () => {
    it('2500 due Meta rows go in batches of 1000 (the slot\'s call, then the burst), the rest waits one slot, not the hour', { timeout: 120_000 }, async () => {
      const t = await tenant('busy-meta');
      const m = await code(t, 'meta', { pixel_id: '123456789012345' });
      await db.query(
        `INSERT INTO conversion_outbox (tenant_id, destination, provider, code_id, owner, event_id, event_name, occurred_at, created_at, legal_basis, data, user_data)
         SELECT $1, $2, 'meta', $3, 'marketplace', gen_random_uuid(), 'order_completed', now(), now(), 'consent', $4, $5 FROM generate_series(1, 2500)`,
        [t, `meta:${m}`, m, JSON.stringify(DATA), JSON.stringify(DIGESTS)],
      );
      // 10 calls per hour: one per slot of 514.3 s and 1 for bursts (rateBudget).
      const limit = { calls: 10, periodMs: 3_600_000 };
      const requests: any[] = [];
      const http: HttpPost = async (_url, body) => (requests.push(body), META_OK);
      const d = createDispatcher({ db, log: silent, http, adapters: adaptersFor(URLS), rate: createRateLimiter({ meta: limit }), stats: createConversionStats(), secrets: () => ({ access_token: 'tok' }) });
      const before = Date.now();
      await d.runOnce();
      expect(requests.map((r) => r.data.length)).toEqual([1000, 1000]);
      const left = (await db.query<{ status: string; n: number; next_at: Date; last_error: string }>(
        `SELECT status, count(*)::int AS n, max(next_at) AS next_at, max(last_error) AS last_error FROM conversion_outbox WHERE tenant_id = $1 GROUP BY status ORDER BY status`, [t],
      )).rows;
      expect(left.map((r) => [r.status, r.n])).toEqual([['pending', 500], ['sent', 2000]]);
      const wait = new Date(left[0].next_at).getTime() - before;
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(514_286 + 5_000); // the next slot, not the next hour
      expect(left[0].last_error).toContain('one call every 514.3 s');
    });
  });
});
