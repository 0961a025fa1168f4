// Two nodes on one plain PostgreSQL 15 database and one Redis (random key prefix, deleted after): a tracking
// code, or a catalog event, changed through node B reaches node A's cached resolution within the 5 s fingerprint re-read, and the
// resolutions are shared in Redis under the tenant's codes fingerprint (issue 15 item 4).
import crypto from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deletePrefix, randomPrefix, REDIS_URL } from '../server/live/redis-test-utils.js';
import { bootServer, createTenant, request, until, type Tenant } from './helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

describe('tracking-config cache across two nodes', () => {
  const prefix = randomPrefix();
  let scratch: ScratchDatabase | undefined;
  let a: Awaited<ReturnType<typeof bootServer>>;
  let b: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  let redis: Redis;

  beforeAll(async () => {
    scratch = await scratchDatabase('tracking_nodes');
    const env = { DATABASE_URL: scratch.url, REDIS_URL, LIVE_REDIS_PREFIX: prefix, LIVE_TOKEN_SECRET: crypto.randomBytes(32).toString('hex'), ENCRYPTION_KEY: crypto.randomBytes(32).toString('hex') };
    a = await bootServer(env);
    b = await bootServer(env);
    t = await createTenant(a.url, 'tracking-nodes');
    redis = new Redis(REDIS_URL);
  }, 600_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    redis?.disconnect();
    await deletePrefix(prefix);
    await scratch?.drop();
  }, 120_000);

  const resolve = async (base: string) => {
    const r = await request('GET', `${base}/api/tx/tracking-config`, undefined, { 'x-tx-key': t.write_key });
    expect(r.status, r.text).toBe(200);
    return r.json.codes.map((c: any) => `${c.provider}:${c.id}`);
  };
  const api = (base: string, method: string, p: string, body?: unknown) => request(method, `${base}${p}`, body, { authorization: `Bearer ${t.secret_key}` });

  it('a change through node B reaches node A\'s cached resolution, and Redis holds it under the fingerprint', async () => {
    const created = await api(b.url, 'POST', '/api/v1/tracking-codes', { provider: 'ga4', settings: { measurement_id: 'G-FIRST001' } });
    expect(created.status).toBe(201);
    expect(await resolve(a.url)).toEqual(['ga4:G-FIRST001']);
    // Cached in Redis under the tenant's fingerprint.
    const keys = await until(async () => {
      const k = await redis.keys(`${prefix}tracking:${t.tenant_id}:*`);
      return k.length > 0 ? k : null;
    });
    expect(keys).toEqual([expect.stringMatching(new RegExp(`^${prefix}tracking:${t.tenant_id}:1:\\d+:.*:m$`))]);
    expect(JSON.parse((await redis.get(keys[0]))!).codes[0].id).toBe('G-FIRST001');

    // Node B changes the code; node A (which cached the old answer) serves the new one once its fingerprint is re-read.
    expect((await api(b.url, 'PUT', `/api/v1/tracking-codes/${created.json.id}`, { settings: { measurement_id: 'G-SECOND02' } })).status).toBe(200);
    expect(await resolve(b.url)).toEqual(['ga4:G-SECOND02']);
    const started = Date.now();
    await until(async () => (await resolve(a.url))[0] === 'ga4:G-SECOND02', 60_000, 200);
    console.log(`tracking-config: a change on node B seen on node A after ${Date.now() - started} ms`);

    // A delete too; node B's own view is immediate.
    expect((await api(b.url, 'DELETE', `/api/v1/tracking-codes/${created.json.id}`)).status).toBe(200);
    expect(await resolve(b.url)).toEqual([]);
    await until(async () => (await resolve(a.url)).length === 0, 60_000, 200);
  }, 180_000);

  it('a catalog sync through node B reaches node A\'s cached resolution of the event (the fingerprint covers catalog events)', async () => {
    const code = await api(b.url, 'POST', '/api/v1/tracking-codes', { provider: 'meta', organizer_id: 'OX', event_id: 'EX', settings: { pixel_id: '555555555555555' } });
    expect(code.status, code.text).toBe(201);
    const page = async (base: string) => (await request('GET', `${base}/api/tx/tracking-config?event_id=EX`, undefined, { 'x-tx-key': t.write_key })).json;
    // Not in the catalog yet: the event's own code names its organizer; node A caches that.
    expect(await page(a.url)).toEqual({ event_id: 'EX', organizer_id: 'OX', codes: [expect.objectContaining({ owner: 'event', id: '555555555555555' })] });
    // The catalog gives EX to OY through node B: OX's code is no longer served for it, on B at once, on A once its fingerprint is re-read.
    expect((await api(b.url, 'PUT', '/api/v1/catalog/events', { items: [{ id: 'EX', organizer_id: 'OY' }] })).json).toMatchObject({ upserted: 1 });
    expect(await page(b.url)).toEqual({ event_id: 'EX', organizer_id: 'OY', codes: [] });
    const started = Date.now();
    await until(async () => (await page(a.url)).organizer_id === 'OY', 60_000, 200);
    console.log(`tracking-config: a catalog sync on node B seen on node A after ${Date.now() - started} ms`);
    expect(await page(a.url)).toEqual({ event_id: 'EX', organizer_id: 'OY', codes: [] });
  }, 180_000);
});
