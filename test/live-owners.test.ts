// Issue 8.3, organizer takeover: event → organizer ownership follows the first claim in commit order, survives
// a restart unchanged, moves only for a secret-key claim, and a conflicting claim is recorded and ignored.
import crypto from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postJson, tmpDir, webEvent, wireDatabase, type Tenant } from './helpers.js';
import { liveRest, mintToken } from './live-helpers.js';
import { clearOfMidnight } from './midnight.js';

type Server = Awaited<ReturnType<typeof bootServer>>;

/** Each test boots a server twice (and a wire database): minutes on a loaded machine. */
const TEST_MS = 240_000;
/** Events back-dated to the start of the day or a few seconds back: the alignment's look-back. */
const BACK_MS = 90_000;

const view = (event: string, org: string, occurredAt: number, visitor: string) =>
  webEvent({ occurred_at: new Date(occurredAt).toISOString(), visitor_id: visitor, session_id: `s-${visitor}`, entities: { event_entity_id: event, organizer_id: org } });

async function sendPublic(s: Server, t: Tenant, events: Record<string, unknown>[]) {
  const r = await postJson(`${s.url}/api/tx/events/batch`, { events }, { 'x-tx-key': t.write_key });
  expect(r.status, r.text).toBe(200);
  expect(r.json.rejected, r.text).toEqual([]);
}

async function sendServer(s: Server, t: Tenant, events: Record<string, unknown>[]) {
  const r = await postJson(`${s.url}/api/v1/server-events`, { events }, { authorization: `Bearer ${t.secret_key}` });
  expect(r.status, r.text).toBe(200);
  expect(r.json.rejected, r.text).toEqual([]);
}

const order = (event: string, org: string) => ({
  event_id: crypto.randomUUID(), event_name: 'order_completed', source_system: 'backend',
  entities: { event_entity_id: event, organizer_id: org, order_id: `o-${crypto.randomUUID().slice(0, 8)}` },
  payload: { gross_amount: 10, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1, price: 10 }] },
});

/** Status of an organizer token reading the event, and the events on that organizer's dashboard. */
async function seenBy(s: Server, t: Tenant, org: string, event: string) {
  const token = await mintToken(s.url, t, { role: 'organizer', org_id: org, ttl_s: 600 });
  const ev = await liveRest(s.url, `/api/v1/live/events/${event}`, token);
  const dash = await liveRest(s.url, `/api/v1/live/dashboard/${org}`, token);
  expect(dash.status).toBe(200);
  return { status: ev.status, code: ev.json?.error?.code ?? ev.json?.code, dashboard: (dash.json.data.events as { event_id: string }[]).map((e) => e.event_id) };
}

async function conflicts(s: Server, t: Tenant) {
  const { rows } = await s.db.query<Record<string, unknown>>(
    'SELECT event_entity_id, organizer_id, source, owner_id, claims::int AS claims FROM live_owner_conflicts WHERE tenant_id = $1 ORDER BY event_entity_id, organizer_id',
    [t.tenant_id],
  );
  return rows;
}

describe.each([['embedded'], ['pg']])('organizer takeover (issue 8.3, store: %s)', (store) => {
  // Live numbers (and the restart's recompute) cover one UTC day: a run, as long as a test may take, must
  // not straddle midnight.
  beforeEach(async () => {
    await clearOfMidnight(BACK_MS, TEST_MS);
  }, BACK_MS + TEST_MS + 30_000);

  it('a forged back-dated event_view with another organizer id does not take the event over, before or after a restart; the conflict is recorded', { timeout: TEST_MS }, async () => {
    const dataDir = tmpDir();
    const pg = store === 'pg' ? await wireDatabase() : null;
    const env = { DATA_DIR: dataDir, ...(pg ? { DATABASE_URL: pg.url, DATABASE_POOL_MAX: '1' } : {}) };
    let s = await bootServer(env);
    try {
      expect(s.db.kind).toBe(store === 'pg' ? 'postgres' : 'embedded');
      const t = await createTenant(s.url, 'owners');
      const now = Date.now();
      const dayStart = Date.parse(new Date(now).toISOString().slice(0, 10));
      // The real organizer's traffic first, then a forged row sent with the public write key, back-dated to
      // 00:00:01 today so that it comes first in occurred_at order.
      await sendPublic(s, t, [view('OWN1', 'ORG-REAL', Math.max(dayStart + 2000, now - 1000), 'real-1')]);
      await s.sink.idle();
      await sendPublic(s, t, [view('OWN1', 'ORG-FORGER', dayStart + 1000, 'forger-1')]);
      await s.sink.idle();

      const check = async () => {
        expect(await seenBy(s, t, 'ORG-REAL', 'OWN1')).toEqual({ status: 200, code: undefined, dashboard: ['OWN1'] });
        expect(await seenBy(s, t, 'ORG-FORGER', 'OWN1')).toMatchObject({ status: 403, code: 'forbidden', dashboard: [] });
        const ev = await liveRest(s.url, '/api/v1/live/events/OWN1', t.secret_key);
        // The forged view still counts as traffic of the event; only its organizer claim is ignored.
        expect(ev.json.data).toMatchObject({ organizer_id: 'ORG-REAL', funnel: { views: 2, unique_visitors: 2 } });
      };
      await check();
      // A secret-source claim cannot come with the write key: refused, so it claims nothing.
      const sneaky = await postJson(`${s.url}/api/tx/events/batch`, { events: [{ ...view('OWN1', 'ORG-FORGER', now, 'forger-3'), source_system: 'backend' }] }, { 'x-tx-key': t.write_key });
      expect(sneaky.json.accepted).toBe(0);
      expect(sneaky.json.rejected[0].errors.map((e: { code: string }) => e.code)).toContain('source_requires_secret_key');
      await s.sink.idle();
      await check();
      expect(s.live.stats().ownerConflicts).toBe(1);
      expect(await (await fetch(`${s.url}/metrics`)).text()).toMatch(/^tx_live_owner_conflicts_total 1$/m);
      expect(await conflicts(s, t)).toEqual([{ event_entity_id: 'OWN1', organizer_id: 'ORG-FORGER', source: 'public', owner_id: 'ORG-REAL', claims: 1 }]);

      await s.close();
      s = await bootServer(env);
      expect(s.live.stats().restoredFrom).toBe('store');
      await check();
      // Sending the forged claim again after the restart is counted on the same conflict row.
      await sendPublic(s, t, [view('OWN1', 'ORG-FORGER', dayStart + 1500, 'forger-2')]);
      await s.sink.idle();
      expect(await seenBy(s, t, 'ORG-FORGER', 'OWN1')).toMatchObject({ status: 403, dashboard: [] });
      expect(await conflicts(s, t)).toEqual([{ event_entity_id: 'OWN1', organizer_id: 'ORG-FORGER', source: 'public', owner_id: 'ORG-REAL', claims: 2 }]);
    } finally {
      await s.close();
      await pg?.close();
    }
  });

  it.runIf(store === 'embedded')('a secret-key claim replaces a public owner once, the move survives a restart, and a later claim is ignored', { timeout: TEST_MS }, async () => {
    const dataDir = tmpDir();
    let s = await bootServer({ DATA_DIR: dataDir });
    try {
      const t = await createTenant(s.url, 'owners2');
      // A public claim gets there first (e.g. a forger pre-claiming a new event)…
      await sendPublic(s, t, [view('OWN2', 'ORG-SQUAT', Date.now() - 2000, 'squat-1')]);
      await s.sink.idle();
      expect(await seenBy(s, t, 'ORG-SQUAT', 'OWN2')).toMatchObject({ status: 200, dashboard: ['OWN2'] });
      // …then the tenant's backend reports an order of that event for its real organizer (secret key).
      await sendServer(s, t, [order('OWN2', 'ORG-REAL')]);
      await s.sink.idle();
      const check = async (orders: number) => {
        expect(await seenBy(s, t, 'ORG-REAL', 'OWN2')).toMatchObject({ status: 200, dashboard: ['OWN2'] });
        expect(await seenBy(s, t, 'ORG-SQUAT', 'OWN2')).toMatchObject({ status: 403, code: 'forbidden', dashboard: [] });
        // What the event saw before the move (the squatter's view) moved with it.
        const dash = await liveRest(s.url, '/api/v1/live/dashboard/ORG-REAL', t.secret_key);
        expect(dash.json.data.totals.funnel).toMatchObject({ views: 1, unique_visitors: 1, orders });
      };
      await check(1);
      await s.close();
      s = await bootServer({ DATA_DIR: dataDir });
      await check(1);
      // A secret owner is final: another organizer, even from the backend, is a conflict.
      await sendServer(s, t, [order('OWN2', 'ORG-OTHER')]);
      await s.sink.idle();
      expect(await seenBy(s, t, 'ORG-OTHER', 'OWN2')).toMatchObject({ status: 403, dashboard: [] });
      // The order itself still counts for the event, and so for its real organizer.
      await check(2);
      expect(await conflicts(s, t)).toEqual([
        { event_entity_id: 'OWN2', organizer_id: 'ORG-OTHER', source: 'secret', owner_id: 'ORG-REAL', claims: 1 },
        { event_entity_id: 'OWN2', organizer_id: 'ORG-SQUAT', source: 'public', owner_id: 'ORG-REAL', claims: 1 },
      ]);
    } finally {
      await s.close();
    }
  });
});
