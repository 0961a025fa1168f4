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

  const tenant = async (name: string) => Number((await db.query<{ id: string }>(`INSERT INTO tenants (name) VALUES ($1) RETURNING tenant_id::text AS id`, [name])).rows[0].id);
  const code = async (t: number, provider: string, settings: Record<string, unknown>) => Number((await db.query<{ id: string }>(
    `INSERT INTO tracking_codes (tenant_id, provider, settings, secrets_enc) VALUES ($1, $2, $3, 'enc') RETURNING id::text AS id`, [t, provider, JSON.stringify(settings)],
  )).rows[0].id);
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
});
