// Boot configuration. `loadConfig` is pure: it reads only the env object it is given and either returns a
// complete, validated Config or throws ConfigError listing every problem with how to fix it.
import { isIP } from 'node:net';
import { campaignsConfig, type CampaignsConfig } from '../campaigns/config.js';
import { redact } from './redact.js';

export interface Limits {
  maxEventBytes: number;
  maxBatchEvents: number;
  maxBodyBytes: number;
  backfillDays: number;
  futureHours: number;
  /** Token bucket per write key, in events. */
  rateLimitPerSec: number;
  rateLimitBurst: number;
  /** Spool refuses writes beyond this many bytes (then ingest answers 503). */
  spoolMaxBytes: number;
}

/** The live layer (server/live): websockets, tokens, Redis mirror. */
export interface LiveConfig {
  /** HMAC secret for dashboard tokens; generated into DATA_DIR when unset (required with REDIS_URL). */
  tokenSecret: string | null;
  /** At most one update per topic per this many ms. */
  coalesceMs: number;
  /** A websocket whose unsent data passes this many bytes is disconnected. */
  wsMaxBackpressure: number;
  /** Prefix of every Redis key and channel of the live layer. */
  redisPrefix: string;
  /** Serve the live topics over Socket.IO too (same port, path /socket.io/). */
  socketIo: boolean;
  /** At most this many catalog events' metadata (and organizer names) in a node's memory, all tenants together. */
  catalogMax: number;
  /** At most this many event entities tracked live per tenant per UTC day (catalog- and secret-key-owned ones always). */
  maxEvents: number;
  /** At most this many capacity lanes (gate, or gate and scanner session) per event; a catalog gate's up to twice as many. */
  maxGateLanes: number;
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | null;
  databasePoolMax: number;
  /** Group commits in flight at once on PostgreSQL (the embedded store has one session: always 1). */
  writerLanes: number;
  redisUrl: string | null;
  live: LiveConfig;
  adminToken: string | null;
  /** Bearer token a Prometheus scraper presents to see /metrics' per-tenant series (the admin token also does). */
  metricsToken: string | null;
  uwsAllowFallback: boolean;
  trustProxy: boolean;
  logLevel: string;
  demoTenant: boolean;
  limits: Limits;
  /** AES-256-GCM key for tenant secrets (64 hex chars or base64 of 32 bytes); generated into DATA_DIR when unset on the embedded store. */
  encryptionKey: string | null;
  /** Raw events (and sessions, rejected events) older than this many months are dropped. */
  retentionMonths: number;
  /** How often each node drops expired chunks (the TimescaleDB policy job may not run in the embedded store). */
  retentionIntervalS: number;
  /** Audit log rows older than this many days are pruned by the audit.prune job (server/audit/). */
  auditRetentionDays: number;
  /** The feature store's retention, compression, archive and pseudonymisation settings (server/features/retention.ts). */
  featureStore: FeatureStoreConfig;
  /** Ad-platform API bases for server-side conversions (server/conversions/): the real hosts unless pointed at a stand-in. */
  conversions: ConversionUrls;
  /** Estimates over per-node snapshots of large tenants' persons (server/audiences/snapshot-cache.ts). */
  audiences: AudiencesConfig;
  /** Funnels of large tenants over a per-node index of their events (server/analytics/funnel-index.ts). */
  funnelIndex: FunnelIndexConfig;
  /** CHECKPOINT_WAL_MB: the embedded store checkpoints once this much WAL was written since the last checkpoint (jobs/checkpoint.ts). */
  checkpointWalMb: number;
  /** Campaign automation (server/campaigns/): platform API bases (META_GRAPH_URL, GOOGLE_ADS_URL, TIKTOK_API_URL) and the marketplace's ad accounts. */
  campaigns: CampaignsConfig;
}

export interface ConversionUrls {
  /** META_GRAPH_URL */
  meta: string;
  /** TIKTOK_API_URL */
  tiktok: string;
  /** GOOGLE_DATAMANAGER_URL */
  googleDataManager: string;
  /** GA4_MP_URL */
  ga4: string;
}

export interface AudiencesConfig {
  /** AUDIENCE_SNAPSHOT_MAX_AGE_S: how old a snapshot may be and still answer an estimate; 0 = every estimate reads the store. */
  snapshotMaxAgeS: number;
  /** AUDIENCE_SNAPSHOT_MIN_PERSONS: tenants with fewer consented persons always read the store. */
  snapshotMinPersons: number;
  /** AUDIENCE_SNAPSHOT_MAX_TENANTS: snapshots one node keeps (≈ 45 bytes per person each). */
  snapshotMaxTenants: number;
}

export interface FunnelIndexConfig {
  /** FUNNEL_INDEX_MAX_AGE_S: how long an index answers before it is read again in full; 0 = every funnel reads the store. */
  maxAgeS: number;
  /** FUNNEL_INDEX_MIN_QUERY_MS: a tenant gets an index after a funnel read from the store took this long. */
  minQueryMs: number;
  /** FUNNEL_INDEX_MAX_TENANTS: indexes one node keeps. */
  maxTenants: number;
  /** FUNNEL_INDEX_MAX_ROWS: tenants with more stored events are not indexed (≈ 38 bytes a row). */
  maxRows: number;
  /** FUNNEL_STORE_CONCURRENCY: funnels read from the store at once on a node (1 embedded, 2 with DATABASE_URL). */
  storeConcurrency: number;
}

export interface FeatureStoreConfig {
  /** AGGREGATE_RETENTION_MONTHS: aggregate rows older than this are deleted (seed 003: two years). */
  aggregateRetentionMonths: number;
  /** COMPRESS_AFTER_DAYS: TimescaleDB chunks of tx_events older than this are compressed; 0 = off. */
  compressAfterDays: number;
  /** ARCHIVE_DIR: raw events are exported here (gzipped NDJSON per tenant and month) before retention drops them; null = off. */
  archiveDir: string | null;
  /** PSEUDONYMIZE_AFTER_DAYS: visitor, session and person ids of older raw events become keyed hashes; 0 = off. */
  pseudonymizeAfterDays: number;
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** A host name (RFC 1123): dot-separated labels of letters, digits and inner hyphens, 253 characters at most. */
const HOST_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** HOST: an IP literal (IPv4, or IPv6 without brackets) or a host name; whether this machine has it is seen at listen. */
export function hostProblem(host: string): string | null {
  // All digits and dots is meant as an IPv4 address: 300.1.1.1 is not one, and no host name ends in a numeric label.
  if (isIP(host) !== 0 || (HOST_NAME.test(host) && !/^[\d.]+$/.test(host))) return null;
  const hint = /^\[.*\]$/.test(host) ? ' (an IPv6 address without the brackets)' : '';
  return `HOST=${JSON.stringify(host.slice(0, 100))} must be an IP address${hint} or a host name of this machine: 0.0.0.0 (every IPv4 interface, the default), :: (every interface) or 127.0.0.1 (this machine only)`;
}

/** CHECKPOINT_WAL_MB's default (jobs/checkpoint.ts says why 256). */
export const DEFAULT_CHECKPOINT_WAL_MB = 256;

export function loadConfig(env: Env): Config {
  const problems: string[] = [];

  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name}=${JSON.stringify(raw)} must be an integer between ${min} and ${max} (default ${def}); fix or unset it`);
      return def;
    }
    return n;
  };
  const bool = (name: string, def: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
    if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
    problems.push(`${name}=${JSON.stringify(raw)} must be 1/0, true/false, yes/no or on/off`);
    return def;
  };
  const url = (name: string, protocols: string[]): string | null => {
    const raw = env[name];
    if (raw === undefined || raw === '') return null;
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) throw new Error('protocol');
      return raw;
    } catch {
      problems.push(`${name} must be a URL starting with ${protocols.map((p) => p + '//').join(' or ')} (got ${JSON.stringify(redact(raw))})`);
      return null;
    }
  };

  const port = int('PORT', 8080, 0, 65535);
  const host = env.HOST || '0.0.0.0';
  const badHost = hostProblem(host);
  if (badHost) problems.push(badHost);
  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const redisUrl = url('REDIS_URL', ['redis:', 'rediss:']);
  const liveTokenSecret = env.LIVE_TOKEN_SECRET && env.LIVE_TOKEN_SECRET.length > 0 ? env.LIVE_TOKEN_SECRET : null;
  if (liveTokenSecret !== null && liveTokenSecret.length < 32) {
    problems.push('LIVE_TOKEN_SECRET must be at least 32 characters; generate one with `openssl rand -hex 32`');
  }
  if (redisUrl && liveTokenSecret === null) {
    problems.push('LIVE_TOKEN_SECRET is required with REDIS_URL (every node must verify the same dashboard tokens); generate one with `openssl rand -hex 32`');
  }
  const live: LiveConfig = {
    tokenSecret: liveTokenSecret,
    coalesceMs: int('LIVE_COALESCE_MS', 250, 10, 60_000),
    wsMaxBackpressure: int('LIVE_WS_MAX_BACKPRESSURE', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    redisPrefix: env.LIVE_REDIS_PREFIX || 'tx:',
    socketIo: bool('LIVE_SOCKETIO', true),
    catalogMax: int('LIVE_CATALOG_MAX', 100_000, 1, 10_000_000),
    maxEvents: int('LIVE_MAX_EVENTS', 20_000, 1, 10_000_000),
    maxGateLanes: int('LIVE_MAX_GATE_LANES', 1_000, 1, 1_000_000),
  };
  const adminToken = env.ADMIN_TOKEN && env.ADMIN_TOKEN.length > 0 ? env.ADMIN_TOKEN : null;
  if (adminToken !== null && adminToken.length < 16) {
    problems.push('ADMIN_TOKEN must be at least 16 characters; generate one with `openssl rand -hex 24`');
  }
  if (databaseUrl && adminToken === null) {
    problems.push('ADMIN_TOKEN is required with DATABASE_URL (every node must share it); generate one with `openssl rand -hex 24`');
  }
  const metricsToken = env.METRICS_TOKEN && env.METRICS_TOKEN.length > 0 ? env.METRICS_TOKEN : null;
  if (metricsToken !== null && metricsToken.length < 16) {
    problems.push('METRICS_TOKEN must be at least 16 characters; generate one with `openssl rand -hex 24`');
  }
  const encryptionKey = env.ENCRYPTION_KEY && env.ENCRYPTION_KEY.length > 0 ? env.ENCRYPTION_KEY.trim() : null;
  if (encryptionKey !== null && !/^[0-9a-f]{64}$/i.test(encryptionKey) && !(/^[A-Za-z0-9+/_-]{43}=?$/.test(encryptionKey) && Buffer.from(encryptionKey, 'base64').length === 32)) {
    problems.push('ENCRYPTION_KEY must be 32 bytes as 64 hex characters (or base64); generate one with `openssl rand -hex 32`');
  }
  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  // META_GRAPH_URL and TIKTOK_API_URL serve campaigns and conversions alike: validated once (campaigns/config.ts).
  const campaigns = campaignsConfig(env, problems);

  const limits: Limits = {
    maxEventBytes: int('MAX_EVENT_BYTES', 32 * 1024, 1024, 1024 * 1024),
    maxBatchEvents: int('MAX_BATCH_EVENTS', 100, 1, 10_000),
    maxBodyBytes: int('MAX_BODY_BYTES', 512 * 1024, 1024, 64 * 1024 * 1024),
    backfillDays: int('BACKFILL_DAYS', 7, 1, 3650),
    futureHours: int('FUTURE_HOURS', 24, 1, 24 * 30),
    rateLimitPerSec: int('RATE_LIMIT_EVENTS_PER_SEC', 2000, 1, 10_000_000),
    rateLimitBurst: int('RATE_LIMIT_BURST', 10_000, 1, 100_000_000),
    spoolMaxBytes: int('SPOOL_MAX_BYTES', 1024 * 1024 * 1024, 1024, Number.MAX_SAFE_INTEGER),
  };
  if (limits.maxEventBytes > limits.maxBodyBytes) {
    problems.push('MAX_EVENT_BYTES must not exceed MAX_BODY_BYTES');
  }

  const config: Config = {
    port,
    host,
    dataDir: env.DATA_DIR || './data',
    databaseUrl,
    databasePoolMax: int('DATABASE_POOL_MAX', 10, 1, 1000),
    writerLanes: int('WRITER_LANES', 4, 1, 64),
    redisUrl,
    live,
    adminToken,
    metricsToken,
    uwsAllowFallback: bool('UWS_ALLOW_FALLBACK', false),
    trustProxy: bool('TRUST_PROXY', false),
    logLevel,
    demoTenant: bool('DEMO_TENANT', true),
    limits,
    encryptionKey,
    retentionMonths: int('RETENTION_MONTHS', 24, 1, 1200),
    retentionIntervalS: int('RETENTION_INTERVAL_S', 3600, 1, 7 * 86_400),
    auditRetentionDays: int('AUDIT_RETENTION_DAYS', 365, 1, 36_500),
    featureStore: {
      aggregateRetentionMonths: int('AGGREGATE_RETENTION_MONTHS', 24, 1, 1200),
      compressAfterDays: int('COMPRESS_AFTER_DAYS', 0, 0, 36_500),
      archiveDir: env.ARCHIVE_DIR || null,
      pseudonymizeAfterDays: int('PSEUDONYMIZE_AFTER_DAYS', 0, 0, 36_500),
    },
    campaigns,
    audiences: {
      snapshotMaxAgeS: int('AUDIENCE_SNAPSHOT_MAX_AGE_S', 600, 0, 86_400),
      snapshotMinPersons: int('AUDIENCE_SNAPSHOT_MIN_PERSONS', 100_000, 1, 1_000_000_000),
      snapshotMaxTenants: int('AUDIENCE_SNAPSHOT_MAX_TENANTS', 4, 1, 1000),
    },
    checkpointWalMb: int('CHECKPOINT_WAL_MB', DEFAULT_CHECKPOINT_WAL_MB, 1, 65_536),
    funnelIndex: {
      maxAgeS: int('FUNNEL_INDEX_MAX_AGE_S', 3600, 0, 86_400),
      minQueryMs: int('FUNNEL_INDEX_MIN_QUERY_MS', 1000, 0, 3_600_000),
      maxTenants: int('FUNNEL_INDEX_MAX_TENANTS', 2, 1, 1000),
      maxRows: int('FUNNEL_INDEX_MAX_ROWS', 30_000_000, 1, 1_000_000_000),
      storeConcurrency: int('FUNNEL_STORE_CONCURRENCY', databaseUrl ? 2 : 1, 1, 64),
    },
    conversions: {
      meta: campaigns.urls.meta,
      tiktok: campaigns.urls.tiktok,
      googleDataManager: url('GOOGLE_DATAMANAGER_URL', ['https:', 'http:']) ?? 'https://datamanager.googleapis.com',
      ga4: url('GA4_MP_URL', ['https:', 'http:']) ?? 'https://www.google-analytics.com',
    },
  };
  // Compressed chunks take backfilled rows slowly and rewrite on every erasure: only chunks no event can reach.
  const fsc = config.featureStore;
  if (fsc.compressAfterDays > 0 && fsc.compressAfterDays <= limits.backfillDays + 1) {
    problems.push(`COMPRESS_AFTER_DAYS=${fsc.compressAfterDays} must be 0 (off) or more than BACKFILL_DAYS + 1 (${limits.backfillDays + 1}): events are still accepted for younger chunks`);
  }
  if (fsc.pseudonymizeAfterDays > 0 && fsc.pseudonymizeAfterDays <= limits.backfillDays) {
    problems.push(`PSEUDONYMIZE_AFTER_DAYS=${fsc.pseudonymizeAfterDays} must be 0 (off) or more than BACKFILL_DAYS (${limits.backfillDays})`);
  }
  // Each writer lane holds a pool connection and reads need one: an explicit WRITER_LANES that cannot fit is a mistake.
  if (config.databaseUrl && env.WRITER_LANES !== undefined && config.writerLanes > config.databasePoolMax - 1) {
    problems.push(`WRITER_LANES=${config.writerLanes} needs DATABASE_POOL_MAX of at least ${config.writerLanes + 1} (it is ${config.databasePoolMax}): raise DATABASE_POOL_MAX or lower WRITER_LANES`);
  }
  // An accepted backfilled event older than retention would be acknowledged, then dropped by the next gdpr.retention run.
  if (limits.backfillDays >= config.retentionMonths * 28) {
    problems.push(`BACKFILL_DAYS=${limits.backfillDays} must be less than RETENTION_MONTHS × 28 days (${config.retentionMonths * 28}): older events would be accepted, then deleted by retention; lower BACKFILL_DAYS or raise RETENTION_MONTHS`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
