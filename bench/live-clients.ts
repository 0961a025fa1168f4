// Child process of bench/live.ts: opens many websocket / Socket.IO clients and records what they receive,
// so the server process measures only the server (CPU and memory). Driven over IPC.
import { io as sioConnect, type Socket } from 'socket.io-client';
import WebSocket from 'ws';

type Cmd =
  | { cmd: 'open'; kind: 'ws' | 'sio' | 'bare'; url: string; n: number; topic: string; token?: string; path?: string }
  | { cmd: 'reset' }
  | { cmd: 'report' }
  | { cmd: 'closeAll' }
  | { cmd: 'exit' };

const clock = () => performance.timeOrigin + performance.now();

interface Client {
  close(): void;
}
let clients: Client[] = [];
/** Per received update: [client, occurred_at of its newest event (updated_at), receive time]. */
let samples: number[] = [];
let received = 0;
let nextId = 0;

const reply = (m: unknown) => process.send!(m);

/** Every client counts what it receives; one in SAMPLE_EVERY also records latency (cheap string scan). */
const SAMPLE_EVERY = 5;
const UPDATED = '"updated_at":"';

function onLive(id: number, raw: string | object) {
  received++;
  if (id % SAMPLE_EVERY !== 0) return;
  const at = clock();
  if (typeof raw === 'string') {
    if (!raw.includes('"type":"update"')) return;
    const i = raw.lastIndexOf(UPDATED);
    if (i >= 0) samples.push(id, Date.parse(raw.slice(i + UPDATED.length, i + UPDATED.length + 24)), at);
    return;
  }
  const m = raw as { type?: string; data?: { updated_at?: string } };
  if (m.type === 'update' && m.data?.updated_at) samples.push(id, Date.parse(m.data.updated_at), at);
}

async function openWs(url: string, topic: string, subscribe: boolean): Promise<Client> {
  const id = nextId++;
  const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await new Promise<void>((resolve) => {
    ws.on('message', (buf) => {
      const s = buf.toString();
      if (s.includes('"snapshot"') || s === 'subscribed') {
        resolve();
        return;
      }
      onLive(id, s);
    });
    if (subscribe) ws.send(JSON.stringify({ op: 'subscribe', topic }));
    else resolve();
  });
  return { close: () => ws.terminate() };
}

async function openSio(url: string, token: string, topic: string, path?: string): Promise<Client> {
  const id = nextId++;
  const s: Socket = sioConnect(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true, ...(path ? { path } : {}) });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  const snap = await s.emitWithAck('subscribe', topic);
  if (snap.type !== 'snapshot') throw new Error(`subscribe: ${JSON.stringify(snap)}`);
  s.on('message', (m: object) => onLive(id, m));
  return { close: () => s.close() };
}

process.on('message', async (c: Cmd) => {
  try {
    switch (c.cmd) {
      case 'open': {
        const out: Client[] = [];
        // Open in waves so the server's accept queue is not flooded.
        for (let i = 0; i < c.n; i += 200) {
          const wave = Array.from({ length: Math.min(200, c.n - i) }, () =>
            c.kind === 'sio' ? openSio(c.url, c.token!, c.topic, c.path) : openWs(c.url, c.topic, c.kind === 'ws'),
          );
          out.push(...(await Promise.all(wave)));
        }
        clients.push(...out);
        reply({ ok: true, opened: out.length });
        break;
      }
      case 'reset':
        samples = [];
        received = 0;
        reply({ ok: true });
        break;
      case 'report':
        reply({ ok: true, received, samples });
        break;
      case 'closeAll':
        for (const cl of clients) cl.close();
        clients = [];
        reply({ ok: true });
        break;
      case 'exit':
        process.exit(0);
    }
  } catch (err) {
    reply({ ok: false, error: (err as Error).message });
  }
});
reply({ ok: true, ready: true });
