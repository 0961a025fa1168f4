// The erase protocol across nodes when Redis pub/sub drops a message: an ERASE that could not be published is
// published again, and a node that could not hear it catches up from the store's erasures (gdpr_erasures).
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { LiveBus } from './bus.js';
import type { Mirror } from './core.js';
import { createEraseProtocol, ERASE } from './erase-protocol.js';
import { toFact, utcDay, type Fact } from './facts.js';
import type { Queryable } from '../store/db.js';
import { NOW, row } from './rows.fixture.js';
import { LiveState } from './state.js';

const DAY = utcDay(NOW);
const log = pino({ level: 'silent' });
const view = (tenant: number, visitor: string) => toFact(row('event_view', NOW - 60_000, { tenant_id: tenant, visitor_id: visitor, entities: { event_entity_id: 'E1' } }), DAY)!;

/** A store whose rows are `facts` (already facts) and whose erasures are `erased` tenants. */
function fakeStore(facts: () => Fact[], erased: () => number[]) {
  const asked: Date[] = [];
  const db = {
    query: async (_sql: string, params: unknown[]) => {
      asked.push(params[0] as Date);
      return { rows: erased().map((t) => ({ tenant_id: String(t) })), rowCount: erased().length };
    },
  } as unknown as Queryable;
  const recompute = async (_day: string, onFacts: (f: Fact[]) => void) => onFacts(facts().map((f) => ({ ...f })));
  return { db, recompute, asked };
}

describe('ERASE over an unreliable bus', () => {
  it('an ERASE whose publish failed (Redis away) is published again until it goes out', async () => {
    const sent: unknown[] = [];
    let failures = 2;
    const bus = {
      publish: async (topic: string, msg: unknown) => {
        if (failures-- > 0) throw new Error('Connection is closed.');
        sent.push({ topic, msg });
      },
      subscribe: () => () => undefined,
      ready: async () => undefined,
      close: async () => undefined,
    } as LiveBus;
    const state = new LiveState(DAY);
    const { recompute } = fakeStore(() => [], () => []);
    const p = createEraseProtocol({ state, hub: { markAll: () => undefined }, recompute, mirror: null, bus, relay: null, nodeId: 'n1', log, resetRetryMs: 10 });
    try {
      await p.erase({ tenantId: 3, visitorIds: ['v'], sessionIds: [], orderIds: [], eventIds: [] });
      await vi.waitFor(() => expect(sent).toEqual([{ topic: ERASE, msg: { n: 'n1', t: 3 } }]), { timeout: 5000, interval: 10 });
    } finally {
      p.close();
    }
  });

  it('a node that missed ERASE messages rebuilds the tenants erased since it went away, and their Redis keys when asked', async () => {
    const state = new LiveState(DAY);
    const kept = view(1, 'v-kept');
    const gone = view(1, 'v-gone');
    const other = view(2, 'v-other');
    for (const f of [kept, gone, other]) state.applyShared({ ...f });
    // The store lost tenant 1's erased visitor; tenant 2 had no erasure.
    const store = fakeStore(() => [kept, other], () => [1]);
    const resets: number[] = [];
    const mirror = {
      resetTenant: async (tenant: number, _day: string, finalize: () => Fact[]) => {
        finalize();
        resets.push(tenant);
        return { redis_keys_replaced: 1 };
      },
    } as unknown as Mirror;
    // The first rebuild (tenant 2's, an ERASE heard earlier) reads a slow store: tenant 1's wait behind it.
    let release = () => undefined as void;
    const gate = new Promise<void>((r) => (release = r));
    let reads = 0;
    const recompute = async (day: string, onFacts: (f: Fact[]) => void) => {
      if (reads++ === 0) await gate;
      return store.recompute(day, onFacts);
    };
    const p = createEraseProtocol({ state, hub: { markAll: () => undefined }, recompute, mirror, bus: null, relay: null, nodeId: 'n2', log, db: store.db });
    try {
      const since = NOW - 5000;
      p.onMessage({ n: 'n1', t: 2 });
      // Tenant 1's ERASE heard late and the catch-up after the outage: one rebuild of it, with Redis.
      p.onMessage({ n: 'n1', t: 1 });
      const caught = p.catchUp(since, true);
      await vi.waitFor(() => expect(store.asked).toHaveLength(1));
      release();
      expect(await caught).toBe(1);
      expect(resets).toEqual([1]);
      expect(reads).toBe(2);
      // Erasures are read from well before the outage (an erasure is dated when it starts; clocks differ).
      expect(store.asked[0].getTime()).toBeLessThan(since);
      expect(state.getEvent(1, 'E1')?.counters.views).toBe(1);
      expect(state.getEvent(2, 'E1')?.counters.views).toBe(1);
      // Without Redis: the hot state only.
      expect(await p.catchUp(since, false)).toBe(1);
      expect(resets).toEqual([1]);
      expect(reads).toBe(3);
    } finally {
      p.close();
    }
  });
});
