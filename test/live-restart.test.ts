// After a restart the live numbers equal those before it: recomputed from the store (no Redis).
import { beforeEach, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import { bootServer, createTenant, request, tmpDir } from './helpers.js';
import { expectSameAfterRestart, liveRest, readAll, restartScript, sendEvents } from './live-helpers.js';
import { clearOfMidnight } from './midnight.js';

/** Two boots of the server: minutes on a loaded machine. */
const TEST_MS = 300_000;
/** restartScript's events are up to a minute old. */
const BACK_MS = 90_000;

describe('restart without Redis', () => {
  // Live numbers cover one UTC day: from the events to the test's end (as long as it may take), one day.
  beforeEach(async () => {
    await clearOfMidnight(BACK_MS, TEST_MS);
  }, BACK_MS + TEST_MS + 30_000);

  it('recomputes today from the store: numbers survive', { timeout: TEST_MS }, async () => {
    const dataDir = tmpDir();
    let server = await bootServer({ DATA_DIR: dataDir });
    const t = await createTenant(server.url, 'restart');
    const sentAt = Date.now();
    await sendEvents(server.url, t, restartScript());
    await server.sink.idle();
    const before = await readAll(server.url, t.secret_key);
    expect((before['/api/v1/live/events/RE1'] as any).funnel.orders).toBe(6);
    expect((before['/api/v1/live/events/RE1/capacity'] as any).inside).toBe(12);
    expect((before['/api/v1/live/events/RE3'] as any).funnel.views).toBe(1);
    await server.close();

    server = await bootServer({ DATA_DIR: dataDir });
    try {
      const after = await readAll(server.url, t.secret_key);
      expectSameAfterRestart(before, after, sentAt);
    } finally {
      await server.close();
    }
  });

  it('keeps the catalog gates admitted past LIVE_MAX_GATE_LANES: the recompute knows the catalog before it counts', { timeout: TEST_MS }, async () => {
    const dataDir = tmpDir();
    const env = { DATA_DIR: dataDir, LIVE_MAX_GATE_LANES: '3' };
    let server = await bootServer(env);
    const t = await createTenant(server.url, 'restart-gates');
    const at = Date.now() - 60_000;
    const scan = (gate: string, i: number) => ({
      event_id: crypto.randomUUID(), event_name: 'entry_granted', occurred_at: new Date(at + i * 100).toISOString(), source_system: 'scanner',
      consent_snapshot: { analytics: false, marketing: false, data_processing: true },
      entities: { event_entity_id: 'LE1', organizer_id: 'O1', ticket_id: crypto.randomUUID() }, payload: { gate_id: gate },
    });
    // Five made-up gates first: the limit (3) is full before the catalog names the event's gates.
    await sendEvents(server.url, t, ['G1', 'G2', 'G3', 'G4', 'G5'].map(scan));
    const put = async (path: string, items: unknown[]) =>
      expect((await request('PUT', `${server.url}${path}`, { items }, { authorization: `Bearer ${t.secret_key}` })).status).toBe(200);
    await put('/api/v1/catalog/venues', [{ id: 'LV1', name: 'Hall', capacity: 1000, gates: [{ id: 'CG1', capacity: 300 }, { id: 'CG2', capacity: 300 }] }]);
    await put('/api/v1/catalog/events', [{ id: 'LE1', organizer_id: 'O1', venue_id: 'LV1' }]);
    await sendEvents(server.url, t, ['CG1', 'CG2', 'G6'].map((g, i) => scan(g, 10 + i)));
    await server.sink.idle();
    const read = async () => (await liveRest(server.url, '/api/v1/live/events/LE1/capacity', t.secret_key)).json.data as any;
    const gates = (c: any) => Object.fromEntries(Object.entries(c.gates).map(([id, g]: [string, any]) => [id, g.inside]));
    const before = await read();
    expect(before.inside).toBe(5);
    expect(gates(before)).toMatchObject({ CG1: 1, CG2: 1 });
    await server.close();

    server = await bootServer(env);
    try {
      const after = await read();
      expect(after.inside).toBe(before.inside);
      expect(gates(after)).toEqual(gates(before));
    } finally {
      await server.close();
    }
  });
});
