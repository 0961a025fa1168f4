// One owner per port and per DATA_DIR, proven with real processes (`server/main.ts`, as `npm start` runs it).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ListenError, PortInUseError } from '../server/app.js';
import { DataDirLockedError, LOCK_FILE } from '../server/store/datadir-lock.js';
import { ADMIN, bootServer, createTenant, eventsOf, postJson, tmpDir, webEvent } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '..');

interface Child {
  child: ChildProcess;
  /** Resolves with the base URL once listening, or rejects with the output if the process exits first. */
  listening: Promise<string>;
  /** Resolves with the exit code and everything the process printed. */
  exited: Promise<{ code: number | null; out: string }>;
}

function startChild(env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'warn', DEMO_TENANT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let onListen: (url: string) => void = () => undefined;
  const listening = new Promise<string>((resolve, reject) => {
    onListen = resolve;
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
  listening.catch(() => undefined);
  const onData = (b: Buffer) => {
    out += b.toString();
    const m = out.match(/listening on (http:\/\/localhost:\d+)/);
    if (m) onListen(m[1]);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; out: string }>((resolve) => child.once('exit', (code) => resolve({ code, out })));
  return { child, listening, exited };
}

describe('one owner per port and per DATA_DIR', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('a second server on a taken port refuses to start and names the port (no shared SO_REUSEPORT listener)', { timeout: 400_000 }, async () => {
    const first = await bootServer();
    try {
      const second = startChild({ PORT: String(first.port), DATA_DIR: tmpDir() });
      children.push(second.child);
      const { code, out } = await second.exited;
      expect(code).toBe(1);
      expect(out).toContain(`Port ${first.port} on 127.0.0.1 is already in use`);
      // In-process too: typed error, and the DATA_DIR it locked is free again.
      const dataDir = tmpDir();
      await expect(bootServer({ PORT: String(first.port), DATA_DIR: dataDir })).rejects.toThrow(PortInUseError);
      expect(fs.existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);
      expect((await fetch(`${first.url}/health`)).status).toBe(200);
    } finally {
      await first.close();
    }
  });

  it('a HOST this machine cannot bind is blamed, not the port; a HOST that is no address at all stops the start before anything opens', { timeout: 400_000 }, async () => {
    // 192.0.2.1 (TEST-NET-1) is an address, but none of this machine's: the port is not what failed.
    const dataDir = tmpDir();
    const err = await bootServer({ HOST: '192.0.2.1', PORT: '0', DATA_DIR: dataDir }).then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(ListenError);
    expect(err!.message).toMatch(/^HOST=192\.0\.2\.1 is not an address of this machine/);
    expect(err!.message).not.toMatch(/in use/);
    expect(fs.existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);
    const child = startChild({ HOST: 'not..a..host', PORT: '0', DATA_DIR: tmpDir() });
    children.push(child.child);
    const { code, out } = await child.exited;
    expect(code).toBe(2);
    expect(out).toContain('HOST="not..a..host" must be an IP address or a host name of this machine');
    expect(out).not.toMatch(/in use/);
  });

  it('a second server on the same DATA_DIR refuses to start and names the pid holding it; the first keeps every event', { timeout: 400_000 }, async () => {
    const first = await bootServer();
    try {
      const t = await createTenant(first.url, 'owner');
      const lock = JSON.parse(fs.readFileSync(path.join(first.dataDir, LOCK_FILE), 'utf8'));
      expect(lock.pid).toBe(process.pid);

      const second = startChild({ PORT: '0', DATA_DIR: first.dataDir });
      children.push(second.child);
      const { code, out } = await second.exited;
      expect(code).toBe(1);
      expect(out).toContain(`DATA_DIR ${first.dataDir} is in use by another Tixello Live server (pid ${process.pid})`);
      expect(out).not.toContain('listening on');
      // The lock applies with DATABASE_URL too (the spool of acknowledged events lives in DATA_DIR): refused
      // before any connection is tried.
      await expect(bootServer({ DATA_DIR: first.dataDir, DATABASE_URL: 'postgres://127.0.0.1:1/none' })).rejects.toThrow(DataDirLockedError);

      const events = [webEvent(), webEvent()];
      expect((await postJson(`${first.url}/api/tx/events/batch`, { events }, { 'x-tx-key': t.write_key })).json.accepted).toBe(2);
      expect((await eventsOf(first.url, t)).map((e) => e.event_id).sort()).toEqual(events.map((e) => e.event_id).sort());
    } finally {
      await first.close();
    }
    expect(fs.existsSync(path.join(first.dataDir, LOCK_FILE))).toBe(false);
  });

  it('takes over the stale lock of a server killed with SIGKILL', { timeout: 600_000 }, async () => {
    const dataDir = tmpDir();
    const first = startChild({ PORT: '0', DATA_DIR: dataDir });
    children.push(first.child);
    await first.listening;
    const stale = JSON.parse(fs.readFileSync(path.join(dataDir, LOCK_FILE), 'utf8'));
    expect(stale.pid).toBe(first.child.pid);
    first.child.kill('SIGKILL');
    await first.exited;
    // kill -9 runs no exit handler: the lock is still there, naming a dead process.
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, LOCK_FILE), 'utf8')).pid).toBe(first.child.pid);

    const second = startChild({ PORT: '0', DATA_DIR: dataDir });
    children.push(second.child);
    await second.listening;
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, LOCK_FILE), 'utf8')).pid).toBe(second.child.pid);
    // SIGTERM as soon as the banner shows (the signal handlers are in place before it): clean exit, lock released.
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    expect(fs.existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);
  });
});
