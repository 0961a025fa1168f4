// Warm state in Redis: a mirror of the hot state that survives restarts and that several nodes share.
// Every key starts with `{LIVE_REDIS_PREFIX}{tenant_id}:` so tenants never share one (default prefix "tx:"):
//   …analytics:event:{event_id}:live       HASH  day, organizer_id, owner_source, venue_id, updated_at, counters, rev:{CUR} (thousandths)
//   …analytics:event:{event_id}:uv         HLL   visitors (PFADD / PFCOUNT)
//   …analytics:event:{event_id}:uv_exact   SET   the same visitors while at most 256 (uniq.ts EXACT_LIMIT), then
//                                                only the marker "\0": reads are SCARD (exact), then PFCOUNT
//                                                (lua/uv.lua adds to both, lua/uvcount.lua reads)
//   …analytics:funnel:{event_id}           STREAM funnel steps (XADD MAXLEN ~ 10000)
//   …analytics:event:{event_id}:checkouts  ZSET  checkout key → started at;  :checkout_ids HASH key → ids
//   …analytics:event:{event_id}:completed  ZSET  completion id → latest order time (ZADD GT)
//   …analytics:event:{event_id}:gates      HASH  gate → newest snapshot (JSON, replaced only by a newer one)
//   …analytics:event:{event_id}:scans      ZSET  gate\tkind\tid → occurred at
//   …analytics:event:{event_id}:ticker     ZSET  newest orders
//   …analytics:org:{org_id}:live | :uv | :uv_exact | :events   day marker, HLL of visitors and its exact SET, SET of event ids
// Event and org keys expire an hour after the UTC day they hold ends (redis-keys.ts dayTtlS). Day bookkeeping (no
// tenant): `{prefix}live:events:{day}`, `{prefix}live:orgs:{day}`, `{prefix}live:seeded:p1:{day}` ("p1": ids
// are pseudonyms; a mirror written before that, marked `{prefix}live:seeded:{day}`, is not restored but
// rebuilt from the store, so raw ids from an older version leave Redis at the first start; upgrade every node
// sharing a Redis together), and while one node rebuilds the day from the store `{prefix}live:seeding:{day}`
// (its flag) and `{prefix}live:seeding-seen:{day}` (the facts counted meanwhile, lua/count.lua).
// Writes are pipelined per flush (one round trip for everything committed meanwhile).
// Visitor, session, cart and event ids in these keys are pseudonyms (pseudo.ts), never raw ids; after a GDPR
// erasure resetTenant() replaces every key of the tenant with what the store still holds (erase.ts).
import crypto from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { utcDay, type Fact } from './facts.js';
import type { Mirror } from './core.js';
import type { LiveState } from './state.js';
import type { Topic } from './topics.js';
import { createRedisRecovery, type RecoveryDeps, type Replay } from './redis-recovery.js';
import { DAY_TTL_S, dayKeys, eventKeys, keys, orgKeys, SEED_GRACE_MS, SEED_LEASE_MS, SEED_RACE_MS } from './redis-keys.js';
import { defineScripts } from './lua/index.js';
import { writeFacts, type Scripted } from './warm-write.js';
import { loadDay } from './warm-load.js';

// The key layout lives in redis-keys.ts (redis-recovery.ts writes the same keys); re-exported for the tests.
export { dayKeys, dayTtlS, eventKeys, keys, orgKeys, STREAM_MAX } from './redis-keys.js';
// What a flush writes is built in warm-write.ts, what a start reads back in warm-load.ts; this file keeps the
// queue, the seeding election, visitor counts and the tenant reset.
export type { Scripted } from './warm-write.js';

/** SCAN MATCH pattern for a literal key prefix. */
const globEscape = (s: string) => s.replace(/[*?[\]\\]/g, '\\$&');

export interface RedisMirrorOptions {
  redis: Redis;
  prefix: string;
  log: Logger;
  now: () => number;
  /** The events the hot state links to an organizer (a dashboard needs their visitor counts). */
  orgEvents?: (tenant: number, org: string) => Iterable<string>;
  /** The hot state and today's facts from the store: what re-seeds Redis after an outage (redis-recovery.ts). */
  state?: LiveState;
  replay?: Replay;
  /** What Redis' recovery runs after its re-seed (redis-recovery.ts): the erasures this node missed. */
  afterOutage?: RecoveryDeps['afterOutage'];
}

export function createRedisMirror(o: RedisMirrorOptions): Mirror {
  const { redis, prefix, log, now } = o;
  defineScripts(redis);
  const uvCache = new Map<string, number>();
  const recovery = createRedisRecovery({ redis, prefix, log, state: o.state, replay: o.replay, afterOutage: o.afterOutage });
  const up = () => recovery.health() === 'up';
  const idx = (day: string) => `${prefix}live:events:${day}`;
  const orgIdx = (day: string) => `${prefix}live:orgs:${day}`;
  const seededKey = (day: string) => `${prefix}live:seeded:p1:${day}`;
  const legacySeededKey = (day: string) => `${prefix}live:seeded:${day}`;
  const lockKey = (day: string) => `${prefix}live:seed-lock:${day}`;
  const flagKey = dayKeys(prefix).seeding;
  const seenKey = dayKeys(prefix).seedSeen;
  /** While this node rebuilds a day in Redis (restore gave 'seed', until seeded()): which, when it cleared it, its token. */
  let seeding: { day: string; clearedAt: number; token: string } | null = null;
  /** The seeder's rows written as they are (received long before the clear: no node can still be writing them). */
  const settled = new WeakSet<Fact>();

  let queue: { facts: Fact[]; done: () => void }[] = [];
  let flushing: Promise<void> | null = null;
  /** While a tenant is reset (GDPR erasure, resetTenant): new writes wait here, in order. */
  let held: { facts: Fact[]; done: () => void }[] | null = null;
  let resetting: Promise<unknown> = Promise.resolve();

  const build = (pl: ChainableCommander, facts: Fact[]) => writeFacts(pl, facts, prefix, now, (f) => !settled.has(f));
  /**
   * The day's mirror is incomplete (a write failed, a tenant was reset): the next start must recompute it. A seed
   * running meanwhile must not mark it whole either: its flag is kept (other nodes still count each fact once)
   * but no longer holds the seeder's token.
   */
  const incomplete = (day: string) => redis.pipeline().del(seededKey(day)).set(flagKey(day), 'incomplete', 'KEEPTTL', 'XX').exec();
  /**
   * The queued facts the hot state still counts: one applied just before midnight and flushed after the state
   * started the next day (its clock, or a fact of that day from this node or the bus) left the state with its day,
   * so the mirror leaves it out too; written, it would add the day before to the new day's keys (lua/day.lua only
   * keeps the later day) and shorten their TTL to the old day's.
   */
  const current = (facts: Fact[]): Fact[] => {
    const day = o.state?.day;
    return day ? facts.filter((f) => utcDay(f.at) >= day) : facts;
  };

  const flushLoop = async () => {
    while (queue.length > 0) {
      const items = queue;
      queue = [];
      const pl = redis.pipeline();
      build(pl, current(items.flatMap((i) => i.facts)));
      // A seed that makes progress keeps its flag, the SET beside it and its lock (a long day outlasts one lease).
      if (seeding) pl.pexpire(flagKey(seeding.day), SEED_LEASE_MS).pexpire(seenKey(seeding.day), SEED_LEASE_MS).pexpire(lockKey(seeding.day), SEED_LEASE_MS);
      try {
        // Disconnected, this fails at once (no offline queue); recovery re-seeds what these writes carried.
        const res = await pl.exec();
        const err = res?.find(([e]) => e)?.[0];
        if (err) throw err;
      } catch (err) {
        const e = err as Error;
        if (up()) log.warn({ err: e.message }, 'live: Redis mirror write failed');
        // Redis answered with an error: it is up, but its mirror is incomplete, so the next start must
        // recompute the day from the store. Anything else (timeout, connection lost): down, and re-seeded.
        if (e.name === 'ReplyError') await incomplete(new Date(now()).toISOString().slice(0, 10)).catch((de: Error) => recovery.markDown(de.message, true));
        else recovery.markDown(e.message, true);
      }
      for (const i of items) i.done();
    }
    flushing = null;
  };

  const flush = async () => {
    while (flushing) await flushing;
  };

  /** Loads today's state; false when something expired (then the caller recomputes). */
  const load = (state: LiveState, day: string): Promise<boolean> => loadDay(redis, prefix, now, state, day);

  /**
   * Empties the day in Redis for a seed and raises its flag, in one step (MULTI): from then on every node's write
   * of the day counts each fact once (lua/count.lua), the seeder's replay too. Cleared first and flagged after, a
   * node's write in between would be counted plainly and then replayed; flagged first, facts recorded as counted
   * would be deleted with their counts. WATCH on the day's indexes: an event (or organizer) first written between
   * reading them and the MULTI would keep keys the clear does not know of; then it is read again.
   */
  const clear = async (day: string, token: string) => {
    for (let attempt = 1; ; attempt++) {
      await redis.watch(idx(day), orgIdx(day));
      const [events, orgs] = await Promise.all([redis.smembers(idx(day)), redis.smembers(orgIdx(day))]);
      const gone: string[] = [];
      for (const m of events) {
        const tab = m.indexOf('\t');
        gone.push(...eventKeys(keys(prefix, Number(m.slice(0, tab))), m.slice(tab + 1)));
      }
      for (const m of orgs) {
        const tab = m.indexOf('\t');
        gone.push(...orgKeys(keys(prefix, Number(m.slice(0, tab))), m.slice(tab + 1)));
      }
      const tx = redis.multi();
      for (let i = 0; i < gone.length; i += 500) tx.unlink(...gone.slice(i, i + 500));
      tx.del(idx(day), orgIdx(day), seededKey(day), legacySeededKey(day), seenKey(day));
      tx.set(flagKey(day), token, 'PX', SEED_LEASE_MS);
      if ((await tx.exec()) !== null) return;
      if (attempt % 20 === 0) log.warn({ attempt }, 'live: new events keep arriving while clearing the day in Redis for a rebuild; trying again');
    }
  };

  return {
    // While Redis is down (or not re-seeded yet) its counts are stale or low: the hot state's own count serves.
    uvSource: (kind, tenant, id) => (up() ? uvCache.get(`${kind}\t${tenant}\t${id}`) : undefined),
    health: () => recovery.health(),
    write(facts, done, received) {
      // The seeder's rows: those received well before the clear are written as they are (see SEED_RACE_MS).
      if (received && seeding) {
        const from = seeding.clearedAt - SEED_RACE_MS;
        facts.forEach((f, i) => {
          if (received[i] < from && utcDay(f.at) === seeding?.day) settled.add(f);
        });
      }
      if (held) return void held.push({ facts, done });
      queue.push({ facts, done });
      if (!flushing) flushing = new Promise<void>((r) => setImmediate(r)).then(flushLoop);
    },
    flush,
    async restore(state, day) {
      await flush();
      if ((await redis.get(seededKey(day))) && (await load(state, day))) return 'restored';
      // Nothing (or not everything) for today in Redis: one node recomputes from the store and writes it.
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        if ((await redis.set(lockKey(day), '1', 'PX', SEED_LEASE_MS, 'NX')) === 'OK') {
          state.reset(day);
          const token = crypto.randomBytes(8).toString('hex');
          await clear(day, token);
          seeding = { day, clearedAt: now(), token };
          return 'seed';
        }
        await new Promise((r) => setTimeout(r, 200));
        if (await redis.get(seededKey(day))) {
          state.reset(day);
          if (await load(state, day)) return 'restored';
        }
      }
      throw new Error('live: timed out waiting for another node to rebuild the Redis mirror');
    },
    async reload(state, day) {
      await flush();
      // After an outage Redis lacks writes until re-seeded (which also drops the seeded marker): never load it then.
      await recovery.settled();
      if (!up() || !(await redis.get(seededKey(day)))) return false;
      return load(state, day);
    },
    async seeded(day) {
      await flush();
      const mine = seeding?.day === day ? seeding.token : null;
      seeding = null;
      if (!mine) {
        // Redis was away at restore: nothing cleared, nothing to mark (redis-recovery.ts re-seeds it).
        await redis.set(seededKey(day), new Date(now()).toISOString(), 'EX', DAY_TTL_S);
        return void (await redis.del(lockKey(day)));
      }
      // Whole only if the flag still holds this seed's token: a node that lost writes meanwhile (or reset a
      // tenant) replaced it, and then the next start recomputes the day. The flag and its SET stay for a grace:
      // a row read here may reach Redis from its node a moment later, and must be found counted.
      await redis.watch(flagKey(day));
      const whole = (await redis.get(flagKey(day))) === mine && (await redis.multi().set(seededKey(day), new Date(now()).toISOString(), 'EX', DAY_TTL_S).exec()) !== null;
      if (!whole) {
        await redis.unwatch();
        log.warn('live: Redis mirror rebuilt, but a node lost writes meanwhile; the next start recomputes the day from the store');
      }
      await redis.pipeline().pexpire(flagKey(day), SEED_GRACE_MS).pexpire(seenKey(day), SEED_GRACE_MS).del(lockKey(day)).exec();
    },
    async prefetch(entries: { tenant: number; topic: Topic }[]) {
      // Each count: its HLL and the exact SET beside it (SCARD while exact, else PFCOUNT: lua/uvcount.lua).
      const want = new Map<string, [string, string]>();
      for (const { tenant, topic } of entries) {
        const k = keys(prefix, tenant);
        if (topic.kind === 'event') want.set(`event\t${tenant}\t${topic.event}`, [k.uv(topic.event), k.uvExact(topic.event)]);
        if (topic.kind === 'dashboard') {
          want.set(`org\t${tenant}\t${topic.org}`, [k.orgUv(topic.org), k.orgUvExact(topic.org)]);
          for (const e of o.orgEvents?.(tenant, topic.org) ?? []) want.set(`event\t${tenant}\t${e}`, [k.uv(e), k.uvExact(e)]);
        }
      }
      // Down: nothing to wait for, uvSource answers from the hot state.
      if (want.size === 0 || !up()) return;
      const pl = redis.pipeline() as ChainableCommander & Scripted;
      for (const [uv, exact] of want.values()) pl.txUvCount(uv, exact);
      let res: [Error | null, unknown][];
      try {
        res = (await pl.exec()) ?? [];
      } catch (err) {
        recovery.markDown((err as Error).message, false);
        return;
      }
      [...want.keys()].forEach((c, i) => {
        const [err, v] = res[i];
        if (!err) uvCache.set(c, Number(v));
        else if (err.name !== 'ReplyError') recovery.markDown(err.message, false);
      });
      if (uvCache.size > 200_000) uvCache.clear();
    },
    /**
     * GDPR erasure (erase.ts rebuildTenant): replaces every key of the tenant (all days, found with SCAN) by
     * the facts `finalize` returns. New writes are held meanwhile; those held before `finalize` ran are among
     * its facts (the hot state captured them), so they are not written twice, only acknowledged. Known limit:
     * with several nodes, a fact another node writes to Redis between this DEL and these writes, and that this
     * node also counted (from the store or the bus), is in Redis twice until the next reset or the day's end.
     */
    resetTenant(tenant, day, finalize) {
      const run = resetting.then(async () => {
        held = [];
        let covered = 0;
        try {
          await flush();
          const p = `${prefix}${tenant}:analytics:`;
          const found = new Set<string>();
          let cursor = '0';
          do {
            const [next, page] = await redis.scan(cursor, 'MATCH', `${globEscape(p)}*`, 'COUNT', 1000);
            cursor = next;
            for (const key of page) found.add(key);
          } while (cursor !== '0');
          const mine = (m: string) => m.startsWith(`${tenant}\t`);
          const [events, orgs] = await Promise.all([redis.smembers(idx(day)), redis.smembers(orgIdx(day))]);
          const facts = finalize();
          covered = held.length;
          const k = keys(prefix, tenant);
          for (const f of facts) {
            for (const key of eventKeys(k, f.event)) found.add(key);
            if (f.org) for (const key of orgKeys(k, f.org)) found.add(key);
          }
          const pl = redis.pipeline();
          const all = [...found];
          for (let i = 0; i < all.length; i += 500) pl.del(...all.slice(i, i + 500));
          if (events.some(mine)) pl.srem(idx(day), ...events.filter(mine));
          if (orgs.some(mine)) pl.srem(orgIdx(day), ...orgs.filter(mine));
          // Written as they are (the keys were just deleted); a seed running meanwhile cannot tell, so it does not
          // mark the day whole.
          writeFacts(pl, facts, prefix, now, () => false);
          pl.set(flagKey(day), 'incomplete', 'KEEPTTL', 'XX');
          // The ids a seed counted hold the erased person's (pseudonymous) fact ids: an erasure leaves none of
          // them. Without the set a fact may count twice until the day is recomputed, which the flag above asks.
          pl.del(seenKey(day));
          const res = await pl.exec();
          const err = res?.find(([e]) => e)?.[0];
          if (err) throw err;
          return { redis_keys_replaced: all.length };
        } catch (err) {
          // Redis may keep part of the tenant's old keys: the next start must recompute the day from the store.
          await incomplete(day).catch((e: Error) => log.warn({ err: e.message }, 'live: could not mark the Redis mirror incomplete'));
          throw err;
        } finally {
          const waiting = held ?? [];
          held = null;
          // Covered writes went out with the reset; the rest follow it in order.
          for (const i of waiting.slice(0, covered)) i.done();
          queue.push(...waiting.slice(covered));
          if (queue.length > 0 && !flushing) flushing = new Promise<void>((r) => setImmediate(r)).then(flushLoop);
        }
      });
      resetting = run.catch(() => undefined);
      return run;
    },
    async close() {
      recovery.close();
      await flush();
    },
  };
}
