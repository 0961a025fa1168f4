// Per-node, per-tenant copies of store data that serve reads the store answers too slowly (audiences/snapshot-cache.ts,
// analytics/funnel-index.ts). A copy serves while younger than `maxAgeMs` and is read again in the background once
// past half of that, so a tenant in regular use never waits for a full read; one past `maxAgeMs` is not used (the
// caller reads the store) and a read starts. Reads are requested by use, never by a timer; one read per tenant at
// a time; a failed read is not retried for `retryAfterFailureMs`; the least recently used copies beyond
// `maxTenants` are dropped.
import type { Logger } from 'pino';

export interface TenantCacheOptions {
  maxAgeMs: number;
  maxTenants: number;
  retryAfterFailureMs?: number;
}

export interface TenantCache<T> {
  /** The tenant's copy when it is young enough (and a background read once it is past half its age). */
  get(tenant: number): T | null;
  has(tenant: number): boolean;
  /** The tenant's copy whatever its age, without counting it as used. */
  peek(tenant: number): T | null;
  /** Reads (or reads again) now; resolves when the copy is in place. */
  load(tenant: number): Promise<T>;
  /** Starts a read unless one runs or the last one failed recently. */
  background(tenant: number): void;
  /** Drops the tenant's copy and reads it again in the background. */
  reload(tenant: number): void;
  /** The read in flight for the tenant, if any. */
  loading(tenant: number): Promise<T> | null;
  values(): IterableIterator<T>;
  stats(): { tenants: number; loads: number; failures: number };
}

const RETRY_AFTER_FAILURE_MS = 60_000;

export function createTenantCache<T>(deps: {
  what: string;
  log: Logger;
  now: () => number;
  options: TenantCacheOptions;
  read(tenant: number): Promise<T>;
  /** When the copy's read began: its age counts from there (every change after it may be missing). */
  readAt(value: T): number;
}): TenantCache<T> {
  const { log, now, options } = deps;
  const retryAfter = options.retryAfterFailureMs ?? RETRY_AFTER_FAILURE_MS;
  const copies = new Map<number, { value: T; usedAt: number }>();
  const inFlight = new Map<number, Promise<T>>();
  const failedAt = new Map<number, number>();
  let loads = 0;
  let failures = 0;

  const evict = () => {
    while (copies.size > options.maxTenants) {
      let oldest: number | null = null;
      let at = Infinity;
      for (const [t, s] of copies) if (s.usedAt < at) [oldest, at] = [t, s.usedAt];
      copies.delete(oldest!);
    }
  };

  const load = (tenant: number): Promise<T> => {
    const running = inFlight.get(tenant);
    if (running) return running;
    const promise = deps.read(tenant).then(
      (value) => {
        loads++;
        failedAt.delete(tenant);
        copies.set(tenant, { value, usedAt: now() });
        evict();
        log.info({ tenant, ms: now() - deps.readAt(value) }, `${deps.what} loaded`);
        return value;
      },
      (err: unknown) => {
        failures++;
        failedAt.set(tenant, now());
        log.warn({ err, tenant }, `${deps.what} load failed; reads go to the store`);
        throw err;
      },
    ).finally(() => inFlight.delete(tenant));
    inFlight.set(tenant, promise);
    return promise;
  };

  const background = (tenant: number) => {
    if (inFlight.has(tenant) || now() - (failedAt.get(tenant) ?? -Infinity) < retryAfter) return;
    // The failure is logged and counted by load(); the request that asked has its answer from the store.
    load(tenant).catch(() => undefined);
  };

  return {
    get(tenant) {
      if (options.maxAgeMs <= 0) return null;
      const s = copies.get(tenant);
      if (!s) return null;
      const age = now() - deps.readAt(s.value);
      if (age > options.maxAgeMs) {
        copies.delete(tenant);
        background(tenant);
        return null;
      }
      if (age > options.maxAgeMs / 2) background(tenant);
      s.usedAt = now();
      return s.value;
    },
    has: (tenant) => copies.has(tenant),
    peek: (tenant) => copies.get(tenant)?.value ?? null,
    load,
    background,
    reload(tenant) {
      copies.delete(tenant);
      background(tenant);
    },
    loading: (tenant) => inFlight.get(tenant) ?? null,
    *values() {
      for (const c of copies.values()) yield c.value;
    },
    stats: () => ({ tenants: copies.size, loads, failures }),
  };
}

/** /metrics lines of a per-node cache: copies held, their bytes (and any extra gauges), reads by outcome. */
export function cacheMetricLines(
  names: { count: string; prefix: string; help: string },
  st: { tenants: number; bytes: number; loads: number; failures: number },
  gauges: Record<string, number> = {},
): string[] {
  return [
    `# HELP ${names.count} ${names.help}`,
    `# TYPE ${names.count} gauge`,
    `${names.count} ${st.tenants}`,
    ...Object.entries({ ...gauges, bytes: st.bytes }).flatMap(([k, v]) => [`# TYPE ${names.prefix}_${k} gauge`, `${names.prefix}_${k} ${v}`]),
    `# TYPE ${names.prefix}_loads_total counter`,
    `${names.prefix}_loads_total{outcome="ok"} ${st.loads}`,
    `${names.prefix}_loads_total{outcome="error"} ${st.failures}`,
  ];
}
