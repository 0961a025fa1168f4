// An event's owner for the scope checks (issue 18): the catalog's row whole when it knows the event, never a
// field filled in from what rows sent with the public write key named. Topic keys: one per topic, none a client can spell.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { noticeKey } from './notice-channels.js';
import { eventOwnership, eventResourceOf, parseTopic, topicKey, type Topic } from './topics.js';

describe('eventOwnership', () => {
  it('takes the catalog row whole: its empty venue or organizer stays empty whatever the live state learnt', () => {
    const live = { org: 'O1', venue: 'V1' };
    expect(eventOwnership({ organizer_id: 'O2', venue_id: null }, live)).toEqual({ org: 'O2', venue: null, artists: [], catalog: true });
    expect(eventOwnership({ organizer_id: null, venue_id: 'V2', artist_ids: ['A1'] }, live)).toEqual({ org: null, venue: 'V2', artists: ['A1'], catalog: true });
  });
  it('falls back to the live state only for an event the catalog does not know', () => {
    expect(eventOwnership(undefined, { org: 'O1', venue: 'V1' })).toEqual({ org: 'O1', venue: 'V1', artists: [], catalog: false });
    expect(eventOwnership(undefined, undefined)).toBeUndefined();
  });
});

describe('eventResourceOf', () => {
  const storedCatalog = { id: 'E3', organizer_id: 'O2', venue_id: null, artist_ids: [], catalog: true };
  const storedLive = { id: 'E5', organizer_id: 'O1', venue_id: null, artist_ids: [], catalog: false };
  it('this node\'s catalog copy first, whole', () => {
    expect(eventResourceOf(storedCatalog, { org: 'O3', venue: null, artists: [], catalog: true })).toEqual({ id: 'E3', organizer_id: 'O3', venue_id: null, artist_ids: [], catalog: true });
  });
  it('the store\'s catalog row when this node holds only live state for the event (never its live venue)', () => {
    expect(eventResourceOf(storedCatalog, { org: 'O1', venue: 'V1', artists: [], catalog: false })).toEqual(storedCatalog);
  });
  it('the live state for an event the catalog does not know', () => {
    expect(eventResourceOf(storedLive, { org: null, venue: 'V1', artists: [], catalog: false })).toEqual({ id: 'E5', organizer_id: 'O1', venue_id: 'V1', artist_ids: [], catalog: false });
    expect(eventResourceOf(storedLive, undefined)).toEqual(storedLive);
  });
});

describe('topicKey, noticeKey', () => {
  // Ids a client may name hold `|`, `#` and `:` (isIdText refuses only control characters); ingest may let others through.
  const ID = fc.oneof(
    fc.constantFrom('E1', 'E1|norevenue', 'E1:capacity', 'O1#view_ad_analytics', 'x|y#z:w', '|', '#', ':', 'analytics:event:E1', 'E1\u0001event'),
    fc.string({ minLength: 1, maxLength: 12 }),
  );
  const TOPIC: fc.Arbitrary<Topic> = fc.oneof(
    ID.map((event) => ({ kind: 'event' as const, event })),
    ID.map((event) => ({ kind: 'event' as const, event, revenue: false as const })),
    ID.map((event) => ({ kind: 'capacity' as const, event })),
    ID.map((org) => ({ kind: 'dashboard' as const, org })),
    ID.map((venue) => ({ kind: 'venue' as const, venue })),
  );
  const same = (a: [number, Topic], b: [number, Topic]) => a[0] === b[0] && JSON.stringify({ ...a[1], revenue: a[1].kind === 'event' ? a[1].revenue ?? true : undefined }) === JSON.stringify({ ...b[1], revenue: b[1].kind === 'event' ? b[1].revenue ?? true : undefined });

  it('the probe\'s collisions are distinct keys: a made-up `E1|norevenue` is not E1\'s revenue-free variant, `O1#view_ad_analytics` not O1\'s notice channel', () => {
    const made = (n: string) => topicKey(1, parseTopic(n)!);
    expect(made('analytics:event:E1|norevenue')).not.toBe(topicKey(1, { kind: 'event', event: 'E1', revenue: false }));
    expect(made('analytics:dashboard:O1#view_ad_analytics')).not.toBe(noticeKey(made('analytics:dashboard:O1'), 'view_ad_analytics'));
    expect(made('analytics:event:E1')).not.toBe(made('analytics:event:E1:capacity'));
  });

  it('distinct topics (any tenant, any id) have distinct keys, and no topic key is a notice channel', () => {
    fc.assert(
      fc.property(fc.tuple(fc.nat(20), TOPIC), fc.tuple(fc.nat(20), TOPIC), (a, b) => {
        const [ka, kb] = [topicKey(a[0], a[1]), topicKey(b[0], b[1])];
        expect(ka === kb).toBe(same(a, b));
        expect(noticeKey(ka, 'view_ad_analytics') === noticeKey(kb, 'view_ad_analytics')).toBe(same(a, b));
        expect(noticeKey(ka, 'view_ad_analytics')).not.toBe(kb);
      }),
      { numRuns: 2000, seed: 20_261_202 },
    );
  });

  it('every name a client may send parses to a topic whose key is its own: two names never share one', () => {
    const names = ['analytics:event:E1', 'analytics:event:E1|norevenue', 'analytics:event:E1:capacity', 'analytics:event:E1:capacity|norevenue', 'analytics:dashboard:O1', 'analytics:dashboard:O1#view_ad_analytics', 'analytics:venue:V1:capacity', 'analytics:venue:V1#x:capacity', 'analytics:event:E1#view_ad_analytics'];
    const keys = names.map((n) => topicKey(1, parseTopic(n)!));
    expect(new Set(keys).size).toBe(names.length);
    expect(keys).not.toContain(topicKey(1, { kind: 'event', event: 'E1', revenue: false }));
  });
});
