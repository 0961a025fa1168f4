// A GDPR erasure on one node while another node has lost Redis (its connection only: the others keep it), on
// one plain PostgreSQL 15 database and one Redis (random key prefix, deleted after). The other node misses the
// ERASE message (Redis pub/sub keeps nothing) and its Redis writes fail meanwhile; once Redis answers it again,
// it must not push the erased person's numbers back into Redis (its re-seed merges by maximum) nor keep them
// itself: every node and Redis end on the store's figures.
import crypto from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deletePrefix, randomPrefix, REDIS_URL } from '../server/live/redis-test-utils.js';
import { bootServer, createTenant, getJson, startForwarder, until, webEvent, type Tenant } from './helpers.js';
import { api, serverEvents } from './identity-helpers.js';
import { liveRest, sendEvents, sleep } from './live-helpers.js';
import { clearOfMidnight } from './midnight.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const EVENT = 'E15';
const ORG = 'ORG15';
const RUN_MS = 300_000;

describe('GDPR erasure on one node while another has lost Redis', () => {
  const prefix = randomPrefix();
  let scratch: ScratchDatabase | undefined;
  let fwd: Awaited<ReturnType<typeof startForwarder>> | undefined;
  let redisAway = false;
  let a: Awaited<ReturnType<typeof bootServer>> | undefined;
  let b: Awaited<ReturnType<typeof bootServer>> | undefined;
  let redis: Redis;
  let t: Tenant;

  beforeAll(async () => {
    await clearOfMidnight(120_000, RUN_MS);
    scratch = await scratchDatabase('live_gdpr_nodes');
    // Node b reaches Redis through a forwarder the test can cut (node a's connection stays).
    const redisPort = Number(new URL(REDIS_URL).port || 6379);
    fwd = await startForwarder(() => (redisAway ? null : redisPort));
    const env = {
      DATABASE_URL: scratch.url, LIVE_TOKEN_SECRET: crypto.randomBytes(32).toString('hex'), LIVE_REDIS_PREFIX: prefix,
      RATE_LIMIT_EVENTS_PER_SEC: '100000', RATE_LIMIT_BURST: '100000',
    };
    a = await bootServer({ ...env, REDIS_URL });
    b = await bootServer({ ...env, REDIS_URL: `redis://127.0.0.1:${fwd.port}` });
    t = await createTenant(a.url, 'live-gdpr-nodes');
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  }, RUN_MS);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await fwd?.close();
    redis?.disconnect();
    await deletePrefix(prefix);
    await scratch?.drop();
  }, 120_000);

  it('after Redis returns, both nodes and Redis hold the store\'s numbers without the erased person', { timeout: RUN_MS }, async () => {
    const tag = crypto.randomBytes(4).toString('hex');
    const at = Date.now() - 60_000;
    const ent = { event_entity_id: EVENT, organizer_id: ORG };
    const view = (visitor: string, ms: number) => webEvent({ visitor_id: visitor, session_id: `s-${visitor}`, occurred_at: new Date(at + ms).toISOString(), entities: ent });
    const cart = (visitor: string, ms: number) =>
      webEvent({
        event_name: 'add_to_cart', visitor_id: visitor, session_id: `s-${visitor}`, occurred_at: new Date(at + ms).toISOString(),
        entities: { ...ent, cart_id: `c-${visitor}` }, payload: { items: [{ ticket_type_id: 'GA', qty: 1, price: 100.5 }], cart_value: 100.5, currency: 'EUR' },
      });
    const order = (visitor: string, ms: number, amount: number, customer?: string) => ({
      event_id: crypto.randomUUID(), event_name: 'order_completed', occurred_at: new Date(at + ms).toISOString(), source_system: 'backend',
      visitor_id: visitor, session_id: `s-${visitor}`, entities: { ...ent, order_id: `o-${visitor}` },
      payload: {
        gross_amount: amount, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1, price: amount }], consent_data_processing: true,
        ...(customer ? { customer: { external_id: customer, email: `${customer}@example.org` } } : {}),
      },
    });
    const cust = `i-cust0-${tag}`;
    const vc = `v-cust0-${tag}`;
    const [v1, v2, v3, v4] = [1, 2, 3, 4].map((i) => `v-${i}-${tag}`);

    const figures = async (base: string) => {
      const d = (await liveRest(base, `/api/v1/live/events/${EVENT}`, t.secret_key)).json.data;
      return { views: d.funnel.views, add_to_carts: d.funnel.add_to_carts, orders: d.funnel.orders, revenue: d.revenue };
    };
    const same = (want: unknown) => async (base: string) => JSON.stringify(await figures(base)) === JSON.stringify(want);
    const health = async (base: string) => (await getJson(`${base}/health`)).json.redis;

    // Node a: the buyer (a view, an add-to-cart and an order of 100.5 EUR) and someone else (a view, an order).
    await sendEvents(a!.url, t, [view(vc, 0), cart(vc, 1000), view(v1, 2000)]);
    expect((await serverEvents(a!.url, t, { events: [order(vc, 3000, 100.5, cust), order(v1, 4000, 40)] })).json).toMatchObject({ accepted: 2 });
    const first = { views: 2, add_to_carts: 1, orders: 2, revenue: { EUR: 140.5 } };
    for (const n of [a!, b!]) await until(() => same(first)(n.url), 30_000);

    // Node b loses Redis (only node b), and receives more events meanwhile: its Redis writes fail.
    redisAway = true;
    fwd!.cut();
    await until(async () => (await health(b!.url)) === 'down', 30_000);
    expect(await health(a!.url)).toBe('up');
    await sendEvents(b!.url, t, [view(v2, 5000), view(v3, 6000), view(v4, 7000)]);
    expect((await serverEvents(b!.url, t, { events: [order(v3, 8000, 60)] })).json).toMatchObject({ accepted: 1 });

    // The buyer is erased on node a while node b cannot hear it.
    const pid = (await api(a!.url, t, 'GET', `/api/v1/persons?external_id=${cust}`)).json.person_id;
    expect(typeof pid).toBe('number');
    const del = await api(a!.url, t, 'DELETE', `/api/v1/persons/${pid}`);
    expect(del.status).toBe(200);
    expect(del.json.removed.external.live.live_events_rebuilt).toBe(1);

    // Node b's Redis comes back: both nodes and Redis end on the store's figures (b's events, not the buyer's).
    redisAway = false;
    await until(async () => (await health(b!.url)) === 'up', 60_000);
    const truth = { views: 4, add_to_carts: 0, orders: 2, revenue: { EUR: 100 } };
    const live = `${prefix}${t.tenant_id}:analytics:event:${EVENT}:live`;
    const inRedis = async () => {
      const h = await redis.hgetall(live);
      return { views: Number(h.views ?? 0), add_to_carts: Number(h.add_to_carts ?? 0), orders: Number(h.orders ?? 0), rev: Number(h['rev:EUR'] ?? 0) };
    };
    const redisTruth = { views: 4, add_to_carts: 0, orders: 2, rev: 100_000 };
    try {
      await until(async () => (await same(truth)(a!.url)) && (await same(truth)(b!.url)) && JSON.stringify(await inRedis()) === JSON.stringify(redisTruth), 30_000);
    } catch {
      // What each one holds, for the failure message.
      expect({ a: await figures(a!.url), b: await figures(b!.url), redis: await inRedis() }).toEqual({ a: truth, b: truth, redis: redisTruth });
    }
    // And it stays so (nothing sent again later brings the buyer back).
    await sleep(3000);
    expect({ a: await figures(a!.url), b: await figures(b!.url), redis: await inRedis() }).toEqual({ a: truth, b: truth, redis: redisTruth });
  });
});
