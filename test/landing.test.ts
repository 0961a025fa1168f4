// The landing page (`/`) is what a newcomer opens after `npm start`: its counters must follow the traffic
// without a reload, as the README promises.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './client-helpers.js';
import { bootServer, createTenant, postJson, webEvent, type Tenant } from './helpers.js';

describe('landing page', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let browser: Browser;
  let tenant: Tenant;

  beforeAll(async () => {
    server = await bootServer({ DEMO_TENANT: '0' });
    tenant = await createTenant(server.url);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('counts events posted after the page was opened, without a reload, with nothing failing in the console', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
    page.on('requestfailed', (q) => void problems.push(`${q.url()} ${q.failure()?.errorText}`));
    page.on('response', (r) => void (r.status() >= 400 && problems.push(`${r.url()} ${r.status()}`)));
    await page.goto(server.url + '/', { waitUntil: 'load' });
    const before = Number(await page.textContent('#accepted'));
    const r = await postJson(`${server.url}/api/tx/events/batch`, { events: [webEvent(), webEvent(), webEvent()] }, { 'x-tx-key': tenant.write_key });
    expect(r.status).toBe(200);
    await page.waitForFunction(`Number(document.getElementById('accepted')?.textContent) === ${before + 3}`, undefined, { timeout: 30_000 });
    expect(await page.textContent('#live')).toMatch(/updated/);
    // A newcomer's first page has nothing failing in its console (a missing favicon was a 404 there).
    expect(problems).toEqual([]);
    await page.close();
  });
});
