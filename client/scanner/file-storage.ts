// Node storage adapter: one file per key in a directory, written atomically (temporary file, fsync,
// rename, directory fsync), so a crash or power cut leaves either the old or the new value, never a torn one.
//
// One process and one FileStorage own a directory at a time: the first operation takes an exclusive lock
// (`tx-storage.lock`, created with O_EXCL, holding the pid). A second FileStorage on the same directory, in
// this process or another, fails with an error naming the holder; a lock whose process is gone (kill -9,
// power cut) is taken over. With the lock held, temporary files a killed writer left are removed. close()
// releases the lock (the tracker's close() calls it); the next operation takes it again.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { StorageAdapter } from './storage.js';

const LOCK = 'tx-storage.lock';
/** Temporary files of setItem: `<key file>.json.<pid>.<seq>.tmp`. */
const TMP = /\.json\.\d+\.\d+\.tmp$/;
/** Directories locked by FileStorage instances of this process (a lock file with our own pid not in here is stale). */
const held = new Set<string>();

function alive(pid: number): boolean {
  if (pid === process.pid) return false; // our own pid, not held by this process (see `held`): left by a dead one
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class FileStorage implements StorageAdapter {
  private ready: Promise<unknown> | null = null;
  private seq = 0;
  private readonly lockFile: string;

  /** `fsync: false` trades durability against power loss for speed (a process crash still loses nothing). */
  constructor(
    readonly dir: string,
    private opts: { fsync?: boolean } = {},
  ) {
    this.dir = path.resolve(dir);
    this.lockFile = path.join(this.dir, LOCK);
  }

  private open(): Promise<unknown> {
    return (this.ready ??= this.lock().catch((err) => {
      this.ready = null;
      throw err;
    }));
  }

  private async lock(): Promise<void> {
    // Reserved before the first await, so two instances of this process racing for the directory cannot both win.
    if (held.has(this.dir)) throw this.busy(process.pid);
    held.add(this.dir);
    try {
      await this.takeLock();
    } catch (err) {
      held.delete(this.dir);
      throw err;
    }
    // Nobody else writes here now: temporary files are leftovers of a killed writer.
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    for (const name of names) if (TMP.test(name)) await fs.rm(path.join(this.dir, name), { force: true }).catch(() => undefined);
  }

  private async takeLock(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    for (let tries = 0; ; tries++) {
      try {
        const fh = await fs.open(this.lockFile, 'wx');
        try {
          await fh.writeFile(String(process.pid), 'utf8');
          if (this.opts.fsync !== false) await fh.sync();
        } finally {
          await fh.close();
        }
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 5) throw err;
      }
      const text = await fs.readFile(this.lockFile, 'utf8').catch(() => null);
      if (text === null) continue; // released meanwhile
      const pid = Number(text.trim());
      // An empty or torn lock file (crash while creating it) is stale too.
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) throw this.busy(pid);
      // Stale: take it over, unless someone else did since we read it.
      if ((await fs.readFile(this.lockFile, 'utf8').catch(() => null)) === text) await fs.rm(this.lockFile, { force: true });
    }
  }

  private busy(pid: number): Error {
    return new Error(
      `FileStorage: ${this.dir} is in use by ${pid === process.pid ? 'another FileStorage of this process' : `process ${pid}`} (lock ${this.lockFile}); ` +
        'one tracker per directory: close the other one first, or give this one its own directory',
    );
  }

  /** Releases the directory lock; a later operation takes it again. */
  async close(): Promise<void> {
    const ready = this.ready;
    this.ready = null;
    if (!ready || !(await ready.then(() => true, () => false))) return;
    held.delete(this.dir);
    if ((await fs.readFile(this.lockFile, 'utf8').catch(() => null))?.trim() === String(process.pid)) await fs.rm(this.lockFile, { force: true });
  }

  private file(key: string): string {
    return path.join(this.dir, encodeURIComponent(key).replace(/\*/g, '%2A') + '.json');
  }

  async getItem(key: string): Promise<string | null> {
    await this.open();
    try {
      return await fs.readFile(this.file(key), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async setItem(key: string, value: string): Promise<void> {
    await this.open();
    const target = this.file(key);
    const tmp = `${target}.${process.pid}.${this.seq++}.tmp`;
    try {
      const fh = await fs.open(tmp, 'w');
      try {
        await fh.writeFile(value, 'utf8');
        if (this.opts.fsync !== false) await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.rename(tmp, target);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => undefined); // e.g. disk full: no half-written leftover
      throw err;
    }
    if (this.opts.fsync !== false) await this.syncDir();
  }

  async removeItem(key: string): Promise<void> {
    await this.open();
    await fs.rm(this.file(key), { force: true });
    if (this.opts.fsync !== false) await this.syncDir();
  }

  async getAllKeys(): Promise<string[]> {
    await this.open();
    const keys: string[] = [];
    for (const name of await fs.readdir(this.dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        keys.push(decodeURIComponent(name.slice(0, -5)));
      } catch {
        /* not one of ours */
      }
    }
    return keys;
  }

  private async syncDir(): Promise<void> {
    const dh = await fs.open(this.dir, 'r');
    try {
      await dh.sync();
    } catch {
      /* some filesystems refuse fsync on directories */
    } finally {
      await dh.close();
    }
  }
}
