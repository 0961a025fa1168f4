// Key revocation status per node: an id is read once per TTL in one query with every id that needs it; a
// revocation is final (never read again); another tenant's or a missing key counts as revoked; a failed read
// keeps what was known.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createKeyStatus } from './key-status.js';

function fakeDb(rows: Map<number, { tenant: number; revoked: boolean; role?: string; scope?: unknown }>) {
  const calls: number[][] = [];
  let down = false;
  return {
    calls,
    setDown: (d: boolean) => (down = d),
    db: {
      async query<T>(_sql: string, params?: unknown[]) {
        if (down) throw new Error('store down');
        const ids = (params![0] as number[]).slice();
        calls.push(ids);
        return { rows: ids.filter((id) => rows.has(id)).map((id) => ({ id: String(id), tenant_id: String(rows.get(id)!.tenant), revoked: rows.get(id)!.revoked, role: rows.get(id)!.role, scope: rows.get(id)!.scope })) as T[] };
      },
      async exec() {},
    },
  };
}

describe('key status', () => {
  const log = pino({ level: 'silent' });

  it('learns a revocation made on another node within one TTL, with one set-based read per TTL', async () => {
    const rows = new Map([[1, { tenant: 7, revoked: false }], [2, { tenant: 7, revoked: false }]]);
    const f = fakeDb(rows);
    let now = 0;
    const s = createKeyStatus({ db: f.db, log, now: () => now, ttlMs: 5000 });
    expect(await s.revoked(7, 1)).toBe(false);
    expect(await s.revoked(7, 2)).toBe(false);
    expect(f.calls).toEqual([[1], [2]]);
    rows.set(1, { tenant: 7, revoked: true });
    now = 4999;
    expect(s.revokedNow(7, 1)).toBe(false); // still fresh: no read
    expect(f.calls.length).toBe(2);
    now = 5001;
    expect(await s.revoked(7, 1)).toBe(true);
    // Both stale ids went in the same read.
    expect(f.calls[2].sort()).toEqual([1, 2]);
    // Final: never read again.
    now = 60_000;
    expect(s.revokedNow(7, 1)).toBe(true);
    await s.revoked(7, 2);
    expect(f.calls.slice(3).every((ids) => !ids.includes(1))).toBe(true);
  });

  it('counts another tenant\'s key and a missing key as revoked; markRevoked is immediate', async () => {
    const f = fakeDb(new Map([[3, { tenant: 8, revoked: false }]]));
    const s = createKeyStatus({ db: f.db, log, now: () => 0 });
    expect(await s.revoked(7, 3)).toBe(true);
    expect(await s.revoked(8, 3)).toBe(false);
    expect(await s.revoked(8, 404)).toBe(true);
    s.markRevoked(3);
    expect(s.revokedNow(8, 3)).toBe(true);
  });

  it('keeps what it knew while the store is down, and reads an unknown id once it is back', async () => {
    const f = fakeDb(new Map([[1, { tenant: 7, revoked: false }], [5, { tenant: 7, revoked: true }]]));
    let now = 0;
    const s = createKeyStatus({ db: f.db, log, now: () => now, ttlMs: 5000 });
    expect(await s.revoked(7, 1)).toBe(false);
    f.setDown(true);
    now = 10_000;
    expect(await s.revoked(7, 1)).toBe(false);
    expect(await s.revoked(7, 5)).toBe(false); // unknown and unreadable: not refused
    f.setDown(false);
    expect(await s.revoked(7, 5)).toBe(true);
  });

  it('gives a valid key\'s role and scope from the same read; none for a revoked, foreign or unread key', async () => {
    const rows = new Map([[1, { tenant: 7, revoked: false, role: 'organizer', scope: { organizers: ['O1'] } }], [2, { tenant: 7, revoked: true }]]);
    const f = fakeDb(rows);
    const s = createKeyStatus({ db: f.db, log, now: () => 0 });
    expect(await s.grant(7, 1)).toEqual({ role: 'organizer', scope: { organizers: ['O1'] } });
    expect(await s.revoked(7, 1)).toBe(false);
    expect(f.calls).toEqual([[1]]);
    expect(await s.grant(8, 1)).toBeNull();
    expect(await s.grant(7, 2)).toBeNull();
    f.setDown(true);
    expect(await s.grant(7, 3)).toBeNull();
  });
});
