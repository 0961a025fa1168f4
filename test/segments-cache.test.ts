// The segments cache on Redis (issue 14 item 3, README "Segments"): with REDIS_URL the tenant's segment
// summaries sit at `<prefix>analytics:org:{tenant}:segments` (redis-om, a HASH on plain Redis), reads are served
// from it, writes and refreshes replace it; Redis hung or killed never fails a request (the store answers);
// without REDIS_URL nothing touches Redis. Reads served from the cache are proven by changing the row behind it
// in the database: the cached value stays until the entry is replaced.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { SEGMENTS_CACHE_TTL_S } from '../server/segments/cache.js';
import { cacheKey } from '../server/segments/cache-map.js';
import { deletePrefix, randomPrefix, REDIS_URL } from '../server/live/redis-test-utils.js';
import { ADMIN, bootServer, createTenant, request, startForwarder, tmpDir, until, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';

const SECRET = crypto.randomBytes(32).toString('hex');
const prefixes: string[] = [];
const procs = new Set<ChildProcess>();
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  for (const p of prefixes) await deletePrefix(p);
});

type Server = Awaited<ReturnType<typeof bootServer>>;

async function redisAt(url: string) {
  const c = createClient({ url });
  c.on('error', () => {});
  await c.connect();
  return c;
}

/** The cached summaries of the tenant straight from Redis, null when the key is absent. */
async function entry(r: Awaited<ReturnType<typeof redisAt>>, prefix: string, tenant: number) {
  const h = await r.hGetAll(cacheKey(prefix, tenant));
  return h.segments === undefined ? null : { segments: JSON.parse(h.segments) as Record<string, any>[], hash: h };
}

const renameBehind = (server: Server, id: number, name: string) => server.db.query('UPDATE segment_versions SET name = $2 WHERE segment_id = $1', [id, name]);

/**
 * A redis-server of this test only (nothing on disk), on a unix socket of its own: no TCP port to race other
 * processes for, and stopping it touches no other test.
 */
async function startRedis(): Promise<{ proc: ChildProcess; path: string }> {
  const path = `${tmpDir('txl-redis-')}/redis.sock`;
  const proc = spawn('redis-server', ['--port', '0', '--unixsocket', path, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  procs.add(proc);
  await until(async () => {
    const c = createClient({ socket: { path, reconnectStrategy: false } });
    c.on('error', () => {});
    try {
      await c.connect();
      return (await c.ping()) === 'PONG' && (await c.quit(), true);
    } catch {
      return false;
    }
  }, 10_000, 50);
  return { proc, path };
}

async function redisAtPath(path: string) {
  const c = createClient({ socket: { path } });
  c.on('error', () => {});
  await c.connect();
  return c;
}

describe('segments cache with REDIS_URL', () => {
  const prefix = randomPrefix();
  prefixes.push(prefix);
  let server: Server;
  let t: Tenant;
  let r: Awaited<ReturnType<typeof redisAt>>;
  const call = (method: string, p: string, body?: unknown) => api(server.url, t, method, p, body);

  afterAll(async () => {
    await server?.close();
    await r?.quit();
  });

  it('writes through on create, edit, refresh and delete, and serves reads from the entry', async () => {
    server = await bootServer({ REDIS_URL, LIVE_TOKEN_SECRET: SECRET, LIVE_REDIS_PREFIX: prefix });
    r = await redisAt(REDIS_URL);
    t = await createTenant(server.url, 'segments-cache');
    const key = cacheKey(prefix, t.tenant_id);
    expect(key).toBe(`${prefix}analytics:org:${t.tenant_id}:segments`);
    expect(await r.exists(key)).toBe(0);

    // Create: the key appears, a HASH with a TTL, holding version 1 with its filters.
    const c = await call('POST', '/api/v1/segments', { name: 'consented', filters: { consent: 'marketing' } });
    expect(c.status).toBe(201);
    const id = c.json.id;
    expect(await r.type(key)).toBe('hash');
    const ttl = await r.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(SEGMENTS_CACHE_TTL_S);
    expect((await entry(r, prefix, t.tenant_id))!.segments).toEqual([
      expect.objectContaining({ id, version: 1, current_version: 1, name: 'consented', filters: { consent: 'marketing' }, size_estimate: 0, error_count: 0 }),
    ]);

    // PUT: the entry holds the new current version.
    const e = await call('PUT', `/api/v1/segments/${id}`, { filters: { not: { consent: 'marketing' } } });
    expect(e.json).toMatchObject({ id, version: 2 });
    const afterEdit = (await entry(r, prefix, t.tenant_id))!.segments[0];
    expect(afterEdit).toMatchObject({ id, current_version: 2, filters: { not: { consent: 'marketing' } } });
    expect(await call('GET', `/api/v1/segments/${id}`).then((x) => x.json)).toEqual(afterEdit);

    // Reads come from the entry: a name changed behind it in the database is not seen until the entry goes.
    // (On a loaded machine a read can pass the cache's 1 s Redis timeout; the store answers it, and alone for the
    // next second: the read is asked again until the entry answers — a cache-less read never says 'consented'.)
    await renameBehind(server, id, 'renamed behind the cache');
    const fromEntry = async (read: () => Promise<unknown>) => until(async () => JSON.stringify(await read()).includes('"consented"'), 15_000, 300);
    await fromEntry(async () => (await call('GET', `/api/v1/segments/${id}`)).json.name);
    await fromEntry(async () => (await call('GET', '/api/v1/segments')).json.segments.map((s: { name: string }) => s.name));
    // An older version is not in the entry: the store answers it.
    expect((await call('GET', `/api/v1/segments/${id}?version=1`)).json).toMatchObject({ version: 1, name: 'renamed behind the cache', filters: { consent: 'marketing' } });
    await r.del(key);
    expect((await call('GET', `/api/v1/segments/${id}`)).json.name).toBe('renamed behind the cache');
    // The miss filled the entry again (on a loaded machine a save can exceed the cache's 1 s Redis timeout; the
    // store answers that read and the next read fills the entry).
    await until(async () => {
      if ((await entry(r, prefix, t.tenant_id))?.segments[0]?.name === 'renamed behind the cache') return true;
      await call('GET', `/api/v1/segments/${id}`);
      return false;
    }, 20_000, 200);
    expect((await entry(r, prefix, t.tenant_id))!.segments[0].name).toBe('renamed behind the cache');

    // Refresh: a new non-consenting person joins version 2 at the next run; the entry shows the new size.
    expect((await call('PUT', '/api/v1/catalog/persons', { items: [{ id: 'p-1', marketing_consent: false }] })).status).toBe(200);
    await call('PUT', `/api/v1/segments/${id}`, { marketing_only: false });
    const v3 = (await entry(r, prefix, t.tenant_id))!.segments[0];
    expect(v3).toMatchObject({ current_version: 3, size_estimate: 1 });
    expect((await call('PUT', '/api/v1/catalog/persons', { items: [{ id: 'p-2', marketing_consent: false }] })).status).toBe(200);
    const run = await request('POST', `${server.url}/api/admin/jobs/segments.refresh/run`, undefined, { authorization: `Bearer ${ADMIN}` });
    expect(run.json.status).toBe('succeeded');
    const refreshed = (await entry(r, prefix, t.tenant_id))!.segments[0];
    expect(refreshed).toMatchObject({ current_version: 3, size_estimate: 2, member_count: 2 });
    expect(refreshed.computed_at > v3.computed_at).toBe(true);
    expect((await call('GET', `/api/v1/segments/${id}`)).json).toEqual(refreshed);

    // The list pages over the entry; DELETE takes the segment out of it.
    const second = await call('POST', '/api/v1/segments', { name: 'second', filters: { consent: 'marketing' } });
    const p1 = await call('GET', '/api/v1/segments?limit=1');
    expect(p1.json.segments.map((s: { id: number }) => s.id)).toEqual([id]);
    const p2 = await call('GET', `/api/v1/segments?limit=1&cursor=${p1.json.next_cursor}`);
    expect({ ids: p2.json.segments.map((s: { id: number }) => s.id), next: p2.json.next_cursor }).toEqual({ ids: [second.json.id], next: null });
    expect((await call('DELETE', `/api/v1/segments/${id}`)).status).toBe(200);
    expect((await entry(r, prefix, t.tenant_id))!.segments.map((s) => s.id)).toEqual([second.json.id]);
    expect((await call('GET', `/api/v1/segments/${id}`)).status).toBe(404);
    expect((await call('GET', '/api/v1/segments?limit=0')).status).toBe(400);
    expect((await call('GET', '/api/v1/segments?cursor=nope')).status).toBe(400);
  }, 120_000);

  it('stores nothing else under the prefix: no RediSearch index, one key per tenant', async () => {
    const keys = await r.keys(`${prefix}analytics:org:*`);
    expect(keys).toEqual([cacheKey(prefix, t.tenant_id)]);
  });
});

describe('segments cache when Redis fails', () => {
  it('answers from the store while Redis hangs or is gone, and the entry is right again when it returns', async () => {
    // The server reaches Redis through a forwarder that keeps its port for the whole test: Redis restarted
    // behind it (on a new socket) answers at the same REDIS_URL, and no other process can take that port while
    // Redis is gone.
    let redis = await startRedis();
    let behind: string | null = redis.path;
    const forwarder = await startForwarder(() => behind);
    const url = `redis://127.0.0.1:${forwarder.port}`;
    const server = await bootServer({ DATA_DIR: tmpDir(), REDIS_URL: url, LIVE_TOKEN_SECRET: SECRET, LIVE_REDIS_PREFIX: 'tx:' });
    const t = await createTenant(server.url, 'segments-cache-failure');
    const call = (method: string, p: string, body?: unknown) => api(server.url, t, method, p, body);
    let r = await redisAtPath(redis.path);
    try {
      const id = (await call('POST', '/api/v1/segments', { name: 'before', filters: { consent: 'marketing' } })).json.id;
      expect((await entry(r, 'tx:', t.tenant_id))!.segments[0].name).toBe('before');
      await renameBehind(server, id, 'behind');
      expect((await call('GET', `/api/v1/segments/${id}`)).json.name).toBe('before');

      // Hung (SIGSTOP): commands get no answer; every request still answers, from the store.
      redis.proc.kill('SIGSTOP');
      const hung = await call('GET', `/api/v1/segments/${id}`);
      expect({ status: hung.status, name: hung.json.name }).toEqual({ status: 200, name: 'behind' });
      const edit = await call('PUT', `/api/v1/segments/${id}`, { name: 'during the outage' });
      expect(edit.json).toMatchObject({ id, version: 2 });
      expect((await call('GET', `/api/v1/segments/${id}`)).json).toMatchObject({ version: 2, name: 'during the outage' });
      expect((await call('GET', '/api/v1/segments')).json.segments).toEqual([expect.objectContaining({ id, current_version: 2 })]);

      // Back: reads never show the version the edit replaced, and the entry comes to hold the edit.
      redis.proc.kill('SIGCONT');
      await until(async () => {
        expect((await call('GET', `/api/v1/segments/${id}`)).json).toMatchObject({ version: 2, name: 'during the outage' });
        return (await entry(r, 'tx:', t.tenant_id))?.segments[0].current_version === 2 ? true : null;
      }, 30_000, 200);

      // Gone (SIGKILL): creating, editing, reading and listing still work.
      await r.disconnect();
      const gone = new Promise<void>((res) => redis.proc.once('exit', () => res()));
      behind = null;
      redis.proc.kill('SIGKILL');
      await gone;
      procs.delete(redis.proc);
      forwarder.cut();
      const other = await call('POST', '/api/v1/segments', { name: 'while gone', filters: { consent: 'marketing' } });
      expect(other.status).toBe(201);
      expect((await call('PUT', `/api/v1/segments/${other.json.id}`, { name: 'edited while gone' })).status).toBe(200);
      expect((await call('GET', `/api/v1/segments/${other.json.id}`)).json).toMatchObject({ version: 2, name: 'edited while gone' });
      expect((await call('GET', '/api/v1/segments')).json.segments.map((s: { id: number }) => s.id)).toEqual([id, other.json.id]);

      // Restarted empty: the client reconnects by itself and a read fills the entry again.
      redis = await startRedis();
      behind = redis.path;
      r = await redisAtPath(redis.path);
      await until(async () => {
        expect((await call('GET', `/api/v1/segments/${other.json.id}`)).status).toBe(200);
        return (await entry(r, 'tx:', t.tenant_id))?.segments.length === 2 ? true : null;
      }, 30_000, 200);
      expect((await entry(r, 'tx:', t.tenant_id))!.segments.map((s) => s.name)).toEqual(['during the outage', 'edited while gone']);
    } finally {
      redis.proc.kill('SIGCONT');
      await r.quit().catch(() => undefined);
      await server.close();
      await forwarder.close();
    }
  }, 120_000);
});

describe('segments without REDIS_URL', () => {
  it('reads the store and writes nothing to Redis', async () => {
    const prefix = randomPrefix();
    prefixes.push(prefix);
    const server = await bootServer({ LIVE_REDIS_PREFIX: prefix });
    try {
      const t = await createTenant(server.url, 'segments-no-redis');
      const call = (method: string, p: string, body?: unknown) => api(server.url, t, method, p, body);
      const id = (await call('POST', '/api/v1/segments', { name: 'plain', filters: { consent: 'marketing' } })).json.id;
      await call('PUT', `/api/v1/segments/${id}`, { name: 'plain 2' });
      // Straight from the store: a change behind it shows at once.
      await renameBehind(server, id, 'behind');
      expect((await call('GET', `/api/v1/segments/${id}`)).json).toMatchObject({ version: 2, name: 'behind' });
      expect((await call('GET', '/api/v1/segments')).json.segments).toEqual([expect.objectContaining({ id, name: 'behind' })]);
      const r = await redisAt(REDIS_URL);
      try {
        expect(await r.keys(`${prefix}*`)).toEqual([]);
      } finally {
        await r.quit();
      }
    } finally {
      await server.close();
    }
  }, 60_000);
});
