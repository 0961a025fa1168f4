// Plumbing for the dashboard and live-client tests: Chromium via playwright-core, a TCP proxy that can cut
// or stall connections (and follow a restarted server), screenshots into test-output/.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

export const OUTPUT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../test-output');

/** Saves a full-page screenshot into test-output/ (gitignored) and says where. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  const file = path.join(OUTPUT_DIR, name);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
  return file;
}

/** Collects the page's errors so a test can assert there were none. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return errors;
}

/**
 * A TCP proxy in front of the server that can cut or silently stall every connection through it. Its
 * target can change: a restarted server answers behind the same address. (Restarting on the same port
 * does not work within a minute once the server has closed websockets: uWS.js 20.30's listen socket has
 * no SO_REUSEADDR, so the closed connections' TIME_WAIT blocks the bind.)
 */
export async function startProxy(target: () => number) {
  const pairs = new Set<{ a: net.Socket; b: net.Socket }>();
  let stalled = false;
  const server = net.createServer((a) => {
    const b = net.connect(target(), '127.0.0.1');
    const pair = { a, b };
    pairs.add(pair);
    a.on('data', (d) => {
      if (!stalled) b.write(d);
    });
    b.on('data', (d) => {
      if (!stalled) a.write(d);
    });
    const drop = () => {
      a.destroy();
      b.destroy();
      pairs.delete(pair);
    };
    a.on('error', drop).on('close', drop);
    b.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connections: () => pairs.size,
    cut() {
      for (const p of [...pairs]) {
        p.a.destroy();
        p.b.destroy();
      }
    },
    /** Swallows traffic of the open connections without closing them (a dead NAT entry). */
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const p of [...pairs]) {
          p.a.destroy();
          p.b.destroy();
        }
        server.close(() => r());
      }),
  };
}
