// HEAD on the Socket.IO path: engine.io answers every method there itself, and answered HEAD with a 40-byte body
// that a kept-alive client read as the start of its next answer. Now 405 with Allow and no body, and the
// connection stays usable; Socket.IO itself (GET handshake) is unchanged. Raw TCP: fetch would drop the body.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer } from './helpers.js';

/** Writes raw bytes and collects what comes back until the server closes or `capMs` passes. */
function raw(port: number, payload: string, capMs: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(text);
    }, capMs);
    s.on('data', (d) => {
      text += d.toString();
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    s.write(payload);
  });
}

describe('HEAD /socket.io/', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  beforeAll(async () => {
    server = await bootServer();
  }, 60_000);
  afterAll(async () => server?.close());

  it('answers 405 with Allow and no body, so the next answer on the kept-alive connection is intact', async () => {
    for (const path of ['/socket.io/', '/socket.io/?EIO=4&transport=polling']) {
      const head = `HEAD ${path} HTTP/1.1\r\nHost: sio\r\n\r\n`;
      const next = 'GET /health HTTP/1.1\r\nHost: sio\r\nConnection: close\r\n\r\n';
      const text = await raw(server.port, head + next, 20_000);
      const headEnd = text.indexOf('\r\n\r\n') + 4;
      const headers = text.slice(0, headEnd);
      expect(headers, path).toMatch(/^HTTP\/1\.1 405 /);
      expect(headers, path).toMatch(/\r\nallow: GET, POST, OPTIONS\r\n/i);
      expect(text.slice(headEnd, headEnd + 15), path).toBe('HTTP/1.1 200 OK');
    }
  });

  it('still opens a Socket.IO session with GET', async () => {
    const r = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
    expect(r.status).toBe(200);
    expect(await r.text()).toMatch(/^0\{"sid":/);
  });
});
