// Seed 003's data retention policy for the feature store (README "Feature store": retention): aggregates kept
// AGGREGATE_RETENTION_MONTHS (raw events go after RETENTION_MONTHS, gdpr/retention.ts); raw chunks compressed
// after COMPRESS_AFTER_DAYS (TimescaleDB only); raw months exported to ARCHIVE_DIR as gzipped NDJSON before
// retention can drop them; visitor, session and person ids of raw events older than PSEUDONYMIZE_AFTER_DAYS
// replaced by keyed hashes, and the customer identifiers in them removed. What the store cannot do is said once at boot and in /health (`feature_store`).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Logger } from 'pino';
import type { FeatureStoreConfig } from '../config/index.js';
import type { Job, JobContext } from '../jobs/index.js';
import type { Db } from '../store/db.js';
import { queries } from '../store/queries.js';
import { DAY_MS, HOUR_MS } from './model.js';

const Q = queries('features-retention.sql', [
  'compression_enabled', 'enable_compression', 'compress_old', 'drop_hourly', 'drop_event_daily', 'drop_person_daily', 'has_watermark_catalog', 'raise_watermarks',
  'prune_hourly', 'prune_event_daily', 'prune_person_daily', 'prune_timings', 'archive_months', 'archive_slice',
  'pseudo_visitors', 'pseudo_sessions', 'pseudo_persons', 'set_visitors', 'set_sessions', 'set_persons', 'strip_identifiers',
]);
const S = queries('features.sql', ['job_state', 'save_job_state']);

export interface RetentionDeps {
  db: Db;
  log: Logger;
  settings: FeatureStoreConfig;
  /** RETENTION_MONTHS of the raw events. */
  rawRetentionMonths: number;
  /** BACKFILL_DAYS: a month is archived once no new row can arrive for it. */
  backfillDays: number;
  /** Key of the pseudonyms (derived from ENCRYPTION_KEY); null: pseudonymisation cannot run. */
  secret: Buffer | null;
  /** Refreshes the aggregates' buckets of these UTC days (aggregates.ts): pseudonymised days. */
  refreshDays(days: string[], now: number): Promise<number>;
  /** Recomputes these persons' rows (jobs.ts): the persons whose rows were pseudonymised, and their pseudonyms. */
  recountPersons(tenants: number[], persons: string[], now: number): Promise<void>;
}

/** `months` calendar months before `now`, at the same instant (UTC). Pure. */
export const monthsBefore = (now: number, months: number): number => {
  const d = new Date(now);
  d.setUTCMonth(d.getUTCMonth() - months);
  return d.getTime();
};

/** fs_job_state row where features.aggregate_retention records its cutoff (refreshed_to). */
const PRUNE_JOB = 'features.aggregate_retention';

/**
 * The instant before which features.aggregate_retention removed the aggregates and timings (its last run's
 * monthsBefore(now, AGGREGATE_RETENTION_MONTHS), recorded in fs_job_state); null before its first run. Every
 * recount reads it and writes no bucket before it (aggregates.ts refresh and refreshDays, jobs.ts timings and
 * decision times): the raw rows outlive the aggregates (RETENTION_MONTHS), so a recount from them would bring
 * back the pruned days until the next run (on plain PostgreSQL each day: features.full at 03:15, retention at 04:00).
 */
export async function aggregateCutoff(db: Db): Promise<number | null> {
  const at = (await db.query<{ refreshed_to: Date | string | null }>(S.job_state, [PRUNE_JOB])).rows[0]?.refreshed_to;
  return at ? new Date(at).getTime() : null;
}

/**
 * The first UTC day a recount of whole days may rewrite: `from`'s day, or the first whole day at or after the
 * cutoff when later (the day holding the cutoff lost its daily rows; its hours after it stay as they are). Pure.
 */
export function recountFrom(from: number, cutoff: number | null): number {
  const day = Math.floor(from / DAY_MS) * DAY_MS;
  return cutoff === null ? day : Math.max(day, Math.ceil(cutoff / DAY_MS) * DAY_MS);
}

/** What each setting does on this store, for the boot log and /health. Pure. */
export function capabilities(s: FeatureStoreConfig, plain: boolean, hasSecret: boolean): Record<string, string> {
  return {
    aggregate_retention: `${s.aggregateRetentionMonths} months`,
    compression: s.compressAfterDays === 0 ? 'off' : plain ? 'unsupported: plain PostgreSQL has no TimescaleDB compression' : `after ${s.compressAfterDays} days`,
    archive: s.archiveDir === null ? 'off' : `to ${s.archiveDir}`,
    pseudonymize: s.pseudonymizeAfterDays === 0 ? 'off' : hasSecret ? `after ${s.pseudonymizeAfterDays} days` : 'unsupported: needs ENCRYPTION_KEY',
  };
}

/** A keyed pseudonym of a visitor or session id: `px_` and 32 hex digits of HMAC-SHA256. Pure. */
export const pseudonym = (secret: Buffer, kind: string, id: string): string =>
  'px_' + crypto.createHmac('sha256', secret).update(`${kind}\0${id}`).digest('hex').slice(0, 32);

/** A person id's pseudonym: a negative bigint from the HMAC (never a persons row, still distinct per person). Pure. */
export const personPseudonym = (secret: Buffer, tenant: string, person: string): string =>
  '-' + (crypto.createHmac('sha256', secret).update(`person\0${tenant}\0${person}`).digest().readBigUInt64BE(0) >> 2n).toString();

const iso = (ms: number) => new Date(ms).toISOString();
const PSEUDO_BATCH = 5000;

export interface FeatureRetention {
  capabilities(): Record<string, string>;
  jobs(): Job[];
}

export function createFeatureRetention(deps: RetentionDeps): FeatureRetention {
  const { db, log, settings: s } = deps;
  const caps = capabilities(s, !!db.plain, deps.secret !== null);
  for (const [k, v] of Object.entries(caps)) if (v.startsWith('unsupported')) log.warn({ setting: k }, `feature store: ${k} ${v}`);

  const pruneAggregates = async (ctx: JobContext) => {
    const before = iso(monthsBefore(ctx.now(), s.aggregateRetentionMonths));
    // Recorded first: a recount starting from now on keeps out of what this run removes (aggregateCutoff).
    await db.query(S.save_job_state, [PRUNE_JOB, 0, iso(ctx.now()), before]);
    const sqls = db.plain ? [Q.prune_hourly, Q.prune_event_daily, Q.prune_person_daily] : [Q.drop_hourly, Q.drop_event_daily, Q.drop_person_daily];
    let n = 0;
    for (const sql of [...sqls, Q.prune_timings]) n += (await db.query<{ n: number }>(sql, [before])).rows[0].n;
    if (!db.plain && (await db.query<{ ok: boolean }>(Q.has_watermark_catalog)).rows[0]?.ok) {
      const raised = (await db.query<{ n: number }>(Q.raise_watermarks, [before])).rows[0].n;
      if (raised > 0) log.info({ raised, before }, 'continuous aggregates emptied by retention: watermark kept at the retention cutoff');
    }
    return n;
  };

  const compress = async (ctx: JobContext) => {
    if (!(await db.query<{ on: boolean }>(Q.compression_enabled)).rows[0]?.on) await db.query(Q.enable_compression);
    return (await db.query<{ n: number }>(Q.compress_old, [iso(ctx.now() - s.compressAfterDays * DAY_MS)])).rows[0].n;
  };

  const jobs: Job[] = [{ name: 'features.aggregate_retention', schedule: { daily: '04:00', tz: 'UTC' }, timeoutS: 3600, run: pruneAggregates }];
  if (s.compressAfterDays > 0 && !db.plain) jobs.push({ name: 'features.compress', schedule: { daily: '04:15', tz: 'UTC' }, timeoutS: 7200, run: compress });
  if (s.archiveDir !== null) jobs.push({ name: 'features.archive', schedule: { daily: '04:30', tz: 'UTC' }, timeoutS: 7200, run: (ctx) => archive(deps, ctx) });
  if (s.pseudonymizeAfterDays > 0 && deps.secret) jobs.push({ name: 'features.pseudonymize', schedule: { daily: '04:45', tz: 'UTC' }, timeoutS: 7200, run: (ctx) => pseudonymize(deps, ctx) });
  return { capabilities: () => caps, jobs: () => jobs };
}

interface ManifestEntry {
  tenant_id: number;
  month: string;
  file: string;
  rows: number;
  sha256: string;
  archived_at: string;
}

/**
 * Every tenant × month whose first rows retention drops within the next month (and earlier ones still stored) is written
 * once to ARCHIVE_DIR/tenant-{id}/{YYYY-MM}.ndjson.gz (one JSON row per line, an hour of rows per query), then
 * recorded in ARCHIVE_DIR/manifest.json with its row count and digest. A file is written under a temporary
 * name and renamed, so a crash never leaves a partial archive under the final name.
 */
async function archive(deps: RetentionDeps, ctx: JobContext): Promise<number> {
  const dir = deps.settings.archiveDir!;
  await fs.promises.mkdir(dir, { recursive: true });
  const manifestFile = path.join(dir, 'manifest.json');
  const manifest: ManifestEntry[] = fs.existsSync(manifestFile) ? JSON.parse(fs.readFileSync(manifestFile, 'utf8')) : [];
  // Months whose first rows retention drops within a month: their start is before now - (RETENTION_MONTHS - 1).
  const horizon = monthsBefore(ctx.now(), deps.rawRetentionMonths - 1);
  const months = (await deps.db.query<{ tenant_id: string; month: string; n: number }>(Q.archive_months, [iso(horizon)])).rows;
  let rows = 0;
  for (const m of months) {
    if (manifest.some((e) => e.tenant_id === Number(m.tenant_id) && e.month === m.month)) continue;
    const start = Date.parse(`${m.month}-01T00:00:00Z`);
    const end = monthsBefore(start, -1);
    // A month that can still receive rows (inside the backfill window) waits for a later run.
    if (end > ctx.now() - (deps.backfillDays + 1) * DAY_MS) continue;
    const rel = path.join(`tenant-${m.tenant_id}`, `${m.month}.ndjson.gz`);
    const entry = await writeMonth(deps.db, ctx, path.join(dir, rel), Number(m.tenant_id), start, end);
    manifest.push({ tenant_id: Number(m.tenant_id), month: m.month, file: rel, ...entry, archived_at: new Date(ctx.now()).toISOString() });
    fs.writeFileSync(`${manifestFile}.tmp`, JSON.stringify(manifest, null, 2));
    fs.renameSync(`${manifestFile}.tmp`, manifestFile);
    rows += entry.rows;
  }
  return rows;
}

async function writeMonth(db: Db, ctx: JobContext, file: string, tenant: number, start: number, end: number): Promise<{ rows: number; sha256: string }> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  const gz = zlib.createGzip();
  const out = fs.createWriteStream(tmp);
  const hash = crypto.createHash('sha256');
  gz.on('data', (b: Buffer) => hash.update(b));
  const done = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
    gz.on('error', reject);
  });
  gz.pipe(out);
  let rows = 0;
  for (let h = start; h < end; h += HOUR_MS) {
    ctx.signal.throwIfAborted();
    const slice = (await db.query<{ doc: unknown }>(Q.archive_slice, [tenant, iso(h), iso(h + HOUR_MS)])).rows;
    for (const r of slice) gz.write(JSON.stringify(r.doc) + '\n');
    rows += slice.length;
  }
  gz.end();
  await done;
  fs.renameSync(tmp, file);
  return { rows, sha256: hash.digest('hex') };
}

/**
 * Rows before this instant are pseudonymised: the UTC midnight at or before now − days. Whole days, so a
 * visitor is never one id before the run's time of day and another after it within one day (distinct
 * visitors of that day would count them twice). Pure.
 */
export function pseudonymCutoff(now: number, days: number): number {
  return Math.floor((now - days * DAY_MS) / DAY_MS) * DAY_MS;
}

/**
 * Raw rows older than PSEUDONYMIZE_AFTER_DAYS get keyed pseudonyms for their visitor, session and person ids,
 * PSEUDO_BATCH distinct ids per statement (set-based: the mapping is computed here, the rows change in SQL), and
 * lose the customer identifiers of their payload and context (features-retention.sql strip_identifiers).
 * Each run covers the rows that crossed the age since the previous run (from a day before its cutoff).
 */
async function pseudonymize(deps: RetentionDeps, ctx: JobContext): Promise<number> {
  const { db } = deps;
  const secret = deps.secret!;
  const job = 'features.pseudonymize';
  const cutoff = pseudonymCutoff(ctx.now(), deps.settings.pseudonymizeAfterDays);
  const prev = (await db.query<{ refreshed_to: Date | string | null }>(S.job_state, [job])).rows[0]?.refreshed_to;
  const range = [iso(prev ? new Date(prev).getTime() - DAY_MS : 0), iso(cutoff)];
  let n = 0;
  const days = new Set<string>();
  const persons: [number[], string[]] = [[], []];
  const pass = async (select: string, update: string, map: (ids: string[]) => unknown[]) => {
    for (;;) {
      ctx.signal.throwIfAborted();
      const ids = (await db.query<{ id: string }>(select, [...range, PSEUDO_BATCH])).rows.map((r) => r.id);
      if (ids.length === 0) return;
      const r = (await db.query<{ n: number; days?: string[] }>(update, [...range, ...map(ids)])).rows[0];
      n += r.n;
      for (const d of r.days ?? []) days.add(d);
      if (ids.length < PSEUDO_BATCH) return;
    }
  };
  await pass(Q.pseudo_visitors, Q.set_visitors, (ids) => [ids, ids.map((v) => pseudonym(secret, 'visitor', v))]);
  await pass(Q.pseudo_sessions, Q.set_sessions, (ids) => [ids, ids.map((v) => pseudonym(secret, 'session', v))]);
  await pass(Q.pseudo_persons, Q.set_persons, (ids) => {
    const pairs = ids.map((x) => x.split(':'));
    const fake = pairs.map(([t, p]) => personPseudonym(secret, t, p));
    pairs.forEach(([t, p], i) => {
      persons[0].push(Number(t), Number(t));
      persons[1].push(p, fake[i]);
    });
    return [pairs.map((p) => p[0]), pairs.map((p) => p[1]), fake];
  });
  for (;;) {
    ctx.signal.throwIfAborted();
    const m = (await db.query<{ n: number }>(Q.strip_identifiers, [...range, PSEUDO_BATCH])).rows[0].n;
    n += m;
    if (m < PSEUDO_BATCH) break;
  }
  // The person rows of those days now carry the pseudonym: the aggregates' days and the persons' features are
  // recounted (the person's own rows without them, the pseudonym's with them), as features.full would leave them.
  await deps.refreshDays([...days], ctx.now());
  if (persons[0].length) await deps.recountPersons(persons[0], persons[1], ctx.now());
  await db.query(S.save_job_state, [job, 0, iso(ctx.now()), iso(cutoff)]);
  return n;
}
