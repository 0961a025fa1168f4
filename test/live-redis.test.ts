// The live layer with Redis (real, 127.0.0.1:6379; random key prefix per test, deleted after): restart
// restores from Redis; two nodes, each with its own store and part of the traffic, show every subscriber
// the combined numbers, equal to what both stores hold.
import crypto from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { toFact, utcDay } from '../server/live/facts.js';
import { deletePrefix, randomPrefix, REDIS_URL } from '../server/live/redis-test-utils.js';
import { LiveState } from '../server/live/state.js';
import type { EventRow } from '../server/store/events.js';
import { bootServer, createTenant, eventsOf, tmpDir, until, type Tenant } from './helpers.js';
import { expectSameAfterRestart, funnelEvents, LiveClient, liveRest, mintToken, readAll, restartScript, sendEvents, type FunnelPlan } from './live-helpers.js';
import { clearOfMidnight } from './midnight.js';

const SECRET = crypto.randomBytes(32).toString('hex');
const prefixes: string[] = [];
const redisEnv = () => {
  const prefix = randomPrefix();
  prefixes.push(prefix);
  return { REDIS_URL, LIVE_TOKEN_SECRET: SECRET, LIVE_REDIS_PREFIX: prefix, RATE_LIMIT_EVENTS_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' };
};

afterAll(async () => {
  for (const p of prefixes) await deletePrefix(p);
});

/** Each test boots a server two or three times: minutes on a loaded machine. */
const TWO_BOOTS_MS = 240_000;
const THREE_BOOTS_MS = 300_000;
/** The events are up to a minute old. */
const BACK_MS = 90_000;

// Live numbers cover one UTC day: from the events to a test's end (as long as the longest may take), one day.
beforeEach(async () => {
  await clearOfMidnight(BACK_MS, THREE_BOOTS_MS);
}, BACK_MS + THREE_BOOTS_MS + 30_000);

describe('restart with Redis', () => {
  it('restores the live state from Redis: numbers survive', { timeout: TWO_BOOTS_MS }, async () => {
    const env = { ...redisEnv(), DATA_DIR: tmpDir() };
    let server = await bootServer(env);
    expect(server.live.stats()).toMatchObject({ redis: true, restoredFrom: 'store' });
    const t = await createTenant(server.url, 'restart-redis');
    const sentAt = Date.now();
    await sendEvents(server.url, t, restartScript());
    const before = await readAll(server.url, t.secret_key);
    expect((before['/api/v1/live/events/RE1'] as any).funnel.orders).toBe(6);
    await server.close();

    server = await bootServer(env);
    try {
      expect(server.live.stats().restoredFrom).toBe('redis');
      expectSameAfterRestart(before, await readAll(server.url, t.secret_key), sentAt);
    } finally {
      await server.close();
    }
  });
});

/** Every stored row of a tenant, read back through the API. */
async function allRows(base: string, t: Tenant): Promise<EventRow[]> {
  const out: EventRow[] = [];
  let before = '';
  for (;;) {
    const page = await eventsOf(base, t, `limit=1000${before ? `&before=${encodeURIComponent(before)}` : ''}`);
    out.push(...(page as EventRow[]));
    if (page.length < 1000) return out;
    before = page[page.length - 1].occurred_at;
  }
}

describe('two nodes sharing Redis', () => {
  it('subscribers of both nodes see the combined numbers, equal to both stores', { timeout: THREE_BOOTS_MS }, async () => {
    const env = redisEnv();
    const a = await bootServer({ ...env, DATA_DIR: tmpDir() });
    let b = await bootServer({ ...env, DATA_DIR: tmpDir() });
    try {
      // One embedded store per node: the same tenant (id 1) is created in each.
      const ta = await createTenant(a.url, 'shared');
      const tb = await createTenant(b.url, 'shared');
      expect(ta.tenant_id).toBe(tb.tenant_id);
      const plans: FunnelPlan[] = [
        { event: 'N1', org: 'ORG-N', visitors: 300, views: 300, selects: 200, carts: 150, checkouts: 100, attempts: 70, failures: 10, orders: 60, qty: 2, price: 40, currency: 'EUR' },
        { event: 'N2', org: 'ORG-N', visitors: 300, views: 280, selects: 150, carts: 90, checkouts: 60, attempts: 40, failures: 5, orders: 30, qty: 1, price: 15.5, currency: 'EUR' },
      ];
      // Seed the organizer link on one node so the token can subscribe to event topics on both.
      const [first, ...rest] = plans.flatMap((p) => funnelEvents(p));
      await sendEvents(a.url, ta, [first]);
      const token = await mintToken(a.url, ta, { role: 'organizer', org_id: 'ORG-N' });
      const ca = await LiveClient.open(a.url, token);
      const cb = await LiveClient.open(b.url, token);
      for (const c of [ca, cb]) {
        await c.subscribe('analytics:dashboard:ORG-N');
        expect((await c.subscribe('analytics:event:N1')).type).toBe('snapshot');
      }
      // Each visitor's steps alternate between the nodes: checkouts start on one and complete on the other.
      const toA = rest.filter((_, i) => i % 2 === 0);
      const toB = rest.filter((_, i) => i % 2 === 1);
      await Promise.all([sendEvents(a.url, ta, toA), sendEvents(b.url, tb, toB)]);

      // What the two stores hold, computed by the same pure state (exact visitor sets).
      const rows = [...(await allRows(a.url, ta)), ...(await allRows(b.url, tb))];
      expect(rows.length).toBe(rest.length + 1);
      const truth = new LiveState(utcDay(Date.now()));
      for (const r of rows) {
        const f = toFact(r, truth.day);
        if (f) truth.apply(f);
      }
      const want = truth.dashboardData(ta.tenant_id, 'ORG-N', Date.now()) as any;
      expect(want.totals.funnel.orders).toBe(90);

      const seen = [];
      for (const c of [ca, cb]) {
        const d = await c.until('analytics:dashboard:ORG-N', (x) => x.totals.funnel.orders === 90 && x.totals.funnel.views === want.totals.funnel.views, 20_000);
        const { unique_visitors: uv, ...counts } = d.totals.funnel;
        const { unique_visitors: wantUv, ...wantCounts } = want.totals.funnel;
        expect(counts).toEqual(wantCounts);
        expect(d.totals.revenue).toEqual(want.totals.revenue);
        // 600 visitors, each seen on both nodes: merged (PFCOUNT), not summed (~1200).
        expect(Math.abs(uv - wantUv) / wantUv).toBeLessThanOrEqual(0.02);
        seen.push(d.totals.funnel);
      }
      expect(seen[0]).toEqual(seen[1]);
      expect(seen[0].active_checkouts).toBe(100 - 60 + 60 - 30);

      // Restart node B: it restores from Redis and shows the combined numbers, not only its own store's.
      cb.close();
      await b.close();
      b = await bootServer({ ...env, DATA_DIR: b.dataDir });
      expect(b.live.stats().restoredFrom).toBe('redis');
      const cb2 = await LiveClient.open(b.url, token);
      const snap = await cb2.subscribe('analytics:dashboard:ORG-N');
      expect(snap.data.totals.funnel).toEqual(seen[0]);
      ca.close();
      cb2.close();
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('two nodes sharing Redis: unique visitors below 256', () => {
  it('are exact on both nodes (Redis keeps an exact set beside each HyperLogLog), event and dashboard alike', { timeout: TWO_BOOTS_MS }, async () => {
    const env = redisEnv();
    const a = await bootServer({ ...env, DATA_DIR: tmpDir() });
    const b = await bootServer({ ...env, DATA_DIR: tmpDir() });
    try {
      const ta = await createTenant(a.url, 'exact-uv');
      const tb = await createTenant(b.url, 'exact-uv');
      // The sizes the finding saw off by one or two with PFCOUNT (150 → 151, 66 → 65, 198 → 197), on one organizer:
      // 150 + 66 = 216 visitors (exact), and on another 198 + 60 = 258 (past the limit: PFCOUNT).
      const plan = (event: string, org: string, visitors: number): FunnelPlan => ({ event, org, visitors, views: visitors, selects: visitors, carts: 0, checkouts: 0, attempts: 0, failures: 0, orders: 0, qty: 1, price: 10, currency: 'EUR' });
      const plans = [plan('X1', 'ORG-X', 150), plan('X2', 'ORG-X', 66), plan('X3', 'ORG-Y', 198), plan('X4', 'ORG-Y', 60)];
      const events = plans.flatMap((p) => funnelEvents(p));
      // Each visitor's view goes to one node and their ticket selection to the other.
      await Promise.all([sendEvents(a.url, ta, events.filter((_, i) => i % 2 === 0)), sendEvents(b.url, tb, events.filter((_, i) => i % 2 === 1))]);
      const want: Record<string, number> = { ...Object.fromEntries(plans.map((p) => [`/api/v1/live/events/${p.event}`, p.visitors])), '/api/v1/live/dashboard/ORG-X': 216 };
      const funnelOf = (d: any) => d?.funnel ?? d?.totals?.funnel;
      for (const [node, t] of [[a, ta], [b, tb]] as const) {
        // Read until every count has arrived (the other node's rows come over the bus, Redis' counts with the
        // next read); the unique visitors read then are exactly the visitors, never Redis' estimate.
        let last: Record<string, number> = {};
        await until(async () => {
          const seen: Record<string, number> = {};
          for (const path of Object.keys(want)) {
            const f = funnelOf((await liveRest(node.url, path, t.secret_key)).json.data);
            if (f?.ticket_selections !== want[path]) return false;
            seen[path] = f.unique_visitors;
          }
          last = seen;
          return Object.keys(want).every((path) => seen[path] === want[path]);
        }, 30_000).catch(() => undefined);
        expect(last).toEqual(want);
        // Past the limit (ORG-Y: 258 visitors): Redis' HyperLogLog estimate, within its error.
        const y = await until(async () => {
          const f = funnelOf((await liveRest(node.url, '/api/v1/live/dashboard/ORG-Y', t.secret_key)).json.data);
          return f?.ticket_selections === 258 && f;
        }, 30_000);
        expect(Math.abs(y.unique_visitors - 258) / 258).toBeLessThanOrEqual(0.03);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });
});
