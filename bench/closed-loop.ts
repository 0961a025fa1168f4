// Closed-loop ingest for the benches that measure ingest latency while something else holds the embedded store's
// one session (bench/jobs-ingest.ts: a job; bench/funnel-index-ingest.ts: a funnel index read).
import crypto from 'node:crypto';
import { pct } from './ingest.js';

/** A 100-event batch of consented event_view events, fresh ids. */
export const batch = () => JSON.stringify({
  events: Array.from({ length: 100 }, (_, i) => ({
    event_id: crypto.randomUUID(), event_name: 'event_view', occurred_at: new Date().toISOString(), source_system: 'web',
    visitor_id: `v-${i % 17}`, session_id: `s-${i % 5}`, consent_snapshot: { analytics: true, marketing: true, data_processing: true },
    entities: { event_entity_id: 'E1' }, payload: { price_from: 50, currency: 'EUR' },
  })),
});

export interface Loop {
  lat: number[];
  events: number;
  seconds: number;
}

/** `conn` clients posting batches back to back to /api/tx/events/batch until `stop` settles; per-request latencies. */
export async function ingestWhile(url: string, writeKey: string, conn: number, stop: Promise<unknown>): Promise<Loop> {
  let done = false;
  void stop.finally(() => (done = true));
  const lat: number[] = [];
  let events = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conn }, async () => {
    while (!done) {
      const body = batch();
      const s = performance.now();
      const r = await fetch(`${url}/api/tx/events/batch`, { method: 'POST', headers: { 'x-tx-key': writeKey, 'content-type': 'application/json' }, body });
      const j = (await r.json()) as { accepted?: number };
      lat.push(performance.now() - s);
      events += j.accepted ?? 0;
    }
  }));
  return { lat, events, seconds: (performance.now() - t0) / 1000 };
}

/** One Markdown table row: phase, duration, requests, latency p50 / p99 / max, events/s, and a last cell. */
export const loopRow = (name: string, r: Loop, extra: string) =>
  `| ${name} | ${r.seconds.toFixed(1)} s | ${r.lat.length} | ${pct(r.lat, 50).toFixed(1)} / ${pct(r.lat, 99).toFixed(1)} / ${Math.max(...r.lat).toFixed(1)} ms | ${Math.round(r.events / r.seconds)} | ${extra} |`;
