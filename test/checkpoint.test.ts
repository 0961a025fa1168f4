// The embedded store checkpoints from the job runner (jobs/checkpoint.ts): PGlite has no checkpointer process,
// so without the job the WAL since the last checkpoint only grows while the server runs.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, bootServer, createTenant, request, webEvent, type Tenant } from './helpers.js';
import { batch } from './identity-helpers.js';

describe('store.checkpoint on the embedded store', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  const admin = { authorization: `Bearer ${ADMIN}` };
  const base = () => `http://127.0.0.1:${server.port}`;
  const runJob = () => request('POST', `${base()}/api/admin/jobs/store.checkpoint/run`, undefined, admin);
  const walFiles = () => fs.readdirSync(path.join(server.dataDir, 'pgdata', 'pg_wal')).filter((f) => /^[0-9A-F]{24}$/.test(f));

  beforeAll(async () => {
    server = await bootServer({ CHECKPOINT_WAL_MB: '1' });
    t = await createTenant(base(), 'checkpoint');
  });
  afterAll(async () => server?.close());

  it('checkpoints once the WAL written since the last checkpoint passes CHECKPOINT_WAL_MB, then not again until more is written', async () => {
    const listed = await request('GET', `${base()}/api/admin/jobs`, undefined, admin);
    expect(listed.json.jobs.map((j: { name: string }) => j.name)).toContain('store.checkpoint');
    const runs = async () => (await request('GET', `${base()}/api/admin/jobs/store.checkpoint/runs?limit=50`, undefined, admin)).json.runs as { id: number; rows: number | null; status: string }[];
    const before = Math.max(0, ...(await runs()).map((r) => r.id));

    for (let i = 0; i < 20; i++) {
      const r = await batch(base(), t, Array.from({ length: 100 }, (_, k) => webEvent({ visitor_id: `cp-v${i}-${k}`, payload: { note: 'x'.repeat(400) } })));
      expect(r.json.accepted).toBe(100);
    }
    const segmentsBefore = walFiles();
    expect((await runJob()).json).toMatchObject({ job: 'store.checkpoint', status: 'succeeded' });
    // This run, or a scheduled one (every 15 s) that came first, checkpointed the WAL the writes produced.
    const after = (await runs()).filter((r) => r.id > before);
    expect(after.filter((r) => r.status === 'succeeded' && r.rows === 1).length).toBeGreaterThanOrEqual(1);
    // Nothing written since (but the job's own bookkeeping): not due.
    expect((await runJob()).json).toMatchObject({ status: 'succeeded', rows: 0 });
    // The segments written before the checkpoint are no longer needed for recovery: they are recycled (renamed
    // ahead) for the WAL that follows instead of new ones being created, so pg_wal stops growing.
    for (let i = 0; i < 5; i++) {
      await batch(base(), t, Array.from({ length: 100 }, (_, k) => webEvent({ visitor_id: `cp-after-${i}-${k}`, payload: { note: 'x'.repeat(400) } })));
    }
    expect(segmentsBefore.length).toBeGreaterThan(2);
    expect(walFiles().length).toBeLessThanOrEqual(segmentsBefore.length);
  });
});
