import crypto from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { permissionsFor, ROLES, type Role } from '../authz/roles.js';
import { decodeB64urlStrict, parseTokenRequest, signToken, tokenPrincipal, verifyToken, withinKey, type Scope, type TokenScope } from './token.js';
import { allowed, parseTopic, topicName, type EventOwnership, type Topic } from './topics.js';

const SECRET = 'x'.repeat(64);
const NOW = 1_750_000_000;

describe('tokens', () => {
  it('round-trips organizer and gate scopes and expires', () => {
    const o = signToken(SECRET, { role: 'organizer', tenant: 3, org: 'O1' }, 60, NOW);
    expect(o.expires_at).toBe(new Date((NOW + 60) * 1000).toISOString());
    expect(verifyToken(SECRET, o.token, NOW + 59)).toEqual({ ok: true, scope: { role: 'organizer', tenant: 3, org: 'O1' }, exp: NOW + 60 });
    expect(verifyToken(SECRET, o.token, NOW + 60)).toEqual({ ok: false, reason: 'expired' });
    const g = signToken(SECRET, { role: 'gate', tenant: 3, events: ['E1', 'E2'] }, 60, NOW);
    expect(verifyToken(SECRET, g.token, NOW)).toMatchObject({ ok: true, scope: { role: 'gate', events: ['E1', 'E2'] } });
  });

  it('refuses another secret, tampered claims and garbage', () => {
    const { token } = signToken(SECRET, { role: 'organizer', tenant: 3, org: 'O1' }, 60, NOW);
    expect(verifyToken('y'.repeat(64), token, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    const [v, body, sig] = token.split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, o: 'O2' })).toString('base64url');
    expect(verifyToken(SECRET, `${v}.${forged}.${sig}`, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
      expect(verifyToken(SECRET, s, NOW).ok).toBe(false);
    }));
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => {
      expect(verifyToken(SECRET, `v1.${s}`, NOW).ok).toBe(false);
    }));
  });

  it('refuses non-canonical base64url in the signature: padding, stray characters, changed unused low bits', () => {
    const { token } = signToken(SECRET, { role: 'organizer', tenant: 3, org: 'O1' }, 60, NOW);
    expect(verifyToken(SECRET, token, NOW).ok).toBe(true);
    const sig = token.slice(token.lastIndexOf('.') + 1);
    const head = token.slice(0, token.lastIndexOf('.') + 1);
    // A 32-byte MAC is 43 characters: the last one carries 2 unused low bits. Flipping them keeps the same bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(sig.at(-1)!);
    const variants = [1, 2, 3].map((bits) => sig.slice(0, -1) + alphabet[last ^ bits]);
    for (const v of variants) expect(Buffer.from(v, 'base64url').equals(Buffer.from(sig, 'base64url'))).toBe(true);
    for (const bad of [sig + '=', sig + '==', ...variants, sig.slice(0, 10) + '\n' + sig.slice(10)]) {
      expect(verifyToken(SECRET, head + bad, NOW)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('refuses non-canonical base64url in the claims even when the signature covers that spelling', () => {
    const claims = Buffer.from(JSON.stringify({ t: 3, r: 'organizer', o: 'O1', iat: NOW, exp: NOW + 60 })).toString('base64url');
    const signed = (body: string) => `${body}.${crypto.createHmac('sha256', SECRET).update(body).digest('base64url')}`;
    expect(verifyToken(SECRET, signed(`v1.${claims}`), NOW).ok).toBe(true);
    expect(verifyToken(SECRET, signed(`v1.${claims}=`), NOW)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyToken(SECRET, signed(`v1.${claims.slice(0, 4)}+${claims.slice(4)}`), NOW)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('decodes base64url strictly: only the canonical spelling of some bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const s = Buffer.from(bytes).toString('base64url');
      expect(decodeB64urlStrict(s)?.equals(Buffer.from(bytes))).toBe(true);
      expect(decodeB64urlStrict(s + '=')).toBeNull();
    }));
    expect(decodeB64urlStrict('QQ')).toEqual(Buffer.from('A'));
    for (const bad of ['QR', 'QQ==', 'a+b/', 'ab cd', 'A']) expect(decodeB64urlStrict(bad)).toBeNull();
  });

  it('validates token requests', () => {
    expect(parseTokenRequest(1, { role: 'organizer', org_id: 'O1' })).toEqual({ ok: true, scope: { role: 'organizer', tenant: 1, org: 'O1' }, ttlS: 3600 });
    expect(parseTokenRequest(1, { role: 'organizer', org_id: 42, ttl_s: 10 })).toMatchObject({ ok: true, scope: { org: '42' }, ttlS: 10 });
    expect(parseTokenRequest(1, { role: 'gate', event_ids: ['E1', 'E1', 7] })).toMatchObject({ ok: true, scope: { events: ['E1', '7'] } });
    expect(parseTokenRequest(1, { role: 'gate', event_ids: [] })).toMatchObject({ ok: false, field: 'event_ids' });
    expect(parseTokenRequest(1, { role: 'organizer' })).toMatchObject({ ok: false, field: 'org_id' });
    expect(parseTokenRequest(1, { role: 'root' })).toMatchObject({ ok: false, field: 'role' });
    expect(parseTokenRequest(1, { role: 'organizer', org_id: 'O', ttl_s: 0 })).toMatchObject({ ok: false, field: 'ttl_s' });
  });

  it('refuses a misspelt field instead of minting a token unlike the one asked for, and ids that are not exact integers', () => {
    expect(parseTokenRequest(1, { role: 'gate', event_ids: ['E1'], ttl: 60 })).toMatchObject({ ok: false, field: 'ttl', message: expect.stringMatching(/^Unknown field "ttl"; a token request takes role, /) });
    expect(parseTokenRequest(1, { role: 'organizer', org_id: 'O1', venue_id: 'V1' })).toMatchObject({ ok: false, field: 'venue_id' });
    expect(parseTokenRequest(1, { role: 'organizer', org_id: 9007199254740993 })).toMatchObject({ ok: false, field: 'org_id' });
    expect(parseTokenRequest(1, { role: 'gate', event_ids: [1e300] })).toMatchObject({ ok: false, field: 'event_ids' });
    expect(parseTokenRequest(1, { role: 'organizer', org_id: 9007199254740991 })).toMatchObject({ ok: true, scope: { org: '9007199254740991' } });
  });
});

describe('topic scope', () => {
  const owners: Record<string, string> = { A1: 'A', A2: 'A', B1: 'B', 'A:capacity': 'A' };
  const organizerOf = (tenant: number, e: string) => (tenant === 1 && owners[e] ? { org: owners[e], venue: null, artists: [] } : undefined);
  const orgA: Scope = { role: 'organizer', tenant: 1, org: 'A' };
  const gate: Scope = { role: 'gate', tenant: 1, events: ['A1'] };
  const can = (s: Scope, name: string) => {
    const t = parseTopic(name);
    return t !== null && allowed(s, t, organizerOf);
  };

  it('parses the three topic kinds', () => {
    expect(parseTopic('analytics:event:E1')).toEqual({ kind: 'event', event: 'E1' });
    expect(parseTopic('analytics:event:E1:capacity')).toEqual({ kind: 'capacity', event: 'E1' });
    expect(parseTopic('analytics:dashboard:O1')).toEqual({ kind: 'dashboard', org: 'O1' });
    for (const bad of ['', 'analytics:event:', 'analytics:dashboard:', 'analytics:event::capacity', 'x', 'analytics:event:a\nb', 42, null]) {
      expect(parseTopic(bad)).toBeNull();
    }
    fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 100 }).filter((s) => !/[\u0000-\u001f\u007f]/.test(s)), (id) => {
      const t: Topic = { kind: 'dashboard', org: id };
      expect(parseTopic(topicName(t))).toEqual(t);
    }));
  });

  it("organizer A reads its own topics and nothing of B's (fuzzed names)", () => {
    expect(can(orgA, 'analytics:event:A1')).toBe(true);
    expect(can(orgA, 'analytics:event:A2:capacity')).toBe(true);
    expect(can(orgA, 'analytics:dashboard:A')).toBe(true);
    expect(can(orgA, 'analytics:event:B1')).toBe(false);
    expect(can(orgA, 'analytics:dashboard:B')).toBe(false);
    expect(can(orgA, 'analytics:event:unknown')).toBe(false);
    expect(can({ role: 'organizer', tenant: 2, org: 'A' }, 'analytics:event:A1')).toBe(false);
    const own = new Set(['analytics:event:A1', 'analytics:event:A2', 'analytics:event:A1:capacity', 'analytics:event:A2:capacity', 'analytics:dashboard:A', 'analytics:event:A:capacity', 'analytics:event:A:capacity:capacity']);
    const piece = fc.oneof(fc.constantFrom('analytics', 'event', 'dashboard', 'capacity', 'A', 'A1', 'B', 'B1', ':', '::', '*', '#', '%3A', ' ', 'A1 ', '\u0000'), fc.string({ maxLength: 6 }));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }).map((p) => p.join('')), (name) => {
        if (!own.has(name)) expect(can(orgA, name)).toBe(false);
      }),
      { numRuns: 3000 },
    );
    fc.assert(fc.property(fc.string({ maxLength: 40 }), (id) => {
      if (id !== 'A') expect(can(orgA, `analytics:dashboard:${id}`)).toBe(false);
      if (owners[id] !== 'A') expect(can(orgA, `analytics:event:${id}`)).toBe(false);
    }));
  });

  it("gate staff read only their events' capacity topics", () => {
    expect(can(gate, 'analytics:event:A1:capacity')).toBe(true);
    expect(can(gate, 'analytics:event:A1')).toBe(false);
    expect(can(gate, 'analytics:event:A2:capacity')).toBe(false);
    expect(can(gate, 'analytics:dashboard:A')).toBe(false);
    fc.assert(fc.property(fc.string({ maxLength: 60 }), (name) => {
      if (name !== 'analytics:event:A1:capacity') expect(can(gate, name)).toBe(false);
    }), { numRuns: 3000 });
  });
});

describe('tokens by role and key (issue 18)', () => {
  const signed = (claims: Record<string, unknown>) => {
    const body = `v1.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${body}.${crypto.createHmac('sha256', SECRET).update(body).digest('base64url')}`;
  };

  it('round-trips venue and artist scopes and the minting key id; a token without k has no key', () => {
    const v = signToken(SECRET, { role: 'venue', tenant: 3, venues: ['V1'], key: 42 }, 60, NOW);
    expect(verifyToken(SECRET, v.token, NOW)).toEqual({ ok: true, scope: { role: 'venue', tenant: 3, venues: ['V1'], key: 42 }, exp: NOW + 60 });
    const a = signToken(SECRET, { role: 'artist', tenant: 3, artists: ['A1', 'A2'] }, 60, NOW);
    const got = verifyToken(SECRET, a.token, NOW);
    expect(got).toEqual({ ok: true, scope: { role: 'artist', tenant: 3, artists: ['A1', 'A2'] }, exp: NOW + 60 });
    expect(got.ok && 'key' in got.scope).toBe(false);
  });

  it('refuses signed claims with a bad key id or bad venue/artist lists (strict decoding)', () => {
    const base = { t: 3, iat: NOW, exp: NOW + 60 };
    for (const bad of [
      { ...base, r: 'venue', v: ['V1'], k: -1 }, { ...base, r: 'venue', v: ['V1'], k: 1.5 }, { ...base, r: 'venue', v: ['V1'], k: '7' },
      { ...base, r: 'venue', v: ['V1'], k: 2 ** 60 }, { ...base, r: 'venue', v: [] }, { ...base, r: 'venue', v: [1] }, { ...base, r: 'venue' },
      { ...base, r: 'artist', a: 'A1' }, { ...base, r: 'root' }, { ...base, r: 'tenant' },
    ]) {
      expect(verifyToken(SECRET, signed(bad), NOW)).toEqual({ ok: false, reason: 'malformed' });
    }
    expect(verifyToken(SECRET, signed({ ...base, r: 'venue', v: ['V1'], k: 9 }), NOW)).toMatchObject({ ok: true, scope: { key: 9 } });
  });

  it('an admin token covers the whole tenant, round-trips, reads every topic, and only an admin key mints one', () => {
    expect(parseTokenRequest(4, { role: 'admin' })).toEqual({ ok: true, scope: { role: 'admin', tenant: 4 }, ttlS: 3600 });
    const a = signToken(SECRET, { role: 'admin', tenant: 4, key: 9 }, 60, NOW);
    const v = verifyToken(SECRET, a.token, NOW);
    expect(v).toEqual({ ok: true, scope: { role: 'admin', tenant: 4, key: 9 }, exp: NOW + 60 });
    const scope = (v as { scope: Scope }).scope;
    for (const t of [{ kind: 'dashboard', org: 'O9' }, { kind: 'venue', venue: 'V9' }, { kind: 'capacity', event: 'E9' }] as Topic[]) expect(allowed(scope, t, () => undefined)).toBe(true);
    const key = (role: string) => ({ id: 1, role, scope: { organizers: ['O1'] } });
    expect(withinKey({ role: 'admin', tenant: 4 }, { ...key('admin'), scope: {} }, () => undefined)).toEqual({ ok: true });
    for (const role of ['organizer', 'promoter', 'ad_account', 'venue']) expect(withinKey({ role: 'admin', tenant: 4 }, key(role), () => undefined)).toEqual({ ok: false, field: 'role', id: 'admin' });
  });

  it('a token never covers more than its minting key (withinKey)', () => {
    const owners: Record<string, { organizer_id: string; venue_id: string; artist_ids: string[] }> = {
      E1: { organizer_id: 'O1', venue_id: 'V1', artist_ids: ['A1'] },
      E2: { organizer_id: 'O2', venue_id: 'V2', artist_ids: [] },
    };
    const eventOf = (e: string) => owners[e];
    const key = (role: string, scope: Record<string, string[]>) => ({ id: 1, role, scope });
    expect(withinKey({ role: 'organizer', tenant: 1, org: 'ANY' }, key('admin', {}), eventOf)).toEqual({ ok: true });
    expect(withinKey({ role: 'organizer', tenant: 1, org: 'O1' }, key('organizer', { organizers: ['O1'] }), eventOf)).toEqual({ ok: true });
    expect(withinKey({ role: 'organizer', tenant: 1, org: 'O2' }, key('organizer', { organizers: ['O1'] }), eventOf)).toEqual({ ok: false, field: 'org_id', id: 'O2' });
    expect(withinKey({ role: 'gate', tenant: 1, events: ['E1'] }, key('venue', { venues: ['V1'] }), eventOf)).toEqual({ ok: true });
    expect(withinKey({ role: 'gate', tenant: 1, events: ['E1', 'E2'] }, key('venue', { venues: ['V1'] }), eventOf)).toEqual({ ok: false, field: 'event_ids', id: 'E2' });
    expect(withinKey({ role: 'gate', tenant: 1, events: ['E9'] }, key('organizer', { organizers: ['O1'] }), eventOf)).toEqual({ ok: false, field: 'event_ids', id: 'E9' });
    expect(withinKey({ role: 'gate', tenant: 1, events: ['E9'] }, key('promoter', { events: ['E9'] }), eventOf)).toEqual({ ok: true });
    expect(withinKey({ role: 'venue', tenant: 1, venues: ['V1', 'V2'] }, key('venue', { venues: ['V1'] }), eventOf)).toEqual({ ok: false, field: 'venue_ids', id: 'V2' });
    expect(withinKey({ role: 'artist', tenant: 1, artists: ['A1'] }, key('artist', { artists: ['A1'] }), eventOf)).toEqual({ ok: true });
    expect(withinKey({ role: 'artist', tenant: 1, artists: ['A1'] }, key('venue', { venues: ['V1'] }), eventOf)).toEqual({ ok: false, field: 'artist_ids', id: 'A1' });
    // Property: whatever a limited key and request, an allowed token's ids are all in the key's scope (or its events').
    fc.assert(fc.property(
      fc.constantFrom('organizer', 'venue', 'artist', 'promoter'),
      fc.record({ organizers: fc.array(fc.constantFrom('O1', 'O2')), venues: fc.array(fc.constantFrom('V1', 'V2')), artists: fc.array(fc.constantFrom('A1')), events: fc.array(fc.constantFrom('E1', 'E2', 'E9')) }),
      fc.array(fc.constantFrom('O1', 'O2', 'V1', 'V2', 'A1', 'E1', 'E2', 'E9'), { minLength: 1, maxLength: 3 }),
      (role, scope, ids) => {
        const k = key(role, scope);
        const s = scope as Record<string, string[]>;
        if (withinKey({ role: 'venue', tenant: 1, venues: ids }, k, eventOf).ok) expect(ids.every((i) => s.venues.includes(i))).toBe(true);
        if (withinKey({ role: 'artist', tenant: 1, artists: ids }, k, eventOf).ok) expect(ids.every((i) => s.artists.includes(i))).toBe(true);
        if (withinKey({ role: 'gate', tenant: 1, events: ids }, k, eventOf).ok) {
          for (const e of ids) {
            const o = owners[e];
            expect(s.events.includes(e) || (!!o && (s.organizers.includes(o.organizer_id) || s.venues.includes(o.venue_id) || o.artist_ids.some((a) => s.artists.includes(a))))).toBe(true);
          }
        }
      },
    ));
  });
});

describe('tokens of the venue_manager, promoter, ad_account and media roles', () => {
  const signed = (claims: Record<string, unknown>) => {
    const body = `v1.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${body}.${crypto.createHmac('sha256', SECRET).update(body).digest('base64url')}`;
  };
  const owners: Record<string, EventOwnership> = { E1: { org: 'O1', venue: 'V1', artists: ['A1'] }, E2: { org: 'O2', venue: 'V2', artists: [] } };
  const ownerOf = (tenant: number, e: string) => (tenant === 1 ? owners[e] : undefined);
  const eventOf = (e: string) => owners[e] && { organizer_id: owners[e].org, venue_id: owners[e].venue, artist_ids: owners[e].artists };
  const key = (role: string, scope: Record<string, string[]> = {}) => ({ id: 7, role, scope });

  it('takes a promoter\'s null id list as a list left out (README: null or [] carry no id), and says a bad one may hold 0-50 ids', () => {
    expect(parseTokenRequest(1, { role: 'promoter', event_ids: ['E1'], org_ids: null })).toEqual({ ok: true, scope: { role: 'promoter', tenant: 1, events: ['E1'], orgs: [] }, ttlS: 3600 });
    expect(parseTokenRequest(1, { role: 'promoter', event_ids: null, org_ids: ['O1'] })).toEqual({ ok: true, scope: { role: 'promoter', tenant: 1, events: [], orgs: ['O1'] }, ttlS: 3600 });
    expect(parseTokenRequest(1, { role: 'promoter', event_ids: null, org_ids: null })).toMatchObject({ ok: false, field: 'event_ids' });
    expect(parseTokenRequest(1, { role: 'promoter', event_ids: ['E1'], org_ids: 'O1' })).toEqual({ ok: false, field: 'org_ids', message: 'org_ids must be a list of 0-50 ids.' });
    // A list a role needs is still required: null is refused, with 1-50.
    expect(parseTokenRequest(1, { role: 'gate', event_ids: null })).toEqual({ ok: false, field: 'event_ids', message: 'event_ids must be a list of 1-50 ids.' });
  });

  it('parses each role with its scope fields, and names the field of a bad one', () => {
    expect(parseTokenRequest(1, { role: 'venue_manager', venue_ids: ['V1', 'V1', 2] })).toEqual({ ok: true, scope: { role: 'venue_manager', tenant: 1, venues: ['V1', '2'] }, ttlS: 3600 });
    expect(parseTokenRequest(1, { role: 'promoter', event_ids: ['E1'] })).toEqual({ ok: true, scope: { role: 'promoter', tenant: 1, events: ['E1'], orgs: [] }, ttlS: 3600 });
    expect(parseTokenRequest(1, { role: 'promoter', org_ids: ['O1'], event_ids: [] })).toEqual({ ok: true, scope: { role: 'promoter', tenant: 1, events: [], orgs: ['O1'] }, ttlS: 3600 });
    expect(parseTokenRequest(1, { role: 'ad_account', org_ids: ['O1'], ttl_s: 60 })).toEqual({ ok: true, scope: { role: 'ad_account', tenant: 1, orgs: ['O1'] }, ttlS: 60 });
    expect(parseTokenRequest(1, { role: 'media' })).toEqual({ ok: true, scope: { role: 'media', tenant: 1 }, ttlS: 3600 });
    const tooMany = Array.from({ length: 51 }, (_, i) => `X${i}`);
    for (const [body, field] of [
      [{ role: 'venue_manager' }, 'venue_ids'], [{ role: 'venue_manager', venue_ids: [] }, 'venue_ids'], [{ role: 'venue_manager', venue_ids: ['a\u0001'] }, 'venue_ids'],
      [{ role: 'promoter' }, 'event_ids'], [{ role: 'promoter', event_ids: [], org_ids: [] }, 'event_ids'], [{ role: 'promoter', event_ids: 'E1' }, 'event_ids'],
      [{ role: 'promoter', event_ids: ['E1'], org_ids: [null] }, 'org_ids'], [{ role: 'promoter', org_ids: tooMany }, 'org_ids'],
      [{ role: 'ad_account' }, 'org_ids'], [{ role: 'ad_account', org_ids: [{}] }, 'org_ids'], [{ role: 'media', ttl_s: 0 }, 'ttl_s'],
      [{ role: 'label' }, 'role'], [{ role: 'tenant' }, 'role'], [{ role: ['media'] }, 'role'],
    ] as const) {
      expect({ body, got: parseTokenRequest(1, body) }).toMatchObject({ body, got: { ok: false, field } });
    }
    // An unknown role is answered with every role a token may carry.
    const unknown = parseTokenRequest(1, { role: 'label' });
    for (const role of ['organizer', 'gate', 'venue', 'venue_manager', 'artist', 'promoter', 'ad_account', 'media', 'admin']) expect(!unknown.ok && unknown.message).toContain(`"${role}"`);
  });

  it('refuses ids that do not apply to the role, naming the field, instead of minting a token without them', () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ role: 'organizer', org_id: 'O1', org_ids: ['O2'] }, 'org_ids', 'org_ids does not apply to role organizer, which takes org_id; leave org_ids out.'],
      [{ role: 'organizer', org_id: 'O1', event_ids: ['E2'] }, 'event_ids', 'event_ids does not apply to role organizer, which takes org_id; leave event_ids out.'],
      [{ role: 'gate', event_ids: ['E1'], venue_ids: ['V2'] }, 'venue_ids', 'venue_ids does not apply to role gate, which takes event_ids; leave venue_ids out.'],
      [{ role: 'venue', venue_ids: ['V1'], event_ids: ['E2'] }, 'event_ids', 'event_ids does not apply to role venue, which takes venue_ids; leave event_ids out.'],
      [{ role: 'venue_manager', venue_ids: ['V1'], artist_ids: ['A1'] }, 'artist_ids', 'artist_ids does not apply to role venue_manager, which takes venue_ids; leave artist_ids out.'],
      [{ role: 'artist', artist_ids: ['A1'], org_id: 'O1' }, 'org_id', 'org_id does not apply to role artist, which takes artist_ids; leave org_id out.'],
      [{ role: 'promoter', event_ids: ['E1'], org_id: 'O1' }, 'org_id', 'org_id does not apply to role promoter, which takes event_ids and/or org_ids; leave org_id out.'],
      [{ role: 'ad_account', org_ids: ['O1'], event_ids: ['E1'] }, 'event_ids', 'event_ids does not apply to role ad_account, which takes org_ids; leave event_ids out.'],
      [{ role: 'media', venue_ids: ['V1'] }, 'venue_ids', 'venue_ids does not apply to role media, which takes no ids (the whole tenant); leave venue_ids out.'],
      [{ role: 'admin', org_id: 'O1' }, 'org_id', 'org_id does not apply to role admin, which takes no ids (the whole tenant); leave org_id out.'],
      // Said before the role's own field is checked: the likely mistake is the name, not a missing id.
      [{ role: 'organizer', org_ids: ['O1'] }, 'org_ids', 'org_ids does not apply to role organizer, which takes org_id; leave org_ids out.'],
      [{ role: 'gate', event_ids: ['E1'], org_id: '' }, 'org_id', 'org_id does not apply to role gate, which takes event_ids; leave org_id out.'],
    ];
    for (const [body, field, message] of cases) expect({ body, got: parseTokenRequest(1, body) }).toEqual({ body, got: { ok: false, field, message } });
    // A field that carries no id (null, []) drops nothing: it is taken.
    expect(parseTokenRequest(1, { role: 'organizer', org_id: 'O1', org_ids: [], event_ids: null })).toEqual({ ok: true, scope: { role: 'organizer', tenant: 1, org: 'O1' }, ttlS: 3600 });
    expect(parseTokenRequest(1, { role: 'media', org_ids: [] })).toEqual({ ok: true, scope: { role: 'media', tenant: 1 }, ttlS: 3600 });
  });

  it('signs and verifies each role with its ids and key; signed claims with bad lists are malformed', () => {
    for (const scope of [
      { role: 'venue_manager', tenant: 3, venues: ['V1'], key: 5 },
      { role: 'promoter', tenant: 3, events: ['E1'], orgs: [] },
      { role: 'promoter', tenant: 3, events: [], orgs: ['O1', 'O2'], key: 5 },
      { role: 'ad_account', tenant: 3, orgs: ['O1'], key: 5 },
      { role: 'media', tenant: 3, key: 5 },
    ] as TokenScope[]) {
      const v = verifyToken(SECRET, signToken(SECRET, scope, 60, NOW).token, NOW);
      expect(v).toEqual({ ok: true, scope, exp: NOW + 60 });
    }
    const base = { t: 3, iat: NOW, exp: NOW + 60 };
    for (const bad of [
      { ...base, r: 'venue_manager' }, { ...base, r: 'venue_manager', v: [] }, { ...base, r: 'venue_manager', v: 'V1' },
      { ...base, r: 'promoter' }, { ...base, r: 'promoter', e: [], os: [] }, { ...base, r: 'promoter', e: [1] }, { ...base, r: 'promoter', os: 'O1' },
      { ...base, r: 'ad_account' }, { ...base, r: 'ad_account', os: [] }, { ...base, r: 'media', k: 0 },
    ]) {
      expect(verifyToken(SECRET, signed(bad), NOW)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('maps each token to the principal of its role with the same scope a key of the role carries', () => {
    expect(tokenPrincipal({ role: 'venue_manager', tenant: 3, venues: ['V1'], key: 5 })).toEqual({ tenant: 3, role: 'venue_manager', scope: { venues: ['V1'] }, keyId: 5, via: 'token' });
    expect(tokenPrincipal({ role: 'promoter', tenant: 3, events: ['E1'], orgs: ['O1'] })).toMatchObject({ role: 'promoter', scope: { events: ['E1'], organizers: ['O1'] }, keyId: null });
    expect(tokenPrincipal({ role: 'ad_account', tenant: 3, orgs: ['O1'] })).toMatchObject({ role: 'ad_account', scope: { organizers: ['O1'] } });
    expect(tokenPrincipal({ role: 'media', tenant: 3 })).toMatchObject({ role: 'media', scope: {} });
  });

  it('reads topics by scope only (the permission is access.ts\'): a venue manager its venues\' events, a promoter its events and organizers', () => {
    const vm: Scope = { role: 'venue_manager', tenant: 1, venues: ['V1'] };
    const pr: Scope = { role: 'promoter', tenant: 1, events: ['E2'], orgs: ['O1'] };
    const t = (name: string) => parseTopic(name)!;
    expect(['analytics:event:E1', 'analytics:event:E1:capacity', 'analytics:venue:V1:capacity'].map((n) => allowed(vm, t(n), ownerOf))).toEqual([true, true, true]);
    expect(['analytics:event:E2', 'analytics:venue:V2:capacity', 'analytics:dashboard:O1'].map((n) => allowed(vm, t(n), ownerOf))).toEqual([false, false, false]);
    expect(['analytics:event:E1', 'analytics:event:E2:capacity', 'analytics:dashboard:O1'].map((n) => allowed(pr, t(n), ownerOf))).toEqual([true, true, true]);
    expect(['analytics:dashboard:O2', 'analytics:venue:V1:capacity', 'analytics:event:E9'].map((n) => allowed(pr, t(n), ownerOf))).toEqual([false, false, false]);
    // Another tenant's events are unknown to this scope's tenant: refused.
    expect(allowed({ ...vm, tenant: 2 }, t('analytics:event:E1'), ownerOf)).toBe(false);
    expect(allowed({ role: 'media', tenant: 1 }, t('analytics:event:E1'), ownerOf)).toBe(false);
    expect(allowed({ role: 'ad_account', tenant: 1, orgs: ['O1'] }, t('analytics:dashboard:O1'), ownerOf)).toBe(true);
  });

  it('a scoped key mints these roles only inside its ids and never with a permission its role lacks (withinKey)', () => {
    const ok = { ok: true };
    // Ids: the key's own lists (events also through their organizer, venue or artist).
    expect(withinKey({ role: 'venue_manager', tenant: 1, venues: ['V1'] }, key('venue_manager', { venues: ['V1'] }), eventOf)).toEqual(ok);
    expect(withinKey({ role: 'venue_manager', tenant: 1, venues: ['V1', 'V2'] }, key('venue_manager', { venues: ['V1'] }), eventOf)).toEqual({ ok: false, field: 'venue_ids', id: 'V2' });
    expect(withinKey({ role: 'promoter', tenant: 1, events: ['E1'], orgs: ['O1'] }, key('promoter', { organizers: ['O1'] }), eventOf)).toEqual(ok);
    expect(withinKey({ role: 'promoter', tenant: 1, events: ['E2'], orgs: [] }, key('promoter', { organizers: ['O1'] }), eventOf)).toEqual({ ok: false, field: 'event_ids', id: 'E2' });
    expect(withinKey({ role: 'promoter', tenant: 1, events: ['E1'], orgs: ['O2'] }, key('promoter', { events: ['E1'] }), eventOf)).toEqual({ ok: false, field: 'org_ids', id: 'O2' });
    expect(withinKey({ role: 'ad_account', tenant: 1, orgs: ['O1'] }, key('ad_account', { organizers: ['O1'] }), eventOf)).toEqual(ok);
    expect(withinKey({ role: 'ad_account', tenant: 1, orgs: ['O1', 'O9'] }, key('ad_account', { organizers: ['O1'] }), eventOf)).toEqual({ ok: false, field: 'org_ids', id: 'O9' });
    // A key of the tenant's ad team (no ids) covers no organizer's campaigns itself, so none of its tokens either.
    expect(withinKey({ role: 'ad_account', tenant: 1, orgs: ['O1'] }, key('ad_account'), eventOf)).toEqual({ ok: false, field: 'org_ids', id: 'O1' });
    // Media has no ids: the whole tenant, beyond a limited key; an admin key mints it.
    expect(withinKey({ role: 'media', tenant: 1 }, key('organizer', { organizers: ['O1'] }), eventOf)).toEqual({ ok: false, field: 'role', id: 'media' });
    expect(withinKey({ role: 'media', tenant: 1 }, key('admin'), eventOf)).toEqual(ok);
    expect(withinKey({ role: 'media', tenant: 1 }, key('media'), eventOf)).toEqual(ok);
    // Role: a venue key's ids do not make it a venue manager (view_revenue); an organizer key may mint a promoter.
    expect(withinKey({ role: 'venue_manager', tenant: 1, venues: ['V1'] }, key('venue', { venues: ['V1'] }), eventOf)).toEqual({ ok: false, field: 'role', id: 'venue_manager' });
    expect(withinKey({ role: 'venue', tenant: 1, venues: ['V1'] }, key('venue_manager', { venues: ['V1'] }), eventOf)).toEqual(ok);
    expect(withinKey({ role: 'promoter', tenant: 1, events: [], orgs: ['O1'] }, key('organizer', { organizers: ['O1'] }), eventOf)).toEqual(ok);
    expect(withinKey({ role: 'ad_account', tenant: 1, orgs: ['O1'] }, key('organizer', { organizers: ['O1'] }), eventOf)).toEqual({ ok: false, field: 'role', id: 'ad_account' });
    expect(withinKey({ role: 'gate', tenant: 1, events: ['E1'] }, key('ad_account', { organizers: ['O1'] }), eventOf)).toEqual({ ok: false, field: 'role', id: 'gate' });
    expect(withinKey({ role: 'organizer', tenant: 1, org: 'O1' }, key('some_future_role', { organizers: ['O1'] }), eventOf)).toEqual({ ok: false, field: 'role', id: 'organizer' });
    // With the tenant's overrides: venue staff granted view_revenue may mint a venue manager's token.
    const granted = (r: Role) => permissionsFor(r, { venue: { view_revenue: true } });
    expect(withinKey({ role: 'venue_manager', tenant: 1, venues: ['V1'] }, key('venue', { venues: ['V1'] }), eventOf, granted)).toEqual(ok);
    // Property: an allowed token of any role from a limited key has only ids the key covers and only the key's permissions.
    fc.assert(fc.property(
      fc.constantFrom(...ROLES.filter((r) => r !== 'admin')),
      fc.record({ organizers: fc.array(fc.constantFrom('O1', 'O2')), venues: fc.array(fc.constantFrom('V1', 'V2')), events: fc.array(fc.constantFrom('E1', 'E2', 'E9')) }),
      fc.constantFrom(...(['venue_manager', 'promoter', 'ad_account', 'media'] as const)),
      fc.array(fc.constantFrom('O1', 'O2', 'V1', 'V2', 'E1', 'E2', 'E9'), { maxLength: 3 }),
      (role, sc, tokenRole, ids) => {
        const s = sc as Record<string, string[]>;
        const scope: TokenScope = tokenRole === 'venue_manager' ? { role: tokenRole, tenant: 1, venues: ids } : tokenRole === 'promoter' ? { role: tokenRole, tenant: 1, events: ids.filter((i) => i.startsWith('E')), orgs: ids.filter((i) => i.startsWith('O')) }
          : tokenRole === 'ad_account' ? { role: tokenRole, tenant: 1, orgs: ids } : { role: 'media', tenant: 1 };
        if (!withinKey(scope, key(role, sc), eventOf).ok) return;
        for (const p of permissionsFor(tokenRole)) expect(permissionsFor(role).has(p)).toBe(true);
        const who = tokenPrincipal(scope);
        for (const v of who.scope.venues ?? []) expect(s.venues).toContain(v);
        for (const o of who.scope.organizers ?? []) expect(s.organizers).toContain(o);
        for (const e of who.scope.events ?? []) expect(s.events.includes(e) || s.organizers.includes(owners[e]?.org ?? '') || s.venues.includes(owners[e]?.venue ?? '')).toBe(true);
        if (tokenRole === 'media') expect([...s.organizers, ...s.venues, ...s.events]).toEqual([]);
      },
    ));
  });
});
