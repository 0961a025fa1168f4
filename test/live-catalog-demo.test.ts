// `npm run demo` syncs its catalog first (issue 11, README "npm run demo"): the organizer, the venues with
// their gates, the events and their ticket types go through PUT /api/v1/catalog/{kind}, so the live snapshots
// (and the dashboard) carry names, gate names and ticket categories; syncing again changes nothing.
import { describe, expect, it } from 'vitest';
import { DEMO_EVENTS, DEMO_ORG, DEMO_ORG_NAME } from '../scripts/demo/catalog.js';
import { demoCatalog, syncDemoCatalog } from '../scripts/demo/sync.js';
import { startDemo } from '../scripts/demo/traffic.js';
import { bootServer, createTenant, tmpDir } from './helpers.js';
import { liveRest, mintToken } from './live-helpers.js';

describe('the demo catalog', () => {
  it('names every event, venue gate and ticket type the traffic uses', () => {
    const kinds = Object.fromEntries(demoCatalog(DEMO_ORG, Date.parse('2026-06-01T12:00:00Z')));
    expect(kinds.organizers).toEqual([{ id: DEMO_ORG, name: DEMO_ORG_NAME }]);
    expect(kinds.events.map((e) => e.id)).toEqual(DEMO_EVENTS.map((e) => e.id));
    expect(kinds.events[0]).toMatchObject({ organizer_id: DEMO_ORG, title: 'Summer Fest 2026', starts_at: '2026-06-01T17:00:00Z' });
    expect(kinds.ticket_types.every((t) => typeof t.category === 'string')).toBe(true);
    expect(kinds.venues.flatMap((v) => (v.gates as { name: string }[]).map((g) => g.name))).toEqual(['North Gate', 'South Gate', 'Main Entrance', 'Balcony']);
  });

  // A boot (minutes on a loaded machine) and up to a minute of demo traffic.
  it('is synced through the API before traffic: the organizer opens its events with names, gate names and ticket categories', { timeout: 240_000 }, async () => {
    const s = await bootServer({ DATA_DIR: tmpDir() });
    try {
      const t = await createTenant(s.url, 'demo-catalog');
      const items = DEMO_EVENTS.length * 2 + 1 + DEMO_EVENTS.reduce((n, e) => n + e.tickets.length, 0);
      expect(await syncDemoCatalog(s.url, t.secret_key, DEMO_ORG)).toBe(items);
      expect(await syncDemoCatalog(s.url, t.secret_key, DEMO_ORG)).toBe(items);
      const token = await mintToken(s.url, t, { role: 'organizer', org_id: DEMO_ORG, ttl_s: 600 });
      const before = await liveRest(s.url, '/api/v1/live/events/evt-summer-fest', token);
      expect(before.status).toBe(200);
      expect(before.json.data).toMatchObject({ event_title: 'Summer Fest 2026', organizer_name: DEMO_ORG_NAME, capacity: { capacity: 2000 } });

      // At least 4 s of traffic, and on until an order was sent (on a loaded machine the first buyers take longer).
      const demo = startDemo({ url: s.url, writeKey: t.write_key, secretKey: t.secret_key, seed: 3, visitorsPerSecond: 6, speed: 4 });
      const t0 = Date.now();
      while (Date.now() - t0 < 4000 || (demo.stats.orders === 0 && Date.now() - t0 < 60_000)) await new Promise((r) => setTimeout(r, 100));
      const stats = await demo.stop();
      expect(stats.orders).toBeGreaterThan(0);
      await s.sink.idle();
      const dash = await liveRest(s.url, `/api/v1/live/dashboard/${DEMO_ORG}`, token);
      expect(dash.json.data.organizer_name).toBe(DEMO_ORG_NAME);
      expect(dash.json.data.ticker.length).toBeGreaterThan(0);
      for (const x of dash.json.data.ticker) expect(x.category, JSON.stringify(x)).toMatch(/^(EarlyBird|GA|Pass|VIP|Student)(, (EarlyBird|GA|Pass|VIP|Student))*$/);
      const cap = await liveRest(s.url, '/api/v1/live/events/evt-summer-fest/capacity', token);
      expect(cap.json.data.gates.north).toMatchObject({ name: 'North Gate' });
    } finally {
      await s.close();
    }
  });
});
