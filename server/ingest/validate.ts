// Envelope + payload validation, compiled once per (event_name, event_version) from the registry, and the
// normalisation that turns a raw envelope into a stored row (deterministic ids, clock skew, IP, bot flag, and
// what the browser SDK leaves to the server: web-fill.ts).
// Pure: `now` and the request context are passed in.
import crypto from 'node:crypto';
import FastestValidator from 'fastest-validator';
import type { EventRow } from '../store/events.js';
import type { Limits } from '../config/index.js';
import { ENTITY_NAMES, PUBLIC_SOURCES, REGISTRY_V1, SERVER_ALSO_EVENTS, SERVER_ONLY_EVENTS, SERVER_SOURCES, SOURCE_SYSTEMS, type ConsentScope, type EventDefinition, type SourceSystem } from './registry.js';
import { isBot } from './bots.js';
import { fillWebDetection, liftEntities } from './web-fill.js';
import { EVENT_ROOT, kindOf, nearest, shown, toFieldErrors, type RuleError } from './messages.js';


/**
 * How far a client's clock is off, or null when it need not be corrected (no sent_at, or within
 * SKEW_TOLERANCE_MS). received − sent also holds the request's network delay, which differs from one request
 * to the next: correcting a device whose clock is right by that noise reorders its events across batches (a
 * gate scan sent slowly landed after the gate-wide snapshot recorded after it, and counted twice). Clocks off
 * by more than the tolerance are wrong enough that their correction matters more than that noise. A sent_at
 * before occurred_at (same clock: an event cannot be sent before it happened) is not a reading of the device's
 * clock and corrects nothing; otherwise the corrected time, occurred + received − sent, is never after the
 * receive time. Pure.
 */
export function clockSkew(received: number, sent: number, occurred: number): number | null {
  if (Number.isNaN(sent) || sent < occurred) return null;
  const skew = received - sent;
  return Math.abs(skew) > SKEW_TOLERANCE_MS ? skew : null;
}

/** A device clock within this of the server's (send time to receive time, network delay included) is left as it is. */
export const SKEW_TOLERANCE_MS = 2_000;

export interface FieldError {
  code: string;
  /** The field's path in the event (`payload.items[0].qty`); EVENT_ROOT (`$`) for the event as a whole. Never empty. */
  field: string;
  message: string;
}

interface RequestBase {
  tenantId: number;
  receivedAt: Date;
  ip: string | null;
  userAgent: string | null;
  /** The site the write key is bound to (keys created with a site_id): its events carry it. */
  siteId?: string | null;
  /** The source systems the write key may send (keys created with `sources`); null or absent: any. */
  sources?: readonly string[] | null;
}

/**
 * `channel`: how the caller authenticated. `public`: the write key, which sits in every page's source, so server
 * truth (backend/payments/shop sources, orders, payments, refunds, points, shipments) is refused. `server`: the
 * caller holds the secret key (/api/v1/server-events, Stripe webhooks). Required, so that no new caller is granted
 * server truth by forgetting it. A server caller brings the tenant's `idSalt` (tenants.idempotency_salt, migration
 * 048): its idempotency keys are derived with it, so the public channel cannot compute, and claim first, the id of
 * a backend's order (see derivedEventId).
 */
export type RequestContext = RequestBase & ({ channel: 'public' } | { channel: 'server'; idSalt: string });

export type EventOutcome =
  | { kind: 'ok'; row: EventRow }
  /** `store: false` for consent refusals: GDPR says such an event must not be kept at all. `raw` is the event as sent. */
  | { kind: 'rejected'; errors: FieldError[]; store: boolean; raw: string };

export { SOURCE_SYSTEMS };
const MAX_DEPTH = 20;
/** context.user_agent's limit, in characters; the User-Agent header stored in its place is cut to it. */
export const MAX_USER_AGENT = 1024;

/**
 * The User-Agent header as an event keeps it (context.user_agent, when the event sends none): at most
 * MAX_USER_AGENT characters like the body's own field, cut before a character rather than inside a surrogate
 * pair, without NUL or lone surrogates (which jsonb refuses). The header has no limit of its own (a 60 KB one was
 * stored in each event of its batch, past MAX_EVENT_BYTES, checked before). Bots and devices are judged on this.
 */
export function headerUserAgent(header: string | null): string | null {
  if (header === null) return null;
  let ua = header.length > MAX_USER_AGENT ? header.slice(0, MAX_USER_AGENT) : header;
  // A high surrogate left last by the cut: its pair was cut off.
  const last = ua.charCodeAt(ua.length - 1);
  if (ua.length === MAX_USER_AGENT && last >= 0xd800 && last <= 0xdbff) ua = ua.slice(0, -1);
  if (ua.includes('\u0000')) ua = ua.replaceAll('\u0000', '');
  return ua.isWellFormed() ? ua : ua.toWellFormed();
}
const ISO_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Namespace for idempotency-key derived event ids (UUID v5).
const IDEMPOTENCY_NS = Buffer.from('6f1d1c2a5b7e4d0a9c3b8e2f4a6d8c10', 'hex');

// fastest-validator is CommonJS with an `export default` typing; under NodeNext the default is the module.
const Validator = FastestValidator as unknown as typeof FastestValidator.default;

const s = (max: number) => ({ type: 'string', max, optional: true, nullable: true });
const id = { type: 'multi', optional: true, nullable: true, rules: [{ type: 'string', min: 1, max: 128 }, { type: 'number', integer: true, min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }] };

/** context fields of the ad platforms' browser ids; the same patterns as client/sdk/pixel-events.ts browserIds. */
const BROWSER_IDS = {
  fbp: { type: 'string', max: 128, pattern: /^fb\.\d\.\d{1,16}\.[A-Za-z0-9._-]{1,100}$/, optional: true, nullable: true },
  fbc: { type: 'string', max: 260, pattern: /^fb\.\d\.\d{1,16}\.[A-Za-z0-9._-]{1,240}$/, optional: true, nullable: true },
  ttp: { type: 'string', max: 128, pattern: /^[A-Za-z0-9._-]{1,128}$/, optional: true, nullable: true },
  ga_client_id: { type: 'string', max: 41, pattern: /^\d{1,20}\.\d{1,20}$/, optional: true, nullable: true },
  ga_session_ids: {
    type: 'record', optional: true, nullable: true,
    key: { type: 'string', pattern: /^G-[A-Z0-9]{4,20}$/ },
    value: { type: 'string', pattern: /^\d{1,20}$/ },
  },
};

/** `def` null: the envelope alone, to report an unnamed or unknown event's other errors. */
function envelopeSchema(def: EventDefinition | null): Record<string, unknown> {
  const required = def?.required_entities ?? [];
  const entities: Record<string, unknown> = {};
  for (const e of ENTITY_NAMES) entities[e] = { ...id, optional: !required.includes(e), nullable: !required.includes(e) };
  return {
    $$strict: 'remove',
    event_id: { type: 'string', optional: true, pattern: UUID },
    // Checked before the schema is chosen (missing, unknown, nearest name).
    event_name: { type: 'any', optional: true },
    event_version: { type: 'number', integer: true, min: 1, max: 32767, optional: true },
    occurred_at: { type: 'string', pattern: ISO_TS },
    sent_at: { type: 'string', pattern: ISO_TS, optional: true, nullable: true },
    tenant_id: { type: 'multi', optional: true, nullable: true, rules: [{ type: 'string', max: 32 }, { type: 'number', integer: true, min: 0, max: Number.MAX_SAFE_INTEGER }] },
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
        captured_at: { type: 'string', max: 64, pattern: ISO_TS, optional: true, nullable: true },
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
        user_agent: s(MAX_USER_AGENT),
        ip: s(64),
        // The ad platforms' browser ids (the SDK's pixel loader reads their cookies; a backend may forward them):
        // server-side conversions match the same browser with them (README "The envelope").
        ...BROWSER_IDS,
      },
    },
    entities: { type: 'object', optional: required.length === 0, strict: false, props: entities },
    payload: { type: 'object', optional: !def || !hasRequired(def.payload), strict: false, props: def?.payload ?? {} },
  };
}

function hasRequired(props: Record<string, unknown>): boolean {
  return Object.values(props).some((r) => typeof r === 'string' || (typeof r === 'object' && r !== null && (r as { optional?: boolean }).optional !== true));
}

export interface Validation {
  definitions: Map<string, EventDefinition>;
  /** Validates and normalises one raw event. */
  check(raw: unknown, req: RequestContext, limits: Limits): EventOutcome;
}

export function createValidation(registry: readonly EventDefinition[] = REGISTRY_V1): Validation {
  const v = new Validator({ useNewCustomCheckerFunction: true });
  const definitions = new Map<string, EventDefinition>();
  type Check = (o: unknown) => true | RuleError[];
  const compiled = new Map<string, Check>();
  for (const def of registry) {
    definitions.set(def.name, def);
    compiled.set(`${def.name}@${def.version}`, v.compile(envelopeSchema(def)) as never);
  }
  const envelopeOnly = v.compile(envelopeSchema(null)) as unknown as Check;
  const rulesOf = (fn: Check, ev: unknown, name: string | null): FieldError[] => {
    const r = fn(ev);
    return r === true ? [] : toFieldErrors(r, ev, name);
  };

  // One request's events share its receive time and, from the SDK, one sent_at: formatted and parsed once.
  let recvDate: Date | null = null;
  let recvIso = '';
  const receivedIso = (d: Date) => (d === recvDate ? recvIso : ((recvDate = d), (recvIso = d.toISOString())));
  let sentText: string | null = null;
  let sentMs = NaN;
  let sentIso: string | null = null;
  const parseSent = (v: unknown): number => {
    if (typeof v !== 'string') return NaN;
    if (v !== sentText) {
      sentText = v;
      sentMs = Date.parse(v);
      sentIso = Number.isNaN(sentMs) ? null : new Date(sentMs).toISOString();
    }
    return sentMs;
  };

  // One request's events share its User-Agent header: cut once.
  let uaHeader: string | null = null;
  let uaKept: string | null = null;
  const headerUa = (h: string | null) => (h === uaHeader ? uaKept : ((uaHeader = h), (uaKept = headerUserAgent(h))));

  return {
    definitions,
    check(raw, req, limits) {
      // Shape first: serialising hostile nesting would overflow the stack.
      const shape = walkShape(raw);
      const shapeError = shape.error;
      // Serialised only when kept as rejected, or when its size could pass the limit.
      const json = () => (shapeError?.code === 'too_deep' ? JSON.stringify(`<not kept: nested deeper than ${MAX_DEPTH} levels>`) : (JSON.stringify(raw) ?? 'null'));
      const reject = (errors: FieldError[], store = true): EventOutcome => ({ kind: 'rejected', errors, store, raw: json() });
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        return reject([{ code: 'invalid_type', field: EVENT_ROOT, message: `An event must be a JSON object ({"event_name": …}); got ${shown(raw)} (${kindOf(raw)}).` }]);
      }
      if (shapeError) return reject([shapeError]);
      const size = shape.bound > limits.maxEventBytes ? Buffer.byteLength(json()) : 0;
      if (size > limits.maxEventBytes) {
        return reject([{ code: 'event_too_large', field: EVENT_ROOT, message: `Event is ${size} bytes; the limit is ${limits.maxEventBytes} (MAX_EVENT_BYTES): send smaller payloads or split the data over several events.` }]);
      }
      let ev = raw as Record<string, unknown>;
      const name = ev.event_name;
      const version = ev.event_version ?? 1;
      const def = typeof name === 'string' ? definitions.get(name) : undefined;
      const fn = def ? compiled.get(`${def.name}@${String(version)}`) : undefined;
      // Consent before any other rule: an event the visitor refused is never kept, not even as a rejected body
      // when it is also malformed in some other way.
      const snapshot = isPlainObject(ev.consent_snapshot) ? ev.consent_snapshot : null;
      if (!def || !fn) {
        // Without a registry entry only the envelope can be checked; its errors are reported with the name's.
        const envelope = rulesOf(envelopeOnly, ev, null);
        // A malformed event_version (1.5, "1", 0) is reported as such, not as a version the registry lacks.
        const badVersion = def !== undefined && envelope.some((e) => e.field === 'event_version');
        // The scope is unknown, but every event beyond the strictly necessary needs analytics consent at least.
        const refused = snapshot !== null && snapshot.analytics === false;
        const found = withNumbers([...(badVersion ? [] : [nameError(name, version, def, definitions)]), ...envelope, ...crossFieldErrors(ev, req)], shape.numbers);
        return reject([...found, ...timeOf(ev, found, req, limits, parseSent).errors], !refused);
      }
      const early = snapshot && consentDenied(def.scope, snapshot);
      if (early) return reject([deniedError(def.name, early, snapshot)], false);
      const src = ev.source_system;
      // The browser SDK sends entity ids flat in the payload, as given to it (web-fill.ts; its events only).
      if (src === 'web') ev = liftEntities(ev, def.payload as Record<string, unknown>);
      const found = withNumbers([...rulesOf(fn, ev, def.name), ...crossFieldErrors(ev, req), ...sourceErrors(def, src, req.channel), ...keySourceErrors(def, src, req.sources)], shape.numbers);
      // The time checks are reported with the others (all of an event's errors at once), after them.
      const time = timeOf(ev, found, req, limits, parseSent);
      const errors = [...found, ...time.errors];
      if (errors.length > 0) return reject(errors);
      const { occurred, skew, sent } = time;

      const consent = ev.consent_snapshot as Record<string, unknown>;
      const denied = consentDenied(def.scope, consent);
      if (denied) return reject([deniedError(def.name, denied, consent)], false);

      const sentContext = (ev.context as Record<string, unknown> | undefined) ?? {};
      const ua = typeof sentContext.user_agent === 'string' ? sentContext.user_agent : headerUa(req.userAgent);
      // The browser SDK leaves device and page type to the server, which has the User-Agent and the path.
      const web = src === 'web' ? fillWebDetection(def.name, sentContext, (ev.payload as Record<string, unknown> | undefined) ?? {}, ua) : null;
      const context = web ? web.context : { ...sentContext };
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
        event_id: idem ? derivedEventId(req, idem) : (ev.event_id as string).toLowerCase(),
        event_name: def.name,
        event_version: version as number,
        occurred_at: new Date(occurred).toISOString(),
        received_at: receivedIso(req.receivedAt),
        sent_at: Number.isNaN(sent) ? null : sentIso,
        tenant_id: req.tenantId,
        site_id: (ev.site_id as string | undefined) ?? req.siteId ?? null,
        source_system: src as string,
        visitor_id: (ev.visitor_id as string | undefined) ?? null,
        session_id: (ev.session_id as string | undefined) ?? null,
        sequence_no: (ev.sequence_no as number | undefined) ?? null,
        prev_event_id: typeof ev.prev_event_id === 'string' ? ev.prev_event_id.toLowerCase() : null,
        person_id: null,
        consent_snapshot: consent,
        context,
        entities: (ev.entities as Record<string, unknown> | undefined) ?? {},
        payload: web ? web.payload : ((ev.payload as Record<string, unknown> | undefined) ?? {}),
        idempotency_key: idem,
        is_bot: bot,
      };
      return { kind: 'ok', row };
    },
  };
}

/**
 * occurred_at as stored (corrected for the client's clock skew, read from sent_at) and its errors: a date that does
 * not exist, one too far in the future or older than the backfill window. Nothing is said about occurred_at when
 * the rules already refused it (missing, not a string, not ISO-8601: a range check on it would only repeat that),
 * and a refused sent_at corrects nothing. `found`: the event's errors so far.
 */
function timeOf(ev: Record<string, unknown>, found: readonly FieldError[], req: RequestContext, limits: Limits, parseSent: (v: unknown) => number): { errors: FieldError[]; occurred: number; skew: number | null; sent: number } {
  const none = { errors: [], occurred: NaN, skew: null, sent: NaN };
  if (found.some((e) => e.field === 'occurred_at')) return none;
  const received = req.receivedAt.getTime();
  let occurred = realDate(ev.occurred_at as string) ? Date.parse(ev.occurred_at as string) : NaN;
  if (Number.isNaN(occurred)) {
    return { ...none, errors: [{ code: 'invalid_format', field: 'occurred_at', message: `occurred_at ${shown(ev.occurred_at)} is not a real date and time (month 01-12, a day within the month, hours 00-23, minutes and seconds 00-59, an offset within ±14:00); send e.g. new Date().toISOString().` }] };
  }
  // Clock skew: shift the client's clock by how far its send time is from ours (beyond network delay).
  const sent = found.some((e) => e.field === 'sent_at') ? NaN : parseSent(ev.sent_at);
  const skew = clockSkew(received, sent, occurred);
  if (skew !== null) occurred += skew;
  if (occurred > received + limits.futureHours * 3_600_000) {
    return { ...none, errors: [{ code: 'occurred_at_in_future', field: 'occurred_at', message: `occurred_at ${shown(ev.occurred_at)} (${new Date(occurred).toISOString()} after clock-skew correction) is more than ${limits.futureHours} h (FUTURE_HOURS) after the receive time ${req.receivedAt.toISOString()}; check the device clock or send sent_at.` }] };
  }
  if (occurred < received - limits.backfillDays * 86_400_000) {
    return { ...none, errors: [{ code: 'occurred_at_too_old', field: 'occurred_at', message: `occurred_at ${shown(ev.occurred_at)} (${new Date(occurred).toISOString()} after clock-skew correction) is older than the backfill window of ${limits.backfillDays} days (BACKFILL_DAYS) before the receive time ${req.receivedAt.toISOString()}.` }] };
  }
  return { errors: [], occurred, skew, sent };
}

/** Rules that span fields, checked whatever the event's name. */
function crossFieldErrors(ev: Record<string, unknown>, req: RequestContext): FieldError[] {
  const errors: FieldError[] = [];
  const src = ev.source_system;
  if (src === 'web' || src === 'mobile') {
    for (const f of ['visitor_id', 'session_id'] as const) {
      // A value of the wrong type is already reported by the schema.
      if (ev[f] === undefined || ev[f] === null || ev[f] === '') {
        errors.push({ code: 'required', field: f, message: `The '${f}' field is required when source_system is ${src} (the SDK's ${f === 'visitor_id' ? 'tx_vid' : 'tx_sid'}); got ${shown(ev[f])}.` });
      }
    }
  }
  if ((ev.event_id === undefined || ev.event_id === null) && typeof ev.idempotency_key !== 'string') {
    errors.push({ code: 'required', field: 'event_id', message: `The 'event_id' field is required (a UUID, e.g. crypto.randomUUID()) unless idempotency_key is given; got ${shown(ev.event_id)}.` });
  }
  if (ev.tenant_id !== undefined && ev.tenant_id !== null && String(ev.tenant_id) !== String(req.tenantId)) {
    errors.push({ code: 'tenant_mismatch', field: 'tenant_id', message: `tenant_id ${shown(ev.tenant_id)} does not match the key's tenant ${req.tenantId}; leave tenant_id out (the key decides it) or use that tenant's key.` });
  }
  if (req.siteId && ev.site_id !== undefined && ev.site_id !== null && ev.site_id !== req.siteId) {
    errors.push({ code: 'site_mismatch', field: 'site_id', message: `site_id ${shown(ev.site_id)} does not match the key's site ${JSON.stringify(req.siteId)}; leave site_id out (the key decides it) or use that site's key.` });
  }
  return errors;
}

/** The one error that explains why no registry entry applies: no name, an unknown name, or an unknown version. */
function nameError(name: unknown, version: unknown, def: EventDefinition | undefined, known: Map<string, EventDefinition>): FieldError {
  if (name === undefined || name === null || name === '') {
    return { code: 'required', field: 'event_name', message: `The 'event_name' field is required (e.g. "page_view", "event_view"); got ${shown(name)}. The registry lists every name at GET /api/tx/schema.` };
  }
  if (typeof name !== 'string') {
    return { code: 'invalid_type', field: 'event_name', message: `The 'event_name' field must be a string naming a registry event (e.g. "event_view"); got ${shown(name)} (${kindOf(name)}).` };
  }
  if (def) {
    return { code: 'unknown_version', field: 'event_version', message: `${def.name} has no event_version ${shown(version)}; the latest is ${def.version} (leave event_version out to use it).` };
  }
  const guess = nearest(name, known.keys());
  const hint = guess ? ` Did you mean "${guess}"?` : '';
  return { code: 'unknown_event', field: 'event_name', message: `Unknown event_name ${shown(name)}.${hint} The registry lists every name at GET /api/tx/schema.` };
}

/**
 * The public write key sits in every page's source: whatever it posts could be forged by anyone. Server truth
 * (backend/payments/shop sources, orders, payments, refunds, points, shipments) therefore takes the secret key.
 */
function sourceErrors(def: EventDefinition, src: unknown, channel: 'public' | 'server'): FieldError[] {
  const out: FieldError[] = [];
  const known = typeof src === 'string' && (SOURCE_SYSTEMS as readonly string[]).includes(src);
  if (!known) return out; // the schema already reported it
  const viaSecret = 'post it to /api/v1/server-events with the secret key (Authorization: Bearer tx_sk_…) from your server, never from a browser';
  if (channel === 'public') {
    if (SERVER_SOURCES.includes(src as SourceSystem)) {
      // Only what /api/v1/server-events takes is sent there; a browser event keeps a browser or app source.
      const where = SERVER_ONLY_EVENTS.includes(def.name) || SERVER_ALSO_EVENTS.includes(def.name) ? `; ${viaSecret}` : ` (${def.name} is a browser or app event, which /api/v1/server-events does not take)`;
      out.push({ code: 'source_requires_secret_key', field: 'source_system', message: `source_system "${src}" is server-side truth and is refused with the public write key${where}. Browser and app events use one of: ${PUBLIC_SOURCES.join(', ')}.` });
    }
    if (!def.sources.some((x) => PUBLIC_SOURCES.includes(x))) {
      out.push({ code: 'event_requires_secret_key', field: 'event_name', message: `${def.name} can only come from your servers (source_system ${def.sources.join(', ')}) and is refused with the public write key; ${viaSecret}.` });
    }
  } else if (!def.sources.includes(src as SourceSystem)) {
    out.push({ code: 'invalid_value', field: 'source_system', message: `${def.name} comes from source_system ${def.sources.join(', ')}; got ${shown(src)}.` });
  }
  return out;
}

/**
 * A write key limited to some source systems (README "Keys"): a site's public key kept to ["web"] cannot be used
 * to post gate scans or capacity (category scanner, whatever source_system it claims) or anything of another
 * source; gate devices get a key of their own.
 */
function keySourceErrors(def: EventDefinition, src: unknown, sources: readonly string[] | null | undefined): FieldError[] {
  if (!sources || typeof src !== 'string') return [];
  if (!sources.includes(src)) {
    return [{ code: 'source_not_allowed', field: 'source_system', message: `This write key sends only source_system ${sources.join(', ')}; got ${shown(src)}. Use the key made for that source.` }];
  }
  if (def.category === 'scanner' && !sources.includes('scanner')) {
    return [{ code: 'source_not_allowed', field: 'event_name', message: `${def.name} is a gate event and this write key does not send source_system scanner; gate devices use a key with "scanner" in its sources.` }];
  }
  return [];
}

/**
 * Whether the calendar date a timestamp starts with exists: Date.parse rolls 2026-11-31 over to December 1st,
 * which would store the event on another day than the one sent.
 */
export function realDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(s);
  if (!m) return true;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return mo >= 1 && mo <= 12 && d >= 1 && new Date(Date.UTC(y, mo - 1, d)).getUTCDate() === d;
}

function deniedError(name: string, denied: 'analytics' | 'marketing', consent: Record<string, unknown>): FieldError {
  const v = consent[denied];
  // Not a refusal but a malformed flag ("true" as a string): said so, and still not stored (no valid consent).
  if (v !== undefined && v !== null && typeof v !== 'boolean') {
    return { code: 'invalid_type', field: `consent_snapshot.${denied}`, message: `The 'consent_snapshot.${denied}' field must be true or false; got ${shown(v)} (${kindOf(v)}). ${name} needs ${denied} consent as the boolean true; the event was not stored.` };
  }
  return { code: 'consent_denied', field: `consent_snapshot.${denied}`, message: `${name} needs ${denied} consent (consent_snapshot.${denied} is ${shown(consent[denied])}, must be true); the event was not stored. Send it only after the visitor consents.` };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

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
  return walkShape(root).error;
}

/** A node still to visit: its parent and key name the field when it is at fault (built only then). */
interface Visit {
  node: unknown;
  depth: number;
  parent: Visit | null;
  key: string | number;
}

function fieldOf(v: Visit): string {
  const keys: (string | number)[] = [];
  for (let at: Visit | null = v; at && at.parent; at = at.parent) keys.push(at.key);
  let out = '';
  for (let i = keys.length - 1; i >= 0; i--) {
    const k = keys[i];
    out = typeof k === 'number' ? `${out}[${k}]` : out ? `${out}.${k}` : k;
  }
  return out || EVENT_ROOT;
}

/**
 * An event's errors and, after them, its numbers beyond a double's range (walkShape) that no rule named already
 * (a declared field's rule reports its own): a payload's or context's extra field is otherwise stored as null.
 */
function withNumbers(found: FieldError[], numbers: readonly FieldError[]): FieldError[] {
  if (numbers.length === 0) return found;
  const named = new Set(found.map((e) => e.field));
  return [...found, ...numbers.filter((e) => !named.has(e.field))];
}

/** At most this many numbers beyond a double's range are named per event (one hostile array could hold 100k). */
const MAX_NUMBER_ERRORS = 10;

/** The error of a number beyond a double's range in any field, worded as a declared number field's rule words it. */
function nonFiniteError(visit: Visit): FieldError {
  const field = fieldOf(visit);
  return { code: 'invalid_type', field, message: `The '${field}' field must be a finite number; got ${shown(visit.node)} (${kindOf(visit.node)}).` };
}

/**
 * checkShape, and an upper bound of the event's JSON size in UTF-8 bytes (a UTF-16 unit is at most 6 bytes
 * escaped, a number at most 24 characters): the exact size (a JSON.stringify) is only needed when the bound
 * passes the limit, which a normal event is far from.
 * `numbers`: the fields holding a number beyond a double's range (JSON.parse makes 1e309, or 400 digits,
 * ±Infinity, which JSON.stringify would store as null), declared or not (a payload's extra fields, context's).
 * They are not a shape `error`: the event's rules and consent are still judged, and check() reports these
 * with the rules' errors.
 */
export function walkShape(root: unknown): { error: FieldError | null; bound: number; numbers: FieldError[] } {
  const stack: Visit[] = [{ node: root, depth: 0, parent: null, key: '' }];
  let bound = 0;
  const numbers: FieldError[] = [];
  while (stack.length > 0) {
    const visit = stack.pop()!;
    const node = visit.node;
    if (typeof node === 'number') {
      if (!Number.isFinite(node) && numbers.length < MAX_NUMBER_ERRORS) numbers.push(nonFiniteError(visit));
      bound += 25;
    } else if (typeof node === 'string') {
      if (!node.isWellFormed() || node.includes('\u0000')) {
        return { error: { code: 'invalid_string', field: fieldOf(visit), message: 'Strings must be valid Unicode without NUL characters or lone surrogates.' }, bound, numbers };
      }
      bound += 6 * node.length + 3;
    } else if (node !== null && typeof node === 'object') {
      if (visit.depth >= MAX_DEPTH) return { error: { code: 'too_deep', field: fieldOf(visit), message: `Objects may nest at most ${MAX_DEPTH} levels.` }, bound, numbers };
      bound += 3;
      if (Array.isArray(node)) {
        for (let i = 0; i < node.length; i++) stack.push({ node: node[i], depth: visit.depth + 1, parent: visit, key: i });
      } else {
        for (const k of Object.keys(node)) {
          if (!k.isWellFormed() || k.includes('\u0000')) {
            return { error: { code: 'invalid_string', field: fieldOf(visit), message: 'Keys must be valid Unicode without NUL characters or lone surrogates.' }, bound, numbers };
          }
          bound += 6 * k.length + 4;
          stack.push({ node: (node as Record<string, unknown>)[k], depth: visit.depth + 1, parent: visit, key: k });
        }
      }
    } else {
      bound += 25;
    }
  }
  // The walk pops the last key first: named in the event's order.
  return { error: null, bound, numbers: numbers.reverse() };
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

/**
 * The stored id of an event sent with an idempotency key. Public channel (write key): uuidV5(`tenant:key`), which
 * anyone can compute, as it always was. Server channel (secret key): keyed with the tenant's secret salt, so the
 * write key cannot post an event (with that key, or that id as event_id) that makes the server's own event, such
 * as an order's `order_completed_{order_id}`, a duplicate. The two channels never share a derived id; each
 * channel's retries with one key are still duplicates of each other.
 */
export function derivedEventId(req: RequestContext, key: string): string {
  if (req.channel === 'public') return uuidV5(`${req.tenantId}:${key}`);
  // An empty salt would make the server's ids computable again: a caller that lost it is a bug, not a request.
  if (!req.idSalt) throw new Error(`server channel without the tenant's idempotency salt (tenant ${req.tenantId})`);
  return keyedUuid(req.idSalt, `${req.tenantId}:${key}`);
}

/** A UUID in the v5 layout from HMAC-SHA256(secret, name): deterministic, and unguessable without the secret. */
export function keyedUuid(secret: string, name: string): string {
  return uuidLayout(crypto.createHmac('sha256', secret).update(name).digest());
}

export function uuidV5(name: string): string {
  return uuidLayout(crypto.createHash('sha1').update(IDEMPOTENCY_NS).update(name).digest());
}

/** The first 16 bytes of a digest with the version (5) and variant (RFC 4122) bits set. */
function uuidLayout(h: Buffer): string {
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
