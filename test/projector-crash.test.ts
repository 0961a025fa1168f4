// The deferred sessions projector (server/ingest/projector.ts) is exactly once across a kill -9: rows committed
// but not yet projected when the server dies are projected once after the restart, never twice, never skipped.
// On PostgreSQL 15 (a fresh database per run) the test holds the projection lock from outside, so the server
// commits while no pass can run, then kills it: the gap is certain. On the embedded store, a kill mid-load.
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postJson, startChild, tmpDir, until, webEvent } from './helpers.js';
import { scratchDatabase } from './store-suites.js';

const NO_RATE_LIMIT = { RATE_LIMIT_EVENTS_PER_SEC: '10000000', RATE_LIMIT_BURST: '100000000' };
const PROJECT_LOCK = 7465013;

type Q = { query<T>(sql: string, p?: unknown[]): Promise<{ rows: T[] }> };

/** Sessions whose events_count differs from the number of stored events with their id (should be none). */
async function mismatches(q: Q, tenantId: number) {
  const { rows } = await q.query<{ session_id: string; stored: number; counted: number | null }>(
    `SELECT e.session_id, e.stored, s.events_count AS counted
     FROM (SELECT session_id, count(*)::int AS stored FROM tx_events WHERE tenant_id = $1 AND session_id IS NOT NULL GROUP BY 1) e
     LEFT JOIN tx_sessions s ON s.tenant_id = $1 AND s.session_id = e.session_id
     WHERE s.events_count IS DISTINCT FROM e.stored`,
    [tenantId],
  );
  return rows;
}

const cursorOf = async (q: Q) => Number((await q.query<{ p: string }>("SELECT position::text AS p FROM tx_projector_cursors WHERE projector = 'identity.sessions'")).rows[0]?.p ?? 0);
const maxId = async (q: Q) => Number((await q.query<{ m: string }>('SELECT coalesce(max(id), 0)::text AS m FROM tx_events')).rows[0].m);

/** Posts batches of 40 events over 8 sessions from 4 workers until `stop()` says so; returns the acknowledged count. */
async function load(base: string, key: string, stop: (acked: number) => boolean) {
  let acked = 0;
  let done = false;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (!done) {
      const sessions = Array.from({ length: 8 }, () => `s-${crypto.randomUUID()}`);
      const events = Array.from({ length: 40 }, (_, i) => webEvent({ session_id: sessions[i % 8], sequence_no: i }));
      try {
        const r = await postJson(`${base}/api/tx/events/batch`, { events }, { 'x-tx-key': key });
        if (r.status === 200) acked += r.json.accepted;
      } catch {
        done = true; // the server is gone
      }
      if (!done && stop(acked)) done = true;
    }
  }));
  return acked;
}

describe('deferred projector across a kill -9', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('on PostgreSQL: rows committed while no pass could run are projected once after the restart', { timeout: 600_000 }, async () => {
    const scratch = await scratchDatabase('projcrash');
    const url = scratch.url;
    const holder = new pg.Client({ connectionString: url });
    const dataDir = tmpDir();
    try {
      const first = await startChild(dataDir, { DATABASE_URL: url, ...NO_RATE_LIMIT });
      children.push(first.child);
      const t = await createTenant(first.base, 'projcrash');
      // A first batch projected normally, then the lock held from outside: commits go on, passes wait.
      await load(first.base, t.write_key, (n) => n >= 160);
      await holder.connect();
      await until(async () => (await cursorOf(holder)) === (await maxId(holder)), 30_000, 50);
      await holder.query('SELECT pg_advisory_lock($1)', [PROJECT_LOCK]);
      const acked = await load(first.base, t.write_key, (n) => n >= 1200);
      expect(acked).toBeGreaterThanOrEqual(1200);
      const exited = new Promise((r) => first.child.once('exit', r));
      first.child.kill('SIGKILL');
      await exited;
      // The gap is real: committed rows after the cursor, sessions short of them.
      expect(await cursorOf(holder)).toBeLessThan(await maxId(holder));
      expect((await mismatches(holder, t.tenant_id)).length).toBeGreaterThan(0);
      await holder.query('SELECT pg_advisory_unlock($1)', [PROJECT_LOCK]);

      const second = await bootServer({ DATA_DIR: dataDir, DATABASE_URL: url });
      try {
        await until(async () => (await cursorOf(holder)) >= (await maxId(holder)), 60_000, 100);
        expect(await mismatches(holder, t.tenant_id)).toEqual([]);
        // A pass of the safety-net job over an up-to-date cursor changes nothing.
        expect(await second.sink.project()).toBe(0);
        expect(await mismatches(holder, t.tenant_id)).toEqual([]);
      } finally {
        await second.close();
      }
    } finally {
      await holder.end().catch(() => undefined);
      await scratch.drop();
    }
  });

  it('on the embedded store: a kill mid-load leaves every session counting each stored event once after the restart', { timeout: 600_000 }, async () => {
    const dataDir = tmpDir();
    const first = await startChild(dataDir, NO_RATE_LIMIT);
    children.push(first.child);
    const t = await createTenant(first.base, 'projcrash-embedded');
    let killed = false;
    const exited = new Promise((r) => first.child.once('exit', r));
    await load(first.base, t.write_key, (n) => {
      if (!killed && n >= 1000) {
        killed = true;
        first.child.kill('SIGKILL');
      }
      return killed;
    });
    await exited;
    const second = await bootServer({ DATA_DIR: dataDir });
    try {
      await until(async () => (await cursorOf(second.db)) >= (await maxId(second.db)), 60_000, 100);
      expect(await mismatches(second.db, t.tenant_id)).toEqual([]);
    } finally {
      await second.close();
    }
  });
});
