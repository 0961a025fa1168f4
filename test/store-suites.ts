// One suite on both stores: the embedded PGlite + TimescaleDB and a fresh database of the machine's PostgreSQL 15
// in plain mode (dropped after), each migrated and seeded once; `body` reads the store and the seeded tenant.
import crypto from 'node:crypto';
import fs from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { openEmbedded, openPostgres, type Db } from '../server/store/db.js';
import { migrate } from '../server/store/migrate.js';
import { silent, tmpDir } from './helpers.js';

const ADMIN_URL = process.env.PLAIN_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type StoreCtx = () => { db: Db; tenant: number };

export function onBothStores(title: string, prefix: string, seed: (db: Db) => Promise<number>, body: (ctx: StoreCtx) => void): void {
  describe(`${title} on the embedded store`, () => {
    let db: Db;
    let tenant: number;
    beforeAll(async () => {
      db = await openEmbedded(tmpDir(`txl-${prefix}-`), silent);
      await migrate(db, silent);
      tenant = await seed(db);
    }, 120_000);
    afterAll(async () => db?.close());
    body(() => ({ db, tenant }));
  });

  describe(`${title} on plain PostgreSQL 15`, () => {
    let scratch: ScratchDatabase | undefined;
    let db: Db;
    let tenant: number;
    beforeAll(async () => {
      scratch = await scratchDatabase(prefix);
      db = await openPostgres(scratch.url, 2, silent, { plain: true });
      await migrate(db, silent);
      tenant = await seed(db);
    }, 120_000);
    afterAll(async () => {
      await db?.close();
      await scratch?.drop();
    });
    body(() => ({ db, tenant }));
  });
}

export interface ScratchDatabase {
  /** postgres://… of the new database. */
  url: string;
  /** Drops it (connections still open are ended: WITH (FORCE)). */
  drop(): Promise<void>;
}

/** A fresh database on the machine's PostgreSQL (PLAIN_PG_URL's server, or `adminUrl`'s), named after `prefix`. */
export async function scratchDatabase(prefix: string, adminUrl = ADMIN_URL): Promise<ScratchDatabase> {
  const name = `${prefix.replace(/-/g, '_')}_${crypto.randomBytes(6).toString('hex')}`;
  // One short admin connection each to create and to drop: none is held open for the suite's length, so a
  // connection the server cuts meanwhile cannot take the test process down or leave the database behind.
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** A migrated embedded store in a temporary directory; `close` closes it and removes the directory. */
export async function scratchEmbedded(prefix: string): Promise<{ db: Db; close(): Promise<void> }> {
  const dir = tmpDir(`txl-${prefix}-`);
  const db = await openEmbedded(dir, silent);
  await migrate(db, silent);
  return {
    db,
    close: async () => {
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
