// A subscribe storm against a running server: CONNS websockets with one dashboard token each subscribe to TOPICS
// event topics the catalog does not hold (made-up ids, as a hostile or buggy client sends), while three pollers
// time /health, /api/tx/schema and a one-event ingest POST every 100 ms. Prints what the storm cost the others.
// Compare two builds side by side: start each on its own PORT and DATA_DIR (a copy of one demo data dir) and run
//   PORT=… DATA_DIR=… npx tsx bench/live-storm.ts
// against each in turn (bench/RESULTS.md "Subscribe storm").
import fs from 'node:fs';
import WebSocket from 'ws';

const port = Number(process.env.PORT ?? 8080);
const dir = process.env.DATA_DIR ?? './data';
const conns = Number(process.env.CONNS ?? 1000);
const topics = Number(process.env.TOPICS ?? 200);
const limitMs = Number(process.env.LIMIT_MS ?? 120_000);
/** After the storm, the topics are held this long (pollers still running): what holding them costs the server. */
const holdS = Number(process.env.HOLD_S ?? 0);
const demo = JSON.parse(fs.readFileSync(`${dir}/demo-tenant.json`, 'utf8')) as { secret_key: string; write_key: string };
const base = `http://127.0.0.1:${port}`;

const minted = (await (
  await fetch(`${base}/api/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${demo.secret_key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ role: 'admin', ttl_s: 3600 }),
  })
).json()) as { token: string };

let stop = false;
const errors: string[] = [];
const poll = (times: number[], call: () => Promise<unknown>) =>
  (async () => {
    while (!stop) {
      const t = performance.now();
      try {
        await call();
        times.push(performance.now() - t);
      } catch (err) {
        errors.push(String((err as { cause?: { code?: string } }).cause?.code ?? err));
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
const health: number[] = [];
const schema: number[] = [];
const ingest: number[] = [];
let n = 0;
const event = () => ({
  event_id: crypto.randomUUID(), event_name: 'event_view', occurred_at: new Date().toISOString(), source_system: 'web',
  visitor_id: `storm-${n++}`, session_id: 'storm', consent_snapshot: { analytics: true, marketing: false, data_processing: true },
  entities: { event_entity_id: 'E1', organizer_id: 'O1' },
});
const pollers = [
  poll(health, () => fetch(`${base}/health`).then((r) => r.arrayBuffer())),
  poll(schema, () => fetch(`${base}/api/tx/schema`).then((r) => r.arrayBuffer())),
  poll(ingest, () =>
    fetch(`${base}/api/tx/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tx-key': demo.write_key, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)' },
      body: JSON.stringify(event()),
    }).then((r) => r.arrayBuffer()),
  ),
];

const started = performance.now();
let answered = 0;
const sockets: WebSocket[] = [];
for (let c = 0; c < conns; c++) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${minted.token}`, { perMessageDeflate: false });
  sockets.push(ws);
  ws.on('open', () => {
    for (let i = 0; i < topics; i++) ws.send(JSON.stringify({ op: 'subscribe', topic: `analytics:event:storm-${c}-${i}` }));
  });
  ws.on('message', (m) => {
    const s = m.toString();
    if (s.includes('"type":"snapshot"') || s.includes('"type":"error"')) answered++;
  });
  ws.on('error', (err) => errors.push(err.message));
}
while (answered < conns * topics && performance.now() - started < limitMs) await new Promise((r) => setTimeout(r, 200));
const elapsed = performance.now() - started;

/** The server's CPU seconds (user + system) from /proc, its pid read from DATA_DIR's lock. */
const serverPid = (JSON.parse(fs.readFileSync(`${dir}/server.lock`, 'utf8')) as { pid: number }).pid;
const cpuS = () => {
  const f = fs.readFileSync(`/proc/${serverPid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const stormEnd = { health: health.length, ingest: ingest.length };
let hold: Record<string, unknown> | null = null;
if (holdS > 0) {
  const cpu0 = cpuS();
  await new Promise((r) => setTimeout(r, holdS * 1000));
  const h = health.slice(stormEnd.health);
  const i = ingest.slice(stormEnd.ingest);
  hold = { seconds: holdS, server_cpu_per_s: +((cpuS() - cpu0) / holdS).toFixed(2), health: summary(h), ingest: summary(i) };
}
stop = true;
await Promise.all(pollers);
for (const s of sockets) s.terminate();

function summary(list: number[]) {
  const a = [...list].sort((x, y) => x - y);
  return { n: a.length, p50_ms: Math.round(a[a.length >> 1] ?? NaN), p99_ms: Math.round(a[Math.floor(a.length * 0.99)] ?? NaN), max_ms: Math.round(a.at(-1) ?? NaN) };
}
console.log(JSON.stringify({ conns, topics, answered, storm_s: +(elapsed / 1000).toFixed(1), health: summary(health.slice(0, stormEnd.health)), schema: summary(schema), ingest: summary(ingest.slice(0, stormEnd.ingest)), errors: errors.length, hold }));
