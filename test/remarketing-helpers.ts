// What the remarketing tests share: a local stand-in for the ad platforms' APIs (JSON in, JSON out, each request
// handed to the test's handler), and a server whose platform URLs point at it, with a tenant. Call remarketingApp
// inside the describe block: it registers that block's beforeAll/afterAll (the block's own beforeAll, which
// seeds, runs after); the returned object's fields are set once beforeAll has run.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect } from 'vitest';
import { ADMIN, bootServer, createTenant, request, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';

/** Answers the request with `status` and the JSON `body`. */
export type Reply = (status: number, body: unknown) => void;

/** A local HTTP server that parses each request's JSON body (null when empty) and lets `handle` answer it. */
export async function jsonStandIn(handle: (req: http.IncomingMessage, body: any, reply: Reply) => void) {
  const srv = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = raw ? JSON.parse(raw) : null;
      handle(req, body, (status, b) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(b)));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

export interface RemarketingApp<M> {
  server: Awaited<ReturnType<typeof bootServer>>;
  mock: M;
  /** The server's URL. */
  base: string;
  t: Tenant;
  /** A call to the API with the tenant's key. */
  call(method: string, p: string, body?: unknown): ReturnType<typeof api>;
  /** Runs remarketing.refresh (the audiences' refresh and sync) and expects it to succeed. */
  refresh(): Promise<void>;
}

/**
 * Starts the stand-in (`startMock`), then a server with an encryption key and `env(mock's URL)` (the platforms'
 * URLs), and a tenant `tenant`.
 */
export function remarketingApp<M extends { url: string; close(): Promise<void> }>(
  tenant: string,
  startMock: () => Promise<M>,
  env: (url: string) => Record<string, string>,
): RemarketingApp<M> {
  const app = {
    call: (method: string, p: string, body?: unknown) => api(app.base, app.t, method, p, body),
    refresh: async () =>
      expect((await request('POST', `${app.base}/api/admin/jobs/remarketing.refresh/run`, undefined, { authorization: `Bearer ${ADMIN}` })).json.status).toBe('succeeded'),
  } as RemarketingApp<M>;
  beforeAll(async () => {
    app.mock = await startMock();
    app.server = await bootServer({ ENCRYPTION_KEY: crypto.randomBytes(32).toString('hex'), ...env(app.mock.url) });
    app.base = app.server.url;
    app.t = await createTenant(app.base, tenant);
  });
  afterAll(async () => {
    await app.server?.close();
    await app.mock?.close();
  });
  return app;
}
