import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSystemProbe, DataDirLockedError, DataDirUnusableError, ensureDataDir, FOREIGN_STALE_MS, judgeLock, LOCK_FILE, lockDataDir, parseLock, procState, type ProcessProbe } from './datadir-lock.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'txl-lock-'));
const probe = (alive: Record<number, string | null>): ProcessProbe => ({
  alive: (pid) => pid in alive,
  startTime: (pid) => alive[pid] ?? null,
});
const self = { host: 'h1', pid: 10, holdsHere: false };

describe('judgeLock', () => {
  it('a lock of a live process on this host is held; of a dead one, stale', () => {
    expect(judgeLock({ pid: 7, host: 'h1', started: 's7' }, self, probe({ 7: 's7' }), 0)).toBe('held');
    expect(judgeLock({ pid: 7, host: 'h1', started: 's7' }, self, probe({}), 0)).toBe('stale');
  });

  it('a reused pid (same pid, other start time) is stale; unknown start times fall back to the pid', () => {
    expect(judgeLock({ pid: 7, host: 'h1', started: 's7' }, self, probe({ 7: 'other' }), 0)).toBe('stale');
    expect(judgeLock({ pid: 7, host: 'h1', started: null }, self, probe({ 7: 'x' }), 0)).toBe('held');
    expect(judgeLock({ pid: 7, host: 'h1', started: 's7' }, self, probe({ 7: null }), 0)).toBe('held');
  });

  it('our own pid is held only if this process took it (a restarted container gets the same pid)', () => {
    const mine = { pid: 10, host: 'h1', started: 's10' };
    expect(judgeLock(mine, self, probe({ 10: 's10' }), 0)).toBe('stale');
    expect(judgeLock(mine, { ...self, holdsHere: true }, probe({ 10: 's10' }), 0)).toBe('held');
  });

  it('another host: held while its heartbeat is fresh, stale once it stops; an unreadable lock is stale', () => {
    expect(judgeLock({ pid: 7, host: 'h2', started: null }, self, probe({}), 0)).toBe('held');
    expect(judgeLock({ pid: 7, host: 'h2', started: null }, self, probe({}), FOREIGN_STALE_MS)).toBe('held');
    expect(judgeLock({ pid: 7, host: 'h2', started: null }, self, probe({}), FOREIGN_STALE_MS + 1)).toBe('stale');
    expect(judgeLock(null, self, probe({}), 0)).toBe('stale');
    expect(parseLock('')).toBeNull();
    expect(parseLock('{"pid":-1,"host":"h"}')).toBeNull();
    expect(parseLock('{"pid":5,"host":"h"}')).toEqual({ pid: 5, host: 'h', started: null });
  });
});

describe('createSystemProbe', () => {
  // A /proc/<pid>/stat line: pid, (comm), state, … starttime is field 22.
  const stat = (state: string, comm = 'node') => `77 (${comm}) ${state} 1 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 123456 0 0`;
  const killOk = () => undefined;
  const killFails = (code: string) => () => {
    throw Object.assign(new Error(code), { code });
  };

  it('reads the state letter after the command name, whatever the name holds', () => {
    expect(procState(stat('Z'))).toBe('Z');
    expect(procState(stat('S', 'a) b (c'))).toBe('S');
    expect(procState('garbage')).toBeNull();
  });

  it('on Linux a zombie (killed, not yet reaped: kill(pid, 0) still succeeds) is dead; a running or sleeping process is alive', () => {
    const probeOf = (s: string | null) => createSystemProbe({ kill: killOk, readStat: () => s, platform: 'linux' });
    expect(probeOf(stat('Z')).alive(77)).toBe(false);
    expect(probeOf(stat('X')).alive(77)).toBe(false);
    expect(probeOf(stat('Z', 'node server) Z (x')).alive(77)).toBe(false);
    expect(probeOf(stat('S')).alive(77)).toBe(true);
    expect(probeOf(stat('R')).alive(77)).toBe(true);
    expect(probeOf(stat('D')).alive(77)).toBe(true);
    // No /proc entry to read: the signal decides.
    expect(probeOf(null).alive(77)).toBe(true);
    expect(probeOf(stat('S')).startTime(77)).toBe('123456');
  });

  it('a process of another user (EPERM) is alive unless it is a zombie; ESRCH is dead without asking /proc', () => {
    expect(createSystemProbe({ kill: killFails('EPERM'), readStat: () => stat('S'), platform: 'linux' }).alive(77)).toBe(true);
    expect(createSystemProbe({ kill: killFails('EPERM'), readStat: () => stat('Z'), platform: 'linux' }).alive(77)).toBe(false);
    expect(createSystemProbe({ kill: killFails('ESRCH'), readStat: () => stat('S'), platform: 'linux' }).alive(77)).toBe(false);
  });

  it('elsewhere than Linux only kill(pid, 0) decides', () => {
    expect(createSystemProbe({ kill: killOk, readStat: () => stat('Z'), platform: 'darwin' }).alive(77)).toBe(true);
    expect(createSystemProbe({ kill: killFails('ESRCH'), readStat: () => null, platform: 'darwin' }).alive(77)).toBe(false);
  });

  it('the real probe: this process is alive, an exited one is not', () => {
    const probe = createSystemProbe();
    expect(probe.alive(process.pid)).toBe(true);
    expect(probe.alive(2 ** 22 + 12345)).toBe(false);
  });
});

describe('lockDataDir', () => {
  it('holds DATA_DIR exclusively with the pid inside, refuses a second taker naming it, and releases', () => {
    const dir = tmp();
    const a = lockDataDir(dir);
    const onDisk = JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8'));
    expect(onDisk).toMatchObject({ pid: process.pid, host: os.hostname() });
    // A second server in this same process is refused too.
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
    expect(() => lockDataDir(dir)).toThrow(`pid ${process.pid}`);
    // Another live process holding it (pid 1 always exists).
    const other = tmp();
    fs.writeFileSync(path.join(other, LOCK_FILE), JSON.stringify({ pid: 1, host: os.hostname(), started: null }));
    expect(() => lockDataDir(other)).toThrow(/in use by another Tixello Live server \(pid 1\)/);
    a.release();
    a.release();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    lockDataDir(dir).release();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a DATA_DIR that is a file, or under one, is refused with a message naming DATA_DIR and the fix', () => {
    const file = path.join(tmp(), 'afile');
    fs.writeFileSync(file, 'x');
    expect(() => lockDataDir(file)).toThrow(DataDirUnusableError);
    expect(() => lockDataDir(file)).toThrow(`DATA_DIR=${file} is a file, not a directory: set DATA_DIR to a writable directory`);
    expect(() => lockDataDir(path.join(file, 'sub'))).toThrow(/has a file where a parent directory should be/);
  });

  it('ARCHIVE_DIR is checked the same way, its message naming ARCHIVE_DIR', () => {
    const file = path.join(tmp(), 'afile');
    fs.writeFileSync(file, 'x');
    expect(() => ensureDataDir(path.join(file, 'archive'), 'ARCHIVE_DIR')).toThrow(
      `ARCHIVE_DIR=${path.join(file, 'archive')} has a file where a parent directory should be: set ARCHIVE_DIR to a writable directory (created when missing), e.g. ARCHIVE_DIR=./archive.`,
    );
    const ok = path.join(tmp(), 'archive', 'nested');
    ensureDataDir(ok, 'ARCHIVE_DIR');
    expect(fs.statSync(ok).isDirectory()).toBe(true);
  });

  it('takes over a stale lock (its process is gone) and a torn one, warning with the dead pid', () => {
    const dir = tmp();
    const file = path.join(dir, LOCK_FILE);
    const warnings: { obj: object; msg: string }[] = [];
    const log = { warn: (obj: object, msg: string) => void warnings.push({ obj, msg }) };
    const dead = 2 ** 22 + 12345;
    fs.writeFileSync(file, JSON.stringify({ pid: dead, host: os.hostname(), started: 'x' }));
    const lock = lockDataDir(dir, { log });
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).pid).toBe(process.pid);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].msg).toContain(`pid ${dead}`);
    expect(warnings[0].obj).toMatchObject({ dir, pid: dead });
    lock.release();
    fs.writeFileSync(file, '{"pid":');
    lockDataDir(dir, { log }).release();
    expect(warnings[1].msg).toMatch(/unreadable/);
    // A free DATA_DIR is taken without a word.
    lockDataDir(dir, { log }).release();
    expect(warnings).toHaveLength(2);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('takes over the lock of a zombie (killed with -9, not yet reaped by its parent)', async () => {
    if (process.platform !== 'linux') return;
    const { spawn } = await import('node:child_process');
    const dir = tmp();
    const file = path.join(dir, LOCK_FILE);
    // A child that exits at once and is not waited for: a zombie until this process reaps it. Node reaps its
    // children from libuv's SIGCHLD handler, so block on a synchronous sleep while it is one.
    const child = spawn(process.execPath, ['-e', 'process.exit(0)'], { stdio: 'ignore' });
    const pid = child.pid!;
    const stateOf = () => {
      try {
        return procState(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return null;
      }
    };
    const until = Date.now() + 5000;
    while (stateOf() !== 'Z' && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    expect(stateOf()).toBe('Z');
    expect(() => process.kill(pid, 0)).not.toThrow();
    fs.writeFileSync(file, JSON.stringify({ pid, host: os.hostname(), started: null }));
    const lock = lockDataDir(dir);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('refuses a fresh lock from another host (shared volume) naming it; takes over one whose heartbeat stopped', () => {
    const dir = tmp();
    const file = path.join(dir, LOCK_FILE);
    fs.writeFileSync(file, JSON.stringify({ pid: 42, host: 'other-host', started: null }));
    expect(() => lockDataDir(dir)).toThrow('(pid 42 on host other-host)');
    const old = new Date(Date.now() - FOREIGN_STALE_MS - 5000);
    fs.utimesSync(file, old, old);
    const lock = lockDataDir(dir);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).host).toBe(os.hostname());
    lock.release();
  });

  it('does not remove a lock that a later owner took over', () => {
    const dir = tmp();
    const file = path.join(dir, LOCK_FILE);
    const lock = lockDataDir(dir);
    fs.writeFileSync(file, JSON.stringify({ pid: 1, host: os.hostname(), started: null }));
    lock.release();
    expect(fs.existsSync(file)).toBe(true);
  });
});
