// Closed-loop ingest for the benches that measure ingest latency while something else holds the embedded store's
// one session (bench/jobs-ingest.ts: a job; bench/funnel-index-ingest.ts: a funnel index read;
// bench/funnels-store-ingest.ts: store funnels).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { startServer } from '../server/app.js';
import { loadConfig } from '../server/config/index.js';
import { ADMIN_TOKEN, pct } from './ingest.js';

/** An embedded-store server in a fresh DATA_DIR without rate limits, and a way to create its tenants. */
export async function benchServer(prefix: string, log: Logger) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN, RATE_LIMIT_EVENTS_PER_SEC: '10000000', RATE_LIMIT_BURST: '10000000' });
  const server = await startServer(config, { log });
  const tenant = async (name: string) => (await (await fetch(`${server.url}/api/admin/tenants`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name }),
  })).json()) as { write_key: string; tenant_id: number | string };
  const close = async () => {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  return { server, tenant, close };
}

/**
 * A tenant's history, set-based: `rows` events over 30 days, the seed 003 funnel's names, `visitors` visitors,
 * three UTM sources, 50 events. Then every job run once to completion, so the feature store's backlog does not
 * run during a bench's phases (seconds-long statements on the one session).
 */
export async function seedFunnelHistory(server: Awaited<ReturnType<typeof startServer>>, tenantId: number, rows: number, visitors: number): Promise<void> {
  await server.db.query(
    `INSERT INTO tx_events (event_id, event_name, occurred_at, tenant_id, source_system, visitor_id, session_id, consent_snapshot, context, entities, payload)
     SELECT gen_random_uuid(), (ARRAY['event_card_impression','event_card_click','event_view','page_view','ticket_link_click'])[1 + i % 5],
            now() - (i % 2592000) * interval '1 second', $1, 'web', 'v' || (i % $3::int), 's' || (i % $3::int), '{"analytics":true}',
            jsonb_build_object('utm', jsonb_build_object('source', (ARRAY['google','facebook','direct'])[1 + i % 3])), jsonb_build_object('event_entity_id', 'E' || (i % 50)), '{}'
     FROM generate_series(1, $2::int) AS i`,
    [tenantId, rows, visitors],
  );
  for (const job of await server.jobs.runner.list()) await server.jobs.runner.runNow(job.name, 600_000);
}

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
