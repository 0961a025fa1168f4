// The setup every browser-SDK test file shares: the real server, the SDK built into a private directory and
// served by a test site on its own origin, a tenant allowed on that origin, one Chromium for the file and, where
// a file counts what goes over the wire, a counting proxy in front of the server. The hooks are registered by
// sdkSuite itself, so a file states only what differs.
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { bootServer, createTenant, eventsOf, until, type Tenant } from './helpers.js';
import { buildSdkForTest, countingProxy, launchChromium, sdkProfile, sleep, startSite } from './client-helpers.js';

declare const localStorage: any;

type Build = Awaited<ReturnType<typeof buildSdkForTest>>;

export interface SdkSuiteOptions {
  /** The tenant's name. */
  tenant: string;
  /** Extra Chromium flags (e.g. --js-flags=--expose-gc). */
  chromiumArgs?: readonly string[];
  /** Pages go to the server through a counting proxy (env.proxy); env.endpoint is then the proxy's URL. */
  proxy?: boolean;
  /** The SDK script the site serves, from the build (default: the build's IIFE). */
  sdkSource?: (build: Build) => string;
  /** Pages of the file's own, by path, served by the site instead of its standard page. */
  pages?: (env: SdkSuite) => Record<string, string>;
}

export interface SdkSuite {
  server: Awaited<ReturnType<typeof bootServer>>;
  site: Awaited<ReturnType<typeof startSite>>;
  browser: Browser;
  t: Tenant;
  /** The server's URL. */
  base: string;
  build: Build;
  /** The SDK script the site serves. */
  sdkSource: string;
  /** The SDK's helpers chunk (tx-helpers.js) as built. */
  helpers: string;
  /** Set with `proxy: true` only. */
  proxy: Awaited<ReturnType<typeof countingProxy>>;
  /** Where the pages send their events: the proxy when there is one, else the server. */
  endpoint: string;
  /**
   * A browser profile (fresh localStorage) whose pages start the SDK with the tenant's key, the endpoint and
   * `config` (as window[`global`], see sdkProfile).
   */
  profile(config?: Record<string, unknown>, global?: string): Promise<BrowserContext>;
  /** The visitor's stored events (named `name` when given). */
  byVisitor(vid: string, name?: string): Promise<Record<string, any>[]>;
  /** Waits until the visitor has `n` events named `name` stored, then `settleMs` more (nothing more comes). */
  stored(vid: string, name: string, n: number, ms: number, settleMs: number): Promise<Record<string, any>[]>;
}

/** Events queued in the page's storage: every localStorage queue whose key starts with `prefix`. */
export const queuedIn = (page: Page, prefix: string) =>
  page.evaluate((p) => Object.keys(localStorage).filter((k) => k.startsWith(p)).reduce((n, k) => n + JSON.parse(localStorage.getItem(k) || '[]').length, 0), prefix) as Promise<number>;

/** Registers the file's beforeAll/afterAll; the returned object's fields are set once beforeAll has run. */
export function sdkSuite(opts: SdkSuiteOptions): SdkSuite {
  const env = {
    profile: (config: Record<string, unknown> = {}, global?: string) =>
      sdkProfile(env.browser, { writeKey: env.t.write_key, endpoint: env.endpoint, ...config }, global),
    byVisitor: (vid: string, name?: string) => eventsOf(env.base, env.t, `limit=1000&visitor_id=${vid}${name ? `&event_name=${name}` : ''}`),
    async stored(vid: string, name: string, n: number, ms: number, settleMs: number) {
      await until(async () => (await env.byVisitor(vid, name)).length >= n, ms).catch(() => null); // the caller's assertions say what is missing
      await sleep(settleMs);
      return env.byVisitor(vid, name);
    },
  } as SdkSuite;
  beforeAll(async () => {
    [env.build, env.server] = await Promise.all([buildSdkForTest(), bootServer()]);
    env.base = env.server.url;
    env.helpers = fs.readFileSync(path.join(env.build.outDir, 'tx-helpers.js'), 'utf8');
    env.sdkSource = opts.sdkSource ? opts.sdkSource(env.build) : env.build.iife;
    env.site = await startSite(env.sdkSource);
    for (const [p, html] of Object.entries(opts.pages?.(env) ?? {})) env.site.pages.set(p, html);
    if (opts.proxy) env.proxy = await countingProxy(env.server.url);
    env.endpoint = opts.proxy ? env.proxy.url : env.base;
    env.t = await createTenant(env.base, opts.tenant, [env.site.origin]);
    env.browser = await launchChromium(opts.chromiumArgs);
  }, 240_000); // building the SDK and booting the server and Chromium is slow on a loaded machine
  afterAll(async () => {
    await env.browser?.close();
    await env.proxy?.close();
    await env.site?.close();
    await env.server?.close();
  });
  return env;
}
