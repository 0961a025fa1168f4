// tx_sessions stays exact when a session's events arrive shuffled, duplicated, split over batches and
// concurrent requests: counts, sequence gaps, first touch, consent at start/latest, engagement, pages.
import crypto from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldSessions, sequenceSummary } from '../server/identity/sessions.js';
import type { EventRow } from '../server/store/events.js';
import { bootServer, createTenant, orderEvent, until, webEvent, type Tenant } from './helpers.js';
import { api, batch, serverEvents } from './identity-helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const CONSENT_START = { analytics: true, marketing: false, data_processing: true };
const CONSENT_LATER = { analytics: true, marketing: true, data_processing: true };
const UTM = { source: 'google', medium: 'cpc', campaign: 'spring' };
const DEVICE = { device_type: 'mobile', os: 'iOS', browser: 'Safari' };

/** One session: 9 web events with sequence numbers 0..10 minus 5, 8, 9 (lost client side) and a backend order. */
function sessionEvents(sessionId: string, visitorId: string, t0: number) {
  const at = (s: number) => new Date(t0 + s * 1000).toISOString();
  const ctx = (path: string, extra: Record<string, unknown> = {}) => ({ page: { path, url: `https://shop.example.com${path}` }, utm: UTM, device: DEVICE, ...extra });
  const w = (seq: number, s: number, o: Record<string, unknown>) => webEvent({ session_id: sessionId, visitor_id: visitorId, sequence_no: seq, occurred_at: at(s), consent_snapshot: CONSENT_START, ...o });
  const web = [
    w(0, 0, { event_name: 'page_view', entities: {}, payload: { page_type: 'home' }, context: ctx('/', { referrer: 'https://www.google.com/', click_ids: { gclid: 'G-1' } }) }),
    w(1, 30, { event_name: 'page_engagement', entities: {}, payload: { active_ms: 12_000, total_ms: 30_000 }, context: ctx('/') }),
    w(2, 31, { event_name: 'page_view', entities: {}, payload: {}, context: ctx('/events/e1') }),
    w(3, 40, { event_name: 'event_view', context: ctx('/events/e1') }),
    w(4, 60, { event_name: 'page_engagement', entities: {}, payload: { active_ms: 20_000, total_ms: 29_000 }, context: ctx('/events/e1') }),
    w(6, 90, { event_name: 'page_view', entities: {}, payload: {}, consent_snapshot: CONSENT_LATER, context: ctx('/cart') }),
    w(7, 95, { event_name: 'add_to_cart', entities: { cart_id: 'c', event_entity_id: 'E1' }, payload: { items: [{ ticket_type_id: 'GA', qty: 1 }], cart_value: 50, currency: 'EUR' }, consent_snapshot: CONSENT_LATER, context: ctx('/cart') }),
    w(10, 120, { event_name: 'page_engagement', entities: {}, payload: { active_ms: 5_000, total_ms: 25_000 }, consent_snapshot: CONSENT_LATER, context: ctx('/cart') }),
    // Same instant as the engagement above: ordered by sequence number.
    w(11, 120, { event_name: 'page_view', entities: {}, payload: {}, consent_snapshot: CONSENT_LATER, context: ctx('/checkout') }),
  ];
  // The backend's order belongs to the session but is not client data: no consent/page/first-touch effect.
  const order = orderEvent({ session_id: sessionId, visitor_id: visitorId, occurred_at: at(130) });
  return { web, order, expected: expectedFor(sessionId, visitorId, t0) };
}

function expectedFor(sessionId: string, visitorId: string, t0: number) {
  return {
    session_id: sessionId,
    visitor_id: visitorId,
    first_seen_at: new Date(t0).toISOString(),
    last_seen_at: new Date(t0 + 130_000).toISOString(),
    duration_ms: 130_000,
    events_count: 10,
    page_views: 4,
    orders_count: 1,
    sequence: { min: 0, max: 11, seen: 9, gaps: 3 },
    first_touch: { utm: UTM, click_ids: { gclid: 'G-1' }, referrer: 'https://www.google.com/', landing_page: '/' },
    landing_page: '/',
    entry_page: '/',
    exit_page: '/checkout',
    consent_initial: CONSENT_START,
    consent_latest: CONSENT_LATER,
    device: DEVICE,
    engagement_active_ms: 37_000,
    engagement_total_ms: 84_000,
    is_bot: false,
  };
}

/** Small seeded PRNG so a failing arrival order can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(xs: T[], r: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// The embedded store folds sessions inside the commit from the rows as sent; PostgreSQL folds them out of the
// commit from rows read back (the deferred projector's narrowed rows, events.sql projector_rows): both exact.
describe.each(['embedded', 'postgres'] as const)('sessions (%s store)', (store) => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let scratch: ScratchDatabase | null = null;
  let base: string;
  let t: Tenant;

  beforeAll(async () => {
    scratch = store === 'postgres' ? await scratchDatabase('sessions') : null;
    server = await bootServer(scratch ? { DATABASE_URL: scratch.url } : {});
    base = server.url;
    t = await createTenant(base, 'sessions');
  });
  afterAll(async () => {
    await server?.close();
    await scratch?.drop();
  });

  const session = async (id: string) => {
    const r = await api(base, t, 'GET', `/api/v1/sessions/${encodeURIComponent(id)}`);
    expect(r.status).toBe(200);
    return r.json;
  };
  /**
   * Runs `check` (its assertions) once on the embedded store, which folds sessions inside the commit. PostgreSQL
   * folds them after it, and a read waits at most 5 s for that, then answers as it is: a loaded machine may take
   * longer, so there `check` is retried until it passes (30 s), then run once more to report what is wrong.
   */
  const eventually = async (check: () => Promise<void>) => {
    if (store === 'postgres') await until(() => check().then(() => true, () => false), 30_000, 250).catch(() => undefined);
    await check();
  };

  it('is exact when events arrive in order', async () => {
    const t0 = Date.now() - 3_600_000;
    const { web, order, expected } = sessionEvents('s-inorder', 'v-inorder', t0);
    expect((await batch(base, t, web)).json.accepted).toBe(9);
    expect((await serverEvents(base, t, order)).json.accepted).toBe(1);
    await eventually(async () => expect(await session('s-inorder')).toMatchObject(expected));
  }, 120_000);

  it('is exact when the earliest event arrives last (first touch and consent at start come from it)', async () => {
    const t0 = Date.now() - 3_500_000;
    const { web, order, expected } = sessionEvents('s-late-first', 'v-late-first', t0);
    for (const e of [...web].reverse()) await batch(base, t, [e]);
    await serverEvents(base, t, order);
    await eventually(async () => expect(await session('s-late-first')).toMatchObject(expected));
  }, 120_000);

  it('is exact for shuffled, duplicated, batched and concurrent arrival (8 seeded orders)', async () => {
    for (let seed = 1; seed <= 8; seed++) {
      const r = rng(seed);
      const id = `s-shuffle-${seed}`;
      const t0 = Date.now() - 3_000_000 - seed * 200_000;
      const { web, order, expected } = sessionEvents(id, `v-shuffle-${seed}`, t0);
      // Every web event 1-3 times, shuffled, cut into random batches; half of the batches sent concurrently.
      const copies = web.flatMap((e) => Array.from({ length: 1 + Math.floor(r() * 3) }, () => e));
      const arrivals = shuffle(copies, r);
      const batches: unknown[][] = [];
      for (let i = 0; i < arrivals.length; ) {
        const n = 1 + Math.floor(r() * 4);
        batches.push(arrivals.slice(i, i + n));
        i += n;
      }
      let accepted = 0;
      let duplicates = 0;
      const orderAt = Math.floor(r() * batches.length);
      for (let i = 0; i < batches.length; i += 2) {
        const group = batches.slice(i, i + 2).map((b) => batch(base, t, b));
        if (i <= orderAt && orderAt < i + 2) group.push(serverEvents(base, t, order), serverEvents(base, t, order));
        for (const res of await Promise.all(group)) {
          expect(res.status).toBe(200);
          accepted += res.json.accepted;
          duplicates += res.json.duplicates;
        }
      }
      expect({ seed, accepted, duplicates }).toEqual({ seed, accepted: 10, duplicates: copies.length - 9 + 1 });
      await eventually(async () => expect({ seed, ...(await session(id)) }).toMatchObject({ seed, ...expected }));
    }
  }, 400_000);

  it('lists sessions of a visitor and flags bot sessions', async () => {
    const v = 'v-multi';
    const t0 = Date.now() - 7_200_000;
    await batch(base, t, [
      webEvent({ visitor_id: v, session_id: 's-m1', occurred_at: new Date(t0).toISOString() }),
      webEvent({ visitor_id: v, session_id: 's-m2', occurred_at: new Date(t0 + 3_600_000).toISOString(), context: { user_agent: 'Mozilla/5.0 (compatible; Googlebot/2.1)' } }),
      // No sequence numbers at all: no gaps reported.
      webEvent({ visitor_id: v, session_id: 's-m2', occurred_at: new Date(t0 + 3_601_000).toISOString(), event_id: crypto.randomUUID() }),
    ]);
    await eventually(async () => {
      const r = await api(base, t, 'GET', `/api/v1/sessions?visitor_id=${v}`);
      expect(r.json.sessions.map((s: any) => [s.session_id, s.events_count, s.is_bot, s.sequence.gaps])).toEqual([
        ['s-m2', 2, true, 0],
        ['s-m1', 1, false, 0],
      ]);
    });
    expect((await api(base, t, 'GET', '/api/v1/sessions/nope')).status).toBe(404);
  }, 120_000);
});

describe('session fold (unit)', () => {
  const row = (e: Record<string, any>): EventRow => ({
    event_version: 1, received_at: e.occurred_at, sent_at: null, tenant_id: 1, site_id: null, prev_event_id: null, person_id: null,
    entities: {}, idempotency_key: null, is_bot: false, sequence_no: null, context: {}, payload: {}, ...e,
  }) as EventRow;

  it('gives the same aggregate for any arrival order within a commit', () => {
    const { web, order } = sessionEvents('s-unit', 'v-unit', Date.parse('2026-01-01T10:00:00Z'));
    const rows = [...web, order].map(row);
    const [reference] = foldSessions(rows);
    fc.assert(
      fc.property(fc.shuffledSubarray(rows, { minLength: rows.length, maxLength: rows.length }), (perm) => {
        expect(foldSessions(perm)).toEqual([reference]);
      }),
      { numRuns: 200 },
    );
    expect(reference).toMatchObject({ events_count: 10, page_views: 4, sequence_gaps: 3, min_sequence_no: 0, max_sequence_no: 11, engagement_active_ms: 37_000, exit_page: '/checkout', landing_page: '/' });
  });

  it('summarises sequence numbers as ranges with the holes inside', () => {
    expect(sequenceSummary([])).toEqual({ ranges: '{}', min: null, max: null, gaps: 0 });
    expect(sequenceSummary([3, 1, 2, 2, 7, 9, 8])).toEqual({ ranges: '{[1,4),[7,10)}', min: 1, max: 9, gaps: 3 });
  });
});
