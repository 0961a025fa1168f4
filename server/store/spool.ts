// Local write-ahead spool for when the database is unreachable. Records are appended as JSON lines and
// fsynced before the caller may acknowledge them; concurrent appends share one fsync. Draining seals the
// current segment, applies sealed segments oldest first and deletes each only after it is committed, so a
// crash mid-drain replays a segment (the idempotency ledger makes that exactly-once for events).
// An append that fails part-way (a full disk: a short write, ENOSPC, EIO, a failed fsync) is rejected and
// cut off the segment again, so what is on disk and `pendingBytes()` only ever hold whole, acknowledged lines
// (plus, after a crash mid-append, one torn final line, which replay skips).
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { EventRow, RejectedRow } from './events.js';

export interface SpoolRecord {
  events: EventRow[];
  rejected: RejectedRow[];
}

export class SpoolFullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpoolFullError';
  }
}

export interface Spool {
  /** Resolves once the record is on disk (fsync). Rejects with SpoolFullError or an I/O error. */
  append(record: SpoolRecord): Promise<void>;
  /** Applies every spooled record via `apply`; returns the number of records applied. */
  drain(apply: (records: SpoolRecord[]) => Promise<void>): Promise<number>;
  /** Rewrites spooled records through `edit` (GDPR erasure); returns how many records changed. */
  rewrite(edit: (r: SpoolRecord) => SpoolRecord | null): Promise<number>;
  pendingBytes(): number;
  close(): Promise<void>;
}

/** What the spool needs of an open segment; `fsp.FileHandle` has it. A seam for tests (a disk that fills up). */
export interface SpoolFile {
  write(buffer: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  truncate(len: number): Promise<void>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

export interface SpoolOptions {
  /** Opens a new segment for appending (default: `fsp.open(file, 'a')`). */
  open?: (file: string) => Promise<SpoolFile>;
}

/** A write that stopped short without an error (a full disk can do that): nothing of the append is kept. */
export class SpoolWriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpoolWriteError';
  }
}

interface Waiter {
  line: string;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export function createSpool(dir: string, maxBytes: number, log: Logger, opts: SpoolOptions = {}): Spool {
  const open = opts.open ?? ((file: string) => fsp.open(file, 'a'));
  fs.mkdirSync(dir, { recursive: true });
  // Always the sum of the segments' sizes on disk.
  let bytes = diskBytes(dir);
  // `size`: the open segment's length on disk, i.e. where the next append starts.
  let current: { name: string; fh: SpoolFile; size: number } | null = null;
  // Set synchronously before the file exists, so a concurrent listing can always tell the open segment.
  let currentName: string | null = null;
  let seq = 0;
  let queue: Waiter[] = [];
  let writing: Promise<void> | null = null;
  let draining: Promise<number> | null = null;
  // While set, appends wait: rewrite needs every segment sealed and still.
  let exclusive: Promise<unknown> | null = null;

  const openSegment = async () => {
    const name = `seg-${Date.now().toString().padStart(15, '0')}-${process.pid}-${String(seq++).padStart(6, '0')}.jsonl`;
    currentName = name;
    try {
      current = { name, fh: await open(path.join(dir, name)), size: 0 };
    } catch (err) {
      currentName = null;
      throw err;
    }
    return current;
  };

  /** Writes all of `data` (a full disk may write part of it and say so only in `bytesWritten`), then fsyncs. */
  const writeAll = async (seg: { name: string; fh: SpoolFile }, data: Buffer) => {
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await seg.fh.write(data, off, data.length - off);
      if (!(bytesWritten > 0)) {
        throw new SpoolWriteError(`spool segment ${seg.name}: wrote ${off} of ${data.length} bytes, then nothing (disk full?)`);
      }
      off += bytesWritten;
    }
    await seg.fh.sync();
  };

  /**
   * Takes a failed append back off its segment: truncated to where the append began, and that made durable.
   * If that fails too, the segment is sealed as it is (replay skips its torn last line; a whole line of the
   * failed append left before it may be replayed, which the idempotency ledger answers as a duplicate) and
   * the next append opens a new one, so nothing is ever glued onto a torn line.
   */
  const undo = async (seg: { name: string; fh: SpoolFile; size: number }) => {
    try {
      await seg.fh.truncate(seg.size);
      await seg.fh.sync();
      return;
    } catch (err) {
      log.error({ segment: seg.name, err: (err as Error).message }, 'could not cut a failed append off the spool segment; sealing it');
    }
    if (current === seg) {
      current = null;
      currentName = null;
    }
    let size: number;
    try {
      size = (await seg.fh.stat()).size;
    } catch {
      size = fs.statSync(path.join(dir, seg.name), { throwIfNoEntry: false })?.size ?? seg.size;
    }
    bytes += Math.max(0, size - seg.size);
    seg.size = Math.max(seg.size, size);
    await seg.fh.close().catch(() => undefined);
  };

  const writeLoop = async () => {
    while (exclusive) await exclusive.catch(() => undefined);
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      const data = Buffer.from(batch.map((w) => w.line).join(''));
      let seg: { name: string; fh: SpoolFile; size: number } | null = null;
      try {
        seg = current ?? (await openSegment());
        await writeAll(seg, data);
        seg.size += data.length;
        bytes += data.length;
        for (const w of batch) w.resolve();
      } catch (err) {
        // The caller (the group writer) logs it and answers 503; nothing of this append is kept.
        if (seg) await undo(seg);
        for (const w of batch) w.reject(err);
      }
    }
    writing = null;
  };

  const seal = async () => {
    // Wait for in-flight writes so no line lands in a segment being drained.
    while (writing) await writing;
    // Detach synchronously (no await since the check above) so a new append opens a fresh segment.
    const seg = current;
    current = null;
    currentName = null;
    if (seg) await seg.fh.close();
  };

  const readSegment = async (name: string): Promise<SpoolRecord[]> => {
    const text = await fsp.readFile(path.join(dir, name), 'utf8');
    const out: SpoolRecord[] = [];
    const lines = text.split('\n');
    // Every acknowledged line ends in a newline: what follows the last one is a torn append (a crash
    // mid-append, or a failed append that could not be cut off), never acknowledged.
    const torn = lines.pop()!;
    if (torn !== '') log.warn({ segment: name, position: Buffer.byteLength(text) - Buffer.byteLength(torn), bytes: Buffer.byteLength(torn) }, 'skipping torn spool line');
    let position = 0;
    for (const line of lines) {
      if (line !== '') {
        try {
          out.push(JSON.parse(line) as SpoolRecord);
        } catch (err) {
          // Not a torn append (those are only ever last): the segment was damaged on disk.
          log.error({ segment: name, position, err: (err as Error).message }, 'skipping corrupt spool line (not the last one: it may have been acknowledged)');
        }
      }
      position += Buffer.byteLength(line) + 1;
    }
    return out;
  };

  return {
    append(record) {
      const line = JSON.stringify(record) + '\n';
      if (bytes + Buffer.byteLength(line) > maxBytes) {
        return Promise.reject(new SpoolFullError(`spool is full (${bytes} bytes, limit SPOOL_MAX_BYTES=${maxBytes})`));
      }
      return new Promise<void>((resolve, reject) => {
        queue.push({ line, resolve, reject });
        if (!writing) writing = writeLoop();
      });
    },

    drain(apply) {
      if (draining) return draining;
      draining = (async () => {
        let applied = 0;
        while (exclusive) await exclusive.catch(() => undefined);
        try {
          await seal();
          for (const name of listSegments(dir)) {
            if (name === currentName) continue;
            const records = await readSegment(name);
            if (records.length > 0) await apply(records);
            const size = (await fsp.stat(path.join(dir, name))).size;
            await fsp.unlink(path.join(dir, name));
            bytes = Math.max(0, bytes - size);
            applied += records.length;
            log.info({ segment: name, records: records.length }, 'spool segment replayed');
          }
        } finally {
          draining = null;
        }
        return applied;
      })();
      return draining;
    },

    async rewrite(edit) {
      // Not concurrently with a drain (it may be replaying these very segments) nor with appends.
      while (draining || exclusive) await (draining ?? exclusive)!.catch(() => undefined);
      let release!: () => void;
      exclusive = new Promise<void>((r) => (release = r));
      try {
        return await rewriteAll(edit);
      } finally {
        exclusive = null;
        release();
      }
    },

    pendingBytes: () => bytes,

    async close() {
      await seal();
    },
  };

  async function rewriteAll(edit: (r: SpoolRecord) => SpoolRecord | null): Promise<number> {
    await seal();
    try {
      return await rewriteSegments(edit);
    } finally {
      // Also after a failure part-way, when some segments are already rewritten.
      bytes = diskBytes(dir);
    }
  }

  async function rewriteSegments(edit: (r: SpoolRecord) => SpoolRecord | null): Promise<number> {
    let changed = 0;
    for (const name of listSegments(dir)) {
      const records = await readSegment(name);
      const next: SpoolRecord[] = [];
      for (const r of records) {
        const before = JSON.stringify(r);
        const e = edit(r);
        if (e === null || JSON.stringify(e) !== before) changed++;
        if (e !== null) next.push(e);
      }
      const tmp = path.join(dir, name + '.tmp');
      try {
        await fsp.writeFile(tmp, next.map((r) => JSON.stringify(r) + '\n').join(''));
        const fh = await fsp.open(tmp, 'r');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
        await fsp.rename(tmp, path.join(dir, name));
      } catch (err) {
        // A full disk: the segment is left as it was, and no half-written copy takes its space.
        await fsp.rm(tmp, { force: true }).catch(() => undefined);
        throw err;
      }
    }
    return changed;
  }
}

/** The segments' sizes on disk, summed. */
function diskBytes(dir: string): number {
  return listSegments(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
}

function listSegments(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('seg-') && f.endsWith('.jsonl'))
    .sort();
}
