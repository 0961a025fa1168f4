import { describe, expect, it } from 'vitest';
import { actorOf } from './index.js';

describe('actorOf', () => {
  it('names the admin token, a key by its id, and a dashboard token by the key that minted it (else its role)', () => {
    expect(actorOf({ kind: 'admin' })).toEqual({ kind: 'admin_token', id: 'admin_token' });
    expect(actorOf({ kind: 'token', scope: { role: 'organizer', tenant: 2, org: 'O1' }, keyId: 7 })).toEqual({ kind: 'key', id: '7' });
    expect(actorOf({ kind: 'token', scope: { role: 'organizer', tenant: 2, org: 'O1', key: 9 } })).toEqual({ kind: 'token', id: 'key:9' });
    expect(actorOf({ kind: 'token', scope: { role: 'gate', tenant: 2, events: ['E1'] } })).toEqual({ kind: 'token', id: 'role:gate' });
  });
});
