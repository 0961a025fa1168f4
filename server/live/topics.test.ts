// An event's owner for the scope checks (issue 18): the catalog's row whole when it knows the event, never a
// field filled in from what rows sent with the public write key named.
import { describe, expect, it } from 'vitest';
import { eventOwnership, eventResourceOf } from './topics.js';

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
