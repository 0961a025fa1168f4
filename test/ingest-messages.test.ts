// Validation messages and per-event source rules, over the whole registry (issue 8 items 2 and 4, issue 9 item 2).
// Every registry event gets a valid sample built from its own schema, then each field is broken in several
// ways; every resulting message must name what was sent and never print `undefined`.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config/index.js';
import { prepareServerEvent, SERVER_EVENTS } from '../server/identity/routes.js';
import { MAX_AMOUNT, MAX_QTY, REGISTRY_V1, SERVER_ALSO_EVENTS, SERVER_ONLY_EVENTS, SERVER_SOURCES, type EventDefinition } from '../server/ingest/registry.js';
import { createValidation, type EventOutcome, type FieldError, type RequestContext } from '../server/ingest/validate.js';
import { levenshtein, nearest } from '../server/ingest/messages.js';

const limits = loadConfig({}).limits;
const v = createValidation();
const now = new Date('2026-11-21T12:00:00Z');
const server: RequestContext = { tenantId: 7, receivedAt: now, ip: null, userAgent: null, channel: 'server', idSalt: 'f'.repeat(64) };
const pub: RequestContext = { ...server, userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120', channel: 'public' };
const CONSENT = { analytics: true, marketing: true, data_processing: true };

type Rule = Record<string, any>;
/** A value that satisfies a registry rule (the smallest allowed). */
function sample(rule: Rule): unknown {
  switch (rule.type) {
    case 'number':
      return Math.max(1, rule.min ?? 0);
    case 'string':
      return rule.pattern === '^[A-Z]{3}$' ? 'EUR' : 'x'.repeat(Math.max(1, rule.min ?? 1, rule.length ?? 0));
    case 'enum':
      return rule.values[0];
    case 'boolean':
      return true;
    case 'array':
      return [sample(rule.items)];
    case 'multi':
      return sample(rule.rules[0]);
    case 'object':
      return rule.props ? samplePayload(rule.props) : {};
    default:
      throw new Error(`no sample for ${JSON.stringify(rule)}`);
  }
}
function samplePayload(props: Record<string, Rule>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(props).filter(([, r]) => r.optional !== true).map(([k, r]) => [k, sample(r)]));
}
function validEvent(def: EventDefinition, source = def.sources[0]): Record<string, any> {
  return {
    event_id: '0b6e9a4e-3f7e-4b6e-9d0a-3c1f2e4d5a6b',
    event_name: def.name,
    occurred_at: '2026-11-21T11:59:00Z',
    source_system: source,
    visitor_id: 'v',
    session_id: 's',
    consent_snapshot: { ...CONSENT }, // a copy: the tests below break fields in place
    entities: Object.fromEntries(def.required_entities.map((e) => [e, 'id-1'])),
    payload: samplePayload(def.payload as Record<string, Rule>),
  };
}
const errorsOf = (out: EventOutcome): FieldError[] => (out.kind === 'rejected' ? out.errors : []);
const BAD_VALUES: unknown[] = [undefined, null, '', 'x'.repeat(3000), -1, 1.5, 1e308, -1e308, true, [], [1, 'a'], {}, { a: { b: 1 } }, 'not-a-date'];

function setPath(root: Record<string, any>, path: string[], value: unknown): void {
  let node = root;
  for (const p of path.slice(0, -1)) node = node[p] = typeof node[p] === 'object' && node[p] !== null ? node[p] : {};
  if (value === undefined) delete node[path[path.length - 1]];
  else node[path[path.length - 1]] = value;
}

describe('validation messages', () => {
  it('accepts a sample built from each registry schema (the samples below start valid)', () => {
    for (const def of REGISTRY_V1) expect(errorsOf(v.check(validEvent(def), server, limits)), def.name).toEqual([]);
  });

  it('never says "undefined" and always shows the value sent, over thousands of generated bad events', () => {
    let checked = 0;
    for (const def of REGISTRY_V1) {
      const fields = [
        ['event_id'], ['event_name'], ['event_version'], ['occurred_at'], ['sent_at'], ['source_system'], ['visitor_id'], ['session_id'],
        ['sequence_no'], ['tenant_id'], ['consent_snapshot'], ['consent_snapshot', 'analytics'], ['entities'], ['payload'],
        ...def.required_entities.map((e) => ['entities', e]),
        ...Object.keys(def.payload).map((k) => ['payload', k]),
      ];
      for (const path of fields) {
        for (const bad of BAD_VALUES) {
          const ev = validEvent(def);
          setPath(ev, path, bad);
          for (const req of [server, pub]) {
            for (const e of errorsOf(v.check(ev, req, limits))) {
              checked++;
              const where = `${def.name} ${path.join('.')}=${JSON.stringify(bad)?.slice(0, 40)}: ${e.message}`;
              expect(e.message, where).not.toMatch(/undefined|\[object Object\]|NaN/);
              expect(e.message.length, where).toBeGreaterThan(20);
              expect(e.code, where).toMatch(/^[a-z_]+$/);
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(5000);
  });

  it('answers {} with event_name required and every other missing envelope field, not "Unknown event_name undefined"', () => {
    const errors = errorsOf(v.check({}, pub, limits));
    expect(errors.map((e) => `${e.code}:${e.field}`)).toEqual(
      expect.arrayContaining(['required:event_name', 'required:occurred_at', 'required:source_system', 'required:consent_snapshot', 'required:event_id']),
    );
    expect(errors.find((e) => e.field === 'event_name')!.message).not.toMatch(/unknown/i);
  });

  it('suggests the nearest registry name for an unknown one and still reports the envelope errors', () => {
    const errors = errorsOf(v.check({ event_name: 'evnt_view', occurred_at: 'yesterday', source_system: 'webb', consent_snapshot: CONSENT }, pub, limits));
    expect(errors.find((e) => e.code === 'unknown_event')!.message).toContain('Did you mean "event_view"?');
    expect(errors.map((e) => e.field)).toEqual(expect.arrayContaining(['occurred_at', 'source_system', 'event_id']));
    expect(nearest('orderCompleted', REGISTRY_V1.map((d) => d.name))).toBe('order_completed');
    expect(nearest('zzzzzzzz', REGISTRY_V1.map((d) => d.name))).toBeNull();
    expect(levenshtein('kitten', 'sitting')).toBe(3);
  });

  it('shows the sent source_system where it belongs and the allowed list after it', () => {
    const ev = validEvent(REGISTRY_V1.find((d) => d.name === 'event_view')!, 'webb' as never);
    const [e] = errorsOf(v.check(ev, pub, limits));
    expect(e).toMatchObject({ code: 'invalid_value', field: 'source_system' });
    expect(e.message).toMatch(/"webb".*web, mobile, scanner/);
  });

  it('names the field, the bound and the value of an out-of-range number', () => {
    const order = validEvent(REGISTRY_V1.find((d) => d.name === 'order_completed')!);
    order.payload.gross_amount = 1e308;
    order.payload.items = [{ ticket_type_id: 'GA', qty: MAX_QTY + 1 }];
    const errors = errorsOf(v.check(order, server, limits));
    expect(errors).toEqual(expect.arrayContaining([
      expect.objectContaining({ code: 'out_of_range', field: 'payload.gross_amount', message: expect.stringMatching(new RegExp(`at most ${MAX_AMOUNT}; got 1e\\+308`)) }),
      expect.objectContaining({ code: 'out_of_range', field: 'payload.items[0].qty', message: expect.stringContaining(`at most ${MAX_QTY}; got ${MAX_QTY + 1}`) }),
    ]));
    order.payload.gross_amount = MAX_AMOUNT;
    order.payload.items = [{ ticket_type_id: 'GA', qty: MAX_QTY }];
    expect(errorsOf(v.check(order, server, limits))).toEqual([]);
  });

  it('bounds every number in the registry', () => {
    const unbounded: string[] = [];
    const walk = (rule: Rule, at: string) => {
      if (rule.type === 'number' && (rule.max === undefined || rule.min === undefined)) unbounded.push(at);
      if (rule.props) for (const [k, r] of Object.entries(rule.props)) walk(r as Rule, `${at}.${k}`);
      if (rule.items) walk(rule.items, `${at}[]`);
      if (rule.rules) for (const r of rule.rules) walk(r, at);
    };
    for (const def of REGISTRY_V1) for (const [k, r] of Object.entries(def.payload)) walk(r as Rule, `${def.name}.${k}`);
    expect(unbounded).toEqual([]);
  });
});

describe('server truth takes the secret key', () => {
  it('marks exactly the events /api/v1/server-events accepts as server-only, besides the browser events a backend may send too', () => {
    expect([...SERVER_ONLY_EVENTS, ...SERVER_ALSO_EVENTS].sort()).toEqual(Object.keys(SERVER_EVENTS).sort());
    for (const def of REGISTRY_V1) {
      if (SERVER_ONLY_EVENTS.includes(def.name)) expect(def.sources, def.name).toEqual([...SERVER_SOURCES]);
      else expect(def.sources, def.name).toContain('web');
    }
  });

  it('refuses every server-only event with the write key whatever source_system it claims', () => {
    for (const name of SERVER_ONLY_EVENTS) {
      const def = REGISTRY_V1.find((d) => d.name === name)!;
      for (const source of ['web', 'mobile', 'scanner', 'wallet', 'backend', 'payments', 'shop']) {
        const codes = errorsOf(v.check(validEvent(def, source as never), pub, limits)).map((e) => `${e.code}:${e.field}`);
        expect(codes, `${name} from ${source}`).toContain('event_requires_secret_key:event_name');
        if (SERVER_SOURCES.includes(source as never)) expect(codes, `${name} from ${source}`).toContain('source_requires_secret_key:source_system');
      }
      // The secret-key path still takes it.
      expect(v.check(validEvent(def), server, limits).kind, name).toBe('ok');
    }
  });

  it('refuses backend, payments and shop sources with the write key on browser events, and takes web', () => {
    const def = REGISTRY_V1.find((d) => d.name === 'event_view')!;
    for (const source of SERVER_SOURCES) {
      const errors = errorsOf(v.check(validEvent(def, source), pub, limits));
      expect(errors.map((e) => e.code), source).toEqual(['source_requires_secret_key']);
      // Not sent to an endpoint that refuses it: /api/v1/server-events does not take a page event.
      expect(errors[0].message).toContain('event_view is a browser or app event, which /api/v1/server-events does not take');
    }
    expect(v.check(validEvent(def, 'web'), pub, limits).kind).toBe('ok');
  });

  it('sends a backend\'s experiment exposure to /api/v1/server-events, which takes it with the consent the backend gives', () => {
    const def = REGISTRY_V1.find((d) => d.name === 'experiment_exposure')!;
    const errors = errorsOf(v.check(validEvent(def, 'backend'), pub, limits));
    expect(errors[0].message).toContain('post it to /api/v1/server-events with the secret key');
    const sent = { ...validEvent(def, 'backend'), source_system: undefined, consent_snapshot: { analytics: true, marketing: false, data_processing: true } };
    const prepared = prepareServerEvent(sent as never, now);
    expect(prepared).toMatchObject({ ok: true, event: { source_system: 'backend', event_name: 'experiment_exposure' } });
    if (!prepared.ok) throw new Error(prepared.error.message);
    expect(v.check(prepared.event as never, server, limits).kind).toBe('ok');
    // A page event still is not a server event.
    expect(prepareServerEvent({ event_name: 'event_view' }, now)).toMatchObject({ ok: false, error: { code: 'not_a_server_event' } });
  });

  it('refuses a server-only event with a client source on the secret-key path too', () => {
    const def = REGISTRY_V1.find((d) => d.name === 'order_completed')!;
    expect(errorsOf(v.check(validEvent(def, 'web'), server, limits)).map((e) => `${e.code}:${e.field}`)).toEqual(['invalid_value:source_system']);
  });
});
