// After a restart the live numbers equal those before it: recomputed from the store (no Redis).
import { describe, expect, it } from 'vitest';
import { awayFromMidnight, bootServer, createTenant, tmpDir } from './helpers.js';
import { readAll, restartScript, sendEvents } from './live-helpers.js';

describe('restart without Redis', () => {
  it('recomputes today from the store: numbers survive', { timeout: 300_000 }, async () => {
    await awayFromMidnight();
    const dataDir = tmpDir();
    let server = await bootServer({ DATA_DIR: dataDir });
    const t = await createTenant(server.url, 'restart');
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
      expect(after).toEqual(before);
    } finally {
      await server.close();
    }
  });
});
