// The re-seed after a Redis outage, against a real Redis (127.0.0.1:6379), one random key prefix per test,
// deleted after.
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toFact, utcDay, type Fact } from './facts.js';
import { defineScripts } from './lua/index.js';
import { createRedisRecovery } from './redis-recovery.js';
import { dayKeys, keys } from './redis-keys.js';
import { deletePrefix, randomPrefix, REDIS_URL } from './redis-test-utils.js';
import { MIN, NOW, row } from './rows.fixture.js';
import { LiveState } from './state.js';

const DAY = utcDay(NOW);
const log = pino({ level: 'silent' });

describe('Redis re-seed after an outage', () => {
  let prefix: string;
  let redis: Redis;
  beforeEach(() => {
    prefix = randomPrefix();
    redis = new Redis(REDIS_URL);
    defineScripts(redis);
  });
  afterEach(async () => {
    await redis.quit();
    await deletePrefix(prefix);
  });

  it('refills the exact visitor SETs beside the HyperLogLogs (event and organizer): unique visitors read exact again', async () => {
    const view = (v: string, e: string, org = 'O1') => toFact(row('event_view', NOW - MIN, { visitor_id: v, entities: { event_entity_id: e, organizer_id: org } }), DAY)!;
    const facts: Fact[] = [
      ...Array.from({ length: 150 }, (_, i) => view(`v${i}`, 'E1')),
      ...Array.from({ length: 66 }, (_, i) => view(`v${i + 100}`, 'E2')),
      ...Array.from({ length: 300 }, (_, i) => view(`w${i}`, 'E3', 'O2')),
    ];
    const state = new LiveState(DAY);
    for (const f of facts) state.applyShared(f);
    // The store's rows come back in two pages: each page's visitors join the SETs (a union).
    const replay = async (_day: string, on: (page: Fact[]) => void) => {
      on(facts.slice(0, 100));
      on(facts.slice(100));
    };
    const recovery = createRedisRecovery({ redis, prefix, log, state, replay, retryMs: 10 });
    try {
      await redis.ping();
      recovery.markDown('test: a write was lost', true);
      await recovery.settled();
      expect(recovery.health()).toBe('up');
    } finally {
      recovery.close();
    }
    const k = keys(prefix, 1);
    const count = (hll: string, set: string) => (redis as Redis & { txUvCount(h: string, s: string): Promise<number> }).txUvCount(hll, set);
    expect(await count(k.uv('E1'), k.uvExact('E1'))).toBe(150);
    expect(await count(k.uv('E2'), k.uvExact('E2'))).toBe(66);
    expect(await count(k.uv('E3'), k.uvExact('E3'))).toBe(await redis.pfcount(k.uv('E3')));
    // Organizers: O1 has E1 ∪ E2 (v0…v165), O2 E3's 300, past the limit.
    expect(await count(k.orgUv('O1'), k.orgUvExact('O1'))).toBe(166);
    expect(await count(k.orgUv('O2'), k.orgUvExact('O2'))).toBe(await redis.pfcount(k.orgUv('O2')));
    for (const key of [k.uvExact('E1'), k.uvExact('E3'), k.orgUvExact('O1'), k.orgUvExact('O2')]) expect(await redis.ttl(key), key).toBeGreaterThan(0);
  });

  it('while another node rebuilds the day, raises no counter (its replay adds every row) and keeps it from marking the day whole', async () => {
    const state = new LiveState(DAY);
    for (let i = 0; i < 9; i++) state.applyShared(toFact(row('event_view', NOW - MIN, { visitor_id: `v${i}`, entities: { event_entity_id: 'E1' } }), DAY)!);
    const k = keys(prefix, 1);
    const dk = dayKeys(prefix);
    await redis.hset(k.live('E1'), { day: DAY, views: 5 });
    await redis.set(dk.seeding(DAY), 'token-of-the-seeder', 'PX', 60_000);
    const recovery = createRedisRecovery({ redis, prefix, log, state, retryMs: 10 });
    try {
      recovery.markDown('test: a write was lost', true);
      await recovery.settled();
    } finally {
      recovery.close();
    }
    expect(await redis.hget(k.live('E1'), 'views')).toBe('5');
    expect(await redis.get(dk.seeding(DAY))).toBe('incomplete');
    expect(await redis.pttl(dk.seeding(DAY))).toBeGreaterThan(0);
    // Without a rebuild running, the counters are raised by maximum as before.
    await redis.del(dk.seeding(DAY));
    const again = createRedisRecovery({ redis, prefix, log, state, retryMs: 10 });
    try {
      again.markDown('test: a write was lost', true);
      await again.settled();
    } finally {
      again.close();
    }
    expect(await redis.hget(k.live('E1'), 'views')).toBe('9');
    expect(await redis.exists(dk.seeding(DAY))).toBe(0);
  });
});
