// The store and the mock-platform settings of the campaign integration tests. The embedded store is the simulator's
// (scripts/simulate-campaigns-store.ts: in this thread, started from a migrated template, so fast to open); the
// PostgreSQL one a fresh database of the machine's PostgreSQL in plain mode (store-suites.ts scratchDatabase),
// migrated, dropped after.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { campaignsConfig, type CampaignsConfig } from '../server/campaigns/config.js';
import { createCampaignsCore, type CampaignsCore } from '../server/campaigns/index.js';
import { openPostgres, type Db } from '../server/store/db.js';
import { migrate } from '../server/store/migrate.js';
import { openSimStore } from '../scripts/simulate-campaigns-store.js';
import { silent, tmpDir } from './helpers.js';
import { scratchDatabase } from './store-suites.js';
import { startMockPlatforms, type MockPlatforms } from './mock-ad-platforms/index.js';

export type CampaignStoreKind = 'embedded' | 'postgres';

export interface CampaignStore {
  db: Db;
  /** Closes the store and removes it (the directory, or the database). */
  drop(): Promise<void>;
}

/**
 * A migrated store for one test file: `prefix` names its directory (txl-{prefix}-…) or database (txl_{prefix}_…);
 * `poolSize` is the PostgreSQL pool's size (the embedded store has one session).
 */
export async function campaignStore(kind: CampaignStoreKind, prefix: string, poolSize: number): Promise<CampaignStore> {
  if (kind === 'embedded') {
    const dir = tmpDir(`txl-${prefix}-`);
    const db = await openSimStore(dir, silent);
    return { db, drop: async () => { await db.discard(); fs.rmSync(dir, { recursive: true, force: true }); } };
  }
  const scratch = await scratchDatabase(`txl_${prefix}`);
  try {
    const db = await openPostgres(scratch.url, poolSize, silent, { plain: true });
    await migrate(db, silent).catch(async (err) => { await db.close(); throw err; });
    return { db, drop: async () => { await db.close(); await scratch.drop(); } };
  } catch (err) {
    await scratch.drop();
    throw err;
  }
}

export type MockPlatform = 'meta' | 'google_ads' | 'tiktok';

/** Each platform's settings pointing at the mock platforms (test/mock-ad-platforms) at `url`. */
const MOCK_ENV: Record<MockPlatform, (url: string) => Record<string, string>> = {
  meta: (url) => ({ META_GRAPH_URL: url, META_AD_ACCOUNT_ID: '1001', META_ADS_TOKEN: 'tok', META_PIXEL_ID: '123456789012345' }),
  google_ads: (url) => ({ GOOGLE_ADS_URL: url, GOOGLE_ADS_CUSTOMER_ID: '2002002002', GOOGLE_ADS_TOKEN: 'tok', GOOGLE_ADS_DEVELOPER_TOKEN: 'dev' }),
  tiktok: (url) => ({
    TIKTOK_API_URL: url, TIKTOK_ADVERTISER_ID: '3003', TIKTOK_ADS_TOKEN: 'tok', TIKTOK_PIXEL_ID: 'CABC123DEF456GHI789J', TIKTOK_LOCATION_IDS: '798549',
  }),
};

/**
 * Where the ads of a suite without an event page lead, and the country they target when the catalog names none
 * (README "Campaigns" → The suite): nothing is assumed, so the tests' deployments set them.
 */
export const SUITE_DEFAULTS_ENV = { CAMPAIGNS_LANDING_URL: 'https://tickets.example/events', CAMPAIGNS_COUNTRY: 'RO' };

/** The server's environment with every platform's ad account on the mock platforms at `url` (what bootServer takes). */
export const mockPlatformsEnv = (url: string): Record<string, string> => Object.assign({}, SUITE_DEFAULTS_ENV, ...Object.values(MOCK_ENV).map((env) => env(url)));

/** The campaigns' settings with `platforms` on the mock platforms at `url`, plus `overrides` (e.g. META_PAGE_ID). */
export function mockPlatformsConfig(
  url: string,
  platforms: readonly MockPlatform[] = ['meta', 'google_ads', 'tiktok'],
  overrides: Record<string, string> = {},
): CampaignsConfig {
  return campaignsConfig(Object.assign({}, SUITE_DEFAULTS_ENV, ...platforms.map((p) => MOCK_ENV[p](url)), overrides), []);
}

/** A budget of `total` EUR of organizer O1 on Meta with its suite submitted and approved (its campaigns published). */
export async function approvedMetaBudget(core: CampaignsCore, tenant: number, total: number) {
  const b = await core.service.createBudget(tenant, {
    organizer_id: 'O1', event_id: null, total_budget: total, currency: 'EUR', daily_budget_limit: null, allocation_strategy: 'equal_split',
    platform_allocations: { meta: { percentage: 100 } }, target_cpa: null, target_roas: null, payment_reference: null, paid_at: null, started_at: null, ends_at: null, notes: null,
  });
  const suite = await core.service.createSuite(tenant, b.id, 1);
  if (!suite.ok) throw new Error(suite.message);
  await core.service.submit(tenant, b.id);
  const approved = await core.service.approve(tenant, suite.value.map((c) => c.id));
  if (!approved.ok) throw new Error(approved.message);
  return { budgetId: b.id, campaigns: await core.service.campaignsOf(tenant, b.id) };
}

export interface NoticeSink {
  url: string;
  close(): Promise<void>;
}

/** A local stand-in for CAMPAIGNS_WEBHOOK_URL: every notice posted to it is parsed and pushed onto `notices`. */
export async function noticeSink(notices: unknown[]): Promise<NoticeSink> {
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      notices.push(JSON.parse(body));
      res.end('{}');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/notices`,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

const HOUR = 3_600_000;

export interface CampaignsCoreSuite {
  store: CampaignStore;
  mock: MockPlatforms;
  core: CampaignsCore;
  /** Six hours before the current hour: the platforms' and the core's clock start there. */
  t0: number;
  /** The core's clock (the test moves `now`). */
  clock: { now: number };
  /** What the core logged at warn and above, parsed. */
  logged: Record<string, unknown>[];
  log: pino.Logger;
  /** The campaigns' settings with Meta on the mock platforms. */
  config(): CampaignsConfig;
}

/**
 * The campaigns core on a `kind` store (`prefix`, see campaignStore) and the mock platforms (`seed`), Meta only,
 * the default credit source (the conversions domain's attributions). Call it inside the describe block: it
 * registers that block's beforeAll/afterAll; the returned object's fields are set once beforeAll has run.
 */
export function campaignsCoreSuite(kind: CampaignStoreKind, prefix: string, seed: number): CampaignsCoreSuite {
  const t0 = Math.floor(Date.now() / HOUR) * HOUR - 6 * HOUR;
  const logged: Record<string, unknown>[] = [];
  const s = {
    t0,
    clock: { now: t0 },
    logged,
    log: pino({ level: 'warn' }, new Writable({ write(chunk, _enc, done) { logged.push(JSON.parse(String(chunk))); done(); } })),
    config: () => mockPlatformsConfig(s.mock.url, ['meta']),
  } as CampaignsCoreSuite;
  beforeAll(async () => {
    s.store = await campaignStore(kind, prefix, 2);
    s.mock = await startMockPlatforms({ seed, startMs: t0, rates: () => ({ cpm: 5, ctr: 0.01, cvr: 0.03, aov: 60, claimFactor: 1 }) });
    s.core = createCampaignsCore({ db: s.store.db, log: s.log, now: () => s.clock.now, config: s.config() });
  }, 300_000);
  afterAll(async () => {
    await s.mock?.close();
    await s.store?.drop();
  });
  return s;
}
