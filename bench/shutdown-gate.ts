// What the graceful-shutdown gate (server/http/shutdown-gate.ts, README "Operations") costs each request: a route
// registered through the gate (which counts the request until its response ends, by wrapping the response's end,
// endWithoutBody, upgrade, close and onAborted) against the same route registered on the bare app, side by side in
// one tinybench run. The app and the responses are stand-ins shaped like uWS's (plain objects: the cost measured is
// the gate's own wrapping and counting, not uWS's); each request ends its response, as every route does.
//
//   npx tsx bench/shutdown-gate.ts
import os from 'node:os';
import { Bench } from 'tinybench';
import type { HttpRequest, HttpResponse, TemplatedApp } from '../server/http/uws.js';
import { shutdownGate } from '../server/http/shutdown-gate.js';

type Handler = (res: HttpResponse, req: HttpRequest) => void;

/** A stand-in app: `post` keeps the handler, so the bench can call it as uWS would. */
function standInApp(): { app: TemplatedApp; handler: () => Handler } {
  let h: Handler | null = null;
  const app = { post: (_p: string, handler: Handler) => ((h = handler), app), ws: () => app } as unknown as TemplatedApp;
  return { app, handler: () => h! };
}

function response(): HttpResponse {
  const r = {
    ended: 0,
    end() { r.ended++; return r; },
    endWithoutBody() { return r; },
    upgrade() { return r; },
    close() { return r; },
    onAborted() { return r; },
    writeStatus() { return r; },
    writeHeader() { return r; },
  };
  return r as unknown as HttpResponse;
}

const route: Handler = (res) => {
  res.onAborted(() => undefined);
  res.writeStatus('200 OK').writeHeader('content-type', 'application/json').end('{"accepted":1}');
};
const req = {} as HttpRequest;

const bare = standInApp();
bare.app.post('/api/tx/events', route);
const gated = standInApp();
shutdownGate(gated.app);
gated.app.post('/api/tx/events', route);
const [plain, withGate] = [bare.handler(), gated.handler()];

const bench = new Bench({ time: 1500, warmupTime: 300 });
bench.add('route on the bare app', () => plain(response(), req));
bench.add('route through the shutdown gate', () => withGate(response(), req));
await bench.run();

type Latency = { latency: { mean: number; samplesCount: number } };
const rows = bench.tasks.map((t) => {
  const l = (t.result as unknown as Latency).latency;
  return { task: t.name, ns_per_request: Math.round(l.mean * 1e6), samples: l.samplesCount };
});
console.table(rows);
console.log(`gate overhead per request: ${rows[1].ns_per_request - rows[0].ns_per_request} ns (${(rows[1].ns_per_request / rows[0].ns_per_request).toFixed(2)}x the bare route's stand-in work)`);
console.log(`machine: ${os.cpus().length} × ${os.cpus()[0].model}, Node ${process.version}, load ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}, ${new Date().toISOString()}`);
