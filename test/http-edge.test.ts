// Below the route handlers: how the server answers requests whose framing is ambiguous or broken, probed with
// raw TCP (fetch would normalise them). Ours: a duplicated Content-Length, Transfer-Encoding or Host, or an
// unsupported Transfer-Encoding, gets 400 malformed_request and the connection closed; when more bytes already
// follow in the same read (a smuggled request), the connection is closed without an answer. Either way the bytes
// after the headers are never read as another request. uWS's (no route runs): a bad request line, a missing
// Host or a control byte in a header value or the path get no answer; chunk extensions, a signed Content-Length
// and an unknown or lower-case method close the connection at once. The README says what a proxy must do. Raw
// bytes that are not UTF-8 in the URL reach the router as U+FFFD and are refused there like %FF.
import crypto from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestProblem } from '../server/http/uws.js';
import { bootServer, createTenant, eventsOf, type Tenant, webEvent } from './helpers.js';

interface RawAnswer {
  text: string;
  /** How the server ended it: closed the connection, or still open when we gave up. */
  ended: 'closed' | 'open';
}

/**
 * Writes raw bytes (then `later`, once the first answer bytes arrive, if given) and collects the answer until
 * the server closes the connection (or `capMs` passes).
 */
function raw(port: number, payload: string | Buffer, capMs: number, later?: string): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, ended: 'open' });
    }, capMs);
    s.on('data', (d) => {
      if (!text && later !== undefined && s.writable) s.write(later);
      text += d.toString();
    });
    s.on('error', () => undefined); // a reset shows up as the close below
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, ended: 'closed' });
    });
    s.write(payload);
  });
}

const status = (a: RawAnswer) => Number(a.text.match(/^HTTP\/1\.1 (\d{3})/)?.[1] ?? 0);
const jsonBody = (a: RawAnswer) => JSON.parse(a.text.slice(a.text.indexOf('\r\n\r\n') + 4));

describe('requestProblem (pure)', () => {
  const msg = (h: Array<[string, string]>) => requestProblem(h)?.message;
  it('names repeated framing headers, non-decimal Content-Length and non-chunked Transfer-Encoding', () => {
    expect(requestProblem([['host', 'a'], ['content-length', '3']])).toBeNull();
    expect(requestProblem([['host', 'a'], ['transfer-encoding', 'Chunked']])).toBeNull();
    expect(requestProblem([['content-length', '3'], ['content-length', '5']])).toEqual({ kind: 'framing', message: 'The content-length header appears 2 times ("3", "5"); send it once.' });
    expect(msg([['content-length', '3'], ['content-length', '3']])).toMatch(/appears 2 times/);
    expect(requestProblem([['host', 'a'], ['host', 'b']])).toMatchObject({ kind: 'host', message: expect.stringMatching(/host header appears 2 times/) });
    expect(requestProblem([['transfer-encoding', 'chunked'], ['transfer-encoding', 'chunked']])?.kind).toBe('framing');
    for (const cl of ['+3', '-1', '3, 3', ' 3', '0x10', '', '1'.repeat(16)]) expect(requestProblem([['content-length', cl]])).toMatchObject({ kind: 'framing', message: expect.stringMatching(/plain decimal/) });
    expect(msg([['transfer-encoding', 'gzip, chunked']])).toMatch(/not supported/);
  });
});

describe('HTTP edge cases on a real server', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'edge');
  });
  afterAll(async () => {
    await server?.close();
  });

  const post = (headers: string[], body: string) =>
    `POST /api/tx/events HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\nX-Tx-Key: ${t.write_key}\r\n${headers.join('\r\n')}\r\n\r\n${body}`;
  const stored = async (id: string) => (await eventsOf(server.url, t, 'limit=1000')).some((e) => e.event_id === id);

  const smuggled = 'GET /health HTTP/1.1\r\nHost: edge\r\n\r\n';

  it('refuses Content-Length given twice with different values: 400 and closed, nothing stored, a smuggled request never answered', async () => {
    const e = webEvent();
    const body = JSON.stringify(e);
    const headers = [`Content-Length: ${body.length}`, `Content-Length: ${body.length + smuggled.length}`];
    // uWS alone took the first value, stored the event and answered the rest ("GET /health…") as a second request.
    const [together, after] = await Promise.all([
      raw(server.port, post(headers, body + smuggled), 10_000),
      raw(server.port, post(headers, body), 10_000, smuggled),
    ]);
    // Bytes already behind the headers: closed without an answer.
    expect(together).toEqual({ text: '', ended: 'closed' });
    // Bytes arriving after the answer: the 400 goes out, the rest is never parsed.
    expect(after.ended).toBe('closed');
    expect(status(after)).toBe(400);
    expect(jsonBody(after).error).toEqual({ code: 'malformed_request', message: `The content-length header appears 2 times ("${body.length}", "${body.length + smuggled.length}"); send it once.` });
    for (const a of [together, after]) expect(a.text.match(/HTTP\/1\.1 /g) ?? []).toHaveLength(a === after ? 1 : 0);
    expect(await stored(e.event_id)).toBe(false);
  });

  it('answers 400 malformed_request and closes on a repeated Content-Length with equal values, a repeated or unsupported Transfer-Encoding, a repeated Host, also on the websocket route', async () => {
    const e = webEvent();
    const body = JSON.stringify(e);
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const answers = await Promise.all([
      raw(server.port, post([`Content-Length: ${body.length}`, `Content-Length: ${body.length}`], body), 10_000),
      raw(server.port, post(['Transfer-Encoding: gzip, chunked'], chunked), 10_000),
      raw(server.port, post(['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], chunked), 10_000),
      raw(server.port, 'GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 10_000),
      raw(server.port, 'GET /ws HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 4\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n', 10_000),
    ]);
    for (const a of answers) {
      expect(a.ended).toBe('closed');
      expect(status(a)).toBe(400);
      expect(jsonBody(a).error.code).toBe('malformed_request');
    }
    expect(jsonBody(answers[3]).error.message).toBe('The host header appears 2 times ("a", "b"); send it once.');
    expect(await stored(e.event_id)).toBe(false);
  });

  it('refuses a key header given twice (X-Tx-Key, Authorization) instead of taking the last one, without echoing the keys', async () => {
    const other = await createTenant(server.url, 'edge-other');
    const e = webEvent();
    const body = JSON.stringify(e);
    const twice = await raw(server.port, post([`X-Tx-Key: ${other.write_key}`, `Content-Length: ${body.length}`], body), 10_000);
    expect(status(twice)).toBe(400);
    expect(jsonBody(twice).error).toMatchObject({ code: 'malformed_request', message: 'The x-tx-key header appears 2 times; send it once.' });
    expect(twice.text).not.toContain(other.write_key);
    const auth = await raw(server.port, `GET /api/v1/tx/events HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${t.secret_key}\r\nAuthorization: Bearer ${other.secret_key}\r\n\r\n`, 10_000);
    expect(status(auth)).toBe(400);
    expect(auth.text).not.toContain(other.secret_key);
    expect(await stored(e.event_id)).toBe(false);
    // The public write-key reads refuse a header and a query key that differ, as ingest does.
    const cfg = await fetch(`${server.url}/api/tx/tracking-config?key=${other.write_key}`, { headers: { 'x-tx-key': t.write_key } });
    expect(cfg.status).toBe(400);
    expect(((await cfg.json()) as any).error).toMatchObject({ code: 'invalid_field', field: 'key' });
  });

  it('still accepts plain chunked bodies and a single Content-Length', async () => {
    const e1 = webEvent();
    const e2 = webEvent();
    const b1 = JSON.stringify(e1);
    const b2 = JSON.stringify(e2);
    const [a1, a2] = await Promise.all([
      raw(server.port, post(['Transfer-Encoding: chunked', 'Connection: close'], `${b1.length.toString(16)}\r\n${b1}\r\n0\r\n\r\n`), 10_000),
      raw(server.port, post([`Content-Length: ${b2.length}`, 'Connection: close'], b2), 10_000),
    ]);
    expect([status(a1), status(a2)]).toEqual([200, 200]);
    expect(await stored(e1.event_id)).toBe(true);
    expect(await stored(e2.event_id)).toBe(true);
  });

  it("uWS's own refusals: chunk extensions and a signed Content-Length close at once without an answer; nothing is stored", async () => {
    const e = webEvent();
    const body = JSON.stringify(e);
    const answers = await Promise.all([
      raw(server.port, post(['Transfer-Encoding: chunked'], `${body.length.toString(16)};x=1\r\n${body}\r\n0\r\n\r\n`), 30_000),
      raw(server.port, post([`Content-Length: +${body.length}`], body), 30_000),
    ]);
    for (const a of answers) expect(a).toEqual({ text: '', ended: 'closed' });
    expect(await stored(e.event_id)).toBe(false);
  });

  it("uWS's own refusals: a bad request line or a missing Host gets no answer (closed by the idle timeout); the server keeps serving", { timeout: 60_000 }, async () => {
    const answers = await Promise.all(
      ['GARBAGE\r\n\r\n', 'GET /health\r\n\r\n', 'GET /health HTTP/1.1\r\n\r\n', `GET /health HTTP/1.1\r\nX-Id: ${crypto.randomUUID()}\r\n\r\n`].map((p) => raw(server.port, p, 40_000)),
    );
    for (const a of answers) expect(a).toEqual({ text: '', ended: 'closed' });
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('refuses raw bytes that are not UTF-8 in the path or the query with 400 naming it, as it refuses them percent-encoded (never read as U+FFFD)', async () => {
    const get = (target: Buffer) =>
      raw(server.port, Buffer.concat([Buffer.from('GET '), target, Buffer.from(` HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer ${t.secret_key}\r\nConnection: close\r\n\r\n`)]), 10_000);
    const rawPath = await get(Buffer.from([...Buffer.from('/api/v1/sessions/'), 0xff, 0xfe]));
    const encoded = await get(Buffer.from('/api/v1/sessions/%FF%FE'));
    for (const a of [rawPath, encoded]) {
      expect(status(a)).toBe(400);
      expect(jsonBody(a).error).toMatchObject({ code: 'invalid_field', in: 'path', field: 'path' });
    }
    expect(jsonBody(rawPath).error.message).toMatch(/not valid UTF-8/);
    const rawQuery = await get(Buffer.from([...Buffer.from('/api/v1/sessions?visitor_id=v'), 0xff]));
    expect(status(rawQuery)).toBe(400);
    expect(jsonBody(rawQuery).error).toMatchObject({ code: 'invalid_field', in: 'query', field: 'visitor_id' });
    // U+FFFD itself, percent-encoded, and raw UTF-8 are ordinary characters: no such session.
    for (const target of [Buffer.from('/api/v1/sessions/%EF%BF%BD'), Buffer.from('/api/v1/sessions/caf\u00e9')]) {
      const a = await get(target);
      expect(status(a)).toBe(404);
      expect(jsonBody(a).error.code).toBe('not_found');
    }
  });

  it("uWS's own refusals: an unknown or lower-case method is closed at once without an answer; the catch-all never sees it", async () => {
    const answers = await Promise.all(['FOO /health HTTP/1.1\r\nHost: edge\r\n\r\n', 'get /health HTTP/1.1\r\nHost: edge\r\n\r\n'].map((p) => raw(server.port, p, 30_000)));
    for (const a of answers) expect(a).toEqual({ text: '', ended: 'closed' });
    // A method uWS knows but no route answers is ours: 405 with Allow.
    const trace = await raw(server.port, 'TRACE /health HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n', 10_000);
    expect(status(trace)).toBe(405);
    expect(trace.text).toMatch(/allow: GET, HEAD/i);
  });

  it("uWS's own refusals: a control byte in a header value or raw in the path gets no answer (closed by the parser's timeout); the server keeps serving", { timeout: 60_000 }, async () => {
    const answers = await Promise.all(
      ['GET /health HTTP/1.1\r\nHost: edge\r\nX-A: a\u0001b\r\n\r\n', 'GET /health HTTP/1.1\r\nHost: edge\r\nX-A: a\u0000b\r\n\r\n', 'GET /hea\u0001lth HTTP/1.1\r\nHost: edge\r\n\r\n'].map((p) => raw(server.port, p, 40_000)),
    );
    for (const a of answers) expect(a).toEqual({ text: '', ended: 'closed' });
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('answers HEAD on every GET route (API, dashboard, SDK chunk, unknown path) with the GET status and length and no body, so the next answer on the connection is intact', { timeout: 60_000 }, async () => {
    const auth = `Authorization: Bearer ${t.secret_key}\r\n`;
    const routes: Array<[path: string, headers: string, status: number]> = [
      ['/api/tx/schema', '', 200],
      ['/api/v1/tx/events?limit=1', auth, 200],
      ['/api/v1/tx/events?limit=0', auth, 400],
      ['/dashboard', '', 200],
      ['/tx-sdk.js', '', 200],
      ['/no/such/route', '', 404],
    ];
    for (const [path, headers, expected] of routes) {
      const get = await fetch(`${server.url}${path}`, { headers: headers ? { authorization: `Bearer ${t.secret_key}` } : {} });
      const getBody = Buffer.from(await get.arrayBuffer());
      const head = `HEAD ${path} HTTP/1.1\r\nHost: edge\r\n${headers}\r\n`;
      const next = 'GET /health HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n';
      const a = await raw(server.port, head, 20_000, next);
      expect(status(a), path).toBe(expected);
      const headEnd = a.text.indexOf('\r\n\r\n') + 4;
      const length = Number(a.text.slice(0, headEnd).match(/content-length: (\d+)/i)?.[1]);
      if (!path.startsWith('/no/')) expect(length, path).toBe(getBody.byteLength);
      // The HEAD's headers are followed directly by the next request's answer: no body in between. The 404
      // closes the connection as its GET does (catch-all: nothing behind an unknown request is parsed).
      if (expected === 404) expect(a).toMatchObject({ text: a.text.slice(0, headEnd), ended: 'closed' });
      else expect(a.text.slice(headEnd, headEnd + 12), path).toBe('HTTP/1.1 200');
    }
  });

  it('answers HEAD /health with the GET status, type and length and no body, and keeps the connection usable', async () => {
    const getLength = Buffer.byteLength(await (await fetch(`${server.url}/health`)).text());
    const head = await fetch(`${server.url}/health`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/json');
    // uptime_s may gain a digit between the two requests.
    expect(Math.abs(Number(head.headers.get('content-length')) - getLength)).toBeLessThanOrEqual(1);
    expect(await head.text()).toBe('');
    // A body after the headers would be read as the next answer on the same keep-alive connection.
    expect(((await (await fetch(`${server.url}/health`)).json()) as { status: string }).status).toBe('ok');
  });

  it('answers a known path asked with another method 405 with Allow (OPTIONS: 204 with Allow); a trailing slash is named in the 404', async () => {
    const wrong = await fetch(`${server.url}/api/v1/catalog/events`, { method: 'POST', headers: { authorization: `Bearer ${t.secret_key}` } });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD, PUT');
    expect(((await wrong.json()) as any).error).toMatchObject({ code: 'method_not_allowed', allow: ['GET', 'HEAD', 'PUT'] });
    const ingest = await fetch(`${server.url}/api/tx/events`);
    expect(ingest.status).toBe(405);
    expect(ingest.headers.get('allow')).toBe('POST, OPTIONS');
    const options = await fetch(`${server.url}/api/v1/keys/1`, { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('DELETE');
    const slash = await fetch(`${server.url}/health/`);
    expect(slash.status).toBe(404);
    expect(((await slash.json()) as any).error.message).toContain('did you mean /health');
    const unknown = await fetch(`${server.url}/api/v1/nothing-here`, { method: 'PATCH' });
    expect(unknown.status).toBe(404);
    // Under /api/tx the CORS preflight answers every path; a typo of a route is still a 404 (with the hint).
    const typo = await fetch(`${server.url}/api/tx/event`, { method: 'POST', body: '{}' });
    expect(typo.status).toBe(404);
    const batchSlash = await fetch(`${server.url}/api/tx/events/batch/`, { method: 'POST', body: '{}' });
    expect(batchSlash.status).toBe(404);
    expect(((await batchSlash.json()) as any).error.message).toContain('did you mean /api/tx/events/batch');
  });
});
