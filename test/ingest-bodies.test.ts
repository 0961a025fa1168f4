// Request bodies on the public ingest routes. The write key's rate limit covers bodies kept as rejected (invalid
// JSON, a batch without "events"), not only events: anyone holding the public key could otherwise fill the store
// with bad bodies at no cost (each 400 answer is a kept body, each 429 is not; the limit is reached whatever the
// machine's speed). Compressed bodies (gzip, deflate) are accepted, bounded by MAX_BODY_BYTES once decompressed.
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inflate } from '../server/http/body.js';
import { bootServer, createTenant, eventsOf, getJson, orderEvent, postJson, webEvent, type Tenant } from './helpers.js';

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

  it('charges validations to the key like the batches they check: past the burst /api/tx/validate answers 429', async () => {
    const own = await createTenant(server.url, 'limits-validate');
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await postJson(`${server.url}/api/tx/validate`, { events: [webEvent(), webEvent()] }, { 'x-tx-key': own.write_key });
      statuses.push(r.status);
      if (r.status === 429) expect(r.json.error.code).toBe('rate_limited');
    }
    expect(statuses[0]).toBe(200);
    expect(statuses).toContain(429);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
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

  it('keeps a batch whose rejected event names a visitor id with a NUL: the valid event is stored, the other rejected', async () => {
    const tenant = await createTenant(server.url, 'nul-visitor');
    const good = webEvent();
    const bad = webEvent({ visitor_id: 'v\u0000x' });
    const r = await postJson(`${server.url}/api/tx/events/batch`, { events: [good, bad] }, { 'x-tx-key': tenant.write_key });
    expect(r.status).toBe(200);
    expect({ accepted: r.json.accepted, rejected: r.json.rejected.map((x: any) => x.event_id) }).toEqual({ accepted: 1, rejected: [bad.event_id] });
    const kept = (await getJson(`${server.url}/api/v1/tx/rejected?limit=10`, { authorization: `Bearer ${tenant.secret_key}` })).json.rejected;
    expect(kept.map((x: any) => x.event_id)).toEqual([bad.event_id]);
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
    expect(((await corrupt.json()) as any).error).toMatchObject({ code: 'invalid_body', field: '$' });
    // One event on the single endpoint: anything but an object is refused naming the whole body.
    const single = await fetch(`${server.url}/api/tx/events`, { method: 'POST', body: '[]', headers: { 'content-type': 'application/json', 'x-tx-key': other.write_key } });
    expect({ status: single.status, error: ((await single.json()) as any).error }).toMatchObject({ status: 400, error: { code: 'invalid_body', field: '$' } });
  });

  it('refuses a body that is not valid UTF-8 on every route instead of replacing the bytes: two orders differing in one byte are not one', async () => {
    const u = await createTenant(server.url, 'utf8');
    // The JSON of `body` with MARK replaced by one raw byte.
    const withByte = (body: unknown, byte: number) => {
      const [head, tail] = JSON.stringify(body).split('MARK');
      return Buffer.concat([Buffer.from(head), Buffer.from([byte]), Buffer.from(tail)]);
    };
    const post = (path: string, body: Buffer, headers: Record<string, string>, method = 'POST') =>
      fetch(`${server.url}${path}`, { method, body, headers: { 'content-type': 'application/json', ...headers } });
    const secret = { authorization: `Bearer ${u.secret_key}` };
    for (const byte of [0xff, 0xfe]) {
      const r = await post('/api/v1/server-events', withByte({ events: [orderEvent({ entities: { order_id: 'ORD-MARK', event_entity_id: 'E1' } })] }, byte), secret);
      expect(r.status).toBe(400);
      expect(((await r.json()) as any).error).toMatchObject({ code: 'invalid_json', message: expect.stringContaining('not valid UTF-8') });
    }
    const pub = await post('/api/tx/events/batch', withByte({ events: [webEvent({ payload: { title: 'CafMARK' } })] }, 0xe9), { 'x-tx-key': u.write_key });
    expect(pub.status).toBe(400);
    expect(((await pub.json()) as any).error.code).toBe('invalid_json');
    const c = await post('/api/v1/catalog/artists', withByte({ items: [{ id: 'A1', name: 'NMARK' }] }, 0xff), secret, 'PUT');
    expect(c.status).toBe(400);
    expect(((await c.json()) as any).error.code).toBe('invalid_json');
    expect(await eventsOf(server.url, u)).toEqual([]);
    // A charset other than UTF-8 is refused, not decoded as UTF-8 anyway.
    const latin = await post('/api/v1/server-events', Buffer.from(JSON.stringify({ events: [orderEvent()] })), { ...secret, 'content-type': 'application/json; charset=ISO-8859-1' });
    expect(latin.status).toBe(415);
  });

  it('takes compressed JSON bodies on /api/v1 routes (a 1000-item catalog sync, server events) and a leading byte order mark', async () => {
    const v = await createTenant(server.url, 'v1gzip');
    const post = (path: string, body: Buffer, headers: Record<string, string> = {}, method = 'POST') =>
      fetch(`${server.url}${path}`, { method, body, headers: { authorization: `Bearer ${v.secret_key}`, 'content-type': 'application/json', ...headers } });
    const items = Array.from({ length: 1000 }, (_, i) => ({ id: `A${i}`, name: `Artist ${i}`, genres: ['rock'] }));
    const r = await post('/api/v1/catalog/artists', zlib.gzipSync(JSON.stringify({ items })), { 'content-encoding': 'gzip' }, 'PUT');
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ upserted: 1000, rejected: [] });
    const s = await post('/api/v1/server-events', zlib.deflateSync(JSON.stringify({ events: [orderEvent()] })), { 'content-encoding': 'deflate' });
    expect(s.status).toBe(200);
    expect(await s.json()).toMatchObject({ accepted: 1 });
    const bom = await post('/api/v1/server-events', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ events: [orderEvent()] }))]));
    expect(bom.status).toBe(200);
    expect(await bom.json()).toMatchObject({ accepted: 1 });
    const br = await post('/api/v1/server-events', Buffer.from('{}'), { 'content-encoding': 'br' });
    expect(br.status).toBe(415);
    const corrupt = await post('/api/v1/server-events', Buffer.from('not gzip'), { 'content-encoding': 'gzip' });
    expect(corrupt.status).toBe(400);
    expect(((await corrupt.json()) as any).error).toMatchObject({ code: 'invalid_body', in: 'body', field: '$' });
  });

  it('refuses a write key given twice (?key= twice, or a header and a query key that differ) instead of picking one', async () => {
    const [k1, k2] = [await createTenant(server.url, 'twice-1'), await createTenant(server.url, 'twice-2')];
    const body = { events: [webEvent()] };
    const twice = await postJson(`${server.url}/api/tx/events/batch?key=${k1.write_key}&key=${k2.write_key}`, body);
    expect(twice.status).toBe(400);
    expect(twice.json.error).toMatchObject({ code: 'invalid_field', field: 'key', in: 'query' });
    const both = await postJson(`${server.url}/api/tx/events/batch?key=${k2.write_key}`, body, { 'x-tx-key': k1.write_key });
    expect(both.status).toBe(400);
    expect(both.json.error).toMatchObject({ code: 'invalid_field', field: 'key' });
    expect([...(await eventsOf(server.url, k1)), ...(await eventsOf(server.url, k2))]).toEqual([]);
    // The same key in both places is one key.
    const same = await postJson(`${server.url}/api/tx/events/batch?key=${k1.write_key}`, body, { 'x-tx-key': k1.write_key });
    expect(same.json).toMatchObject({ accepted: 1 });
  });

  it('says what the single-event route takes: the batch route only for a list, an event\'s shape otherwise', async () => {
    const u = await createTenant(server.url, 'single-shape');
    const send = (body: string) => postJson(`${server.url}/api/tx/events`, body, { 'x-tx-key': u.write_key });
    const list = await send(JSON.stringify([webEvent()]));
    expect(list.json.error.message).toContain('use /api/tx/events/batch for several');
    for (const body of ['null', '"str"', '42']) {
      const r = await send(body);
      expect(r.status).toBe(400);
      expect(r.json.error.message).not.toContain('several');
      expect(r.json.error.message).toContain('{"event_name"');
    }
  });
});
