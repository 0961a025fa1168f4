// Keyset paging (issue 9 item 1): every paged list walks with an opaque `cursor` over its full sort key, so
// rows that share a timestamp are neither skipped nor repeated (with `before`/`next_before`, 30 events with
// one occurred_at gave 10 rows on page 1 and 0 on page 2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, bootServer, createTenant, getJson, postJson, webEvent, type Tenant } from './helpers.js';

describe('keyset paging', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let base: string;
  let t: Tenant;
  const auth = () => ({ authorization: `Bearer ${t.secret_key}` });
  const T = new Date(Date.now() - 60_000).toISOString();

  /** Follows next_cursor from the first page to the end; returns every row of every page. */
  async function walk(path: string, list: string, headers = auth()): Promise<{ rows: any[]; pages: number[] }> {
    const rows: any[] = [];
    const pages: number[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 100; i++) {
      const sep = path.includes('?') ? '&' : '?';
      const r = await getJson(`${base}${path}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''}`, headers);
      expect(r.status).toBe(200);
      rows.push(...r.json[list]);
      pages.push(r.json[list].length);
      cursor = r.json.next_cursor;
      if (!cursor) return { rows, pages };
    }
    throw new Error('paging did not end');
  }

  beforeAll(async () => {
    server = await bootServer({ RATE_LIMIT_EVENTS_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' });
    base = server.url;
    t = await createTenant(base, 'paging');
    // 35 events at one instant, in 35 sessions that therefore share first_seen_at, plus 5 at other times.
    const same = Array.from({ length: 35 }, (_, i) => webEvent({ occurred_at: T, session_id: `s-same-${String(i).padStart(2, '0')}`, visitor_id: `v-${i}` }));
    const other = Array.from({ length: 5 }, (_, i) => webEvent({ occurred_at: new Date(Date.parse(T) - (i + 1) * 1000).toISOString(), session_id: `s-other-${i}` }));
    const r = await postJson(`${base}/api/tx/events/batch`, { events: [...same, ...other] }, { 'x-tx-key': t.write_key });
    expect(r.json.accepted).toBe(40);
    // 25 rejected events from one request: one received_at for all of them.
    const bad = await postJson(`${base}/api/tx/events/batch`, { events: Array.from({ length: 25 }, () => webEvent({ event_name: 'no_such_event' })) }, { 'x-tx-key': t.write_key });
    expect(bad.json.rejected.length).toBe(25);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('returns every event exactly once across pages of 10 when 35 share one occurred_at', async () => {
    const { rows, pages } = await walk('/api/v1/tx/events?limit=10', 'events');
    const ids = rows.map((e) => e.event_id);
    expect(ids.length).toBe(40);
    expect(new Set(ids).size).toBe(40);
    // 40 rows fill 4 pages exactly: the 4th is the last (next_cursor null), with no empty 5th page.
    expect(pages).toEqual([10, 10, 10, 10]);
    // Newest first: the 35 equal timestamps come before the 5 older events.
    expect(rows.slice(0, 35).every((e) => e.occurred_at === T)).toBe(true);
  });

  it('keeps filters and before working together with the cursor', async () => {
    const { rows } = await walk(`/api/v1/tx/events?limit=7&before=${encodeURIComponent(T)}`, 'events');
    expect(rows.length).toBe(5);
    const one = await walk('/api/v1/tx/events?limit=1&visitor_id=v-3', 'events');
    expect(one.rows.map((e) => e.visitor_id)).toEqual(['v-3']);
  });

  it('pages sessions that share first_seen_at without loss or repeats', async () => {
    const { rows, pages } = await walk('/api/v1/sessions?limit=10', 'sessions');
    expect(pages).toEqual([10, 10, 10, 10]);
    const ids = rows.map((s) => s.session_id);
    expect(ids.length).toBe(40);
    expect(new Set(ids).size).toBe(40);
  });

  it('pages rejected events stored by one request (one received_at) without loss or repeats', async () => {
    const { rows } = await walk('/api/v1/tx/rejected?limit=10', 'rejected');
    expect(rows.length).toBe(25);
    expect(new Set(rows.map((r) => r.id)).size).toBe(25);
    // Newest first by the numeric id among equal received_at (a text sort put '9' before '25').
    expect(rows.map((r) => Number(r.id))).toEqual(rows.map((r) => Number(r.id)).sort((a, b) => b - a));
  });

  it('pages the tenant list', async () => {
    for (let i = 0; i < 4; i++) await createTenant(base, `paging-${i}`);
    const { rows } = await walk('/api/admin/tenants?limit=2', 'tenants', { authorization: `Bearer ${ADMIN}` });
    const ids = rows.map((x) => x.tenant_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(5);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it('refuses a cursor that was forged or made by another list with 400 naming cursor', async () => {
    const first = await getJson(`${base}/api/v1/tx/events?limit=1`, auth());
    const fromEvents = first.json.next_cursor as string;
    for (const [path, c] of [['/api/v1/sessions', fromEvents], ['/api/v1/tx/events', 'not-a-cursor'], ['/api/v1/tx/events', Buffer.from('["events","2026-01-01T00:00:00.000000","1 OR 1=1"]').toString('base64url')]]) {
      const r = await getJson(`${base}${path}?cursor=${encodeURIComponent(c)}`, auth());
      expect({ path, status: r.status, field: r.json.error?.field }).toEqual({ path, status: 400, field: 'cursor' });
    }
  });
});
