// The GDPR registry against the real schema: every table and view the migrations create is either erased
// with the person (a registered eraser) or declared free of personal data. A new table (a feature table, a
// continuous aggregate) that is in neither list fails here instead of surviving an erasure silently.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPersonDataRegistry } from '../server/app.js';
import { createGdprRegistry, DuplicateRegistrationError, uncovered } from '../server/gdpr/registry.js';
import { openEmbedded, type Db } from '../server/store/db.js';
import { migrate } from '../server/store/migrate.js';

const log = pino({ level: 'silent' });

describe('GDPR registry', () => {
  let db: Db;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdpr-registry-'));
    db = await openEmbedded(dir, log);
    await migrate(db, log);
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('covers every table and view of the schema', async () => {
    const { rows } = await db.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type IN ('BASE TABLE', 'VIEW') ORDER BY table_name",
    );
    const tables = rows.map((r) => r.table_name);
    expect(tables).toContain('tx_events');
    const registry = createPersonDataRegistry();
    expect(uncovered(registry, tables)).toEqual([]);
    // And nothing registered for a table that does not exist (a renamed table would leave its data behind).
    expect([...registry.covered().keys()].filter((t) => !tables.includes(t))).toEqual([]);
  });

  it('erases the person-keyed tables in phases: links first, the person row last', () => {
    const registry = createPersonDataRegistry();
    const order = registry.tables().map((t) => `${t.phase}:${t.name}`);
    // The store's and identity's entries first, in this order; every later domain appends its own.
    expect(order.slice(0, 6)).toEqual(['rows:events', 'rows:rejected_events', 'rows:sessions', 'links:identity_links', 'person:persons', 'rows:stripe_objects']);
    expect(order).toEqual(expect.arrayContaining(['rows:conversion_outbox', 'rows:conversion_attributions']));
    expect(registry.covered().get('tenant_secrets')).toMatch(/^no personal data/);
  });

  it('refuses a table registered twice', () => {
    const registry = createGdprRegistry();
    registry.none(['t'], 'x');
    expect(() => registry.none(['t'], 'y')).toThrow(DuplicateRegistrationError);
    expect(() => registry.table({ name: 't2', tables: ['t'], phase: 'rows', erase: async () => ({ removed: 0, touched: [] }) })).toThrow(DuplicateRegistrationError);
    registry.store('live', async () => ({}));
    expect(() => registry.store('live', async () => ({}))).toThrow(DuplicateRegistrationError);
  });
});
