// A deferred projector reads committed rows in tx_events.id order, a page at a time, and moves its cursor to the
// last row of each page. The page must be ordered by the bigint id: ordered as text ("10000" before "9999") a
// page that crosses a power of ten ended on the wrong row and the cursor skipped the rows below it for good.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProjectionRunner } from '../server/ingest/projector.js';
import type { EventRow } from '../server/store/events.js';
import { bootServer, createTenant, idsAcrossDigitBoundary, postEvents, silent, webEvent } from './helpers.js';

describe('deferred projector pages', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  beforeAll(async () => {
    server = await bootServer();
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('projects every row exactly once, in id order, when its pages cross ids of different lengths', async () => {
    const t = await createTenant(server.url);
    await idsAcrossDigitBoundary(server.db, 'tx_events');
    const r = await postEvents(server.url, t, Array.from({ length: 10 }, (_, i) => webEvent({ sequence_no: i })));
    expect(r.status).toBe(200);
    const stored = (await server.db.query<{ event_id: string }>('SELECT event_id::text FROM tx_events ORDER BY id')).rows.map((x) => x.event_id);
    expect(stored.length).toBeGreaterThanOrEqual(10);

    const seen: string[] = [];
    const runner = createProjectionRunner({
      db: server.db, log: silent, name: `test.order.${Date.now()}`, batchRows: 3,
      projectors: [{ name: 'recorder', run: async (_q, rows: EventRow[]) => void seen.push(...rows.map((e) => e.event_id)) }],
    });
    runner.kick();
    await runner.projected();
    await runner.close();
    expect(seen).toEqual(stored);
  });
});
