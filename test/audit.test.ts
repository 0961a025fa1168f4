// Audit log (issue 18 item 4): each recorded administrative action leaves a row with who (actor), what (action,
// target), when (at) and from where (ip), readable by the tenant with GET /api/v1/audit (newest first, keyset
// cursor); operator rows without a tenant stay out of every tenant's list; audit.prune drops old rows.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idDigest } from '../server/identity/crypto.js';
import { auditPruneJob } from '../server/audit/index.js';
import { createAuditStore } from '../server/audit/store.js';
import type { JobContext } from '../server/jobs/runner.js';
import { api, identify } from './identity-helpers.js';
import { ADMIN, bootServer, idsAcrossDigitBoundary, createTenant, getJson, postJson, request, type Tenant } from './helpers.js';

const admin = { authorization: `Bearer ${ADMIN}` };

describe('audit log', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  let other: Tenant;
  let secretKeyId: number;
  const audit = async (who: Tenant, q = '') => getJson(`${base}/api/v1/audit${q}`, { authorization: `Bearer ${who.secret_key}` });

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'audited');
    other = await createTenant(base, 'other');
    const keys = await getJson(`${base}/api/admin/tenants/${t.tenant_id}/keys`, admin);
    secretKeyId = keys.json.keys.find((k: any) => k.kind === 'secret').id;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('records keys created and revoked by the operator, as the admin token, with the ip', async () => {
    const created = await postJson(`${base}/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'write' }, admin);
    expect(created.status).toBe(201);
    expect((await request('DELETE', `${base}/api/admin/keys/${created.json.id}`, undefined, admin)).status).toBe(200);
    const rows = (await audit(t)).json.audit;
    expect(rows.slice(0, 2)).toEqual([
      expect.objectContaining({ tenant_id: t.tenant_id, actor_kind: 'admin_token', actor_id: 'admin_token', action: 'key.revoked', target: `key:${created.json.id}`, ip: expect.stringMatching(/127\.0\.0\.1/) }),
      expect.objectContaining({ actor_kind: 'admin_token', action: 'key.created', target: `key:${created.json.id}`, details: { kind: 'write', site_id: null, sources: null } }),
    ]);
    expect(Date.now() - Date.parse(rows[0].at)).toBeLessThan(600_000);
    // The other tenant sees none of it: only its own creation (the tenant and its first two keys).
    expect((await audit(other)).json.audit.map((r: any) => [r.action, r.tenant_id]).sort()).toEqual([['key.created', other.tenant_id], ['key.created', other.tenant_id], ['tenant.created', other.tenant_id]]);
  });

  it('records the demo tenant a first start creates as it records one made with the admin API, by the server', async () => {
    const demo = JSON.parse(fs.readFileSync(path.join(server.dataDir, 'demo-tenant.json'), 'utf8'));
    const rows = (await getJson(`${base}/api/v1/audit`, { authorization: `Bearer ${demo.secret_key}` })).json.audit;
    expect(rows.map((r: any) => [r.action, r.target, r.actor_kind, r.actor_id, r.ip]).sort()).toEqual([
      ['key.created', `key:${demo.secret_key_id}`, 'admin_token', 'server_start', null],
      ['key.created', `key:${demo.write_key_id}`, 'admin_token', 'server_start', null],
      ['tenant.created', `tenant:${demo.tenant_id}`, 'admin_token', 'server_start', null],
    ].sort());
  });

  it('audits a revocation once: revoking an already revoked key again (operator or tenant route) keeps the first revoked_at and writes no row', async () => {
    const revokedRows = async (id: number) => (await audit(t, '?limit=100')).json.audit.filter((r: any) => r.action === 'key.revoked' && r.target === `key:${id}`);
    const byAdmin = (await postJson(`${base}/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'write' }, admin)).json.id as number;
    const first = await request('DELETE', `${base}/api/admin/keys/${byAdmin}`, undefined, admin);
    const again = await request('DELETE', `${base}/api/admin/keys/${byAdmin}`, undefined, admin);
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(again.json.revoked_at).toBe(first.json.revoked_at);
    expect(await revokedRows(byAdmin)).toHaveLength(1);

    const own = { authorization: `Bearer ${t.secret_key}` };
    const byTenant = (await postJson(`${base}/api/v1/keys`, { role: 'media', scope: {} }, own)).json.id as number;
    const one = await request('DELETE', `${base}/api/v1/keys/${byTenant}`, undefined, own);
    const two = await request('DELETE', `${base}/api/v1/keys/${byTenant}`, undefined, own);
    expect([one.status, two.status]).toEqual([200, 200]);
    expect(two.json.revoked_at).toBe(one.json.revoked_at);
    // The operator revoking the tenant's already revoked key changes nothing either.
    expect((await request('DELETE', `${base}/api/admin/keys/${byTenant}`, undefined, admin)).status).toBe(200);
    expect(await revokedRows(byTenant)).toHaveLength(1);
  });

  it('records token minting, catalog deletes and GDPR export/erase as the secret key that did them', async () => {
    expect((await postJson(`${base}/api/v1/tokens`, { role: 'organizer', org_id: 'O1' }, { authorization: `Bearer ${t.secret_key}` })).status).toBe(201);
    expect((await api(base, t, 'PUT', '/api/v1/catalog/venues', { items: [{ id: 'V1', name: 'Hall' }] })).status).toBe(200);
    expect((await api(base, t, 'DELETE', '/api/v1/catalog/venues/V1')).status).toBe(200);
    // Deleting it again deletes nothing and records nothing.
    expect((await api(base, t, 'DELETE', '/api/v1/catalog/venues/V1')).json).toEqual({ deleted: 0 });
    await identify(base, t, { visitor_id: 'v-audit', external_id: 'cust-audit' });
    const pid = (await api(base, t, 'GET', '/api/v1/persons?external_id=cust-audit')).json.person_id;
    expect((await api(base, t, 'GET', `/api/v1/persons/${pid}/export`)).status).toBe(200);
    expect((await api(base, t, 'DELETE', `/api/v1/persons/${pid}`)).status).toBe(200);
    // A refused action (unknown person) records nothing.
    expect((await api(base, t, 'DELETE', '/api/v1/persons/987654')).status).toBe(404);

    const rows = (await audit(t)).json.audit;
    const actions = rows.map((r: any) => r.action);
    expect(actions.slice(0, 4)).toEqual(['gdpr.erase', 'gdpr.export', 'catalog.delete', 'token.minted']);
    for (const r of rows.slice(0, 4)) expect(r).toMatchObject({ actor_kind: 'key', actor_id: String(secretKeyId), ip: expect.any(String) });
    expect(rows[0].target).toBe(`person:${pid}`);
    expect(rows[2]).toMatchObject({ target: 'venues:V1', details: { deleted: 1 } });
    expect(rows[3]).toMatchObject({ target: 'role:organizer', details: { role: 'organizer', org_id: 'O1' } });
    expect(JSON.stringify(rows)).not.toContain('"token":');
  });

  it('names a deleted catalog customer by the keyed digest an erasure keeps, never by the id; migration 042 rewrote the rows written before', async () => {
    expect((await api(base, t, 'PUT', '/api/v1/catalog/persons', { items: [{ id: 'CUST-AUDIT-9', city: 'Iasi' }] })).status).toBe(200);
    expect((await api(base, t, 'DELETE', '/api/v1/catalog/persons/CUST-AUDIT-9')).status).toBe(200);
    const digest = idDigest(t.tenant_id, 'external', 'CUST-AUDIT-9');
    const rows = (await audit(t)).json.audit;
    expect(rows[0]).toMatchObject({ action: 'catalog.delete', target: `persons:sha256:${digest}`, details: { deleted: 1 } });
    expect(JSON.stringify(rows)).not.toContain('CUST-AUDIT-9');
    // A row written before: the migration's statement turns it into the same digest, and leaves digests alone.
    await server.db.query("INSERT INTO audit_log (tenant_id, actor_kind, actor_id, action, target) VALUES ($1, 'key', '1', 'catalog.delete', 'persons:Ünïcode cust')", [t.tenant_id]);
    const migration = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../sql/042_audit_customer_digest.sql'), 'utf8');
    await server.db.query(migration);
    await server.db.query(migration);
    const after = (await server.db.query<{ target: string }>("SELECT target FROM audit_log WHERE tenant_id = $1 AND action = 'catalog.delete' AND target LIKE 'persons:%' ORDER BY id", [t.tenant_id])).rows;
    expect(after.map((r) => r.target)).toEqual([`persons:sha256:${digest}`, `persons:sha256:${idDigest(t.tenant_id, 'external', 'Ünïcode cust')}`]);
  });

  it('records a job or retention run by hand with no tenant: in the table, in no tenant\'s list', async () => {
    expect((await postJson(`${base}/api/admin/jobs/audit.prune/run`, {}, admin)).status).toBe(200);
    const { rows } = await server.db.query<{ tenant_id: string | null; actor_kind: string; target: string }>("SELECT tenant_id, actor_kind, target FROM audit_log WHERE action = 'job.run'");
    expect(rows).toEqual([{ tenant_id: null, actor_kind: 'admin_token', target: 'job:audit.prune' }]);
    expect((await audit(t)).json.audit.some((r: any) => r.action === 'job.run')).toBe(false);
    expect((await postJson(`${base}/api/admin/retention/run`, {}, admin)).status).toBe(200);
    const ret = await server.db.query<{ tenant_id: string | null; actor_id: string }>("SELECT tenant_id, actor_id FROM audit_log WHERE action = 'retention.run'");
    expect(ret.rows).toEqual([{ tenant_id: null, actor_id: 'admin_token' }]);
  });

  it('pages newest first with a keyset cursor and refuses a forged one, also across ids of different lengths', async () => {
    await idsAcrossDigitBoundary(server.db, 'audit_log');
    for (let i = 0; i < 5; i++) expect((await postJson(`${base}/api/admin/tenants/${t.tenant_id}/keys`, { kind: 'write' }, admin)).status).toBe(201);
    const all = (await audit(t, '?limit=1000')).json.audit.map((r: any) => r.id);
    const seen: number[] = [];
    let next: string | null = null;
    do {
      const page: any = await audit(t, `?limit=2${next ? `&cursor=${next}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.json.audit.map((r: any) => r.id));
      next = page.json.next_cursor;
    } while (next);
    expect(seen).toEqual(all);
    expect([...all].sort((a, b) => b - a)).toEqual(all);
    const bad = await audit(t, '?cursor=eyJ4Ijox');
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: 'invalid_field', field: 'cursor' });
    expect((await audit(t, '?limit=0')).json.error).toMatchObject({ field: 'limit' });
    expect((await getJson(`${base}/api/v1/audit`, { authorization: `Bearer ${t.write_key}` })).status).toBe(403);
    expect((await getJson(`${base}/api/v1/audit`)).status).toBe(401);
  });

  it('audit.prune deletes rows older than the retention in chunks, and only those', async () => {
    const store = createAuditStore();
    const before = Number((await server.db.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_log')).rows[0].n);
    await server.db.query("INSERT INTO audit_log (tenant_id, at, actor_kind, actor_id, action) SELECT $1, now() - interval '400 days', 'admin_token', 'admin_token', 'old' FROM generate_series(1, 7)", [t.tenant_id]);
    const chunks: number[] = [];
    const ctx = {
      now: () => Date.now(),
      chunk: async (step: (limit: number) => Promise<number>) => {
        let total = 0;
        for (;;) {
          const n = await step(3);
          chunks.push(n);
          total += n;
          if (n < 3) return total;
        }
      },
    } as unknown as JobContext;
    const removed = await auditPruneJob(server.db, store, 365).run(ctx);
    expect(removed).toBe(7);
    expect(chunks).toEqual([3, 3, 1]);
    const after = Number((await server.db.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_log')).rows[0].n);
    expect(after).toBe(before);
  });
});
