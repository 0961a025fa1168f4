// The dashboard's artist and venue views (#artist/{id}, #venue/{id}, client/dashboard/entity.ts; issue 17 item 2):
// the pure parts (hash route, token claims, report, totals, messages), then Chromium against a real server with
// events seeded for artist A1 and venue V1: every figure on the page equals what GET /api/v1/analytics/… answers
// the same token, the range picker redraws, an artist token sees no revenue (the tenant has some), and
// refusals (403), a 404 and a network failure read as messages instead of a blank or half-drawn page.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chartColumns, entityClaims, entityErrorMessage, entityHash, entityReport, entityUrl, formatFigure, parseEntityHash, totalOf, type EntityColumn,
} from '../client/dashboard/entity-data.js';
import { launchChromium, pageErrors, screenshot } from './dashboard-helpers.js';
import { ADMIN, bootServer, createTenant, orderEvent, request, webEvent, type Tenant } from './helpers.js';
import { mintToken, sendEvents } from './live-helpers.js';

declare const document: any;

const DAY = 86_400_000;
const HOUR = 3_600_000;
const TODAY = Math.floor(Date.now() / DAY) * DAY;
/** `back` days before today, at `h`:`m` UTC (clear of midnight). */
const at = (back: number, h: number, m = 0) => new Date(TODAY - back * DAY + h * HOUR + m * 60_000).toISOString();
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('artist and venue views: pure parts (entity-data.ts)', () => {
  it('routes #artist/{id} and #venue/{id} both ways, and nothing else', () => {
    expect(parseEntityHash('#artist/A%201')).toEqual({ kind: 'artist', id: 'A 1' });
    expect(parseEntityHash('#venue/V1')).toEqual({ kind: 'venue', id: 'V1' });
    for (const h of ['', '#history', '#event=E1', '#artist/', '#artist/%ZZ', '#artist/%20', '#organizer/O1']) expect(parseEntityHash(h), h).toBeNull();
    expect(entityHash({ kind: 'venue', id: 'a/b#c' })).toBe('#venue/a%2Fb%23c');
    expect(parseEntityHash(entityHash({ kind: 'venue', id: 'a/b#c' }))).toEqual({ kind: 'venue', id: 'a/b#c' });
    expect(entityUrl('http://x', { kind: 'artist', id: 'a b' }, { from: Date.UTC(2026, 0, 1), to: Date.UTC(2026, 0, 8) }))
      .toBe('http://x/api/v1/analytics/artists/a%20b?from=2026-01-01T00:00:00.000Z&to=2026-01-08T00:00:00.000Z');
  });

  it('reads artist and venue token claims, and refuses organizer, malformed or id-less ones', () => {
    expect(entityClaims(`v1.${b64({ t: 3, r: 'artist', a: ['A1', 'A2'], iat: 1, exp: 9 })}.sig`)).toEqual({ tenant: 3, role: 'artist', ids: ['A1', 'A2'], exp: 9 });
    expect(entityClaims(`v1.${b64({ t: 3, r: 'venue', v: ['V1'], exp: 9 })}.sig`)).toEqual({ tenant: 3, role: 'venue', ids: ['V1'], exp: 9 });
    for (const c of [{ t: 3, r: 'organizer', o: 'O1', exp: 9 }, { t: 3, r: 'artist', v: ['V1'], exp: 9 }, { t: 3, r: 'venue', v: [], exp: 9 }, { t: 3, r: 'venue', v: [1], exp: 9 }, { r: 'venue', v: ['V1'], exp: 9 }]) {
      expect(entityClaims(`v1.${b64(c)}.sig`), JSON.stringify(c)).toBeNull();
    }
    for (const t of ['', 'tx_sk_abc', 'v1.!!!.sig', 'v1..sig', `v1.${b64({ t: 3, r: 'venue', v: ['V1'], exp: 9 })}`]) expect(entityClaims(t), t).toBeNull();
  });

  const artistBody = {
    artist_id: 'A1', from: '2026-01-01T00:00:00.000Z', to: '2026-01-04T00:00:00.000Z',
    daily: [
      { date: '2026-01-01T00:00:00.000Z', profile_views: 2, new_followers: 1, total_followers: 5, active_events: 3, event_impressions: 10, event_clicks: 1, reviews_received: 1, avg_rating: 2, total_engagement: 0 },
      { date: '2026-01-02T00:00:00.000Z', profile_views: 0, new_followers: 0, total_followers: 4, active_events: 2, event_impressions: 0, event_clicks: 0, reviews_received: 0, avg_rating: null, total_engagement: 3 },
      { date: '2026-01-03T00:00:00.000Z', profile_views: 5, new_followers: 2, total_followers: 6, active_events: 2, event_impressions: 4, event_clicks: 2, reviews_received: 3, avg_rating: 4, total_engagement: 1 },
    ],
  };

  it('totals the range: counts summed, levels at the last day, the rating weighted by reviews', () => {
    const r = entityReport('artist', artistBody)!;
    expect(r.columns.map((c) => c.key)).toEqual(['profile_views', 'new_followers', 'total_followers', 'active_events', 'event_impressions', 'event_clicks', 'reviews_received', 'avg_rating', 'total_engagement']);
    expect(r.totals).toEqual({ profile_views: 7, new_followers: 3, total_followers: 6, active_events: 2, event_impressions: 14, event_clicks: 3, reviews_received: 4, avg_rating: 3.5, total_engagement: 4 });
    expect(r.days[1].values.avg_rating).toBeNull();
    expect(chartColumns(r).map((c) => c.key)).toEqual(['profile_views', 'event_impressions']);
    const rating = r.columns.find((c) => c.key === 'avg_rating')!;
    expect([formatFigure(rating, 3.5, 'en'), formatFigure(rating, null, 'en'), formatFigure(r.columns[0], 1234, 'en')]).toEqual(['3.50', '–', '1,234']);
  });

  it('leaves out what the answer leaves out, never zeroes it, and refuses what is not a report', () => {
    const venue = entityReport('venue', { venue_id: 'V1', from: 'f', to: 't', daily: [{ date: '2026-01-01T00:00:00.000Z', profile_views: 1, avg_venue_rating: 4, revenue_gross: { EUR: 9 } }] })!;
    expect(venue.columns.map((c) => c.key)).toEqual(['profile_views', 'avg_venue_rating']);
    expect(venue.totals).toEqual({ profile_views: 1, avg_venue_rating: 4 });
    const noDays = entityReport('venue', { venue_id: 'V1', daily: [] })!;
    expect([noDays.columns, noDays.totals]).toEqual([[], {}]);
    const allNull: EntityColumn = { key: 'x', label: 'X', total: 'sum', hint: '' };
    expect(totalOf(allNull, [{ date: 'd', values: { x: null } }])).toBeNull();
    for (const b of [null, {}, { artist_id: 'A1' }, { venue_id: 'V1', daily: [] }, { artist_id: 'A1', daily: [{ profile_views: 1 }] }, { error: { code: 'forbidden' } }]) {
      expect(entityReport('artist', b), JSON.stringify(b)).toBeNull();
    }
  });

  it('says why a read failed, in words, for every status', () => {
    const r = { kind: 'artist' as const, id: 'A2' };
    expect(entityErrorMessage(r, 403, { error: { code: 'forbidden', message: 'artist A2 is outside the scope…', permission: 'view_artist_analytics', scope: 'artist A2' } })).toMatch(/^This token may not read the figures of artist A2: artist A2 is outside its scope\./);
    expect(entityErrorMessage({ kind: 'venue', id: 'V1' }, 403, { error: { permission: 'view_venue_analytics', role: 'artist' } })).toMatch(/its role lacks view_venue_analytics\. A venue token/);
    expect(entityErrorMessage(r, 0, null, 'Failed to fetch')).toMatch(/did not answer \(Failed to fetch\)/);
    expect(entityErrorMessage(r, 401, null)).toMatch(/expired, or its key was revoked/);
    expect(entityErrorMessage(r, 404, { error: { message: 'Not found.' } })).toBe('There is nothing at the address of artist A2 (404). The server says: Not found.');
    expect(entityErrorMessage(r, 400, { error: { message: 'The id must be 1-128 characters.' } })).toMatch(/refused \(400\)\. The server says: The id/);
    expect(entityErrorMessage(r, 503, 'nonsense')).toBe('The figures of artist A2 could not be loaded (HTTP 503).');
  });
});

interface PageFigures {
  state: string;
  days: string[];
  cells: Record<string, Record<string, number | null>>;
  totals: Record<string, number | null>;
  text: string;
}

/** What the entity view shows: per day and column the cell's data-value, the totals, and the page's text. */
async function readPage(p: Page): Promise<PageFigures> {
  return p.evaluate(() => {
    const view = document.querySelector('#entity-view');
    const cells: Record<string, Record<string, number | null>> = {};
    const days: string[] = [];
    for (const tr of document.querySelectorAll('#entity-table tbody tr')) {
      days.push(tr.dataset.date);
      cells[tr.dataset.date] = {};
      for (const td of tr.querySelectorAll('td[data-key]')) cells[tr.dataset.date][td.dataset.key] = td.dataset.value === undefined ? null : Number(td.dataset.value);
    }
    const totals: Record<string, number | null> = {};
    for (const k of document.querySelectorAll('#entity-totals [data-kpi]')) {
      const v = k.querySelector('.value');
      totals[k.dataset.kpi] = v.dataset.value === undefined ? null : Number(v.dataset.value);
    }
    return { state: view?.dataset.state ?? 'none', days, cells, totals, text: document.body.innerText };
  });
}

/** Range totals recounted here from the API's days (not with the page's totalOf). */
function expectedTotals(daily: Record<string, number | null>[]) {
  const out: Record<string, number | null> = {};
  for (const key of Object.keys(daily[0]).filter((k) => k !== 'date')) {
    if (key === 'total_followers' || key === 'active_events') out[key] = daily[daily.length - 1][key];
    else if (key === 'avg_rating' || key === 'avg_venue_rating') {
      const rated = daily.filter((d) => d[key] !== null);
      const n = rated.reduce((s, d) => s + (d.reviews_received ?? 0), 0);
      out[key] = n ? Math.round((rated.reduce((s, d) => s + d[key]! * (d.reviews_received ?? 0), 0) / n) * 100) / 100 : null;
    } else out[key] = daily.reduce((s, d) => s + (d[key] ?? 0), 0);
  }
  return out;
}

describe('artist and venue views in Chromium', { timeout: 600_000 }, () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let browser: Browser;
  let t: Tenant;
  const tokens: Record<'artist' | 'venue' | 'organizer', string> = { artist: '', venue: '', organizer: '' };
  const ALLOWED_CONSOLE = /Failed to load resource/;

  beforeAll(async () => {
    server = await bootServer({ DEMO_TENANT: '0' });
    t = await createTenant(server.url, 'entity-dash');
    const sk = { authorization: `Bearer ${t.secret_key}` };
    const events = [
      { id: 'E1', organizer_id: 'O1', title: 'Rock Night', venue_id: 'V1', artist_ids: ['A1'], starts_at: at(1, 20) },
      { id: 'E2', organizer_id: 'O1', title: 'Rock Night II', venue_id: 'V1', artist_ids: ['A1', 'A2'], starts_at: at(-3, 20) },
    ];
    expect((await request('PUT', `${server.url}/api/v1/catalog/events`, { items: events }, sk)).status).toBe(200);
    const web = (v: string, name: string, when: string, entities: Record<string, unknown>, payload: Record<string, unknown> = {}) =>
      webEvent({ visitor_id: v, session_id: `s-${v}`, event_name: name, occurred_at: when, entities, payload });
    await sendEvents(server.url, t, [
      ...[0, 1, 2].map((i) => web(`a${i}`, 'artist_click', at(1, 10, i), { artist_id: 'A1' })),
      web('a9', 'artist_click', at(2, 10), { artist_id: 'A1' }),
      web('a0', 'artist_followed', at(2, 11), { artist_id: 'A1' }, { followed: true }),
      web('a1', 'artist_followed', at(1, 11), { artist_id: 'A1' }, { followed: true }),
      web('a0', 'artist_followed', at(1, 12), { artist_id: 'A1' }, { followed: false }),
      web('a0', 'review_submitted', at(2, 12), { artist_id: 'A1' }, { review_id: 'r1', target_type: 'artist', rating: 4 }),
      web('a1', 'review_submitted', at(1, 12), { artist_id: 'A1' }, { review_id: 'r2', target_type: 'artist', rating: 5 }),
      web('a2', 'review_submitted', at(1, 12, 5), { artist_id: 'A1' }, { review_id: 'r3', target_type: 'artist', rating: 2 }),
      web('a2', 'review_liked', at(1, 13), {}, { review_id: 'r1', liked: true }),
      web('a2', 'share', at(1, 13, 5), { artist_id: 'A1' }, { content_type: 'artist' }),
      ...[0, 1, 2, 3].map((i) => web(`i${i}`, 'event_card_impression', at(1, 14, i), { event_entity_id: i < 3 ? 'E1' : 'E2' }, { position: i })),
      web('i0', 'event_card_click', at(1, 14, 5), { event_entity_id: 'E1' }),
      web('w0', 'venue_click', at(1, 9), { venue_id: 'V1' }), web('w1', 'venue_click', at(2, 9), { venue_id: 'V1' }),
      web('w0', 'venue_followed', at(1, 9, 5), { venue_id: 'V1' }),
      web('w1', 'review_submitted', at(1, 15), { venue_id: 'V1' }, { review_id: 'r4', target_type: 'venue', rating: 3 }),
      webEvent({ source_system: 'scanner', visitor_id: 'w0', event_name: 'entry_granted', occurred_at: at(1, 19), entities: { event_entity_id: 'E1', ticket_id: 't1' }, payload: { gate_id: 'G1' } }),
      // Money in the tenant: the artist's view must still show none.
      orderEvent({ occurred_at: at(1, 16), entities: { event_entity_id: 'E1', order_id: 'o-1' }, payload: { gross_amount: 80, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 2 }] } }),
    ]);
    const r = await request('POST', `${server.url}/api/admin/jobs/features.refresh/run`, undefined, { authorization: `Bearer ${ADMIN}` });
    expect(r.json?.status, r.text).toBe('succeeded');
    tokens.artist = await mintToken(server.url, t, { role: 'artist', artist_ids: ['A1'] });
    tokens.venue = await mintToken(server.url, t, { role: 'venue', venue_ids: ['V1'] });
    tokens.organizer = await mintToken(server.url, t, { role: 'organizer', org_id: 'O1' });
    browser = await launchChromium();
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  }, 60_000);

  /** The API's answer for the days the page shows, with the page's own token. */
  const apiFor = async (kind: 'artist' | 'venue', id: string, days: string[], token: string) => {
    const sorted = [...days].sort();
    const to = new Date(Date.parse(sorted[sorted.length - 1]) + DAY).toISOString();
    const r = await request('GET', `${server.url}/api/v1/analytics/${kind}s/${id}?from=${sorted[0]}T00:00:00.000Z&to=${to}`, undefined, { authorization: `Bearer ${token}` });
    expect(r.status, r.text).toBe(200);
    return r.json;
  };

  const waitState = (p: Page, state: string) => p.waitForFunction((s: string) => document.querySelector('#entity-view')?.dataset.state === s, state, { timeout: 60_000 });

  /** Every cell and total on the page equals the API's answer for the same days. */
  async function expectPageEqualsApi(p: Page, kind: 'artist' | 'venue', id: string, token: string, ndays: number) {
    const shown = await readPage(p);
    expect(shown.state).toBe('ready');
    expect(shown.days).toHaveLength(ndays);
    const api = await apiFor(kind, id, shown.days, token);
    expect(api.daily).toHaveLength(ndays);
    for (const d of api.daily) {
      const { date, ...figures } = d;
      expect(shown.cells[date.slice(0, 10)], date).toEqual(figures);
    }
    expect(shown.totals).toEqual(expectedTotals(api.daily));
    return { shown, api };
  }

  it('an artist token opens its artist: figures equal the API for 7, 30 and 90 days, and no revenue anywhere', async () => {
    const p = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = pageErrors(p);
    await p.goto(`${server.url}/dashboard?token=${encodeURIComponent(tokens.artist)}`);
    await waitState(p, 'ready');
    expect(new URL(p.url()).hash).toBe('#artist/A1');
    const { shown, api } = await expectPageEqualsApi(p, 'artist', 'A1', tokens.artist, 7);
    // The seeded days are in the range and not zero: A1 had 3 clicks yesterday, reviews rated 4, 5 and 2.
    expect(shown.cells[at(1, 0).slice(0, 10)]).toMatchObject({ profile_views: 3, reviews_received: 2, avg_rating: 3.5, event_impressions: 4 });
    expect(shown.totals).toMatchObject({ profile_views: 4, reviews_received: 3, avg_rating: 3.67, total_followers: 1 });
    // The chart draws one bar per day and series, at the API's values.
    const bars = await p.$$eval('#entity-chart rect.bar-a', (rs: any[]) => rs.map((r) => Number(r.dataset.value)));
    expect(bars).toEqual(api.daily.map((d: any) => d.profile_views));
    // No money: not in the answer, not on the page (the tenant has an 80 EUR order of A1's event).
    expect(JSON.stringify(api)).not.toMatch(/revenue|gross|EUR/i);
    expect(shown.text).not.toMatch(/revenue|€|EUR/i);
    await screenshot(p, 'entity-artist.png');

    for (const n of [30, 90]) {
      await p.click(`[data-days="${n}"]`);
      await p.waitForFunction((k: number) => document.querySelector('#entity-view')?.dataset.days === String(k), n, { timeout: 60_000 });
      await expectPageEqualsApi(p, 'artist', 'A1', tokens.artist, n);
    }
    expect(errors).toEqual([]);
    await p.close();
  });

  it('a venue token opens its venue, figures equal to the API', async () => {
    const p = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = pageErrors(p);
    await p.goto(`${server.url}/dashboard?token=${encodeURIComponent(tokens.venue)}#venue/V1`);
    await waitState(p, 'ready');
    const { shown } = await expectPageEqualsApi(p, 'venue', 'V1', tokens.venue, 7);
    expect(shown.totals).toMatchObject({ profile_views: 2, new_followers: 1, event_attendance: 1, reviews_received: 1, avg_venue_rating: 3, events_hosted: 1 });
    expect(Object.keys(shown.totals)).not.toContain('active_events');
    await screenshot(p, 'entity-venue.png');
    expect(errors).toEqual([]);
    await p.close();
  });

  it('shows refusals as messages: another artist (scope), a venue (permission), via the header form', async () => {
    const p = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = pageErrors(p);
    await p.goto(`${server.url}/dashboard?token=${encodeURIComponent(tokens.artist)}#artist/A2`);
    await waitState(p, 'error');
    const alert = async () => ({ text: await p.textContent('#entity-view [role="alert"]'), figures: await p.isVisible('#entity-totals') });
    expect(await alert()).toEqual({ text: expect.stringMatching(/^This token may not read the figures of artist A2: artist A2 is outside its scope\./), figures: false });
    // The header's form opens a venue: an artist's role has no venue analytics.
    await p.selectOption('#open-kind', 'venue');
    await p.fill('#open-id', 'V1');
    await p.click('#open-entity button');
    await p.waitForFunction(() => document.querySelector('#entity-view')?.dataset.kind === 'venue' && document.querySelector('#entity-view')?.dataset.state === 'error', undefined, { timeout: 60_000 });
    expect((await alert()).text).toMatch(/venue V1: its role lacks view_venue_analytics\./);
    // … and back to its own artist through the same form.
    await p.selectOption('#open-kind', 'artist');
    await p.fill('#open-id', 'A1');
    await p.click('#open-entity button');
    await p.waitForFunction(() => document.querySelector('#entity-view')?.dataset.id === 'A1' && document.querySelector('#entity-view')?.dataset.state === 'ready', undefined, { timeout: 60_000 });
    expect(errors.filter((e) => !ALLOWED_CONSOLE.test(e))).toEqual([]);
    await p.close();
  });

  it('shows a 404 and a network failure as messages, and recovers on the next pick', async () => {
    const p = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = pageErrors(p);
    let mode: 'abort' | '404' | 'pass' = '404';
    await p.route('**/api/v1/analytics/artists/**', (route) => {
      if (mode === 'abort') return route.abort('internetdisconnected');
      if (mode === '404') return route.fulfill({ status: 404, contentType: 'application/json', body: JSON.stringify({ error: { code: 'not_found', message: 'Not found.' } }) });
      return route.continue();
    });
    await p.goto(`${server.url}/dashboard?token=${encodeURIComponent(tokens.artist)}#artist/A1`);
    await waitState(p, 'error');
    expect(await p.textContent('#entity-view [role="alert"]')).toBe('There is nothing at the address of artist A1 (404). The server says: Not found.');
    mode = 'abort';
    await p.click('[data-days="30"]');
    await p.waitForFunction(() => /did not answer/.test(document.querySelector('#entity-view [role="alert"]')?.textContent ?? ''), undefined, { timeout: 60_000 });
    expect(await p.isVisible('#entity-table')).toBe(false);
    await screenshot(p, 'entity-network-error.png');
    mode = 'pass';
    await p.click('[data-days="7"]');
    await waitState(p, 'ready');
    expect(await p.locator('#entity-table tbody tr').count()).toBe(7);
    expect(errors.filter((e) => !ALLOWED_CONSOLE.test(e))).toEqual([]);
    await p.close();
  });

  it('an organizer token offers no artist or venue figures (it may read none) and is refused there in words', async () => {
    const p = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = pageErrors(p);
    await p.goto(`${server.url}/dashboard?token=${encodeURIComponent(tokens.organizer)}#event=E1`);
    await p.waitForSelector('#organizer-view', { timeout: 60_000 });
    expect(await p.isVisible('#open-entity')).toBe(false);
    expect(await p.locator('#organizer-view a[href^="#venue/"], #organizer-view a[href^="#artist/"]').count()).toBe(0);
    // Typed by hand, the venue's page says why it shows nothing.
    await p.evaluate('location.hash = "#venue/V1"');
    await waitState(p, 'error');
    expect(await p.textContent('#entity-view [role="alert"]')).toMatch(/^This token may not read the figures of venue V1: venue V1 is outside its scope\. A venue token for that venue/);
    expect(await p.isVisible('#open-entity')).toBe(false);
    // "Live view" leads back to the organizer's live dashboard.
    await p.click('#entity-view a[href="#"]');
    await p.waitForSelector('#organizer-view');
    expect(errors.filter((e) => !ALLOWED_CONSOLE.test(e))).toEqual([]);
    await p.close();
  });
});
