// One server per DATA_DIR. Two servers on one directory both acknowledge events into stores that overwrite
// each other, so the loser's acknowledged events vanish at the next restart. The owner keeps DATA_DIR/server.lock
// for its whole life: a JSON file {pid, host, started} created atomically (written to a private temp file, then
// hard-linked into place, so the lock is never seen empty). A lock whose process is gone (kill -9, power loss) is
// stale and taken over; a lock held by a live process makes the next server refuse to start, naming that pid.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const LOCK_FILE = 'server.lock';
/** The holder touches its lock this often; a lock from another host untouched for FOREIGN_STALE_MS is stale. */
export const HEARTBEAT_MS = 10_000;
export const FOREIGN_STALE_MS = 60_000;

export interface LockInfo {
  pid: number;
  host: string;
  /** Kernel start time of the process (Linux /proc); tells a reused pid from the original owner. */
  started: string | null;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly holder: LockInfo,
  ) {
    const where = holder.host === os.hostname() ? `pid ${holder.pid}` : `pid ${holder.pid} on host ${holder.host}`;
    super(
      `DATA_DIR ${dir} is in use by another Tixello Live server (${where}). Stop that server, or give this one its own DATA_DIR. ` +
        `If that process is really gone, delete ${path.join(dir, LOCK_FILE)}.`,
    );
    this.name = 'DataDirLockedError';
  }
}

/** DATA_DIR (or another configured directory) cannot be one this process writes to (a file in the way, no permission, read-only disk). */
export class DataDirUnusableError extends Error {
  constructor(
    readonly dir: string,
    readonly code: string,
    readonly variable: 'DATA_DIR' | 'ARCHIVE_DIR' = 'DATA_DIR',
  ) {
    const why: Record<string, string> = {
      EEXIST: 'is a file, not a directory',
      ENOTDIR: 'has a file where a parent directory should be',
      EACCES: 'cannot be created or written by this user',
      EPERM: 'cannot be created or written by this user',
      EROFS: 'is on a read-only file system',
    };
    const example = variable === 'DATA_DIR' ? './data' : './archive';
    super(`${variable}=${dir} ${why[code] ?? `cannot be used (${code})`}: set ${variable} to a writable directory (created when missing), e.g. ${variable}=${example}.`);
    this.name = 'DataDirUnusableError';
  }
}

/** mkdir -p DATA_DIR (or `variable`'s directory), turning the file-system refusals a misconfiguration causes into one message that says what to set. */
export function ensureDataDir(dir: string, variable: 'DATA_DIR' | 'ARCHIVE_DIR' = 'DATA_DIR'): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err;
    throw new DataDirUnusableError(dir, code, variable);
  }
}

export interface ProcessProbe {
  /** True when a process with this pid exists (even one we may not signal). */
  alive(pid: number): boolean;
  /** The process start time, or null when the platform cannot tell. */
  startTime(pid: number): string | null;
}

export type LockVerdict = 'held' | 'stale';

/**
 * Whether an existing lock still belongs to a running server. Pure: the probe and the lock file's age (time
 * since its holder last touched it) are passed in. The pid of another host cannot be checked from here: its
 * lock is held while its heartbeat is fresh (a shared volume), stale once it stops (a container recreated
 * under a new hostname after its predecessor was killed).
 * An unreadable lock counts as stale: it is only ever written whole (link of a complete temp file).
 */
export function judgeLock(existing: LockInfo | null, self: { host: string; pid: number; holdsHere: boolean }, probe: ProcessProbe, ageMs: number): LockVerdict {
  if (!existing) return 'stale';
  if (existing.host !== self.host) return ageMs > FOREIGN_STALE_MS ? 'stale' : 'held';
  // Our own pid: held if this process took it (a second server in one process), else a previous life of a
  // container whose server always gets the same pid (e.g. pid 1).
  if (existing.pid === self.pid) return self.holdsHere ? 'held' : 'stale';
  if (!probe.alive(existing.pid)) return 'stale';
  // Same pid, different start time: the owner died and the pid was reused by an unrelated process.
  const now = probe.startTime(existing.pid);
  if (existing.started && now && existing.started !== now) return 'stale';
  return 'held';
}

export function parseLock(text: string): LockInfo | null {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (!v || !Number.isInteger(v.pid) || (v.pid as number) <= 0 || typeof v.host !== 'string') return null;
    return { pid: v.pid as number, host: v.host, started: typeof v.started === 'string' ? v.started : null };
  } catch {
    return null;
  }
}

/**
 * The fields of a /proc/<pid>/stat line from field 3 (the state) on, or null. The command name before them
 * (field 2, in parentheses) may contain spaces and ')'. Pure.
 */
function statFields(stat: string): string[] | null {
  const close = stat.lastIndexOf(')');
  return close < 0 ? null : stat.slice(close + 2).split(' ');
}

/** The state letter of a /proc/<pid>/stat line (R, S, D, Z, …), or null. Pure. */
export function procState(stat: string): string | null {
  return statFields(stat)?.[0] || null;
}

export interface ProbeDeps {
  /** process.kill(pid, 0) by default. */
  kill?: (pid: number) => void;
  /** /proc/<pid>/stat's text, or null when there is none (no /proc, or the process is gone). */
  readStat?: (pid: number) => string | null;
  /** process.platform by default: only Linux is asked about zombies. */
  platform?: string;
}

const readProcStat = (pid: number): string | null => {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
};

/**
 * The probe of this machine's processes. A zombie (state Z, or X: killed but not yet reaped by its parent, e.g.
 * a server killed with -9 whose supervisor has not waited for it yet) is dead: kill(pid, 0) still succeeds on it,
 * and a restart within that window was refused as "in use". Elsewhere than Linux, kill(pid, 0) alone decides.
 */
export function createSystemProbe(deps: ProbeDeps = {}): ProcessProbe {
  const kill = deps.kill ?? ((pid: number) => void process.kill(pid, 0));
  const readStat = deps.readStat ?? readProcStat;
  const linux = (deps.platform ?? process.platform) === 'linux';
  return {
    alive(pid) {
      try {
        kill(pid);
      } catch (err) {
        // EPERM: the process exists but belongs to another user.
        if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
      }
      if (!linux) return true;
      const stat = readStat(pid);
      // No stat (/proc not mounted, or it exited between the two looks): the signal decided.
      const state = stat === null ? null : procState(stat);
      return state !== 'Z' && state !== 'X';
    },
    startTime(pid) {
      const stat = readStat(pid);
      // Field 22 (starttime). No /proc (macOS) or the process just exited: null, and the pid check alone decides.
      return stat === null ? null : (statFields(stat)?.[19] ?? null);
    },
  };
}

export const systemProbe: ProcessProbe = createSystemProbe();

/** Lock files this process holds (resolved paths). */
const heldHere = new Set<string>();

export interface DataDirLock {
  file: string;
  info: LockInfo;
  /** Removes the lock if it is still ours; safe to call twice. */
  release(): void;
}

export interface LockDeps {
  pid?: number;
  host?: string;
  probe?: ProcessProbe;
  /** Told (warn) when a stale lock is taken over, naming the holder that is gone. */
  log?: { warn(obj: object, msg: string): void };
}

function readLock(file: string): { text: string; mtimeMs: number } | null {
  try {
    const mtimeMs = fs.statSync(file).mtimeMs;
    return { text: fs.readFileSync(file, 'utf8'), mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Takes DATA_DIR's lock or throws DataDirLockedError naming the holder. */
export function lockDataDir(dir: string, deps: LockDeps = {}): DataDirLock {
  const probe = deps.probe ?? systemProbe;
  const host = deps.host ?? os.hostname();
  const pid = deps.pid ?? process.pid;
  const info: LockInfo = { pid, host, started: probe.startTime(pid) };
  ensureDataDir(dir);
  const file = path.join(dir, LOCK_FILE);
  const text = JSON.stringify(info) + '\n';
  const tmp = `${file}.${pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o644 });
  try {
    // Each round either links our lock into place or moves one stale lock out of the way; a handful of rounds
    // covers any race between servers starting together.
    for (let round = 0; round < 5; round++) {
      try {
        fs.linkSync(tmp, file);
        return makeLock(file, info, text);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const seen = readLock(file);
      if (!seen) continue; // released between our link and our read
      const holder = parseLock(seen.text);
      const age = Date.now() - seen.mtimeMs;
      if (judgeLock(holder, { host, pid, holdsHere: heldHere.has(path.resolve(file)) }, probe, age) === 'held') throw new DataDirLockedError(dir, holder!);
      if (takeOverStale(file, seen.text, pid)) {
        deps.log?.warn(
          holder ? { dir, pid: holder.pid, host: holder.host, age_s: Math.round(age / 1000) } : { dir, lock: seen.text.slice(0, 200) },
          holder
            ? `DATA_DIR lock of pid ${holder.pid}${holder.host === host ? '' : ` on host ${holder.host}`} is stale (that server is gone): taking it over`
            : 'DATA_DIR lock is unreadable (torn): taking it over',
        );
      }
    }
    const last = parseLock(readLock(file)?.text ?? '');
    throw new DataDirLockedError(dir, last ?? { pid: 0, host, started: null });
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Moves a stale lock aside. Another starting server may have replaced it since we read it: the rename is
 * atomic, so we check what we moved and put a live lock back if that is what we took. True when the stale
 * lock itself was removed.
 */
function takeOverStale(file: string, staleText: string, pid: number): boolean {
  const aside = `${file}.${pid}.stale`;
  try {
    fs.renameSync(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false; // someone else moved it: next round decides
    throw err;
  }
  const moved = readLock(aside)?.text;
  const removedStale = moved === staleText;
  if (moved !== undefined && moved !== staleText) {
    try {
      fs.linkSync(aside, file);
    } catch (err) {
      // EEXIST: a third server locked in between; its lock stands and the next round reads it.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  fs.rmSync(aside, { force: true });
  return removedStale;
}

function makeLock(file: string, info: LockInfo, text: string): DataDirLock {
  let held = true;
  heldHere.add(path.resolve(file));
  // Heartbeat for servers on other hosts sharing this directory (see judgeLock).
  const beat = setInterval(() => {
    const now = new Date();
    try {
      if (readLock(file)?.text === text) fs.utimesSync(file, now, now);
    } catch (err) {
      // A vanished or unreadable DATA_DIR: nothing to keep fresh; the store reports the real failure.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') clearInterval(beat);
    }
  }, HEARTBEAT_MS);
  beat.unref();
  const release = () => {
    if (!held) return;
    held = false;
    clearInterval(beat);
    heldHere.delete(path.resolve(file));
    process.removeListener('exit', release);
    // Only our own lock: never remove one a later owner took over.
    if (readLock(file)?.text === text) fs.rmSync(file, { force: true });
  };
  // A process that exits without close() (startup failure, process.exit) leaves no lock behind.
  process.on('exit', release);
  return { file, info, release };
}
