// Request bodies on the public ingest routes. The write key's rate limit covers bodies kept as rejected (invalid
// JSON, a batch without "events"), not only events: anyone holding the public key could otherwise fill the store
// with bad bodies at no cost (each 400 answer is a kept body, each 429 is not; the limit is reached whatever the
// machine's speed). Compressed bodies (gzip, deflate) are accepted, bounded by MAX_BODY_BYTES once decompressed.
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inflate } from '../server/http/ingest-routes.js';
import { bootServer, createTenant, eventsOf, getJson, postJson, webEvent, type Tenant } from './helpers.js';

describe('inflate (pure)', () => {
  const json = Buffer.from(JSON.stringify({ events: [] }));
  it('decompresses gzip and deflate, passes identity through', () => {
    expect(inflate(zlib.gzipSync(json), 'gzip', 1000)).toEqual({ ok: true, body: json });
    expect(inflate(zlib.deflateSync(json), 'deflate', 1000)).toEqual({ ok: true, body: json });
    expect(inflate(json, 'identity', 1000)).toEqual({ ok: true, body: json });
  });
  it('refuses a body that decompresses past the limit (a gzip bomb), and corrupt data', () => {
    const bomb = zlib.gzipSync(Buffer.alloc(10_000_000, 32));
    expect(bomb.length).toBeLessThan(20_000);
    expect(inflate(bomb, 'gzip', 512 * 1024)).toMatchObject({ ok: false, reason: 'too_large' });
    expect(inflate(Buffer.from('not gzip'), 'gzip', 1000)).toMatchObject({ ok: false, reason: 'corrupt' });
  });
});

describe('rate limit on bad bodies', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  beforeAll(async () => {
    server = await bootServer({ RATE_LIMIT_EVENTS_PER_SEC: '1', RATE_LIMIT_BURST: '3' });
    t = await createTenant(server.url, 'limits');
  }, 60_000);
  afterAll(async () => server?.close());

  it('charges invalid JSON and shapeless batches to the key: past the burst they are refused with 429 and not kept', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const body = i % 2 === 0 ? `{"events": [ broken ${i}` : JSON.stringify({ events: null, n: i });
      const r = await postJson(`${server.url}/api/tx/events/batch`, body, { 'x-tx-key': t.write_key });
      statuses.push(r.status);
      if (r.status === 429) expect(r.json.error.code).toBe('rate_limited');
    }
    expect(statuses).toContain(429);
    const kept = (await getJson(`${server.url}/api/v1/tx/rejected?limit=100`, { authorization: `Bearer ${t.secret_key}` })).json.rejected;
    expect(kept).toHaveLength(statuses.filter((s) => s === 400).length);
  });

  it('keeps a rejected event without clear contact data in its free text, like a body kept whole', async () => {
    const tenant = await createTenant(server.url, 'scrub');
    const bad = webEvent({ session_id: undefined, payload: { note: 'call me on +40 721 234 567 or mail ana.pop@example.org' } });
    const r = await postJson(`${server.url}/api/tx/events/batch`, { events: [bad] }, { 'x-tx-key': tenant.write_key });
    expect(r.json.rejected).toHaveLength(1);
    const [kept] = (await getJson(`${server.url}/api/v1/tx/rejected?limit=10`, { authorization: `Bearer ${tenant.secret_key}` })).json.rejected;
    expect(kept.event_id).toBe(bad.event_id);
    expect(kept.raw_body).not.toMatch(/ana\.pop@example\.org|721 234 567/);
    expect(kept.raw_body.match(/sha256:[0-9a-f]{64}/g)).toHaveLength(2);
  });

  it('takes gzip-compressed batches, refuses unknown encodings with 415 and corrupt data with 400', async () => {
    const other = await createTenant(server.url, 'gzip');
    const events = [webEvent(), webEvent()];
    const post = (body: Buffer | string, encoding: string) =>
      fetch(`${server.url}/api/tx/events/batch`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'content-encoding': encoding, 'x-tx-key': other.write_key, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0' } });
    const ok = await post(zlib.gzipSync(JSON.stringify({ events })), 'gzip');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ accepted: 2 });
    expect((await eventsOf(server.url, other)).map((e) => e.event_id).sort()).toEqual(events.map((e) => e.event_id).sort());
    const br = await post(JSON.stringify({ events }), 'br');
    expect(br.status).toBe(415);
    expect(((await br.json()) as any).error.code).toBe('unsupported_media_type');
    const corrupt = await post('definitely not gzip', 'gzip');
    expect(corrupt.status).toBe(400);
    expect(((await corrupt.json()) as any).error.code).toBe('invalid_body');
  });
});
