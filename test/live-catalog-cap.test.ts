// The live layer's in-memory copy of the catalog is bounded (LIVE_CATALOG_MAX, all tenants together), against a
// real server with a cap of 5: one tenant's large catalog no longer strips another tenant's new events of their
// title, organizer, venue and capacity (the copy refused every event past the cap, whoever's), and an event that
// changes hands while this node's copy does not hold it still ends its old organizer's subscription (the check
// read the store's answer cached from before the move). The limit itself (which entry goes, the log) and the
// scope checks' cache are tested without a server below.
import pino, { type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthz } from '../server/authz/index.js';
import { createLiveCatalog, LIMIT_LOG_MS } from '../server/live/catalog.js';
import type { Queryable } from '../server/store/db.js';
import { bootServer, createTenant, postEvents, request, webEvent, type Tenant } from './helpers.js';
import { LiveClient, liveRest, mintToken } from './live-helpers.js';

type Server = Awaited<ReturnType<typeof bootServer>>;

const CAP = 5;

async function sync(s: Server, t: Tenant, kind: string, items: Record<string, unknown>[]) {
  const r = await request('PUT', `${s.url}/api/v1/catalog/${kind}`, { items }, { authorization: `Bearer ${t.secret_key}` });
  expect(r.status, r.text).toBe(200);
  expect(r.json.rejected, r.text).toEqual([]);
}

/** Tenant `t` fills the copy: 4 × CAP events of its own organizer OZ, no dates (never over), no names. */
const flood = (s: Server, t: Tenant, from: number) =>
  sync(s, t, 'events', Array.from({ length: 4 * CAP }, (_, i) => ({ id: `Zk-${from + i}`, organizer_id: 'OZ' })));

const view = (event: string, visitor: string) => webEvent({ visitor_id: visitor, session_id: `s-${visitor}`, entities: { event_entity_id: event } });

describe('the catalog copy is bounded per node, fairly between tenants', () => {
  let s: Server;
  let big: Tenant;

  beforeAll(async () => {
    s = await bootServer({ LIVE_CATALOG_MAX: String(CAP) });
    big = await createTenant(s.url, 'big-catalog');
    await flood(s, big, 0);
  }, 180_000);
  afterAll(async () => {
    await s?.close();
  });

  it('another tenant\'s new event has its title, organizer, venue and capacity while one tenant fills the copy', { timeout: 120_000 }, async () => {
    const t = await createTenant(s.url, 'other-tenant');
    await sync(s, t, 'organizers', [{ id: 'Q1', name: 'Org Q1' }]);
    await sync(s, t, 'venues', [{ id: 'QV', name: 'Hall', capacity: 300, gates: [{ id: 'QG', name: 'Main gate', capacity: 300 }] }]);
    await sync(s, t, 'events', [{ id: 'QE', organizer_id: 'Q1', venue_id: 'QV', title: 'Other tenant show' }]);
    const q1 = await mintToken(s.url, t, { role: 'organizer', org_id: 'Q1' });
    const snap = await liveRest(s.url, '/api/v1/live/events/QE', q1);
    expect(snap.status, JSON.stringify(snap.json)).toBe(200);
    expect(snap.json.data).toMatchObject({
      event_title: 'Other tenant show', organizer_id: 'Q1', organizer_name: 'Org Q1', venue_id: 'QV',
      capacity: { capacity: 300, gates: { QG: { capacity: 300, name: 'Main gate' } } },
    });

    // Its event live today keeps its name on the dashboard while the big tenant syncs more than the whole copy.
    expect((await postEvents(s.url, t, [view('QE', 'v1')])).status).toBe(200);
    await s.sink.idle();
    await flood(s, big, 1000);
    const dash = await liveRest(s.url, '/api/v1/live/dashboard/Q1', q1);
    expect(dash.json.data).toMatchObject({ organizer_name: 'Org Q1', events: [{ event_id: 'QE', event_title: 'Other tenant show' }] });

    // The big tenant's newest event is named too (the copy evicts, it no longer refuses).
    await sync(s, big, 'events', [{ id: 'Zk-new', organizer_id: 'OZ', title: 'Newest' }]);
    const oz = await mintToken(s.url, big, { role: 'organizer', org_id: 'OZ' });
    expect((await liveRest(s.url, '/api/v1/live/events/Zk-new', oz)).json.data).toMatchObject({ event_title: 'Newest', organizer_id: 'OZ' });
  });

  it('an event the catalog moves to another organizer ends its old organizer\'s subscription, and a new one is refused', { timeout: 120_000 }, async () => {
    const t = await createTenant(s.url, 'moving-tenant');
    await sync(s, t, 'organizers', [{ id: 'Q1', name: 'Org Q1' }, { id: 'Q2', name: 'Org Q2' }]);
    await sync(s, t, 'events', [{ id: 'QE', organizer_id: 'Q2', title: 'Moving show' }]);
    const q2 = await mintToken(s.url, t, { role: 'organizer', org_id: 'Q2' });
    const q1 = await mintToken(s.url, t, { role: 'organizer', org_id: 'Q1' });
    const c = await LiveClient.open(s.url, q2);
    try {
      const snap = await c.subscribe('analytics:event:QE');
      expect(snap).toMatchObject({ type: 'snapshot', data: { organizer_id: 'Q2', event_title: 'Moving show' } });
      expect((await postEvents(s.url, t, [view('QE', 'v1')])).status).toBe(200);
      await c.until('analytics:event:QE', (d) => d.funnel.views === 1);
      // The big tenant fills the copy again, then the catalog moves the event.
      await flood(s, big, 2000);
      await sync(s, t, 'events', [{ id: 'QE', organizer_id: 'Q1', title: 'Moving show' }]);
      const refused = await c.next((m) => m.type === 'error' && m.topic === 'analytics:event:QE');
      expect(refused.code).toBe('forbidden');
      // Asked again at once (within the store answer's cache time), the old organizer is refused; the new one reads it.
      expect((await c.subscribe('analytics:event:QE')).code).toBe('forbidden');
      expect((await liveRest(s.url, '/api/v1/live/events/QE', q2)).status).toBe(403);
      const now = await liveRest(s.url, '/api/v1/live/events/QE', q1);
      expect(now.status).toBe(200);
      expect(now.json.data).toMatchObject({ organizer_id: 'Q1', event_title: 'Moving show', organizer_name: 'Org Q1', funnel: { views: 1 } });
    } finally {
      c.close();
    }
  });

  it('an event over and no longer in the copy that the catalog moves ends its old organizer\'s subscription too', { timeout: 120_000 }, async () => {
    const t = await createTenant(s.url, 'past-mover');
    await sync(s, t, 'organizers', [{ id: 'Q1', name: 'Org Q1' }, { id: 'Q2', name: 'Org Q2' }]);
    const past = { id: 'PE', title: 'Last year', starts_at: '2025-01-10T18:00:00Z', ends_at: '2025-01-10T23:00:00Z' };
    await sync(s, t, 'events', [{ ...past, organizer_id: 'Q2' }]);
    const c = await LiveClient.open(s.url, await mintToken(s.url, t, { role: 'organizer', org_id: 'Q2' }));
    try {
      expect(await c.subscribe('analytics:event:PE')).toMatchObject({ type: 'snapshot', data: { organizer_id: 'Q2', event_title: 'Last year' } });
      // The tenant's own current events push its past one out of the copy (it now holds the most).
      await flood(s, t, 0);
      // Moved while this node does not hold it: the check reads the store, not its answer from the subscribe.
      await sync(s, t, 'events', [{ ...past, organizer_id: 'Q1' }]);
      expect((await c.next((m) => m.type === 'error' && m.topic === 'analytics:event:PE')).code).toBe('forbidden');
      expect((await c.subscribe('analytics:event:PE')).code).toBe('forbidden');
    } finally {
      c.close();
    }
  });
});

describe('the copy\'s limit (live layer, no server)', () => {
  const log = () => {
    const warned: unknown[] = [];
    return { warned, log: { warn: (o: unknown) => void warned.push(o), info: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger };
  };
  const row = (tenant: number, id: string, o: Record<string, unknown> = {}) => ({ tenant_id: String(tenant), id, organizer_id: 'O1', organizer_name: 'Org', title: `T ${id}`, venue_id: null, capacity: null, gates: [], starts_at: null, ends_at: null, status: null, ...o });
  /** A store that answers event_meta with `rows` (whatever was asked) and nothing else. */
  const store = (rows: Record<string, unknown>[]) => ({ query: async (sql: string) => ({ rows: sql.includes('catalog_events') ? rows : [] }) }) as unknown as Queryable;
  const DAY = '2026-06-01';

  it('evicts the least recently used entry of the tenant holding the most, never the one added, and logs the limit once per interval', async () => {
    const l = log();
    let clock = 0;
    const c = createLiveCatalog({ log: l.log, max: 4, now: () => clock });
    const many = Array.from({ length: 10 }, (_, i) => row(1, `A${i}`));
    await c.reload(store(many), { tenantId: 1, kind: 'events', ids: many.map((r) => r.id) }, { day: DAY });
    // Tenant 1 alone: its least recently used went (A0 to A5), the newest are held.
    expect([c.get(1, 'A5'), c.get(1, 'A9')?.title]).toEqual([undefined, 'T A9']);
    expect(c.lacks(1)).toBe(true);
    await c.reload(store([row(2, 'B1')]), { tenantId: 2, kind: 'events', ids: ['B1'] }, { day: DAY });
    await c.reload(store([row(2, 'B2')]), { tenantId: 2, kind: 'events', ids: ['B2'] }, { day: DAY });
    // Tenant 1, holding the most, lost its least recently used (A6, A7); tenant 2 lost nothing.
    expect([c.get(1, 'A6'), c.get(1, 'A7'), c.get(2, 'B2')?.id, c.get(2, 'B1')?.id]).toEqual([undefined, undefined, 'B2', 'B1']);
    expect(c.lacks(2)).toBe(false);
    // Tied at 2 and 2: tenant 2, adding, loses its own least recently used (B2, read before B1), not tenant 1's.
    await c.reload(store([row(2, 'B3')]), { tenantId: 2, kind: 'events', ids: ['B3'] }, { day: DAY });
    expect([c.get(2, 'B2'), c.get(2, 'B1')?.id, c.get(2, 'B3')?.id, c.get(1, 'A8')?.id, c.get(1, 'A9')?.id]).toEqual([undefined, 'B1', 'B3', 'A8', 'A9']);
    expect(c.lacks(2)).toBe(true);
    // 9 evictions, one line; the next after the interval says how many went meanwhile.
    expect(l.warned).toHaveLength(1);
    clock += LIMIT_LOG_MS;
    await c.reload(store([row(3, 'C1')]), { tenantId: 3, kind: 'events', ids: ['C1'] }, { day: DAY });
    expect(l.warned).toHaveLength(2);
    expect(l.warned[1]).toMatchObject({ max: 4, evicted: 9, what: 'events' });
    expect(c.get(3, 'C1')?.id).toBe('C1');
  });

  it('a sync of events long over does not take the place of current ones; an event a topic reads, or one live today, is kept', async () => {
    const c = createLiveCatalog({ log: log().log, max: 10 });
    const over = { starts_at: '2025-01-10T18:00:00Z', ends_at: '2025-01-10T23:00:00Z' };
    const endedToday = { starts_at: '2026-05-31T20:00:00Z', ends_at: '2026-06-01T02:00:00Z' };
    const rows = [row(1, 'OLD', over), row(1, 'TODAY', endedToday), row(1, 'NEXT', { starts_at: '2026-07-01T18:00:00Z' }), row(1, 'LIVE', over)];
    await c.reload(store(rows), { tenantId: 1, kind: 'events', ids: rows.map((r) => r.id) }, { day: DAY, keep: (id) => id === 'LIVE' });
    expect(['OLD', 'TODAY', 'NEXT', 'LIVE'].map((id) => c.get(1, id)?.id ?? null)).toEqual([null, 'TODAY', 'NEXT', 'LIVE']);
    // A held event over is updated in place by an organizer's change; one not held is not added by it.
    await c.reload(store([row(1, 'LIVE', { ...over, organizer_name: 'Renamed' }), row(1, 'OLD', { ...over, organizer_name: 'Renamed' })]), { tenantId: 1, kind: 'organizers', ids: ['O1'] }, { day: DAY });
    expect([c.get(1, 'LIVE')?.organizer_name, c.get(1, 'OLD')]).toEqual(['Renamed', undefined]);
  });
});

describe('the scope checks\' cached event resources', () => {
  const authzWith = () => {
    let organizer = 'Q2';
    let release: (() => void) | null = null;
    let queries = 0;
    const q = {
      query: async () => {
        queries++;
        const answer = { rows: [{ in_catalog: true, catalog_organizer: organizer, live_organizer: null, venue_id: null, artist_ids: [] }] };
        if (release === null) return answer;
        await new Promise<void>((r) => (release = r));
        return answer;
      },
    } as unknown as Queryable;
    const authz = createAuthz({ db: {} as never, log: pino({ level: 'silent' }) });
    return {
      authz, q, queries: () => queries,
      move: (to: string) => void (organizer = to),
      /** The next query waits until released. */
      hold: () => (release = () => undefined),
      release: () => {
        const r = release;
        release = null;
        r?.();
      },
    };
  };

  it('a change of the event\'s owner forgets its cached resource: the next check reads the store', async () => {
    const a = authzWith();
    expect((await a.authz.resolveEventResource(a.q, 7, 'QE')).organizer_id).toBe('Q2');
    expect((await a.authz.resolveEventResource(a.q, 7, 'QE')).organizer_id).toBe('Q2');
    expect(a.queries()).toBe(1);
    a.move('Q1');
    a.authz.forgetEvents([{ tenant: 7, event: 'QE' }]);
    expect((await a.authz.resolveEventResource(a.q, 7, 'QE')).organizer_id).toBe('Q1');
    expect(a.queries()).toBe(2);
  });

  it('an answer read while the owner changed is not cached', async () => {
    const a = authzWith();
    a.hold();
    const reading = a.authz.resolveEventResource(a.q, 7, 'QE');
    await Promise.resolve();
    a.authz.forgetEvents([{ tenant: 7, event: 'QE' }]);
    a.move('Q1');
    a.release();
    expect((await reading).organizer_id).toBe('Q2');
    expect((await a.authz.resolveEventResource(a.q, 7, 'QE')).organizer_id).toBe('Q1');
  });
});
