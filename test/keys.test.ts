// Key management (issue 9 item 4): list tenants, create, list and revoke keys; a revoked key is refused with
// 401 revoked_key at once on the node that revoked it and within KEY_TTL_MS on every other node, while a
// known key keeps working from the cache when the database is away.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyResolver, KEY_TTL_MS } from '../server/http/auth.js';
import { parseNewKey } from '../server/http/admin-routes.js';
import { StoreUnavailableError } from '../server/store/db.js';
import { createTenantStore, type KeyCheck, type TenantStore } from '../server/store/tenants.js';
import { ADMIN, bootServer, createTenant, getJson, postJson, request, webEvent, type Tenant } from './helpers.js';

const admin = { authorization: `Bearer ${ADMIN}` };

describe('key management over HTTP', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'keys', ['https://shop.example.com']);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('lists tenants with their sites and active key counts, for the admin token only', async () => {
    expect((await getJson(`${base}/api/admin/tenants`)).status).toBe(401);
    expect((await getJson(`${base}/api/admin/tenants`, { authorization: `Bearer ${t.secret_key}` })).status).toBe(401);
    const r = await getJson(`${base}/api/admin/tenants`, admin);
    expect(r.status).toBe(200);
    const mine = r.json.tenants.find((x: any) => x.tenant_id === t.tenant_id);
    expect(mine).toMatchObject({ name: 'keys', sites: [{ site_id: 'default', allowed_origins: ['https://shop.example.com'] }], active_keys: { write: 1, secret: 1 } });
    expect(typeof mine.created_at).toBe('string');
  });

  it('reads one tenant, renames it and replaces its origins (ingest follows), reads one key; unknown ids are 404, bad bodies 400', async () => {
    const own = await createTenant(base, 'patch-me', ['https://old.example.com']);
    const one = await getJson(`${base}/api/admin/tenants/${own.tenant_id}`, admin);
    expect(one.json).toMatchObject({ tenant_id: own.tenant_id, name: 'patch-me', sites: [{ site_id: 'default', allowed_origins: ['https://old.example.com'] }], active_keys: { write: 1, secret: 1 } });
    const patched = await request('PATCH', `${base}/api/admin/tenants/${own.tenant_id}`, { name: ' Patched ', allowed_origins: ['https://new.example.com'] }, admin);
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ name: 'Patched', sites: [{ site_id: 'default', allowed_origins: ['https://new.example.com'] }], effective_within_s: KEY_TTL_MS / 1000 });
    expect((await getJson(`${base}/api/admin/tenants/${own.tenant_id}`, admin)).json.name).toBe('Patched');
    // Within the key cache's TTL, the new origin is the one ingest takes.
    await new Promise((r) => setTimeout(r, KEY_TTL_MS + 200));
    const send = (origin: string) => postJson(`${base}/api/tx/events/batch`, { events: [webEvent()] }, { 'x-tx-key': own.write_key, origin });
    expect((await send('https://new.example.com')).status).toBe(200);
    expect((await send('https://old.example.com')).status).toBe(403);
    // Another site's origins, created on the way.
    const site = await request('PATCH', `${base}/api/admin/tenants/${own.tenant_id}`, { site_id: 'app', allowed_origins: ['https://app.example.com'] }, admin);
    expect(site.json.sites).toEqual([{ site_id: 'app', allowed_origins: ['https://app.example.com'] }, { site_id: 'default', allowed_origins: ['https://new.example.com'] }]);
    const audit = (await getJson(`${base}/api/v1/audit?limit=100`, { authorization: `Bearer ${own.secret_key}` })).json.audit;
    expect(audit.filter((a: any) => a.action === 'tenant.updated')).toHaveLength(2);
    for (const [body, field] of [[{}, '$'], [{ name: '' }, 'name'], [{ allowed_origins: ['ftp://x'] }, 'allowed_origins'], [{ site_id: 'app' }, 'site_id'], [{ name: 'x', owner: 1 }, 'owner']] as const) {
      const r = await request('PATCH', `${base}/api/admin/tenants/${own.tenant_id}`, body, admin);
      expect([r.status, r.json.error.field]).toEqual([400, field]);
    }
    expect((await request('PATCH', `${base}/api/admin/tenants/999999`, { name: 'x' }, admin)).json.error.code).toBe('unknown_tenant');
    expect((await getJson(`${base}/api/admin/tenants/999999`, admin)).status).toBe(404);
    expect((await request('PATCH', `${base}/api/admin/tenants/${own.tenant_id}`, { name: 'x' }, { authorization: `Bearer ${own.secret_key}` })).status).toBe(401);
    const keys = (await getJson(`${base}/api/admin/tenants/${own.tenant_id}/keys`, admin)).json.keys;
    const k = await getJson(`${base}/api/admin/keys/${keys[0].id}`, admin);
    expect(k.json).toEqual(keys[0]);
    expect((await getJson(`${base}/api/admin/keys/999999`, admin)).json.error.code).toBe('unknown_key');
  });

  it('keeps a tenant\'s time zone (UTC by default, an IANA name, case fixed), refuses offsets and unknown names, and refuses fields a body does not take', async () => {
    const plain = await createTenant(base, 'tz-default');
    expect((await getJson(`${base}/api/admin/tenants/${plain.tenant_id}`, admin)).json.time_zone).toBe('UTC');
    const made = await postJson(`${base}/api/admin/tenants`, { name: 'tz', time_zone: 'europe/bucharest' }, admin);
    expect([made.status, made.json.time_zone]).toEqual([201, 'Europe/Bucharest']);
    const patched = await request('PATCH', `${base}/api/admin/tenants/${made.json.tenant_id}`, { time_zone: 'Asia/Kolkata' }, admin);
    expect([patched.status, patched.json.time_zone]).toEqual([200, 'Asia/Kolkata']);
    for (const bad of ['+02:00', 'Mars/Olympus_Mons', '', 'Europe/Bucharest\u0000', 3, null]) {
      const r = await postJson(`${base}/api/admin/tenants`, { name: 'tz-bad', time_zone: bad }, admin);
      expect([r.status, r.json.error.code, r.json.error.field]).toEqual([400, 'invalid_field', 'time_zone']);
      // (a NUL is refused by the router's own check, with its own message)
      if (bad !== 'Europe/Bucharest\u0000') expect(r.json.error.message).toMatch(/Europe\/Bucharest/);
      const p = await request('PATCH', `${base}/api/admin/tenants/${made.json.tenant_id}`, { time_zone: bad }, admin);
      expect([p.status, p.json.error.field]).toEqual([400, 'time_zone']);
    }
    expect((await getJson(`${base}/api/admin/tenants/${made.json.tenant_id}`, admin)).json.time_zone).toBe('Asia/Kolkata');
    // A misspelt field is refused, not dropped: "allowed_origin" would have made a tenant that allows any origin,
    // "source" a write key that may send gate scans.
    const typo = await postJson(`${base}/api/admin/tenants`, { name: 'typo', allowed_origin: ['https://acme.example'] }, admin);
    expect([typo.status, typo.json.error.field]).toEqual([400, 'allowed_origin']);
    const key = await postJson(`${base}/api/admin/tenants/${plain.tenant_id}/keys`, { kind: 'write', source: ['scanner'] }, admin);
    expect([key.status, key.json.error.field]).toEqual([400, 'source']);
    const token = await postJson(`${base}/api/v1/tokens`, { role: 'gate', event_ids: ['E1'], ttl: 60 }, { authorization: `Bearer ${plain.secret_key}` });
    expect([token.status, token.json.error.field]).toEqual([400, 'ttl']);
  });

  it('creates a key shown once, lists keys by hint only, and records use', async () => {
    const created = await postJson(`${base}/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'secret' }, admin);
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ kind: 'secret', id: expect.any(Number), key: expect.stringMatching(/^tx_sk_/) });
    const key = created.json.key as string;
    // The new key reads the tenant's data.
    expect((await getJson(`${base}/api/v1/tx/events`, { authorization: `Bearer ${key}` })).status).toBe(200);
    const list = await getJson(`${base}/api/admin/tenants/${t.tenant_id}/keys`, admin);
    expect(list.status).toBe(200);
    expect(list.json.keys.length).toBe(3);
    expect(JSON.stringify(list.json)).not.toContain(key);
    const row = list.json.keys.find((k: any) => k.id === created.json.id);
    expect(row).toMatchObject({ kind: 'secret', key_hint: key.slice(0, 10) + '…', site_id: null, revoked_at: null });
    expect(row.last_used_at).not.toBeNull();
    expect(Object.keys(row).sort()).toEqual(['allowed_origins', 'created_at', 'id', 'key_hint', 'kind', 'last_used_at', 'revoked_at', 'site_id', 'sources', 'tenant_id']);
    // The tenant's original write key was never used: no last_used_at.
    expect(list.json.keys.find((k: any) => k.kind === 'write').last_used_at).toBeNull();
  });

  it('creates a write key for a site with its own origins, which ingest enforces', async () => {
    const created = await postJson(`${base}/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'write', site_id: 'box-office', allowed_origins: ['https://box.example.com'] }, admin);
    expect(created.status).toBe(201);
    const send = (origin: string) => postJson(`${base}/api/tx/events/batch`, { events: [webEvent()] }, { 'x-tx-key': created.json.key, origin });
    expect((await send('https://box.example.com')).status).toBe(200);
    // The tenant allows shop.example.com; the refusal names the key's own list, the one to change.
    const refused = await send('https://shop.example.com');
    expect(refused.status).toBe(403);
    expect(refused.json.error.message).toContain(`not in this write key's own allowed_origins (key ${created.json.id})`);
    const tenants = await getJson(`${base}/api/admin/tenants`, admin);
    expect(tenants.json.tenants.find((x: any) => x.tenant_id === t.tenant_id).sites.map((s: any) => s.site_id)).toEqual(['box-office', 'default']);
  });

  it('keeps a write key to its sources: a site\'s public key cannot post gate scans or capacity, the gate devices\' key can', async () => {
    const mk = async (sources: string[]) => {
      const r = await postJson(`${base}/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'write', sources }, admin);
      expect(r.status).toBe(201);
      expect(r.json.sources).toEqual(sources);
      return r.json.key as string;
    };
    const site = await mk(['web']);
    const gates = await mk(['scanner']);
    const snapshot = (source_system: string) => ({
      ...webEvent(), event_name: 'capacity_snapshot', source_system, consent_snapshot: { analytics: false, marketing: false, data_processing: true },
      entities: { event_entity_id: 'E1' }, payload: { gate_id: 'G1', current_inside: 10_000_000 },
    });
    const post = async (key: string, events: unknown[]) => (await postJson(`${base}/api/tx/events/batch`, { events }, { 'x-tx-key': key, origin: 'https://shop.example.com' })).json;
    const bySite = await post(site, [webEvent(), snapshot('scanner'), snapshot('web')]);
    expect(bySite.accepted).toBe(1);
    expect(bySite.rejected.map((r: any) => [r.index, r.errors.map((e: any) => [e.code, e.field])])).toEqual([
      [1, [['source_not_allowed', 'source_system']]],
      [2, [['source_not_allowed', 'event_name']]],
    ]);
    const byGates = await post(gates, [snapshot('scanner'), webEvent()]);
    expect(byGates.accepted).toBe(1);
    expect(byGates.rejected.map((r: any) => [r.index, r.errors[0].code])).toEqual([[1, 'source_not_allowed']]);
    const listed = (await getJson(`${base}/api/admin/tenants/${t.tenant_id}/keys?limit=100`, admin)).json.keys;
    expect(listed.filter((k: any) => k.sources).map((k: any) => k.sources)).toEqual([['web'], ['scanner']]);
  });

  it('refuses bad key requests with 400 naming the field, and unknown tenants or keys with 404', async () => {
    const cases: [string, unknown, string][] = [
      [`/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'admin' }, 'kind'],
      [`/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'write', site_id: 'a b' }, 'site_id'],
      [`/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'write', allowed_origins: ['https://x.com/path'] }, 'allowed_origins'],
      [`/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'secret', allowed_origins: ['*'] }, 'allowed_origins'],
      [`/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'write', sources: 'web' }, 'sources'],
      [`/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'write', sources: [] }, 'sources'],
      [`/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'write', sources: ['web', 'gate'] }, 'sources'],
      [`/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'secret', sources: ['web'] }, 'sources'],
      ['/api/admin/tenants/abc/keys', { kind: 'write' }, 'tenant_id'],
    ];
    for (const [path, body, field] of cases) {
      const r = await postJson(`${base}${path}`, body, admin);
      expect({ path, body, status: r.status, field: r.json.error?.field }).toEqual({ path, body, status: 400, field });
    }
    expect((await postJson(`${base}/api/admin/tenants/999999/keys`, { kind: 'write' }, admin)).status).toBe(404);
    expect((await request('DELETE', `${base}/api/admin/keys/999999`, undefined, admin)).status).toBe(404);
    expect((await request('DELETE', `${base}/api/admin/keys/%ZZ`, undefined, admin)).status).toBe(400);
    // A dashboard token where the secret key belongs is named as such, not as an unknown key.
    const token = (await postJson(`${base}/api/v1/tokens`, { role: 'organizer', org_id: 'O1', ttl_s: 60 }, { authorization: `Bearer ${t.secret_key}` })).json.token;
    const onSecretRoute = await getJson(`${base}/api/v1/tx/events?limit=1`, { authorization: `Bearer ${token}` });
    expect([onSecretRoute.status, onSecretRoute.json.error.code, onSecretRoute.json.error.message]).toEqual([401, 'invalid_key', expect.stringMatching(/not a dashboard token/)]);
  });

  it('revokes a key: refused with 401 revoked_key at once on this node, within KEY_TTL_MS on another', async () => {
    const created = await postJson(`${base}/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'secret' }, admin);
    const key = created.json.key as string;
    const use = () => getJson(`${base}/api/v1/tx/events?limit=1`, { authorization: `Bearer ${key}` });
    expect((await use()).status).toBe(200);
    // Another node: its own resolver over the same database, with a clock this test moves.
    let now = 1_000_000;
    const other = createKeyResolver(server.db, createTenantStore(), KEY_TTL_MS, 5_000, () => now);
    expect((await other.check(key)).ok).toBe(true);

    const del = await request('DELETE', `${base}/api/admin/keys/${created.json.id}`, undefined, admin);
    expect(del.status).toBe(200);
    expect(del.json).toMatchObject({ id: created.json.id, revoked_at: expect.any(String), effective_within_s: KEY_TTL_MS / 1000 });
    const again = await request('DELETE', `${base}/api/admin/keys/${created.json.id}`, undefined, admin);
    expect(again.json.revoked_at).toBe(del.json.revoked_at);

    const refused = await use();
    expect({ status: refused.status, code: refused.json.error.code }).toEqual({ status: 401, code: 'revoked_key' });
    // The other node serves its cached answer until the TTL ends, then asks the database and refuses.
    now += KEY_TTL_MS - 1;
    expect((await other.check(key)).ok).toBe(true);
    now += 2;
    expect(await other.check(key)).toEqual({ ok: false, code: 'revoked_key' });
    expect(KEY_TTL_MS).toBeLessThanOrEqual(10_000);
    const list = await getJson(`${base}/api/admin/tenants/${t.tenant_id}/keys`, admin);
    expect(list.json.keys.find((k: any) => k.id === created.json.id).revoked_at).toBe(del.json.revoked_at);
  });

  it('refuses a revoked write key on ingest with 401 revoked_key, an unknown one with invalid_key', async () => {
    const created = await postJson(`${base}/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'write' }, admin);
    const key = created.json.key as string;
    const send = (k: string) => postJson(`${base}/api/tx/events`, webEvent(), { 'x-tx-key': k });
    expect((await send(key)).status).toBe(200);
    expect((await request('DELETE', `${base}/api/admin/keys/${created.json.id}`, undefined, admin)).status).toBe(200);
    const refused = await send(key);
    expect({ status: refused.status, code: refused.json.error.code }).toEqual({ status: 401, code: 'revoked_key' });
    expect(refused.json.error.message).toMatch(/revoked/);
    const unknown = await send('tx_pk_' + 'x'.repeat(32));
    expect({ status: unknown.status, code: unknown.json.error.code }).toEqual({ status: 401, code: 'invalid_key' });
  });
});

describe('key resolver cache', () => {
  const lookup: KeyCheck = { ok: true, lookup: { kind: 'secret', key_id: 7, site_id: null, tenant: { tenant_id: 1, name: 't', allowed_origins: [], idempotency_salt: 'f'.repeat(64) } } };
  const fakeStore = (answer: () => Promise<KeyCheck>) => ({ lookupKey: answer }) as unknown as TenantStore;

  it('keeps a known key working from the cache while the database is down, past the TTL', async () => {
    let now = 0;
    let down = false;
    let calls = 0;
    const r = createKeyResolver({} as never, fakeStore(async () => {
      calls++;
      if (down) throw new StoreUnavailableError('gone');
      return lookup;
    }), KEY_TTL_MS, 5_000, () => now);
    expect((await r.check('k')).ok).toBe(true);
    down = true;
    now += KEY_TTL_MS * 100;
    expect((await r.check('k')).ok).toBe(true);
    expect(calls).toBe(2);
    // An unknown key is not invented while the database is down.
    await expect(r.check('other')).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('asks the database at most once per key per TTL, and forget() drops a key at once', async () => {
    let now = 0;
    let calls = 0;
    let answer: KeyCheck = lookup;
    const r = createKeyResolver({} as never, fakeStore(async () => (calls++, answer)), KEY_TTL_MS, 5_000, () => now);
    for (let i = 0; i < 50; i++) await r.check('k');
    expect(calls).toBe(1);
    answer = { ok: false, code: 'revoked_key' };
    r.forget(7);
    expect(await r.check('k')).toEqual({ ok: false, code: 'revoked_key' });
    expect(await r.resolve('k')).toBeNull();
  });

  it('parses key requests (pure)', () => {
    expect(parseNewKey({ kind: 'write' })).toEqual({ ok: true, value: { kind: 'write', site_id: null, allowed_origins: null, sources: null } });
    expect(parseNewKey({ kind: 'write', sources: ['web', 'mobile', 'web'] })).toEqual({ ok: true, value: { kind: 'write', site_id: null, allowed_origins: null, sources: ['web', 'mobile'] } });
    expect(parseNewKey([]).ok).toBe(false);
    expect(parseNewKey({ kind: 'write', allowed_origins: 'https://a.com' }).ok).toBe(false);
  });
});
