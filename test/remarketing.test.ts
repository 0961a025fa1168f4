// Remarketing audiences end to end on the embedded store (README "Remarketing audiences"): visitors resolved to
// persons through identity links, cart abandoners without later buyers, lookalike and segment audiences,
// consent withdrawal and expiry at the next refresh, the digest-only export, and the sync to Meta, Google and
// TikTok against one local stand-in that checks each documented request (retry after a 500, add then remove
// deltas after a GDPR erase).
import crypto from 'node:crypto';
import path from 'node:path';
import type http from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { filesHolding, orderEvent, postEvents, webEvent } from './helpers.js';
import { identify, sha256 } from './identity-helpers.js';
import { jsonStandIn, remarketingApp } from './remarketing-helpers.js';

const DAY = 86_400_000;
const HEX64 = /^[0-9a-f]{64}$/;

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** One stand-in for the three platforms: records every request, fails the first Meta call with a 500. */
async function platforms() {
  const seen: Seen[] = [];
  let metaCalls = 0;
  const srv = await jsonStandIn((req, body, reply) => {
    seen.push({ method: req.method!, path: req.url!, headers: req.headers, body });
    if (req.url!.startsWith('/v25.0/6666/')) return reply(400, { error: { message: 'Invalid audience', type: 'OAuthException', code: 100 } });
    if (req.url!.endsWith('/users')) {
      if (metaCalls++ === 0) return reply(500, { error: { message: 'temporary', code: 2 } });
      return reply(200, { audience_id: '6001', num_received: body.payload.data.length, num_invalid_entries: 0 });
    }
    if (req.url!.startsWith('/v1/audienceMembers:')) return reply(200, { requestId: crypto.randomUUID() });
    if (req.url!.startsWith('/open_api/v1.3/segment/mapping/')) return reply(200, { code: 0, message: 'OK', request_id: 'r', data: {} });
    return reply(404, {});
  });
  return { ...srv, seen };
}

describe('remarketing audiences', () => {
  const app = remarketingApp('remarketing', platforms, (url) => ({ META_GRAPH_URL: url, GOOGLE_DATAMANAGER_URL: url, TIKTOK_API_URL: url }));
  const { call, refresh } = app;
  const pid: Record<string, number> = {};
  const members = async (id: number) => (await call('GET', `/api/v1/remarketing-audiences/${id}/members`)).json.members.map((m: { person_id: number }) => m.person_id).sort((a: number, b: number) => a - b);
  const ids = (...names: string[]) => names.map((n) => pid[n]).sort((a, b) => a - b);

  beforeAll(async () => {
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    // r1..r3 view E1 yesterday; r2..r4 carted E1 two days ago; r3 bought E1 yesterday (after carting); v5 never logs in.
    const web = [
      ...[1, 2, 3, 5].map((i) => webEvent({ visitor_id: `rv${i}`, session_id: `rs${i}`, occurred_at: iso(now - DAY) })),
      ...[2, 3, 4].map((i) => webEvent({ event_name: 'add_to_cart', visitor_id: `rv${i}`, session_id: `rc${i}`, occurred_at: iso(now - 2 * DAY), entities: { event_entity_id: 'E1', cart_id: `c${i}` }, payload: { items: [{ ticket_type_id: 'GA', qty: 1 }], cart_value: 50, currency: 'EUR' } })),
    ];
    expect((await postEvents(app.base, app.t, web)).rejected).toEqual([]);
    for (const i of [1, 2, 3, 4]) {
      const r = await identify(app.base, app.t, { visitor_id: `rv${i}`, external_id: `r${i}`, email: ` R${i}@Example.org `, ...(i === 1 ? { phone: '+40 712 345 678' } : {}) });
      pid[`r${i}`] = r.json.person_id;
    }
    const order = orderEvent({ occurred_at: iso(now - DAY + 60_000), entities: { order_id: 'O-r3', event_entity_id: 'E1' }, payload: { gross_amount: 50, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1 }], consent_data_processing: true, customer: { external_id: 'r3' } } });
    expect((await postEvents(app.base, app.t, [order])).accepted).toBe(1);
    await call('PUT', '/api/v1/catalog/persons', { items: [1, 2, 3, 4].map((i) => ({ id: `r${i}`, marketing_consent: true })) });
    // The marketplace's platform tokens, on its tracking codes.
    for (const code of [
      { provider: 'meta', settings: { pixel_id: '123456789012345' }, secrets: { access_token: 'meta-token' } },
      { provider: 'google_ads', settings: { conversion_id: 'AW-123456789', conversion_label: 'AbC-1' }, secrets: { access_token: 'google-token' } },
      { provider: 'tiktok', settings: { pixel_id: 'D17TA5JC77UDOT6CA5FG' }, secrets: { access_token: 'tiktok-token' } },
    ]) expect((await call('POST', '/api/v1/tracking-codes', code)).status).toBe(201);
  }, 180_000);

  it('builds each type from behaviour resolved through identity links; cart abandoners exclude later buyers', async () => {
    const viewers = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'event_viewers', event_id: 'E1', criteria: { time_window_days: 7 } });
    expect(viewers.status).toBe(201);
    expect(viewers.json).toMatchObject({ status: 'ready', member_count: 3, criteria: { source_events: ['event_view'], min_actions: 1 } });
    expect(await members(viewers.json.id)).toEqual(ids('r1', 'r2', 'r3'));
    const carts = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'cart_abandoners', event_id: 'E1', criteria: { time_window_days: 7 } });
    expect(await members(carts.json.id)).toEqual(ids('r2', 'r4'));
    const buyers = await call('POST', '/api/v1/remarketing-audiences', { platform: 'tiktok', audience_type: 'ticket_buyers', criteria: { time_window_days: 7 } });
    expect(await members(buyers.json.id)).toEqual(ids('r3'));
    const notBuyers = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'event_viewers', event_id: 'E1', criteria: { exclude_purchasers: true } });
    expect(await members(notBuyers.json.id)).toEqual(ids('r1', 'r2'));
    const short = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'cart_abandoners', criteria: { time_window_days: 1 } });
    expect(short.json.member_count).toBe(0);
    // A lookalike's members are the platform's to compute from the seed (remarketing-sync.test.ts): none here.
    const metaBuyers = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'ticket_buyers', criteria: { time_window_days: 7 } });
    const look = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'lookalike', criteria: { lookalike_source_id: metaBuyers.json.id, lookalike_percentage: 3, lookalike_country: 'ro' } });
    expect(look.json).toMatchObject({ member_count: 0, criteria: { lookalike_percentage: 3, lookalike_country: 'RO' } });
    const seg = await call('POST', '/api/v1/segments', { name: 'carted', filters: { did: 'add_to_cart', within_days: 7 } });
    const custom = await call('POST', '/api/v1/remarketing-audiences', { platform: 'google_ads', audience_type: 'custom_segment', criteria: { segment_id: seg.json.id } });
    expect(await members(custom.json.id)).toEqual(ids('r2', 'r3', 'r4'));
  });

  it('exports normalised SHA-256 digests only', async () => {
    const a = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'event_viewers', event_id: 'E1' });
    const ex = await call('GET', `/api/v1/remarketing-audiences/${a.json.id}/export`);
    expect(ex.status).toBe(200);
    for (const row of ex.json.identifiers) expect(Object.keys(row).sort()).toEqual(['email_sha256', 'phone_sha256']);
    const emails = ex.json.identifiers.map((r: { email_sha256: string }) => r.email_sha256).sort();
    expect(emails).toEqual(['r1', 'r2', 'r3'].map((n) => sha256(`${n}@example.org`)).sort());
    expect(ex.json.identifiers.find((r: { phone_sha256: string | null }) => r.phone_sha256)?.phone_sha256).toBe(sha256('40712345678'));
  });

  it('drops a person whose consent was withdrawn and expires audiences at the next refresh', async () => {
    const a = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'event_viewers', event_id: 'E1' });
    const old = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'event_viewers', event_id: 'E1', expires_at: new Date(Date.now() + 60_000).toISOString() });
    await app.server.db.query("UPDATE remarketing_audiences SET expires_at = now() - interval '1 minute' WHERE id = $1", [old.json.id]);
    await call('PUT', '/api/v1/catalog/persons', { items: [{ id: 'r1', marketing_consent: false }] });
    expect(await members(a.json.id)).toContain(pid.r1);
    await refresh();
    expect(await members(a.json.id)).toEqual(ids('r2', 'r3'));
    expect((await call('GET', `/api/v1/remarketing-audiences/${a.json.id}`)).json).toMatchObject({ member_count: 2, status: 'ready' });
    expect((await call('GET', `/api/v1/remarketing-audiences/${old.json.id}`)).json.status).toBe('expired');
    await call('PUT', '/api/v1/catalog/persons', { items: [{ id: 'r1', marketing_consent: true }] });
  });

  it('a sync the platform refuses answers 502 platform_error with the counts and the audience, and is not audited as done', async () => {
    const bad = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'event_viewers', event_id: 'E1', external_audience_id: '6666' });
    expect(bad.status).toBe(201);
    const s = await call('POST', `/api/v1/remarketing-audiences/${bad.json.id}/sync`);
    expect(s.status).toBe(502);
    expect(s.json.error).toMatchObject({ code: 'platform_error', message: expect.stringContaining('Invalid audience'), requests: 1, added: 0, audience: { id: bad.json.id, status: 'ready', error_count: 1 } });
    const audit = (await call('GET', '/api/v1/audit?limit=100')).json.audit.map((a: any) => [a.action, a.target]);
    expect(audit).toContainEqual(['remarketing.created', `remarketing_audience:${bad.json.id}`]);
    expect(audit).not.toContainEqual(['remarketing.synced', `remarketing_audience:${bad.json.id}`]);
    const listed = (await call('GET', '/api/v1/remarketing-audiences?limit=1000')).json;
    expect(listed.audiences.find((a: any) => a.id === bad.json.id)).toMatchObject({ platform: 'meta', external_audience_id: '6666', status: 'ready', error_count: 1 });
    expect((await call('DELETE', `/api/v1/remarketing-audiences/${bad.json.id}`)).status).toBe(200);
    const after = (await call('GET', '/api/v1/remarketing-audiences')).json;
    expect(after.audiences.some((a: any) => a.id === bad.json.id)).toBe(false);
    // Paged by id, each once.
    const seen: number[] = [];
    for (let next = ''; ;) {
      const page = (await call('GET', `/api/v1/remarketing-audiences?limit=1${next ? `&cursor=${next}` : ''}`)).json;
      seen.push(...page.audiences.map((a: any) => a.id));
      if (!page.next_cursor) break;
      next = page.next_cursor;
    }
    expect(seen).toEqual(after.audiences.map((a: any) => a.id));
  });

  it('syncs deltas to Meta (retrying a 500), Google Data Manager and TikTok in their documented formats; an erased person is removed next sync', async () => {
    const mk = (platform: string, extra: Record<string, string> = {}) =>
      call('POST', '/api/v1/remarketing-audiences', { platform, audience_type: 'event_viewers', event_id: 'E1', external_audience_id: '6001', ...extra });
    const meta = await mk('meta');
    const s = await call('POST', `/api/v1/remarketing-audiences/${meta.json.id}/sync`);
    expect(s.status).toBe(200);
    expect(s.json).toMatchObject({ ok: true, added: 4, removed: 0, audience: { status: 'active' } });
    const metaReqs = app.mock.seen.filter((r) => r.path === '/v25.0/6001/users');
    expect(metaReqs.length).toBe(3); // the 500, then emails, then the one phone
    for (const r of metaReqs) {
      expect(r.method).toBe('POST');
      expect(r.headers.authorization).toBe('Bearer meta-token');
      expect(['EMAIL_SHA256', 'PHONE_SHA256']).toContain(r.body.payload.schema);
      for (const d of r.body.payload.data) expect(d).toMatch(HEX64);
    }
    expect(metaReqs[2].body.payload).toEqual({ schema: 'PHONE_SHA256', data: [sha256('40712345678')] });
    expect((await call('POST', `/api/v1/remarketing-audiences/${meta.json.id}/sync`)).json).toMatchObject({ ok: true, added: 0, removed: 0, requests: 0 });

    // The customer id as Google Ads shows it: kept and sent as its 10 digits.
    const google = await mk('google_ads', { account_id: '123-456-7890' });
    expect(google.json.account_id).toBe('1234567890');
    expect((await call('POST', `/api/v1/remarketing-audiences/${google.json.id}/sync`)).json).toMatchObject({ ok: true, added: 3 });
    const g = app.mock.seen.find((r) => r.path === '/v1/audienceMembers:ingest')!;
    expect(g.headers.authorization).toBe('Bearer google-token');
    expect(g.body).toMatchObject({ destinations: [{ operatingAccount: { accountType: 'GOOGLE_ADS', accountId: '1234567890' }, productDestinationId: '6001' }], encoding: 'HEX', consent: { adUserData: 'CONSENT_GRANTED' } });
    expect(g.body.audienceMembers.map((m: any) => m.userData.userIdentifiers[0].emailAddress).sort()).toEqual(['r1', 'r2', 'r3'].map((n) => sha256(`${n}@example.org`)).sort());

    const tiktok = await mk('tiktok', { account_id: '7000' });
    expect((await call('POST', `/api/v1/remarketing-audiences/${tiktok.json.id}/sync`)).json).toMatchObject({ ok: true, added: 3 });
    const tt = app.mock.seen.find((r) => r.path === '/open_api/v1.3/segment/mapping/')!;
    expect(tt.headers['access-token']).toBe('tiktok-token');
    expect(tt.body).toMatchObject({ advertiser_ids: ['7000'], action: 'add', id_schema: ['EMAIL_SHA256'] });
    expect(tt.body.batch_data[0]).toEqual([{ id: expect.stringMatching(HEX64), audience_ids: ['6001'] }]);

    // The person's export lists what each platform holds about them: their contact digests.
    const ex = await call('GET', `/api/v1/persons/${pid.r2}/export`);
    expect(ex.json.remarketing_synced.map((r: any) => [r.platform, r.kind, r.digest]).sort()).toEqual(
      [['google_ads', 'email', sha256('r2@example.org')], ['meta', 'email', sha256('r2@example.org')], ['tiktok', 'email', sha256('r2@example.org')]].sort(),
    );
    // GDPR erase of r2: gone from every audience at once; the platforms are told at the next sync.
    const countBefore = (await call('GET', `/api/v1/remarketing-audiences/${meta.json.id}`)).json.member_count;
    expect((await call('DELETE', `/api/v1/persons/${pid.r2}`)).status).toBe(200);
    expect(await members(meta.json.id)).not.toContain(pid.r2);
    // The audience's count follows at once (it stayed at its old value until the next refresh).
    expect((await call('GET', `/api/v1/remarketing-audiences/${meta.json.id}`)).json.member_count).toBe(countBefore - 1);
    const before = app.mock.seen.length;
    expect((await call('POST', `/api/v1/remarketing-audiences/${meta.json.id}/sync`)).json).toMatchObject({ ok: true, removed: 1, added: 0 });
    const del = app.mock.seen.slice(before).find((r) => r.method === 'DELETE')!;
    expect(del.body.payload).toEqual({ schema: 'EMAIL_SHA256', data: [sha256('r2@example.org')] });
    const left = await app.server.db.query<{ n: number }>("SELECT count(*)::int AS n FROM remarketing_synced WHERE audience_id = $1 AND digest = $2", [meta.json.id, sha256('r2@example.org')]);
    expect(Number(left.rows[0].n)).toBe(0);
    // Once every platform was told, the digest is gone from the database's files too (the sync rewrote the
    // table: a plain DELETE left it in the heap and its primary key's pages).
    for (const a of [google, tiktok]) expect((await call('POST', `/api/v1/remarketing-audiences/${a.json.id}/sync`)).json).toMatchObject({ ok: true, removed: 1 });
    await app.server.db.exec('CHECKPOINT');
    expect(filesHolding(path.join(app.server.dataDir, 'pgdata', 'base'), [sha256('r2@example.org')])).toEqual([]);

    expect((await mk('tiktok', { account_id: '7000' })).status).toBe(409);
    const noAccount = await mk('tiktok', { external_audience_id: '6002' });
    const refused = await call('POST', `/api/v1/remarketing-audiences/${noAccount.json.id}/sync`);
    // Nothing could be sent (the audience's setup lacks the advertiser account): 409, with the audience.
    expect(refused.status).toBe(409);
    expect(refused.json.error).toMatchObject({ code: 'conflict', requests: 0, audience: { status: 'ready', error_count: 1 } });
    expect(refused.json.error.message).toMatch(/account_id/);
  }, 120_000);

  it('drops from an event\'s cart abandoners a buyer whose order names the cart or the event\'s ticket type, not the event', async () => {
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    await call('PUT', '/api/v1/catalog/ticket_types', { items: [{ id: 'TT7', event_id: 'E7', category: 'GA', price: 40, currency: 'EUR' }] });
    // r70..r72 cart E7 two days ago. r70's order (no event named) completes its cart; r71's order (no event, no
    // cart) is for E7's ticket type; r72 bought another event's tickets: still an E7 cart abandoner.
    const carts = [70, 71, 72].map((i) => webEvent({ event_name: 'add_to_cart', visitor_id: `rv${i}`, session_id: `rc${i}`, occurred_at: iso(now - 2 * DAY), entities: { event_entity_id: 'E7', cart_id: `c${i}` }, payload: { items: [{ ticket_type_id: 'TT7', qty: 1 }], cart_value: 40, currency: 'EUR' } }));
    expect((await postEvents(app.base, app.t, carts)).rejected).toEqual([]);
    for (const i of [70, 71, 72]) pid[`r${i}`] = (await identify(app.base, app.t, { visitor_id: `rv${i}`, external_id: `r${i}`, email: `r${i}@example.org` })).json.person_id;
    const order = (i: number, entities: Record<string, string>, ticket: string) => orderEvent({
      occurred_at: iso(now - DAY), entities: { order_id: `O-r${i}`, ...entities },
      payload: { gross_amount: 40, currency: 'EUR', items: [{ ticket_type_id: ticket, qty: 1 }], consent_data_processing: true, customer: { external_id: `r${i}` } },
    });
    expect((await postEvents(app.base, app.t, [order(70, { cart_id: 'c70' }, 'GA'), order(71, {}, 'TT7'), order(72, { event_entity_id: 'E8' }, 'GA')])).accepted).toBe(3);
    await call('PUT', '/api/v1/catalog/persons', { items: [70, 71, 72].map((i) => ({ id: `r${i}`, marketing_consent: true })) });
    const abandoners = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'cart_abandoners', event_id: 'E7', criteria: { time_window_days: 7 } });
    expect(abandoners.status, abandoners.text).toBe(201);
    expect(await members(abandoners.json.id)).toEqual(ids('r72'));
  });

  it('refuses bad bodies with 400 naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ platform: 'myspace', audience_type: 'ticket_buyers' }, 'platform'],
      [{ platform: 'meta', audience_type: 'friends' }, 'audience_type'],
      [{ platform: 'meta', audience_type: 'event_viewers' }, 'event_id'],
      [{ platform: 'meta', audience_type: 'ticket_buyers', criteria: { time_window_days: 0 } }, 'criteria.time_window_days'],
      [{ platform: 'meta', audience_type: 'ticket_buyers', criteria: { colour: 1 } }, 'criteria.colour'],
      [{ platform: 'meta', audience_type: 'lookalike', criteria: {} }, 'criteria.lookalike_source_id'],
      [{ platform: 'meta', audience_type: 'lookalike', criteria: { lookalike_source_id: 99999999, lookalike_country: 'RO' } }, 'criteria.lookalike_source_id'],
      [{ platform: 'meta', audience_type: 'lookalike', criteria: { lookalike_source_id: 1, lookalike_country: 'ROU' } }, 'criteria.lookalike_country'],
      [{ platform: 'meta', audience_type: 'lookalike', criteria: { lookalike_source_id: 1, lookalike_percentage: 11 } }, 'criteria.lookalike_percentage'],
      [{ platform: 'meta', audience_type: 'ticket_buyers', expires_at: 'tomorrow' }, 'expires_at'],
      [{ platform: 'google_ads', audience_type: 'ticket_buyers', account_id: '123-456' }, 'account_id'],
      [{ platform: 'tiktok', audience_type: 'ticket_buyers', account_id: 'adv-7000' }, 'account_id'],
    ];
    for (const [body, field] of cases) {
      const r = await call('POST', '/api/v1/remarketing-audiences', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.field).toBe(field);
    }
    expect((await call('GET', '/api/v1/remarketing-audiences/99999999')).status).toBe(404);
  });
});
