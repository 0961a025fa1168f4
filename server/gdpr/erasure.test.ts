// The erasure walks the registry: links first, then the person's ids are read again, the row tables in
// registration order, the person row last; feature tables are reported under `features`; external stores run
// after the commit and a failing one is reported, not thrown. A fake Db answers the gather queries.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Db, Queryable } from '../store/db.js';
import type { Spool } from '../store/spool.js';
import { queries } from '../store/queries.js';
import { createGdpr } from './erasure.js';
import { createGdprRegistry, type PersonTable } from './registry.js';

const P = queries('persons.sql', ['get_person', 'links_of_person']);
const Q = queries('gdpr.sql', ['person_events']);

function fakeDb(calls: string[]): Db {
  const q: Queryable = {
    async query(sql: string) {
      if (sql === P.get_person) return { rows: [{ person_id: '7', tenant_id: '1', external_id: 'C-7', email_sha256: null, phone_sha256: null }] } as never;
      if (sql === P.links_of_person) return { rows: [{ visitor_id: 'v1', person_id: '7' }] } as never;
      if (sql === Q.person_events) return { rows: [{ event_id: 'e1', session_id: 's1', entities: { order_id: 'O1' } }] } as never;
      calls.push('sql');
      return { rows: [] } as never;
    },
  } as unknown as Queryable;
  return { ...q, kind: 'postgres', tx: async (fn: (q: Queryable) => Promise<unknown>) => fn(q) } as unknown as Db;
}

const table = (name: string, phase: PersonTable['phase'], calls: string[], feature = false): PersonTable => ({
  name, phase, feature, tables: [`t_${name}`],
  async erase(_q, ids) {
    calls.push(`${name}:${ids.visitorIds.join(',')}`);
    return { removed: name.length, touched: [`t_${name}`] };
  },
});

describe('GDPR erasure over the registry', () => {
  it('erases in phases, reports every registered table and store', async () => {
    const calls: string[] = [];
    const registry = createGdprRegistry();
    registry.table(table('events', 'rows', calls));
    registry.table(table('persons', 'person', calls));
    registry.table(table('identity_links', 'links', calls));
    registry.table(table('fs_scores', 'rows', calls, true));
    registry.store('live', async (ids) => ({ keys: ids.eventIds.length }));
    registry.store('broken', async () => Promise.reject(new Error('redis away')));
    const spool = { pendingBytes: () => 0 } as unknown as Spool;
    const gdpr = createGdpr({ db: fakeDb(calls), spool, log: pino({ level: 'silent' }), registry });
    const out = await gdpr.erasePerson(1, 7);
    expect(calls.filter((c) => c !== 'sql')).toEqual(['identity_links:v1', 'events:v1', 'fs_scores:v1', 'persons:v1']);
    expect(out!.removed).toMatchObject({
      events: 6, persons: 7, identity_links: 14, features: { fs_scores: 9 }, visitors: 1, spooled_records: 0,
      external: { live: { keys: 1 }, broken: { error: 'redis away' } },
    });
  });
});

describe('GDPR erasure: freeing unfinished steps', () => {
  it('logs at warn, not silently, when releasing the lease of unfinished steps fails', async () => {
    const calls: string[] = [];
    const R = queries('gdpr.sql', ['release_erasure_steps']);
    const base = fakeDb(calls);
    const q = base.query.bind(base);
    const db = {
      ...base,
      async query(sql: string, params?: unknown[]) {
        if (sql === R.release_erasure_steps) throw new Error('connection reset');
        return q(sql, params as never);
      },
    } as unknown as Db;
    const registry = createGdprRegistry();
    registry.table(table('persons', 'person', calls));
    registry.store('broken', async () => Promise.reject(new Error('redis away')));
    const lines: Array<{ level: number; msg: string; err?: string }> = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    const out = await createGdpr({ db, spool: { pendingBytes: () => 0 } as unknown as Spool, log, registry }).erasePerson(1, 7);
    expect(out!.removed).toMatchObject({ external: { broken: { error: 'redis away' } } });
    const warn = lines.find((l) => l.level === 40 && /releasing the unfinished steps/.test(l.msg));
    expect(warn).toMatchObject({ err: 'connection reset', tenant_id: 1 });
  });
});
