// README claims that had no test of their own: idempotency whatever occurred_at says, tokens ending open
// sockets at expiry, the server refusing to boot on a bad configuration or an unusable database, and starting in
// plain PostgreSQL mode on a database without TimescaleDB.
import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { io as connectSocketIo } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverVersionProblem } from '../server/store/db.js';
import { ADMIN, bootServer, createTenant, eventsOf, getJson, postJson, tmpDir, webEvent, type Tenant } from './helpers.js';
import { LiveClient, mintToken } from './live-helpers.js';
import { scratchDatabase } from './store-suites.js';

const ROOT = path.resolve(import.meta.dirname, '..');

describe('README claims', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'claims');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers an event_id already sent as a duplicate whatever its occurred_at, and keeps the first copy', async () => {
    const first = webEvent({ occurred_at: new Date(Date.now() - 3_600_000).toISOString(), visitor_id: 'first' });
    const send = (e: Record<string, unknown>) => postJson(`${server.url}/api/tx/events/batch`, { events: [e] }, { 'x-tx-key': t.write_key });
    expect((await send(first)).json).toMatchObject({ accepted: 1, duplicates: 0 });
    // Same id, another time and other content; then five days back (most likely another 7-day chunk).
    const again = { ...first, occurred_at: new Date().toISOString(), visitor_id: 'second' };
    expect((await send(again)).json).toMatchObject({ accepted: 0, duplicates: 1, rejected: [] });
    const older = { ...first, occurred_at: new Date(Date.now() - 5 * 86_400_000).toISOString() };
    expect((await send(older)).json).toMatchObject({ accepted: 0, duplicates: 1, rejected: [] });
    const stored = (await eventsOf(server.url, t)).filter((e) => e.event_id === first.event_id);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ visitor_id: 'first', occurred_at: new Date(first.occurred_at).toISOString() });
  });

  it('closes an open websocket when its token expires, without any message from the client', { timeout: 60_000 }, async () => {
    // The token expires at a whole second: (the second it was minted in) + 2 s, so never before mintedFrom + 1 s.
    // (The expected time was taken after both mints: on a busy machine a slow second mint put it past the expiry.)
    const mintedFrom = Date.now();
    const short = await mintToken(server.url, t, { role: 'organizer', org_id: 'ORG-EXP', ttl_s: 2 });
    const long = await mintToken(server.url, t, { role: 'organizer', org_id: 'ORG-EXP', ttl_s: 3600 });
    const [a, b] = await Promise.all([LiveClient.open(server.url, short), LiveClient.open(server.url, long)]);
    const closed = new Promise<{ code: number; reason: string; at: number }>((r) => a.ws.once('close', (code, reason) => r({ code, reason: reason.toString(), at: Date.now() })));
    const end = await Promise.race([closed, new Promise<null>((r) => setTimeout(() => r(null), 30_000))]);
    expect(end).not.toBeNull();
    expect(end).toMatchObject({ code: 4001, reason: 'token expired' });
    // Not before the expiry...
    expect(end!.at).toBeGreaterThanOrEqual(mintedFrom + 1000);
    // ...and only the expired one: the control on a valid token is still open.
    expect(b.closed).toBe(false);
    b.close();
  });

  it('disconnects an open Socket.IO connection when its token expires', { timeout: 60_000 }, async () => {
    const mintedFrom = Date.now();
    const short = await mintToken(server.url, t, { role: 'organizer', org_id: 'ORG-EXP', ttl_s: 2 });
    const long = await mintToken(server.url, t, { role: 'organizer', org_id: 'ORG-EXP', ttl_s: 3600 });
    const open = (token: string) => {
      const s = connectSocketIo(server.url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
      return new Promise<typeof s>((resolve, reject) => {
        s.once('connect', () => resolve(s));
        s.once('connect_error', reject);
      });
    };
    const [a, b] = await Promise.all([open(short), open(long)]);
    const gone = new Promise<{ reason: string; at: number }>((r) => a.once('disconnect', (reason) => r({ reason, at: Date.now() })));
    const end = await Promise.race([gone, new Promise<null>((r) => setTimeout(() => r(null), 30_000))]);
    expect(end).not.toBeNull();
    // The server ended it (not the client, not the transport).
    expect(end!.reason).toBe('io server disconnect');
    expect(end!.at).toBeGreaterThanOrEqual(mintedFrom + 1000);
    expect(b.connected).toBe(true);
    b.close();
  });
});

/** Runs `npm start`'s entry point with env; resolves with its exit code and output (it must exit by itself). */
function boot(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', DEMO_TENANT: '0', DATA_DIR: tmpDir(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server did not refuse to start within 180 s:\n${out}`));
    }, 180_000); // tsx compiling server/main.ts alone has taken over a minute on a busy 2-core machine
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('boot refusals (README: Configuration)', () => {
  it('refuses a bad configuration, naming every problem and how to fix it', { timeout: 400_000 }, async () => {
    const r = await boot({ PORT: 'eighty', MAX_BATCH_EVENTS: '0', ADMIN_TOKEN: 'short' });
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/PORT="eighty" must be an integer between 0 and 65535/);
    expect(r.out).toMatch(/MAX_BATCH_EVENTS/);
    expect(r.out).toMatch(/ADMIN_TOKEN must be at least 16 characters; generate one with `openssl rand -hex 24`/);
    expect(r.out).not.toMatch(/listening on/);
  });

  it('starts in plain PostgreSQL mode on a DATABASE_URL without the timescaledb extension, and leaves the extension alone', { timeout: 400_000 }, async () => {
    // README "Plain PostgreSQL mode" (issue 12): this used to be a refusal. A fresh database, dropped after.
    const scratch = await scratchDatabase('claims');
    let server: Awaited<ReturnType<typeof bootServer>> | undefined;
    try {
      server = await bootServer({ DATABASE_URL: scratch.url });
      expect((await getJson(`${server.url}/health`)).json).toMatchObject({ status: 'ok', store: 'postgres' });
      const db = new pg.Client({ connectionString: scratch.url });
      await db.connect();
      try {
        expect((await db.query("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).rowCount).toBe(0);
        expect((await db.query("SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'tx_events'::regclass")).rowCount).toBe(1);
      } finally {
        await db.end();
      }
    } finally {
      await server?.close();
      await scratch.drop();
    }
  });

  it('still refuses an unreachable DATABASE_URL, naming the way out', { timeout: 400_000 }, async () => {
    const r = await boot({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', ADMIN_TOKEN: ADMIN });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/Cannot reach DATABASE_URL/);
    expect(r.out).toMatch(/unset DATABASE_URL to use the embedded store/);
    expect(r.out).not.toMatch(/listening on/);
  });

  it('refuses a PostgreSQL older than 14 (no date_bin), before creating anything in it', () => {
    // No such server on the test machine: the decision itself, which openStore applies right after the ping.
    expect(serverVersionProblem(130011)).toMatch(/version 13; Tixello Live needs PostgreSQL 14 or later.*unset DATABASE_URL to use the embedded store/);
    expect(serverVersionProblem(Number.NaN)).toMatch(/version unknown/);
    expect(serverVersionProblem(140000)).toBeNull();
    expect(serverVersionProblem(150004)).toBeNull();
  });
});
