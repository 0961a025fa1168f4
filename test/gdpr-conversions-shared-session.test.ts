// GDPR export and erasure of server-side conversions touch only the person's own rows when a session or a
// visitor id is shared with someone else (a box-office till, a shared device: README "Sessions, identity and
// GDPR" — a session can hold someone else's events). A person's outbox rows and attributions are those of their
// own events (or stamped with them); another buyer's rows in the same session or from the same visitor id stay
// whole and are still sent. On both stores.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, getJson, postEvents, request, tmpDir, until, type Tenant } from './helpers.js';
import { addCode, auth, CUSTOMER, dispatchNow, metaCode, providerEnv, purchase } from './conversions-helpers.js';
import { startMockPlatforms, type MockPlatforms } from './mock-platforms/index.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

interface OutboxRow { id: string; event_id: string; provider: string; status: string; person_id: string | null; session_id: string | null; data: Record<string, unknown>; user_data: unknown }

describe.each(['embedded', 'postgres'])('GDPR: conversions of people sharing a session or a visitor id (%s store)', (store) => {
  let scratch: ScratchDatabase | undefined;
  let mock: MockPlatforms;
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;

  beforeAll(async () => {
    if (store === 'postgres') scratch = await scratchDatabase('gdpr_conv_shared');
    mock = await startMockPlatforms();
    server = await bootServer({ ...providerEnv(mock), DATA_DIR: tmpDir(), ...(scratch ? { DATABASE_URL: scratch.url } : {}) });
    base = server.url;
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await mock?.close();
    await scratch?.drop();
  });

  const outbox = async (t: Tenant) => (await server.db.query<OutboxRow>(
    `SELECT id::text AS id, event_id::text AS event_id, provider, status, person_id::text AS person_id, session_id, data, user_data
     FROM conversion_outbox WHERE tenant_id = $1 ORDER BY id`, [t.tenant_id])).rows;
  const attributions = async (t: Tenant) => (await server.db.query<{ event_id: string; person_id: string | null; session_id: string | null; visitor_id: string | null }>(
    `SELECT event_id::text AS event_id, person_id::text AS person_id, session_id, visitor_id FROM conversion_attributions WHERE tenant_id = $1 ORDER BY event_id`, [t.tenant_id])).rows;
  const personOf = (t: Tenant, externalId: string) => until(async () => {
    const p = await getJson(`${base}/api/v1/persons?external_id=${externalId}`, auth(t));
    return p.status === 200 ? p.json : null;
  }, 60_000, 200);

  /**
   * A tenant with a Meta and a TikTok code for organizer O1, and two orders of two buyers with `shared` in
   * common, in one request or one after the other: Meta acknowledges (sent rows), TikTok answers 429
   * {"code":40100} (its rows stay pending).
   */
  async function twoBuyers(name: string, shared: { session_id: string; visitor_x: string; visitor_y: string }, oneRequest = true) {
    const t = await createTenant(base, name);
    await addCode(base, t, metaCode('121212121212121', 'O1'));
    await addCode(base, t, { provider: 'tiktok', organizer_id: 'O1', settings: { pixel_id: 'D17TA5JC77UDOT6CA5FG' }, secrets: { access_token: 'tt' } });
    const x = purchase({ visitor_id: shared.visitor_x, session_id: shared.session_id }, { customer: { ...CUSTOMER, external_id: `${name}-X`, email: 'x@example.com' } });
    const y = purchase({ visitor_id: shared.visitor_y, session_id: shared.session_id }, { customer: { ...CUSTOMER, external_id: `${name}-Y`, email: 'y@example.com' } });
    // Scripted before the orders exist: the scheduled dispatcher (every 5 s) may send them before the test's
    // own run, and a TikTok row it delivered would never be pending (the wait below timed out on a busy CI).
    mock.script('tiktok', Array(1000).fill(429));
    if (oneRequest) expect((await postEvents(base, t, [x, y])).accepted).toBe(2);
    else for (const o of [x, y]) expect((await postEvents(base, t, [o])).accepted).toBe(1);
    const px = (await personOf(t, `${name}-X`)).person_id;
    const py = (await personOf(t, `${name}-Y`)).person_id;
    await until(async () => (await outbox(t)).length === 4 && (await attributions(t)).length === 2, 60_000, 100);
    await until(async () => {
      await dispatchNow(base);
      const rows = await outbox(t);
      return rows.filter((r) => r.provider === 'meta').every((r) => r.status === 'sent') && rows.filter((r) => r.provider === 'tiktok').every((r) => r.status === 'pending');
    }, 120_000, 200);
    return { t, x, y, px, py };
  }

  /** Y's rows are as they were before X's erasure, and Y's pending TikTok row is still delivered. */
  async function yUntouched(t: Tenant, y: Record<string, any>, before: { outbox: OutboxRow[]; attributions: unknown[] }) {
    const mine = (rows: OutboxRow[]) => rows.filter((r) => r.event_id === y.event_id);
    expect(mine(await outbox(t))).toEqual(mine(before.outbox));
    expect(mine(before.outbox).map((r) => [r.provider, r.status]).sort()).toEqual([['meta', 'sent'], ['tiktok', 'pending']]);
    const tiktok = mine(await outbox(t)).find((r) => r.provider === 'tiktok')!;
    expect(tiktok.data).toMatchObject({ order_id: y.entities.order_id, visitor_id: y.visitor_id, ip: y.context.ip });
    expect(tiktok.user_data).not.toBeNull();
    expect((await attributions(t)).filter((a) => a.event_id === y.event_id)).toEqual(before.attributions.filter((a: any) => a.event_id === y.event_id));
    // Still sendable: once TikTok accepts again (its back-off skipped), Y's purchase is delivered.
    mock.script('tiktok', []);
    await server.db.query(`UPDATE conversion_outbox SET next_at = now() WHERE tenant_id = $1 AND status = 'pending'`, [t.tenant_id]);
    await until(async () => {
      await dispatchNow(base);
      return mine(await outbox(t)).every((r) => r.status === 'sent');
    }, 120_000, 200);
    expect(mock.received.some((r) => r.provider === 'tiktok' && r.accepted && r.ids.includes(y.entities.order_id))).toBe(true);
  }

  it('two buyers in one session: the export of one lists only its rows, and its erasure leaves the other\'s pending and sent rows and attribution whole', { timeout: 300_000 }, async () => {
    const { t, x, y, px, py } = await twoBuyers(`conv-shs-${store}`, { session_id: 'box-office-1', visitor_x: 'visX', visitor_y: 'visY' });

    const ex = await getJson(`${base}/api/v1/persons/${px}/export`, auth(t));
    expect(ex.status).toBe(200);
    expect(ex.json.conversion_outbox.map((r: any) => r.event_id)).toEqual([x.event_id, x.event_id]);
    expect(JSON.stringify(ex.json.conversion_outbox)).not.toMatch(/visY/);
    expect(ex.json.conversion_attributions.map((r: any) => r.event_id)).toEqual([x.event_id]);

    const before = { outbox: await outbox(t), attributions: await attributions(t) };
    const del = await request('DELETE', `${base}/api/v1/persons/${px}`, undefined, auth(t));
    expect(del.status).toBe(200);
    expect(del.json.removed).toMatchObject({ conversion_outbox: 2, conversion_attributions: 1 });

    // X's: the pending row gone, the sent one stripped to where and when; the attribution gone.
    const xs = (await outbox(t)).filter((r) => r.event_id === x.event_id);
    expect(xs).toHaveLength(1);
    expect(xs[0]).toMatchObject({ provider: 'meta', status: 'sent', data: {}, user_data: null, person_id: null, session_id: null });
    expect((await attributions(t)).map((a) => a.event_id)).toEqual([y.event_id]);
    expect((await getJson(`${base}/api/v1/persons/${py}`, auth(t))).status).toBe(200);
    await yUntouched(t, y, before);
  });

  // One after the other (a till's sales), and in one request: there the buyers' rows carry each its own buyer even
  // where the first order's link of the device stamped the second order's stored event too.
  it.each([['one after the other', false], ['in one request', true]] as const)('two buyers on one box-office device (one visitor id, one session), sold %s: erasing one leaves the other\'s rows and attribution whole', { timeout: 300_000 }, async (_how, oneRequest) => {
    const { t, x, y, px, py } = await twoBuyers(`conv-shv-${oneRequest ? 1 : 2}-${store}`, { session_id: 'box-office-2', visitor_x: 'box-device', visitor_y: 'box-device' }, oneRequest);

    const ex = await getJson(`${base}/api/v1/persons/${py}/export`, auth(t));
    expect(ex.json.conversion_outbox.map((r: any) => r.event_id)).toEqual([y.event_id, y.event_id]);
    expect(ex.json.conversion_attributions.map((r: any) => r.event_id)).toEqual([y.event_id]);
    const exX = await getJson(`${base}/api/v1/persons/${px}/export`, auth(t));
    expect(exX.json.conversion_outbox.map((r: any) => r.event_id)).toEqual([x.event_id, x.event_id]);
    expect(exX.json.conversion_attributions.map((r: any) => r.event_id)).toEqual([x.event_id]);

    const before = { outbox: await outbox(t), attributions: await attributions(t) };
    const del = await request('DELETE', `${base}/api/v1/persons/${px}`, undefined, auth(t));
    expect(del.json.removed).toMatchObject({ conversion_outbox: 2, conversion_attributions: 1 });
    expect((await attributions(t)).map((a) => a.event_id)).toEqual([y.event_id]);
    await yUntouched(t, y, before);
  });

  it('a row of the person\'s own visitor whose event is already gone (retention) is still theirs; a shared session does not make another\'s row theirs', { timeout: 300_000 }, async () => {
    const { t, x, y, px } = await twoBuyers(`conv-shr-${store}`, { session_id: 'box-office-3', visitor_x: 'visX3', visitor_y: 'visY3' });
    // X's order as a row queued unstamped whose event retention dropped: only X's visitor id still ties it to X.
    await server.db.query(`UPDATE conversion_outbox SET person_id = NULL WHERE tenant_id = $1 AND event_id = $2`, [t.tenant_id, x.event_id]);
    await server.db.query(`UPDATE conversion_attributions SET person_id = NULL WHERE tenant_id = $1 AND event_id = $2`, [t.tenant_id, x.event_id]);
    await server.db.query(`DELETE FROM tx_events WHERE tenant_id = $1 AND event_id = $2`, [t.tenant_id, x.event_id]);

    const ex = await getJson(`${base}/api/v1/persons/${px}/export`, auth(t));
    expect(ex.json.conversion_outbox.map((r: any) => r.event_id)).toEqual([x.event_id, x.event_id]);
    expect(ex.json.conversion_attributions.map((r: any) => r.event_id)).toEqual([x.event_id]);
    const before = { outbox: await outbox(t), attributions: await attributions(t) };
    const del = await request('DELETE', `${base}/api/v1/persons/${px}`, undefined, auth(t));
    expect(del.json.removed).toMatchObject({ conversion_outbox: 2, conversion_attributions: 1 });
    expect((await outbox(t)).filter((r) => r.event_id === x.event_id).map((r) => [r.status, r.data])).toEqual([['sent', {}]]);
    expect((await attributions(t)).map((a) => a.event_id)).toEqual([y.event_id]);
    await yUntouched(t, y, before);
  });
});
