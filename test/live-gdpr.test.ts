// GDPR erasure reaches the live layer, end to end with a real Redis (127.0.0.1:6379, random key prefix,
// deleted after): a visitor browses, checks out and orders with consent; DELETE /api/v1/persons/{id} then
// leaves none of their ids (raw, or the pseudonyms the live layer keeps) in Redis, its HyperLogLogs or the hot
// state, and the live numbers drop their contribution at once, like the store's history (policy: delete).
import crypto from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toFact, utcDay } from '../server/live/facts.js';
import { createPseudonymizer } from '../server/live/pseudo.js';
import { deletePrefix, randomPrefix, REDIS_URL } from '../server/live/redis-test-utils.js';
import { row } from '../server/live/rows.fixture.js';
import { createRedisMirror } from '../server/live/warm.js';
import { bootServer, createTenant, postJson, silent, until, type Tenant } from './helpers.js';
import { api, serverEvents } from './identity-helpers.js';
import { liveRest, sendEvents } from './live-helpers.js';
import { clearOfMidnight } from './midnight.js';

const SECRET = crypto.randomBytes(32).toString('hex');
const PREFIX = randomPrefix();
const pseudo = createPseudonymizer(SECRET);
const env = { REDIS_URL, LIVE_TOKEN_SECRET: SECRET, LIVE_REDIS_PREFIX: PREFIX, RATE_LIMIT_EVENTS_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' };

/** Every key under the prefix with its whole value as text (strings, hashes, sets, zsets, lists, streams). */
async function dumpRedis(r: Redis, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await r.type(key);
      let value: unknown;
      if (type === 'string') value = (await r.getBuffer(key))?.toString('latin1');
      else if (type === 'hash') value = await r.hgetall(key);
      else if (type === 'set') value = await r.smembers(key);
      else if (type === 'zset') value = await r.zrange(key, '0', '-1', 'WITHSCORES');
      else if (type === 'list') value = await r.lrange(key, 0, -1);
      else if (type === 'stream') value = await r.xrange(key, '-', '+');
      else value = `<${type}>`;
      out.set(key, JSON.stringify(value));
    }
  } while (cursor !== '0');
  return out;
}

/** Keys (or values) that contain one of the needles: `key: needle`. */
const hitsIn = (dump: Map<string, string>, needles: string[]) =>
  [...dump].flatMap(([k, v]) => needles.filter((n) => k.includes(n) || v.includes(n)).map((n) => `${k}: ${n}`));

/** Every string anywhere inside a value (Map keys and values, Set members, arrays, object fields). */
function stringsIn(root: unknown): string[] {
  const out: string[] = [];
  const seen = new WeakSet<object>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') return void out.push(v);
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (v instanceof Map) for (const [k, x] of v) (walk(k), walk(x));
    else if (v instanceof Set || Array.isArray(v)) for (const x of v) walk(x);
    else if (!ArrayBuffer.isView(v)) for (const x of Object.values(v)) walk(x);
  };
  walk(root);
  return out;
}

describe('GDPR erasure in the live layer (Redis)', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  let redis: Redis;
  // The first test restarts the server: minutes on a loaded machine; the second reads the same day's numbers.
  const RESTART_TEST_MS = 180_000;
  const RUN_MS = RESTART_TEST_MS + 60_000;
  const BACK_MS = 90_000;

  beforeAll(async () => {
    // Her events are a minute old and the live numbers cover one UTC day: from them to the end of both tests, one day.
    await clearOfMidnight(BACK_MS, RUN_MS);
    server = await bootServer(env);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
    t = await createTenant(server.url, 'live-gdpr');
  }, BACK_MS + RUN_MS + 120_000);
  afterAll(async () => {
    await server?.close();
    redis?.disconnect();
    await deletePrefix(PREFIX);
  });

  it('DELETE /api/v1/persons/{id} removes the person from Redis, its HyperLogLogs and the hot state; live numbers follow the store', { timeout: RESTART_TEST_MS }, async () => {
    const base = server.url;
    const tag = crypto.randomBytes(4).toString('hex');
    const v = `v-ana-${tag}`;
    const s = `s-ana-${tag}`;
    const cart = `cart-ana-${tag}`;
    const cart2 = `cart-ana-open-${tag}`;
    const order = `order-ana-${tag}`;
    const ent = { event_entity_id: 'GE1', organizer_id: 'GORG' };
    const consent = { analytics: true, marketing: false, data_processing: true };
    const at = Date.now() - 60_000;
    const ts = (ms: number) => new Date(at + ms).toISOString();
    const web = (name: string, ms: number, visitor: string, session: string, entities: Record<string, unknown>, payload: Record<string, unknown>) => ({
      event_id: crypto.randomUUID(), event_name: name, occurred_at: ts(ms), source_system: 'web', visitor_id: visitor, session_id: session,
      consent_snapshot: consent, entities: { ...ent, ...entities }, payload,
    });
    const browse = (visitor: string, session: string, c: string) => [
      web('event_view', 0, visitor, session, {}, { price_from: 50, currency: 'EUR' }),
      web('ticket_type_selected', 1000, visitor, session, {}, { ticket_type_id: 'GA', qty: 2 }),
      web('add_to_cart', 2000, visitor, session, { cart_id: c }, { items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], cart_value: 100, currency: 'EUR' }),
      web('checkout_started', 3000, visitor, session, { cart_id: c }, { cart_value: 100, currency: 'EUR' }),
    ];
    // Ana, and someone else who must stay untouched (an open checkout each, so active checkouts are > 0).
    const mine = [...browse(v, s, cart), web('payment_attempted', 4000, v, s, { order_id: order }, { amount: 100, currency: 'EUR' }), web('checkout_started', 8000, v, s, { cart_id: cart2 }, { cart_value: 50, currency: 'EUR' })];
    const theirs = browse(`v-other-${tag}`, `s-other-${tag}`, `cart-other-${tag}`);
    await sendEvents(base, t, [...mine, ...theirs]);
    const orderEv = {
      event_id: crypto.randomUUID(), event_name: 'order_completed', occurred_at: ts(6000), visitor_id: v, session_id: s,
      entities: { ...ent, order_id: order, cart_id: cart },
      payload: { gross_amount: 100, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], consent_data_processing: true, customer: { external_id: `cust-ana-${tag}`, email: `ana-${tag}@example.org` } },
    };
    const r = await serverEvents(base, t, { events: [orderEv] });
    expect(r.json).toMatchObject({ accepted: 1, rejected: [] });
    const eventIds = [...mine, orderEv].map((e) => e.event_id);

    // Live numbers moved, and Redis holds them (stream entries, checkouts, completions, ticker).
    const auth = t.secret_key;
    const snapshot = async (url = base) => ({
      event: (await liveRest(url, '/api/v1/live/events/GE1', auth)).json.data,
      dashboard: (await liveRest(url, '/api/v1/live/dashboard/GORG', auth)).json.data,
    });
    const before = await until(async () => {
      const n = await snapshot();
      return n.event.funnel.orders === 1 && n.event.funnel.views === 2 ? n : null;
    });
    expect(before.event.funnel).toMatchObject({ unique_visitors: 2, checkouts_started: 3, active_checkouts: 2, orders: 1, tickets_sold: 2 });
    expect(before.dashboard.ticker).toHaveLength(1);
    const k = `${PREFIX}${t.tenant_id}:analytics:`;
    await until(async () => (await redis.xlen(`${k}funnel:GE1`)) === mine.length + theirs.length + 1 && (await redis.zcard(`${k}event:GE1:ticker`)) === 1);

    const raw = [v, s, cart, cart2, order, ...eventIds];
    const pseudonyms = [pseudo(t.tenant_id, 'visitor', v), pseudo(t.tenant_id, 'session', s), pseudo(t.tenant_id, 'cart', cart), pseudo(t.tenant_id, 'cart', cart2), ...eventIds.map((e) => pseudo(t.tenant_id, 'event', e))];
    const other = [pseudo(t.tenant_id, 'visitor', `v-other-${tag}`), pseudo(t.tenant_id, 'cart', `cart-other-${tag}`)];
    // Raw ids never reached Redis (facts carry pseudonyms from the start); the pseudonyms did.
    let dump = await dumpRedis(redis, PREFIX);
    expect(hitsIn(dump, raw)).toEqual([]);
    expect(hitsIn(dump, pseudonyms).length).toBeGreaterThan(0);
    expect(stringsIn(server.live.core.state).filter((x) => raw.some((n) => x.includes(n)))).toEqual([]);

    // The order with consent made a person of her.
    const pid = (await api(base, t, 'GET', `/api/v1/persons?external_id=cust-ana-${tag}`)).json.person_id;
    expect(typeof pid).toBe('number');
    const del = await api(base, t, 'DELETE', `/api/v1/persons/${pid}`);
    expect(del.status).toBe(200);
    const live = del.json.removed.external.live;
    // Policy: her rows are deleted from the store, and the tenant's live state is recomputed from it (memory
    // and Redis): only the other visitor's 4 rows remain on GE1.
    expect(live).toMatchObject({ live_events_rebuilt: 1, live_facts: theirs.length });
    expect(live.redis_keys_replaced).toBeGreaterThan(0);

    // Nothing under the prefix holds any of her ids, raw or pseudonymised; the other visitor's are still there.
    dump = await dumpRedis(redis, PREFIX);
    expect(hitsIn(dump, [...raw, ...pseudonyms])).toEqual([]);
    expect(hitsIn(dump, other)).not.toEqual([]);
    expect(await redis.xlen(`${k}funnel:GE1`)).toBe(theirs.length);
    // Nor does the hot state (or the hub's cached snapshots).
    const memory = [...stringsIn(server.live.core.state), ...stringsIn(server.live.core.hub)];
    expect(memory.filter((x) => [...raw, ...pseudonyms].some((n) => x.includes(n)))).toEqual([]);
    expect(memory.some((x) => other.some((n) => x.includes(n)))).toBe(true);

    // The HyperLogLogs were rebuilt without her: adding her pseudonym again is news to them (PFADD → 1), the
    // other visitor's is not (PFADD → 0). Tried on copies, so the real sketches stay as they are.
    const probe = async (key: string, member: string) => {
      const tmp = `${PREFIX}probe:${crypto.randomUUID()}`;
      await redis.pfmerge(tmp, key);
      const n = await redis.pfadd(tmp, member);
      await redis.del(tmp);
      return n;
    };
    for (const key of [`${k}event:GE1:uv`, `${k}org:GORG:uv`]) {
      expect(await probe(key, pseudonyms[0])).toBe(1);
      expect(await probe(key, other[0])).toBe(0);
    }

    // Live numbers dropped her contribution at once and agree with the store's history of the same minutes.
    const after = await snapshot();
    expect(after.event.funnel).toMatchObject({ views: 1, unique_visitors: 1, ticket_selections: 1, add_to_carts: 1, checkouts_started: 1, active_checkouts: 1, payment_attempts: 0, orders: 0, tickets_sold: 0 });
    expect(after.event.revenue).toEqual({});
    expect(after.dashboard.ticker).toEqual([]);
    expect(after.dashboard.totals.funnel).toEqual(after.event.funnel);
    const hist = (await liveRest(base, '/api/v1/live/events/GE1/history?minutes=120', auth)).json.series as Record<string, number>[];
    const sum = (f: string) => hist.reduce((n, p) => n + p[f], 0);
    for (const f of ['views', 'add_to_carts', 'checkouts_started', 'orders', 'tickets_sold']) expect([f, after.event.funnel[f]]).toEqual([f, sum(f)]);

    // A repeated DELETE answers from the tombstone; the live layer is not asked again.
    const again = await api(base, t, 'DELETE', `/api/v1/persons/${pid}`);
    expect(again.json).toMatchObject({ already_erased: true, removed: { external: { live } } });

    // Redis was rewritten whole: a restart restores the same numbers from it (active checkouts included).
    const dataDir = server.dataDir;
    await server.close();
    server = await bootServer({ ...env, DATA_DIR: dataDir });
    expect(server.live.stats().restoredFrom).toBe('redis');
    expect(await snapshot(server.url)).toEqual(after);
    expect(stringsIn(server.live.core.state).filter((x) => [...raw, ...pseudonyms].some((n) => x.includes(n)))).toEqual([]);
  });

  it('an erasure of someone with no live data leaves the live numbers as they were', async () => {
    const auth = t.secret_key;
    const before = (await liveRest(server.url, '/api/v1/live/events/GE1', auth)).json.data;
    const r = await postJson(`${server.url}/api/v1/identify`, { visitor_id: 'v-nobody-live', external_id: 'cust-nobody-live' }, { authorization: `Bearer ${t.secret_key}` });
    expect(r.json.linked).toBe(true);
    const del = await api(server.url, t, 'DELETE', `/api/v1/persons/${r.json.person_id}`);
    expect(del.status).toBe(200);
    // Nothing of theirs was deleted today: the live state is not even rebuilt.
    expect(del.json.removed.external.live).toEqual({ live_events_rebuilt: 0, live_facts: 0 });
    expect((await liveRest(server.url, '/api/v1/live/events/GE1', auth)).json.data).toEqual(before);
  });
});

describe('Redis reset of a tenant (erasure) while writes keep coming', () => {
  it('a write held during the reset counts once, and writes after it are not lost', async () => {
    const prefix = randomPrefix();
    const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
    const mirror = createRedisMirror({ redis: r, prefix, log: silent, now: () => Date.now() });
    try {
      const at = Date.now() - 60_000;
      const day = utcDay(at);
      const view = (visitor: string) => toFact(row('event_view', at, { visitor_id: visitor, entities: { event_entity_id: 'RE1', organizer_id: 'RORG' } }), day, pseudo)!;
      const [f1, f2, f3, gone] = [view('v-1'), view('v-2'), view('v-3'), view('v-gone')];
      await new Promise<void>((done) => mirror.write([f1, gone], done));
      const live = `${prefix}1:analytics:event:RE1:live`;
      const uv = `${prefix}1:analytics:event:RE1:uv`;
      expect(await r.hget(live, 'views')).toBe('2');
      // The store now holds f1 only; f2 commits during the reset (the hot state captured it, so finalize
      // returns it, and its own write is held); f3 commits after.
      const counts = await mirror.resetTenant!(1, day, () => {
        mirror.write([f2], () => undefined);
        return [f1, f2];
      });
      expect(counts.redis_keys_replaced).toBeGreaterThan(0);
      expect(await r.hget(live, 'views')).toBe('2');
      expect(await r.pfcount(uv)).toBe(2);
      // The exact visitor SET beside it (what unique visitors read below 256) was rebuilt the same way.
      expect((await r.smembers(`${uv}_exact`)).sort()).toEqual([f1.visitor!, f2.visitor!].sort());
      // The erased visitor is news to the rebuilt HyperLogLog (this PFADD then counts them: the check goes last).
      expect(await r.pfadd(uv, gone.visitor!)).toBe(1);
      await new Promise<void>((done) => mirror.write([f3], done));
      expect(await r.hget(live, 'views')).toBe('3');
      expect(await r.pfcount(uv)).toBe(4);
      expect((await r.smembers(`${uv}_exact`)).sort()).toEqual([f1.visitor!, f2.visitor!, f3.visitor!].sort());
    } finally {
      await mirror.close();
      r.disconnect();
      await deletePrefix(prefix);
    }
  });
});
