// Numbered migrations from sql/, applied once and in order. Each runs in its own transaction under a
// transaction-scoped advisory lock, so two nodes booting together apply every file exactly once.
// The same files serve both flavours of the schema (README "Plain PostgreSQL mode"): with TimescaleDB (embedded
// store, a TimescaleDB server) and on a plain PostgreSQL. Two line markers keep them one text:
//   -- timescale-only            lines up to `-- end timescale-only` are skipped on plain PostgreSQL;
//   -- plain-only: <sql>          the line becomes <sql> on plain PostgreSQL, and stays a comment elsewhere
// (so a file run by hand through psql on TimescaleDB does what it always did).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Db } from './db.js';

export const SQL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../sql');
const LOCK_KEY = 7_465_001; // arbitrary, constant across nodes

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export class DuplicateMigrationError extends Error {
  constructor(readonly version: number, readonly names: string[]) {
    super(`migrations ${names.join(' and ')} share the number ${String(version).padStart(3, '0')}: only one would ever be applied; renumber one of them`);
    this.name = 'DuplicateMigrationError';
  }
}

export function readMigrations(dir = SQL_DIR): Migration[] {
  const all = fs
    .readdirSync(dir)
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f, sql: fs.readFileSync(path.join(dir, f), 'utf8') }));
  // The version is the key of schema_migrations: a second file with the same number would be skipped silently.
  for (let i = 1; i < all.length; i++) {
    if (all[i].version === all[i - 1].version) throw new DuplicateMigrationError(all[i].version, [all[i - 1].name, all[i].name]);
  }
  return all;
}

export type SchemaFlavour = 'timescaledb' | 'plain';

/** A migration's text for one flavour of the schema (the markers above). Pure. */
export function forFlavour(sql: string, flavour: SchemaFlavour): string {
  const out: string[] = [];
  let skipping = false;
  for (const line of sql.split('\n')) {
    const t = line.trim();
    if (t === '-- timescale-only') {
      skipping = flavour === 'plain';
      continue;
    }
    if (t === '-- end timescale-only') {
      skipping = false;
      continue;
    }
    if (skipping) continue;
    const plain = /^(\s*)-- plain-only: (.*)$/.exec(line);
    out.push(plain && flavour === 'plain' ? plain[1] + plain[2] : line);
  }
  return out.join('\n');
}

/** The schema's flavour follows the store: only a PostgreSQL server without TimescaleDB gets the plain one. */
export function flavourOf(db: Pick<Db, 'plain'>): SchemaFlavour {
  return db.plain ? 'plain' : 'timescaledb';
}

export async function migrate(db: Db, log: Logger, migrations = readMigrations()): Promise<string[]> {
  const flavour = flavourOf(db);
  await db.tx(async (q) => {
    await q.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await q.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  });
  const applied: string[] = [];
  for (const m of migrations) {
    const done = await db.tx(async (q) => {
      await q.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
      const { rows } = await q.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (rows.length > 0) return false;
      await q.exec(forFlavour(m.sql, flavour));
      await q.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (done) {
      applied.push(m.name);
      log.info({ migration: m.name }, 'migration applied');
    }
  }
  return applied;
}
