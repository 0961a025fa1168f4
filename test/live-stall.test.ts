// A client that stops reading is disconnected at the backpressure limit; the others miss no update and keep
// their latency (measured against an unstalled control in the same run).
import crypto from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_MAX_EVENTS } from '../server/live/state.js';
import { bootServer, createTenant, postJson, type Tenant } from './helpers.js';
import { LiveClient, mintToken, sendEvents, sleep } from './live-helpers.js';

const EVENTS = 400;

describe('backpressure', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;

  beforeAll(async () => {
    server = await bootServer({
      LIVE_COALESCE_MS: '20',
      LIVE_WS_MAX_BACKPRESSURE: String(64 * 1024),
      LIVE_SOCKETIO: '0',
      RATE_LIMIT_EVENTS_PER_SEC: '1000000',
      RATE_LIMIT_BURST: '1000000',
    });
    t = await createTenant(server.url, 'stall');
  });
  afterAll(async () => {
    await server?.close();
  });

  const view = (i: number) => ({
    event_id: crypto.randomUUID(), event_name: 'event_view', occurred_at: new Date().toISOString(), source_system: 'web',
    visitor_id: `v${crypto.randomInt(1e9)}`, session_id: 's', consent_snapshot: { analytics: true, marketing: false, data_processing: true },
    entities: { event_entity_id: `ST${i}`, organizer_id: 'ORG-S' }, payload: {},
  });

  it('cuts a stalled subscriber and keeps delivering to a healthy one', async () => {
    // A dashboard of 400 events lists 200 of them (DASHBOARD_MAX_EVENTS): every update is ~75 KB.
    await sendEvents(server.url, t, Array.from({ length: EVENTS }, (_, i) => view(i)));
    const token = await mintToken(server.url, t, { role: 'organizer', org_id: 'ORG-S' });
    const topic = 'analytics:dashboard:ORG-S';
    const healthy = await LiveClient.open(server.url, token);
    const stalled = await LiveClient.open(server.url, token);
    expect((await healthy.subscribe(topic)).data).toMatchObject({ events: expect.any(Array), events_total: EVENTS });
    expect((await stalled.subscribe(topic)).data.events).toHaveLength(DASHBOARD_MAX_EVENTS);
    expect(server.live.stats().sockets).toBe(2);
    const post = async () => {
      const r = await postJson(`${server.url}/api/tx/events/batch`, { events: Array.from({ length: 20 }, () => view(crypto.randomInt(EVENTS))) }, { 'x-tx-key': t.write_key });
      expect(r.status).toBe(200);
      await sleep(10);
    };
    const updatesSince = (from: number) => healthy.messages.slice(from).filter((m) => m.type === 'update');
    const latencies = (ms: typeof healthy.messages) => ms.map((m) => m.receivedAt - m.ts!).sort((a, b) => a - b);
    const contiguous = (ms: typeof healthy.messages) => {
      const seqs = ms.map((m) => m.seq as number);
      return seqs.every((s, i) => s === seqs[0] + i);
    };

    // Control: the same load with both clients reading, measured on this machine in this run.
    const controlFrom = healthy.messages.length;
    for (let i = 0; i < 60; i++) await post();
    await sleep(200);
    const control = updatesSince(controlFrom);
    expect(control.length).toBeGreaterThan(10);
    expect(contiguous(control)).toBe(true);

    // Stop reading: the kernel buffers fill, then uWS's buffer passes the limit.
    (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    // The server and both clients share this process: a pause of it (GC, the loaded machine not scheduling it)
    // delays the healthy client too, and is measured here as the event loop's longest delay.
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const start = Date.now();
    const from = healthy.messages.length;
    let cutAfter = -1;
    while (Date.now() - start < 30_000) {
      await post();
      if (cutAfter < 0 && server.live.stats().sockets === 1) cutAfter = Date.now() - start;
      if (cutAfter >= 0 && Date.now() - start > cutAfter + 1000) break;
    }
    await sleep(200);
    loop.disable();
    const pausedMs = Math.round(loop.max / 1e6);
    expect(cutAfter).toBeGreaterThanOrEqual(0);
    const got = updatesSince(from);
    expect(healthy.closed).toBe(false);
    expect(got.length).toBeGreaterThan(20);
    // No update to the healthy client was missed while the stalled one filled its buffer and was cut...
    expect(contiguous(healthy.messages.slice(controlFrom).filter((m) => m.type === 'update'))).toBe(true);
    // ...nor late: its latency stays within a generous bound of the unstalled control (a client held up by
    // its stalled neighbour would wait for the cut, seconds). The worst update may also have waited out a pause
    // of the whole process (measured above), which holds up every client alike and is no sign of the neighbour.
    const c = latencies(control);
    const l = latencies(got);
    const pct = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * q))];
    console.log(`stalled client cut after ${cutAfter} ms; healthy client latency p50/p90/max: control ${pct(c, 0.5)}/${pct(c, 0.9)}/${c.at(-1)} ms, during stall ${pct(l, 0.5)}/${pct(l, 0.9)}/${l.at(-1)} ms (${got.length} updates); longest pause of this process ${pausedMs} ms`);
    expect(pct(l, 0.5)).toBeLessThanOrEqual(5 * pct(c, 0.5) + 250);
    expect(pct(l, 0.9)).toBeLessThanOrEqual(10 * pct(c, 0.9) + 1000);
    expect(l.at(-1)!).toBeLessThanOrEqual(10 * c.at(-1)! + 1000 + pausedMs);
    healthy.close();
    stalled.close();
  });
});
