// /api/v1/server-events and its neighbours on a running server: the operator's MAX_BODY_BYTES caps the secret-key
// batch endpoint as it caps the public one, and the messages for a body of the wrong shape name what was sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, request, type Tenant } from './helpers.js';

describe('server-side events: body cap and messages', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  const api = (method: string, path: string, body: unknown) => request(method, `${server.url}${path}`, body, { authorization: `Bearer ${t.secret_key}` });

  beforeAll(async () => {
    server = await bootServer({ MAX_BODY_BYTES: '8192', MAX_EVENT_BYTES: '8192' });
    t = await createTenant(server.url, 'server-events-body');
  }, 120_000);
  afterAll(async () => server?.close());

  it('refuses a batch over MAX_BODY_BYTES with 413 and the limit, as the public endpoint does', async () => {
    const order = (i: number) => ({
      event_id: crypto.randomUUID(), event_name: 'order_completed', occurred_at: new Date().toISOString(), source_system: 'backend',
      entities: { event_entity_id: 'E1', order_id: `o-${i}` }, payload: { gross_amount: 10, currency: 'EUR', note: 'x'.repeat(1000) },
    });
    const big = await api('POST', '/api/v1/server-events', { events: Array.from({ length: 10 }, (_, i) => order(i)) });
    expect(big.status, big.text).toBe(413);
    expect(big.json.error).toMatchObject({ code: 'body_too_large', limit: 8192 });
    const small = await api('POST', '/api/v1/server-events', { events: [order(99)] });
    expect(small.status, small.text).toBe(200);
  });

  it('names the value of "events" when it is not a list', async () => {
    for (const [events, got] of [[null, '"events": null'], [{ a: 1 }, '"events": an object'], ['x', '"events": a string ("x")']] as const) {
      const r = await api('POST', '/api/v1/server-events', { events });
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({ code: 'invalid_body', field: 'events', message: expect.stringContaining(`got ${got}.`) });
    }
    const none = await api('POST', '/api/v1/server-events', { nope: 1 });
    expect(none.json.error.message).toContain('got an object without "events" or "event_name".');
  });

  it('shows the identify ids that were refused', async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ visitor_id: { a: 1 }, external_id: 'c1' }, 'visitor_id', 'got an object.'],
      [{ visitor_id: 'v'.repeat(65), external_id: 'c1' }, 'visitor_id', 'got a string of 65 characters.'],
      [{ visitor_id: 'v1', external_id: 9007199254740993 }, 'external_id', 'got an integer beyond ±2^53'],
      [{ visitor_id: 'v1' }, 'external_id', 'got nothing.'],
    ];
    for (const [body, field, got] of cases) {
      const r = await api('POST', '/api/v1/identify', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error).toMatchObject({ field, message: expect.stringContaining(got) });
    }
  });

  it('says a missing Stripe webhook secret is missing, not "an object"', async () => {
    const r = await api('PUT', '/api/v1/settings/stripe', {});
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ field: 'webhook_secret', message: expect.stringContaining('got nothing.') });
  });
});
