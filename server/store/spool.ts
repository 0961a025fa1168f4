// Local write-ahead spool for when the database is unreachable. Records are appended as JSON lines and
// fsynced before the caller may acknowledge them; concurrent appends share one fsync. Draining seals the
// current segment, applies sealed segments oldest first and deletes each only after it is committed, so a
// crash mid-drain replays a segment (the idempotency ledger makes that exactly-once for events).
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

interface Waiter {
  line: string;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export function createSpool(dir: string, maxBytes: number, log: Logger): Spool {
  fs.mkdirSync(dir, { recursive: true });
  let bytes = listSegments(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
  let current: { name: string; fh: fsp.FileHandle } | null = null;
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
    const fh = await fsp.open(path.join(dir, name), 'a');
    current = { name, fh };
    return current;
  };

  const writeLoop = async () => {
    while (exclusive) await exclusive.catch(() => undefined);
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      const data = batch.map((w) => w.line).join('');
      try {
        const seg = current ?? (await openSegment());
        await seg.fh.write(data);
        await seg.fh.sync();
        bytes += Buffer.byteLength(data);
        for (const w of batch) w.resolve();
      } catch (err) {
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
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        out.push(JSON.parse(line) as SpoolRecord);
      } catch (err) {
        // Only a torn final line from a crash mid-append can fail to parse; it was never acknowledged.
        log.warn({ segment: name, err: (err as Error).message }, 'skipping torn spool line');
      }
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
      await fsp.writeFile(tmp, next.map((r) => JSON.stringify(r) + '\n').join(''));
      const fh = await fsp.open(tmp, 'r');
      await fh.sync();
      await fh.close();
      await fsp.rename(tmp, path.join(dir, name));
    }
    bytes = listSegments(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    return changed;
  }
}

function listSegments(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('seg-') && f.endsWith('.jsonl'))
    .sort();
}
