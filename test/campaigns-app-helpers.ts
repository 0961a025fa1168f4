// A running server on the mock ad platforms for the campaign tests that drive it through the API: the platforms
// deliver only as the test advances their simulated clock, and notices (CAMPAIGNS_WEBHOOK_URL) can be collected.
// Call campaignsApp inside the describe block: it registers that block's beforeAll/afterAll.
import { afterAll, beforeAll, expect } from 'vitest';
import { bootServer, createTenant, request, type Tenant } from './helpers.js';
import { mockPlatformsEnv, noticeSink, type NoticeSink } from './campaigns-stores.js';
import { startMockPlatforms, type MockPlatforms } from './mock-ad-platforms/index.js';

type Server = Awaited<ReturnType<typeof bootServer>>;

const HOUR = 3_600_000;

export interface CampaignsAppOptions {
  tenant: string;
  /** Collect the notices posted to CAMPAIGNS_WEBHOOK_URL into `app.notices`. */
  notices?: boolean;
}

/** The mock platforms (`mock`), a server whose every platform account is on them (plus `env`), a tenant on it. */
export async function serverOnMockPlatforms(mock: Parameters<typeof startMockPlatforms>[0], tenant: string, env: Record<string, string> = {}) {
  const platforms = await startMockPlatforms(mock);
  try {
    const server = await bootServer({ ...env, ...mockPlatformsEnv(platforms.url) });
    return { mock: platforms, server, t: await createTenant(server.url, tenant) };
  } catch (err) {
    await platforms.close();
    throw err;
  }
}

export interface CampaignsApp {
  server: Server;
  mock: MockPlatforms;
  t: Tenant;
  /** The notices received so far (with `notices: true`). */
  notices: any[];
  /** A call to the API with the tenant's secret key. */
  api(method: string, p: string, body?: unknown): ReturnType<typeof request>;
  /** Runs the admin job `name` and expects it to succeed. */
  job(name: string): Promise<void>;
  /** Advances the platforms' clock by `hours` (they deliver that much) and syncs the metrics. */
  deliver(hours: number): Promise<void>;
  /** GET /api/v1/campaigns/budgets/{budget}. */
  read(budget: number): Promise<any>;
}

export function campaignsApp(opts: CampaignsAppOptions): CampaignsApp {
  // The mock platforms' simulated clock (delivery happens only as the test advances it).
  let clock = Date.now();
  let hook: NoticeSink | undefined;
  const app = {
    notices: [] as any[],
    api: (method: string, p: string, body?: unknown) => request(method, `${app.server.url}${p}`, body, { authorization: `Bearer ${app.t.secret_key}` }),
    async job(name: string) {
      const r = await request('POST', `${app.server.url}/api/admin/jobs/${name}/run`, undefined, { authorization: `Bearer ${app.server.adminToken}` });
      expect(r.json?.status, r.text).toBe('succeeded');
    },
    async deliver(hours: number) {
      clock += hours * HOUR;
      app.mock.advanceTo(clock);
      await app.job('campaigns.sync_metrics');
    },
    read: async (budget: number) => (await app.api('GET', `/api/v1/campaigns/budgets/${budget}`)).json,
  } as CampaignsApp;

  beforeAll(async () => {
    if (opts.notices) hook = await noticeSink(app.notices);
    const rates = () => ({ cpm: 5, ctr: 0.01, cvr: 0.03, aov: 60, claimFactor: 1.2 });
    Object.assign(app, await serverOnMockPlatforms({ seed: 16, startMs: clock, rates }, opts.tenant, hook ? { CAMPAIGNS_WEBHOOK_URL: hook.url } : {}));
  });
  afterAll(async () => {
    await app.server?.close();
    await app.mock?.close();
    await hook?.close();
  });
  return app;
}

/** Closes what `things` returns, in that order, after the block's tests (whatever beforeAll got to open). */
export function closeAfterAll(things: () => ({ close(): unknown } | undefined)[], timeout?: number): void {
  afterAll(async () => {
    for (const x of things()) await x?.close();
  }, timeout);
}
