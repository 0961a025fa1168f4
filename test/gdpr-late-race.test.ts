// A late copy of an erased person's past committed while the erasure runs, on a PostgreSQL server (README "Sessions,
// identity and GDPR" → GDPR: late copies are stored without visitor, session or customer data and never sent to an
// ad platform). The order of the two transactions is forced, not timed: the erasure is held open right after it
// deleted the person's identity links; the writer's commit then waits on those links (its identity look-up locks
// them); only once it is seen waiting does the erasure go on and commit. The embedded store runs one transaction at
// a time and cannot interleave them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGdpr } from '../server/gdpr/erasure.js';
import type { GdprRegistry, PersonTable } from '../server/gdpr/registry.js';
import { createPersonDataRegistry } from '../server/person-data.js';
import type { Spool } from '../server/store/spool.js';
import { bootServer, createTenant, eventsOf, silent, type Tenant } from './helpers.js';
import { addCode, ENCRYPTION_KEY, metaCode, purchase } from './conversions-helpers.js';
import { api, identify, minutesAgo, serverEvents } from './identity-helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

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

  /** The person-data registry whose identity-links eraser stops after its delete until `release` is called. */
  function heldAfterLinks() {
    const base = createPersonDataRegistry();
    let reached!: () => void;
    let release!: () => void;
    const linksDeleted = new Promise<void>((r) => (reached = r));
    const released = new Promise<void>((r) => (release = r));
    const tables = base.tables().map((e): PersonTable => e.name !== 'identity_links' ? e : {
      ...e,
      async erase(q, ids) {
        const out = await e.erase(q, ids);
        reached();
        await released;
        return out;
      },
    });
    const registry: GdprRegistry = { ...base, tables: () => tables };
    return { registry, linksDeleted, release };
  }

  it('is stored anonymised, opens no session and queues nothing for Meta', { timeout: 120_000 }, async () => {
    const v = 'v-race-5e1';
    const linked = await identify(server.url, t, { visitor_id: v, external_id: 'cust-race' });
    expect(linked.json.linked).toBe(true);

    const { registry, linksDeleted, release } = heldAfterLinks();
    const gdpr = createGdpr({ db: server.db, spool: { pendingBytes: () => 0 } as unknown as Spool, log: silent, registry });
    const erasing = gdpr.erasePerson(t.tenant_id, linked.json.person_id);
    await linksDeleted;

    // A retried purchase of their past (it occurred before the erasure), with their browser's ids.
    const late = purchase({
      visitor_id: v, session_id: 's-race-1', occurred_at: minutesAgo(5),
      context: { ip: '203.0.113.0', user_agent: 'Mozilla/5.0', click_ids: { fbclid: 'FBRACE' }, fbp: 'fb.1.1.RACE', page: { url: 'https://tickets.example/e/E1?fbclid=FBRACE' } },
    }, { customer: { external_id: 'cust-race', email: 'race@example.org' } });
    let settled = false;
    const sent = serverEvents(server.url, t, late).finally(() => (settled = true));
    // Released only once the writer's identity look-up waits on the links the erasure deleted (or, if it never
    // waits, once the request answered: the assertions below then decide).
    for (;;) {
      if (settled) break;
      const waiting = await server.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FOR KEY SHARE%'",
      );
      if (waiting.rows[0].n > 0) break;
      await new Promise((r) => setImmediate(r));
    }
    expect(settled).toBe(false);
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
