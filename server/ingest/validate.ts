// Envelope + payload validation, compiled once per (event_name, event_version) from the registry, and the
// normalisation that turns a raw envelope into a stored row (deterministic ids, clock skew, IP, bot flag).
// Pure: `now` and the request context are passed in.
import crypto from 'node:crypto';
import FastestValidator from 'fastest-validator';
import type { EventRow } from '../store/events.js';
import type { Limits } from '../config/index.js';
import { ENTITY_NAMES, REGISTRY_V1, type ConsentScope, type EventDefinition } from './registry.js';
import { isBot } from './bots.js';

export interface FieldError {
  code: string;
  field: string | null;
  message: string;
}

export interface RequestContext {
  tenantId: number;
  receivedAt: Date;
  ip: string | null;
  userAgent: string | null;
}

export type EventOutcome =
  | { kind: 'ok'; row: EventRow }
  /** `store: false` for consent refusals: GDPR says such an event must not be kept at all. `raw` is the event as sent. */
  | { kind: 'rejected'; errors: FieldError[]; store: boolean; raw: string };

export const SOURCE_SYSTEMS = ['web', 'mobile', 'scanner', 'backend', 'payments', 'shop', 'wallet'] as const;
const MAX_DEPTH = 20;
const ISO_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Namespace for idempotency-key derived event ids (UUID v5).
const IDEMPOTENCY_NS = Buffer.from('6f1d1c2a5b7e4d0a9c3b8e2f4a6d8c10', 'hex');

// fastest-validator is CommonJS with an `export default` typing; under NodeNext the default is the module.
const Validator = FastestValidator as unknown as typeof FastestValidator.default;

const s = (max: number) => ({ type: 'string', max, optional: true, nullable: true });
const id = { type: 'multi', optional: true, nullable: true, rules: [{ type: 'string', min: 1, max: 128 }, { type: 'number', integer: true }] };

function envelopeSchema(def: EventDefinition): Record<string, unknown> {
  const entities: Record<string, unknown> = {};
  for (const e of ENTITY_NAMES) entities[e] = { ...id, optional: !def.required_entities.includes(e), nullable: !def.required_entities.includes(e) };
  return {
    $$strict: 'remove',
    event_id: { type: 'string', optional: true, pattern: UUID, messages: { stringPattern: "The 'event_id' field must be a UUID." } },
    event_name: { type: 'string' },
    event_version: { type: 'number', integer: true, min: 1, max: 32767, optional: true },
    occurred_at: { type: 'string', pattern: ISO_TS, messages: { stringPattern: "The 'occurred_at' field must be an ISO-8601 timestamp with a time zone." } },
    sent_at: { type: 'string', pattern: ISO_TS, optional: true, nullable: true },
    tenant_id: { type: 'multi', optional: true, nullable: true, rules: [{ type: 'string', max: 32 }, { type: 'number', integer: true }] },
    site_id: s(50),
    source_system: { type: 'enum', values: SOURCE_SYSTEMS },
    visitor_id: s(64),
    session_id: s(64),
    sequence_no: { type: 'number', integer: true, min: 0, max: 2_147_483_647, optional: true, nullable: true },
    prev_event_id: { type: 'string', pattern: UUID, optional: true, nullable: true },
    person_id: { type: 'any', optional: true },
    idempotency_key: { type: 'string', min: 1, max: 255, optional: true, nullable: true },
    consent_snapshot: {
      type: 'object',
      strict: false,
      props: {
        analytics: 'boolean',
        marketing: 'boolean',
        data_processing: 'boolean',
        captured_at: { type: 'string', max: 64, optional: true, nullable: true },
        copy_hash: { type: 'string', max: 128, optional: true, nullable: true },
      },
    },
    context: {
      type: 'object',
      optional: true,
      strict: false,
      props: {
        page: { type: 'object', optional: true, strict: false, props: { url: s(2048), path: s(2048), title: s(512), page_type: s(64) } },
        referrer: s(2048),
        utm: { type: 'object', optional: true, strict: false, props: { source: s(256), medium: s(256), campaign: s(256), content: s(256), term: s(256) } },
        click_ids: { type: 'object', optional: true, strict: false, props: { gclid: s(256), fbclid: s(256), ttclid: s(256) } },
        device: { type: 'object', optional: true, strict: false, props: { device_type: s(32), os: s(128), browser: s(512) } },
        user_agent: s(1024),
        ip: s(64),
      },
    },
    entities: { type: 'object', optional: def.required_entities.length === 0, strict: false, props: entities },
    payload: { type: 'object', optional: !hasRequired(def.payload), strict: false, props: def.payload },
  };
}

function hasRequired(props: Record<string, unknown>): boolean {
  return Object.values(props).some((r) => typeof r === 'string' || (typeof r === 'object' && r !== null && (r as { optional?: boolean }).optional !== true));
}

/** fastest-validator's rule types mapped onto the stable codes our API documents. */
function codeFor(type: string): string {
  if (type === 'required') return 'required';
  if (type === 'enumValue' || type === 'equalValue') return 'invalid_value';
  if (type === 'stringPattern') return 'invalid_format';
  if (/(Min|Max|Length|Empty|Positive|Negative)$/.test(type)) return 'out_of_range';
  return 'invalid_type';
}

export interface Validation {
  definitions: Map<string, EventDefinition>;
  /** Validates and normalises one raw event. */
  check(raw: unknown, req: RequestContext, limits: Limits): EventOutcome;
}

export function createValidation(registry: readonly EventDefinition[] = REGISTRY_V1): Validation {
  const v = new Validator({ useNewCustomCheckerFunction: true });
  const definitions = new Map<string, EventDefinition>();
  const compiled = new Map<string, (o: unknown) => true | { type: string; field?: string; message?: string }[]>();
  for (const def of registry) {
    definitions.set(def.name, def);
    compiled.set(`${def.name}@${def.version}`, v.compile(envelopeSchema(def)) as never);
  }

  return {
    definitions,
    check(raw, req, limits) {
      // Shape first: serialising hostile nesting would overflow the stack.
      const shapeError = checkShape(raw);
      const json = shapeError?.code === 'too_deep' ? JSON.stringify(`<not kept: nested deeper than ${MAX_DEPTH} levels>`) : (JSON.stringify(raw) ?? 'null');
      const reject = (errors: FieldError[], store = true): EventOutcome => ({ kind: 'rejected', errors, store, raw: json });
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        return reject([{ code: 'invalid_type', field: null, message: 'An event must be a JSON object.' }]);
      }
      if (shapeError) return reject([shapeError]);
      const size = Buffer.byteLength(json);
      if (size > limits.maxEventBytes) {
        return reject([{ code: 'event_too_large', field: null, message: `Event is ${size} bytes; the limit is ${limits.maxEventBytes} (MAX_EVENT_BYTES).` }]);
      }
      const ev = raw as Record<string, unknown>;
      const name = ev.event_name;
      const version = ev.event_version ?? 1;
      const def = typeof name === 'string' ? definitions.get(name) : undefined;
      if (!def) {
        return reject([{ code: 'unknown_event', field: 'event_name', message: `Unknown event_name ${JSON.stringify(name)}; see GET /api/tx/schema.` }]);
      }
      const fn = compiled.get(`${def.name}@${version}`);
      if (!fn) {
        return reject([{ code: 'unknown_version', field: 'event_version', message: `${def.name} has no version ${JSON.stringify(version)}; latest is ${def.version}.` }]);
      }
      const result = fn(ev);
      const errors: FieldError[] =
        result === true ? [] : result.map((e) => ({ code: codeFor(e.type), field: e.field ?? null, message: e.message ?? e.type }));

      const src = ev.source_system;
      if (src === 'web' || src === 'mobile') {
        for (const f of ['visitor_id', 'session_id'] as const) {
          if (typeof ev[f] !== 'string' || ev[f] === '') {
            errors.push({ code: 'required', field: f, message: `The '${f}' field is required when source_system is ${src}.` });
          }
        }
      }
      if (typeof ev.event_id !== 'string' && typeof ev.idempotency_key !== 'string') {
        errors.push({ code: 'required', field: 'event_id', message: "The 'event_id' field is required (a UUID) unless idempotency_key is given." });
      }
      if (ev.tenant_id !== undefined && ev.tenant_id !== null && String(ev.tenant_id) !== String(req.tenantId)) {
        errors.push({ code: 'tenant_mismatch', field: 'tenant_id', message: `tenant_id ${JSON.stringify(ev.tenant_id)} does not match the key's tenant ${req.tenantId}.` });
      }
      if (errors.length > 0) return reject(errors);

      // Clock skew: shift the client's clock by how far its send time is from ours.
      const received = req.receivedAt.getTime();
      let occurred = Date.parse(ev.occurred_at as string);
      const sent = typeof ev.sent_at === 'string' ? Date.parse(ev.sent_at) : NaN;
      if (Number.isNaN(occurred)) return reject([{ code: 'invalid_format', field: 'occurred_at', message: 'occurred_at is not a valid date.' }]);
      const skew = Number.isNaN(sent) ? null : received - sent;
      if (skew !== null) occurred += skew;
      if (occurred > received + limits.futureHours * 3_600_000) {
        return reject([{ code: 'occurred_at_in_future', field: 'occurred_at', message: `occurred_at is more than ${limits.futureHours} h in the future (after clock-skew correction).` }]);
      }
      if (occurred < received - limits.backfillDays * 86_400_000) {
        return reject([{ code: 'occurred_at_too_old', field: 'occurred_at', message: `occurred_at is older than the backfill window of ${limits.backfillDays} days (BACKFILL_DAYS).` }]);
      }

      const consent = ev.consent_snapshot as Record<string, unknown>;
      const denied = consentDenied(def.scope, consent);
      if (denied) {
        return reject([{ code: 'consent_denied', field: `consent_snapshot.${denied}`, message: `${def.name} needs ${denied} consent; the event was not stored.` }], false);
      }

      const context = { ...((ev.context as Record<string, unknown> | undefined) ?? {}) };
      const ua = typeof context.user_agent === 'string' ? context.user_agent : req.userAgent;
      if (ua && context.user_agent === undefined) context.user_agent = ua;
      const serverSide = src === 'backend' || src === 'payments' || src === 'shop';
      const ip = serverSide && typeof context.ip === 'string' ? context.ip : req.ip;
      context.ip = ip ? truncateIp(ip) : null;
      // Server-to-server calls carry their HTTP library's agent, not a visitor's: only browsers and apps are judged.
      const bot = (src === 'web' || src === 'mobile') && isBot(ua);
      context.is_bot = bot;
      if (skew !== null) context.clock_skew_ms = skew;

      const idem = typeof ev.idempotency_key === 'string' ? ev.idempotency_key : null;
      const row: EventRow = {
        event_id: idem ? uuidV5(`${req.tenantId}:${idem}`) : (ev.event_id as string).toLowerCase(),
        event_name: def.name,
        event_version: version as number,
        occurred_at: new Date(occurred).toISOString(),
        received_at: req.receivedAt.toISOString(),
        sent_at: Number.isNaN(sent) ? null : new Date(sent).toISOString(),
        tenant_id: req.tenantId,
        site_id: (ev.site_id as string | undefined) ?? null,
        source_system: src as string,
        visitor_id: (ev.visitor_id as string | undefined) ?? null,
        session_id: (ev.session_id as string | undefined) ?? null,
        sequence_no: (ev.sequence_no as number | undefined) ?? null,
        prev_event_id: typeof ev.prev_event_id === 'string' ? ev.prev_event_id.toLowerCase() : null,
        person_id: null,
        consent_snapshot: consent,
        context,
        entities: (ev.entities as Record<string, unknown> | undefined) ?? {},
        payload: (ev.payload as Record<string, unknown> | undefined) ?? {},
        idempotency_key: idem,
        is_bot: bot,
      };
      return { kind: 'ok', row };
    },
  };
}

export function consentDenied(scope: ConsentScope, consent: Record<string, unknown>): 'analytics' | 'marketing' | null {
  if (scope === 'analytics' && consent.analytics !== true) return 'analytics';
  if (scope === 'marketing' && consent.marketing !== true) return 'marketing';
  return null;
}

/**
 * Rejects what Postgres' jsonb cannot hold or what would blow a recursive walk: NUL characters, lone UTF-16
 * surrogates (in keys or values) and nesting deeper than MAX_DEPTH. Iterative, so hostile input cannot
 * overflow the stack here.
 */
export function checkShape(root: unknown): FieldError | null {
  const stack: [unknown, number, string][] = [[root, 0, '']];
  while (stack.length > 0) {
    const [node, depth, at] = stack.pop()!;
    if (typeof node === 'string') {
      if (!node.isWellFormed() || node.includes('\u0000')) {
        return { code: 'invalid_string', field: at || null, message: 'Strings must be valid Unicode without NUL characters or lone surrogates.' };
      }
    } else if (node !== null && typeof node === 'object') {
      if (depth >= MAX_DEPTH) return { code: 'too_deep', field: at || null, message: `Objects may nest at most ${MAX_DEPTH} levels.` };
      if (Array.isArray(node)) {
        for (let i = 0; i < node.length; i++) stack.push([node[i], depth + 1, `${at}[${i}]`]);
      } else {
        for (const [k, v] of Object.entries(node)) {
          const p = at ? `${at}.${k}` : k;
          if (!k.isWellFormed() || k.includes('\u0000')) {
            return { code: 'invalid_string', field: at || null, message: 'Keys must be valid Unicode without NUL characters or lone surrogates.' };
          }
          stack.push([v, depth + 1, p]);
        }
      }
    }
  }
  return null;
}

/** Keeps IPs useful for geo and abuse checks without identifying a person: IPv4 /24, IPv6 /48. */
export function truncateIp(ip: string): string | null {
  const v4 = ip.match(/^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/i);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0`;
  if (ip.includes(':')) {
    const groups = ip.split('::')[0].split(':').filter(Boolean).slice(0, 3);
    while (groups.length < 3) groups.push('0');
    return `${groups.join(':')}::`;
  }
  return null;
}

export function uuidV5(name: string): string {
  const h = crypto.createHash('sha1').update(IDEMPOTENCY_NS).update(name).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
