// Remarketing audience bodies checked against what each audience type and platform can use (README "Remarketing
// audiences"): a criteria field another audience type takes is refused (a segment_id on ticket_buyers used to be
// stored and left pointing at a segment deleted since); a lookalike's seed is an audience of its own platform (a
// Meta lookalike of a Google Ads audience used to be accepted and then refused by every sync); lookalike_country
// is an assigned ISO 3166-1 alpha-2 code ("ZZ" was taken); and the export carries only the identifiers the
// audience's platform takes, in its form (a Google Ads export carried Meta-form phone digests).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, postEvents, webEvent, type Tenant } from './helpers.js';
import { api, identify, sha256 } from './identity-helpers.js';

const DAY = 86_400_000;

describe('remarketing audience validation', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  const call = (method: string, p: string, body?: unknown) => api(base, t, method, p, body);
  const create = (body: Record<string, unknown>) => call('POST', '/api/v1/remarketing-audiences', body);

  beforeAll(async () => {
    server = await bootServer();
    base = server.url;
    t = await createTenant(base, 'remarketing-validation');
    const at = new Date(Date.now() - DAY).toISOString();
    // w1: email and phone; w2: a phone only; w3: an email only. All viewed E1 yesterday.
    expect((await postEvents(base, t, [1, 2, 3].map((i) => webEvent({ visitor_id: `wv${i}`, session_id: `ws${i}`, occurred_at: at })))).rejected).toEqual([]);
    const who: Record<number, Record<string, string>> = { 1: { email: 'w1@example.org', phone: '+40 712 345 678' }, 2: { phone: '+40 722 000 111' }, 3: { email: 'w3@example.org' } };
    for (const i of [1, 2, 3]) expect((await identify(base, t, { visitor_id: `wv${i}`, external_id: `w${i}`, ...who[i] })).status).toBe(200);
    expect((await call('PUT', '/api/v1/catalog/persons', { items: [1, 2, 3].map((i) => ({ id: `w${i}`, marketing_consent: true })) })).status).toBe(200);
  }, 180_000);
  afterAll(async () => {
    await server?.close();
  });

  it('refuses a criteria field the audience type does not take, naming it and the type that takes it', async () => {
    const seg = await call('POST', '/api/v1/segments', { name: 'viewers', filters: { did: 'event_view', within_days: 7 } });
    expect(seg.status).toBe(201);
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ audience_type: 'ticket_buyers', criteria: { segment_id: seg.json.id } }, 'criteria.segment_id', /custom_segment/],
      [{ audience_type: 'ticket_buyers', criteria: { lookalike_percentage: 5, segment_id: seg.json.id } }, 'criteria.lookalike_percentage', /lookalike/],
      [{ audience_type: 'website_visitors', criteria: { segment_version: 1 } }, 'criteria.segment_version', /custom_segment/],
      [{ audience_type: 'cart_abandoners', criteria: { lookalike_country: 'RO' } }, 'criteria.lookalike_country', /lookalike/],
      [{ audience_type: 'event_viewers', event_id: 'E1', criteria: { lookalike_source_id: 1 } }, 'criteria.lookalike_source_id', /lookalike/],
      [{ audience_type: 'lookalike', criteria: { lookalike_source_id: 1, segment_id: seg.json.id } }, 'criteria.segment_id', /custom_segment/],
      [{ audience_type: 'lookalike', criteria: { lookalike_source_id: 1, time_window_days: 7 } }, 'criteria.time_window_days', /ticket_buyers/],
      [{ audience_type: 'custom_segment', criteria: { segment_id: seg.json.id, exclude_purchasers: true } }, 'criteria.exclude_purchasers', /website_visitors/],
      [{ audience_type: 'custom_segment', criteria: { segment_id: seg.json.id, source_events: ['event_view'] } }, 'criteria.source_events', /event_viewers/],
    ];
    for (const [body, field, takes] of cases) {
      const r = await create({ platform: 'meta', ...body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error).toMatchObject({ code: 'invalid_field', field });
      expect(r.json.error.message, field).toMatch(takes);
    }
    // Nothing of the refused bodies was kept: the segment is no audience's source and can go.
    const list = await call('GET', '/api/v1/remarketing-audiences');
    expect(list.json.audiences.filter((a: any) => a.criteria.segment_id !== undefined)).toEqual([]);
    expect((await call('DELETE', `/api/v1/segments/${seg.json.id}`)).status).toBe(200);
    // The fields of its own type are taken.
    expect((await create({ platform: 'meta', audience_type: 'ticket_buyers', criteria: { time_window_days: 7, exclude_purchasers: false } })).status).toBe(201);
  });

  it("refuses a lookalike whose seed is another platform's audience at creation (its sync could never create it)", async () => {
    const google = await create({ platform: 'google_ads', audience_type: 'event_viewers', event_id: 'E1' });
    expect(google.status).toBe(201);
    const r = await create({ platform: 'meta', audience_type: 'lookalike', account_id: 'act_555', criteria: { lookalike_source_id: google.json.id, lookalike_country: 'RO' } });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'invalid_field', field: 'criteria.lookalike_source_id' });
    expect(r.json.error.message).toContain(`audience ${google.json.id} is a google_ads audience`);
    const meta = await create({ platform: 'meta', audience_type: 'event_viewers', event_id: 'E1' });
    const tiktok = await create({ platform: 'tiktok', audience_type: 'lookalike', criteria: { lookalike_source_id: meta.json.id } });
    expect(tiktok.json.error).toMatchObject({ code: 'invalid_field', field: 'criteria.lookalike_source_id' });
    expect((await create({ platform: 'meta', audience_type: 'lookalike', account_id: 'act_555', criteria: { lookalike_source_id: meta.json.id, lookalike_country: 'RO' } })).status).toBe(201);
    expect((await create({ platform: 'google_ads', audience_type: 'lookalike', criteria: { lookalike_source_id: google.json.id } })).status).toBe(201);
  });

  it('takes only an assigned ISO 3166-1 alpha-2 code as lookalike_country', async () => {
    const seed = await create({ platform: 'meta', audience_type: 'event_viewers', event_id: 'E1' });
    const lal = (country: unknown) => create({ platform: 'meta', audience_type: 'lookalike', criteria: { lookalike_source_id: seed.json.id, lookalike_country: country } });
    for (const bad of ['ZZ', 'zz', 'UK', 'EU', 'XK', 'AA', 'QM', 'XA', 'ROU', 'R', 5]) {
      const r = await lal(bad);
      expect(r.status, String(bad)).toBe(400);
      expect(r.json.error.field).toBe('criteria.lookalike_country');
    }
    expect((await lal('ZZ')).json.error.message).toContain('"ZZ" is not an assigned country code');
    for (const [good, stored] of [['gb', 'GB'], ['RO', 'RO'], ['ax', 'AX'], ['SS', 'SS'], ['zw', 'ZW']]) {
      const r = await lal(good);
      expect(r.status, good).toBe(201);
      expect(r.json.criteria.lookalike_country).toBe(stored);
    }
  });

  it("exports the identifiers each platform takes, in its form: phones (Meta's digits without '+') to Meta only", async () => {
    const all = async (id: number, limit: number) => {
      const rows: Record<string, string | null>[] = [];
      for (let cursor = ''; ;) {
        const r = await call('GET', `/api/v1/remarketing-audiences/${id}/export?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(r.status).toBe(200);
        rows.push(...r.json.identifiers);
        if (!r.json.next_cursor) return rows;
        cursor = r.json.next_cursor;
      }
    };
    const emails = [sha256('w1@example.org'), sha256('w3@example.org')].sort();
    const meta = await create({ platform: 'meta', audience_type: 'event_viewers', event_id: 'E1' });
    const m = await all(meta.json.id, 1000);
    expect(m).toHaveLength(3);
    for (const row of m) expect(Object.keys(row).sort()).toEqual(['email_sha256', 'phone_sha256']);
    expect(m.map((r) => r.phone_sha256).filter(Boolean).sort()).toEqual([sha256('40712345678'), sha256('40722000111')].sort());
    for (const platform of ['google_ads', 'tiktok']) {
      const a = await create({ platform, audience_type: 'event_viewers', event_id: 'E1' });
      expect(a.json.member_count).toBe(3);
      for (const limit of [1000, 1]) {
        const rows = await all(a.json.id, limit);
        // The phone-only member has nothing this platform takes: not in its export.
        for (const row of rows) expect(Object.keys(row), platform).toEqual(['email_sha256']);
        expect(rows.map((r) => r.email_sha256).sort(), `${platform} limit ${limit}`).toEqual(emails);
      }
    }
  });
});
