// Fetches the per-minute history of the last hour from the REST mirror with the dashboard token (as a
// Bearer header, so it stays out of URLs and logs): GET /api/v1/live/events/{id}/history or
// /api/v1/live/dashboard/{org}/history, `to` = the server time of the page's first live message.
import { historyMinutes, type HistoryMinute } from './series.js';

export type FetchHistory = (target: { event: string } | { org: string }, to: number, minutes: number) => Promise<HistoryMinute[]>;

export function createHistoryFetcher(origin: string, token: string, doFetch: typeof fetch = (input, init) => fetch(input, init)): FetchHistory {
  return async (target, to, minutes) => {
    const path = 'event' in target ? `/api/v1/live/events/${encodeURIComponent(target.event)}/history` : `/api/v1/live/dashboard/${encodeURIComponent(target.org)}/history`;
    const r = await doFetch(`${origin}${path}?minutes=${minutes}&to=${Math.floor(to)}`, { headers: { authorization: `Bearer ${token}` } }); // the server answers Cache-Control: no-store
    if (!r.ok) throw new Error(`history: HTTP ${r.status}`);
    const minutesOf = historyMinutes(await r.json());
    if (!minutesOf) throw new Error('history: unexpected response');
    return minutesOf;
  };
}
