// A PostgreSQL server that refuses new connections (ALTER DATABASE … ALLOW_CONNECTIONS false, its sessions
// terminated) is an unavailable store, like one that is down: ingest spools and answers 200 (503 when the spool
// cannot take the batch either), /health says degraded, and the spool is replayed once connections are allowed
// again. Before, the refusal's SQLSTATE 55000 was taken for a statement error: 500 internal, nothing spooled,
// /health ok throughout. The machine's PostgreSQL 15, a scratch database per test.
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openPostgres, StoreUnavailableError, type Db } from '../server/store/db.js';
import { bootServer, createTenant, getJson, postJson, silent, until, webEvent } from './helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const ADMIN_URL = process.env.PLAIN_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const NO_RATE_LIMIT = { RATE_LIMIT_EVENTS_PER_SEC: '10000000', RATE_LIMIT_BURST: '100000000' };

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

const nameOf = (url: string) => new URL(url).pathname.slice(1);

/** As the operator probe did: no new connections, and every open one of that database ended. */
async function refuseConnections(url: string): Promise<void> {
  const name = nameOf(url);
  await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
  await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`);
}

const allowConnections = (url: string) => admin(`ALTER DATABASE ${nameOf(url)} ALLOW_CONNECTIONS true`);

describe('a PostgreSQL database that refuses new connections', () => {
  let scratch: ScratchDatabase | undefined;
  let db: Db | undefined;
  let server: Awaited<ReturnType<typeof bootServer>> | undefined;
  afterEach(async () => {
    await server?.close();
    await db?.close();
    if (scratch) await allowConnections(scratch.url).catch(() => undefined);
    await scratch?.drop();
    server = db = scratch = undefined;
  });

  it('fails statements and transactions with StoreUnavailableError; an ordinary statement error stays itself', { timeout: 60_000 }, async () => {
    scratch = await scratchDatabase('refused_db');
    db = await openPostgres(scratch.url, 2, silent);
    await db.exec('CREATE TABLE t (id int PRIMARY KEY)');
    await db.query('INSERT INTO t VALUES (1)');
    const dup = await db.query('INSERT INTO t VALUES (1)').catch((e: unknown) => e);
    expect(dup).not.toBeInstanceOf(StoreUnavailableError);
    expect((dup as { code?: string }).code).toBe('23505');

    await refuseConnections(scratch.url);
    const q = await db.query('SELECT 1').catch((e: unknown) => e);
    expect(q).toBeInstanceOf(StoreUnavailableError);
    expect((q as Error).message).toMatch(/not currently accepting connections/);
    expect(((q as StoreUnavailableError).cause as { code?: string }).code).toBe('55000');
    await expect(db.tx((x) => x.query('SELECT 1'))).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(db.exec('SELECT 1')).rejects.toBeInstanceOf(StoreUnavailableError);

    await allowConnections(scratch.url);
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(1);
  });

  it('ingest spools and answers 200 (never 500), /health is degraded; allowed again, the spool is replayed', { timeout: 120_000 }, async () => {
    scratch = await scratchDatabase('refused_ingest');
    server = await bootServer({ DATABASE_URL: scratch.url, ...NO_RATE_LIMIT });
    const base = server.url;
    const t = await createTenant(base, 'refused');
    const send = (events: unknown[]) => postJson(`${base}/api/tx/events/batch`, { events }, { 'x-tx-key': t.write_key });
    const before = Array.from({ length: 5 }, () => webEvent());
    expect((await send(before)).json).toMatchObject({ accepted: 5 });

    await refuseConnections(scratch.url);
    const during = Array.from({ length: 3 }, () => Array.from({ length: 20 }, () => webEvent()));
    for (const events of during) {
      const r = await send(events);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ accepted: 20, duplicates: 0 });
    }
    expect(server.ingest.metrics().spooled).toBe(60);
    expect((await getJson(`${base}/health`)).json).toMatchObject({ status: 'degraded', store_reachable: false });
    // A retry while the database still refuses is a duplicate, not a second copy.
    expect((await send(during[0])).json).toMatchObject({ accepted: 0, duplicates: 20 });

    await allowConnections(scratch.url);
    await until(async () => {
      const h = (await getJson(`${base}/health`)).json;
      return h.store_reachable && h.spool_bytes === 0 && h.status === 'ok';
    }, 60_000, 50);
    const ids = [...before, ...during.flat()].map((e) => e.event_id);
    const stored = await server.db.query<{ event_id: string; n: number }>(
      'SELECT event_id::text AS event_id, count(*)::int AS n FROM tx_events WHERE tenant_id = $1 GROUP BY 1',
      [t.tenant_id],
    );
    expect(new Map(stored.rows.map((r) => [r.event_id, r.n]))).toEqual(new Map(ids.map((id) => [id, 1])));
  });

  it('/health is degraded while the store refuses connections though only reads ran; an uncached key\'s 503 says it could not be checked', { timeout: 120_000 }, async () => {
    // Before, /health said ok (store_reachable true) until an ingest commit failed: only the writer's flag counted.
    scratch = await scratchDatabase('refused_reads');
    server = await bootServer({ DATABASE_URL: scratch.url, ...NO_RATE_LIMIT });
    const base = server.url;
    const t = await createTenant(base, 'refused');
    // A second tenant whose write key this node has never looked up.
    const uncached = await createTenant(base, 'uncached');
    const catalog = () => getJson(`${base}/api/v1/catalog/events`, { authorization: `Bearer ${t.secret_key}` });
    expect((await catalog()).status).toBe(200);
    expect((await getJson(`${base}/health`)).json).toMatchObject({ status: 'ok', store_reachable: true });

    await refuseConnections(scratch.url);
    const read = await catalog();
    expect(read.status).toBe(503);
    expect(read.json.error.code).toBe('store_unavailable');
    await until(async () => {
      const h = (await getJson(`${base}/health`)).json;
      return h.status === 'degraded' && h.store_reachable === false;
    }, 20_000, 100);
    expect(server.ingest.metrics().spooled).toBe(0);

    const r = await postJson(`${base}/api/tx/events/batch`, { events: [webEvent()] }, { 'x-tx-key': uncached.write_key });
    expect(r.status).toBe(503);
    expect(r.json.error.code).toBe('store_unavailable');
    expect(r.json.error.message).toMatch(/key could not be checked/);
    expect(r.json.error.message).not.toMatch(/spool/);
    expect(r.headers.get('retry-after')).toBeTruthy();

    await allowConnections(scratch.url);
    await until(async () => {
      const h = (await getJson(`${base}/health`)).json;
      return h.status === 'ok' && h.store_reachable === true;
    }, 20_000, 100);
  });

  it('answers 503 store_unavailable (never 500) when the spool cannot take the batch either', { timeout: 120_000 }, async () => {
    scratch = await scratchDatabase('refused_nospool');
    // The smallest spool allowed (1 KiB) cannot take a batch of 20.
    server = await bootServer({ DATABASE_URL: scratch.url, SPOOL_MAX_BYTES: '1024', ...NO_RATE_LIMIT });
    const t = await createTenant(server.url, 'refused');
    const send = (events: unknown[]) => postJson(`${server!.url}/api/tx/events/batch`, { events }, { 'x-tx-key': t.write_key });
    expect((await send([webEvent()])).status).toBe(200);
    await refuseConnections(scratch.url);
    const batch = Array.from({ length: 20 }, () => webEvent());
    const r = await send(batch);
    expect(r.status).toBe(503);
    expect(r.json.error.code).toBe('store_unavailable');
    expect(r.headers.get('retry-after')).toBeTruthy();

    await allowConnections(scratch.url);
    await until(async () => (await getJson(`${server!.url}/health`)).json.store_reachable, 60_000, 50);
    // Nothing was kept: the same events are new now.
    expect((await send(batch)).json).toMatchObject({ accepted: 20, duplicates: 0 });
  });
});
