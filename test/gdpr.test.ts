// GDPR export and erasure of a person, end to end: the export is complete, and afterwards no row, spooled
// record or rejected event holds any of their ids; the erased person cannot come back.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eraseFromSpool } from '../server/gdpr/match.js';
import type { PersonIds } from '../server/gdpr/registry.js';
import { createSpool } from '../server/store/spool.js';
import type { EventRow } from '../server/store/events.js';
import { bootServer, createTenant, eventsOf, orderEvent, silent, tmpDir, until, webEvent, wireDatabase, type Tenant } from './helpers.js';
import { api, batch, identify, minutesAgo, serverEvents, sha256, spoolText, whereIs } from './identity-helpers.js';

describe('GDPR export and erasure', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'gdpr');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('exports everything about a person, then erases it everywhere and refuses to bring it back', async () => {
    const v = 'v-maria-7f3a';
    const email = 'maria.ionescu@example.org';
    // Two browsing sessions, one of them with an event the validator rejects (kept with its raw body).
    const browsing = [
      webEvent({ visitor_id: v, session_id: 's-maria-1', occurred_at: minutesAgo(240), event_name: 'page_view', entities: {}, payload: {}, context: { page: { path: '/' } } }),
      webEvent({ visitor_id: v, session_id: 's-maria-1', occurred_at: minutesAgo(239) }),
      webEvent({ visitor_id: v, session_id: 's-maria-2', occurred_at: minutesAgo(120) }),
    ];
    const invalid = webEvent({ visitor_id: v, session_id: 's-maria-2', occurred_at: minutesAgo(119), event_name: 'add_to_cart', payload: { cart_value: 'lots' } });
    const r0 = await batch(base, t, [...browsing, invalid]);
    expect(r0.json).toMatchObject({ accepted: 3, rejected: [{ index: 3 }] });
    // An earlier order without data-processing consent: not linked, but it is still her data.
    const unconsented = orderEvent({ occurred_at: minutesAgo(300), entities: { order_id: 'O-maria-0', event_entity_id: 'E1' }, payload: { gross_amount: 5, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], customer: { external_id: 'cust-maria', email } } });
    const order = orderEvent({ visitor_id: v, session_id: 's-maria-2', occurred_at: minutesAgo(110), entities: { order_id: 'O-maria-1', event_entity_id: 'E1' }, payload: { gross_amount: 80, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2 }], consent_data_processing: true, customer: { external_id: 'cust-maria', email, city: 'Iasi' } } });
    const payment = { event_id: crypto.randomUUID(), event_name: 'payment_succeeded', occurred_at: minutesAgo(109), entities: { order_id: 'O-maria-1' }, payload: { provider: 'stripe', amount: 80, currency: 'EUR' } };
    const points = { event_id: crypto.randomUUID(), event_name: 'points_earned', occurred_at: minutesAgo(108), payload: { points: 80, customer_external_id: 'cust-maria' } };
    const rejectedServer = { event_name: 'refund_completed', event_id: crypto.randomUUID(), occurred_at: minutesAgo(100), visitor_id: v, entities: { order_id: 'O-maria-1' }, payload: { amount: 'all' } };
    const r1 = await serverEvents(base, t, { events: [unconsented, order, payment, points, rejectedServer] });
    expect(r1.json).toMatchObject({ accepted: 4, rejected: [{ index: 4 }] });

    // Someone else, who must not be touched.
    const other = [webEvent({ visitor_id: 'v-other', session_id: 's-other', occurred_at: minutesAgo(50) })];
    await batch(base, t, other);
    await identify(base, t, { visitor_id: 'v-other', external_id: 'cust-other' });

    const pid = (await api(base, t, 'GET', '/api/v1/persons?external_id=cust-maria')).json.person_id;
    expect(typeof pid).toBe('number');

    // --- export: complete ---
    const ex = await api(base, t, 'GET', `/api/v1/persons/${pid}/export`);
    expect(ex.status).toBe(200);
    expect(ex.json.person).toMatchObject({ person_id: pid, external_id: 'cust-maria', email_sha256: sha256(email), city: 'Iasi' });
    const mine = [...browsing, unconsented, order, payment, points].map((e) => e.event_id as string);
    expect(ex.json.events.map((e: any) => e.event_id).sort()).toEqual([...mine].sort());
    expect(ex.json.events.filter((e: any) => e.event_name === 'order_completed').map((e: any) => e.entities.order_id).sort()).toEqual(['O-maria-0', 'O-maria-1']);
    expect(ex.json.events.every((e: any) => e.visitor_id !== 'v-other')).toBe(true);
    expect(ex.json.sessions.map((s: any) => s.session_id).sort()).toEqual(['s-maria-1', 's-maria-2']);
    expect(ex.json.identity_links).toEqual([expect.objectContaining({ visitor_id: v, link_source: 'order_completed', order_id: 'O-maria-1' })]);
    expect(ex.json.rejected_events.map((r: any) => r.event_id).sort()).toEqual([invalid.event_id, rejectedServer.event_id].sort());
    // The feature store's tables about the person (README "Feature store"), holding only their rows.
    expect(Object.keys(ex.json.features)).toEqual(expect.arrayContaining(['fs_person_daily', 'fs_person_affinity_artist', 'fs_person_affinity_genre']));
    for (const rows of Object.values(ex.json.features)) for (const r of rows as { person_id: number }[]) expect(r.person_id).toBe(pid);
    expect(ex.json.features.fs_person_daily.length).toBeGreaterThan(0);
    expect(ex.json.counts).toEqual({ events: 7, sessions: 2, identity_links: 1, rejected_events: 2 });

    // --- erase ---
    const del = await api(base, t, 'DELETE', `/api/v1/persons/${pid}`);
    expect(del.status).toBe(200);
    expect(del.json).toMatchObject({
      person_id: pid,
      removed: { events: 7, sessions: 2, identity_links: 1, rejected_events: 2, persons: 1, spooled_records: 0, visitors: 1 },
    });
    // (The idempotency ledger keeps the bare random event ids, so a retry cannot store an erased event again.)
    const needles = [v, 's-maria-1', 's-maria-2', 'cust-maria', 'O-maria-0', 'O-maria-1', sha256(email), email];
    expect(await whereIs(server.db, needles)).toEqual({});
    const ledgerOnly = await whereIs(server.db, mine);
    expect(Object.keys(ledgerOnly)).toEqual(['tx_event_ids']);
    expect((await server.db.query('SELECT 1 FROM tx_events WHERE person_id = $1', [pid])).rows).toHaveLength(0);
    expect(spoolText(server.dataDir)).not.toContain(v);
    // Nothing of anyone else went.
    expect((await eventsOf(base, t, 'visitor_id=v-other')).map((e) => e.event_id)).toEqual([other[0].event_id]);
    expect((await api(base, t, 'GET', '/api/v1/sessions/s-other')).status).toBe(200);

    expect((await api(base, t, 'GET', `/api/v1/persons/${pid}`)).status).toBe(404);
    expect((await api(base, t, 'GET', `/api/v1/persons/${pid}/export`)).status).toBe(410);
    const again = await api(base, t, 'DELETE', `/api/v1/persons/${pid}`);
    expect(again.json).toMatchObject({ person_id: pid, already_erased: true, removed: { events: 7 } });

    // --- cannot come back: late copies of her past (an SDK's offline queue, a retried webhook) are stored
    // anonymised and link nothing; retries of stored events are duplicates.
    const lateWeb = webEvent({ visitor_id: v, session_id: 's-maria-2', occurred_at: minutesAgo(115) });
    const lateOrder = orderEvent({ visitor_id: v, occurred_at: minutesAgo(105), entities: { order_id: 'O-maria-2', event_entity_id: 'E1' }, payload: { gross_amount: 1, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, customer: { external_id: 'cust-maria', email } } });
    expect((await batch(base, t, [lateWeb])).json.accepted).toBe(1);
    expect((await serverEvents(base, t, lateOrder)).json.accepted).toBe(1);
    expect((await serverEvents(base, t, order)).json.duplicates).toBe(1);
    expect((await api(base, t, 'GET', '/api/v1/persons?external_id=cust-maria')).status).toBe(404);
    expect(await whereIs(server.db, [v, 'cust-maria', sha256(email)])).toEqual({});
    const anon = (await eventsOf(base, t)).find((e) => e.event_id === lateWeb.event_id)!;
    expect([anon.visitor_id, anon.session_id, anon.person_id, anon.context.anonymised]).toEqual([undefined, undefined, null, true]);
    // A login with the same customer id is evidence from after the erasure: a new person, never the old id.
    const fresh = await identify(base, t, { visitor_id: 'v-maria-new-device', external_id: 'cust-maria' });
    expect(fresh.json.linked).toBe(true);
    expect(fresh.json.person_id).not.toBe(pid);
  });

  it('exports and erases the campaign credits of the person\'s orders; others\' stay', async () => {
    const order = orderEvent({ visitor_id: 'v-credit', entities: { order_id: 'O-credit-1', event_entity_id: 'E1' }, payload: { gross_amount: 80, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2 }], consent_data_processing: true, customer: { external_id: 'cust-credit' } } });
    expect((await serverEvents(base, t, order)).json.accepted).toBe(1);
    const credit = 'INSERT INTO campaign_credits (tenant_id, order_id, campaign_id, revenue, tickets, matched_by, occurred_at) VALUES ($1, $2, 1, 80, 2, \'utm\', now())';
    await server.db.query(credit, [t.tenant_id, 'O-credit-1']);
    await server.db.query(credit, [t.tenant_id, 'O-credit-other']);
    const pid = (await api(base, t, 'GET', '/api/v1/persons?external_id=cust-credit')).json.person_id;
    const ex = await api(base, t, 'GET', `/api/v1/persons/${pid}/export`);
    expect(ex.json.campaign_credits).toEqual([expect.objectContaining({ order_id: 'O-credit-1', revenue: 80, tickets: 2 })]);
    expect((await api(base, t, 'DELETE', `/api/v1/persons/${pid}`)).json.removed.campaign_credits).toBe(1);
    const left = await server.db.query<{ order_id: string }>('SELECT order_id FROM campaign_credits WHERE tenant_id = $1', [t.tenant_id]);
    expect(left.rows.map((r) => r.order_id)).toEqual(['O-credit-other']);
  });

  it('answers 404 for unknown persons and 400 for malformed ids, a leading zero included (01 never erases person 1)', async () => {
    expect((await api(base, t, 'GET', '/api/v1/persons/987654/export')).status).toBe(404);
    expect((await api(base, t, 'DELETE', '/api/v1/persons/abc')).status).toBe(400);
    const zero = await identify(base, t, { visitor_id: 'v-zero', external_id: 'cust-zero' });
    const padded = await api(base, t, 'DELETE', `/api/v1/persons/0${zero.json.person_id}`);
    expect(padded.status).toBe(400);
    expect(padded.json.error).toMatchObject({ field: 'person_id', in: 'path' });
    expect((await api(base, t, 'GET', `/api/v1/persons/${zero.json.person_id}/export`)).status).toBe(200);
    const t2 = await createTenant(base, 'gdpr-other-tenant');
    const a = await identify(base, t, { visitor_id: 'v-iso', external_id: 'cust-iso' });
    // Another tenant cannot see or erase it.
    expect((await api(base, t2, 'GET', `/api/v1/persons/${a.json.person_id}/export`)).status).toBe(404);
    expect((await api(base, t2, 'DELETE', `/api/v1/persons/${a.json.person_id}`)).status).toBe(404);
  });
});

describe('GDPR erasure reaches the local spool', () => {
  it('rewrites spooled records: the person\'s events and rejected bodies go, everything else stays', async () => {
    const dir = tmpDir('txl-spool-');
    const spool = createSpool(dir, 10_000_000, silent);
    const row = (o: Partial<EventRow>): EventRow => ({
      event_id: crypto.randomUUID(), event_name: 'event_view', event_version: 1, occurred_at: new Date().toISOString(), received_at: new Date().toISOString(),
      sent_at: null, tenant_id: 1, site_id: null, source_system: 'web', visitor_id: 'v-keep', session_id: 's-keep', sequence_no: null, prev_event_id: null,
      person_id: null, consent_snapshot: {}, context: {}, entities: {}, payload: {}, idempotency_key: null, is_bot: false, ...o,
    });
    const keep = row({});
    const otherTenant = row({ tenant_id: 2, visitor_id: 'v-gone' });
    // Another person's event in the person's session stays: a session id is never matched.
    const sameSession = row({ visitor_id: 'v-other', session_id: 's-gone', person_id: 43 });
    await spool.append({ events: [row({ visitor_id: 'v-gone' }), row({ visitor_id: null, session_id: 's-gone', person_id: 42 }), sameSession], rejected: [] });
    await spool.append({ events: [keep, row({ visitor_id: null, session_id: null, source_system: 'backend', event_name: 'order_completed', payload: { customer: { external_id: 'c-gone' } } }), otherTenant], rejected: [] });
    await spool.append({
      events: [row({ source_system: 'payments', visitor_id: null, session_id: null, entities: { order_id: 'O-gone' } })],
      rejected: [
        { tenant_id: 1, event_id: null, event_name: 'add_to_cart', raw_body: JSON.stringify({ visitor_id: 'v-gone' }), reasons: [], received_at: new Date().toISOString() },
        { tenant_id: 1, event_id: null, event_name: 'add_to_cart', raw_body: JSON.stringify({ visitor_id: 'v-keep' }), reasons: [], received_at: new Date().toISOString() },
      ],
    });
    const ids: PersonIds = { tenantId: 1, personId: 42, externalId: 'c-gone', emailSha256: null, phoneSha256: null, visitorIds: ['v-gone'], sessionIds: ['s-gone'], orderIds: ['O-gone'], eventIds: [] };
    expect(await eraseFromSpool(spool, ids)).toBe(3);
    const text = fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('');
    expect(text).not.toMatch(/c-gone|O-gone/);
    const left: EventRow[] = [];
    const rejected: string[] = [];
    await spool.drain(async (records) => {
      for (const r of records) {
        left.push(...r.events);
        rejected.push(...r.rejected.map((x) => x.raw_body));
      }
    });
    expect(left.map((e) => e.event_id).sort()).toEqual([keep.event_id, otherTenant.event_id, sameSession.event_id].sort());
    expect(rejected).toEqual([JSON.stringify({ visitor_id: 'v-keep' })]);
    await spool.close();
  });

  // A wire database and a boot (minutes on a loaded machine), then waits of up to 30 s each.
  it('end to end: events spooled while the database was down are erased with the person', { timeout: 240_000 }, async () => {
    const pg = await wireDatabase();
    const server = await bootServer({ DATABASE_URL: pg.url, DATABASE_POOL_MAX: '1', ENCRYPTION_KEY: 'cd'.repeat(32) });
    try {
      const t = await createTenant(server.url, 'spooled');
      const v = 'v-spooled-9c1';
      const linked = await identify(server.url, t, { visitor_id: v, external_id: 'cust-spooled' });
      await batch(server.url, t, [webEvent({ visitor_id: v, session_id: 's-sp-1', occurred_at: minutesAgo(20) })]);

      await pg.stop();
      const down = await batch(server.url, t, [
        webEvent({ visitor_id: v, session_id: 's-sp-2', occurred_at: minutesAgo(2) }),
        webEvent({ visitor_id: 'v-bystander', session_id: 's-by', occurred_at: minutesAgo(2) }),
      ]);
      expect(down.json.accepted).toBe(2);
      expect(spoolText(server.dataDir)).toContain(v);
      await pg.start();

      // The erasure races the spool replay on purpose: whichever wins, nothing of the person may remain.
      const del = await until(async () => {
        const r = await api(server.url, t, 'DELETE', `/api/v1/persons/${linked.json.person_id}`);
        return r.status === 200 ? r : null;
      }, 30_000, 200);
      expect(del.json.removed.identity_links).toBe(1);
      // Two of the person's events existed: one stored, one spooled (or both stored if the replay won).
      expect(del.json.removed.events + del.json.removed.spooled_records).toBe(2);
      await until(async () => server.sink.status().spoolBytes === 0 && server.sink.status().storeUp, 30_000, 100);
      await until(async () => (await eventsOf(server.url, t, 'visitor_id=v-bystander')).length === 1, 30_000, 100);
      expect(await whereIs(server.db, [v, 's-sp-1', 's-sp-2', 'cust-spooled'])).toEqual({});
      expect(spoolText(server.dataDir)).not.toContain(v);
    } finally {
      await server.close();
      await pg.close();
    }
  });
});
