// Plumbing for the client tests (browser SDK in Chromium, scanner tracker in Node): a static site on its
// own origin serving the built SDK, a TCP proxy that can cut the network, Chromium via playwright-core,
// and read-back helpers.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { buildClients } from '../scripts/build-clients.js';
import { eventsOf, tmpDir, type Tenant } from './helpers.js';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** A regular desktop Chrome UA: headless Chromium's own says HeadlessChrome, which the server flags as a bot. */
export const DESKTOP_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

/**
 * Chromium with a regular UA for the whole browser: a per-context override does not reach requests made
 * while a page unloads (beacons), which would otherwise carry HeadlessChrome.
 */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: [...CHROMIUM_ARGS, `--user-agent=${DESKTOP_UA}`, ...extraArgs] });
}

/**
 * A browser profile (fresh localStorage) whose pages start the SDK with `config` (window.TX_CONFIG), or only
 * find it in window[`global`] for a page that starts the tracker itself.
 */
export async function sdkProfile(browser: Browser, config: Record<string, unknown>, global = 'TX_CONFIG'): Promise<BrowserContext> {
  const ctx = await browser.newContext({ userAgent: DESKTOP_UA, viewport: { width: 1280, height: 720 } });
  await ctx.addInitScript(`window.${global} = ${JSON.stringify(config)}`);
  return ctx;
}

/** Evaluates the expression `fn` in the page with `tx` bound to its window.tx. */
export const txEval = <T>(page: Page, fn: string): Promise<T> => page.evaluate(`(() => { const tx = window.tx; return ${fn}; })()`) as Promise<T>;

/** Builds the SDK bundles into a private directory (tests never write into the source tree). */
export async function buildSdkForTest() {
  const outDir = tmpDir('txl-sdk-');
  const report = await buildClients({ outDir, quiet: true, regenerate: false });
  return { ...report, iife: fs.readFileSync(path.join(outDir, 'tx-sdk.js'), 'utf8') };
}

/**
 * The tenant's website on its own origin: every path is the same test page (a heading, a list of eight
 * event cards 300 px tall, a tall spacer), loading the SDK with one script tag and starting it from
 * `window.TX_CONFIG` when a test set one (context.addInitScript). Served from 127.0.0.1 like the API: a
 * page Chromium considers public (e.g. from page.route) may not call a private address.
 */
export async function startSite(sdkSource: string) {
  const cards = Array.from(
    { length: 8 },
    (_, i) => `<a class="card" href="#e${i}" data-tx-event="E${i}" data-tx-list="home" style="display:block;height:300px;border:1px solid #ccc">Event E${i}</a>`,
  ).join('\n');
  const pages = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://site');
    const custom = pages.get(url.pathname);
    if (custom !== undefined) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      return res.end(custom);
    }
    if (url.pathname === '/tx.js') {
      res.writeHead(200, { 'content-type': 'application/javascript', 'cache-control': 'no-store' });
      return res.end(sdkSource);
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><html><head><meta charset="utf-8"><title>Page ${url.pathname}</title>
<style>body{margin:0;font:14px sans-serif}</style></head><body>
<h1 style="height:100px;margin:0">${url.pathname}</h1>
<div id="list">${cards}</div>
<div style="height:2000px"></div>
<script src="/tx.js"></script>
<script>if (window.TX_CONFIG) window.tx = new TxTracker(window.TX_CONFIG);</script>
</body></html>`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const origin = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    origin,
    /** Pages of its own for a path (served instead of the standard page). */
    pages,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * A TCP proxy in front of the server whose "network" can go away: stop() closes the port and cuts open
 * connections (clients get ECONNREFUSED / resets), start() listens again on the same port.
 * `dropResponses` forwards requests but cuts the connection when the answer comes back: the server has
 * processed the batch, the client never hears it (the lost-acknowledgement case).
 */
export async function startProxy(targetPort: number) {
  const sockets = new Set<net.Socket>();
  const state = { dropResponses: false, connections: 0, dropped: 0 };
  const onClient = (client: net.Socket) => {
    state.connections++;
    const up = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(up);
    client.on('data', (d) => up.write(d));
    up.on('data', (d) => {
      if (state.dropResponses) {
        state.dropped++;
        client.destroy();
        up.destroy();
      } else client.write(d);
    });
    const drop = () => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    client.on('close', drop);
    up.on('close', drop);
    client.on('error', drop);
    up.on('error', drop);
  };
  const listen = (srv: net.Server, p: number) =>
    new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(p, '127.0.0.1', () => {
        srv.off('error', reject);
        resolve();
      });
    });
  let server = net.createServer(onClient);
  await listen(server, 0);
  const port = (server.address() as net.AddressInfo).port;
  let up = true;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    state,
    get up() {
      return up;
    },
    async stop() {
      if (!up) return;
      up = false;
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      sockets.clear();
      await closed;
    },
    async start() {
      if (up) return;
      server = net.createServer(onClient);
      await listen(server, port); // rejects (EADDRINUSE) if something else took the port meanwhile
      up = true;
    },
  };
}

/** Every stored event matching `query`, across event names (the read API returns at most 1000 per call). */
export async function eventsByName(base: string, t: Tenant, names: string[], query: string) {
  const out: Record<string, any>[] = [];
  for (const name of names) out.push(...(await eventsOf(base, t, `limit=1000&event_name=${name}&${query}`)));
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Forwards everything to the server; counts every event id posted to the batch endpoint. */
export async function countingProxy(target: string) {
  const copies = new Map<string, number>();
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST' && req.url?.startsWith('/api/tx/events/batch')) {
        try {
          for (const e of JSON.parse(body.toString()).events ?? []) copies.set(e.event_id, (copies.get(e.event_id) ?? 0) + 1);
        } catch (err) {
          copies.set(`unparsable: ${(err as Error).message}`, 1); // shows up in the assertions
        }
      }
      const up = http.request(new URL(req.url ?? '/', target), { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      up.end(body);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    copies,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}
