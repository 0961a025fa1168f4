// Unit tests of the clients' pure parts (no browser, no server): delivery policy and backoff, session
// rolling, the persisted queue and its cap, consent gating and the consent store, attribution, and the generated
// registry module being current.
import fs from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REGISTRY_V1 } from '../server/ingest/registry.js';
import { generateRegistryModule, REGISTRY_GEN_PATH } from '../scripts/build-clients.js';
import { backoff, nextDelay, retryAfterMs, verdict } from '../client/shared/retry.js';
import { uuid } from '../client/shared/uuid.js';
import { WEB_EVENTS, WEB_SCOPES } from '../client/shared/registry.gen.js';
import {
  DENIED,
  StoredQueue,
  allowed,
  bounded,
  claimIn,
  claimSequence,
  floorOf,
  mergeConsent,
  scopeOf,
  touchFrom,
  type Counter,
  type KV,
  type SessionState,
} from '../client/sdk/core.js';
import { ConsentStore } from '../client/sdk/consent-store.js';

class MapKV implements KV {
  map = new Map<string, string>();
  limit = Infinity;
  writes = 0;
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    if (v.length > this.limit) throw new Error('QuotaExceededError');
    this.writes++;
    this.map.set(k, v);
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
}

describe('registry.gen.ts', () => {
  it('is what the generator makes from the current registry (run `npm run build:clients` if not)', () => {
    expect(fs.readFileSync(REGISTRY_GEN_PATH, 'utf8')).toBe(generateRegistryModule());
  });

  it('lists every web event and the scope of the non-analytics ones', () => {
    const web = REGISTRY_V1.filter((d) => d.category === 'web');
    expect(WEB_EVENTS.split(' ')).toEqual(web.map((d) => d.name));
    for (const d of web) expect(scopeOf(d.name)).toBe(d.scope);
    expect(WEB_SCOPES).toEqual({ affiliate_attribution_captured: 'marketing' });
  });
});

describe('delivery policy', () => {
  it('classifies responses', () => {
    const table: [number, string][] = [
      [200, 'ack'], [0, 'retry'], [408, 'retry'], [429, 'retry'], [500, 'retry'], [502, 'retry'], [503, 'retry'],
      [413, 'split'], [401, 'auth'], [403, 'auth'], [400, 'drop'], [404, 'drop'], [415, 'drop'], [422, 'drop'],
    ];
    for (const [status, v] of table) expect(verdict(status), String(status)).toBe(v);
  });

  it('backs off exponentially with equal jitter, capped', () => {
    expect(backoff(1, 1000, 60_000, () => 0)).toBe(500);
    expect(backoff(1, 1000, 60_000, () => 0.999999)).toBe(1000);
    expect(backoff(2, 1000, 60_000, () => 0)).toBe(1000);
    expect(backoff(3, 1000, 60_000, () => 0.5)).toBe(3000);
    expect(backoff(10, 1000, 60_000, () => 1)).toBe(60_000);
    expect(backoff(10_000, 1000, 60_000, () => 0)).toBe(30_000); // huge attempt counts do not overflow
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 10_000 }), (attempt, r, base) => {
        const max = base * 64;
        const step = Math.min(max, base * 2 ** (attempt - 1));
        const d = backoff(attempt, base, max, () => r);
        return d >= Math.floor(step / 2) && d <= step;
      }),
    );
  });

  it('spreads clients that failed together (jitter)', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const delays = Array.from({ length: 200 }, () => backoff(4, 1000, 60_000, rnd));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(4000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(8000);
    expect(new Set(delays).size).toBeGreaterThan(150);
  });

  it('honours Retry-After (seconds or HTTP date), never retrying sooner', () => {
    const now = Date.parse('2026-11-21T12:00:00Z');
    expect(retryAfterMs('5', now)).toBe(5000);
    expect(retryAfterMs(' 1.5 ', now)).toBe(1500);
    expect(retryAfterMs('Sat, 21 Nov 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Sat, 21 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeNull();
    expect(retryAfterMs(null, now)).toBeNull();
    expect(nextDelay(1, 5000, 100, 400, () => 0)).toBe(5000);
    expect(nextDelay(1, 120_000, 1000, 60_000, () => 0)).toBe(120_000); // the server's wish wins over our cap
    expect(nextDelay(3, 0, 1000, 60_000, () => 0)).toBe(2000);
    expect(nextDelay(3, null, 1000, 60_000, () => 0)).toBe(2000);
  });

  it('makes RFC 4122 v4 ids', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => uuid()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('session rolling', () => {
  const T = 30 * 60_000;
  let n = 0;
  const open = () => ({ id: `s${++n}` });

  it('starts a session at sequence 0, then counts up and chains prev_event_id', () => {
    const a = claimSequence(null, 1000, T, 'e1', open);
    expect(a).toMatchObject({ sequence_no: 0, fresh: true, prev_event_id: undefined });
    const b = claimSequence(a.state, 2000, T, 'e2', open);
    expect(b).toMatchObject({ sequence_no: 1, fresh: false, prev_event_id: 'e1' });
    expect(b.state).toMatchObject({ id: a.state.id, seq: 2, prev: 'e2', last: 2000, start: 1000 });
  });

  it('continues while activity is less than 30 min apart and rolls at 30 min of inactivity', () => {
    let s = claimSequence(null, 0, T, 'e0', open).state;
    // Activity every 29 minutes for hours keeps one session.
    for (let i = 1; i <= 10; i++) {
      const c = claimSequence(s, i * (T - 60_000), T, `e${i}`, open);
      expect(c.fresh).toBe(false);
      expect(c.sequence_no).toBe(i);
      s = c.state;
    }
    const id = s.id;
    const justBefore = claimSequence(s, s.last + T - 1, T, 'x', open);
    expect(justBefore.state.id).toBe(id);
    const at = claimSequence(s, s.last + T, T, 'y', open);
    expect(at).toMatchObject({ fresh: true, sequence_no: 0, prev_event_id: undefined });
    expect(at.state.id).not.toBe(id);
  });

  it('keeps the session when the clock goes backwards, and ignores a broken stored state', () => {
    const s = claimSequence(null, 10_000, T, 'a', open).state;
    const back = claimSequence(s, 5_000, T, 'b', open);
    expect(back.fresh).toBe(false);
    expect(back.state.last).toBe(10_000);
    expect(claimSequence({ nonsense: true } as unknown as SessionState, 0, T, 'c', open).fresh).toBe(true);
  });
});

describe('sequence counter shared by the tabs (IndexedDB record)', () => {
  it('numbers events 0, 1, 2… and chains each to the one before', () => {
    let c: Counter | null = null;
    const got: [number, string | undefined][] = [];
    for (const id of ['a', 'b', 'c']) {
      const r = claimIn(c, id);
      got.push([r.seq_, r.prev_]);
      c = r.c_;
    }
    expect(got).toEqual([[0, undefined], [1, 'a'], [2, 'b']]);
    expect(c).toMatchObject({ n: 3, p: 'c' });
  });

  it('claiming the same event again returns its number, not a new one (a tab died before recording it)', () => {
    const a = claimIn(null, 'a');
    const b = claimIn(a.c_, 'b');
    const again = claimIn(b.c_, 'a');
    expect([again.seq_, again.prev_]).toEqual([0, undefined]);
    expect(again.c_.n).toBe(2);
    expect(claimIn(again.c_, 'c').seq_).toBe(2); // no gap
  });

  it('goes on above a claim made without IndexedDB (its tab left the page) and never below the counter', () => {
    const c = claimIn(claimIn(null, 'a').c_, 'b').c_; // n = 2
    const up = claimIn(c, 'z', { s: 'S', n: 5, p: 'y' });
    expect([up.seq_, up.prev_, up.c_.n]).toEqual([5, 'y', 6]);
    const stale = claimIn(c, 'd', { s: 'S', n: 1, p: 'a' });
    expect([stale.seq_, stale.prev_]).toEqual([2, 'b']);
  });

  it('keeps a bounded list of recent claims', () => {
    let c: Counter | null = null;
    for (let i = 0; i < 1000; i++) c = claimIn(c, `e${i}`).c_;
    expect(Object.keys(c!.ids).length).toBe(50);
    expect(c!.ids.e999).toEqual([999, 'e998']);
    expect(c!.n).toBe(1000);
    expect(claimIn({ nonsense: 1 } as unknown as Counter, 'x').seq_).toBe(0); // a broken record starts over
  });

  it('keeps the IndexedDB records bounded: the newest entries, a re-set key becoming the newest', () => {
    let m: Record<string, number> | null = null;
    for (let i = 0; i < 20; i++) m = bounded(m, `s${i}`, i, 8);
    expect(Object.keys(m!)).toEqual(['s12', 's13', 's14', 's15', 's16', 's17', 's18', 's19']);
    m = bounded(m, 's13', 99, 8);
    expect(Object.keys(m)).toEqual(['s12', 's14', 's15', 's16', 's17', 's18', 's19', 's13']);
    expect(m.s13).toBe(99);
    expect(bounded(undefined, 'a', 1, 8)).toEqual({ a: 1 });
  });

  it('takes the highest hint of the session, ignoring other sessions and broken ones', () => {
    const hints = [{ s: 'S', n: 3 }, null, { s: 'T', n: 9 }, { s: 'S', n: 7, p: 'x' }, { s: 'S' } as never];
    expect(floorOf(hints, 'S')).toEqual({ s: 'S', n: 7, p: 'x' });
    expect(floorOf(hints, 'U')).toBeNull();
  });
});

describe('persisted queue', () => {
  const ev = (i: number) => ({ event_id: `e${i}`, n: i });

  it('caps stored events, dropping the oldest', () => {
    const kv = new MapKV();
    const dropped: number[] = [];
    const q = new StoredQueue<ReturnType<typeof ev>>(kv, 'q', 5, (d) => dropped.push(...d.map((e) => e.n)));
    for (let i = 0; i < 8; i++) q.push_(ev(i));
    expect(q.all_().map((e) => e.n)).toEqual([3, 4, 5, 6, 7]);
    expect(dropped).toEqual([0, 1, 2]);
    q.remove_(['e4', 'e6', 'nope']);
    expect(q.all_().map((e) => e.n)).toEqual([3, 5, 7]);
    q.retain_((e) => e.n > 3);
    expect(q.all_().map((e) => e.n)).toEqual([5, 7]);
    q.remove_(['e5', 'e7']);
    expect(kv.map.has('q')).toBe(false);
  });

  it('keeps the newest events when storage is full', () => {
    const kv = new MapKV();
    const q = new StoredQueue<ReturnType<typeof ev>>(kv, 'q', 1000);
    for (let i = 0; i < 20; i++) q.push_(ev(i));
    kv.limit = JSON.stringify(q.all_().slice(0, 12)).length;
    q.push_(ev(20));
    const left = q.all_().map((e) => e.n);
    expect(left.length).toBeGreaterThan(0);
    expect(left[left.length - 1]).toBe(20);
    expect(left).toEqual(left.slice().sort((a, b) => a - b));
  });

  it('records a claimed number on the queued event; nothing when it left the queue', () => {
    const kv = new MapKV();
    const q = new StoredQueue<{ event_id: string; sequence_no?: number }>(kv, 'q', 10);
    q.push_({ event_id: 'a' }, { event_id: 'b' });
    expect(q.patch_('b', { sequence_no: 4 })).toBe(true);
    expect(q.patch_('gone', { sequence_no: 5 })).toBe(false);
    expect(q.all_()).toEqual([{ event_id: 'a' }, { event_id: 'b', sequence_no: 4 }]);
  });

  it('each change re-reads storage (a second instance on the same key sees the first one\'s changes)', () => {
    const kv = new MapKV();
    const tab1 = new StoredQueue<ReturnType<typeof ev>>(kv, 'q', 100);
    const tab2 = new StoredQueue<ReturnType<typeof ev>>(kv, 'q', 100);
    tab1.push_(ev(1));
    tab2.push_(ev(2));
    tab1.push_(ev(3));
    expect(tab2.all_().map((e) => e.n)).toEqual([1, 2, 3]);
    tab2.remove_(['e1']);
    expect(tab1.all_().map((e) => e.n)).toEqual([2, 3]);
  });

  it('survives unreadable storage content', () => {
    const kv = new MapKV();
    kv.map.set('q', '{not json');
    const q = new StoredQueue<ReturnType<typeof ev>>(kv, 'q', 10);
    expect(q.all_()).toEqual([]);
    expect(q.push_(ev(1))).toBe(1);
  });
});

describe('consent gating', () => {
  it('allows necessary always, analytics and marketing only with their consent', () => {
    const grid = [
      { analytics: false, marketing: false },
      { analytics: true, marketing: false },
      { analytics: false, marketing: true },
      { analytics: true, marketing: true },
    ];
    for (const g of grid) {
      const c = { ...DENIED, ...g };
      expect(allowed('necessary', c)).toBe(true);
      expect(allowed('analytics', c)).toBe(g.analytics);
      expect(allowed('marketing', c)).toBe(g.marketing);
    }
    // Anything but `true` is no consent.
    expect(allowed('analytics', { ...DENIED, analytics: 'yes' as unknown as boolean })).toBe(false);
  });

  it('uses the server registry when loaded, else the built-in table, else analytics', () => {
    expect(scopeOf('page_view')).toBe('analytics');
    expect(scopeOf('affiliate_attribution_captured')).toBe('marketing');
    expect(scopeOf('order_completed')).toBe('analytics'); // unknown to the web table: the strict side
    expect(scopeOf('order_completed', { order_completed: 'necessary' })).toBe('necessary');
    expect(scopeOf('share', { share: 'marketing' })).toBe('marketing'); // the server may reclassify
    expect(scopeOf('brand_new_event', {})).toBe('analytics');
  });

  it('merges consent changes and stamps when they were captured', () => {
    const a = mergeConsent(DENIED, { analytics: true }, '2026-11-21T10:00:00.000Z');
    expect(a).toEqual({ analytics: true, marketing: false, data_processing: false, captured_at: '2026-11-21T10:00:00.000Z' });
    const b = mergeConsent(a, { marketing: true, copy_hash: 'v3' }, '2026-11-21T11:00:00.000Z');
    expect(b).toEqual({ analytics: true, marketing: true, data_processing: false, captured_at: '2026-11-21T11:00:00.000Z', copy_hash: 'v3' });
    const c = mergeConsent(b, { analytics: 1 as unknown as boolean, captured_at: '2026-11-01T00:00:00.000Z' }, '2026-11-21T12:00:00.000Z');
    expect(c).toMatchObject({ analytics: false, captured_at: '2026-11-01T00:00:00.000Z' });
    const d = mergeConsent(DENIED, { data_processing: true, other: true } as Partial<typeof DENIED>, 'now');
    expect(d).toEqual({ analytics: false, marketing: false, data_processing: true, captured_at: 'now' });
  });
});

/** localStorage's shape: the stored keys are the object's own enumerable properties, the methods are not. */
class LocalStorageLike implements KV {
  getItem(k: string) {
    return Object.hasOwn(this, k) ? (this as unknown as Record<string, string>)[k] : null;
  }
  setItem(k: string, v: string) {
    (this as unknown as Record<string, string>)[k] = v;
  }
  removeItem(k: string) {
    delete (this as unknown as Record<string, string>)[k];
  }
}

describe('consent store (memory before consent, localStorage after)', () => {
  const listed = () => Object.assign(new MapKV(), { keys(this: MapKV) { return [...this.map.keys()]; } });
  for (const [name, make] of [['localStorage-like', () => new LocalStorageLike()], ['a KV listing its keys', listed]] as const) {
    it(`keeps identifiers in memory until consent, moves them to storage with it and removes them on withdrawal (${name})`, () => {
      const ls: KV = make();
      ls.setItem('tx_consent', '{}');
      ls.setItem('site_key', 'x');
      const s = new ConsentStore(ls);
      s.setItem('tx_vid', 'V');
      s.setItem('tx_q.T1', '[]');
      expect([s.getItem('tx_vid'), s.getItem('tx_none'), ls.getItem('tx_vid')]).toEqual(['V', null, null]);
      expect(s.keys().sort()).toEqual(['tx_q.T1', 'tx_vid']);
      s.removeItem('tx_q.T1');
      expect(s.keys()).toEqual(['tx_vid']);

      s.setPersist_(true);
      expect([s.persist_, ls.getItem('tx_vid'), s.getItem('tx_consent')]).toEqual([true, 'V', '{}']);
      s.setItem('tx_session', 'S');
      s.setItem('tx_n.T2', '{}');
      expect(ls.getItem('tx_session')).toBe('S');
      expect(s.keys().sort()).toEqual(['site_key', 'tx_consent', 'tx_n.T2', 'tx_session', 'tx_vid']);

      s.setPersist_(false);
      expect([s.persist_, s.keys()]).toEqual([false, []]);
      // The visitor's identifiers are gone from storage; the consent choice and the site's own keys stay.
      for (const k of ['tx_vid', 'tx_session', 'tx_n.T2']) expect(ls.getItem(k), k).toBeNull();
      expect([ls.getItem('tx_consent'), ls.getItem('site_key')]).toEqual(['{}', 'x']);
    });
  }

  it('stays in memory without localStorage', () => {
    const s = new ConsentStore(null);
    s.setPersist_(true);
    s.setItem('tx_vid', 'V');
    expect([s.persist_, s.getItem('tx_vid'), s.keys()]).toEqual([false, 'V', ['tx_vid']]);
  });
});

describe('attribution', () => {
  it('reads UTMs and click ids, leaving out empty ones', () => {
    const t = touchFrom('?utm_source=nl&utm_medium=&utm_campaign=fall&gclid=G1&x=1', 'https://google.com/', '/e/1', 'now');
    expect(t).toEqual({ utm: { source: 'nl', campaign: 'fall' }, click_ids: { gclid: 'G1' }, referrer: 'https://google.com/', landing_page: '/e/1', captured_at: 'now' });
    expect(touchFrom('', '', '/', 'now')).toEqual({ utm: undefined, click_ids: undefined, landing_page: '/', captured_at: 'now' });
    expect(touchFrom(`?utm_source=${'x'.repeat(300)}`, '', '/', '').utm!.source).toHaveLength(256);
  });
});
