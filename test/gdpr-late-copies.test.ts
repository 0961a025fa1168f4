// After an erasure (README "Sessions, identity and GDPR" → GDPR): a late event known only by one of the person's
// order ids is stored anonymised and without that order id (only digests of it remain), and a new link of the old
// visitor id takes only what happened after the erasure, never rows of the erased past.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventStore, type EventRow } from '../server/store/events.js';
import { bootServer, createTenant, eventsOf, orderEvent, webEvent, type Tenant } from './helpers.js';
import { api, batch, identify, minutesAgo, serverEvents, whereIs } from './identity-helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

describe.each(['embedded', 'postgres'])('late copies of an erased person\'s past (%s store)', (store) => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let scratch: ScratchDatabase | undefined;
  let base: string;
  let t: Tenant;

  beforeAll(async () => {
    if (store === 'postgres') scratch = await scratchDatabase('gdpr_late_copies');
    server = await bootServer(scratch ? { DATABASE_URL: scratch.url } : {});
    base = server.url;
    t = await createTenant(base, 'gdpr-late-copies');
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await scratch?.drop();
  });

  /** A consented order of `customer` by visitor `v`, then its erasure; the person id. */
  async function orderThenErase(v: string, customer: string, orderId: string, at: string): Promise<number> {
    const order = orderEvent({ visitor_id: v, occurred_at: at, entities: { order_id: orderId, event_entity_id: 'E1' }, payload: { gross_amount: 40, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, customer: { external_id: customer } } });
    expect((await serverEvents(base, t, order)).json.accepted).toBe(1);
    const pid = (await api(base, t, 'GET', `/api/v1/persons?external_id=${customer}`)).json.person_id;
    expect(typeof pid).toBe('number');
    expect((await api(base, t, 'DELETE', `/api/v1/persons/${pid}`)).status).toBe(200);
    return pid;
  }

  it('an entry scan or a payment naming an erased order is stored anonymised, without the order id', async () => {
    await orderThenErase('v-scan-buyer', 'cust-scan', 'O-late-scan-1', minutesAgo(90));
    // The gate's offline queue: a scan of one of the order's tickets from before the erasure, and a payment of
    // the order reported after it. Neither carries a visitor or customer id of the person: only the order id.
    const scan = webEvent({
      source_system: 'scanner', visitor_id: 'gate-device-7', session_id: 'gate-shift-7', event_name: 'entry_granted', occurred_at: minutesAgo(60),
      entities: { event_entity_id: 'E1', ticket_id: 'T-late-scan-1', order_id: 'O-late-scan-1' },
      payload: { gate_id: 'G1', beneficiary_id: 'B-late-scan-1' },
      context: { ip: '198.51.100.7', user_agent: 'GateApp/3.1' },
    });
    expect((await batch(base, t, [scan])).json.accepted).toBe(1);
    const payment = { event_id: crypto.randomUUID(), event_name: 'payment_succeeded', occurred_at: new Date().toISOString(), entities: { order_id: 'O-late-scan-1' }, context: { ip: '198.51.100.8' }, payload: { provider: 'stripe', amount: 40, currency: 'EUR' } };
    expect((await serverEvents(base, t, payment)).json.accepted).toBe(1);

    const stored = await eventsOf(base, t);
    const s = stored.find((e) => e.event_id === scan.event_id)!;
    expect(s.visitor_id ?? null).toBeNull();
    expect(s.session_id ?? null).toBeNull();
    expect(s.person_id).toBeNull();
    expect(s.context).toEqual({ is_bot: false, anonymised: true });
    // The ticket stays (a ticket's entry counts once); the order id and the ticket holder's id go.
    expect(s.entities).toEqual({ event_entity_id: 'E1', ticket_id: 'T-late-scan-1' });
    expect(s.payload).toEqual({ gate_id: 'G1' });
    const p = stored.find((e) => e.event_id === payment.event_id)!;
    expect(p.context).toEqual({ is_bot: false, anonymised: true });
    expect(p.entities).toEqual({});
    expect(p.payload).toMatchObject({ amount: 40, currency: 'EUR' });
    // Afterwards only digests remain.
    expect(await whereIs(server.db, ['O-late-scan-1', 'B-late-scan-1', '198.51.100.7'])).toEqual({});
  });

  it('a later link of the old visitor id backfills only events and sessions from after the erasure', async () => {
    const v = 'v-relink-3c9';
    await orderThenErase(v, 'cust-relink', 'O-relink-1', minutesAgo(80));
    // What an erasure racing with a commit could leave behind (see test/gdpr-late-race.test.ts): an event of the
    // visitor from before the erasure, and its session.
    const past: EventRow = {
      event_id: crypto.randomUUID(), event_name: 'event_view', event_version: 1, occurred_at: minutesAgo(70), received_at: minutesAgo(70), sent_at: null,
      tenant_id: t.tenant_id, site_id: null, source_system: 'web', visitor_id: v, session_id: 's-relink-old', sequence_no: null, prev_event_id: null,
      person_id: null, consent_snapshot: { analytics: true }, context: {}, entities: { event_entity_id: 'E1' }, payload: {}, idempotency_key: null, is_bot: false,
    };
    await server.db.tx((q) => createEventStore().insert(q, [past]));
    await server.db.query(
      'INSERT INTO tx_sessions (tenant_id, session_id, visitor_id, first_seen_at, last_seen_at, events_count) VALUES ($1, $2, $3, $4, $4, 1)',
      [t.tenant_id, 's-relink-old', v, past.occurred_at],
    );
    // The site kept the visitor id: what it sends now is new data.
    const now = webEvent({ visitor_id: v, session_id: 's-relink-new', occurred_at: new Date().toISOString() });
    expect((await batch(base, t, [now])).json.accepted).toBe(1);

    const relinked = await identify(base, t, { visitor_id: v, external_id: 'cust-relink-2' });
    expect(relinked.json).toMatchObject({ linked: true, backfilled_events: 1, backfilled_sessions: 1 });
    const pid = relinked.json.person_id;
    const persons = await server.db.query<{ event_id: string; person_id: string | null }>(
      'SELECT event_id::text, person_id::text FROM tx_events WHERE tenant_id = $1 AND visitor_id = $2', [t.tenant_id, v],
    );
    expect(Object.fromEntries(persons.rows.map((r) => [r.event_id, r.person_id === null ? null : Number(r.person_id)]))).toEqual({
      [past.event_id]: null, [now.event_id]: pid,
    });
    expect((await api(base, t, 'GET', '/api/v1/sessions/s-relink-old')).json.person_id).toBeNull();
    expect((await api(base, t, 'GET', '/api/v1/sessions/s-relink-new')).json.person_id).toBe(pid);
  });
});
