// Writer lanes on the machine's PostgreSQL 15 (a fresh database per run, dropped after): several commits in
// flight, answers in the order requests were queued, and an event_id raced by two lanes, or by two writers
// (two nodes on one database), is stored once and answered new once: the ledger's primary key decides.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGroupWriter } from '../server/ingest/writer.js';
import { openPostgres, type Db } from '../server/store/db.js';
import { createEventStore, type EventRow } from '../server/store/events.js';
import { migrate } from '../server/store/migrate.js';
import { createSpool } from '../server/store/spool.js';
import { silent, tmpDir } from './helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';


function event(id: string, at = new Date()): EventRow {
  return {
    event_id: id, event_name: 'page_view', event_version: 1, occurred_at: at.toISOString(), received_at: new Date().toISOString(), sent_at: null,
    tenant_id: 1, site_id: 'web', source_system: 'web', visitor_id: 'v1', session_id: null, sequence_no: null, prev_event_id: null,
    person_id: null, consent_snapshot: { analytics: true }, context: {}, entities: {}, payload: {}, idempotency_key: null, is_bot: false,
  };
}

describe('writer lanes on PostgreSQL', () => {
  let scratch: ScratchDatabase | undefined;
  let db: Db;
  const dirs: string[] = [];
  const writer = (lanes: number, maxRows: number) => {
    const dir = tmpDir('txl-lanes-');
    dirs.push(dir);
    return createGroupWriter({ db, events: createEventStore(), spool: createSpool(path.join(dir, 'spool'), 1 << 24, silent), log: silent, lanes, maxRows });
  };
  const storedCount = async (ids: string[]) =>
    Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM tx_events WHERE event_id = ANY($1::uuid[])', [ids])).rows[0].n);

  beforeAll(async () => {
    scratch = await scratchDatabase('lanes');
    db = await openPostgres(scratch.url, 12, silent, { plain: true });
    await migrate(db, silent);
  }, 90_000);

  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('answers requests in the order they were queued and stores a raced event_id once, answered new once', async () => {
    const w = writer(4, 2);
    const shared = crypto.randomUUID();
    const own = Array.from({ length: 60 }, () => crypto.randomUUID());
    const answered: number[] = [];
    // Every request carries the shared id: with two rows per group they spread over the four lanes.
    const results = await Promise.all(own.map((id, i) => w.append({ events: [event(shared), event(id)], rejected: [] }).then((r) => (answered.push(i), r))));
    expect(answered).toEqual(own.map((_, i) => i));
    expect(results.filter((r) => r.fresh[0]).length).toBe(1);
    expect(results.every((r) => r.fresh[1] && !r.spooled)).toBe(true);
    expect(await storedCount([shared])).toBe(1);
    expect(await storedCount(own)).toBe(own.length);
    expect(w.status().commits.count).toBeGreaterThan(4);
    await w.close();
  }, 60_000);

  it('two writers on one database racing the same ids store each once, and answer each new exactly once', async () => {
    const a = writer(4, 10);
    const b = writer(4, 10);
    const ids = Array.from({ length: 200 }, () => crypto.randomUUID());
    const req = (w: typeof a, part: string[]) => w.append({ events: part.map((id) => event(id)), rejected: [] });
    const chunks = Array.from({ length: 20 }, (_, i) => ids.slice(i * 10, i * 10 + 10));
    // Each writer sends the chunks in a different order, so both orders of lock taking happen.
    const [ra, rb] = await Promise.all([Promise.all(chunks.map((c) => req(a, c))), Promise.all([...chunks].reverse().map((c) => req(b, [...c].reverse())))]);
    const fresh = [...ra, ...rb].flatMap((r) => r.fresh).filter(Boolean).length;
    expect(fresh).toBe(ids.length);
    expect([...ra, ...rb].some((r) => r.spooled)).toBe(false);
    expect(await storedCount(ids)).toBe(ids.length);
    await Promise.all([a.close(), b.close()]);
  }, 60_000);
});
