// A catalog event already over is not in a node's memory after a restart (restore_meta reads the events not
// over): its organizer's token still reads its snapshot and history there, as the router's scope check and the
// topic rule both resolve the event from the store (a node that held it answered 200, this one 403).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, tmpDir, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';
import { LiveClient, liveRest, mintToken } from './live-helpers.js';

describe('a past catalog event after a restart', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;

  beforeAll(async () => {
    const dataDir = tmpDir();
    const first = await bootServer({ DATA_DIR: dataDir });
    t = await createTenant(first.url, 'live-past');
    expect((await api(first.url, t, 'PUT', '/api/v1/catalog/organizers', { items: [{ id: 'O1', name: 'Past Org' }, { id: 'O3', name: 'No Events Yet' }] })).status).toBe(200);
    expect((await api(first.url, t, 'PUT', '/api/v1/catalog/events', {
      items: [{ id: 'PAST1', organizer_id: 'O1', title: 'Last year', capacity: 500, starts_at: '2025-01-10T18:00:00Z', ends_at: '2025-01-10T23:00:00Z' }],
    })).status).toBe(200);
    await first.close();
    server = await bootServer({ DATA_DIR: dataDir });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('answers the organizer\'s token the snapshot and history of its event, and another organizer\'s 403', async () => {
    const o1 = await mintToken(server.url, t, { role: 'organizer', org_id: 'O1' });
    const snap = await liveRest(server.url, '/api/v1/live/events/PAST1', o1);
    expect(snap.status).toBe(200);
    // The catalog's row, read from the store for the snapshot: organizer, title, capacity (were null here).
    expect(snap.json.data).toMatchObject({ event_id: 'PAST1', organizer_id: 'O1', event_title: 'Last year', organizer_name: 'Past Org', capacity: { capacity: 500 } });
    expect((await liveRest(server.url, '/api/v1/live/events/PAST1/history?minutes=5', o1)).status).toBe(200);
    const o2 = await mintToken(server.url, t, { role: 'organizer', org_id: 'O2' });
    expect((await liveRest(server.url, '/api/v1/live/events/PAST1', o2)).status).toBe(403);
    expect((await liveRest(server.url, '/api/v1/live/events/PAST1/history?minutes=5', o2)).status).toBe(403);
  });

  it('names a catalog organizer that has no catalog events on its dashboard, after a restart and after a sync', async () => {
    const dash = async (org: string) => (await liveRest(server.url, `/api/v1/live/dashboard/${org}`, t.secret_key)).json.data.organizer_name;
    expect(await dash('O3')).toBe('No Events Yet');
    const c = await LiveClient.open(server.url, await mintToken(server.url, t, { role: 'organizer', org_id: 'O3' }));
    try {
      await c.subscribe('analytics:dashboard:O3');
      expect((await api(server.url, t, 'PUT', '/api/v1/catalog/organizers', { items: [{ id: 'O3', name: 'Renamed' }, { id: 'O4', name: 'Newcomer' }] })).status).toBe(200);
      // The rename reaches the dashboard's subscriber (the organizer has no event to carry it).
      await c.until('analytics:dashboard:O3', (x) => x.organizer_name === 'Renamed');
    } finally {
      c.close();
    }
    expect(await dash('O3')).toBe('Renamed');
    expect(await dash('O4')).toBe('Newcomer');
  });
});
