// Redis is the warm tier, not the hot path. While it is away the node keeps serving and pushing its own hot
// state (unique visitors from its in-memory sketches instead of PFCOUNT) and tracks here that Redis is
// "down"; a background loop waits for Redis to answer again and then re-seeds it before declaring it "up":
//   - counters, revenue and updated_at of every event in the hot state, merged with what Redis may still hold
//     by maximum (a day's counters only grow; the hash is not read back until a restart marks the day seeded
//     again), plus the day, event and organizer index entries;
//   - the unique-visitor HyperLogLogs and the exact SETs beside them, by adding again every visitor of today's
//     rows in the store (the record of truth; lua/uv.lua, as a flush does): Redis hashes elements itself, so the
//     in-memory sketch (another hash, see uniq.ts) cannot be merged into Redis' registers, and a union never
//     counts a visitor twice, whichever nodes re-seed.
// The day's "seeded" marker is deleted first, so a node starting later recomputes the day from the store
// (the mirror's checkouts, tickers, gates and funnel stream missed writes) and reload() refuses meanwhile.
// The re-seed cannot take anything away: a GDPR erasure another node ran meanwhile (its ERASE message on the
// bus was missed, and the re-seed pushed the erased person's numbers back by maximum) is caught up after it,
// before Redis counts as up (afterOutage: erase-protocol.ts catchUp rebuilds those tenants and their keys).
import type { ChainableCommander, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Fact } from './facts.js';
import { COUNTER_NAMES, type LiveState } from './state.js';
import { dayKeys, dayTtlS, eventKeys, keys, orgKeys } from './redis-keys.js';
import { EXACT_LIMIT } from './uniq.js';

/** The mirror's scripts the re-seed runs (defined on the connection by warm.ts; its Scripted has them all). */
interface ReseedScripts {
  txDay(numKeys: number, ...args: (string | number)[]): ChainableCommander;
  txMax(k: string, field: string, value: number): ChainableCommander;
  txUv(numKeys: number, ...args: (string | number)[]): ChainableCommander;
}

export type RedisHealth = 'up' | 'down';

/** Calls `onFacts` with today's facts from the store, page by page (recompute.ts); resolves when done. */
export type Replay = (day: string, onFacts: (facts: Fact[]) => void) => Promise<unknown>;

export interface RecoveryDeps {
  redis: Redis;
  prefix: string;
  log: Logger;
  /** Without it (tests of the mirror alone) nothing is re-seeded; Redis is up again once it answers. */
  state?: LiveState;
  replay?: Replay;
  /** Pause between two attempts to reach Redis again (ms). */
  retryMs?: number;
  /**
   * Runs after each re-seed attempt, before Redis counts as up again, with when Redis went away (epoch ms) and
   * whether this node re-seeded it: what the node missed meanwhile that a re-seed cannot mend (erasures run on
   * other nodes). A rejection fails the attempt (tried again).
   */
  afterOutage?: (downSince: number, reseeded: boolean) => Promise<unknown>;
}

export interface RedisRecovery {
  health(): RedisHealth;
  /** Something failed: Redis counts as down until it answers and has been re-seeded. */
  markDown(reason: string, missedWrite: boolean): void;
  /** Resolves once Redis is up (now, or after the running recovery). */
  settled(): Promise<void>;
  close(): void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export function createRedisRecovery(d: RecoveryDeps): RedisRecovery {
  const { redis, log } = d;
  let down = false;
  let missed = false;
  let failures = 0;
  let closed = false;
  /** When Redis went away (epoch ms): the first failure of the outage. */
  let downSince = Date.now();
  let loop: Promise<void> | null = null;
  let waiters: (() => void)[] = [];
  // Redis' run_id changes when it restarts (or fails over): then it lost what this node wrote, even if
  // another node re-seeded first and today's index exists again.
  let runId: string | null = null;

  const markDown = (reason: string, missedWrite: boolean) => {
    if (closed) return;
    if (missedWrite) {
      missed = true;
      failures++;
    }
    if (!down) {
      down = true;
      downSince = Date.now();
      log.warn({ reason }, 'live: Redis is down; serving this node\'s own state and retrying in the background');
    }
    ensureLoop();
  };

  const ensureLoop = () => {
    if (loop || closed) return;
    loop = recover().finally(() => {
      loop = null;
      // Down again between the loop's last check and now: another round.
      if (down) ensureLoop();
    });
  };

  const recover = async () => {
    while (down && !closed) {
      await sleep(d.retryMs ?? 500);
      // ioredis reconnects by itself; commands fail at once until it is ready (no offline queue).
      if (closed || redis.status !== 'ready') continue;
      const gen = failures;
      try {
        await redis.ping();
        const id = await runIdOf(redis);
        const reseeded = await reseed(d, missed || (runId !== null && id !== runId));
        runId = id;
        await d.afterOutage?.(downSince, reseeded);
        if (failures !== gen) continue; // a write failed meanwhile: once more
        down = false;
        missed = false;
        log.info({ reseeded }, 'live: Redis is back' + (reseeded ? '; re-seeded from this node\'s state and the store' : ''));
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'live: Redis recovery failed; retrying');
      }
    }
    for (const w of waiters.splice(0)) w();
  };

  redis.on('close', () => markDown('connection closed', false));
  const learnRunId = () =>
    runIdOf(redis).then(
      (id) => void (runId ??= id),
      (err: Error) => log.warn({ err: err.message }, 'live: could not read Redis run_id'),
    );
  if (redis.status === 'ready') void learnRunId();
  else redis.once('ready', () => void learnRunId());
  // Redis was away at start (the first connect failed): up once it answers and, if needed, is re-seeded.
  if (redis.status === 'reconnecting') markDown('not reachable at start', false);

  return {
    health: () => (down || redis.status !== 'ready' ? 'down' : 'up'),
    markDown,
    settled: () => (down && !closed ? new Promise<void>((r) => waiters.push(r)) : Promise.resolve()),
    close() {
      closed = true;
      for (const w of waiters.splice(0)) w();
      waiters = [];
    },
  };
}

const runIdOf = async (redis: Redis): Promise<string | null> => /run_id:(\w+)/.exec(await redis.info('server'))?.[1] ?? null;

/**
 * Re-seeds Redis after an outage if it lost something: writes were missed, it restarted, or today's index is
 * gone (flushed). False when nothing needed doing (a connection blip).
 */
async function reseed(d: RecoveryDeps, lostWrites: boolean): Promise<boolean> {
  const { redis, prefix, state } = d;
  if (!state) return false;
  const day = state.day;
  const dk = dayKeys(prefix);
  const lost = (await redis.exists(dk.events(day))) === 0 && state.events.size > 0;
  if (!lostWrites && !lost) return false;
  // Another node may be rebuilding the day from the store right now (warm.ts restore): its replay adds every row
  // on top of what the keys hold, so counters raised here by maximum would be counted twice. They are left to it,
  // and its flag loses its token, so it does not mark the day whole (this node's lost writes may be missing).
  const seeding = (await redis.set(dk.seeding(day), 'incomplete', 'KEEPTTL', 'XX')) === 'OK';
  await redis.del(dk.seeded(day));
  await reseedCounters(redis, prefix, state, day, !seeding);
  await reseedVisitors(d, state, day);
  return true;
}

async function exec(pl: ReturnType<Redis['pipeline']>): Promise<void> {
  const res = await pl.exec();
  const err = res?.find(([e]) => e)?.[0];
  if (err) throw err;
}

/** Runs `add` for every item, 200 items per pipeline, one pipeline at a time. */
async function pipelined<T>(redis: Redis, items: T[], add: (pl: ReturnType<Redis['pipeline']> & ReseedScripts, item: T) => void): Promise<void> {
  for (let i = 0; i < items.length; i += 200) {
    const pl = redis.pipeline() as ReturnType<Redis['pipeline']> & ReseedScripts;
    for (const item of items.slice(i, i + 200)) add(pl, item);
    await exec(pl);
  }
}

/** Counters, revenue, updated_at (by maximum; only with `counters`), venue, organizer (unless set) and the day's indexes. */
async function reseedCounters(redis: Redis, prefix: string, state: LiveState, day: string, counters: boolean): Promise<void> {
  const dk = dayKeys(prefix);
  await pipelined(redis, [...state.events.values()], (pl, e) => {
    const k = keys(prefix, e.tenant);
    const all = eventKeys(k, e.event);
    pl.txDay(all.length, ...all, day);
    if (counters) {
      for (const n of COUNTER_NAMES) if (e.counters[n] > 0) pl.txMax(k.live(e.event), n, e.counters[n]);
      for (const [cur, milli] of e.revenue) if (milli > 0) pl.txMax(k.live(e.event), `rev:${cur}`, milli);
    }
    if (e.updatedAt > 0) pl.txMax(k.live(e.event), 'updated_at', e.updatedAt);
    if (e.venue) pl.hset(k.live(e.event), 'venue_id', e.venue);
    if (e.org) pl.hsetnx(k.live(e.event), 'organizer_id', e.org);
    for (const key of all) pl.expire(key, dayTtlS(day, Date.now()));
    pl.sadd(dk.events(day), `${e.tenant}\t${e.event}`);
  });
  await pipelined(redis, [...state.orgs.values()], (pl, o) => {
    const k = keys(prefix, o.tenant);
    const all = orgKeys(k, o.org);
    pl.txDay(all.length, ...all, day);
    if (o.events.size > 0) pl.sadd(k.orgEvents(o.org), ...o.events);
    for (const key of all) pl.expire(key, dayTtlS(day, Date.now()));
    pl.sadd(dk.orgs(day), `${o.tenant}\t${o.org}`);
  });
  const pl = redis.pipeline();
  pl.expire(dk.events(day), dk.ttlS);
  pl.expire(dk.orgs(day), dk.ttlS);
  await exec(pl);
}

/**
 * Adds every visitor of today's stored rows to its event's HLL and exact SET and to its organizer's (the hot
 * state's link).
 */
async function reseedVisitors(d: RecoveryDeps, state: LiveState, day: string): Promise<void> {
  const { redis, prefix } = d;
  const sent: Promise<void>[] = [];
  await d.replay?.(day, (facts) => {
    // HLL key → its exact SET and the page's visitors.
    const uv = new Map<string, { exact: string; visitors: Set<string> }>();
    const add = (key: string, exact: string, v: string) => {
      const e = uv.get(key);
      if (e) e.visitors.add(v);
      else uv.set(key, { exact, visitors: new Set([v]) });
    };
    for (const f of facts) {
      if (!f.visitor) continue;
      const k = keys(prefix, f.tenant);
      add(k.uv(f.event), k.uvExact(f.event), f.visitor);
      const org = state.getEvent(f.tenant, f.event)?.org ?? f.org;
      if (org) add(k.orgUv(org), k.orgUvExact(org), f.visitor);
    }
    if (uv.size === 0) return;
    const pl = redis.pipeline() as ReturnType<Redis['pipeline']> & ReseedScripts;
    const ttl = dayTtlS(day, Date.now());
    for (const [key, { exact, visitors }] of uv) pl.txUv(2, key, exact, EXACT_LIMIT, ...visitors).expire(key, ttl).expire(exact, ttl);
    const p = exec(pl);
    p.catch(() => undefined); // awaited below; this only keeps it from being reported as unhandled meanwhile
    sent.push(p);
  });
  await Promise.all(sent);
}
