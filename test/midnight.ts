// Live numbers cover the current UTC day. A test that sends events "a minute ago" and reads them back live
// would fail in the first minute after 00:00 UTC (the events fall on yesterday), or when the day rolls over
// during the run. Such tests align themselves: near midnight they wait until their whole run fits in one day.

const DAY_MS = 86_400_000;

/**
 * How long to wait at `nowMs` so that [now − backMs, now + runMs] lies inside one UTC day
 * (0 outside the few minutes around midnight).
 */
export function midnightWait(nowMs: number, backMs: number, runMs: number): number {
  const dayStart = Math.floor(nowMs / DAY_MS) * DAY_MS;
  if (nowMs - backMs < dayStart) return dayStart + backMs - nowMs;
  if (nowMs + runMs >= dayStart + DAY_MS) return dayStart + DAY_MS + backMs - nowMs;
  return 0;
}

/** Waits (only near midnight) until events up to `backMs` old and a run of `runMs` fit in today. */
export async function clearOfMidnight(backMs = 90_000, runMs = 120_000): Promise<number> {
  const wait = midnightWait(Date.now(), backMs, runMs);
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  return wait;
}

/** Hook timeout for a beforeAll that calls clearOfMidnight with the defaults. */
export const MIDNIGHT_HOOK_TIMEOUT_MS = 240_000;
