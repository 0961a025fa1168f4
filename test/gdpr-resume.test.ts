// An erasure interrupted after its database commit (README GDPR "An interrupted erasure"): the transaction
// commits the tombstone, then the external stores and the embedded store's disk purge run. A kill -9 there used
// to leave them undone for good: the repeated DELETE found no person and answered the tombstone, and files under
// DATA_DIR/pgdata kept the erased visitor id. The crash is simulated with a second erasure instance over the
// server's store whose live eraser never returns (the node "dies" there); the server's own instance then plays
// the restarted node: a repeated DELETE, or the gdpr.resume job, finishes the steps.
import crypto from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPersonDataRegistry } from '../server/app.js';
import { createGdpr } from '../server/gdpr/erasure.js';
import type { Spool } from '../server/store/spool.js';
import { ADMIN, bootServer, createTenant, filesHolding, postEvents, request, silent, until, webEvent, type Tenant } from './helpers.js';
import { api } from './identity-helpers.js';

describe('GDPR erasure interrupted after its commit', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  let pgdata: string;
  beforeAll(async () => {
    server = await bootServer();
    t = await createTenant(server.url, 'gdpr-resume');
    pgdata = path.join(server.dataDir, 'pgdata');
  }, 180_000);
  afterAll(async () => server?.close());

  /** A person with a few events of their own visitor id (a needle no other row holds). */
  async function person(): Promise<{ visitor: string; personId: number }> {
    const visitor = `gdprresume${crypto.randomBytes(8).toString('hex')}`;
    const events = Array.from({ length: 20 }, (_, i) => webEvent({ visitor_id: visitor, session_id: `S${visitor}`, occurred_at: new Date(Date.now() - i * 1000).toISOString() }));
    expect((await postEvents(server.url, t, events)).accepted).toBe(20);
    const who = await api(server.url, t, 'POST', '/api/v1/identify', { visitor_id: visitor, external_id: `X${visitor}` });
    expect(who.status).toBe(200);
    await server.db.exec('CHECKPOINT');
    expect(filesHolding(pgdata, [visitor]).length).toBeGreaterThan(0);
    return { visitor, personId: Number(who.json.person_id) };
  }

  /**
   * Erases the person on a "node" that dies during the live layer's eraser (it never returns): the database part
   * is committed, nothing after it ran. Resolves once the tombstone is there and the node hangs.
   */
  async function eraseAndDie(personId: number): Promise<void> {
    const registry = createPersonDataRegistry();
    let reached!: () => void;
    const dying = new Promise<void>((r) => (reached = r));
    registry.store('live', () => {
      reached();
      return new Promise(() => undefined);
    });
    // Registered after the live layer as on a real node: never reached here, run by the node that finishes.
    registry.store('features', () => Promise.reject(new Error('the dying node never gets here')));
    const doomed = createGdpr({ db: server.db, spool: { pendingBytes: () => 0 } as unknown as Spool, log: silent, registry });
    void doomed.erasePerson(t.tenant_id, personId);
    await dying;
  }

  const completeReport = (removed: Record<string, any>) => {
    expect(removed.pending).toBeUndefined();
    expect(removed.events).toBe(20);
    expect(removed.external.live).toBeTypeOf('object');
    expect(removed.external.live.error).toBeUndefined();
    expect(removed.disk).toMatchObject({ wal: 'switched_and_checkpointed' });
    expect(removed.disk.vacuumed).toBeGreaterThan(0);
    // The feature store recounts the events the person's rows named, from the ids saved with the steps.
    expect(removed.external.features).toMatchObject({ events_recounted: 1, tenants_rescored: 1 });
  };
  /** Until it is finished, the tombstone says what is left. */
  const pendingNow = async (personId: number) => {
    const sha = (await server.db.query<{ removed: Record<string, any> }>('SELECT removed FROM gdpr_erasures WHERE tenant_id = $1 ORDER BY erased_at DESC LIMIT 1', [t.tenant_id])).rows[0];
    expect(sha.removed.pending, `person ${personId}`).toEqual(['spool', 'external:live', 'external:features', 'disk']);
    // The events to recount are saved with the steps (a restarted node has nothing in memory).
    const steps = (await server.db.query<{ ids: Record<string, any> }>('SELECT ids FROM gdpr_erasure_steps WHERE tenant_id = $1', [t.tenant_id])).rows;
    expect(steps.map((r) => r.ids.eventEntities)).toEqual([['E1']]);
  };
  const stepsLeft = async () => (await server.db.query<{ n: number }>('SELECT count(*)::int AS n FROM gdpr_erasure_steps')).rows[0].n;

  it('a repeated DELETE finishes the external erasers and the disk purge, then answers the full report', { timeout: 180_000 }, async () => {
    const p = await person();
    await eraseAndDie(p.personId);
    // The crashed erasure committed: the person is gone from the store, the files still hold them.
    expect((await api(server.url, t, 'GET', `/api/v1/persons/${p.personId}/export`)).status).toBe(410);
    await pendingNow(p.personId);

    const again = await api(server.url, t, 'DELETE', `/api/v1/persons/${p.personId}`);
    expect(again.status).toBe(200);
    expect(again.json.already_erased).toBe(true);
    completeReport(again.json.removed);
    expect(filesHolding(pgdata, [p.visitor])).toEqual([]);
    expect(await stepsLeft()).toBe(0);
    // And once more: the same report, nothing left to do.
    const third = await api(server.url, t, 'DELETE', `/api/v1/persons/${p.personId}`);
    expect(third.json).toEqual(again.json);
  });

  it('the gdpr.resume job finishes it without anyone asking', { timeout: 180_000 }, async () => {
    const p = await person();
    await eraseAndDie(p.personId);
    const run = await request('POST', `${server.url}/api/admin/jobs/gdpr.resume/run`, undefined, { authorization: `Bearer ${ADMIN}` });
    expect(run.status).toBe(200);
    // The scheduled run (every 30 s) may have taken it first: either way it is finished without a request.
    await until(async () => (await stepsLeft()) === 0, 60_000, 200);
    const tomb = (await server.db.query<{ removed: Record<string, any> }>('SELECT removed FROM gdpr_erasures WHERE tenant_id = $1 ORDER BY erased_at DESC LIMIT 1', [t.tenant_id])).rows[0];
    completeReport(tomb.removed);
    expect(filesHolding(pgdata, [p.visitor])).toEqual([]);
    const again = await api(server.url, t, 'DELETE', `/api/v1/persons/${p.personId}`);
    expect(again.json.already_erased).toBe(true);
    completeReport(again.json.removed);
  });
});
