// Server-side conversions on plain PostgreSQL 15 (README "Plain PostgreSQL mode"): migration 012, the outbox
// projector (which reads the first touch from the partitioned tx_events) and the dispatcher, on a fresh
// database dropped after the run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, getJson, postEvents, tmpDir, until, webEvent } from './helpers.js';
import { addCode, auth, dispatchNow, metaCode, providerEnv, purchase } from './conversions-helpers.js';
import { startMockPlatforms, type MockPlatforms } from './mock-platforms/index.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

describe('server-side conversions on plain PostgreSQL', () => {
  let scratch: ScratchDatabase | undefined;
  let mock: MockPlatforms;
  let server: Awaited<ReturnType<typeof bootServer>>;

  beforeAll(async () => {
    scratch = await scratchDatabase('conv');
    mock = await startMockPlatforms();
    server = await bootServer({ ...providerEnv(mock), DATABASE_URL: scratch.url, DATA_DIR: tmpDir() });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await mock?.close();
    await scratch?.drop();
  });

  it('queues a purchase for the organizer and the marketplace in the commit and delivers it once to each', { timeout: 240_000 }, async () => {
    expect(server.db.plain).toBe(true);
    const t = await createTenant(server.url, 'conv-plain');
    await addCode(server.url, t, metaCode('123456789012345', 'O1'));
    await addCode(server.url, t, metaCode('543210987654321', null));
    const touch = webEvent({ context: { click_ids: { fbclid: 'PLAINFB' }, utm: { source: 'ig' }, page: { url: 'https://tickets.example/e/E1' } } });
    const order = purchase();
    const noConsent = purchase({ consent_snapshot: { analytics: true, marketing: false, data_processing: true } }, { consent_marketing: false });
    await postEvents(server.url, t, [touch]);
    await postEvents(server.url, t, [order, noConsent]);
    await until(async () => {
      await dispatchNow(server.url);
      const r = await getJson(`${server.url}/api/v1/conversions`, auth(t));
      return r.json.counts.length === 2 && r.json.counts.every((c: any) => c.sent === 1 && c.pending === 0);
    }, 180_000, 500);
    expect(mock.problems).toEqual([]);
    // Meta's event_id for a purchase is its order id.
    const meta = mock.received.filter((r) => r.ids.includes(order.entities.order_id));
    expect(meta.map((r) => r.destination).sort()).toEqual(['123456789012345', '543210987654321']);
    expect(meta[0].body.data[0].user_data.fbc).toMatch(/^fb\.1\.\d{13}\.PLAINFB$/);
    expect(mock.received.some((r) => r.ids.includes(noConsent.entities.order_id) || r.ids.includes(noConsent.event_id))).toBe(false);
    expect(mock.accepted.get(order.entities.order_id)).toBe(2);
  });
});
