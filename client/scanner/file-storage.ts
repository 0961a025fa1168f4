// Node storage adapter: one file per key in a directory, written atomically (temporary file, fsync,
// rename, directory fsync), so a crash or power cut leaves either the old or the new value, never a torn one.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { StorageAdapter } from './storage.js';

export class FileStorage implements StorageAdapter {
  private ready: Promise<unknown>;
  private seq = 0;

  /** `fsync: false` trades durability against power loss for speed (a process crash still loses nothing). */
  constructor(
    readonly dir: string,
    private opts: { fsync?: boolean } = {},
  ) {
    this.ready = fs.mkdir(dir, { recursive: true });
  }

  private file(key: string): string {
    return path.join(this.dir, encodeURIComponent(key).replace(/\*/g, '%2A') + '.json');
  }

  async getItem(key: string): Promise<string | null> {
    await this.ready;
    try {
      return await fs.readFile(this.file(key), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async setItem(key: string, value: string): Promise<void> {
    await this.ready;
    const target = this.file(key);
    const tmp = `${target}.${process.pid}.${this.seq++}.tmp`;
    const fh = await fs.open(tmp, 'w');
    try {
      await fh.writeFile(value, 'utf8');
      if (this.opts.fsync !== false) await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, target);
    if (this.opts.fsync !== false) await this.syncDir();
  }

  async removeItem(key: string): Promise<void> {
    await this.ready;
    await fs.rm(this.file(key), { force: true });
    if (this.opts.fsync !== false) await this.syncDir();
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
