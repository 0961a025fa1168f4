// Rows dated ahead of the server's clock (FUTURE_HOURS lets ingest store them) count at their live time
// (server/live/facts.ts liveTime: never more than 2 s after they were received), the same in the live numbers,
// in the per-minute history and after a restart's recompute: a checkout dated an hour ahead is one checkout now,
// and a capacity_snapshot dated 8 hours ahead does not freeze its gate.
import crypto from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postJson, tmpDir, webEvent, type Tenant } from './helpers.js';
import { liveRest, sleep } from './live-helpers.js';
import { clearOfMidnight } from './midnight.js';

type Server = Awaited<ReturnType<typeof bootServer>>;
const HOUR = 3_600_000;

async function post(s: Server, t: Tenant, events: Record<string, unknown>[]) {
  const r = await postJson(`${s.url}/api/tx/events/batch`, { events }, { 'x-tx-key': t.write_key });
  expect(r.json.rejected, r.text).toEqual([]);
}

const scan = (name: string, at: number, payload: Record<string, unknown>) => ({
  event_id: crypto.randomUUID(), event_name: name, occurred_at: new Date(at).toISOString(), source_system: 'scanner',
  consent_snapshot: { analytics: true, marketing: false, data_processing: true },
  entities: { event_entity_id: 'E-fut', ticket_id: crypto.randomUUID() }, payload: { gate_id: 'G1', scan_type: 'entry', ...payload },
});

async function numbers(s: Server, t: Tenant) {
  const live = await liveRest(s.url, '/api/v1/live/events/E-fut', t.secret_key);
  const hist = await liveRest(s.url, '/api/v1/live/events/E-fut/history?minutes=5', t.secret_key);
  expect(hist.status, JSON.stringify(hist.json)).toBe(200);
  const sum = (k: string) => (hist.json.series as Record<string, number>[]).reduce((n, m) => n + m[k], 0);
  return {
    live: { checkouts_started: live.json.data.funnel.checkouts_started, active_checkouts: live.json.data.funnel.active_checkouts, entries: live.json.data.capacity.entries },
    history: { checkouts_started: sum('checkouts_started') },
  };
}

/** The test boots a server twice: minutes on a loaded machine. */
const TEST_MS = 240_000;
const BACK_MS = 90_000;

describe('rows dated ahead of the server clock', () => {
  // Live numbers cover one UTC day: a run, as long as the test may take, must not straddle midnight.
  beforeEach(async () => {
    await clearOfMidnight(BACK_MS, TEST_MS);
  }, BACK_MS + TEST_MS + 30_000);

  it('count at their receive time alike in the live numbers, the history and a recompute', { timeout: TEST_MS }, async () => {
    const dataDir = tmpDir();
    let s = await bootServer({ DATA_DIR: dataDir });
    try {
      const t = await createTenant(s.url, 'future');
      const now = Date.now();
      const checkout = (cart: string, at: number) =>
        webEvent({ event_name: 'checkout_started', occurred_at: new Date(at).toISOString(), entities: { event_entity_id: 'E-fut', organizer_id: 'O1', cart_id: cart }, payload: { cart_value: 10, currency: 'EUR' } });
      await post(s, t, [checkout('C1', now - 1000), checkout('C2', now - 500), checkout('C3', now + HOUR)]);
      // One snapshot 8 h ahead saying nobody is in, then real entries.
      await post(s, t, [scan('capacity_snapshot', now + 8 * HOUR, { current_inside: 0, total_entries: 0, total_denied: 0 })]);
      // Real entries, with a right clock, once the snapshot's live time (its receipt + the 2 s tolerance) is past.
      await sleep(2100);
      await post(s, t, [1, 2, 3].map((i) => scan('entry_granted', Date.now() - 10 + i, {})));
      const expected = { live: { checkouts_started: 3, active_checkouts: 3, entries: 3 }, history: { checkouts_started: 3 } };
      expect(await numbers(s, t)).toEqual(expected);
      await s.close();
      s = await bootServer({ DATA_DIR: dataDir });
      expect(await numbers(s, t)).toEqual(expected);
    } finally {
      await s.close();
    }
  });
});
