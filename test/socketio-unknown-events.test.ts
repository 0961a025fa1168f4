// Socket.IO answers an event it does not know as /ws answers an unknown op: `invalid_message` (probe: sio2.mjs,
// `emitWithAck('ping')` and `emitWithAck('bogus', …)` were never acknowledged, the client waited for its timeout).
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, type Tenant } from './helpers.js';
import { LiveClient, mintToken } from './live-helpers.js';

function open(base: string, token: string): Promise<Socket> {
  const s = connect(base, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

describe('Socket.IO unknown events', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'sio-unknown');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('acknowledges an unknown event with the invalid_message error of /ws, and sends it as a message without an ack', async () => {
    const token = await mintToken(server.url, t, { role: 'organizer', org_id: 'O1' });
    const s = await open(server.url, token);
    const ws = await LiveClient.open(server.url, token);
    try {
      ws.send({ op: 'dance' });
      const wsError = await ws.next((m) => m.type === 'error');
      const ping = await s.timeout(5000).emitWithAck('ping');
      expect(ping).toMatchObject({ type: 'error', code: 'invalid_message' });
      expect(ping.message).toContain('"ping"');
      expect(await s.timeout(5000).emitWithAck('bogus', { topic: 'analytics:dashboard:O1' })).toMatchObject({ type: 'error', code: wsError.code });
      const got: any[] = [];
      s.on('message', (m) => got.push(m));
      s.emit('bogus');
      for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(got).toEqual([expect.objectContaining({ type: 'error', code: 'invalid_message' })]);
      // The known events still work on the same connection.
      expect(await s.timeout(5000).emitWithAck('subscribe', 'analytics:dashboard:O1')).toMatchObject({ type: 'snapshot', topic: 'analytics:dashboard:O1' });
    } finally {
      s.close();
      ws.close();
    }
  });
});
