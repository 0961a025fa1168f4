// Acknowledged means durable: across a hard kill of the server, and across a database outage mid-load.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN, bootServer, createTenant, getJson, postJson, tmpDir, until, webEvent, wireDatabase } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '..');

function startChild(dataDir: string): Promise<{ child: ChildProcess; base: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'warn', DEMO_TENANT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 60_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = out.match(/listening on (http:\/\/localhost:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, base: m[1] });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
}

describe('durability', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
  });

  it('keeps every acknowledged event when the server is killed with SIGKILL and restarted', { timeout: 180_000 }, async () => {
    const dataDir = tmpDir();
    const first = await startChild(dataDir);
    children.push(first.child);
    const t = await createTenant(first.base, 'restart');
    const acked: string[] = [];
    const workers = Array.from({ length: 4 }, async () => {
      for (let i = 0; i < 10; i++) {
        const events = Array.from({ length: 25 }, () => webEvent());
        const r = await postJson(`${first.base}/api/tx/events/batch`, { events }, { 'x-tx-key': t.write_key });
        if (r.status === 200 && r.json.accepted === 25) acked.push(...events.map((e) => e.event_id));
      }
    });
    await Promise.all(workers);
    expect(acked).toHaveLength(1000);
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = await startChild(dataDir);
    children.push(second.child);
    const stored = new Set<string>();
    let before: string | null = null;
    for (;;) {
      const q: string = `limit=1000${before ? `&before=${encodeURIComponent(before)}` : ''}`;
      const r = await getJson(`${second.base}/api/v1/tx/events?${q}`, { authorization: `Bearer ${t.secret_key}` });
      for (const e of r.json.events) stored.add(e.event_id);
      if (!r.json.next_before) break;
      before = r.json.next_before;
    }
    expect(acked.filter((id) => !stored.has(id))).toEqual([]);
    second.child.kill('SIGTERM');
  });

  it('loses no acknowledged event when the database goes away mid-load, and replays the spool exactly once', { timeout: 180_000 }, async () => {
    const pgWire = await wireDatabase();
    const server = await bootServer({ DATABASE_URL: pgWire.url, DATABASE_POOL_MAX: '1' });
    try {
      const t = await createTenant(server.url, 'outage');
      const acked: string[] = [];
      const statuses = new Map<number, number>();
      let running = true;
      const workers = Array.from({ length: 4 }, async (_, w) => {
        let i = 0;
        while (running) {
          const events = Array.from({ length: 20 }, (_, j) => webEvent({ visitor_id: `w${w}-${i}-${j}` }));
          // Every third request repeats the previous one: retries must not double-count after replay.
          const r = await postJson(`${server.url}/api/tx/events/batch`, { events }, { 'x-tx-key': t.write_key });
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status === 200) acked.push(...events.map((e) => e.event_id));
          if (i % 3 === 0) await postJson(`${server.url}/api/tx/events/batch`, { events }, { 'x-tx-key': t.write_key });
          i++;
        }
      });
      await new Promise((r) => setTimeout(r, 800));
      await pgWire.stop();
      await new Promise((r) => setTimeout(r, 1500));
      const during = await getJson(`${server.url}/health`);
      await pgWire.start();
      await new Promise((r) => setTimeout(r, 800));
      running = false;
      await Promise.all(workers);

      expect(during.json).toMatchObject({ status: 'degraded', store_reachable: false });
      expect([...statuses.keys()]).toEqual([200]);
      expect(server.ingest.metrics().spooled).toBeGreaterThan(0);
      await until(async () => {
        const h = await getJson(`${server.url}/health`);
        return h.json.store_reachable && h.json.spool_bytes === 0;
      });
      const { rows } = await server.db.query<{ event_id: string }>('SELECT event_id::text FROM tx_events WHERE tenant_id = $1', [t.tenant_id]);
      const stored = rows.map((r) => r.event_id);
      expect(stored.length).toBe(new Set(stored).size);
      expect(new Set(stored)).toEqual(new Set(acked));
    } finally {
      await server.close();
      await pgWire.close();
    }
  });
});
