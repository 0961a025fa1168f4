// The catalog's pure parts and its route handlers with a fake store: item normalisation and refusals, the
// per-item answer's counts, and onChange called with exactly what the store changed (the live layer's hook).
import { describe, expect, it } from 'vitest';
import type { Router } from '../http/router.js';
import { registerCatalogRoutes, type CatalogChange } from './routes.js';
import { checkItem, checkItems } from './schemas.js';
import { catalogTx, GENRE_REFS_PER_TX, genreBatches, jsonBatches, type CatalogStore, type UpsertResult } from './store.js';

describe('catalog item checks', () => {
  it('normalises an item: integer ids as text, dates as UTC ISO, unknown fields dropped, the input untouched', () => {
    const raw = { id: 42, organizer_id: 7, artist_ids: [1, 'A2'], starts_at: '2026-07-01T20:00:00+02:00', title: 'T', nonsense: { deep: 1 } };
    const c = checkItem('events', raw);
    expect(c).toEqual({ ok: true, item: { id: '42', organizer_id: '7', artist_ids: ['1', 'A2'], starts_at: '2026-07-01T18:00:00.000Z', title: 'T' } });
    expect(raw.id).toBe(42);
  });

  it('refuses absurd values field by field, one error per field', () => {
    const c = checkItem('venues', { id: -1, lat: Number.NaN, lon: 1e308, capacity: 1.5, gates: new Array(501).fill({ id: 'g' }) });
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.errors.map((e) => e.field).sort()).toEqual(['capacity', 'gates', 'id', 'lat', 'lon']);
    const p = checkItem('persons', { id: 'C1', marketing_consent: 'yes', last_purchase_at: '1969-12-31T23:59:59Z', avg_order_value: 1e11 });
    if (!p.ok) expect(p.errors.map((e) => e.field).sort()).toEqual(['avg_order_value', 'last_purchase_at', 'marketing_consent']);
    expect(p.ok).toBe(false);
  });

  it('keeps each artist of an event once (1 and "1" are one id) and refuses a venue listing a gate twice', () => {
    const e = checkItem('events', { id: 'E1', artist_ids: [1, 2, '1', 'A', 'A'] });
    expect(e.ok && e.item.artist_ids).toEqual(['1', '2', 'A']);
    const v = checkItem('venues', { id: 'V1', gates: [{ id: 'G1' }, { id: 'G2' }, { id: 'G1' }] });
    expect(v).toMatchObject({ ok: false, errors: [{ field: 'gates[2].id', message: expect.stringMatching(/G1 is listed twice/) }] });
  });

  it('lists every refused field at once: ends_at before starts_at and a gate listed twice beside other refusals', () => {
    const e = checkItem('events', { id: 'E5', starts_at: '2026-07-01T18:00:00Z', ends_at: '2026-07-01T17:00:00Z', url: 'ftp://x', capacity: 10_000_001 });
    expect(e.ok).toBe(false);
    if (!e.ok) expect(e.errors.map((x) => x.field).sort()).toEqual(['capacity', 'ends_at', 'url']);
    const v = checkItem('venues', { id: 'V1', lat: 91, gates: [{ id: 'G1' }, { id: 1 }, { id: '1' }, { id: 'G1' }] });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.errors.map((x) => [x.field, x.message])).toEqual([['lat', expect.any(String)], ['gates[2].id', expect.stringMatching(/Gate 1 is listed twice/)]]);
    // Only inputs valid on their own are compared: a refused starts_at or gate id is reported once, as itself.
    const bad = checkItem('events', { id: 'E6', starts_at: 'soon', ends_at: '2026-07-01T17:00:00Z' });
    if (!bad.ok) expect(bad.errors.map((x) => x.field)).toEqual(['starts_at']);
    const badGate = checkItem('venues', { id: 'V2', gates: [{ id: 'G1' }, { id: '' }, { id: '' }, 'G1'] });
    if (!badGate.ok) expect(badGate.errors.every((x) => x.message.includes('listed twice') === false)).toBe(true);
    expect(badGate.ok).toBe(false);
  });

  it('says what an id is, with the value sent, when it is neither text nor an integer from 0 up', () => {
    const msg = (kind: 'organizers' | 'events' | 'venues', item: Record<string, unknown>) => {
      const c = checkItem(kind, item);
      return c.ok ? [] : c.errors.map((e) => [e.field, e.message]);
    };
    const what = 'must be an id: text of 1 to 128 characters without control characters, or an integer from 0 to 9007199254740991';
    expect(msg('organizers', { id: -1 })).toEqual([['id', `The 'id' field ${what}; got a number (-1).`]]);
    expect(msg('organizers', { id: 1.5 })).toEqual([['id', `The 'id' field ${what}; got a number (1.5).`]]);
    expect(msg('organizers', { id: true })).toEqual([['id', `The 'id' field ${what}; got true.`]]);
    expect(msg('events', { id: 'E', organizer_id: { x: 1 }, artist_ids: ['A', 2 ** 60] })).toEqual([
      ['organizer_id', `The 'organizer_id' field ${what}; got an object.`],
      ['artist_ids[1]', `The 'artist_ids[1]' field ${what}; got a number (${2 ** 60}).`],
    ]);
    expect(msg('venues', { id: 'V', gates: [{ id: -3 }] })).toEqual([['gates[0].id', `The 'gates[0].id' field ${what}; got a number (-3).`]]);
    // Text ids keep their own reasons.
    expect(msg('organizers', { id: 'a\u0001b' })).toEqual([['id', "The 'id' field must be text without control characters."]]);
    expect(msg('organizers', { id: 'x'.repeat(129) })[0][1]).toMatch(/less than or equal to 128 characters/);
  });

  it('reports a null entry of a list at its index, and still finds a gate listed twice beside it', () => {
    const v = checkItem('venues', { id: 'VP', gates: [null] });
    expect(v).toEqual({ ok: false, errors: [{ code: 'invalid_field', field: 'gates[0]', message: 'The \'gates[0]\' entry must be a gate: an object with an "id"; got null.' }] });
    const w = checkItem('venues', { id: 'VP', gates: [{ id: 'G1' }, null, { id: 'G1' }, null] });
    expect(w.ok ? [] : w.errors.map((e) => e.field)).toEqual(['gates[1]', 'gates[3]', 'gates[2].id']);
    const e = checkItem('events', { id: 'E', artist_ids: ['A', null], genres: [null, 'jazz'] });
    expect(e.ok ? [] : e.errors.map((x) => [x.field, x.message])).toEqual([
      ['artist_ids[1]', expect.stringMatching(/^The 'artist_ids\[1\]' entry must be an id: .*; got null\.$/)],
      ['genres[0]', "The 'genres[0]' entry must be a genre: text of 1 to 64 characters; got null."],
    ]);
  });

  it('keeps the first of two items with one id and refuses the later one', () => {
    const r = checkItems('organizers', [{ id: 'O1', name: 'a' }, { id: 'O1', name: 'b' }, { id: 1 }, { id: '1' }]);
    expect(r.valid.map((v) => v.name ?? v.id)).toEqual(['a', '1']);
    expect(r.rejected.map((x) => [x.index, x.errors[0].code])).toEqual([[1, 'duplicate_id'], [3, 'duplicate_id']]);
  });

  it('refuses an updated_at more than an hour after the server clock (it would freeze the item until then) and keeps one within it', () => {
    const now = Date.parse('2026-11-29T12:00:00Z');
    const r = checkItems('artists', [
      { id: 'A1', updated_at: '2199-12-31T00:00:00Z' },
      { id: 'A2', updated_at: '2026-11-29T12:59:00Z' },
      { id: 'A3', updated_at: '2026-11-29T13:00:01Z' },
      { id: 'A4' },
    ], now);
    expect(r.valid.map((v) => v.id)).toEqual(['A2', 'A4']);
    expect(r.rejected.map((x) => [x.index, x.errors[0].field])).toEqual([[0, 'updated_at'], [2, 'updated_at']]);
    expect(r.rejected[0].errors[0].message).toMatch(/more than 1 h after the server's clock.*leave updated_at out/);
  });

  it('refuses a person\'s marketing_consent_at more than an hour ahead (the newest consent wins: it would outrank every checkout opt-out until then)', () => {
    const now = Date.parse('2026-11-29T12:00:00Z');
    const r = checkItems('persons', [
      { id: 'cy4', marketing_consent: true, marketing_consent_at: '2199-01-01T00:00:00Z' },
      { id: 'cy5', marketing_consent: false, marketing_consent_at: '2026-11-29T12:59:00Z' },
      { id: 'cy6', marketing_consent_at: '2026-11-29T13:00:01Z', updated_at: '2026-11-29T12:30:00Z' },
      { id: 'cy7', marketing_consent: true, marketing_consent_at: '2300-01-01T00:00:00Z' },
    ], now);
    expect(r.valid.map((v) => v.id)).toEqual(['cy5']);
    expect(r.rejected.map((x) => [x.index, x.errors.map((e) => e.field)])).toEqual([[0, ['marketing_consent_at']], [2, ['marketing_consent_at']], [3, ['marketing_consent_at']]]);
    expect(r.rejected[0].errors[0]).toMatchObject({ code: 'invalid_field', message: expect.stringMatching(/^marketing_consent_at 2199-01-01T00:00:00.000Z is more than 1 h after the server's clock \(2026-11-29T12:00:00.000Z\); .*leave marketing_consent_at out/) });
    // Out of the API's date range, one error for the field, not two.
    expect(r.rejected[2].errors[0].message).toMatch(/between 1970-01-01 and 2199-12-31/);
  });
});

type Handler = (req: unknown) => Promise<{ status: number; body: any }>;

function routesWith(result: UpsertResult | Error, removed: string[] = []) {
  const handlers = new Map<string, Handler>();
  const router = { add: (spec: { method: string; path: string; handler: Handler }) => handlers.set(`${spec.method} ${spec.path}`, spec.handler) } as unknown as Router;
  const changes: CatalogChange[] = [];
  const store: CatalogStore = {
    upsert: async () => {
      if (result instanceof Error) throw result;
      return result;
    },
    list: async () => ({ rows: [], last: null }),
    get: async () => null,
    remove: async () => removed,
  };
  registerCatalogRoutes(router, { store, onChange: (c) => changes.push(c), now: () => new Date('2026-11-29T00:00:00Z') });
  const principal = { kind: 'secret', tenant: { tenant_id: 3 } };
  return { handlers, changes, principal };
}

describe('catalog routes', () => {
  it('answers upserted / unchanged / rejected and tells onChange what changed, artists and the events re-derived', async () => {
    const { handlers, changes, principal } = routesWith({ changed: { artists: ['A1'], events: ['E1', 'E2'] }, rejected: [] });
    const r = await handlers.get('put /api/v1/catalog/:kind')!({ params: { kind: 'artists' }, body: { items: [{ id: 'A1' }, { id: 'A2' }, { id: '' }] }, principal });
    expect(r).toEqual({ status: 200, body: { upserted: 1, unchanged: 1, rejected: [expect.objectContaining({ index: 2, id: '' })] } });
    expect(changes).toEqual([{ tenantId: 3, kind: 'artists', ids: ['A1'] }, { tenantId: 3, kind: 'events', ids: ['E1', 'E2'] }]);
  });

  it('does not call onChange when nothing changed, and does after a delete that removed the item', async () => {
    const none = routesWith({ changed: { venues: [] }, rejected: [] });
    await none.handlers.get('put /api/v1/catalog/:kind')!({ params: { kind: 'venues' }, body: { items: [{ id: 'V1' }] }, principal: none.principal });
    await none.handlers.get('del /api/v1/catalog/:kind/:id')!({ params: { kind: 'venues', id: 'V1' }, principal: none.principal });
    expect(none.changes).toEqual([]);
    const del = routesWith({ changed: {}, rejected: [] }, ['V1']);
    const r = await del.handlers.get('del /api/v1/catalog/:kind/:id')!({ params: { kind: 'venues', id: 'V1' }, principal: del.principal });
    expect(r.body).toEqual({ deleted: 1 });
    expect(del.changes).toEqual([{ tenantId: 3, kind: 'venues', ids: ['V1'] }]);
  });

  it('announces every event sent when a sync stored in several transactions fails part-way (its first ones are committed)', async () => {
    const { handlers, changes, principal } = routesWith(new Error('connection lost in the third transaction'));
    const put = handlers.get('put /api/v1/catalog/:kind')!({ params: { kind: 'events' }, body: { items: [{ id: 'E1' }, { id: 'E2' }] }, principal });
    await expect(put).rejects.toThrow('third transaction');
    expect(changes).toEqual([{ tenantId: 3, kind: 'events', ids: ['E1', 'E2'] }]);
  });

  it('announces every venue sent when a venues sync (several transactions when large) fails part-way; persons (one) none', async () => {
    const { handlers, changes, principal } = routesWith(new Error('connection lost in the second transaction'));
    const put = (kind: string) => handlers.get('put /api/v1/catalog/:kind')!({ params: { kind }, body: { items: [{ id: 'X1' }, { id: 'X2' }] }, principal });
    await expect(put('venues')).rejects.toThrow('second transaction');
    await expect(put('persons')).rejects.toThrow('second transaction');
    expect(changes).toEqual([{ tenantId: 3, kind: 'venues', ids: ['X1', 'X2'] }]);
  });

  it('refuses, by the server clock the routes are given, an item stamped more than an hour ahead', async () => {
    const { handlers, principal } = routesWith({ changed: { venues: ['V2'] }, rejected: [] });
    const r = await handlers.get('put /api/v1/catalog/:kind')!({ params: { kind: 'venues' }, body: { items: [{ id: 'V1', updated_at: '2026-11-29T02:00:00Z' }, { id: 'V2', updated_at: '2026-11-29T00:30:00Z' }] }, principal });
    expect(r.body).toMatchObject({ upserted: 1, unchanged: 0, rejected: [{ index: 0, id: 'V1', errors: [{ code: 'invalid_field', field: 'updated_at' }] }] });
  });

  it('merges the store\'s refusals (erased persons) into the answer in item order', async () => {
    const erased = { index: 0, id: 'C0', errors: [{ code: 'person_erased' as const, field: 'id', message: 'erased' }] };
    const { handlers, principal } = routesWith({ changed: { persons: ['C2'] }, rejected: [erased] });
    const r = await handlers.get('put /api/v1/catalog/:kind')!({ params: { kind: 'persons' }, body: { items: [{ id: 'C0' }, { id: 'C1', total_orders: -1 }, { id: 'C2' }] }, principal });
    expect(r.body).toMatchObject({ upserted: 1, unchanged: 0, rejected: [{ index: 0, id: 'C0' }, { index: 1, id: 'C1' }] });
  });
});

describe('batches of derived-genre work', () => {
  const derives = (e: { id: string; artists?: string[] }) => (e.artists ? { key: e.artists.join(','), refs: e.artists.length } : null);
  const ids = (batches: { id: string }[][]) => batches.map((b) => b.map((e) => e.id));

  it('cuts in order at the budget: each item 1, an artist list its artists once per batch (a tour\'s events share one)', () => {
    const big = Array.from({ length: 5 }, (_, i) => `A${i}`);
    const items = [{ id: 'E1', artists: big }, { id: 'E2', artists: big }, { id: 'E3', artists: ['B'] }, { id: 'E4' }, { id: 'E5', artists: big.slice(1) }];
    // E1 6, E2 1 (E1's list), E3 2, E4 1 = 10; E5 needs 5 more: a new batch.
    expect(ids(genreBatches(items, derives, 10))).toEqual([['E1', 'E2', 'E3', 'E4'], ['E5']]);
    // In a new batch a list counts again; an item over the budget alone still gets a batch of its own.
    expect(ids(genreBatches(items, derives, 6))).toEqual([['E1'], ['E2'], ['E3', 'E4'], ['E5']]);
    expect(ids(genreBatches(items, derives, 1))).toEqual([['E1'], ['E2'], ['E3'], ['E4'], ['E5']]);
    expect(genreBatches([], derives)).toEqual([]);
    // Events with their own genres cost 1 each: a sync of 1000 (the most a request holds) is one batch.
    expect(genreBatches(Array.from({ length: 1000 }, (_, i) => ({ id: `P${i}` })), derives).map((b) => b.length)).toEqual([1000]);
    expect(genreBatches(Array.from({ length: GENRE_REFS_PER_TX + 1 }, (_, i) => ({ id: `P${i}` })), derives).map((b) => b.length)).toEqual([GENRE_REFS_PER_TX, 1]);
  });
});

describe('batches of plain items by size', () => {
  it('cuts the items in order into JSON arrays within the budget; an item over it goes alone', () => {
    const items = [{ id: 'a' }, { id: 'b' }, { id: 'c', name: 'x'.repeat(40) }, { id: 'd' }];
    // {"id":"a"} is 10 characters, 11 with its comma.
    expect(jsonBatches(items, 22)).toEqual(['[{"id":"a"},{"id":"b"}]', `[${JSON.stringify(items[2])}]`, '[{"id":"d"}]']);
    expect(jsonBatches(items, 1e6).map((b) => JSON.parse(b))).toEqual([items]);
    expect(jsonBatches([], 10)).toEqual([]);
  });
});

describe('catalog transactions that lose a lock-order race', () => {
  const failing = (codes: (string | undefined)[]) => {
    let calls = 0;
    return {
      get calls() { return calls; },
      tx: async <T>(fn: (q: never) => Promise<T>): Promise<T> => {
        const code = codes[calls++];
        if (code !== undefined) throw Object.assign(new Error(`sqlstate ${code}`), { code });
        return fn(undefined as never);
      },
    };
  };

  it('runs the transaction once more after a deadlock or a serialization failure, not after other errors, and not twice', async () => {
    for (const code of ['40P01', '40001']) {
      const db = failing([code]);
      await expect(catalogTx(db, async () => 'ok')).resolves.toBe('ok');
      expect(db.calls).toBe(2);
    }
    const other = failing(['23505']);
    await expect(catalogTx(other, async () => 'ok')).rejects.toThrow('sqlstate 23505');
    expect(other.calls).toBe(1);
    const twice = failing(['40P01', '40P01']);
    await expect(catalogTx(twice, async () => 'ok')).rejects.toThrow('sqlstate 40P01');
    expect(twice.calls).toBe(2);
  });
});
