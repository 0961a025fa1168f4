// Generated hostile input against a running server: never a 5xx, never a crash, always a documented status.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, createTenant, getJson, webEvent, type Tenant } from './helpers.js';

const DOCUMENTED = new Set([200, 400, 413, 415]);

describe('bad input (property-based)', () => {
  let server: Awaited<ReturnType<typeof bootServer>>;
  let t: Tenant;
  beforeAll(async () => {
    server = await bootServer({ RATE_LIMIT_EVENTS_PER_SEC: '1000000', RATE_LIMIT_BURST: '1000000', MAX_BODY_BYTES: '65536', MAX_EVENT_BYTES: '8192' });
    t = await createTenant(server.url, 'fuzz');
  });
  afterAll(async () => {
    await server?.close();
  });

  const send = async (body: string | Uint8Array, contentType = 'application/json', path = '/api/tx/events/batch') => {
    const r = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'x-tx-key': t.write_key, 'content-type': contentType }, body });
    const text = await r.text();
    return { status: r.status, text };
  };
  const expectDocumented = (r: { status: number; text: string }) => {
    if (!DOCUMENTED.has(r.status)) throw new Error(`status ${r.status}: ${r.text.slice(0, 300)}`);
    const json = JSON.parse(r.text);
    if (r.status !== 200) expect(typeof json.error.code).toBe('string');
    else expect(json).toHaveProperty('accepted');
  };

  // Values that stress JSON, validation and jsonb: lone surrogates, NULs, huge and tiny numbers, odd keys.
  const nasty = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.constantFrom('\u0000', '\ud800', '\udfff', 'a\ud800b', '__proto__', 'constructor', '', ' '.repeat(300)),
    fc.double(),
    fc.constantFrom(1e308, -1e308, 2 ** 63, Number.MAX_SAFE_INTEGER + 2, -0, 0.1),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
  );
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, nasty, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.constantFrom('__proto__', '\u0000')), tie('v'), { maxKeys: 4 })),
  })).v;
  const fields = ['event_id', 'event_name', 'event_version', 'occurred_at', 'sent_at', 'tenant_id', 'source_system', 'visitor_id', 'session_id', 'sequence_no', 'consent_snapshot', 'context', 'entities', 'payload', 'idempotency_key', 'prev_event_id'];
  // Valid envelopes with one field replaced by something hostile, or random junk events.
  const mutatedEvent = fc.oneof(
    fc.record({ field: fc.constantFrom(...fields), v: value }).map(({ field, v }) => ({ ...webEvent(), [field]: v })),
    fc.record({ path: fc.constantFrom('payload', 'context', 'entities', 'consent_snapshot'), k: fc.string({ maxLength: 10 }), v: value }).map(({ path, k, v }) => {
      const e = webEvent();
      e[path] = { ...(e[path] ?? {}), [k]: v };
      return e;
    }),
    value,
  );

  it('answers generated envelopes with 200 and per-event results, or a documented error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutatedEvent, { minLength: 1, maxLength: 8 }), async (events) => {
        expectDocumented(await send(JSON.stringify({ events })));
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 150) },
    );
  });

  it('answers generated raw bodies and content types with a documented status', async () => {
    const body = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }),
      fc.json().map((j) => j.slice(0, Math.max(0, j.length - 1))),
      fc.json(),
      fc.nat({ max: 30_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
      fc.nat({ max: 10_000 }).map((n) => `{"events":[${'{"a":'.repeat(n)}1${'}'.repeat(n)}]}`),
      fc.constantFrom('1e999999', '-1e999999', '{"events":[1e999]}', '"\\ud800"', '{"events":"\\u0000"}', '{"events":[{"event_id":"\\ud800"}]}'),
    );
    const type = fc.constantFrom('application/json', 'text/plain;charset=UTF-8', 'application/xml', 'multipart/form-data', '', 'application/json; charset=latin1');
    const path = fc.constantFrom('/api/tx/events', '/api/tx/events/batch', '/api/tx/validate');
    await fc.assert(
      fc.asyncProperty(body, type, path, async (b, ct, p) => {
        expectDocumented(await send(b, ct, p));
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 150) },
    );
  });

  it('refuses oversized bodies and events with 413 or a per-event code, and stays healthy', async () => {
    expect((await send('x'.repeat(70_000))).status).toBe(413);
    const big = webEvent({ payload: { price_from: 1, currency: 'EUR', blob: 'x'.repeat(9000) } });
    const r = await send(JSON.stringify({ events: [big] }));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text).rejected[0].errors[0].code).toBe('event_too_large');
    const h = await getJson(`${server.url}/health`);
    expect(h.json.status).toBe('ok');
  });
});
