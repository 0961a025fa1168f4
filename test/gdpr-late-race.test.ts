// A late copy of an erased person's past committed while the erasure runs, on a PostgreSQL server (README "Sessions,
// identity and GDPR" → GDPR: late copies are stored without visitor, session or customer data and never sent to an
// ad platform). The order of the two transactions is forced, not timed: the erasure is held open right after it
// deleted the person's identity links; the writer's commit then waits on those links (its identity look-up locks
// them); only once it is seen waiting does the erasure go on and commit. The embedded store runs one transaction at
// a time and cannot interleave them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, eventsOf, silent, type Tenant } from './helpers.js';
import { addCode, ENCRYPTION_KEY, metaCode, purchase } from './conversions-helpers.js';
import { api, identify, minutesAgo, serverEvents } from './identity-helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';
import { erasureHeldAfterLinks, sentWhileWaitingOnLinks } from './gdpr-race-helpers.js';

describe('a late copy committed during its person\'s erasure (PostgreSQL)', () => {
  let scratch: ScratchDatabase | undefined;
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;

  beforeAll(async () => {
    scratch = await scratchDatabase('gdpr_late_race');
    // Nothing may leave for a real ad platform: the dispatcher's Meta endpoint is a closed local port.
    server = await bootServer({ DATABASE_URL: scratch.url, ENCRYPTION_KEY, META_GRAPH_URL: 'http://127.0.0.1:9' });
    t = await createTenant(server.url, 'gdpr-late-race');
    await addCode(server.url, t, metaCode('111122223333444', null));
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await scratch?.drop();
  });

  it('is stored anonymised, opens no session and queues nothing for Meta', { timeout: 120_000 }, async () => {
    const v = 'v-race-5e1';
    const linked = await identify(server.url, t, { visitor_id: v, external_id: 'cust-race' });
    expect(linked.json.linked).toBe(true);

    const { erasing, release } = await erasureHeldAfterLinks(server.db, t.tenant_id, linked.json.person_id);

    // A retried purchase of their past (it occurred before the erasure), with their browser's ids.
    const late = purchase({
      visitor_id: v, session_id: 's-race-1', occurred_at: minutesAgo(5),
      context: { ip: '203.0.113.0', user_agent: 'Mozilla/5.0', click_ids: { fbclid: 'FBRACE' }, fbp: 'fb.1.1.RACE', page: { url: 'https://tickets.example/e/E1?fbclid=FBRACE' } },
    }, { customer: { external_id: 'cust-race', email: 'race@example.org' } });
    // Released only once the writer's identity look-up waits on the links the erasure deleted.
    const { sent, settled } = await sentWhileWaitingOnLinks(server.db, () => serverEvents(server.url, t, late));
    expect(settled()).toBe(false);
    release();
    const report = await erasing;
    expect(report?.removed).toMatchObject({ identity_links: 1, persons: 1 });
    expect((await sent).json.accepted).toBe(1);

    const stored = (await eventsOf(server.url, t)).find((e) => e.event_id === late.event_id)!;
    expect(stored).toBeDefined();
    expect(stored.visitor_id ?? null).toBeNull();
    expect(stored.session_id ?? null).toBeNull();
    expect(stored.person_id).toBeNull();
    expect(stored.context).toEqual({ page: { url: 'https://tickets.example/e/E1' }, is_bot: false, anonymised: true });
    expect(stored.payload.customer).toBeUndefined();
    // No session of theirs again (the sessions API waits for the projector), nothing for an ad platform.
    expect((await api(server.url, t, 'GET', '/api/v1/sessions/s-race-1')).status).toBe(404);
    const outbox = await server.db.query('SELECT 1 FROM conversion_outbox WHERE tenant_id = $1', [t.tenant_id]);
    expect(outbox.rows).toHaveLength(0);
    expect((await server.db.query("SELECT 1 FROM tx_events WHERE tenant_id = $1 AND (visitor_id = $2 OR context::text LIKE '%FBRACE%')", [t.tenant_id, v])).rows).toHaveLength(0);
  });
});
