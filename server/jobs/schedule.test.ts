import { describe, expect, it } from 'vitest';
import { backoffMs, canonicalTimeZone, checkSchedule, describeSchedule, dueWindow, InvalidScheduleError, nextRunAt, retryAt, windowAt, DEFAULT_RETRY } from './schedule.js';

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
