// CPU time by component during a bench phase, from Linux /proc (clock ticks of 10 ms): the server's main thread
// and its other threads (the embedded store's worker is the busiest of those), every PostgreSQL process
// (backends that exited meanwhile are in the postmaster's cutime), and this process (the load generator).
// Why: "c is not CPU bound" and "the engine alone needs both cores" are claims about where CPU goes; the
// bench reports them as core-seconds per 1000 events instead of guessing from a machine-wide figure.
import fs from 'node:fs';

const TICK_S = 0.01; // USER_HZ is 100 on every Linux the project runs on

/** utime, stime, cutime, cstime of a /proc stat line (fields 14-17; the comm field may hold spaces). */
function ticks(stat: string): [number, number, number, number] {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(f[11]), Number(f[12]), Number(f[13]), Number(f[14])];
}

const read = (p: string): string | null => {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return null; // the thread or process ended between listing and reading: its time is in its parent's cutime
  }
};

/** Seconds of CPU per thread of `pid` (tid → seconds). */
function threadSeconds(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[] = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tids) {
    const s = read(`/proc/${pid}/task/${t}/stat`);
    if (s) {
      const [u, st] = ticks(s);
      out.set(Number(t), (u + st) * TICK_S);
    }
  }
  return out;
}

/** Seconds of CPU of every process named postgres, the exited ones included (through their parents' cutime). */
function postgresSeconds(): number {
  let sum = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    if (read(`/proc/${d}/comm`)?.trim() !== 'postgres') continue;
    const s = read(`/proc/${d}/stat`);
    if (!s) continue;
    const [u, st, cu, cs] = ticks(s);
    sum += (u + st + cu + cs) * TICK_S;
  }
  return sum;
}

export interface CpuSplit {
  /** Core-seconds over the phase (the server's figures are 0 without a server pid). */
  main: number;
  /** The server's busiest other thread (the embedded store's worker), and all its other threads together. */
  busiestThread: number;
  otherThreads: number;
  postgres: number;
  loadGenerator: number;
  seconds: number;
}

/** Starts measuring; the returned function ends the phase and gives each component's core-seconds. */
export function cpuSplit(serverPid: number | undefined) {
  const supported = process.platform === 'linux' && fs.existsSync('/proc/self/task');
  const t0 = performance.now();
  const self0 = process.cpuUsage();
  const srv0 = supported && serverPid ? threadSeconds(serverPid) : new Map<number, number>();
  const pg0 = supported ? postgresSeconds() : 0;
  return (): CpuSplit | null => {
    if (!supported) return null;
    const srv1 = serverPid ? threadSeconds(serverPid) : new Map<number, number>();
    const delta = [...srv1].map(([tid, s]) => [tid, s - (srv0.get(tid) ?? 0)] as const);
    const others = delta.filter(([tid]) => tid !== serverPid).map(([, s]) => s);
    const self = process.cpuUsage(self0);
    return {
      main: delta.find(([tid]) => tid === serverPid)?.[1] ?? 0,
      busiestThread: Math.max(0, ...others),
      otherThreads: others.reduce((a, b) => a + b, 0),
      postgres: postgresSeconds() - pg0,
      loadGenerator: (self.user + self.system) / 1e6,
      seconds: (performance.now() - t0) / 1000,
    };
  };
}

/** "main 0.61, worker 0.93, other threads 0.12, PostgreSQL 0.00, load generator 0.21 cores". */
export function fmtSplit(c: CpuSplit | null, worker = 'busiest other thread'): string {
  if (!c) return 'n/a (needs Linux /proc)';
  const r = (x: number) => (x / c.seconds).toFixed(2);
  return `main ${r(c.main)}, ${worker} ${r(c.busiestThread)}, other threads ${r(c.otherThreads - c.busiestThread)}, PostgreSQL ${r(c.postgres)}, load generator ${r(c.loadGenerator)} cores`;
}

/** Core-milliseconds per 1000 events of each component. */
export function perThousand(c: CpuSplit | null, events: number): Record<string, number> | null {
  if (!c || events <= 0) return null;
  const k = 1_000_000 / events; // seconds → ms per 1000 events
  return {
    main: c.main * k,
    worker: c.busiestThread * k,
    otherThreads: (c.otherThreads - c.busiestThread) * k,
    postgres: c.postgres * k,
    loadGenerator: c.loadGenerator * k,
  };
}
