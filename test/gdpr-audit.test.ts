// GDPR erasure as a privacy auditor runs it (issue 8.11). Unit part: contact data is hashed on every path
// into storage, and a rejected body is recognised as the person's whatever its shape. End to end: after the
// erasure nothing of the person is left in any table, the Redis HyperLogLogs, the live numbers or the bytes
// of the embedded store's files, and live totals agree with the store's history.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { rawMentions, rawSearch } from '../server/gdpr/match.js';
import type { PersonIds } from '../server/gdpr/registry.js';
import { protectRawEvent, scrubBody } from '../server/identity/pii.js';
import { createPseudonymizer } from '../server/live/pseudo.js';
import { deletePrefix, randomPrefix, REDIS_URL } from '../server/live/redis-test-utils.js';
import { bootServer, createTenant, filesHolding, orderEvent, postJson, until, webEvent } from './helpers.js';
import { api, batch, identify, serverEvents, whereIs } from './identity-helpers.js';
import { liveRest } from './live-helpers.js';
import { clearOfMidnight } from './midnight.js';

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');
const PHONE = '+40 722 123 456';
const PHONE_SHA = sha('40722123456');

describe('contact data never reaches storage in clear', () => {
  it('a stored-as-sent body of any shape keeps no phone or email: fields anywhere, numbers, free text', () => {
    const shapes = [
      JSON.stringify({ events: { a: { payload: { customer: { phone: PHONE, email: 'Ana@Example.org' } } } } }),
      JSON.stringify({ event_name: 'refund_completed', source_system: 'web', payload: { customer: { external_id: 'c1', phone: PHONE } } }),
      '{"phone": 40722123456, "note": "call me on +40 (722) 123-456"',
      '[{"contact":{"phone":"+40722123456"}}',
    ];
    for (const body of shapes) {
      const out = scrubBody(body);
      expect(out.replace(/[^0-9]/g, '')).not.toContain('722123456');
      expect(out).not.toMatch(/ana@example/i);
      expect(out).toContain(PHONE_SHA);
    }
    // Timestamps and exponents are not phone numbers.
    expect(scrubBody('{"t":"2020-01-01T00:00:00+02:00","n":1e+1234567}')).toBe('{"t":"2020-01-01T00:00:00+02:00","n":1e+1234567}');
  });

  it('an event with contact data outside payload.customer is hashed too; one without any is returned as is', () => {
    const ev = { event_name: 'x', payload: { contact: [{ phone: PHONE }] }, context: { email: 'a@b.org' } };
    const out = protectRawEvent(ev) as any;
    expect(out.payload.contact[0]).toEqual({ phone_sha256: PHONE_SHA });
    expect(out.context).toEqual({ email_sha256: sha('a@b.org') });
    expect(ev.payload.contact[0]).toEqual({ phone: PHONE });
    const plain = { event_name: 'x', payload: { a: [1, { b: 2 }] } };
    expect(protectRawEvent(plain)).toBe(plain);
  });
});

describe('a rejected body is the person\'s whatever its shape', () => {
  const ids: PersonIds = {
    tenantId: 1, personId: 7, externalId: '123', emailSha256: sha('ana@example.org'), phoneSha256: PHONE_SHA,
    visitorIds: ['v-ana-1', 'v-ana-2'], sessionIds: ['s-ana-1'], orderIds: ['O9'], eventIds: [],
  };
  const s = rawSearch(ids);
  it.each([
    ['events as an object', JSON.stringify({ events: { x: { visitor_id: 'v-ana-2' } } })],
    ['a lone server event with a wrong source', JSON.stringify({ event_name: 'order_completed', source_system: 'web', payload: { customer: { external_id: 123 } } })],
    ['deeply nested', JSON.stringify({ a: [{ b: { c: { visitor_id: 'v-ana-1' } } }] })],
    ['not JSON', '[{"visitor_id":"v-ana-1",'],
    ['only the hashed phone', scrubBody(JSON.stringify({ events: { customer: { phone: PHONE } } }))],
    ['a short order id in its field', '{"entities":{"order_id":"O9"}}'],
  ])('%s', (_name, body) => {
    expect(rawMentions(body, s)).toBe(true);
  });
  it.each([
    ['another visitor', JSON.stringify({ events: [{ visitor_id: 'v-ana-10' }] })],
    ['the customer id as part of another number', '{"external_id":1234}'],
    ['a short order id elsewhere', '{"ticket_type_id":"O9"}'],
    ['their session id only (another visitor in it)', JSON.stringify({ a: [{ b: { c: { visitor_id: 'v-other', session_id: 's-ana-1' } } }] })],
  ])('not: %s', (_name, body) => {
    expect(rawMentions(body, s)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------------------
// End to end, as the auditor ran it: embedded store, Redis on.
// ---------------------------------------------------------------------------------------------------------

/** Every file under `dir` that contains one of the needles (as bytes): `file: needle`. */
describe('GDPR erasure audit (embedded store, Redis)', () => {
  const SECRET = crypto.randomBytes(32).toString('hex');
  const PREFIX = randomPrefix();
  const pseudo = createPseudonymizer(SECRET);
  const env = { REDIS_URL, LIVE_TOKEN_SECRET: SECRET, LIVE_REDIS_PREFIX: PREFIX, RATE_LIMIT_EVENTS_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' };
  let server: Awaited<ReturnType<typeof bootServer>>;
  let redis: Redis;
  afterAll(async () => {
    await server?.close();
    redis?.disconnect();
    await deletePrefix(PREFIX);
  });
  // Three boots of the server: minutes on a loaded machine.
  const TEST_MS = 300_000;
  // Her events are 5 minutes old and the live numbers cover one UTC day: from them to the test's end, one day.
  const BACK_MS = 6 * 60_000;
  beforeEach(async () => {
    await clearOfMidnight(BACK_MS, TEST_MS);
  }, BACK_MS + TEST_MS + 30_000);

  it('a person with two visitors, three sessions, an order, a login and odd rejected bodies leaves nothing behind', { timeout: TEST_MS }, async () => {
    server = await bootServer(env);
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
    const base = server.url;
    const t = await createTenant(base, 'gdpr-audit');
    const tag = crypto.randomBytes(4).toString('hex');
    const [v1, v2, s1, s2, s3] = [`v-aud1-${tag}`, `v-aud2-${tag}`, `s-aud1-${tag}`, `s-aud2-${tag}`, `s-aud3-${tag}`];
    const ext = `cust-aud-${tag}`;
    const order = `ord-aud-${tag}`;
    const digits = String(100_000_000 + crypto.randomInt(899_999_999));
    const phone = `+40 ${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6)}`;
    const email = `aud-${tag}@example.org`;
    const ent = { event_entity_id: 'AE1', organizer_id: 'AORG' };
    const at = Date.now() - 5 * 60_000;
    const ts = (ms: number) => new Date(at + ms).toISOString();
    const web = (name: string, ms: number, visitor: string, session: string, extra: Record<string, unknown> = {}, payload: Record<string, unknown> = {}) =>
      webEvent({ event_name: name, occurred_at: ts(ms), visitor_id: visitor, session_id: session, entities: { ...ent, ...extra }, payload });

    // Her browsing: visitor 1 in two sessions, visitor 2 in a third; a bystander on the same event.
    const cart = { items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], cart_value: 100, currency: 'EUR' };
    const mine = [
      web('event_view', 0, v1, s1, {}, { price_from: 50, currency: 'EUR' }),
      web('event_view', 1000, v1, s2, {}, { price_from: 50, currency: 'EUR' }),
      web('add_to_cart', 2000, v1, s2, { cart_id: `cart-${tag}` }, cart),
      web('checkout_started', 3000, v1, s2, { cart_id: `cart-${tag}` }, { cart_value: 100, currency: 'EUR' }),
      web('event_view', 4000, v2, s3, {}, { price_from: 50, currency: 'EUR' }),
    ];
    const bystander = [web('event_view', 500, `v-by-${tag}`, `s-by-${tag}`, {}, { price_from: 50, currency: 'EUR' }), web('add_to_cart', 1500, `v-by-${tag}`, `s-by-${tag}`, { cart_id: `cart-by-${tag}` }, cart)];
    // A validator rejection carrying her visitor id and her phone outside payload.customer.
    const invalid = web('add_to_cart', 2500, v1, s2, {}, { cart_value: 'lots', contact: { phone } });
    const r0 = await batch(base, t, [...mine, ...bystander, invalid]);
    expect(r0.json).toMatchObject({ accepted: mine.length + bystander.length, rejected: [{ index: mine.length + bystander.length }] });
    // The order (with consent, links visitor 1) and a login (links visitor 2).
    const orderEv = orderEvent({
      occurred_at: ts(6000), visitor_id: v1, session_id: s2, entities: { ...ent, order_id: order, cart_id: `cart-${tag}` },
      payload: { gross_amount: 100, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], consent_data_processing: true, customer: { external_id: ext, email, phone } },
    });
    expect((await serverEvents(base, t, { events: [orderEv] })).json).toMatchObject({ accepted: 1 });
    expect((await identify(base, t, { visitor_id: v2, external_id: ext, phone })).json.linked).toBe(true);
    // Rejected bodies of odd shapes, with her ids and her phone.
    const odd = await postJson(`${base}/api/tx/events/batch`, { events: { x: { visitor_id: v2, payload: { customer: { phone } } } } }, { 'x-tx-key': t.write_key });
    expect(odd.status).toBe(400);
    const wrongSource = await serverEvents(base, t, { event_name: 'order_completed', event_id: crypto.randomUUID(), source_system: 'web', session_id: s3, entities: ent, payload: { customer: { external_id: ext, phone } } });
    expect(wrongSource.json.rejected).toHaveLength(1);
    const notJson = await postJson(`${base}/api/tx/events/batch`, `[{"session_id":"${s1}","note":"call me on ${phone}"`, { 'x-tx-key': t.write_key });
    expect(notJson.status).toBe(400);

    // Contact data was never stored in clear, on any path (rejected bodies included).
    const rawPhone = [phone, phone.replace(/ /g, ''), digits];
    expect(await whereIs(server.db, rawPhone)).toEqual({});
    expect(await whereIs(server.db, [email])).toEqual({});

    const pid = (await api(base, t, 'GET', `/api/v1/persons?external_id=${ext}`)).json.person_id;
    const ex = await api(base, t, 'GET', `/api/v1/persons/${pid}/export`);
    expect(ex.json.visitor_ids.sort()).toEqual([v1, v2].sort());
    expect(ex.json.counts).toMatchObject({ events: mine.length + 1, sessions: 3, identity_links: 2, rejected_events: 4 });

    // Live numbers counted her; Redis holds her pseudonyms; the data directory holds her ids.
    const auth = t.secret_key;
    const liveOf = async (url = base) => ({
      event: (await liveRest(url, '/api/v1/live/events/AE1', auth)).json.data,
      dashboard: (await liveRest(url, '/api/v1/live/dashboard/AORG', auth)).json.data,
    });
    await until(async () => (await liveOf()).event.funnel.orders === 1);
    expect((await liveOf()).event.funnel.unique_visitors).toBe(3);
    const k = `${PREFIX}${t.tenant_id}:analytics:`;
    const pv = [v1, v2].map((v) => pseudo(t.tenant_id, 'visitor', v));
    const probe = async (key: string, member: string) => {
      const tmp = `${PREFIX}probe:${crypto.randomUUID()}`;
      await redis.pfmerge(tmp, key);
      const n = await redis.pfadd(tmp, member);
      await redis.del(tmp);
      return n;
    };
    await until(async () => (await probe(`${k}event:AE1:uv`, pv[1])) === 0);
    const ids = [v1, v2, s1, s2, s3, ext, order];
    const pgdata = path.join(server.dataDir, 'pgdata');
    // Planner statistics (store.analyze, every 5 min) sample column values, her ids among them.
    await server.db.exec('ANALYZE');
    await server.db.exec('CHECKPOINT');
    expect(filesHolding(pgdata, ids).length).toBeGreaterThan(0);
    expect(filesHolding(server.dataDir, rawPhone)).toEqual([]);

    // --- erase ---
    const del = await api(base, t, 'DELETE', `/api/v1/persons/${pid}`);
    expect(del.status).toBe(200);
    expect(del.json.removed).toMatchObject({ events: mine.length + 1, sessions: 3, identity_links: 2, rejected_events: 4, persons: 1 });
    expect(del.json.removed.disk.vacuumed).toBeGreaterThan(0);

    // Export finds nothing; no row of any table holds her ids, contact data or its digests.
    expect((await api(base, t, 'GET', `/api/v1/persons/${pid}/export`)).status).toBe(410);
    const digests = [sha(email), sha(`40${digits}`)];
    expect(await whereIs(server.db, [...ids, ...rawPhone, email, ...digests])).toEqual({});
    // The HyperLogLogs forgot her visitors (PFADD answers 1 again); the bystander is still counted.
    for (const key of [`${k}event:AE1:uv`, `${k}org:AORG:uv`]) {
      for (const p of pv) expect(await probe(key, p)).toBe(1);
      expect(await probe(key, pseudo(t.tenant_id, 'visitor', `v-by-${tag}`))).toBe(0);
    }
    // Live totals equal the store's history totals, and count only the bystander.
    const after = await liveOf();
    expect(after.event.funnel).toMatchObject({ views: 1, unique_visitors: 1, add_to_carts: 1, checkouts_started: 0, orders: 0, tickets_sold: 0 });
    expect(after.event.revenue).toEqual({});
    const hist = (await liveRest(base, '/api/v1/live/events/AE1/history?minutes=60', auth)).json.series as Record<string, number>[];
    for (const f of ['views', 'add_to_carts', 'checkouts_started', 'orders', 'tickets_sold']) {
      expect([f, after.event.funnel[f]]).toEqual([f, hist.reduce((n, p) => n + p[f], 0)]);
    }
    // No file of the data directory holds her ids or phone any more (heap, indexes, WAL), nor after two restarts.
    expect(filesHolding(server.dataDir, [...ids, ...rawPhone])).toEqual([]);
    for (let i = 0; i < 2; i++) {
      const dataDir = server.dataDir;
      await server.close();
      server = await bootServer({ ...env, DATA_DIR: dataDir });
      expect(filesHolding(server.dataDir, [...ids, ...rawPhone])).toEqual([]);
    }
    expect((await liveOf(server.url)).event.funnel).toEqual(after.event.funnel);
  });
});
