// Fetches the per-minute history of the last hour from the REST mirror with the dashboard token (as a
// Bearer header, so it stays out of URLs and logs): GET /api/v1/live/events/{id}/history or
// /api/v1/live/dashboard/{org}/history?totals=day, up to now, with the day's totals of the same read (the series
// rebases its live counting on them: series.ts).
import { historyDay, historyMinutes, type HistoryDay, type HistoryMinute } from './series.js';

export interface HistoryRead {
  minutes: HistoryMinute[];
  /** null: the answer had no day totals (the series then keeps its baseline). */
  day: HistoryDay | null;
}

export type FetchHistory = (target: { event: string } | { org: string }, minutes: number) => Promise<HistoryRead>;

export function createHistoryFetcher(origin: string, token: string, doFetch: typeof fetch = (input, init) => fetch(input, init)): FetchHistory {
  return async (target, minutes) => {
    const path = 'event' in target ? `/api/v1/live/events/${encodeURIComponent(target.event)}/history` : `/api/v1/live/dashboard/${encodeURIComponent(target.org)}/history`;
    const r = await doFetch(`${origin}${path}?minutes=${minutes}&totals=day`, { headers: { authorization: `Bearer ${token}` } }); // the server answers Cache-Control: no-store
    if (!r.ok) throw new Error(`history: HTTP ${r.status}`);
    const body: unknown = await r.json();
    const minutesOf = historyMinutes(body);
    if (!minutesOf) throw new Error('history: unexpected response');
    return { minutes: minutesOf, day: historyDay(body) };
  };
}
