// One server for a describe block of live-topic tests, a tenant on it, and the WebSocket clients the tests open
// (closed after the block). Call liveServer inside the describe block: it registers that block's beforeAll/afterAll;
// the returned object's fields are set once beforeAll has run.
import { afterAll, beforeAll } from 'vitest';
import { bootServer, createTenant, type Tenant } from './helpers.js';
import { LiveClient } from './live-helpers.js';

export interface LiveServer {
  server: Awaited<ReturnType<typeof bootServer>>;
  /** The server's URL. */
  base: string;
  t: Tenant;
  /** A client connected with `token`, closed after the block. */
  open(token: string): Promise<LiveClient>;
}

/** `seed` fills the tenant (catalog, events) before the block's tests. */
export function liveServer(tenant: string, seed: (base: string, t: Tenant) => Promise<void>): LiveServer {
  const clients: LiveClient[] = [];
  const live = {
    async open(token: string) {
      const c = await LiveClient.open(live.base, token);
      clients.push(c);
      return c;
    },
  } as LiveServer;
  beforeAll(async () => {
    live.server = await bootServer();
    live.base = live.server.url;
    live.t = await createTenant(live.base, tenant);
    await seed(live.base, live.t);
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await live.server?.close();
  });
  return live;
}
