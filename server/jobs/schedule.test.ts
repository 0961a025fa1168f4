import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffMs, canonicalTimeZone, checkSchedule, describeSchedule, dueWindow, InvalidScheduleError, localDayStart, nextRunAt, retryAt, windowAt, DEFAULT_RETRY, type Schedule } from './schedule.js';

const T = (s: string) => Date.parse(s);

describe('job schedules', () => {
  it('cuts every-N-seconds windows on the epoch, the same on every node', () => {
    expect(windowAt({ every: 3600 }, T('2026-03-01T10:30:00Z'))).toEqual({ start: T('2026-03-01T10:00:00Z'), end: T('2026-03-01T11:00:00Z') });
    expect(windowAt({ every: 1 }, T('2026-03-01T10:30:00.999Z')).start).toBe(T('2026-03-01T10:30:00Z'));
  });

  it('claims a window only near its start: a node booting mid-hour waits for the next hour', () => {
    expect(dueWindow({ every: 3600 }, T('2026-03-01T10:04:59Z'))?.start).toBe(T('2026-03-01T10:00:00Z'));
    expect(dueWindow({ every: 3600 }, T('2026-03-01T10:05:00Z'))).toBeNull();
    expect(nextRunAt({ every: 3600 }, T('2026-03-01T10:05:00Z'), null)).toBe(T('2026-03-01T11:00:00Z'));
    // A daily job is not run by every server that starts later in the morning.
    expect(dueWindow({ daily: '03:15', tz: 'UTC' }, T('2026-03-01T06:00:00Z'))).toBeNull();
    // Short windows are claimable for their whole length.
    expect(dueWindow({ every: 2 }, T('2026-03-01T10:00:01.9Z'))?.start).toBe(T('2026-03-01T10:00:00Z'));
  });

  it('with catchUp, a node starting after a window it missed runs it, once, in the first half of the window (probe: started 06:26, the 06:00 rebalance waited a day)', () => {
    expect(dueWindow({ every: 3600, catchUp: true }, T('2026-03-01T10:29:59Z'))?.start).toBe(T('2026-03-01T10:00:00Z'));
    expect(dueWindow({ every: 3600, catchUp: true }, T('2026-03-01T10:30:00Z'))).toBeNull();
    // 10-minute windows: the first 5 minutes (never less).
    expect(dueWindow({ every: 600, catchUp: true }, T('2026-03-01T10:04:59Z'))?.start).toBe(T('2026-03-01T10:00:00Z'));
    expect(dueWindow({ every: 600, catchUp: true }, T('2026-03-01T10:05:00Z'))).toBeNull();
    const s = { daily: '06:00', tz: 'UTC', catchUp: true };
    expect(dueWindow(s, T('2026-03-01T06:26:00Z'))?.start).toBe(T('2026-03-01T06:00:00Z'));
    expect(nextRunAt(s, T('2026-03-01T06:26:00Z'), T('2026-02-28T06:00:00Z'))).toBe(T('2026-03-01T06:26:00Z'));
    // Once per window: claimed already (by this node or another), the next run is tomorrow's.
    expect(nextRunAt(s, T('2026-03-01T06:26:00Z'), T('2026-03-01T06:00:00Z'))).toBe(T('2026-03-02T06:00:00Z'));
    expect(dueWindow(s, T('2026-03-01T11:59:59Z'))?.start).toBe(T('2026-03-01T06:00:00Z'));
    // Later in the day it waits for the next window rather than running the morning's job in the evening.
    expect(dueWindow(s, T('2026-03-01T12:00:00Z'))).toBeNull();
    expect(nextRunAt(s, T('2026-03-01T20:00:00Z'), null)).toBe(T('2026-03-02T06:00:00Z'));
  });

  it('says the current window is next while nobody claimed it, and the following one once claimed', () => {
    const now = T('2026-03-01T10:01:00Z');
    expect(nextRunAt({ every: 3600 }, now, T('2026-03-01T09:00:00Z'))).toBe(T('2026-03-01T10:00:00Z'));
    expect(nextRunAt({ every: 3600 }, now, T('2026-03-01T10:00:00Z'))).toBe(T('2026-03-01T11:00:00Z'));
  });

  it('runs daily jobs at the wall-clock time of their IANA zone, across DST changes', () => {
    const s = { daily: '04:00', tz: 'Europe/Bucharest' };
    // Winter UTC+2, summer UTC+3 (clocks go from 03:00 to 04:00 local on 2026-03-29): a 23-hour window.
    expect(windowAt(s, T('2026-03-28T12:00:00Z'))).toEqual({ start: T('2026-03-28T02:00:00Z'), end: T('2026-03-29T01:00:00Z') });
    expect(windowAt(s, T('2026-07-01T00:30:00Z')).start).toBe(T('2026-06-30T01:00:00Z'));
    // Before today's 04:00 local the window is yesterday's.
    expect(windowAt(s, T('2026-01-10T01:59:00Z')).start).toBe(T('2026-01-09T02:00:00Z'));
    // 03:00 does not exist that night: the window starts at the shifted wall time, 04:00 summer time.
    expect(windowAt({ daily: '03:00', tz: 'Europe/Bucharest' }, T('2026-03-29T12:00:00Z')).start).toBe(T('2026-03-29T01:00:00Z'));
    expect(windowAt({ daily: '23:45', tz: 'UTC' }, T('2026-12-31T23:50:00Z'))).toEqual({ start: T('2026-12-31T23:45:00Z'), end: T('2027-01-01T23:45:00Z') });
    expect(describeSchedule(s)).toBe('daily at 04:00 Europe/Bucharest');
  });

  it('refuses schedules a job may not declare', () => {
    for (const bad of [{ every: 0 }, { every: 1.5 }, { daily: '24:00', tz: 'UTC' }, { daily: '3:00', tz: 'UTC' }, { daily: '03:00', tz: 'Mars/Olympus' }]) {
      expect(() => checkSchedule(bad as never)).toThrow(InvalidScheduleError);
    }
  });

  it('backs off exponentially up to a cap and retries only inside the window', () => {
    const p = { maxAttempts: 4, baseMs: 1000, maxMs: 5000 };
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(a, p))).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(retryAt(1, 0, 60_000, p)).toBe(1000);
    expect(retryAt(3, 0, 60_000, p)).toBe(4000);
    expect(retryAt(4, 0, 60_000, p)).toBeNull(); // attempts used up
    expect(retryAt(1, 59_500, 60_000, p)).toBeNull(); // would fall in the next window
    expect(retryAt(1, 0, null, DEFAULT_RETRY)).toBeNull(); // manual runs are not retried
  });

  it('keeps a known IANA zone in its own spelling, fixes only its case, and refuses offsets and unknown names', () => {
    expect(canonicalTimeZone('Europe/Bucharest')).toBe('Europe/Bucharest');
    expect(canonicalTimeZone('europe/BUCHAREST')).toBe('Europe/Bucharest');
    expect(canonicalTimeZone('Asia/Kolkata')).toBe('Asia/Kolkata');
    expect(canonicalTimeZone('UTC')).toBe('UTC');
    for (const bad of ['', '+02:00', '-05:00', 'Mars/Olympus_Mons', 'Europe/Bucharest\u0000', 'x'.repeat(65)]) expect(canonicalTimeZone(bad)).toBeNull();
  });
});

/** Window starts claimed by a node polling every 30 s over [from, to). */
function claimedStarts(s: Schedule, from: string, to: string): string[] {
  const starts = new Set<number>();
  for (let t = T(from); t < T(to); t += 30_000) {
    const w = dueWindow(s, t);
    if (w) starts.add(w.start);
  }
  return [...starts].map((n) => new Date(n).toISOString());
}

describe('daily windows next to DST changes', () => {
  it('runs a daily 00:00 on a day whose midnight does not exist (Santiago 2026-09-06, Havana 2026-03-08) at the first instant of that day', () => {
    // Santiago jumps from 00:00 -04 to 01:00 -03: the day begins at 04:00Z.
    expect(claimedStarts({ daily: '00:00', tz: 'America/Santiago' }, '2026-09-05T00:00:00Z', '2026-09-08T00:00:00Z')).toEqual(['2026-09-05T04:00:00.000Z', '2026-09-06T04:00:00.000Z', '2026-09-07T03:00:00.000Z']);
    expect(claimedStarts({ daily: '00:00', tz: 'America/Havana' }, '2026-03-07T00:00:00Z', '2026-03-10T00:00:00Z')).toEqual(['2026-03-07T05:00:00.000Z', '2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z']);
  });

  it('returns the window containing now also in the hour before a midnight that does not exist', () => {
    const s = { daily: '00:00', tz: 'America/Santiago' };
    const sep5 = { start: T('2026-09-05T04:00:00Z'), end: T('2026-09-06T04:00:00Z') };
    expect(windowAt(s, T('2026-09-06T03:30:00Z'))).toEqual(sep5);
    expect(windowAt(s, T('2026-09-06T04:00:00Z'))).toEqual({ start: T('2026-09-06T04:00:00Z'), end: T('2026-09-07T03:00:00Z') });
    expect(dueWindow(s, T('2026-09-06T04:02:00Z'))?.start).toBe(T('2026-09-06T04:00:00Z'));
  });

  it('shifts a wall time in a gap forward by the gap, on both sides of UTC (New York 02:30 → 03:30 EDT, Bucharest 03:00 → 04:00 EEST)', () => {
    expect(windowAt({ daily: '02:30', tz: 'America/New_York' }, T('2026-03-08T12:00:00Z')).start).toBe(T('2026-03-08T07:30:00Z'));
    expect(windowAt({ daily: '03:00', tz: 'Europe/Bucharest' }, T('2026-03-29T12:00:00Z')).start).toBe(T('2026-03-29T01:00:00Z'));
    // Lord Howe's gap is 30 minutes (02:00 +10:30 → 02:30 +11): 02:15 runs at 02:45.
    expect(windowAt({ daily: '02:15', tz: 'Australia/Lord_Howe' }, T('2026-10-04T12:00:00Z')).start).toBe(T('2026-10-03T15:45:00Z'));
  });

  it('runs a repeated wall time (clocks going back) at its first occurrence', () => {
    expect(windowAt({ daily: '01:30', tz: 'America/New_York' }, T('2026-11-01T12:00:00Z')).start).toBe(T('2026-11-01T05:30:00Z'));
    expect(windowAt({ daily: '03:30', tz: 'Europe/Bucharest' }, T('2026-10-25T12:00:00Z')).start).toBe(T('2026-10-25T00:30:00Z'));
    // Santiago goes back from 00:00 -03 to 23:00 -04 on 2026-04-04: 23:30 is first read at 02:30Z.
    expect(windowAt({ daily: '23:30', tz: 'America/Santiago' }, T('2026-04-05T12:00:00Z')).start).toBe(T('2026-04-05T02:30:00Z'));
  });
});

// A reference model of each zone built independently of schedule.ts: its offset changes from late 2025 to early
// 2027 (weekly probes of Intl, each change bisected to the second), then plain arithmetic over those segments.
const DAY = 86_400_000;
const MIN = 60_000;
const FROM = T('2025-12-01T00:00:00Z');
const TO = T('2027-01-20T00:00:00Z');
const YEAR_START = T('2026-01-01T00:00:00Z');
const YEAR_END = T('2027-01-01T00:00:00Z');

interface Transition { at: number; before: number; after: number }
interface Zone { tz: string; first: number; transitions: Transition[] }

function intlOffset(tz: string, ms: number): number {
  const f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(ms)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - ms;
}

function zoneModel(tz: string): Zone {
  const transitions: Transition[] = [];
  const first = intlOffset(tz, FROM);
  let prev = first;
  for (let t = FROM; t < TO; t += 7 * DAY) {
    const next = intlOffset(tz, t + 7 * DAY);
    if (next === prev) continue;
    let lo = t / 1000;
    let hi = (t + 7 * DAY) / 1000;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (intlOffset(tz, mid * 1000) === prev) lo = mid;
      else hi = mid;
    }
    transitions.push({ at: hi * 1000, before: prev, after: next });
    prev = next;
  }
  return { tz, first, transitions };
}

const offsetOf = (z: Zone, ms: number): number => z.transitions.reduce((o, tr) => (ms >= tr.at ? tr.after : o), z.first);
const localOf = (z: Zone, ms: number): number => ms + offsetOf(z, ms);
const dateOf = (z: Zone, ms: number): number => Math.floor(localOf(z, ms) / DAY) * DAY;

/** The instant a wall time (as UTC ms) is scheduled at: its first occurrence, or in a gap shifted forward by it. */
function refInstant(z: Zone, wall: number): number {
  const offsets = [z.first, ...z.transitions.map((tr) => tr.after)];
  const hits = offsets.map((o) => wall - o).filter((t) => localOf(z, t) === wall);
  if (hits.length > 0) return Math.min(...hits);
  const gap = z.transitions.find((tr) => wall >= tr.at + tr.before && wall < tr.at + tr.after);
  if (!gap) throw new Error(`no instant for ${new Date(wall).toISOString()} in ${z.tz}`);
  return wall - gap.before;
}

/** The first instant whose local date is `date` (UTC ms of that date's midnight). */
function refDayStart(z: Zone, date: number): number {
  const gap = z.transitions.find((tr) => date >= tr.at + tr.before && date < tr.at + tr.after);
  return gap ? gap.at : refInstant(z, date);
}

const zones = new Map<string, Zone>();
const zone = (tz: string): Zone => {
  let z = zones.get(tz);
  if (!z) zones.set(tz, (z = zoneModel(tz)));
  return z;
};

/** A zone, a daily time and an instant of 2026: half the cases within two days of one of the zone's changes, the daily time then often next to the change's wall time. */
const cases = fc.constantFrom(...Intl.supportedValuesOf('timeZone')).chain((tz) => {
  const z = zone(tz);
  const anyMinute = fc.integer({ min: 0, max: 24 * 60 - 1 });
  const uniform = fc.tuple(anyMinute, fc.integer({ min: YEAR_START, max: YEAR_END - 1 }));
  const inYear = z.transitions.filter((tr) => tr.at >= YEAR_START && tr.at < YEAR_END);
  if (inYear.length === 0) return uniform.map(([m, t]) => ({ z, m, t }));
  const near = fc.constantFrom(...inYear).chain((tr) => {
    const wallMin = Math.floor(((tr.at + tr.before) % DAY + DAY) % DAY / MIN);
    const nearMinute = fc.integer({ min: -90, max: 90 }).map((d) => (((wallMin + d) % 1440) + 1440) % 1440);
    return fc.tuple(fc.oneof(anyMinute, nearMinute), fc.integer({ min: tr.at - 2 * DAY, max: tr.at + 2 * DAY }));
  });
  return fc.oneof(uniform, near).map(([m, t]) => ({ z, m, t }));
});

const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

describe('daily windows in every zone of this runtime, over 2026 (property)', () => {
  it('gives each local date exactly one window, contiguous with the next, containing its own start and claimable at it', () => {
    fc.assert(
      fc.property(cases, ({ z, m, t }) => {
        const s = { daily: hhmm(m), tz: z.tz };
        const today = dateOf(z, t);
        const starts = [-2, -1, 0, 1, 2].map((k) => refInstant(z, today + k * DAY + m * MIN));
        for (let k = 0; k + 1 < starts.length; k++) expect(starts[k]).toBeLessThan(starts[k + 1]);
        const k = starts.findIndex((start, i) => start <= t && t < starts[i + 1]);
        expect(k).toBeGreaterThanOrEqual(0);
        expect(windowAt(s, t)).toEqual({ start: starts[k], end: starts[k + 1] });
        for (let i = 0; i + 1 < starts.length; i++) {
          const w = { start: starts[i], end: starts[i + 1] };
          expect(windowAt(s, w.start)).toEqual(w);
          expect(windowAt(s, w.end - 1)).toEqual(w);
          expect(dueWindow(s, w.start)).toEqual(w);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('starts a local day at its first instant: localDayStart(t) <= t < the next day\'s start, on t\'s local date', () => {
    fc.assert(
      fc.property(cases, ({ z, t }) => {
        const today = dateOf(z, t);
        const start = localDayStart(t, z.tz);
        expect(start).toBe(refDayStart(z, today));
        expect(start).toBeLessThanOrEqual(t);
        expect(dateOf(z, start)).toBe(today);
        expect(dateOf(z, start - 1)).toBeLessThan(today);
        const next = localDayStart(refDayStart(z, today + DAY), z.tz);
        expect(next).toBeGreaterThan(t);
        expect(dateOf(z, next)).toBe(today + DAY);
        expect(dateOf(z, next - 1)).toBe(today);
      }),
      { numRuns: 500 },
    );
  });
});
