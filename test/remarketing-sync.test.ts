// Remarketing sync safety (issue 14 probe), against a stand-in for Meta's Graph API that checks each request:
// a GDPR erasure reaches the platform for every audience (auto_refresh off, expired, deleted before its next
// sync); deleting an audience removes its members from the platform first and, when the platform fails, keeps
// the removals for the job; an expired audience stays expired; one sync per audience at a time; a lookalike is
// created on Meta from its synced seed (never uploaded members); references that match nothing are refused;
// consent withdrawn counts at the next sync; bot events never make a segment member.
import { beforeAll, describe, expect, it } from 'vitest';
import { createTenant, postEvents, webEvent } from './helpers.js';
import { api, identify, sha256 } from './identity-helpers.js';
import { jsonStandIn, remarketingApp } from './remarketing-helpers.js';

const DAY = 86_400_000;
const HEX64 = /^[0-9a-f]{64}$/;

interface Seen {
  method: string;
  path: string;
  body: any;
}

/** Meta's Graph API as the adapters use it: /users uploads and lookalike creation, each checked for its format. */
async function graph() {
  const seen: Seen[] = [];
  const failing = new Set<string>();
  const held = new Map<string, () => void>();
  const hold = new Set<string>();
  const srv = await jsonStandIn((req, body, reply) => {
    const bad = (message: string) => reply(400, { error: { message, type: 'OAuthException', code: 100 } });
    seen.push({ method: req.method!, path: req.url!, body });
    if (req.headers.authorization !== 'Bearer meta-token') return reply(401, { error: { message: 'token', code: 190 } });
    const users = /^\/v25\.0\/([^/]+)\/users$/.exec(req.url!);
    if (users) {
      const id = users[1];
      if (!['POST', 'DELETE'].includes(req.method!)) return bad('method');
      if (!['EMAIL_SHA256', 'PHONE_SHA256'].includes(body?.payload?.schema) || !body.payload.data.every((d: string) => HEX64.test(d))) return bad('payload');
      if (id.startsWith('LAL')) return bad('Users cannot be added to or removed from a lookalike audience');
      if (failing.has(id)) return bad('Invalid audience');
      const answer = () => reply(200, { audience_id: id, num_received: body.payload.data.length, num_invalid_entries: 0 });
      if (hold.has(id)) return void held.set(id, answer);
      return answer();
    }
    const lal = /^\/v25\.0\/act_(\d+)\/customaudiences$/.exec(req.url!);
    if (lal && req.method === 'POST') {
      const spec = body?.lookalike_spec;
      if (body?.subtype !== 'LOOKALIKE' || typeof body.origin_audience_id !== 'string' || !body.name) return bad('subtype, origin_audience_id and name');
      if (typeof spec?.ratio !== 'number' || spec.ratio < 0.01 || spec.ratio > 0.2 || !/^[A-Z]{2}$/.test(spec.country)) return bad('lookalike_spec');
      return reply(200, { id: `LAL${body.origin_audience_id}` });
    }
    return reply(404, { error: { message: 'unknown path', code: 803 } });
  });
  return { ...srv, seen, failing, hold, held };
}

describe('remarketing sync safety', () => {
  const app = remarketingApp('remarketing-sync', graph, (url) => ({ META_GRAPH_URL: url }));
  const { call, refresh: job } = app;
  const pid: Record<string, number> = {};
  const mk = (ext: string, extra: Record<string, unknown> = {}) =>
    call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'event_viewers', event_id: 'E1', external_audience_id: ext, ...extra });
  const sync = (id: number) => call('POST', `/api/v1/remarketing-audiences/${id}/sync`);
  const to = (ext: string, method: string) => app.mock.seen.filter((r) => r.path === `/v25.0/${ext}/users` && r.method === method).flatMap((r) => r.body.payload.data as string[]);
  const email = (n: string) => sha256(`${n}@example.org`);

  beforeAll(async () => {
    const iso = (ms: number) => new Date(ms).toISOString();
    const now = Date.now();
    // q1..q4 view E1 yesterday; q5's only cart is a bot's (a crawler's user agent).
    const web = [
      ...[1, 2, 3, 4].map((i) => webEvent({ visitor_id: `qv${i}`, session_id: `qs${i}`, occurred_at: iso(now - DAY) })),
      webEvent({ event_name: 'add_to_cart', visitor_id: 'qv5', session_id: 'qs5', occurred_at: iso(now - DAY), context: { user_agent: 'Googlebot/2.1 (+http://www.google.com/bot.html)' }, entities: { event_entity_id: 'E1', cart_id: 'c5' }, payload: { items: [{ ticket_type_id: 'GA', qty: 1 }], cart_value: 50, currency: 'EUR' } }),
    ];
    expect((await postEvents(app.base, app.t, web)).rejected).toEqual([]);
    for (const i of [1, 2, 3, 4, 5]) pid[`q${i}`] = (await identify(app.base, app.t, { visitor_id: `qv${i}`, external_id: `q${i}`, email: `q${i}@example.org` })).json.person_id;
    await call('PUT', '/api/v1/catalog/persons', { items: [1, 2, 3, 4, 5].map((i) => ({ id: `q${i}`, marketing_consent: true })) });
    expect((await call('POST', '/api/v1/tracking-codes', { provider: 'meta', settings: { pixel_id: '123456789012345' }, secrets: { access_token: 'meta-token' } })).status).toBe(201);
  }, 180_000);

  it('an erasure reaches the platform for audiences without auto_refresh, expired ones and ones deleted before their next sync', async () => {
    const manual = await mk('8001', { auto_refresh: false });
    const expiring = await mk('8002', { expires_at: new Date(Date.now() + 3_600_000).toISOString() });
    const doomed = await mk('8003');
    for (const a of [manual, expiring, doomed]) expect((await sync(a.json.id)).json).toMatchObject({ ok: true, added: 4 });
    await app.server.db.query("UPDATE remarketing_audiences SET expires_at = now() - interval '1 minute' WHERE id = $1", [expiring.json.id]);
    await job();
    expect((await call('GET', `/api/v1/remarketing-audiences/${expiring.json.id}`)).json.status).toBe('expired');

    expect((await call('DELETE', `/api/v1/persons/${pid.q1}`)).status).toBe(200);
    // Deleting an audience first tells the platform to drop everything it was sent, the erased person's too.
    const del = await call('DELETE', `/api/v1/remarketing-audiences/${doomed.json.id}`);
    expect(del.json).toMatchObject({ deleted: true, platform_removed: 4, pending: false });
    expect(to('8003', 'DELETE').sort()).toEqual(['q1', 'q2', 'q3', 'q4'].map(email).sort());
    expect((await app.server.db.query('SELECT 1 FROM remarketing_audiences WHERE id = $1', [doomed.json.id])).rows).toEqual([]);

    await job();
    expect(to('8001', 'DELETE')).toEqual([email('q1')]);
    expect(to('8002', 'DELETE')).toEqual([email('q1')]);
    // Removal-only: the expired audience stays expired, and nothing is added anywhere.
    expect((await call('GET', `/api/v1/remarketing-audiences/${expiring.json.id}`)).json.status).toBe('expired');
    const left = await app.server.db.query<{ n: number }>('SELECT count(*)::int AS n FROM remarketing_synced WHERE tenant_id = $1 AND person_id IS NULL', [app.t.tenant_id]);
    expect(Number(left.rows[0].n)).toBe(0);
  }, 120_000);

  it('a deletion the platform refuses is kept, hidden, and finished by the job', async () => {
    const a = await mk('8004');
    expect((await sync(a.json.id)).status).toBe(200);
    app.mock.failing.add('8004');
    const del = await call('DELETE', `/api/v1/remarketing-audiences/${a.json.id}`);
    expect(del.status).toBe(200);
    expect(del.json).toMatchObject({ deleted: true, pending: true, error: expect.stringContaining('Invalid audience') });
    expect((await call('GET', `/api/v1/remarketing-audiences/${a.json.id}`)).status).toBe(404);
    expect((await call('GET', '/api/v1/remarketing-audiences?limit=1000')).json.audiences.some((x: any) => x.id === a.json.id)).toBe(false);
    expect(to('8004', 'DELETE').sort()).toEqual(['q2', 'q3', 'q4'].map(email).sort()); // refused
    // Binding the platform audience again meanwhile: a 409 that says the deleted one still holds it, not "synced by" an audience that answers 404.
    const again = await mk('8004');
    expect(again.status).toBe(409);
    expect(again.json.error).toMatchObject({ field: 'external_audience_id', message: expect.stringMatching(/deleted and awaiting its removal from meta: try again once the daily remarketing\.refresh job/) });
    app.mock.failing.delete('8004');
    app.mock.seen.length = 0;
    await job();
    expect(to('8004', 'DELETE').sort()).toEqual(['q2', 'q3', 'q4'].map(email).sort());
    expect((await app.server.db.query('SELECT 1 FROM remarketing_audiences WHERE id = $1', [a.json.id])).rows).toEqual([]);
    expect((await mk('8004')).status).toBe(201);
  }, 120_000);

  it('a manual sync of an expired audience is a 409 and it stays expired', async () => {
    const a = await mk('8006');
    await app.server.db.query("UPDATE remarketing_audiences SET status = 'expired' WHERE id = $1", [a.json.id]);
    const r = await sync(a.json.id);
    expect(r.status).toBe(409);
    expect(r.json.error).toMatchObject({ code: 'conflict', message: expect.stringMatching(/expired/), audience: { status: 'expired' } });
    expect(app.mock.seen.some((s) => s.path === '/v25.0/8006/users')).toBe(false);
    // Its expires_at passed before the daily job ran: refused all the same (and marked expired), nothing sent.
    const b = await mk('8007', { expires_at: new Date(Date.now() + 3_600_000).toISOString() });
    await app.server.db.query("UPDATE remarketing_audiences SET expires_at = now() - interval '1 minute' WHERE id = $1", [b.json.id]);
    const late = await sync(b.json.id);
    expect({ status: late.status, audience: late.json.error?.audience?.status }).toEqual({ status: 409, audience: 'expired' });
    expect(app.mock.seen.some((s) => s.path === '/v25.0/8007/users')).toBe(false);
    // One already past at creation is refused, naming expires_at.
    const past = await mk('8008', { expires_at: '2020-01-01T00:00:00Z' });
    expect({ status: past.status, field: past.json.error?.field }).toEqual({ status: 400, field: 'expires_at' });
  });

  it('one sync of an audience at a time: a second one (or a delete) meanwhile is a 409, additions go once', async () => {
    const a = await mk('8005');
    app.mock.hold.add('8005');
    const first = sync(a.json.id);
    while (!app.mock.held.has('8005')) await new Promise((r) => setTimeout(r, 20));
    const second = await sync(a.json.id);
    expect(second.status).toBe(409);
    expect(second.json.error.message).toMatch(/sync in progress/);
    expect((await call('DELETE', `/api/v1/remarketing-audiences/${a.json.id}`)).status).toBe(409);
    app.mock.hold.delete('8005');
    app.mock.held.get('8005')!();
    expect((await first).json).toMatchObject({ ok: true, added: 3 });
    expect(to('8005', 'POST').sort()).toEqual(['q2', 'q3', 'q4'].map(email).sort());
  });

  it('a Meta lookalike is created from its synced seed with the percentage and country; Google and TikTok lookalikes are kept but not created there', async () => {
    const seed = await mk('8010');
    const look = await call('POST', '/api/v1/remarketing-audiences', {
      platform: 'meta', audience_type: 'lookalike', account_id: 'act_555', criteria: { lookalike_source_id: seed.json.id, lookalike_percentage: 2, lookalike_country: 'ro' },
    });
    expect(look.status).toBe(201);
    const early = await sync(look.json.id);
    expect(early.status).toBe(409);
    expect(early.json.error.message).toMatch(new RegExp(`seed audience ${seed.json.id}`));
    expect((await sync(seed.json.id)).status).toBe(200);
    const done = await sync(look.json.id);
    expect(done.json).toMatchObject({ ok: true, added: 0, audience: { status: 'active', external_audience_id: 'LAL8010' } });
    const created = app.mock.seen.filter((r) => r.path === '/v25.0/act_555/customaudiences');
    expect(created).toHaveLength(1);
    expect(created[0].body).toMatchObject({ subtype: 'LOOKALIKE', origin_audience_id: '8010', lookalike_spec: { ratio: 0.02, country: 'RO' } });
    expect(app.mock.seen.some((r) => r.path.startsWith('/v25.0/LAL'))).toBe(false);
    // Synced again: created once.
    expect((await sync(look.json.id)).status).toBe(200);
    expect(app.mock.seen.filter((r) => r.path === '/v25.0/act_555/customaudiences')).toHaveLength(1);
    for (const platform of ['google_ads', 'tiktok']) {
      // Its seed is an audience of the same platform (a Meta seed is refused: remarketing-validation.test.ts).
      const own = await call('POST', '/api/v1/remarketing-audiences', { platform, audience_type: 'event_viewers', event_id: 'E1' });
      const r = await call('POST', '/api/v1/remarketing-audiences', { platform, audience_type: 'lookalike', criteria: { lookalike_source_id: own.json.id, lookalike_country: 'RO' } });
      expect(r.status, platform).toBe(201);
      const s = await sync(r.json.id);
      expect(s.status, platform).toBe(409);
      expect(s.json.error.message).toContain(`${platform} lookalikes are not created by this server`);
    }
    // Without a country the audience is kept; Meta's call needs one, so the sync names the field.
    const noCountry = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'lookalike', account_id: 'act_555', criteria: { lookalike_source_id: seed.json.id } });
    expect(noCountry.status).toBe(201);
    const s = await sync(noCountry.json.id);
    expect(s.status).toBe(409);
    expect(s.json.error.message).toContain('criteria.lookalike_country');
    expect(app.mock.seen.filter((r) => r.path === '/v25.0/act_555/customaudiences')).toHaveLength(1);
  });

  it('refuses references that match nothing, naming the field', async () => {
    const seg = await call('POST', '/api/v1/segments', { name: 'viewers', filters: { did: 'event_view', within_days: 7 } });
    const cases: [Record<string, unknown>, string, RegExp?][] = [
      [{ audience_type: 'custom_segment', criteria: { segment_id: 99999 } }, 'criteria.segment_id'],
      [{ audience_type: 'custom_segment', criteria: { segment_id: seg.json.id, segment_version: 99 } }, 'criteria.segment_version'],
      [{ audience_type: 'website_visitors', criteria: { source_events: ['page_veiw'] } }, 'criteria.source_events', /did you mean page_view\?/],
      [{ audience_type: 'event_viewers', event_id: 'NOPE' }, 'event_id'],
    ];
    for (const [body, field, message] of cases) {
      const r = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', ...body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.field).toBe(field);
      if (message) expect(r.json.error.message).toMatch(message);
    }
    expect((await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'custom_segment', criteria: { segment_id: seg.json.id, segment_version: 1 } })).status).toBe(201);
  });

  it('consent withdrawn counts at once for the export and the next sync; a taken platform audience does not name another tenant\'s', async () => {
    const a = await mk('8020');
    expect((await sync(a.json.id)).json).toMatchObject({ ok: true, added: 3 });
    await call('PUT', '/api/v1/catalog/persons', { items: [{ id: 'q2', marketing_consent: false }] });
    const ex = (await call('GET', `/api/v1/remarketing-audiences/${a.json.id}/export`)).json.identifiers.map((r: any) => r.email_sha256);
    expect(ex.sort()).toEqual(['q3', 'q4'].map(email).sort());
    expect((await sync(a.json.id)).json).toMatchObject({ ok: true, removed: 1 });
    expect(to('8020', 'DELETE')).toEqual([email('q2')]);
    await call('PUT', '/api/v1/catalog/persons', { items: [{ id: 'q2', marketing_consent: true }] });

    const other = await createTenant(app.base, 'remarketing-other');
    const taken = await api(app.base, other, 'POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'ticket_buyers', external_audience_id: '8020' });
    expect(taken.status).toBe(409);
    expect(taken.json.error.message).not.toContain(String(a.json.id));
  });

  it('a segment a remarketing audience is built on is not deleted (409 naming the audiences); a refresh whose segment is gone keeps the members and leaves the platform alone', async () => {
    const seg = await call('POST', '/api/v1/segments', { name: 'consented', filters: { consent: 'marketing' } });
    const a = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'custom_segment', external_audience_id: '8030', criteria: { segment_id: seg.json.id, segment_version: 1 } });
    expect(a.status).toBe(201);
    const synced = await sync(a.json.id);
    expect(synced.json.added).toBeGreaterThan(0);
    const count = a.json.member_count;
    expect(count).toBeGreaterThan(0);
    const refused = await call('DELETE', `/api/v1/segments/${seg.json.id}`);
    expect(refused.status).toBe(409);
    expect(refused.json.error).toMatchObject({ code: 'conflict', field: 'id', in: 'path', remarketing_audience_ids: [a.json.id] });
    expect(refused.json.error.message).toContain(`remarketing audience ${a.json.id}`);
    expect((await call('GET', `/api/v1/segments/${seg.json.id}`)).status).toBe(200);

    // Gone all the same (deleted before this check existed, or in a race with the audience's creation): the
    // refresh records why on the audience, keeps its members and sends the platform nothing.
    await app.server.db.query('DELETE FROM segments WHERE id = $1', [seg.json.id]);
    const before = app.mock.seen.length;
    await job();
    expect(app.mock.seen.slice(before).filter((r) => r.path === '/v25.0/8030/users')).toEqual([]);
    const after = (await call('GET', `/api/v1/remarketing-audiences/${a.json.id}`)).json;
    expect(after).toMatchObject({ member_count: count, status: 'active' });
    expect(after.last_error).toMatch(new RegExp(`segment ${seg.json.id}`));
    expect((await call('GET', `/api/v1/remarketing-audiences/${a.json.id}/members`)).json.members).toHaveLength(count);
    // A sync by hand sends nothing either, and says why.
    const manual = await sync(a.json.id);
    expect(manual.status).toBe(409);
    expect(manual.json.error.message).toMatch(new RegExp(`segment ${seg.json.id}.*no longer exists`));
    expect(app.mock.seen.slice(before).filter((r) => r.path === '/v25.0/8030/users')).toEqual([]);

    // Once its audience is deleted, the segment can go.
    const seg2 = await call('POST', '/api/v1/segments', { name: 'consented 2', filters: { consent: 'marketing' } });
    const b = await call('POST', '/api/v1/remarketing-audiences', { platform: 'meta', audience_type: 'custom_segment', criteria: { segment_id: seg2.json.id } });
    expect((await call('DELETE', `/api/v1/segments/${seg2.json.id}`)).status).toBe(409);
    expect((await call('DELETE', `/api/v1/remarketing-audiences/${b.json.id}`)).status).toBe(200);
    expect((await call('DELETE', `/api/v1/segments/${seg2.json.id}`)).json).toEqual({ deleted: true });
  });

  it('two members sharing an email: the digest goes up once, and stays while one of them is still a member', async () => {
    const now = Date.now();
    const web = [6, 7].map((i) => webEvent({ visitor_id: `qv${i}`, session_id: `qs${i}`, occurred_at: new Date(now - DAY).toISOString(), entities: { event_entity_id: 'E3' } }));
    expect((await postEvents(app.base, app.t, web)).rejected).toEqual([]);
    for (const i of [6, 7]) pid[`q${i}`] = (await identify(app.base, app.t, { visitor_id: `qv${i}`, external_id: `q${i}`, email: i === 6 ? ' Shared@Example.org' : 'shared@example.org' })).json.person_id;
    expect(pid.q6).not.toBe(pid.q7);
    await call('PUT', '/api/v1/catalog/persons', { items: [6, 7].map((i) => ({ id: `q${i}`, marketing_consent: true })) });
    const a = await mk('8040', { event_id: 'E3' });
    expect(a.json.member_count).toBe(2);
    expect((await sync(a.json.id)).json).toMatchObject({ ok: true, added: 1, removed: 0 });
    expect(to('8040', 'POST')).toEqual([email('shared')]);
    // Either one withdrawing leaves the digest where it is: the other still holds it.
    for (const who of ['q6', 'q7']) {
      await call('PUT', '/api/v1/catalog/persons', { items: [{ id: who, marketing_consent: false }] });
      expect((await sync(a.json.id)).json, who).toMatchObject({ ok: true, added: 0, removed: 0 });
      expect(to('8040', 'DELETE'), who).toEqual([]);
      expect(to('8040', 'POST'), who).toEqual([email('shared')]);
      await call('PUT', '/api/v1/catalog/persons', { items: [{ id: who, marketing_consent: true }] });
      expect((await sync(a.json.id)).json, who).toMatchObject({ ok: true, added: 0, removed: 0 });
    }
    // One of them erased: the digest stays, now the other's (the job's removal pass finds nothing to remove).
    const holder = async () => (await app.server.db.query<{ person_id: string | null }>('SELECT person_id FROM remarketing_synced WHERE audience_id = $1', [a.json.id])).rows.map((r) => Number(r.person_id));
    expect(await holder()).toEqual([Math.min(pid.q6, pid.q7)]);
    const first = pid.q6 < pid.q7 ? 'q6' : 'q7';
    expect((await call('DELETE', `/api/v1/persons/${pid[first]}`)).status).toBe(200);
    await job();
    expect((await sync(a.json.id)).json).toMatchObject({ ok: true, added: 0, removed: 0 });
    expect(to('8040', 'DELETE')).toEqual([]);
    expect(await holder()).toEqual([Math.max(pid.q6, pid.q7)]);
    // The last holder gone: removed once.
    await call('PUT', '/api/v1/catalog/persons', { items: [{ id: first === 'q6' ? 'q7' : 'q6', marketing_consent: false }] });
    expect((await sync(a.json.id)).json).toMatchObject({ ok: true, added: 0, removed: 1 });
    expect(to('8040', 'DELETE')).toEqual([email('shared')]);
  });

  it('a segment\'s did filter ignores bot-flagged events', async () => {
    const s = await call('POST', '/api/v1/segments', { name: 'carted', filters: { did: 'add_to_cart', within_days: 7 } });
    expect(s.status).toBe(201);
    const m = (await call('GET', `/api/v1/segments/${s.json.id}/members`)).json.members.map((x: { person_id: number }) => x.person_id);
    expect(m).not.toContain(pid.q5);
    expect(s.json.size_estimate).toBe(0);
  });
});
