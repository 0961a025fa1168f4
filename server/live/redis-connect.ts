// How a node joins the shared Redis at start: the connection (with the timeouts that keep Redis off the hot
// path), the mirror of the hot state (warm.ts) and the bus to the other nodes (bus-redis.ts). Apart from the
// assembly (index.ts) because it is where a start without Redis is decided: a node whose Redis does not
// answer at start still starts, from the store, and joins once Redis is back.
import { Redis } from 'ioredis';
import type { Db } from '../store/db.js';
import type { LiveBus } from './bus.js';
import { createRedisBus } from './bus-redis.js';
import type { Mirror } from './core.js';
import type { LiveDeps } from './live-api.js';
import type { Pseudonymizer } from './pseudo.js';
import { recomputeDay } from './recompute.js';
import type { LiveState } from './state.js';
import { createRedisMirror } from './warm.js';

/**
 * Redis is the warm tier, not the hot path: a command fails after this long (a hung Redis), and nothing fails
 * slowly while it is away (no offline queue: a command fails at once while disconnected; ioredis reconnects
 * in the background).
 */
const REDIS_COMMAND_TIMEOUT_MS = 2000;

export interface RedisConnectDeps {
  deps: Pick<LiveDeps, 'config' | 'log' | 'mirror' | 'bus'> & { db: Db };
  now: () => number;
  state: LiveState;
  pseudo: Pseudonymizer;
  /** The bus subscription came back after a loss (from `since`): the assembly resynchronises. */
  onResubscribed: (since: number) => void;
  /** Redis was away at start and the bus has now subscribed (never before connectRedis has returned): ask the other nodes for what they shared since. */
  onLateSubscribed: (startedAt: number) => void;
  /** Redis is back after an outage from `since` (redis-recovery.ts afterOutage): catch up on erasures missed meanwhile. */
  onRedisBack?: (since: number, reseeded: boolean) => Promise<unknown>;
}

export interface RedisParts {
  /** The connection this node opened (closed by the assembly), or null when given a mirror or without REDIS_URL. */
  redis: Redis | null;
  mirror: Mirror | null;
  bus: LiveBus | null;
}

/** The given mirror and bus, or with REDIS_URL the Redis ones (each only when not given, null meaning none). */
export async function connectRedis(o: RedisConnectDeps): Promise<RedisParts> {
  const { config, log } = o.deps;
  let redis: Redis | null = null;
  let mirror = o.deps.mirror ?? null;
  let bus = o.deps.bus ?? null;
  let redisAtStart = true;
  if (config.redisUrl && o.deps.mirror === undefined) {
    redis = new Redis(config.redisUrl, {
      lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000, commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    });
    redis.on('error', (err: Error) => log.warn({ err: err.message }, 'live: redis error'));
    try {
      await redis.connect();
    } catch (err) {
      // Redis is the warm tier: the node starts from the store and re-seeds Redis once it answers (ioredis
      // keeps reconnecting). /health says redis: down meanwhile; a wrong REDIS_URL shows there and here.
      log.error({ err: (err as Error).message, url: config.redisUrl.replace(/\/\/[^@/]*@/, '//***@') }, 'live: cannot reach REDIS_URL; starting without Redis until it answers');
      redisAtStart = false;
    }
    const { state, pseudo } = o;
    mirror = createRedisMirror({
      redis, prefix: config.live.redisPrefix, log, now: o.now, orgEvents: (t, org) => state.getOrg(t, org)?.events ?? [],
      // After an outage Redis is re-seeded from the hot state and today's rows in the store.
      state, replay: (day, onFacts) => recomputeDay(o.deps.db, day, pseudo, onFacts),
      afterOutage: async (since, reseeded) => o.onRedisBack?.(since, reseeded),
    });
  }
  if (config.redisUrl && o.deps.bus === undefined) {
    bus = createRedisBus({ url: config.redisUrl, prefix: config.live.redisPrefix, log, onResubscribed: (since) => o.onResubscribed(since) });
    if (redisAtStart) await bus.ready();
    else {
      // Subscribed once Redis is there: then ask the other nodes for what they shared since this start.
      const startedAt = Date.now();
      bus.ready().then(
        () => o.onLateSubscribed(startedAt),
        (err: Error) => log.error({ err: err.message }, 'live: could not subscribe to the other nodes'),
      );
    }
  }
  return { redis, mirror, bus };
}
