// The dashboard's pages for venue_manager, promoter, ad_account and media tokens (client/dashboard/roles-data.ts):
// claims read from tokens the server signs, the view each role opens and the header links it gets (none it
// cannot use). Pure: no DOM, no server.
import { describe, expect, it } from 'vitest';
import { MEDIA_NOTICE, navPages, pickOrg, roleClaims, roleLabel, rolePage } from '../client/dashboard/roles-data.js';
import { entityClaims } from '../client/dashboard/entity-data.js';
import { decodeToken } from '../client/live/token.js';
import { signToken, type TokenScope } from '../server/live/token.js';

const NOW = Math.floor(Date.now() / 1000);
const sign = (scope: TokenScope) => signToken('s'.repeat(64), scope, 600, NOW).token;

describe('dashboard pages of the venue_manager, promoter, ad_account and media tokens', () => {
  it('reads the claims of each role from a signed token; other roles and garbage are not theirs', () => {
    expect(roleClaims(sign({ role: 'venue_manager', tenant: 2, venues: ['V1', 'V2'], key: 4 }))).toEqual({ tenant: 2, role: 'venue_manager', venues: ['V1', 'V2'], events: [], orgs: [], exp: NOW + 600 });
    expect(roleClaims(sign({ role: 'promoter', tenant: 2, events: ['E1'], orgs: ['O1'] }))).toMatchObject({ role: 'promoter', events: ['E1'], orgs: ['O1'] });
    expect(roleClaims(sign({ role: 'ad_account', tenant: 2, orgs: ['O1'] }))).toMatchObject({ role: 'ad_account', orgs: ['O1'], venues: [] });
    expect(roleClaims(sign({ role: 'media', tenant: 2 }))).toMatchObject({ role: 'media', venues: [], events: [], orgs: [] });
    for (const other of [sign({ role: 'organizer', tenant: 2, org: 'O1' }), sign({ role: 'venue', tenant: 2, venues: ['V1'] }), sign({ role: 'admin', tenant: 2 }), 'v1.e30.x', 'v1.!!.x', 'tx_sk_abc', '']) {
      expect(roleClaims(other)).toBeNull();
    }
    const forged = (claims: object) => `v1.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
    for (const bad of [{ t: 1, r: 'promoter', exp: NOW }, { t: 1, r: 'venue_manager', v: [], exp: NOW }, { t: 1, r: 'ad_account', os: 'O1', exp: NOW }, { r: 'media', exp: NOW }]) {
      expect(roleClaims(forged(bad))).toBeNull();
    }
    // The other readers leave these tokens to roleClaims (no role is read twice).
    for (const t of [sign({ role: 'venue_manager', tenant: 2, venues: ['V1'] }), sign({ role: 'media', tenant: 2 })]) {
      expect([decodeToken(t), entityClaims(t)]).toEqual([null, null]);
    }
  });

  it('opens the view the role may use, and links only the organizer pages it may read', () => {
    const c = (scope: TokenScope) => roleClaims(sign(scope))!;
    expect(rolePage(c({ role: 'venue_manager', tenant: 1, venues: ['V1', 'V2'] }), '')).toEqual({ view: 'entity', kind: 'venue', ids: ['V1', 'V2'] });
    expect(rolePage(c({ role: 'promoter', tenant: 1, events: ['E1'], orgs: ['O1', 'O2'] }), '#org=O2')).toEqual({ view: 'organizer', org: 'O2', orgs: ['O1', 'O2'] });
    expect(rolePage(c({ role: 'promoter', tenant: 1, events: ['E1', 'E2'], orgs: [] }), '')).toEqual({ view: 'capacity', events: ['E1', 'E2'] });
    expect(rolePage(c({ role: 'ad_account', tenant: 1, orgs: ['O1', 'O 3'] }), '#org=O%203')).toEqual({ view: 'campaigns', org: 'O 3', orgs: ['O1', 'O 3'] });
    expect(rolePage(c({ role: 'media', tenant: 1 }), '')).toEqual({ view: 'notice', message: MEDIA_NOTICE });
    // An organizer the token does not list, or a malformed escape, falls back to its first.
    expect([pickOrg(['O1'], '#org=O9'), pickOrg(['O1'], '#org=%ZZ'), pickOrg(['O1', 'O2'], '#event=E1')]).toEqual(['O1', 'O1', 'O1']);
    expect(navPages('organizer', 1)).toEqual(['history', 'tracking', 'campaigns']);
    expect(navPages('promoter', 1)).toEqual(['history']);
    for (const role of ['promoter', 'venue_manager', 'ad_account', 'media', 'gate', 'venue', 'artist']) expect(navPages(role, role === 'promoter' ? 0 : 1)).toEqual([]);
    expect(roleLabel(c({ role: 'promoter', tenant: 1, events: ['E1'], orgs: ['O1'] }))).toBe('Promoter · O1, E1');
    expect(roleLabel(c({ role: 'venue_manager', tenant: 1, venues: ['V1'] }))).toBe('Venue manager · V1');
  });
});
