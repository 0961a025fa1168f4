import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataDirLockedError, judgeLock, LOCK_FILE, lockDataDir, parseLock, type ProcessProbe } from './datadir-lock.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'txl-lock-'));
const probe = (alive: Record<number, string | null>): ProcessProbe => ({
  alive: (pid) => pid in alive,
  startTime: (pid) => alive[pid] ?? null,
});
const self = { host: 'h1', pid: 10, holdsHere: false };

describe('judgeLock', () => {
  it('a lock of a live process on this host is held; of a dead one, stale', () => {
    expect(judgeLock({ pid: 7, host: 'h1', started: 's7' }, self, probe({ 7: 's7' }))).toBe('held');
    expect(judgeLock({ pid: 7, host: 'h1', started: 's7' }, self, probe({}))).toBe('stale');
  });

  it('a reused pid (same pid, other start time) is stale; unknown start times fall back to the pid', () => {
    expect(judgeLock({ pid: 7, host: 'h1', started: 's7' }, self, probe({ 7: 'other' }))).toBe('stale');
    expect(judgeLock({ pid: 7, host: 'h1', started: null }, self, probe({ 7: 'x' }))).toBe('held');
    expect(judgeLock({ pid: 7, host: 'h1', started: 's7' }, self, probe({ 7: null }))).toBe('held');
  });

  it('our own pid is held only if this process took it (a restarted container gets the same pid)', () => {
    const mine = { pid: 10, host: 'h1', started: 's10' };
    expect(judgeLock(mine, self, probe({ 10: 's10' }))).toBe('stale');
    expect(judgeLock(mine, { ...self, holdsHere: true }, probe({ 10: 's10' }))).toBe('held');
  });

  it('another host cannot be checked: held; an unreadable lock is stale', () => {
    expect(judgeLock({ pid: 7, host: 'h2', started: null }, self, probe({}))).toBe('held');
    expect(judgeLock(null, self, probe({}))).toBe('stale');
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

  it('does not remove a lock that a later owner took over', () => {
    const dir = tmp();
    const file = path.join(dir, LOCK_FILE);
    const lock = lockDataDir(dir);
    fs.writeFileSync(file, JSON.stringify({ pid: 1, host: os.hostname(), started: null }));
    lock.release();
    expect(fs.existsSync(file)).toBe(true);
  });
});
