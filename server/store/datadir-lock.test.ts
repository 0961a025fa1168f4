import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataDirLockedError, DataDirUnusableError, FOREIGN_STALE_MS, judgeLock, LOCK_FILE, lockDataDir, parseLock, type ProcessProbe } from './datadir-lock.js';

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

  it('takes over a stale lock (its process is gone) and a torn one', () => {
    const dir = tmp();
    const file = path.join(dir, LOCK_FILE);
    fs.writeFileSync(file, JSON.stringify({ pid: 2 ** 22 + 12345, host: os.hostname(), started: 'x' }));
    const lock = lockDataDir(dir);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).pid).toBe(process.pid);
    lock.release();
    fs.writeFileSync(file, '{"pid":');
    lockDataDir(dir).release();
    expect(fs.readdirSync(dir)).toEqual([]);
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
