// Acknowledged means durable, and answered honestly: across a hard kill with requests in flight, a database
// outage mid-load, a restart with a spool left over, a crash mid-replay, and database and spool both down.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, getJson, postJson, startChild as startServerProcess, tmpDir, until, webEvent, wireDatabase } from './helpers.js';

// A limit no test here can reach: a 429 would make the outcome depend on how fast the machine is.
const NO_RATE_LIMIT = { RATE_LIMIT_EVENTS_PER_SEC: '10000000', RATE_LIMIT_BURST: '100000000' };

const startChild = (dataDir: string) => startServerProcess(dataDir, NO_RATE_LIMIT);

type Server = Awaited<ReturnType<typeof bootServer>>;

/** event_id → number of stored copies, for one tenant. */
async function storedCopies(server: Server, tenantId: number): Promise<Map<string, number>> {
  const { rows } = await server.db.query<{ event_id: string; n: number }>(
    'SELECT event_id::text AS event_id, count(*)::int AS n FROM tx_events WHERE tenant_id = $1 GROUP BY 1',
    [tenantId],
  );
  return new Map(rows.map((r) => [r.event_id, r.n]));
}

const spoolFiles = (dataDir: string) => fs.readdirSync(path.join(dataDir, 'spool')).filter((f) => f.endsWith('.jsonl'));

describe('durability', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('keeps every acknowledged event exactly once when the server is killed with SIGKILL mid-load', { timeout: 180_000 }, async () => {
    const dataDir = tmpDir();
    const first = await startChild(dataDir);
    children.push(first.child);
    const t = await createTenant(first.base, 'restart');
    const sent = new Set<string>();
    const acked: string[] = [];
    let killed = false;
    let unanswered = 0;
    const exited = new Promise((r) => first.child.once('exit', r));
    const workers = Array.from({ length: 4 }, async () => {
      while (!killed) {
        const events = Array.from({ length: 50 }, () => webEvent());
        for (const e of events) sent.add(e.event_id);
        try {
          const r = await postJson(`${first.base}/api/tx/events/batch`, { events }, { 'x-tx-key': t.write_key });
          if (r.status === 200 && r.json.accepted === 50) acked.push(...events.map((e) => e.event_id));
        } catch {
          // The connection died with the server: this request was in flight and is not acknowledged.
          unanswered++;
        }
        // Kill from inside a worker's turn: the other workers' requests are then on the wire.
        if (!killed && acked.length >= 1000) {
          killed = true;
          first.child.kill('SIGKILL');
        }
      }
    });
    await Promise.all(workers);
    await exited;
    expect(unanswered).toBeGreaterThan(0);

    const second = await bootServer({ DATA_DIR: dataDir });
    try {
      const copies = await storedCopies(second, t.tenant_id);
      expect(acked.filter((id) => copies.get(id) !== 1)).toEqual([]);
      expect([...copies.values()].filter((n) => n !== 1)).toEqual([]);
      expect([...copies.keys()].filter((id) => !sent.has(id))).toEqual([]);
    } finally {
      await second.close();
    }
  });

  it('loses no acknowledged event when the database goes away mid-load, answers retries as duplicates, and replays the spool exactly once', { timeout: 180_000 }, async () => {
    const pgWire = await wireDatabase();
    const server = await bootServer({ DATABASE_URL: pgWire.url, DATABASE_POOL_MAX: '1', ...NO_RATE_LIMIT });
    try {
      const t = await createTenant(server.url, 'outage');
      const acked: string[] = [];
      const statuses = new Map<number, number>();
      const retryAnswers: unknown[] = [];
      let running = true;
      const workers = Array.from({ length: 4 }, async (_, w) => {
        let i = 0;
        while (running) {
          const events = Array.from({ length: 20 }, (_, j) => webEvent({ visitor_id: `w${w}-${i}-${j}` }));
          const r = await postJson(`${server.url}/api/tx/events/batch`, { events }, { 'x-tx-key': t.write_key });
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status === 200) acked.push(...events.map((e) => e.event_id));
          // Every third request is retried after its answer: before, during and after the outage alike,
          // the retry must be answered as duplicates and never stored twice.
          if (i % 3 === 0) {
            const again = await postJson(`${server.url}/api/tx/events/batch`, { events }, { 'x-tx-key': t.write_key });
            retryAnswers.push({ status: again.status, accepted: again.json?.accepted, duplicates: again.json?.duplicates });
          }
          i++;
        }
      });
      let during;
      try {
        await until(async () => acked.length >= 400, 60_000, 20);
        await pgWire.stop();
        await until(async () => server.ingest.metrics().spooled >= 200, 60_000, 20);
        during = await getJson(`${server.url}/health`);
        await pgWire.start();
        await until(async () => (await getJson(`${server.url}/health`)).json.store_reachable, 60_000, 20);
        const after = acked.length;
        await until(async () => acked.length >= after + 200, 60_000, 20);
      } finally {
        running = false;
        await Promise.all(workers);
      }

      expect(during.json).toMatchObject({ status: 'degraded', store_reachable: false });
      expect([...statuses.keys()]).toEqual([200]);
      expect(retryAnswers.length).toBeGreaterThan(0);
      expect(retryAnswers.filter((a) => JSON.stringify(a) !== JSON.stringify({ status: 200, accepted: 0, duplicates: 20 }))).toEqual([]);
      await until(async () => {
        const h = await getJson(`${server.url}/health`);
        return h.json.store_reachable && h.json.spool_bytes === 0;
      });
      const copies = await storedCopies(server, t.tenant_id);
      expect([...copies.values()].filter((n) => n !== 1)).toEqual([]);
      expect(new Set(copies.keys())).toEqual(new Set(acked));
    } finally {
      await server.close();
      await pgWire.close();
    }
  });

  it('replays a spool left by an earlier run, answers its retries as duplicates, and stays exactly-once when a replay is repeated after a crash', { timeout: 180_000 }, async () => {
    const pgWire = await wireDatabase();
    const dataDir = tmpDir();
    const env = { DATA_DIR: dataDir, DATABASE_URL: pgWire.url, DATABASE_POOL_MAX: '1', ...NO_RATE_LIMIT };
    let server = await bootServer(env);
    try {
      const t = await createTenant(server.url, 'leftover');
      const send = (events: unknown[]) => postJson(`${server.url}/api/tx/events/batch`, { events }, { 'x-tx-key': t.write_key });
      expect((await send([webEvent()])).json.accepted).toBe(1);
      await pgWire.stop();
      const batch = Array.from({ length: 20 }, (_, j) => webEvent({ visitor_id: `left-${j}` }));
      expect((await send(batch)).json).toMatchObject({ accepted: 20, duplicates: 0 });
      expect((await getJson(`${server.url}/health`)).json.spool_bytes).toBeGreaterThan(0);
      await server.close();

      // Keep a copy of the spool as it was: putting it back later is a crash after the replay committed
      // but before it deleted the segment (the worst moment), so the whole segment is replayed again.
      const saved = tmpDir();
      const files = spoolFiles(dataDir);
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) fs.copyFileSync(path.join(dataDir, 'spool', f), path.join(saved, f));

      await pgWire.start();
      server = await bootServer(env);
      // Whether the spool is replayed yet or not, the retry is a duplicate.
      expect((await send(batch)).json).toMatchObject({ accepted: 0, duplicates: 20 });
      await until(async () => (await getJson(`${server.url}/health`)).json.spool_bytes === 0);
      expect(spoolFiles(dataDir)).toEqual([]);
      await server.close();

      for (const f of files) fs.copyFileSync(path.join(saved, f), path.join(dataDir, 'spool', f));
      server = await bootServer(env);
      await until(async () => (await getJson(`${server.url}/health`)).json.spool_bytes === 0);
      expect(spoolFiles(dataDir)).toEqual([]);
      const copies = await storedCopies(server, t.tenant_id);
      expect(copies.size).toBe(21);
      expect(batch.filter((e) => copies.get(e.event_id) !== 1)).toEqual([]);
    } finally {
      await server.close();
      await pgWire.close();
    }
  });

  it('answers 503 and keeps nothing when the database and the spool are both unavailable', { timeout: 120_000 }, async () => {
    const pgWire = await wireDatabase();
    // The smallest spool allowed (1 KiB) cannot take a batch: the spool is "down" for this request.
    const server = await bootServer({ DATABASE_URL: pgWire.url, DATABASE_POOL_MAX: '1', SPOOL_MAX_BYTES: '1024', ...NO_RATE_LIMIT });
    try {
      const t = await createTenant(server.url, 'both-down');
      const send = (events: unknown[]) => postJson(`${server.url}/api/tx/events/batch`, { events }, { 'x-tx-key': t.write_key });
      expect((await send([webEvent()])).status).toBe(200);
      await pgWire.stop();
      const batch = Array.from({ length: 5 }, () => webEvent());
      const r = await send(batch);
      expect(r.status).toBe(503);
      expect(r.json.error.code).toBe('store_unavailable');
      expect(r.headers.get('retry-after')).toBeTruthy();

      await pgWire.start();
      await until(async () => (await getJson(`${server.url}/health`)).json.store_reachable);
      // Nothing was kept: the same events are new now.
      expect((await send(batch)).json).toMatchObject({ accepted: 5, duplicates: 0 });
      const copies = await storedCopies(server, t.tenant_id);
      expect(copies.size).toBe(6);
    } finally {
      await server.close();
      await pgWire.close();
    }
  });
});
