// Serves the live dashboard page: GET /dashboard (the HTML), /dashboard/app.js (client/dashboard bundled
// with client/live by esbuild, in process, on the first request, then kept in memory) and
// /dashboard/app.css; and the browser SDK's chunks at /tx-sdk.js, /tx-sdk.mjs, /tx-helpers.js(.mjs) and
// /tx-pixels.js(.mjs), bundled the same way (esbuild only: the release build in client/dist adds terser and
// is ~200 B smaller), so a page can load the SDK from this server. Nothing to build before `npm start`. Outside production the bundle is rebuilt when
// one of its source files changed, so editing the page needs only a reload.
//
// Assets are answered with an ETag (304 on revalidation) and gzip when the browser accepts it. The page
// carries a strict Content-Security-Policy (scripts and styles from this origin only, connections to this
// origin's http and websocket) and no referrer, since links may carry a token in ?token=.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import type { Logger } from 'pino';
import { fail } from '../http/errors.js';
import { BROWSER_BUILD, BROWSER_CHUNKS } from './browser-build.js';
import { answerBody, send, trackAbort, type AbortState, type HttpRequest, type HttpResponse, type TemplatedApp } from '../http/uws.js';

export interface DashboardDeps {
  log: Logger;
  /** Folder holding client/ (default: the repository this file is in). */
  root?: string;
  /** Rebuild when sources change (default: NODE_ENV is not production). */
  watch?: boolean;
}

interface Asset {
  body: Buffer;
  gzip: Buffer;
  etag: string;
  type: string;
  /** Source files and their mtimes when built (watch mode). */
  inputs: Map<string, number>;
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS = {
  'Cache-Control': 'no-store',
  'Content-Security-Policy': CSP,
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
};

const defaultRoot = () => path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function asset(body: Buffer, type: string, inputs: Map<string, number>): Asset {
  return { body, gzip: zlib.gzipSync(body), etag: `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`, type, inputs };
}

function mtimes(files: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const f of files) {
    try {
      m.set(f, fs.statSync(f).mtimeMs);
    } catch {
      m.set(f, -1);
    }
  }
  return m;
}

const stale = (a: Asset) => [...a.inputs].some(([f, t]) => mtimes([f]).get(f) !== t);

export interface DashboardAssets {
  /** The bundle, building it if needed. */
  script(): Promise<Asset>;
  /** A browser chunk of the SDK (a key of BROWSER_CHUNKS), building it if needed. */
  chunk(name: string): Promise<Asset>;
  style(): Asset;
  page(): Asset;
}

export function createDashboardAssets(deps: DashboardDeps): DashboardAssets {
  const root = deps.root ?? defaultRoot();
  const dir = path.join(root, 'client/dashboard');
  const watch = deps.watch ?? process.env.NODE_ENV !== 'production';
  const files = new Map<string, Asset>();
  const bundles = new Map<string, Asset>();
  const building = new Map<string, Promise<Asset>>();

  const build = async (name: string, options: import('esbuild').BuildOptions): Promise<Asset> => {
    const t0 = Date.now();
    const esbuild = await import('esbuild');
    const out = await esbuild.build({ ...options, write: false, metafile: true, logLevel: 'silent', absWorkingDir: root });
    const inputs = Object.keys(out.metafile!.inputs).map((f) => path.resolve(root, f));
    const a = asset(Buffer.from(out.outputFiles![0].contents), 'text/javascript; charset=utf-8', mtimes(inputs));
    deps.log.info({ ms: Date.now() - t0, bytes: a.body.length, gzip: a.gzip.length, inputs: inputs.length }, `${name}: bundle built`);
    return a;
  };
  /** One bundle per name, built once (again when a source changed, in watch mode); concurrent callers share the build. */
  const bundle = async (name: string, options: import('esbuild').BuildOptions): Promise<Asset> => {
    const have = bundles.get(name);
    if (have && !(watch && stale(have))) return have;
    let b = building.get(name);
    if (!b) {
      b = build(name, options).finally(() => building.delete(name));
      building.set(name, b);
    }
    const a = await b;
    bundles.set(name, a);
    return a;
  };
  const DASHBOARD: import('esbuild').BuildOptions = { entryPoints: [path.join(dir, 'main.ts')], bundle: true, format: 'iife', platform: 'browser', target: 'es2020', minify: true, legalComments: 'none' };

  const file = (name: string, type: string): Asset => {
    const f = path.join(dir, name);
    let a = files.get(name);
    if (!a || (watch && stale(a))) {
      a = asset(fs.readFileSync(f), type, mtimes([f]));
      files.set(name, a);
    }
    return a;
  };

  return {
    script: () => bundle('dashboard', DASHBOARD),
    chunk: (name) => bundle(name, { ...BROWSER_BUILD, entryPoints: [path.join(root, BROWSER_CHUNKS[name].entry)], format: BROWSER_CHUNKS[name].format }),
    style: () => file('app.css', 'text/css; charset=utf-8'),
    page: () => file('index.html', 'text/html; charset=utf-8'),
  };
}

interface Conditional {
  gzip: boolean;
  etag: string;
}

/** What serve() needs from the request, read synchronously (uWS requests die with the handler). */
const conditional = (req: HttpRequest): Conditional => ({ gzip: /\bgzip\b/.test(req.getHeader('accept-encoding')), etag: req.getHeader('if-none-match') });

function serve(res: HttpResponse, state: AbortState, c: Conditional, a: Asset, headers: Record<string, string>): void {
  if (state.aborted || state.done) return;
  state.done = true;
  res.cork(() => {
    if (c.etag === a.etag) {
      res.writeStatus('304 Not Modified');
      res.writeHeader('ETag', a.etag);
      for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
      res.endWithoutBody();
      return;
    }
    res.writeStatus('200 OK');
    res.writeHeader('Content-Type', a.type);
    res.writeHeader('ETag', a.etag);
    res.writeHeader('Vary', 'Accept-Encoding');
    for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
    if (c.gzip) res.writeHeader('Content-Encoding', 'gzip');
    answerBody(res, c.gzip ? a.gzip : a.body);
  });
}

/** Registers /dashboard and its assets; call before the catch-all 404 (registerStatusRoutes). */
export function registerDashboard(app: TemplatedApp, deps: DashboardDeps): DashboardAssets {
  const assets = createDashboardAssets(deps);
  const ASSET_HEADERS = { 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' };
  const fileRoute = (get: () => Asset, headers: Record<string, string>, what: string) => (res: HttpResponse, req: HttpRequest) => {
    const state = trackAbort(res);
    try {
      serve(res, state, conditional(req), get(), headers);
    } catch (err) {
      deps.log.error({ err: (err as Error).message }, `dashboard: ${what} unavailable`);
      send(res, state, fail('dashboard_unavailable', { what }));
    }
  };
  const page = fileRoute(() => assets.page(), PAGE_HEADERS, 'page');
  app.get('/dashboard', page);
  app.get('/dashboard/', page);
  app.get('/dashboard/app.css', fileRoute(() => assets.style(), ASSET_HEADERS, 'stylesheet'));
  const bundleRoute = (get: () => Promise<Asset>, headers: Record<string, string>, what: string) => (res: HttpResponse, req: HttpRequest) => {
    const state = trackAbort(res);
    const c = conditional(req);
    get()
      .then((a) => serve(res, state, c, a, headers))
      .catch((err: Error) => {
        deps.log.error({ err: err.message }, `${what}: bundle failed`);
        send(res, state, fail('dashboard_build_failed', `Building ${what} failed: ${err.message.slice(0, 500)}`));
      });
  };
  app.get('/dashboard/app.js', bundleRoute(() => assets.script(), ASSET_HEADERS, 'the dashboard'));
  // Loaded by tenants' pages on other origins: an ES module import needs CORS; short caching, revalidated by ETag.
  const SDK_HEADERS = { 'Cache-Control': 'public, max-age=300', 'Access-Control-Allow-Origin': '*', 'X-Content-Type-Options': 'nosniff' };
  for (const name of Object.keys(BROWSER_CHUNKS)) app.get(`/${name}`, bundleRoute(() => assets.chunk(name), SDK_HEADERS, name));
  return assets;
}
