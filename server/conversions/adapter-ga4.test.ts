// GA4's body limit: a Measurement Protocol request must be under 130 kB, and GA4 answers 2xx to a bigger one and
// drops it (no error ever). A client's events are split over requests under the limit; an event too big alone
// is refused before sending. Stand-ins record the exact bytes of each request (what createHttpPost sends).
import { describe, expect, it } from 'vitest';
import type { Destination, HttpAnswer, HttpPost, OutboxItem } from './adapter.js';
import { GA4_MAX_BODY_BYTES, ga4Adapter, ga4Body, ga4BodyBytes, ga4Requests } from './adapter-ga4.js';

const NOW = Date.UTC(2026, 10, 30, 12);
const OK: HttpAnswer = { status: 204, json: null, text: '' };
const dest: Destination = { tenantId: 1, name: 'ga4:1', provider: 'ga4', codeId: 1, settings: { measurement_id: 'G-BOX1' }, secrets: { api_secret: 'sec' } };

/** A box-office order: one till (one visitor id), `n` lines whose ticket type ids are 100 characters. */
const order = (id: number, n = 200, over: Partial<OutboxItem['data']> = {}): OutboxItem => ({
  id, event_id: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`, event_name: 'order_completed',
  occurred_at: new Date(NOW - 60_000).toISOString(), legal_basis: 'consent', user_data: null, attempts: 0,
  data: {
    order_id: `BOX-${id}`, value: 100, currency: 'EUR', visitor_id: 'till-1',
    items: Array.from({ length: n }, (_, k) => ({ ticket_type_id: `${'T'.repeat(90)}-${String(id * 1000 + k).padStart(9, '0')}`, qty: 1, price: 25.5 })),
    ...over,
  },
});
/**
 * An order whose request alone is over 130 kB within the ingest rules: 200 lines, ids of 100 control characters
 * (6 bytes each once JSON-escaped), the largest quantity and price.
 */
const huge = (id: number): OutboxItem => order(id, 0, {
  items: Array.from({ length: 200 }, () => ({ ticket_type_id: '\u0001'.repeat(100), qty: 10_000, price: 9_999_999_999.99 })),
});

/** A GA4 stand-in that records each request's size in bytes (as sent) and its transaction ids. */
function standIn() {
  const requests: { bytes: number; transactions: string[] }[] = [];
  const http: HttpPost = async (_url, body: any) => {
    requests.push({ bytes: Buffer.byteLength(JSON.stringify(body)), transactions: body.events.map((e: any) => e.params.transaction_id) });
    return OK;
  };
  return { http, requests };
}

describe('GA4 request size (< 130 kB, or GA4 drops the request silently)', () => {
  it('six 200-line orders of one till go as several requests each under 130 kB, all events once and in order', async () => {
    const rows = [1, 2, 3, 4, 5, 6].map((i) => order(i));
    // The repro: as one request they were 166 kB (all six marked sent, all dropped by GA4).
    expect(ga4BodyBytes(ga4Body(rows, 'G-BOX1'))).toBeGreaterThan(GA4_MAX_BODY_BYTES);
    const s = standIn();
    const marked: number[][] = [];
    const out = await ga4Adapter('http://ga4').send(dest, rows, s.http, async (ids) => void marked.push(ids));
    expect(out).toEqual({ kind: 'ok' });
    expect(s.requests.length).toBeGreaterThan(1);
    for (const r of s.requests) expect(r.bytes).toBeLessThan(GA4_MAX_BODY_BYTES);
    expect(s.requests.flatMap((r) => r.transactions)).toEqual(['BOX-1', 'BOX-2', 'BOX-3', 'BOX-4', 'BOX-5', 'BOX-6']);
    // Each request is marked sent on its own (GA4 deduplicates nothing: an acknowledged one never goes again).
    expect(marked.flat()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(marked).toHaveLength(s.requests.length);
  });

  it('ga4Requests fills each request while its exact body stays under the limit', () => {
    const rows = [1, 2, 3].map((i) => order(i, 5));
    const one = ga4BodyBytes(ga4Body(rows.slice(0, 1), 'G-BOX1'));
    const two = ga4BodyBytes(ga4Body(rows.slice(0, 2), 'G-BOX1'));
    const all = ga4BodyBytes(ga4Body(rows, 'G-BOX1'));
    expect(ga4Requests(rows, 'G-BOX1', all + 1).map((g) => g.map((i) => i.id))).toEqual([[1, 2, 3]]);
    // Exactly at the limit is over it ("less than 130 kB").
    expect(ga4Requests(rows, 'G-BOX1', all).map((g) => g.map((i) => i.id))).toEqual([[1, 2], [3]]);
    expect(ga4Requests(rows, 'G-BOX1', two).map((g) => g.map((i) => i.id))).toEqual([[1], [2], [3]]);
    expect(ga4Requests(rows, 'G-BOX1', one).map((g) => g.length)).toEqual([1, 1, 1]);
  });

  it('an event too big alone is refused before sending, naming the 130 kB limit; the others are not held back', async () => {
    const a = ga4Adapter('http://ga4');
    expect(ga4BodyBytes(ga4Body([huge(9)], 'G-BOX1'))).toBeGreaterThanOrEqual(GA4_MAX_BODY_BYTES);
    expect(a.check(dest, huge(9), NOW)).toMatch(/^GA4: the event's request would be \d+ bytes, over the Measurement Protocol's 130 kB \(130000 bytes\) limit/);
    expect(a.check(dest, order(1), NOW)).toBeNull();
    // Even when send is called without check: never sent, refused (the dispatcher bisects it down to the row).
    const s = standIn();
    const out = await a.send(dest, [order(1), huge(9)], s.http, async () => undefined);
    expect(out).toEqual({ kind: 'invalid', error: expect.stringMatching(/130 kB/) });
    expect(s.requests.map((r) => r.transactions)).toEqual([['BOX-1']]);
  });
});
