// Opening the configured store: the embedded one, or DATABASE_URL checked, version-gated and given TimescaleDB
// when it can have it (else plain mode, README "Plain PostgreSQL mode").
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { decideServerKind, openEmbedded, serverVersionProblem, openPostgres, type Db } from './db.js';
import { queries } from './queries.js';

const Q = queries('store.sql', ['ping', 'timescaledb_version', 'create_timescaledb', 'server_version_num', 'tx_events_partitioned']);

export class StoreSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreSetupError';
  }
}

export async function openStore(config: Config, log: Logger): Promise<Db> {
  if (!config.databaseUrl) return openEmbedded(config.dataDir, log.child({ mod: 'store' }));
  const db = await openPostgres(config.databaseUrl, config.databasePoolMax, log.child({ mod: 'store' }));
  try {
    await db.query(Q.ping);
  } catch (err) {
    await db.close();
    throw new StoreSetupError(`Cannot reach DATABASE_URL (${(err as Error).message}). Check host, port and credentials, or unset DATABASE_URL to use the embedded store.`);
  }
  // Refused before anything is created in it.
  const tooOld = serverVersionProblem(Number((await db.query<{ n: number }>(Q.server_version_num)).rows[0].n));
  if (tooOld) {
    await db.close();
    throw new StoreSetupError(tooOld);
  }
  // TimescaleDB when the server has it (installed, or installable here); otherwise plain mode (README "Plain
  // PostgreSQL mode"). A database already migrated in plain mode is not given the extension.
  const partitioned = (await db.query<{ partitioned: boolean }>(Q.tx_events_partitioned)).rows[0].partitioned;
  let timescale = (await db.query(Q.timescaledb_version)).rows.length > 0;
  let reason: string | undefined;
  if (!timescale && !partitioned) {
    try {
      await db.query(Q.create_timescaledb);
      timescale = true;
    } catch (err) {
      reason = (err as Error).message;
    }
  }
  if (decideServerKind({ timescale, partitioned }) !== 'postgres') return db;
  // Said on every start, not only the first: an operator reading a restart's log learns the mode too.
  log.info(reason === undefined ? { partitioned } : { reason }, 'no TimescaleDB extension at DATABASE_URL: plain PostgreSQL mode (monthly partitions)');
  return { ...db, plain: true };
}
