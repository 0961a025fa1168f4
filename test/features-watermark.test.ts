// The incremental feature jobs' watermark on the machine's PostgreSQL 15 (a fresh database per run, dropped
// after), with real group writers: a commit that drew the lower id but commits after a commit with a higher id
// (a slow lane, or another node) is still picked up by the next incremental run, never skipped below the job's
// last_id (server/features/jobs.ts windowOf, ingest/projector.ts horizon). Two writers on one database (two
// nodes) race as two lanes of one writer do; one writer answers its requests in order, so the test could not
// await the later commit of one writer while its earlier one is held.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAggregates } from '../server/features/aggregates.js';
import { createFeatureJobs } from '../server/features/jobs.js';
import { createGroupWriter } from '../server/ingest/writer.js';
import type { JobContext } from '../server/jobs/index.js';
import { openPostgres, type Db } from '../server/store/db.js';
import { createEventStore, type EventRow } from '../server/store/events.js';
import { migrate } from '../server/store/migrate.js';
import { createSpool } from '../server/store/spool.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';
import { silent, tmpDir } from './helpers.js';


const entry = (ev: string, ticket: string): EventRow => ({
  event_id: crypto.randomUUID(), event_name: 'entry_granted', event_version: 1, occurred_at: new Date(Date.now() - 60_000).toISOString(),
  received_at: new Date().toISOString(), sent_at: null, tenant_id: 1, site_id: null, source_system: 'scanner', visitor_id: null, session_id: null,
  sequence_no: null, prev_event_id: null, person_id: null, consent_snapshot: {}, context: {}, entities: { event_entity_id: ev, ticket_id: ticket },
  payload: { gate_id: 'G1' }, idempotency_key: null, is_bot: false,
});

describe('feature jobs watermark on PostgreSQL with writer lanes', () => {
  let scratch: ScratchDatabase;
  let db: Db;
  const dir = tmpDir('fs-wm-');

  beforeAll(async () => {
    scratch = await scratchDatabase('fswm');
    db = await openPostgres(scratch.url, 8, silent, { plain: true });
    await migrate(db, silent);
  }, 90_000);

  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an incremental run picks a lower id committed after a higher one (features.attendance)', async () => {
    // The commit of E1's group stops after its insert (ids drawn) until `release`; E2's group commits meanwhile.
    let entered!: () => void;
    const inE1 = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const hold = { name: 'hold', run: async (_q: unknown, rows: EventRow[]) => {
      if (rows.some((r) => r.entities.event_entity_id === 'E1')) {
        entered();
        await gate;
      }
    } };
    const writer = (n: string, hooks = {}) =>
      createGroupWriter({ db, events: createEventStore(), spool: createSpool(path.join(dir, n), 1 << 24, silent), log: silent, lanes: 2, maxRows: 1, hooks });
    const [a, b] = [writer('a', { projectors: [hold] }), writer('b')];
    const e1 = a.append({ events: [entry('E1', 't1')], rejected: [] });
    await inE1;
    await b.append({ events: [entry('E2', 't2')], rejected: [] });
    const ids = (await db.query<{ ev: string; id: string }>("SELECT entities->>'event_entity_id' AS ev, id::text AS id FROM tx_events")).rows;
    expect(ids.map((r) => r.ev)).toEqual(['E2']);

    // The job's reads: once it waits for the commits in flight (pg_locks), or once it is done, E1's commit ends.
    let waiting!: () => void;
    const sawWait = new Promise<void>((r) => (waiting = r));
    const watched: Db = { ...db, query: (sql: string, params?: unknown[]) => {
      if (sql.includes('pg_locks')) waiting();
      return db.query(sql, params);
    } } as Db;
    const jobs = createFeatureJobs({ db: watched, log: silent, aggregates: createAggregates({ db: watched, log: silent, futureHours: 24 }), backfillDays: 7 });
    const attendance = jobs.jobs().find((j) => j.name === 'features.attendance')!;
    const ctx = { job: 'features.attendance', now: () => Date.now(), signal: new AbortController().signal, log: silent } as unknown as JobContext;
    const first = attendance.run(ctx);
    await Promise.race([first, sawWait]);
    release();
    await e1;
    await first;
    await attendance.run(ctx);
    const rows = (await db.query<{ ev: string; entries: number }>('SELECT event_entity_id AS ev, entries::int AS entries FROM fs_event_attendance ORDER BY 1')).rows;
    expect(rows).toEqual([{ ev: 'E1', entries: 1 }, { ev: 'E2', entries: 1 }]);
    await Promise.all([a.close(), b.close()]);
  }, 60_000);
});
