// After a restart the live numbers equal those before it: recomputed from the store (no Redis).
import { beforeEach, describe, expect, it } from 'vitest';
import { bootServer, createTenant, tmpDir } from './helpers.js';
import { expectSameAfterRestart, readAll, restartScript, sendEvents } from './live-helpers.js';
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
});
