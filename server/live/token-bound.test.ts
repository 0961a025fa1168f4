// A token minted by a limited key is held to that key's scope at every use (boundToKey): a listed event whose
// owner left the key's scope leaves the token; an admin key's tokens, and ids that are not events, are untouched.
import { describe, expect, it } from 'vitest';
import { boundToKey, type EventOwners, type Scope } from './token.js';

const owners: Record<string, EventOwners> = { E1: { organizer_id: 'O1' }, E3: { organizer_id: 'O2' }, E5: { venue_id: 'V1' } };
const eventOf = (e: string) => owners[e];
const o1 = { role: 'organizer', scope: { organizers: ['O1'] } };

describe('boundToKey', () => {
  it('drops the checked events the minting key covers no more, keeping the others and the organizer ids', () => {
    const promoter: Scope = { role: 'promoter', tenant: 1, events: ['E1', 'E3'], orgs: ['O1'], key: 9 };
    expect(boundToKey(promoter, o1, ['E1', 'E3'], eventOf)).toEqual({ ...promoter, events: ['E1'] });
    // Only the events a use is about are judged: E3 left unchecked stays.
    expect(boundToKey(promoter, o1, ['E1'], eventOf)).toBe(promoter);
    const gate: Scope = { role: 'gate', tenant: 1, events: ['E3'], key: 9 };
    expect(boundToKey(gate, o1, ['E3'], eventOf)).toEqual({ ...gate, events: [] });
    // Covered by the key's venue, or listed in its scope itself.
    expect(boundToKey({ ...gate, events: ['E5'] }, { role: 'venue', scope: { venues: ['V1'] } }, ['E5'], eventOf).events).toEqual(['E5']);
    expect(boundToKey(gate, { role: 'gate', scope: { events: ['E3'] } }, ['E3'], eventOf).events).toEqual(['E3']);
    // An unknown event is outside every limited key.
    expect(boundToKey({ ...gate, events: ['E9'] }, o1, ['E9'], eventOf).events).toEqual([]);
  });

  it('leaves an admin key\'s tokens and the roles without event ids alone; a key that vouches for nothing keeps no event', () => {
    const promoter: Scope = { role: 'promoter', tenant: 1, events: ['E3'], orgs: [], key: 2 };
    expect(boundToKey(promoter, { role: 'admin', scope: {} }, ['E3'], eventOf)).toBe(promoter);
    const organizer: Scope = { role: 'organizer', tenant: 1, org: 'O1', key: 2 };
    expect(boundToKey(organizer, null, ['E3'], eventOf)).toBe(organizer);
    expect(boundToKey(promoter, null, ['E3'], eventOf).events).toEqual([]);
  });
});
