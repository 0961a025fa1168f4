import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import { checkShape, clockSkew, createValidation, derivedEventId, headerUserAgent, keyedUuid, realDate, truncateIp, uuidV5, walkShape } from './validate.js';

const limits = loadConfig({}).limits;
const v = createValidation();
const now = new Date('2026-11-21T12:00:00Z');
const req = { tenantId: 7, receivedAt: now, ip: '203.0.113.77', userAgent: 'Mozilla/5.0 Chrome/120', channel: 'public' as const };
const base = () => ({
  event_id: '0b6e9a4e-3f7e-4b6e-9d0a-3c1f2e4d5a6b',
  event_name: 'add_to_cart',
  occurred_at: '2026-11-21T11:59:00Z',
  source_system: 'web',
  visitor_id: 'v',
  session_id: 's',
  consent_snapshot: { analytics: true, marketing: false, data_processing: true },
  entities: { cart_id: 'c1', event_entity_id: 'E1' },
  payload: { items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], cart_value: 100, currency: 'EUR' },
});

describe('event validation', () => {
  it('normalises a valid event into a row', () => {
    const out = v.check(base(), req, limits);
    expect(out.kind).toBe('ok');
    if (out.kind !== 'ok') return;
    expect(out.row).toMatchObject({ tenant_id: 7, event_version: 1, occurred_at: '2026-11-21T11:59:00.000Z', is_bot: false, person_id: null });
    expect(out.row.context).toMatchObject({ ip: '203.0.113.0', user_agent: 'Mozilla/5.0 Chrome/120' });
  });

  it('stores an event of browser SDK 1.2 (flat props, no device, page type or event_version) as SDK 1.1 sent it', () => {
    const ua = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
    const common = { ...base(), event_name: 'ticket_type_selected', consent_snapshot: { analytics: true, marketing: false, data_processing: false } };
    const page = { url: 'https://s.example/events/E1', path: '/events/E1', title: 'E1' };
    const v11 = {
      ...common,
      event_version: 1,
      context: { page: { ...page, page_type: 'event' }, device: { device_type: 'desktop', os: 'Linux', browser: 'Chrome' }, library: 'tx-sdk/1.1.0' },
      entities: { organizer_id: 'O1', event_entity_id: 'E1', ticket_type_id: 'GA' },
      payload: { ticket_type_id: 'GA', qty: 2, price: 50, currency: 'EUR' },
    };
    const v12 = {
      ...common,
      context: { page, library: 'tx-sdk/1.1.0' },
      entities: { organizer_id: 'O9' }, // the tracker's `entities` option; props override it
      payload: { event_entity_id: 'E1', organizer_id: 'O1', ticket_type_id: 'GA', qty: 2, price: 50, currency: 'EUR' },
    };
    const a = v.check(v11, { ...req, userAgent: ua }, limits);
    const b = v.check(v12, { ...req, userAgent: ua }, limits);
    expect(a.kind).toBe('ok');
    expect(b).toEqual(a);
    // A required entity sent flat is found; missing, it is named where SDK 1.1 would have had it.
    const sdk = { ...base(), context: { library: 'tx-sdk/1.2.0' } };
    const cart = { ...sdk, entities: undefined, payload: { ...base().payload, cart_id: 'c1', event_entity_id: 'E1' } };
    expect(v.check(cart, req, limits)).toEqual(v.check(sdk, req, limits));
    const missing = v.check({ ...cart, payload: base().payload }, req, limits);
    expect(missing.kind === 'rejected' && missing.errors.map((e) => e.field)).toContain('entities');
  });

  it("stores another sender's web event with its payload as sent: entity-named keys are not moved", () => {
    const ids = { event_entity_id: 'E1', cart_id: 'c1' };
    const curl = { ...base(), event_name: 'share', entities: undefined, payload: { ...ids, method: 'copy_link' } };
    const out = v.check(curl, req, limits);
    expect(out.kind === 'ok' && [out.row.entities, out.row.payload]).toEqual([{}, curl.payload]);
    // The same body from the browser SDK: its flat props are split.
    const sdk = v.check({ ...curl, context: { library: 'tx-sdk/1.2.0' } }, req, limits);
    expect(sdk.kind === 'ok' && [sdk.row.entities, sdk.row.payload]).toEqual([ids, { method: 'copy_link' }]);
  });

  it('names the field and code of every payload error', () => {
    const e = base();
    (e.payload.items[0] as Record<string, unknown>).qty = 'two';
    e.payload.currency = 'euro';
    const out = v.check(e, req, limits);
    expect(out.kind === 'rejected' && out.errors.map((x) => [x.code, x.field])).toEqual(
      expect.arrayContaining([['invalid_type', 'payload.items[0].qty'], [expect.any(String), 'payload.currency']]),
    );
  });

  it('refuses an occurred_at on a day its month does not have (Date.parse would move it to the next month)', () => {
    for (const at of ['2026-11-31T00:00:00Z', '2027-02-29T10:00:00Z', '2026-04-31T23:00:00+02:00']) {
      const out = v.check({ ...base(), occurred_at: at }, req, limits);
      expect(out.kind === 'rejected' && out.errors.map((x) => `${x.code}:${x.field}`), at).toEqual(['invalid_format:occurred_at']);
    }
    expect(realDate('2028-02-29T00:00:00Z')).toBe(true);
    expect(realDate('2026-12-31T23:59:59.999Z')).toBe(true);
  });

  it('reports occurred_at errors together with the event\'s other errors, after them, and none derived from another', () => {
    const codes = (ev: unknown) => {
      const out = v.check(ev, req, limits);
      return out.kind === 'rejected' ? out.errors.map((x) => `${x.code}:${x.field}`) : [];
    };
    // A date that does not exist, the future and the backfill window: each reported beside a sequence_no error.
    expect(codes({ ...base(), occurred_at: '2026-13-01T00:00:00Z', sequence_no: -1 })).toEqual(['out_of_range:sequence_no', 'invalid_format:occurred_at']);
    expect(codes({ ...base(), occurred_at: '2026-11-25T00:00:00Z', sequence_no: -1 })).toEqual(['out_of_range:sequence_no', 'occurred_at_in_future:occurred_at']);
    expect(codes({ ...base(), occurred_at: '2026-01-01T00:00:00Z', sequence_no: -1, visitor_id: null })).toEqual(['out_of_range:sequence_no', 'required:visitor_id', 'occurred_at_too_old:occurred_at']);
    // An unknown event's envelope is checked as far as it goes, its date included.
    expect(codes({ ...base(), event_name: 'add_to_crat', occurred_at: '2026-13-01T00:00:00Z' })).toEqual(['unknown_event:event_name', 'invalid_format:occurred_at']);
    // Not ISO-8601 or missing: the rule's error alone, no "not a real date" or range check on top of it.
    expect(codes({ ...base(), occurred_at: 'yesterday', sequence_no: -1 })).toEqual(['invalid_format:occurred_at', 'out_of_range:sequence_no']);
    expect(codes({ ...base(), occurred_at: undefined })).toEqual(['required:occurred_at']);
    // A refused sent_at corrects nothing: the occurred_at of a right clock is not moved out of range by it.
    expect(codes({ ...base(), sent_at: '2026-11-28 12:00:00Z' })).toEqual(['invalid_format:sent_at']);
    // Alone, as before.
    expect(codes({ ...base(), occurred_at: '2026-11-25T00:00:00Z' })).toEqual(['occurred_at_in_future:occurred_at']);
  });

  it('reports a malformed event_version as its type or range, and a well-formed one the registry lacks as unknown_version', () => {
    const codes = (version: unknown) => {
      const out = v.check({ ...base(), event_version: version }, req, limits);
      return out.kind === 'rejected' ? out.errors.map((x) => `${x.code}:${x.field}`) : [];
    };
    for (const bad of [1.5, '1', 0, -1, 40_000]) expect(codes(bad).some((c) => c.endsWith(':event_version') && !c.startsWith('unknown_version')), String(bad)).toBe(true);
    for (const bad of [1.5, '1', 0]) expect(codes(bad), String(bad)).not.toContain('unknown_version:event_version');
    expect(codes(7)).toEqual(['unknown_version:event_version']);
  });

  it("stamps the key's site on its events and refuses another site", () => {
    const bound = { ...req, siteId: 'box-office' };
    const plain = v.check(base(), bound, limits);
    expect(plain.kind === 'ok' && plain.row.site_id).toBe('box-office');
    const same = v.check({ ...base(), site_id: 'box-office' }, bound, limits);
    expect(same.kind).toBe('ok');
    const other = v.check({ ...base(), site_id: 'default' }, bound, limits);
    expect(other.kind === 'rejected' && other.errors.map((x) => `${x.code}:${x.field}`)).toEqual(['site_mismatch:site_id']);
    // A key with no site leaves the event's own site_id as sent.
    const free = v.check({ ...base(), site_id: 'default' }, req, limits);
    expect(free.kind === 'ok' && free.row.site_id).toBe('default');
  });

  it('requires visitor and session for web events, and the tenant to match the key', () => {
    const e = { ...base(), visitor_id: undefined, tenant_id: 8 };
    const out = v.check(e, req, limits);
    const codes = out.kind === 'rejected' ? out.errors.map((x) => `${x.code}:${x.field}`) : [];
    expect(codes).toEqual(expect.arrayContaining(['required:visitor_id', 'tenant_mismatch:tenant_id']));
  });

  it('refuses analytics events without analytics consent, and does not keep them', () => {
    const out = v.check({ ...base(), consent_snapshot: { analytics: false, marketing: false, data_processing: true } }, req, limits);
    expect(out).toMatchObject({ kind: 'rejected', store: false, errors: [{ code: 'consent_denied', field: 'consent_snapshot.analytics' }] });
  });

  it('does not keep a refused event that is also malformed, nor an unknown one whose snapshot refuses analytics', () => {
    const refused = { analytics: false, marketing: false, data_processing: true };
    const broken = v.check({ ...base(), session_id: undefined, payload: { cart_value: 'x' }, consent_snapshot: refused }, req, limits);
    expect(broken).toMatchObject({ kind: 'rejected', store: false, errors: [{ code: 'consent_denied' }] });
    const unknown = v.check({ ...base(), event_name: 'made_up_event', consent_snapshot: refused }, req, limits);
    expect(unknown).toMatchObject({ kind: 'rejected', store: false, errors: [{ code: 'unknown_event' }] });
    // With consent, the same unknown event is kept as rejected for the tenant to inspect.
    expect(v.check({ ...base(), event_name: 'made_up_event' }, req, limits)).toMatchObject({ kind: 'rejected', store: true });
  });

  it('accepts necessary events without consent and only flags bots on browser traffic', () => {
    const order = {
      event_id: '1b6e9a4e-3f7e-4b6e-9d0a-3c1f2e4d5a6b', event_name: 'order_completed', occurred_at: '2026-11-21T11:59:00Z', source_system: 'backend',
      consent_snapshot: { analytics: false, marketing: false, data_processing: false }, entities: { order_id: 'O1' },
      payload: { gross_amount: 10, currency: 'EUR', items: [{ ticket_type_id: 'GA', qty: 1, price: 10 }] },
    };
    const out = v.check(order, { ...req, userAgent: 'node-fetch/1.0', channel: 'server', idSalt: 'f'.repeat(64) }, limits);
    // Accepted, not merely "not a bot": a rejection must fail here.
    expect(out).toMatchObject({ kind: 'ok', row: { event_name: 'order_completed', is_bot: false } });
    // The same consent on an analytics event is refused, so the acceptance above is the necessary scope at work.
    expect(v.check({ ...base(), consent_snapshot: order.consent_snapshot }, req, limits)).toMatchObject({ kind: 'rejected', store: false });
    const bot = v.check(base(), { ...req, userAgent: 'Googlebot/2.1' }, limits);
    expect(bot).toMatchObject({ kind: 'ok', row: { is_bot: true } });
  });

  it('applies clock skew from sent_at before checking the window', () => {
    // Client clock 2 days behind: raw occurred_at looks too old, corrected it is one minute ago.
    const e = { ...base(), occurred_at: '2026-11-19T11:59:00Z', sent_at: '2026-11-19T12:00:00Z' };
    const out = v.check(e, req, { ...limits, backfillDays: 1 });
    expect(out.kind === 'ok' && out.row.occurred_at).toBe('2026-11-21T11:59:00.000Z');
  });

  it('derives one deterministic id per tenant and idempotency key', () => {
    expect(uuidV5('7:order_completed_1')).toBe(uuidV5('7:order_completed_1'));
    expect(uuidV5('7:order_completed_1')).not.toBe(uuidV5('8:order_completed_1'));
    expect(uuidV5('x')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("keys the server channel's derived ids with the tenant's salt, never the public derivation", () => {
    const [a, b] = ['a'.repeat(64), 'b'.repeat(64)];
    const server = (idSalt: string, tenantId = 7) => ({ ...req, tenantId, channel: 'server' as const, idSalt });
    // Public: uuidV5(tenant:key), computable by anyone, as before.
    expect(derivedEventId(req, 'order_completed_1')).toBe(uuidV5('7:order_completed_1'));
    // Server: deterministic per tenant, salt and key (retries stay duplicates), and apart from the public id.
    const id = derivedEventId(server(a), 'order_completed_1');
    expect(id).toBe(derivedEventId(server(a), 'order_completed_1'));
    expect(id).toBe(keyedUuid(a, '7:order_completed_1'));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(id).not.toBe(uuidV5('7:order_completed_1'));
    expect(id).not.toBe(derivedEventId(server(b), 'order_completed_1'));
    expect(id).not.toBe(derivedEventId(server(a, 8), 'order_completed_1'));
    expect(id).not.toBe(derivedEventId(server(a), 'order_completed_2'));
    // The event's row carries it.
    const ev = { ...base(), event_id: undefined, idempotency_key: 'k1' };
    expect(v.check(ev, server(a), limits)).toMatchObject({ kind: 'ok', row: { event_id: keyedUuid(a, '7:k1') } });
    expect(v.check(ev, req, limits)).toMatchObject({ kind: 'ok', row: { event_id: uuidV5('7:k1') } });
    // A server caller without the salt is a bug: it would make the server's ids computable again.
    expect(() => derivedEventId(server(''), 'k1')).toThrow(/idempotency salt/);
  });

  it('rejects NUL, lone surrogates and deep nesting without recursion', () => {
    expect(checkShape({ a: 'x\u0000' })?.code).toBe('invalid_string');
    expect(checkShape({ a: ['\ud800'] })).toMatchObject({ code: 'invalid_string', field: 'a[0]' });
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(checkShape({ deep })?.code).toBe('too_deep');
    expect(checkShape({ ok: [{ fine: 'ü✓' }] })).toBeNull();
  });

  it('names the field at fault through nested objects and arrays', () => {
    expect(checkShape({ a: { b: [{ c: 'x\u0000' }] } })).toMatchObject({ code: 'invalid_string', field: 'a.b[0].c' });
    expect(checkShape([{ ['k\ud800']: 1 }])).toMatchObject({ code: 'invalid_string', field: '[0]' });
    // A bad key at the event's top level: the event as a whole, `$` (a field is never empty).
    expect(checkShape({ 'x\u0000': 1 })).toMatchObject({ code: 'invalid_string', field: '$' });
  });

  it('names the whole event `$` when the event itself is at fault (not an object, too large): never a null field', () => {
    for (const raw of [1, 'x', null, [base()]]) {
      const out = v.check(raw, req, limits);
      expect(out.kind === 'rejected' && out.errors.map((x) => `${x.code}:${x.field}`), JSON.stringify(raw)).toEqual(['invalid_type:$']);
    }
    const big = v.check({ ...base(), payload: { ...base().payload, note: 'x'.repeat(1100) } }, req, { ...limits, maxEventBytes: 1024 });
    expect(big.kind === 'rejected' && big.errors).toEqual([{ code: 'event_too_large', field: '$', message: expect.stringMatching(/^Event is \d+ bytes; the limit is 1024 \(MAX_EVENT_BYTES\): send smaller payloads/) }]);
  });

  it('bounds the JSON size from above, so an event under the bound needs no serialising to pass the size limit', () => {
    const values: unknown[] = [
      {}, [], '', 'ascii', '\u0001\u001f"\\', 'ü✓€', '😀😀', -1.2345678901234567e-308, Number.MAX_SAFE_INTEGER, true, false, null,
      { nested: [{ a: ['\n\t', 1e21, { '': '' }] }], 'ключ': 'значение', emoji: '🎟️' },
      Array.from({ length: 50 }, (_, i) => ({ [`k${i}`]: 'v'.repeat(i), n: i / 3 })),
    ];
    for (const v of values) expect(walkShape(v).bound).toBeGreaterThanOrEqual(Buffer.byteLength(JSON.stringify(v)));
  });

  it('rejects an event over MAX_EVENT_BYTES however its size is made up', () => {
    const v = createValidation();
    const limits = { ...loadConfig({}).limits, maxEventBytes: 1024 };
    const big = { ...base(), payload: { ...base().payload, note: 'x'.repeat(1100) } };
    const out = v.check(big, req, limits);
    expect(out.kind === 'rejected' && out.errors[0].code).toBe('event_too_large');
    const escaped = { ...base(), payload: { ...base().payload, note: '\u0001'.repeat(200) } }; // 200 characters, 1200 bytes as JSON
    const out2 = v.check(escaped, req, limits);
    expect(out2.kind === 'rejected' && out2.errors[0].code).toBe('event_too_large');
  });

  it('keeps the User-Agent header cut to 1024 characters, never inside a surrogate pair, and judges the bot on it', () => {
    const emoji = 'A' + '😀'.repeat(600); // 1201 UTF-16 units: a cut at 1024 falls inside a pair
    expect(headerUserAgent(emoji)).toBe('A' + '😀'.repeat(511));
    expect(headerUserAgent('B' + emoji)).toBe('BA' + '😀'.repeat(511));
    expect(headerUserAgent('x\u0000y\ud800z')).toBe('xy\ufffdz');
    expect(headerUserAgent(null)).toBeNull();
    const bot = 'Googlebot/2.1 ' + 'a'.repeat(60_000);
    const out = v.check(base(), { ...req, userAgent: bot }, limits);
    expect(out.kind === 'ok' && out.row.context.user_agent).toBe(bot.slice(0, 1024));
    expect(out.kind === 'ok' && out.row.is_bot).toBe(true);
    // The body's own context.user_agent is kept over the header (the schema caps it at 1024).
    const own = v.check({ ...base(), context: { user_agent: 'Mozilla/5.0 Firefox/120' } }, { ...req, userAgent: bot }, limits);
    expect(own.kind === 'ok' && own.row.context.user_agent).toBe('Mozilla/5.0 Firefox/120');
  });

  it('truncates IPv4 to /24 and IPv6 to /48', () => {
    expect(truncateIp('198.51.100.23')).toBe('198.51.100.0');
    expect(truncateIp('::ffff:198.51.100.23')).toBe('198.51.100.0');
    expect(truncateIp('2001:db8:85a3:8d3:1319:8a2e:370:7348')).toBe('2001:db8:85a3::');
  });
});

describe('messages and consent flags', () => {
  it('a number beyond a double\'s range is shown as sent (Infinity), not as null', () => {
    const out = v.check(JSON.parse(JSON.stringify({ ...base(), payload: { ...base().payload, cart_value: 12345 } }).replace('12345', '9'.repeat(400))), req, limits);
    expect(out.kind).toBe('rejected');
    if (out.kind === 'rejected') expect(out.errors[0]).toMatchObject({ field: 'payload.cart_value', message: expect.stringContaining('got Infinity') });
  });
  it('a number beyond a double\'s range in an undeclared field (payload or context, at any depth) is invalid_type naming it, not stored as null', () => {
    const huge = (ev: object, literal: string) => JSON.parse(JSON.stringify(ev).replaceAll('"MARK"', literal));
    for (const literal of ['1e309', '-1e309', '9'.repeat(30_000)]) {
      const out = v.check(huge({ ...base(), payload: { ...base().payload, extra: 'MARK' } }, literal), req, limits);
      expect(out).toMatchObject({ kind: 'rejected', store: true, errors: [{ code: 'invalid_type', field: 'payload.extra', message: expect.stringMatching(/'payload\.extra'.*finite number.*got -?Infinity \(beyond ±1\.8e308\)/) }] });
    }
    const deep = v.check(huge({ ...base(), context: { clock_skew_ms: 5, extra: { list: [1, 'MARK'] } } }, '1e309'), req, limits);
    expect(deep).toMatchObject({ kind: 'rejected', errors: [{ code: 'invalid_type', field: 'context.extra.list[1]' }] });
    // A declared field beyond the range is reported once (by its rule), with the undeclared one next to it.
    const both = v.check(huge({ ...base(), payload: { ...base().payload, cart_value: 'MARK', extra: 'MARK' } }, '1e309'), req, limits);
    expect(both.kind === 'rejected' && both.errors.map((e) => e.field).sort()).toEqual(['payload.cart_value', 'payload.extra']);
    // Consent is still judged first: a refused event with such a number is not kept either.
    const refused = v.check(huge({ ...base(), consent_snapshot: { analytics: false, marketing: false, data_processing: false }, payload: { ...base().payload, extra: 'MARK' } }, '1e309'), req, limits);
    expect(refused).toMatchObject({ kind: 'rejected', store: false, errors: [{ code: 'consent_denied' }] });
    // The largest double and -0 are numbers like any other.
    const ok = v.check(JSON.parse(JSON.stringify({ ...base(), payload: { ...base().payload, extra: 'MARK', neg_zero: 'NEG' } }).replace('"MARK"', '1e308').replace('"NEG"', '-0')), req, limits);
    expect(ok.kind === 'ok' && ok.row.payload).toMatchObject({ extra: 1e308, neg_zero: -0 });
  });
  it('a consent flag that is not a boolean is invalid_type naming it, and still not stored', () => {
    const out = v.check({ ...base(), consent_snapshot: { analytics: 'true', marketing: false, data_processing: false } }, req, limits);
    expect(out).toMatchObject({ kind: 'rejected', store: false, errors: [{ code: 'invalid_type', field: 'consent_snapshot.analytics' }] });
    const no = v.check({ ...base(), consent_snapshot: { analytics: false, marketing: false, data_processing: false } }, req, limits);
    expect(no).toMatchObject({ kind: 'rejected', store: false, errors: [{ code: 'consent_denied', field: 'consent_snapshot.analytics' }] });
  });
  it('consent_snapshot.captured_at must be an ISO-8601 time', () => {
    const bad = v.check({ ...base(), consent_snapshot: { analytics: true, marketing: false, data_processing: false, captured_at: 'x' } }, req, limits);
    expect(bad).toMatchObject({ kind: 'rejected', errors: [{ code: 'invalid_format', field: 'consent_snapshot.captured_at', message: expect.stringContaining('ISO-8601') }] });
    const ok = v.check({ ...base(), consent_snapshot: { analytics: true, marketing: false, data_processing: false, captured_at: '2026-11-21T11:58:00.000Z' } }, req, limits);
    expect(ok.kind).toBe('ok');
  });
});

describe('clockSkew', () => {
  it('corrects a clock off by more than 2 s (either way), never network delay within it, nothing without sent_at', () => {
    const received = Date.parse('2026-12-01T10:00:00Z');
    const before = received - 4_000_000;
    expect(clockSkew(received, received - 3_600_000, before)).toBe(3_600_000);
    expect(clockSkew(received, received + 2_001, before)).toBe(-2_001);
    expect(clockSkew(received, received - 800, before)).toBeNull();
    expect(clockSkew(received, received - 2_000, before)).toBeNull();
    expect(clockSkew(received, NaN, before)).toBeNull();
  });
  it('ignores a sent_at earlier than occurred_at: the correction never moves an event past its receive time', () => {
    const received = Date.parse('2026-12-01T10:00:00Z');
    // occurred now, "sent" 10 min earlier: impossible on one clock; it used to store occurred_at 10 min in the future.
    expect(clockSkew(received, received - 600_000, received)).toBeNull();
    expect(clockSkew(received, received - 600_000, received - 600_000)).toBe(600_000);
    const ev = { ...base(), occurred_at: now.toISOString(), sent_at: new Date(now.getTime() - 600_000).toISOString() };
    const out = v.check(ev, req, limits);
    expect(out.kind).toBe('ok');
    if (out.kind === 'ok') {
      expect(out.row.occurred_at).toBe(now.toISOString());
      expect(out.row.context.clock_skew_ms).toBeUndefined();
    }
  });
});

describe('the ad platforms\' browser ids in context', () => {
  it('keeps well-formed fbp, fbc, ttp, ga_client_id and ga_session_ids, and refuses malformed ones naming the field', () => {
    const ids = { fbp: 'fb.1.1596403881668.1116446470', fbc: 'fb.1.1796000000000.OLDCLICK', ttp: '2Ho2bOEhL4lXgNMaEwmJbEIUpH3', ga_client_id: '1234567890.1700000000', ga_session_ids: { 'G-AB12CD34': '1700000123' } };
    const ok = v.check({ ...base(), context: ids }, req, limits);
    expect(ok.kind).toBe('ok');
    if (ok.kind === 'ok') expect(ok.row.context).toMatchObject(ids);
    for (const [k, bad] of [
      ['fbp', 'fb.1.<script>'], ['fbp', 'x'.repeat(200)], ['fbc', 'OLDCLICK'], ['fbc', 'fb.1.1796000000000.a b'],
      ['fbc', 'fb.1.1796000000000.' + 'x'.repeat(241)], ['fbc', 7], ['ttp', 'a b'], ['ga_client_id', 'GA1.1.123.456'], ['ga_client_id', '1.2"'],
      ['ga_session_ids', { 'G-AB12CD34': 'x1' }], ['ga_session_ids', { '<x>': '1' }], ['ga_session_ids', 'G-AB12CD34'],
    ] as const) {
      const out = v.check({ ...base(), context: { [k]: bad } }, req, limits);
      expect(out.kind, `${k} ${JSON.stringify(bad)}`).toBe('rejected');
      if (out.kind === 'rejected') expect(out.errors[0].field).toMatch(new RegExp(`^context\\.${k}`));
    }
  });
});

