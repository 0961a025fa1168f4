import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createSpool, SpoolFullError, SpoolWriteError, type SpoolFile, type SpoolRecord } from './spool.js';

const log = pino({ level: 'silent' });
const rec = (id: string): SpoolRecord => ({ events: [{ event_id: id } as never], rejected: [] });
const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'spool-'));

describe('spool', () => {
  it('replays appended records in order and then holds nothing', async () => {
    const d = dir();
    const s = createSpool(d, 1 << 20, log);
    await Promise.all(['a', 'b', 'c'].map((id) => s.append(rec(id))));
    await s.append(rec('d'));
    const seen: string[] = [];
    expect(await s.drain(async (rs) => void seen.push(...rs.map((r) => r.events[0].event_id)))).toBe(4);
    expect(seen).toEqual(['a', 'b', 'c', 'd']);
    expect(s.pendingBytes()).toBe(0);
    expect(await s.drain(async () => undefined)).toBe(0);
  });

  it('keeps records when applying them fails, and survives a restart', async () => {
    const d = dir();
    const s = createSpool(d, 1 << 20, log);
    await s.append(rec('x'));
    await expect(s.drain(async () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    await s.close();
    const again = createSpool(d, 1 << 20, log);
    expect(again.pendingBytes()).toBeGreaterThan(0);
    const seen: string[] = [];
    await again.drain(async (rs) => void seen.push(...rs.map((r) => r.events[0].event_id)));
    expect(seen).toEqual(['x']);
  });

  it('skips a torn last line (a crash mid-append, never acknowledged) and says so', async () => {
    const d = dir();
    fs.writeFileSync(path.join(d, 'seg-000000000000001-1-000000.jsonl'), JSON.stringify(rec('ok')) + '\n{"events":[{"ev');
    const logged = captureLog();
    const s = createSpool(d, 1 << 20, logged.log);
    expect(await ids(s)).toEqual(['ok']);
    expect(logged.messages()).toEqual([{ level: 40, msg: 'skipping torn spool line', position: JSON.stringify(rec('ok')).length + 1 }]);
  });

  it('replays the lines around a damaged one in the middle of a segment, and logs it as an error', async () => {
    const d = dir();
    const text = [JSON.stringify(rec('a')), '{"events":[{"ev', JSON.stringify(rec('b')), ''].join('\n');
    fs.writeFileSync(path.join(d, 'seg-000000000000001-1-000000.jsonl'), text);
    const logged = captureLog();
    const s = createSpool(d, 1 << 20, logged.log);
    expect(await ids(s)).toEqual(['a', 'b']);
    expect(logged.messages()).toMatchObject([{ level: 50, msg: expect.stringContaining('corrupt spool line'), position: JSON.stringify(rec('a')).length + 1 }]);
  });

  it('refuses appends beyond its size limit', async () => {
    const s = createSpool(dir(), 200, log);
    await s.append(rec('a'.repeat(50)));
    await expect(s.append(rec('b'.repeat(200)))).rejects.toBeInstanceOf(SpoolFullError);
  });

  it('rewrites records for erasure', async () => {
    const s = createSpool(dir(), 1 << 20, log);
    await s.append(rec('keep'));
    await s.append(rec('erase'));
    expect(await s.rewrite((r) => (r.events[0].event_id === 'erase' ? null : r))).toBe(1);
    const seen: string[] = [];
    await s.drain(async (rs) => void seen.push(...rs.map((r) => r.events[0].event_id)));
    expect(seen).toEqual(['keep']);
  });
});

/** Segment contents on disk, and the sum of their sizes. */
const onDisk = (d: string) => {
  const names = fs.readdirSync(d).filter((f) => f.startsWith('seg-')).sort();
  return {
    text: names.map((f) => fs.readFileSync(path.join(d, f), 'utf8')),
    bytes: names.reduce((n, f) => n + fs.statSync(path.join(d, f)).size, 0),
  };
};

const ids = async (s: ReturnType<typeof createSpool>) => {
  const seen: string[] = [];
  await s.drain(async (rs) => void seen.push(...rs.flatMap((r) => r.events.map((e) => e.event_id))));
  return seen;
};

function captureLog() {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
  return {
    log: logger,
    /** The spool's warnings and errors. */
    messages: () =>
      lines
        .map((l) => JSON.parse(l) as { level: number; msg: string; position?: number })
        .map(({ level, msg, position }) => ({ level, msg, ...(position === undefined ? {} : { position }) })),
  };
}

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

/**
 * A disk with `room` bytes free, as a full tmpfs behaves: a write larger than the room writes what fits and
 * reports it only in bytesWritten; a write with no room left throws ENOSPC (or, with `zero`, writes 0 bytes).
 */
function fullDisk(room: number, fail: { zero?: boolean; sync?: boolean; truncate?: boolean } = {}) {
  const disk = {
    room,
    fail,
    open: async (file: string): Promise<SpoolFile> => {
      const fh = await fsp.open(file, 'a');
      return {
        async write(buffer, offset, length) {
          if (disk.room <= 0) {
            if (disk.fail.zero) return { bytesWritten: 0 };
            throw enospc();
          }
          const n = Math.min(length, disk.room);
          const { bytesWritten } = await fh.write(buffer, offset, n);
          disk.room -= bytesWritten;
          return { bytesWritten };
        },
        async sync() {
          if (disk.fail.sync) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
          await fh.sync();
        },
        async truncate(len) {
          if (disk.fail.truncate) throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
          const before = (await fh.stat()).size;
          await fh.truncate(len);
          disk.room += before - len;
        },
        stat: () => fh.stat(),
        close: () => fh.close(),
      };
    },
  };
  return disk;
}

describe('spool on a full disk', () => {
  const line = (id: string) => JSON.stringify(rec(id)) + '\n';

  for (const [name, fail, error] of [
    ['a short write, then ENOSPC', {}, 'ENOSPC'],
    ['a short write, then writes of 0 bytes', { zero: true }, SpoolWriteError],
  ] as const) {
    it(`rejects an append that does not fit (${name}), keeps nothing of it, and takes the next once there is room`, async () => {
      const d = dir();
      const disk = fullDisk(line('a').length + 10, fail);
      const logged = captureLog();
      const s = createSpool(d, 1 << 20, logged.log, { open: disk.open });
      await s.append(rec('a'));
      const before = s.pendingBytes();
      expect(before).toBe(line('a').length);

      const failed = s.append(rec('b'.repeat(100)));
      if (typeof error === 'string') await expect(failed).rejects.toMatchObject({ code: error });
      else await expect(failed).rejects.toBeInstanceOf(error);
      // Nothing of it on disk, nor counted.
      expect(s.pendingBytes()).toBe(before);
      expect(onDisk(d)).toEqual({ text: [line('a')], bytes: before });

      disk.room = 1 << 20;
      await s.append(rec('c'));
      expect(s.pendingBytes()).toBe(onDisk(d).bytes);
      expect(onDisk(d).text).toEqual([line('a') + line('c')]);
      expect(await ids(s)).toEqual(['a', 'c']);
      expect(s.pendingBytes()).toBe(0);
      expect(logged.messages()).toEqual([]);
    });
  }

  it('rejects every append sharing the failed write, and keeps those before it', async () => {
    const d = dir();
    const disk = fullDisk(line('a').length + 5);
    const s = createSpool(d, 1 << 20, log, { open: disk.open });
    // a goes alone (the segment opens meanwhile); b and c share the next write, which does not fit.
    const results = await Promise.allSettled([s.append(rec('a')), s.append(rec('b')), s.append(rec('c'))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect(s.pendingBytes()).toBe(line('a').length);
    expect(onDisk(d)).toEqual({ text: [line('a')], bytes: line('a').length });
    disk.room = 1 << 20;
    await s.append(rec('d'));
    expect(await ids(s)).toEqual(['a', 'd']);
  });

  it('rejects an append whose fsync fails, and cuts it off the segment', async () => {
    const d = dir();
    const disk = fullDisk(1 << 20);
    const s = createSpool(d, 1 << 20, log, { open: disk.open });
    await s.append(rec('a'));
    disk.fail = { sync: true };
    await expect(s.append(rec('b'))).rejects.toMatchObject({ code: 'EIO' });
    expect(s.pendingBytes()).toBe(line('a').length);
    disk.fail = {};
    expect(onDisk(d)).toEqual({ text: [line('a')], bytes: line('a').length });
    await s.append(rec('c'));
    expect(await ids(s)).toEqual(['a', 'c']);
  });

  it('seals the segment when a failed append cannot be cut off, and counts what it left on disk', async () => {
    const d = dir();
    const disk = fullDisk(line('a').length + 10, { truncate: true });
    const logged = captureLog();
    const s = createSpool(d, 1 << 20, logged.log, { open: disk.open });
    await s.append(rec('a'));
    await expect(s.append(rec('b'.repeat(100)))).rejects.toMatchObject({ code: 'ENOSPC' });
    // The torn 10 bytes stay in the sealed segment and are counted; the next append starts a new segment.
    expect(s.pendingBytes()).toBe(line('a').length + 10);
    expect(s.pendingBytes()).toBe(onDisk(d).bytes);
    disk.room = 1 << 20;
    await s.append(rec('c'));
    expect(onDisk(d).text).toEqual([line('a') + line('b'.repeat(100)).slice(0, 10), line('c')]);
    expect(s.pendingBytes()).toBe(onDisk(d).bytes);
    expect(await ids(s)).toEqual(['a', 'c']);
    expect(s.pendingBytes()).toBe(0);
    expect(logged.messages()).toEqual([
      { level: 50, msg: 'could not cut a failed append off the spool segment; sealing it' },
      { level: 40, msg: 'skipping torn spool line', position: line('a').length },
    ]);
  });

  // A real full disk: a 64 KiB tmpfs (needs root and mount; skipped otherwise).
  it('on a full tmpfs: every acknowledged append is replayed and nothing else', async (ctx) => {
    const base = fileURLToPath(new URL('../../scratch/spool-test', import.meta.url));
    fs.mkdirSync(base, { recursive: true });
    const mnt = fs.mkdtempSync(path.join(base, 'tmpfs-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { stdio: 'ignore' });
    } catch {
      fs.rmdirSync(mnt);
      ctx.skip();
      return;
    }
    // Something else filling the disk, removed later to free space.
    fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(16 * 1024));
    const d = path.join(mnt, 'spool');
    const logged = captureLog();
    const s = createSpool(d, 1 << 20, logged.log);
    try {
      const acked: string[] = [];
      let failures = 0;
      for (let i = 0; failures < 3 && i < 1000; i++) {
        const id = `e${i}-${'x'.repeat(3000)}`;
        try {
          await s.append(rec(id));
          acked.push(id);
          failures = 0;
        } catch {
          failures++;
        }
        expect(s.pendingBytes()).toBe(onDisk(d).bytes);
      }
      expect(failures).toBe(3);
      expect(acked.length).toBeGreaterThan(0);
      fs.rmSync(path.join(mnt, 'filler'));
      await s.append(rec('after'));
      acked.push('after');
      expect(s.pendingBytes()).toBe(onDisk(d).bytes);
      expect(await ids(s)).toEqual(acked);
      expect(s.pendingBytes()).toBe(0);
      expect(logged.messages()).toEqual([]);
    } finally {
      // Closed first: an open segment keeps the mount busy.
      await s.close().catch(() => undefined);
      try {
        execFileSync('umount', [mnt], { stdio: 'ignore' });
      } catch {
        execFileSync('umount', ['-l', mnt], { stdio: 'ignore' });
      }
      fs.rmdirSync(mnt);
    }
  });
});
