// Where the live state sits in Redis (the layout is described at the top of warm.ts): one place for the key
// names, shared by the mirror (warm.ts) and its recovery after an outage (redis-recovery.ts).
/**
 * How long an event's or organizer's keys live: until an hour after the UTC day they hold ends (set again by
 * every write; at least 30 minutes). They hold that day's live state, so they must outlive quiet hours: a 30-minute TTL let an
 * event's visitors HLL expire while the nodes' counters went on, and unique visitors fell to the visitors
 * since. The day's writes bound them (the funnel stream at STREAM_MAX entries, the ticker at its size).
 */
export const dayTtlS = (day: string, nowMs: number): number => Math.max(MIN_TTL_S, Math.ceil((Date.parse(`${day}T00:00:00Z`) + 90_000_000 - nowMs) / 1000));
/** Never shorter: a day written after it ended (a node whose clock lags, a test's fixed day) still holds a while. */
const MIN_TTL_S = 1800;
export const STREAM_MAX = 10_000;
export const DAY_TTL_S = 2 * 86_400;

/**
 * Day bookkeeping keys (no tenant): today's events and organizers, whether Redis holds the whole day, and while a
 * node rebuilds the day from the store (warm.ts restore) its flag and the facts counted meanwhile (lua/count.lua).
 */
export const dayKeys = (prefix: string) => ({
  events: (day: string) => `${prefix}live:events:${day}`,
  orgs: (day: string) => `${prefix}live:orgs:${day}`,
  seeded: (day: string) => `${prefix}live:seeded:p1:${day}`,
  seeding: (day: string) => `${prefix}live:seeding:${day}`,
  seedSeen: (day: string) => `${prefix}live:seeding-seen:${day}`,
  ttlS: DAY_TTL_S,
});

/**
 * A row the seeder replays is one another node may still write to Redis after the seeder cleared the day when
 * it was received less than this before the clear (by the seeder's clock): nodes' clocks may differ by up to a
 * minute (bus-relay.ts SKEW_MS), and a node writes a row to Redis within a minute of its receipt (ingest queue,
 * commit, flush). Those rows are counted once by fact id (lua/count.lua); older ones are written as they are,
 * so the SET of ids holds minutes of traffic, not the whole day.
 */
export const SEED_RACE_MS = 120_000;
/** The seeding flag lives this long without renewal (a seeder that died lets it go), renewed at each write. */
export const SEED_LEASE_MS = 300_000;
/**
 * Kept after the seed ends: a row the seeder read may be written by its node a little later (commit → Redis
 * write, up to a flush under load), and must then be found among the counted ones.
 */
export const SEED_GRACE_MS = 60_000;

export const keys = (prefix: string, tenant: number) => {
  const p = `${prefix}${tenant}:analytics:`;
  const ev = (e: string, s: string) => `${p}event:${e}:${s}`;
  return {
    live: (e: string) => ev(e, 'live'),
    uv: (e: string) => ev(e, 'uv'),
    /** Beside each visitors HLL, the exact SET of its visitors while at most EXACT_LIMIT (lua/uv.lua). */
    uvExact: (e: string) => ev(e, 'uv_exact'),
    funnel: (e: string) => `${p}funnel:${e}`,
    checkouts: (e: string) => ev(e, 'checkouts'),
    checkoutIds: (e: string) => ev(e, 'checkout_ids'),
    completed: (e: string) => ev(e, 'completed'),
    gates: (e: string) => ev(e, 'gates'),
    scans: (e: string) => ev(e, 'scans'),
    ticker: (e: string) => ev(e, 'ticker'),
    orgLive: (o: string) => `${p}org:${o}:live`,
    orgUv: (o: string) => `${p}org:${o}:uv`,
    orgUvExact: (o: string) => `${p}org:${o}:uv_exact`,
    orgEvents: (o: string) => `${p}org:${o}:events`,
  };
};
export type Keys = ReturnType<typeof keys>;
export const eventKeys = (k: Keys, e: string) => [k.live(e), k.uv(e), k.uvExact(e), k.funnel(e), k.checkouts(e), k.checkoutIds(e), k.completed(e), k.gates(e), k.scans(e), k.ticker(e)];
export const orgKeys = (k: Keys, o: string) => [k.orgLive(o), k.orgUv(o), k.orgUvExact(o), k.orgEvents(o)];
