// Schedule math of the job runner, pure (`now` is always passed in). A schedule cuts time into windows; each
// (job, window) runs once across all nodes (runner.ts claims it in job_runs).
//   { every: N }                    windows [k·N s, (k+1)·N s) since the Unix epoch, the same on every node
//   { daily: 'HH:MM', tz: 'Europe/Bucharest' }   from HH:MM local time to the next day's HH:MM (IANA zone; one
//                                   window per local date: see zonedInstant for gaps and repeated wall times)
// A window is claimed only near its start (claimGraceMs: its first 5 minutes), like cron: a node that starts in
// the middle of an hourly or daily window waits for the next one instead of running at every boot (test servers
// and rolling deploys would otherwise run every daily job whenever they start). A schedule with `catchUp` is
// claimed in its first half instead (at most 6 hours): a node that starts or recovers soon after a window it
// missed still runs it, once across the nodes (the claim) — for jobs whose skipped window costs a day (a server
// started at 06:26 skipped the day's 06:00 campaigns.rebalance: the split and the low-budget notice waited a day).
// A claimed window that its node did not finish is still finished by another node (lease expiry), and failed
// attempts retry within it.

export type Schedule = ({ every: number } | { daily: string; tz: string }) & { catchUp?: boolean };

export interface Window {
  start: number;
  end: number;
}

/** How long after its start a window is claimed: this long (shorter windows: all of it). */
export const MIN_CLAIM_GRACE_MS = 5 * 60_000;
/** With `catchUp`: half the window, at least MIN_CLAIM_GRACE_MS, at most this (hourly: 30 min; daily: 6 h). */
export const MAX_CLAIM_GRACE_MS = 6 * 3_600_000;

export class InvalidScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidScheduleError';
  }
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const formats = new Map<string, Intl.DateTimeFormat>();

function format(tz: string): Intl.DateTimeFormat {
  let f = formats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formats.set(tz, f);
  }
  return f;
}

/** Throws InvalidScheduleError for a schedule a job may not declare (checked when the job is registered). */
export function checkSchedule(s: Schedule): void {
  if ('every' in s) {
    if (!Number.isInteger(s.every) || s.every < 1 || s.every > 366 * 86_400) throw new InvalidScheduleError(`every must be a whole number of seconds in [1, 31622400], got ${s.every}`);
    return;
  }
  if (!HHMM.test(s.daily)) throw new InvalidScheduleError(`daily must be HH:MM (24 h), got ${JSON.stringify(s.daily)}`);
  if (canonicalTimeZone(s.tz) === null) throw new InvalidScheduleError(`unknown IANA time zone ${JSON.stringify(s.tz)}`);
}

/**
 * An IANA zone as it is kept: its own spelling when its case was right ("Asia/Kolkata" stays, though ICU calls it
 * "Asia/Calcutta"), the zone's spelling when only the case differed ("europe/bucharest" → "Europe/Bucharest"); null
 * when this runtime's Intl does not know it (a fixed offset like "+02:00" is refused too: it has no DST, which is
 * what a zone is for). Schedules and tenants' time zones (admin API) are checked with it.
 */
export function canonicalTimeZone(tz: string): string | null {
  if (tz.length === 0 || tz.length > 64 || /^[+-]/.test(tz)) return null;
  try {
    // Not through format()'s cache: every spelling an admin sends would stay in it.
    const resolved = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
    return resolved.toLowerCase() === tz.toLowerCase() ? resolved : tz;
  } catch (err) {
    if (err instanceof RangeError) return null;
    throw err;
  }
}

/** How the admin API shows a schedule: "every 3600 s", "daily at 03:00 Europe/Bucharest". */
export function describeSchedule(s: Schedule): string {
  return 'every' in s ? `every ${s.every} s` : `daily at ${s.daily} ${s.tz}`;
}

const DAY_MS = 86_400_000;

/** The wall-clock fields of `ms` in `tz`, read back as if they were UTC: the zone's offset is the difference. */
function localAsUtc(ms: number, tz: string): number {
  const p: Record<string, number> = {};
  for (const part of format(tz).formatToParts(ms)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
}

/** The zone's offset at `ms` (Intl reads whole seconds: the milliseconds are dropped first). */
const offsetAt = (ms: number, tz: string): number => {
  const s = Math.floor(ms / 1000) * 1000;
  return localAsUtc(s, tz) - s;
};

/**
 * The instant a wall time (`wall`: its fields as UTC ms) is read in tz. No instant reads a wall time inside a DST gap
 * (clocks jump forward): it is shifted forward by the gap, i.e. read with the offset before the jump (02:30 in New
 * York on its spring-forward day → 03:30 EDT, 00:00 in Santiago on 2026-09-06 → 01:00). A wall time read twice
 * (clocks going back) is its first occurrence, the one before the change. Both are Temporal's "compatible" choices.
 * Offsets a day either side bracket every change that can touch `wall` (zones are within ±14 h of UTC); an offset
 * changing by iteration from `wall` instead lands on the wrong side of a gap west of UTC.
 */
function zonedInstant(wall: number, tz: string): number {
  const before = offsetAt(wall - DAY_MS, tz);
  const after = offsetAt(wall + DAY_MS, tz);
  const early = wall - before;
  if (before === after) return early; // no change nearby: the common case, two reads
  if (localAsUtc(early, tz) === wall) return early;
  const late = wall - after;
  if (localAsUtc(late, tz) === wall) return late;
  return early;
}

/** The wall-clock date of `ms` in tz, as the UTC ms of that date's midnight. */
const localDate = (ms: number, tz: string): number => Math.floor(localAsUtc(ms, tz) / DAY_MS) * DAY_MS;

/**
 * The first instant of the local date containing `now` in tz: its midnight, or when midnight falls in a DST gap the
 * jump itself (Santiago 2026-09-06 begins at 01:00 -03, 04:00Z; the hour before still reads the 5th).
 */
export function localDayStart(now: number, tz: string): number {
  const date = localDate(now, tz);
  const midnight = zonedInstant(date, tz);
  if (localAsUtc(midnight, tz) === date) return midnight;
  // Midnight was skipped: the day begins at the jump, between midnight read with the offset after it and
  // `midnight` (read with the offset before it). Changes happen on whole seconds: bisect those.
  let lo = Math.floor((date - offsetAt(midnight, tz)) / 1000); // still the previous date
  let hi = midnight / 1000; // already `date`
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (localDate(mid * 1000, tz) === date) hi = mid;
    else lo = mid;
  }
  return hi * 1000;
}

/** The window that contains `now`. */
export function windowAt(s: Schedule, now: number): Window {
  if ('every' in s) {
    const n = s.every * 1000;
    const start = Math.floor(now / n) * n;
    return { start, end: start + n };
  }
  const [hh, mm] = s.daily.split(':').map(Number);
  const today = localDate(now, s.tz) + (hh * 60 + mm) * 60_000;
  const starts = new Map<number, number>();
  const at = (day: number): number => {
    let t = starts.get(day);
    if (t === undefined) starts.set(day, (t = zonedInstant(today + day * DAY_MS, s.tz)));
    return t;
  };
  // Today's start can lie after now (before HH:MM, or a gap shifted it) and yesterday's too (a gap before
  // midnight shifted it into today): step back until a start is at or before now, then forward while the next
  // one is. Each local date gets exactly one start, so consecutive windows are contiguous and no day is skipped.
  let day = 0;
  while (at(day) > now) day--;
  while (at(day + 1) <= now) day++;
  return { start: at(day), end: at(day + 1) };
}

/** How long after its start a window may still be claimed. */
export function claimGraceMs(w: Window, catchUp = false): number {
  const len = w.end - w.start;
  if (!catchUp) return Math.min(len, MIN_CLAIM_GRACE_MS);
  return Math.min(len, Math.max(MIN_CLAIM_GRACE_MS, Math.min(len / 2, MAX_CLAIM_GRACE_MS)));
}

/** The window to claim now, or null when the current one is past its claim grace. */
export function dueWindow(s: Schedule, now: number): Window | null {
  const w = windowAt(s, now);
  return now - w.start < claimGraceMs(w, s.catchUp) ? w : null;
}

/**
 * When the job runs next: now's window start if it is still claimable and nobody claimed it (a catch-up past the
 * first minutes: now, it is due), else the next window's start. `lastClaimed` is the newest scheduled
 * window_start in job_runs (null: never).
 */
export function nextRunAt(s: Schedule, now: number, lastClaimed: number | null): number {
  const w = windowAt(s, now);
  if (now - w.start < claimGraceMs(w, s.catchUp) && (lastClaimed === null || lastClaimed < w.start)) return now - w.start < MIN_CLAIM_GRACE_MS ? w.start : now;
  return windowAt(s, w.end).start;
}

export interface RetryPolicy {
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseMs: 1000, maxMs: 5 * 60_000 };

/** Exponential backoff after failed attempt `attempt` (1-based): base, 2·base, 4·base, … capped at maxMs. */
export function backoffMs(attempt: number, p: RetryPolicy): number {
  return Math.min(p.maxMs, p.baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
}

/**
 * When failed attempt `attempt` is tried again, or null when it is final: the attempts are used up, it was a
 * manual run, or the retry would fall after the window's end (the next window starts afresh).
 */
export function retryAt(attempt: number, now: number, windowEnd: number | null, p: RetryPolicy): number | null {
  if (attempt >= p.maxAttempts || windowEnd === null) return null;
  const at = now + backoffMs(attempt, p);
  return at < windowEnd ? at : null;
}
