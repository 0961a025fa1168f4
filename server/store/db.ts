// One small SQL interface over the two backends: embedded PGlite (+ TimescaleDB) and a `pg` pool.
// Everything above this file speaks `Db`; the SQL dialect and the migrations are shared.
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import type { Logger } from 'pino';

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  /** Runs a multi-statement script without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/** What /health reports as `store` (README "Plain PostgreSQL mode"). */
export type StoreKind = 'embedded' | 'timescaledb' | 'postgres';

export interface Db extends Queryable {
  readonly kind: 'embedded' | 'postgres';
  /**
   * A PostgreSQL server without TimescaleDB (README "Plain PostgreSQL mode"): tx_events in monthly partitions,
   * no policies. Absent or false: TimescaleDB (the embedded store, or a server with the extension).
   */
  readonly plain?: boolean;
  /** Runs fn inside BEGIN/COMMIT on one connection; rolls back when fn throws. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /**
   * Embedded store only (GDPR erasure): rewrites `tables` (tables or chunks) without their dead rows, then
   * drops the WAL that still holds them, so deleted values leave the data directory's files. Absent on a
   * Postgres server, where VACUUM FULL would lock production tables and the WAL belongs to the operator
   * (README, GDPR: what stays on disk).
   */
  purge?(tables: string[]): Promise<void>;
  /**
   * Whether the store answered last time it was asked: false after a statement (or a connection for one) failed as
   * unavailable (isUnavailable), true again after any statement succeeds. /health reports it with the writer's flag,
   * so a store gone away while only reads ran is degraded too. Absent: always reachable.
   */
  reachable?(): boolean;
  /**
   * reachable(), after a `SELECT 1` when nothing has run for a few seconds (at most one every few seconds, one at a
   * time), waited for at most `maxWaitMs` (it goes on in the background after that). Never throws.
   */
  checkReachable?(maxWaitMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/** How long without any outcome before checkReachable asks the store itself, and how often it may. */
export const REACHABILITY_PROBE_INTERVAL_MS = 3_000;

export interface Reachability {
  /** One statement's outcome: `true` it succeeded, `false` it failed as unavailable. */
  record(ok: boolean): void;
  reachable(): boolean;
  /** Nothing recorded or probed for the interval and no probe in flight: checkReachable may run a `SELECT 1`. */
  probeDue(): boolean;
  /** Runs `probe` (its outcome is recorded by whoever runs statements) when due; waits at most maxWaitMs. Never throws. */
  check(probe: () => Promise<unknown>, maxWaitMs: number): Promise<boolean>;
}

/**
 * The store's reachability as the statements found it: the last outcome wins (an unavailable-class failure →
 * unreachable, any success → reachable). Starts reachable (the server opened the store to start). Pure but for
 * `now` and the probe it is given.
 */
export function createReachability(now: () => number = Date.now, intervalMs = REACHABILITY_PROBE_INTERVAL_MS): Reachability {
  let up = true;
  let lastAt = now();
  let probing = false;
  const probeDue = () => !probing && now() - lastAt >= intervalMs;
  return {
    record(ok) {
      up = ok;
      lastAt = now();
    },
    reachable: () => up,
    probeDue,
    async check(probe, maxWaitMs) {
      if (!probeDue()) return up;
      probing = true;
      lastAt = now();
      const run = Promise.resolve()
        .then(probe)
        .catch(() => undefined)
        .finally(() => {
          probing = false;
        });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([run, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, maxWaitMs))))]);
      clearTimeout(timer);
      return up;
    },
  };
}

/** The database could not be reached (or dropped the connection): the caller may spool and retry later. */
export class StoreUnavailableError extends Error {
  constructor(message: string, public readonly cause?: unknown) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * The server is shutting down: the writer (or the store behind it) takes no more work. Not "unavailable" (nothing
 * is spooled, nothing is logged as a failure): HTTP answers it 503 `shutting_down` and closes the connection
 * (http/errors.ts errorToReply), and the client retries, against another node or this one once restarted.
 */
export class ShuttingDownError extends Error {
  constructor(message = 'the server is shutting down') {
    super(message);
    this.name = 'ShuttingDownError';
  }
}

/**
 * PostgreSQL SQLSTATEs that mean "the server or connection is gone", not "your data is wrong": 08 connection
 * exception, 53 insufficient resources (disk full, out of memory, too many connections), 57P01–03 (terminated by
 * an administrator, crash shutdown, cannot connect now), 58 system error; and two a server only answers while a
 * connection is being established, so never a statement's fault: 28 (authentication: the password or pg_hba
 * changed) and 3D000 (the database does not exist: dropped or renamed).
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-3]|58|28|3D000)/;
/** 55000 (object_not_in_prerequisite_state) is an ordinary statement error too; this is the connection refusal's. */
const NOT_ACCEPTING_CONNECTIONS = /is not currently accepting connections/i;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

/** Where a store error was raised: while establishing a connection, or by a statement on an open one. */
export type StorePhase = 'connect' | 'statement';

/**
 * Whether `err` means the store is unavailable (spool and retry, 503, /health degraded) rather than a bug or bad
 * data in the request (500, or 400 from the route). Anything that fails while a connection is being established
 * is unavailability whatever its code: no statement ran, so nothing about the request can be wrong (55000 "database
 * … is not currently accepting connections" after ALTER DATABASE … ALLOW_CONNECTIONS false, 3D000, 28xxx, 53300,
 * 57P03, socket errors, the pool's connect timeout). A statement's error only when its code or message says the
 * server or the connection went away; constraint violations, syntax errors and the like stay the caller's.
 */
export function isUnavailable(err: unknown, phase: StorePhase = 'statement'): boolean {
  if (err instanceof StoreUnavailableError) return true;
  if (phase === 'connect') return true;
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown };
  const msg = typeof e.message === 'string' ? e.message : '';
  if (typeof e.code === 'string') {
    if (NETWORK_CODES.has(e.code) || UNAVAILABLE_SQLSTATE.test(e.code)) return true;
    if (e.code === '55000' && NOT_ACCEPTING_CONNECTIONS.test(msg)) return true;
  }
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable|Client was closed|timeout exceeded when trying to connect/i.test(msg);
}

/** A Postgres error carried back from the embedded store's worker thread. */
/** PostgreSQL's undefined_table (42P01): for maintenance that lists tables, then works on each in turn. */
export const isUndefinedTable = (err: unknown): boolean => (err as { code?: string } | null)?.code === '42P01';

export class EmbeddedDbError extends Error {
  code?: string;
  detail?: string;
  constructor(e: { message: string; code?: string; detail?: string }) {
    super(e.message);
    this.name = 'EmbeddedDbError';
    this.code = e.code;
    this.detail = e.detail;
  }
}

/**
 * The embedded store: PGlite + TimescaleDB persisted in DATA_DIR, run in a worker thread (see
 * embedded-worker.mjs). PGlite is one session, so statements are serialised here: a transaction holds the
 * session from BEGIN to COMMIT and everything else waits its turn.
 */
/** A FIFO lock: each call runs after every earlier one has settled (one database session, one statement at a time). */
export function createExclusive(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

/**
 * query/exec/tx over one session behind `exclusive`, so a transaction's statements are never interleaved with
 * anyone else's (the embedded store, and the campaign simulation's in-thread PGlite). `alive` false skips the
 * ROLLBACK of a session that is gone.
 */
export function oneSession(session: Queryable, exclusive: <T>(fn: () => Promise<T>) => Promise<T>, log: Logger, alive: () => boolean = () => true): Pick<Db, 'kind' | 'query' | 'exec' | 'tx'> {
  return {
    kind: 'embedded',
    query: (sql, params) => exclusive(() => session.query(sql, params)),
    exec: (sql) => exclusive(() => session.exec(sql)),
    tx: (fn) =>
      exclusive(async () => {
        // BEGIN goes out with the first statement instead of a round trip ahead of it: the session runs
        // statements in the order they are sent, and a failed BEGIN fails the transaction here.
        const begun = session.exec('BEGIN');
        try {
          const [, out] = await Promise.all([begun, fn(session)]);
          await session.exec('COMMIT');
          return out;
        } catch (err) {
          if (alive()) await session.exec('ROLLBACK').catch((e: Error) => log.warn({ err: e.message }, 'rollback failed'));
          throw err;
        }
      }),
  };
}

export async function openEmbedded(dataDir: string, log: Logger): Promise<Db> {
  const dir = path.resolve(dataDir, 'pgdata');
  fs.mkdirSync(dir, { recursive: true });
  const started = Date.now();
  const worker = new Worker(new URL('./embedded-worker.mjs', import.meta.url), { workerData: { dataDir: dir } });
  const pending = new Map<number, { resolve: (rows: unknown[]) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let dead: Error | null = null;
  let closing = false;
  await new Promise<void>((resolve, reject) => {
    worker.once('message', (m: { ready: boolean; error?: { message: string } }) =>
      m.ready ? resolve() : reject(new Error(`embedded database failed to open in ${dir}: ${m.error?.message}`)),
    );
    worker.once('error', reject);
  });
  worker.on('message', (m: { id?: number; rows?: unknown[]; error?: { message: string; code?: string; detail?: string } }) => {
    if (m.id === undefined) return;
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (!p) return;
    if (m.error) p.reject(new EmbeddedDbError(m.error));
    else p.resolve(m.rows ?? []);
  });
  const fail = (err: Error) => {
    // Closed by the server's shutdown: what still asks is answered as the shutdown, not as an outage.
    dead = closing ? new ShuttingDownError('the server is shutting down: the embedded database is closed') : new StoreUnavailableError(`embedded database worker stopped: ${err.message}`, err);
    for (const p of pending.values()) p.reject(dead);
    pending.clear();
    if (!closing) log.error({ err: err.message }, 'embedded database worker stopped');
  };
  worker.on('error', fail);
  worker.on('exit', (code) => {
    if (!dead) fail(new Error(`exit code ${code}`));
  });
  log.info({ dir, ms: Date.now() - started }, 'embedded TimescaleDB (PGlite) opened in a worker thread');

  const call = (op: 'query' | 'exec' | 'close', sql?: string, params?: unknown[]) =>
    new Promise<unknown[]>((resolve, reject) => {
      if (dead) return reject(dead);
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, op, sql, params });
    });

  const exclusive = createExclusive();
  const session: Queryable = {
    async query<T>(sql: string, params?: unknown[]) {
      return { rows: (await call('query', sql, params)) as T[] };
    },
    async exec(sql: string) {
      await call('exec', sql);
    },
  };

  return {
    ...oneSession(session, exclusive, log, () => !dead),
    // One worker thread: reachable while it runs (it stopping is the embedded store's only outage).
    reachable: () => !dead,
    checkReachable: async () => !dead,
    purge: (tables) =>
      exclusive(async () => {
        // VACUUM cannot run in a transaction block: one statement each. FULL writes a new file for each table
        // (and its indexes and TOAST) and unlinks the old one, dead rows included.
        for (const t of tables) {
          const rel = t.split('.').map((x) => `"${x.replace(/^"|"$/g, '').replace(/"/g, '""')}"`).join('.');
          // A column added with a default (ADD COLUMN … DEFAULT, the migrations' way) keeps that default in
          // pg_attribute until the table is rewritten; the rewrite clears it, and PGlite's session then holds a
          // stale copy of those pg_attribute rows: the next VACUUM FULL of the table failed with "tuple
          // concurrently deleted" (every erasure after the first of a process). Touching each such column with a
          // no-op ALTER after the rewrite refreshes the copy.
          const missing = await session.query<{ col: string }>('SELECT quote_ident(attname) AS col FROM pg_attribute WHERE attrelid = $1::regclass AND atthasmissing', [rel]);
          await session.query(`VACUUM FULL ${rel}`);
          for (const { col } of missing.rows) await session.query(`ALTER TABLE ${rel} ALTER COLUMN ${col} SET STATISTICS -1`);
        }
        // Planner statistics (jobs/analyze.ts) keep sampled column values, an erased person's ids among them:
        // dropped with the file that held them; store.analyze gathers them again from what is left.
        await session.query('DELETE FROM pg_statistic');
        await session.query('VACUUM FULL pg_statistic');
        // The WAL still holds the deleted rows (and full-page images of their pages): switch to a new segment
        // and checkpoint, with recycling off so the old segments are unlinked rather than renamed for reuse.
        // PGlite is single-user, so this session's setting is the one the checkpoint uses.
        await session.query('SET wal_recycle = off');
        await session.query('SELECT pg_switch_wal()');
        await session.query('CHECKPOINT');
        // Earlier checkpoints (store.checkpoint, with recycling on) renamed old segments, content and all, to
        // names ahead of the current one for reuse: unlink those too. Postgres creates a segment it finds
        // missing when it gets there; it holds only the current one open.
        const [{ current }] = (await session.query<{ current: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS current')).rows;
        const walDir = path.join(dir, 'pg_wal');
        for (const f of fs.readdirSync(walDir)) if (/^[0-9A-F]{24}$/.test(f) && f > current) fs.rmSync(path.join(walDir, f), { force: true });
      }),
    async close() {
      if (dead) return;
      closing = true;
      await exclusive(() => call('close'));
      await worker.terminate();
    },
  };
}

/** The oldest PostgreSQL server accepted: date_bin and the partitioning used in plain mode need 14. */
export const MIN_SERVER_VERSION_NUM = 140000;

/** What app.ts openStore found on an accepted PostgreSQL server (see serverVersionProblem for the version). */
export interface ServerFacts {
  /** The timescaledb extension is (now) installed in this database. */
  timescale: boolean;
  /** tx_events exists as a partitioned table: a database already set up in plain mode stays plain. */
  partitioned: boolean;
}

/** Why a PostgreSQL server is refused (too old), or null. `versionNum`: server_version_num, e.g. 150004. Pure. */
export function serverVersionProblem(versionNum: number): string | null {
  if (Number.isInteger(versionNum) && versionNum >= MIN_SERVER_VERSION_NUM) return null;
  const major = Number.isInteger(versionNum) ? String(Math.floor(versionNum / 10000)) : 'unknown';
  return `The PostgreSQL server at DATABASE_URL is version ${major}; Tixello Live needs PostgreSQL 14 or later. Upgrade the server, or unset DATABASE_URL to use the embedded store.`;
}

/**
 * Which store an accepted PostgreSQL server is. Pure. A database once migrated in plain mode stays plain even if
 * TimescaleDB appears later (its tx_events is no hypertable and cannot become one in place).
 */
export function decideServerKind(f: ServerFacts): 'timescaledb' | 'postgres' {
  return f.timescale && !f.partitioned ? 'timescaledb' : 'postgres';
}

/** /health's `store`. */
export function storeKindOf(db: Pick<Db, 'kind' | 'plain'>): StoreKind {
  return db.kind === 'embedded' ? 'embedded' : db.plain ? 'postgres' : 'timescaledb';
}

/**
 * A PostgreSQL server through a `pg` pool. `plain`: the server has no TimescaleDB (app.ts openStore decides,
 * decideServerKind); tests that set up a schema themselves leave it out.
 */
export async function openPostgres(url: string, poolMax: number, log: Logger, opts: { plain?: boolean } = {}): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: poolMax, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', (err) => log.warn({ err: err.message }, 'idle postgres connection lost'));
  // Every statement's outcome (and every connection's failure) is where the store's reachability is known.
  const reach = createReachability();
  const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      const out = await fn();
      reach.record(true);
      return out;
    } catch (err) {
      // An ordinary statement error (or a shutdown) says nothing either way: the last outcome stands.
      if (err instanceof ShuttingDownError || !isUnavailable(err)) throw err;
      reach.record(false);
      if (err instanceof StoreUnavailableError) throw err;
      throw new StoreUnavailableError(`database unreachable: ${(err as Error).message}`, err);
    }
  };
  // A client of the pool, asked for apart from its first statement (pool.query does both in one call, and its
  // error does not say which failed): a failure here, whatever the server answered, is the store being
  // unavailable (isUnavailable 'connect'), e.g. 55000 while the database does not allow connections.
  let ended = false;
  const connect = async (): Promise<pg.PoolClient> => {
    // Work still running when the server closes the store (a request answered late) gets the shutdown's 503,
    // not pg-pool's "Cannot use a pool after calling end on the pool".
    if (ended) throw new ShuttingDownError('the server is shutting down: the database connections are closed');
    try {
      return await pool.connect();
    } catch (err) {
      throw new StoreUnavailableError(`database unreachable: cannot connect: ${(err as Error)?.message ?? String(err)}`, err);
    }
  };
  // One statement on a client of its own, as pool.query runs it: released after, and destroyed on any error
  // (an error event while it runs, e.g. the connection dropping, ends it too).
  const statement = async (sql: string, params?: unknown[]): Promise<pg.QueryResult> => {
    const client = await connect();
    return new Promise<pg.QueryResult>((resolve, reject) => {
      let released = false;
      const done = (err: Error | undefined, r?: pg.QueryResult) => {
        if (released) return;
        released = true;
        client.removeListener('error', done);
        client.release(err);
        if (err) reject(err);
        else resolve(r!);
      };
      client.once('error', done);
      client.query(sql, params).then((r) => done(undefined, r), (err: Error) => done(err));
    });
  };
  return {
    kind: 'postgres',
    plain: opts.plain ?? false,
    query<T>(sql: string, params?: unknown[]) {
      return wrap(async () => {
        const r = await statement(sql, params);
        return { rows: r.rows as T[] };
      });
    },
    exec(sql: string) {
      return wrap(async () => {
        await statement(sql);
      });
    },
    tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      return wrap(async () => {
        const client = await connect();
        // A connection dropping between two statements is emitted on the client, not thrown: keep it from
        // crashing the process; the next statement fails and the batch goes to the spool.
        const onError = (err: Error) => log.warn({ err: err.message }, 'postgres connection lost inside a transaction');
        client.on('error', onError);
        let broken = false;
        try {
          await client.query('BEGIN');
          const out = await fn({
            async query<R>(sql: string, params?: unknown[]) {
              const r = await client.query(sql, params);
              return { rows: r.rows as R[] };
            },
            async exec(sql: string) {
              await client.query(sql);
            },
          });
          await client.query('COMMIT');
          return out;
        } catch (err) {
          broken = isUnavailable(err);
          if (!broken) await client.query('ROLLBACK').catch((rbErr: Error) => log.warn({ err: rbErr.message }, 'rollback failed'));
          throw err;
        } finally {
          client.off('error', onError);
          client.release(broken ? true : undefined);
        }
      });
    },
    reachable: () => reach.reachable(),
    checkReachable(maxWaitMs = 1_000) {
      return reach.check(() => wrap(() => statement('SELECT 1')), maxWaitMs);
    },
    async close() {
      ended = true;
      await pool.end();
    },
  };
}
