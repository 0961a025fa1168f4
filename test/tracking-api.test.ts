// Tracking codes (issue 15 part 1): CRUD with the secret key (validation naming the field, secrets encrypted
// and never returned, audit entries, organizer-scoped keys), and the public resolution with the write key
// (event > organizer default, the marketplace's always, one per provider per owner, consent category; HTML
// snippets with the nonce on every script; CORS; cache invalidated at once on the node that changed a code).
// Runs on the embedded store and on a plain PostgreSQL 15 (fresh database per run).
import crypto from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantStore } from '../server/store/tenants.js';
import { holdWithRows } from './tracking-delivery-helpers.js';
import { bootServer, createTenant, idsAcrossDigitBoundary, getJson, request, type Tenant } from './helpers.js';
import { scratchDatabase, type ScratchDatabase } from './store-suites.js';

const META = '123456789012345';
const META2 = '1234567890123456';
const MARKET_META = '999999999999999';

describe.each([['embedded'], ['plain postgres']])('tracking codes on %s', { timeout: 120_000 }, (flavour) => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  let other: Tenant;
  let orgKey: string;
  let scratch: ScratchDatabase | undefined;
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const api = (method: string, p: string, body?: unknown, key = t.secret_key) => request(method, `${base}${p}`, body, as(key));
  const config = (q: string, headers: Record<string, string> = {}) => request('GET', `${base}/api/tx/tracking-config?${q}`, undefined, { 'x-tx-key': t.write_key, ...headers });
  const create = async (body: Record<string, unknown>, key?: string) => {
    const r = await api('POST', '/api/v1/tracking-codes', body, key);
    expect(r.status, r.text).toBe(201);
    return r.json;
  };

  beforeAll(async () => {
    if (flavour === 'embedded') server = await bootServer();
    else {
      scratch = await scratchDatabase('tracking');
      server = await bootServer({ DATABASE_URL: scratch.url, ENCRYPTION_KEY: crypto.randomBytes(32).toString('hex') });
    }
    base = server.url;
    t = await createTenant(base, 'tracking', ['https://shop.example']);
    other = await createTenant(base, 'tracking-other');
    expect((await api('PUT', '/api/v1/catalog/events', { items: [{ id: 'E1', organizer_id: 'O1' }, { id: 'E2', organizer_id: 'O1' }, { id: 'E3', organizer_id: 'O2' }] })).status).toBe(200);
    orgKey = (await createTenantStore().createKey(server.db, t.tenant_id, { kind: 'secret', role: 'organizer', scope: { organizers: ['O1'] } })).key;
  }, 600_000);
  afterAll(async () => {
    await server?.close();
    await scratch?.drop();
  }, 120_000);

  it('sets a code\'s secret again after the ENCRYPTION_KEY changed (the old one unreadable: shown absent, replaced, not a 500)', async () => {
    const c = await create({ provider: 'meta', organizer_id: 'O8', settings: { pixel_id: META }, secrets: { access_token: 'EAAB-old-key' } });
    // As a ciphertext of another key reads: same format, another key id.
    await server.db.query("UPDATE tracking_codes SET secrets_enc = regexp_replace(secrets_enc, '^v1\\.[^.]+\\.', 'v1.00000000.') WHERE id = $1", [c.id]);
    expect((await api('GET', `/api/v1/tracking-codes/${c.id}`)).json.has_access_token).toBe(false);
    const put = await api('PUT', `/api/v1/tracking-codes/${c.id}`, { secrets: { access_token: 'EAAB-new-key' } });
    expect(put.status, put.text).toBe(200);
    expect(put.json.has_access_token).toBe(true);
    expect((await api('DELETE', `/api/v1/tracking-codes/${c.id}`)).status).toBe(200);
  });

  it('creates a code, never returning its secret, and lists, gets, updates and deletes it (each change audited)', async () => {
    const c = await create({ provider: 'meta', organizer_id: 'O9', settings: { pixel_id: META, advanced_matching: true }, secrets: { access_token: 'EAAB-secret-token' } });
    expect(c).toMatchObject({ provider: 'meta', organizer_id: 'O9', event_id: null, owner: 'organizer', enabled: true, consent: 'marketing', has_access_token: true, has_api_secret: false,
      settings: { pixel_id: META, advanced_matching: true, conversion_events: ['order_completed'], custom_params: {} } });
    expect(JSON.stringify(c)).not.toContain('EAAB-secret-token');
    const stored = await server.db.query<{ secrets_enc: string }>('SELECT secrets_enc FROM tracking_codes WHERE id = $1', [c.id]);
    expect(stored.rows[0].secrets_enc).toMatch(/^v1\./);
    expect(stored.rows[0].secrets_enc).not.toContain('EAAB');

    const got = await api('GET', `/api/v1/tracking-codes/${c.id}`);
    // The reads add the code's server-side delivery (nothing queued yet).
    expect(got.json).toEqual({ ...c, delivery: expect.objectContaining({ status: 'ok', pending: 0 }) });
    const put = await api('PUT', `/api/v1/tracking-codes/${c.id}`, { enabled: false, secrets: { access_token: null } });
    expect(put.status, put.text).toBe(200);
    expect(put.json).toMatchObject({ enabled: false, has_access_token: false, settings: { pixel_id: META } });
    const del = await api('DELETE', `/api/v1/tracking-codes/${c.id}`);
    expect(del.json).toMatchObject({ id: c.id, deleted: true });
    expect((await api('GET', `/api/v1/tracking-codes/${c.id}`)).status).toBe(404);
    // The other tenant never sees it.
    expect((await api('GET', `/api/v1/tracking-codes/${c.id}`, undefined, other.secret_key)).status).toBe(404);

    const audit = (await getJson(`${base}/api/v1/audit`, as(t.secret_key))).json.audit.filter((a: any) => a.target === `tracking_code:${c.id}`);
    expect(audit.map((a: any) => a.action).sort()).toEqual(['tracking_code.created', 'tracking_code.deleted', 'tracking_code.updated']);
    // The secret key is the actor (these routes also take dashboard tokens).
    expect(audit.map((a: any) => a.actor_kind)).toEqual(['key', 'key', 'key']);
    expect(audit.find((a: any) => a.action === 'tracking_code.updated').details).toMatchObject({ provider: 'meta', organizer_id: 'O9', changed: ['enabled', 'secrets.access_token (removed)'] });
    expect(JSON.stringify(audit)).not.toContain('EAAB');
  });

  it('an organizer sees its own code\'s server-side delivery: held with the platform\'s answer and the fix, and the rows\' counts, until it updates the code', async () => {
    const tn = await createTenant(base, 'tracking-held');
    const admin = (m: string, p: string, b?: unknown) => request(m, `${base}${p}`, b, as(tn.secret_key));
    const key = (await createTenantStore().createKey(server.db, tn.tenant_id, { kind: 'secret', role: 'organizer', scope: { organizers: ['O1'] } })).key;
    const org = (m: string, p: string, b?: unknown) => request(m, `${base}${p}`, b, as(key));
    const made = await org('POST', '/api/v1/tracking-codes', { provider: 'tiktok', organizer_id: 'O1', settings: { pixel_id: 'D17TA5JC77UDOT6CA5FG' } });
    expect(made.status, made.text).toBe(201);
    const id = made.json.id as number;
    const quiet = (await org('GET', `/api/v1/tracking-codes/${id}`)).json.delivery;
    expect(quiet).toEqual({ status: 'ok', held_reason: null, held_since: null, pending: 0, failing: 0, dead_24h: 0, last_error: null, last_sent_at: null });
    const reason = `TikTok 40001: Access token is invalid. Fix: update tracking code ${id} (PUT /api/v1/tracking-codes/${id}) with a new access token.`;
    await holdWithRows(server.db, tn.tenant_id, 'tiktok', id, 'organizer', reason);
    // The whole tenant's conversions stay out of the organizer's reach; its own code's delivery does not.
    expect((await org('GET', '/api/v1/conversions')).status).toBe(403);
    const want = { status: 'held', held_reason: reason, held_since: expect.any(String), pending: 2, failing: 1, dead_24h: 1, last_error: 'TikTok 40002: event refused', last_sent_at: expect.any(String) };
    const listed = await org('GET', '/api/v1/tracking-codes');
    expect(listed.status).toBe(200);
    expect(listed.json.items.map((c: any) => [c.id, c.delivery])).toEqual([[id, want]]);
    expect((await org('GET', `/api/v1/tracking-codes/${id}`)).json.delivery).toEqual(want);
    expect(Date.parse(listed.json.items[0].delivery.held_since)).toBeLessThanOrEqual(Date.now() + 1000);
    // The tenant's admin reads the same summary.
    expect((await admin('GET', `/api/v1/tracking-codes/${id}`)).json.delivery).toEqual(want);
    // The fix the message names: a PUT of the code ends the hold (the rows still wait).
    expect((await org('PUT', `/api/v1/tracking-codes/${id}`, { enabled: true })).status).toBe(200);
    expect((await org('GET', `/api/v1/tracking-codes/${id}`)).json.delivery).toMatchObject({ status: 'ok', held_reason: null, held_since: null, pending: 2, failing: 1, dead_24h: 1 });
  });

  it('answers 400 naming the field for bad input, 409 for a second code of one owner and provider, never 5xx', async () => {
    const cases: [unknown, string][] = [
      [{ provider: 'ga4', organizer_id: 'O1', settings: { measurement_id: "G-AB12'><script>" } }, 'settings.measurement_id'],
      [{ provider: 'tiktok', organizer_id: 'O1', settings: { pixel_id: 'c123' } }, 'settings.pixel_id'],
      [{ provider: 'meta', event_id: 'E1', settings: { pixel_id: META } }, 'organizer_id'],
      [{ provider: 'meta', organizer_id: 'O1', settings: { pixel_id: META }, bogus: 1 }, 'bogus'],
      [{ provider: 'meta', organizer_id: 'O1\u0000', settings: { pixel_id: META } }, 'organizer_id'],
      [{ provider: 'meta', organizer_id: 'O2', event_id: 'E1', settings: { pixel_id: META } }, 'event_id'],
    ];
    for (const [body, field] of cases) {
      const r = await api('POST', '/api/v1/tracking-codes', body);
      expect({ status: r.status, field: r.json?.error?.field }, JSON.stringify(body)).toEqual({ status: 400, field });
    }
    const first = await create({ provider: 'gtm', organizer_id: 'O7', settings: { container_id: 'GTM-AB12CD3' } });
    const dup = await api('POST', '/api/v1/tracking-codes', { provider: 'gtm', organizer_id: 'O7', settings: { container_id: 'GTM-ZZ99ZZ9' } });
    expect(dup.status).toBe(409);
    expect(dup.json.error).toMatchObject({ code: 'conflict', id: first.id });
    for (const q of ['provider=facebook', 'owner=x', 'limit=0', 'cursor=zzz', 'bogus=1', 'organizer_id=%00', 'limit=1&limit=2']) {
      const r = await api('GET', `/api/v1/tracking-codes?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.json.error.field, q).toBe(q.slice(0, q.indexOf('=')));
    }
    expect((await api('PUT', `/api/v1/tracking-codes/${first.id}`, { provider: 'ga4' })).json.error.field).toBe('provider');
    expect((await api('GET', '/api/v1/tracking-codes/abc')).status).toBe(400);
  });

  it('an organizer key manages only its organizers\' codes, never the marketplace\'s', async () => {
    const mine = await create({ provider: 'tiktok', organizer_id: 'O1', event_id: 'E2', settings: { pixel_id: 'CABCDEFGHIJ123456789' } }, orgKey);
    const theirs = await create({ provider: 'tiktok', organizer_id: 'O2', settings: { pixel_id: 'DABCDEFGHIJ123456789' } });
    const market = await create({ provider: 'ga4', settings: { measurement_id: 'G-MARKET01' } });
    expect((await api('POST', '/api/v1/tracking-codes', { provider: 'meta', organizer_id: 'O2', settings: { pixel_id: META } }, orgKey)).json.error).toMatchObject({ code: 'forbidden', scope: 'organizer O2' });
    expect((await api('POST', '/api/v1/tracking-codes', { provider: 'meta', settings: { pixel_id: META } }, orgKey)).status).toBe(403);
    const listed = (await api('GET', '/api/v1/tracking-codes?limit=500', undefined, orgKey)).json.items.map((c: any) => c.id);
    expect(listed).toContain(mine.id);
    expect(listed).not.toContain(theirs.id);
    expect(listed).not.toContain(market.id);
    for (const id of [theirs.id, market.id]) {
      expect((await api('GET', `/api/v1/tracking-codes/${id}`, undefined, orgKey)).status).toBe(403);
      expect((await api('PUT', `/api/v1/tracking-codes/${id}`, { enabled: false }, orgKey)).status).toBe(403);
      expect((await api('DELETE', `/api/v1/tracking-codes/${id}`, undefined, orgKey)).status).toBe(403);
    }
    expect((await api('PUT', `/api/v1/tracking-codes/${mine.id}`, { enabled: false }, orgKey)).status).toBe(200);
    // Admin filters and pages (keyset cursor).
    const byProvider = (await api('GET', '/api/v1/tracking-codes?provider=tiktok')).json.items;
    expect(byProvider.every((c: any) => c.provider === 'tiktok')).toBe(true);
    expect((await api('GET', '/api/v1/tracking-codes?owner=marketplace')).json.items.every((c: any) => c.organizer_id === null)).toBe(true);
    expect((await api('GET', '/api/v1/tracking-codes?event_id=E2')).json.items.map((c: any) => c.id)).toEqual([mine.id]);
    await idsAcrossDigitBoundary(server.db, 'tracking_codes');
    const more = [];
    for (const n of [1, 2, 3, 4, 5]) more.push(await create({ provider: 'gtm', organizer_id: `OP${n}`, settings: { container_id: `GTM-PAGE${n}` } }));
    const seen: number[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: any = (await api('GET', `/api/v1/tracking-codes?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json;
      seen.push(...page.items.map((c: any) => c.id));
      cursor = page.next_cursor;
    }
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining([mine.id, theirs.id, market.id, ...more.map((c) => c.id)]));
    for (const id of [mine.id, theirs.id, market.id, ...more.map((c) => c.id)]) await api('DELETE', `/api/v1/tracking-codes/${id}`);
  });

  it('resolves a page: the event\'s code over the organizer default, the marketplace\'s always, with consent categories', async () => {
    const orgMeta = await create({ provider: 'meta', organizer_id: 'O1', settings: { pixel_id: META } });
    const evMeta = await create({ provider: 'meta', organizer_id: 'O1', event_id: 'E1', settings: { pixel_id: META2, conversion_events: ['order_completed', 'add_to_cart'] }, secrets: { access_token: 'tok-123' } });
    const orgGa = await create({ provider: 'ga4', organizer_id: 'O1', settings: { measurement_id: 'G-ORG00001' }, secrets: { api_secret: 'api-sec' } });
    const mkMeta = await create({ provider: 'meta', settings: { pixel_id: MARKET_META } });
    const o2 = await create({ provider: 'tiktok', organizer_id: 'O2', settings: { pixel_id: 'CABCDEFGHIJ123456789' } });

    const r = await config('event_id=E1', { origin: 'https://shop.example' });
    expect(r.status, r.text).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(r.json).toEqual({
      event_id: 'E1', organizer_id: 'O1', codes: [
        // With its api_secret the purchase goes server-side: the page is told not to send it too (GA4 counts both).
        { provider: 'ga4', owner: 'organizer', consent: 'analytics', id: 'G-ORG00001', conversion_events: ['order_completed'], custom_params: {}, server_events: ['order_completed'] },
        { provider: 'meta', owner: 'event', consent: 'marketing', id: META2, conversion_events: ['order_completed', 'add_to_cart'], custom_params: {} },
        { provider: 'meta', owner: 'marketplace', consent: 'marketing', id: MARKET_META, conversion_events: ['order_completed'], custom_params: {} },
      ],
    });
    expect(r.text).not.toMatch(/tok-123|api-sec/);
    // Another event of O1: the organizer default. An event of O2: its code. An unknown event: the marketplace's only.
    expect((await config('event_id=E2')).json.codes.map((c: any) => `${c.provider}:${c.id}`)).toEqual(['ga4:G-ORG00001', `meta:${META}`, `meta:${MARKET_META}`]);
    expect((await config('event_id=E3')).json.codes.map((c: any) => `${c.provider}:${c.owner}`)).toEqual(['tiktok:organizer', 'meta:marketplace']);
    expect((await config('event_id=NOPE')).json).toMatchObject({ organizer_id: null, codes: [{ owner: 'marketplace' }] });
    expect((await config('organizer_id=O1')).json.codes.map((c: any) => c.owner)).toEqual(['organizer', 'organizer', 'marketplace']);

    // Changes show at once on this node (the cache is invalidated): disabling the event code falls back to the default.
    expect((await api('PUT', `/api/v1/tracking-codes/${evMeta.id}`, { enabled: false })).status).toBe(200);
    expect((await config('event_id=E1')).json.codes.find((c: any) => c.owner !== 'marketplace' && c.provider === 'meta').id).toBe(META);
    await api('DELETE', `/api/v1/tracking-codes/${orgMeta.id}`);
    expect((await config('event_id=E1')).json.codes.map((c: any) => c.owner)).toEqual(['organizer', 'marketplace']);
    for (const c of [evMeta, orgGa, mkMeta, o2]) await api('DELETE', `/api/v1/tracking-codes/${c.id}`);
  });

  it('an event\'s own code is served before the catalog knows the event, never to another organizer\'s event, and a catalog sync refreshes the resolution', async () => {
    const nonce = crypto.randomBytes(16).toString('base64');
    const html = (q: string) => config(`${q}&format=html&nonce=${encodeURIComponent(nonce)}`);
    const mk = await create({ provider: 'meta', settings: { pixel_id: MARKET_META } });
    const ev7 = await create({ provider: 'meta', organizer_id: 'OT7', event_id: 'ET7', settings: { pixel_id: '777777777777777' } });
    const org7 = await create({ provider: 'ga4', organizer_id: 'OT7', settings: { measurement_id: 'G-ORG00007' } });
    // The catalog does not know ET7 yet: its own code names its organizer, whose defaults apply too.
    const before = await config('event_id=ET7');
    expect(before.json).toMatchObject({ event_id: 'ET7', organizer_id: 'OT7' });
    expect(before.json.codes.map((c: any) => `${c.provider}:${c.owner}:${c.id}`), before.text).toEqual(['ga4:organizer:G-ORG00007', 'meta:event:777777777777777', `meta:marketplace:${MARKET_META}`]);
    expect((await html('event_id=ET7')).json).toMatchObject({ organizer_id: 'OT7', codes: [{ id: 'G-ORG00007' }, { id: '777777777777777' }, { id: MARKET_META }] });
    // Two organizers' codes for one unknown event: neither is guessed, the marketplace's alone.
    const e10a = await create({ provider: 'meta', organizer_id: 'OT7', event_id: 'ET10', settings: { pixel_id: '101010101010101' } });
    const e10b = await create({ provider: 'tiktok', organizer_id: 'OT8', event_id: 'ET10', settings: { pixel_id: 'CABCDEFGHIJ101010101' } });
    expect((await config('event_id=ET10')).json).toEqual({ event_id: 'ET10', organizer_id: null, codes: [expect.objectContaining({ owner: 'marketplace' })] });

    // An event code of OT8 for ET8, then the catalog gives ET8 to OT9: the resolution follows the catalog at once (on this
    // node: the sync invalidates the cache like a code change) and OT8's code is no longer served for it.
    const ev8 = await create({ provider: 'meta', organizer_id: 'OT8', event_id: 'ET8', settings: { pixel_id: '888888888888888' } });
    expect((await config('event_id=ET8')).json).toMatchObject({ organizer_id: 'OT8', codes: [{ id: '888888888888888' }, { id: MARKET_META }] });
    const sync = await api('PUT', '/api/v1/catalog/events', { items: [{ id: 'ET7', organizer_id: 'OT7' }, { id: 'ET8', organizer_id: 'OT9' }] });
    expect(sync.status, sync.text).toBe(200);
    for (const r of [await config('event_id=ET8'), await html('event_id=ET8')]) {
      expect(r.json).toMatchObject({ event_id: 'ET8', organizer_id: 'OT9' });
      expect(r.text).not.toContain('888888888888888');
    }
    expect((await config('event_id=ET7')).json.codes.map((c: any) => c.id)).toEqual(['G-ORG00007', '777777777777777', MARKET_META]);
    // The catalog forgets ET8: OT8's own code is served again.
    expect((await api('DELETE', '/api/v1/catalog/events/ET8')).status).toBeLessThan(300);
    expect((await config('event_id=ET8')).json).toMatchObject({ organizer_id: 'OT8', codes: [{ id: '888888888888888' }, { id: MARKET_META }] });
    for (const c of [mk, ev7, org7, e10a, e10b, ev8]) await api('DELETE', `/api/v1/tracking-codes/${c.id}`);
  });

  it('format=html: head and body snippets with the nonce on every script; the nonce and the params are validated', async () => {
    const codes = [
      await create({ provider: 'meta', organizer_id: 'O1', settings: { pixel_id: META } }),
      await create({ provider: 'gtm', organizer_id: 'O1', settings: { container_id: 'GTM-AB12CD3' } }),
      await create({ provider: 'google_ads', settings: { conversion_id: 'AW-123456789', conversion_label: 'AbC-1' } }),
    ];
    const nonce = crypto.randomBytes(16).toString('base64');
    const r = await config(`event_id=E1&format=html&nonce=${encodeURIComponent(nonce)}`);
    expect(r.status, r.text).toBe(200);
    const tags = (r.json.head + r.json.body).match(/<script\b[^>]*>/g);
    expect(tags.length).toBeGreaterThanOrEqual(4);
    for (const tag of tags) expect(tag).toContain(`nonce="${nonce}"`);
    expect(r.json.head + r.json.body).not.toMatch(/<[^>]*\son[a-z]+\s*=/i);
    expect(r.json.codes.map((c: any) => `${c.provider}:${c.consent}`)).toEqual(['gtm:marketing', 'meta:marketing', 'google_ads:marketing']);
    expect(r.headers.get('cache-control')).toBe('no-store');
    for (const [q, field] of [
      ['event_id=E1&format=html', 'nonce'], ['event_id=E1&format=html&nonce=ab"c%3Cdefgh', 'nonce'], ['event_id=E1&format=xml', 'format'],
      ['event_id=E1&nonce=abcdefgh', 'nonce'], ['event_id=E1&organizer_id=O1', 'organizer_id'], ['event_id=E1&bogus=1', 'bogus'], ['event_id=E1&event_id=E2', 'event_id'],
      [`event_id=${'x'.repeat(200)}`, 'event_id'], ['event_id=%00', 'event_id'],
    ]) {
      const bad = await config(q, { origin: 'https://shop.example' });
      expect({ status: bad.status, field: bad.json?.error?.field }, q).toEqual({ status: 400, field });
      expect(bad.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    }
    for (const c of codes) await api('DELETE', `/api/v1/tracking-codes/${c.id}`);
  });

  it('Google Ads\' server-only settings (Data Manager customer_id, conversion_action_id) never reach a page, even sent in custom_params', async () => {
    const ads = await create({ provider: 'google_ads', organizer_id: 'O1', settings: { conversion_id: 'AW-123456789', conversion_label: 'AbC-1', custom_params: { customer_id: '123-456-7890', conversion_action_id: '555', allow_enhanced_conversions: true } } });
    // Kept for the dispatcher, out of custom_params (which pages get).
    expect(ads.settings).toMatchObject({ customer_id: '1234567890', conversion_action_id: '555', custom_params: { allow_enhanced_conversions: true } });
    expect(ads.settings.custom_params).not.toHaveProperty('customer_id');
    const json = await config('event_id=E1');
    expect(json.json.codes.find((c: any) => c.provider === 'google_ads')).toEqual({
      provider: 'google_ads', owner: 'organizer', consent: 'marketing', id: 'AW-123456789', conversion_label: 'AbC-1', conversion_events: ['order_completed'], custom_params: { allow_enhanced_conversions: true },
    });
    const html = await config(`event_id=E1&format=html&nonce=${encodeURIComponent(crypto.randomBytes(16).toString('base64'))}`);
    expect(html.status, html.text).toBe(200);
    for (const r of [json, html]) expect(r.text).not.toMatch(/customer_id|conversion_action_id|456-7890|1234567890/);
    // Set as settings directly, the same; refused when malformed, naming the field.
    const put = await api('PUT', `/api/v1/tracking-codes/${ads.id}`, { settings: { conversion_id: 'AW-123456789', customer_id: '9876543210', conversion_action_id: 777 } });
    expect(put.status, put.text).toBe(200);
    expect(put.json.settings).toMatchObject({ customer_id: '9876543210', conversion_action_id: '777', custom_params: {} });
    const bad = await api('PUT', `/api/v1/tracking-codes/${ads.id}`, { settings: { conversion_id: 'AW-123456789', custom_params: { customer_id: '12-34' } } });
    expect({ status: bad.status, field: bad.json?.error?.field }).toEqual({ status: 400, field: 'settings.custom_params.customer_id' });
    // A code stored before migration 028 with them in custom_params: the migration moves them out.
    await server.db.query(`UPDATE tracking_codes SET settings = $2 WHERE id = $1`, [ads.id, JSON.stringify({ conversion_id: 'AW-123456789', conversion_events: ['order_completed'], custom_params: { customer_id: '123-456-7890', conversion_action_id: '555', x: 1 } })]);
    await server.db.exec(fs.readFileSync(new URL('../sql/028_tracking_server_only.sql', import.meta.url), 'utf8'));
    const moved = (await api('GET', `/api/v1/tracking-codes/${ads.id}`)).json;
    expect(moved.settings).toEqual({ conversion_id: 'AW-123456789', conversion_events: ['order_completed'], custom_params: { x: 1 }, customer_id: '1234567890', conversion_action_id: '555' });
    await api('DELETE', `/api/v1/tracking-codes/${ads.id}`);
  });

  it('the resolution takes the write key only: a secret key, no key or another origin is refused (with CORS)', async () => {
    expect((await request('GET', `${base}/api/tx/tracking-config?event_id=E1`)).status).toBe(401);
    const secret = await request('GET', `${base}/api/tx/tracking-config?event_id=E1`, undefined, { 'x-tx-key': t.secret_key });
    expect(secret.json.error.code).toBe('wrong_key_kind');
    const origin = await config('event_id=E1', { origin: 'https://evil.example' });
    expect(origin.status).toBe(403);
    expect(origin.headers.get('access-control-allow-origin')).toBe('https://evil.example');
    const pre = await request('OPTIONS', `${base}/api/tx/tracking-config`, undefined, { origin: 'https://shop.example', 'access-control-request-method': 'GET' });
    expect(pre.status).toBe(204);
  });
});
