// `npm run demo` (scripts/demo.ts) against a real server: it finds the demo tenant's keys in DATA_DIR,
// mints working dashboard links, and its traffic is valid, realistic and counted live: two events of one
// organizer, several ticket types and currencies, orders through the server-side API, scanners at two
// gates per event with capacity snapshots. In process, the generator's own tally equals the live numbers.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_EVENTS, DEMO_ORG } from '../scripts/demo/catalog.js';
import { prng, startDemo } from '../scripts/demo/traffic.js';
import { bootServer, createTenant, eventsOf, getJson } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Runs `npm run demo`'s script (tsx compiling it on a busy machine alone can take a minute). With `stopWhen`, the demo
 * runs without --duration until that holds (checked every 500 ms once it generates traffic) and is then
 * stopped with SIGINT, as Ctrl-C stops it.
 */
function runDemo(args: string[], stopWhen?: () => Promise<boolean>, timeoutMs = 180_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    // node --import tsx, as `tsx scripts/demo.ts` runs it but in one process: the tsx CLI relays a signal to its
    // child and kills it outright if the child does not acknowledge within 30 ms (a loaded machine: exit 130).
    const p = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...args], { cwd: ROOT, env: { ...process.env, DATA_DIR: '' } });
    let out = '';
    let err = '';
    let watching = false;
    let checker: ReturnType<typeof setTimeout> | null = null;
    const check = async () => {
      checker = null;
      if (p.exitCode !== null) return;
      if (await stopWhen!().catch(() => false)) p.kill('SIGINT');
      else checker = setTimeout(() => void check(), 500);
    };
    p.stdout.on('data', (d) => {
      out += d;
      if (stopWhen && !watching && out.includes('Generating traffic')) {
        watching = true;
        void check();
      }
    });
    p.stderr.on('data', (d) => (err += d));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`demo did not finish in ${timeoutMs} ms:\n${out}\n${err}`));
    }, timeoutMs);
    p.on('close', (code) => {
      clearTimeout(t);
      if (checker) clearTimeout(checker);
      resolve({ code, out, err });
    });
  });
}

describe('npm run demo', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  beforeAll(async () => {
    server = await bootServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('reads the demo keys from DATA_DIR, prints working dashboard links, and its traffic shows up live', { timeout: 240_000 }, async () => {
    // At least 6 s of traffic, and on until orders of more than one ticket type show up live (on a loaded
    // machine the first visitors take longer to get there; a fixed duration could end before any order).
    const t = server.demo!;
    let started = 0;
    const enough = async () => {
      started ||= Date.now();
      if (Date.now() - started < 6000) return false;
      const live = await getJson(`${server.url}/api/v1/live/dashboard/${DEMO_ORG}`, { authorization: `Bearer ${t.secret_key}` });
      const f = live.json?.data?.totals?.funnel;
      if (!(f?.views > 10 && f.unique_visitors > 10 && f.add_to_carts > 0 && f.checkouts_started > 0 && f.orders > 0)) return false;
      const orders = (await eventsOf(server.url, t, 'limit=1000')).filter((e) => e.event_name === 'order_completed');
      return new Set(orders.flatMap((o) => o.payload.items.map((i: any) => i.ticket_type_id))).size > 1;
    };
    const r = await runDemo(['--url', server.url, '--data-dir', server.dataDir, '--rate', '4', '--speed', '3', '--seed', '11'], enough);
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    expect(r.out).not.toMatch(/rejected|answered \d{3}|^\s+! /m);
    const organizer = /organizer:\s+(\S+)/.exec(r.out)?.[1];
    const gate = /gate staff:\s+(\S+)/.exec(r.out)?.[1];
    expect(organizer).toMatch(new RegExp(`^${server.url}/dashboard\\?token=v1\\.`));
    expect(gate).toMatch(/\/dashboard\?token=v1\./);
    expect(r.out).toMatch(/Done\./);
    const orgToken = decodeURIComponent(new URL(organizer!).searchParams.get('token')!);
    const gateToken = decodeURIComponent(new URL(gate!).searchParams.get('token')!);
    expect((await fetch(organizer!)).status).toBe(200);

    await server.sink.idle();
    const dash = await getJson(`${server.url}/api/v1/live/dashboard/${DEMO_ORG}?token=${encodeURIComponent(orgToken)}`);
    expect(dash.status).toBe(200);
    const d = dash.json.data;
    expect(d.events.map((e: any) => e.event_id).sort()).toEqual(DEMO_EVENTS.map((e) => e.id).sort());
    expect(d.totals.funnel.views).toBeGreaterThan(10);
    expect(d.totals.funnel.unique_visitors).toBeGreaterThan(10);
    expect(d.totals.funnel.add_to_carts).toBeGreaterThan(0);
    expect(d.totals.funnel.checkouts_started).toBeGreaterThan(0);
    expect(d.totals.funnel.orders).toBeGreaterThan(0);
    expect(d.ticker.length).toBe(Math.min(20, d.totals.funnel.orders));

    // The gate link reads capacity of both events: two gates each, with capacities.
    for (const ev of DEMO_EVENTS) {
      const c = await getJson(`${server.url}/api/v1/live/events/${ev.id}/capacity?token=${encodeURIComponent(gateToken)}`);
      expect(c.status).toBe(200);
      expect(Object.keys(c.json.data.gates).sort()).toEqual(ev.gates.map((g) => g.id).sort());
      expect(c.json.data.capacity).toBe(ev.venueCapacity);
      for (const g of ev.gates) {
        expect(c.json.data.gates[g.id].capacity).toBe(g.capacity);
        expect(c.json.data.gates[g.id].inside).toBeGreaterThanOrEqual(Math.round(g.capacity * g.startFill) - 20);
      }
    }
    // ...and nothing else
    const denied = await getJson(`${server.url}/api/v1/live/dashboard/${DEMO_ORG}?token=${encodeURIComponent(gateToken)}`);
    expect(denied.status).toBe(403);

    // What was stored: web, backend, payments and scanner events; browsers, not bots; nothing rejected.
    const stored = await eventsOf(server.url, t, 'limit=1000');
    const by = (src: string) => stored.filter((e) => e.source_system === src);
    expect(by('web').length).toBeGreaterThan(20);
    expect(by('backend').some((e) => e.event_name === 'order_completed')).toBe(true);
    expect(by('payments').some((e) => e.event_name === 'payment_succeeded')).toBe(true);
    expect(new Set(by('scanner').map((e) => e.event_name))).toEqual(new Set(['scanner_session_started', 'capacity_snapshot', 'ticket_scan_attempted', 'ticket_scan_result', 'entry_granted', 'scanner_session_ended', ...(by('scanner').some((e) => e.event_name === 'entry_denied') ? ['entry_denied'] : [])]));
    for (const e of by('web')) {
      expect(e.context.is_bot).toBe(false);
      expect(e.context.user_agent).toMatch(/^Mozilla\/5\.0/);
      expect(e.consent_snapshot.analytics).toBe(true);
    }
    for (const e of stored.filter((x) => x.entities?.event_entity_id)) expect(e.entities.organizer_id).toBe(DEMO_ORG);
    const orders = stored.filter((e) => e.event_name === 'order_completed');
    expect(new Set(orders.flatMap((o) => o.payload.items.map((i: any) => i.ticket_type_id))).size).toBeGreaterThan(1);
    const rejected = await getJson(`${server.url}/api/v1/tx/rejected?limit=20`, { authorization: `Bearer ${t.secret_key}` });
    expect(rejected.json.rejected).toEqual([]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/tx_ingest_events_total\{outcome="bots"\} 0\b/);
    expect(metrics).toMatch(/tx_ingest_events_total\{outcome="rejected"\} 0\b/);
  });

  it('explains what is missing instead of failing obscurely', { timeout: 240_000 }, async () => {
    // Three independent runs at once: each compiles the script with tsx, a minute apiece on a loaded machine.
    const [noKeys, down, bad] = await Promise.all([
      runDemo(['--url', server.url, '--data-dir', path.join(server.dataDir, 'nope')]),
      runDemo(['--url', 'http://127.0.0.1:9', '--write-key', 'tx_pk_x']),
      runDemo(['--rate', 'lots']),
    ]);
    expect(noKeys.code).toBe(1);
    expect(noKeys.err).toMatch(/No write key/);
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/Cannot reach http:\/\/127\.0\.0\.1:9.*npm start/);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--rate must be a number/);
  });

  it('in process: what the generator sent is what the live layer counts, per event and currency', { timeout: 120_000 }, async () => {
    const t = await createTenant(server.url, 'demo-inproc');
    // At least 4 s of traffic, and on until an order was sent (on a loaded machine the first buyers take longer).
    const demo = startDemo({ url: server.url, writeKey: t.write_key, secretKey: t.secret_key, seed: 5, visitorsPerSecond: 5, speed: 4 });
    const t0 = Date.now();
    while (Date.now() - t0 < 4000 || (demo.stats.orders === 0 && Date.now() - t0 < 60_000)) await new Promise((r) => setTimeout(r, 100));
    const stats = await demo.stop();
    await server.sink.idle();
    expect(stats.rejected).toBe(0);
    expect(stats.failedRequests).toBe(0);
    expect(stats.orders).toBeGreaterThan(0);
    for (const ev of DEMO_EVENTS) {
      const r = await getJson(`${server.url}/api/v1/live/events/${ev.id}`, { authorization: `Bearer ${t.secret_key}` });
      const want = stats.perEvent[ev.id];
      expect({ orders: r.json.data.funnel.orders, tickets: r.json.data.funnel.tickets_sold, revenue: r.json.data.revenue }).toEqual(want);
      expect(r.json.data.organizer_id).toBe(DEMO_ORG);
      expect(r.json.data.funnel.views).toBeGreaterThan(0);
    }
    const currencies = new Set(Object.values(stats.perEvent).flatMap((p) => Object.keys(p.revenue)));
    console.log(`in-process demo: ${stats.visitors} visitors, ${stats.orders} orders, currencies ${[...currencies].join('/')}, ${stats.scans} scans (${stats.denied} denied)`);
  });

  it('prng is deterministic', () => {
    const a = prng(42);
    const b = prng(42);
    const xs = Array.from({ length: 5 }, () => a());
    expect(xs).toEqual(Array.from({ length: 5 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});
