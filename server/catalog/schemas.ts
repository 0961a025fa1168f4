// What a catalog item of each kind may hold, checked at the boundary: fastest-validator compiled once per
// kind at module load, then the checks a schema cannot say (strict ISO dates in range, ends_at after
// starts_at, duplicate ids in one request). Pure: items in, normalised items or per-item errors out.
// Bounds on every field, so nothing absurd reaches Postgres (NUL and lone surrogates are already refused by
// the router for the whole body, params.ts checkBody).
import FastestValidator from 'fastest-validator';
import { BODY_ROOT, describeJson, MAX_TIME_MS, MIN_TIME_MS, NO_CONTROL, parseIsoTime } from '../http/params.js';
import { isObj, type Obj } from '../store/rows.js';

export const KINDS = ['organizers', 'venues', 'artists', 'events', 'ticket_types', 'products', 'persons'] as const;
export type Kind = (typeof KINDS)[number];
export const isKind = (s: string): s is Kind => (KINDS as readonly string[]).includes(s);

export const MAX_ITEMS = 1000;
export const MAX_ID = 128;
export const MAX_CAPACITY = 10_000_000;
export const MAX_PRICE = 10_000_000_000;

/** One refused field of an item, like ingest's per-event errors. */
export interface ItemError {
  code: 'invalid_field' | 'duplicate_id' | 'person_erased';
  field: string;
  message: string;
}

export interface Rejected {
  index: number;
  id: string | null;
  errors: ItemError[];
}

// fastest-validator is CommonJS with an `export default` typing; under NodeNext the default is the module.
const Validator = FastestValidator as unknown as typeof FastestValidator.default;
const v = new Validator({ haltOnFirstError: false });

// Ids are the tenant's own: text without control characters, or an integer (stored as its decimal text).
const ID_TEXT = NO_CONTROL;
const ID_WHAT = `an id: text of 1 to ${MAX_ID} characters without control characters, or an integer from 0 to ${Number.MAX_SAFE_INTEGER}`;
// A value that is neither (a number out of range, a fraction, true, an object): the `multi` rule reports its
// first alternative's "must be a string" first, which is what checkItem keeps; it says what an id is instead.
const idRule = (optional: boolean) => ({
  type: 'multi', optional, nullable: optional,
  rules: [
    { type: 'string', min: 1, max: MAX_ID, pattern: ID_TEXT, messages: { string: `The '{field}' field must be ${ID_WHAT}.`, stringPattern: "The '{field}' field must be text without control characters." } },
    { type: 'number', integer: true, min: 0, max: Number.MAX_SAFE_INTEGER },
  ],
});
const str = (max: number) => ({ type: 'string', max, optional: true, nullable: true });
const int = (max: number) => ({ type: 'number', integer: true, min: 0, max, optional: true, nullable: true });
const money = { type: 'number', min: 0, max: MAX_PRICE, finite: true, optional: true, nullable: true };
const currency = { type: 'string', pattern: /^[A-Z]{3}$/, optional: true, nullable: true, messages: { stringPattern: "The '{field}' field must be an ISO 4217 code (three capital letters, e.g. EUR)." } };
// Checked as text here and parsed strictly below (parseIsoTime refuses what Date.parse forgives).
const date = { type: 'string', max: 40, optional: true, nullable: true };
const idList = (max: number) => ({ type: 'array', max, optional: true, nullable: true, items: { ...idRule(false) } });
const genres = { type: 'array', max: 50, optional: true, nullable: true, items: { type: 'string', min: 1, max: 64, pattern: ID_TEXT } };

const common = { $$strict: 'remove', id: idRule(false), updated_at: date };

const SCHEMAS: Record<Kind, Record<string, unknown>> = {
  organizers: { ...common, name: str(256) },
  venues: {
    ...common, name: str(256), city: str(128), country: str(64),
    lat: { type: 'number', min: -90, max: 90, optional: true, nullable: true },
    lon: { type: 'number', min: -180, max: 180, optional: true, nullable: true },
    capacity: int(MAX_CAPACITY),
    gates: {
      type: 'array', max: 500, optional: true, nullable: true,
      items: { type: 'object', strict: 'remove', props: { id: idRule(false), name: str(256), capacity: int(MAX_CAPACITY) } },
    },
  },
  artists: { ...common, name: str(256), genres },
  events: {
    ...common, organizer_id: idRule(true), venue_id: idRule(true), artist_ids: idList(200), genres, title: str(512),
    starts_at: date, ends_at: date, status: str(32), capacity: int(MAX_CAPACITY), city: str(128),
    url: { type: 'string', max: 2048, pattern: /^https?:\/\/\S+$/, optional: true, nullable: true, messages: { stringPattern: "The '{field}' field must be an http(s) URL." } },
  },
  ticket_types: { ...common, event_id: idRule(true), name: str(256), category: str(64), price: money, currency, quota: int(MAX_CAPACITY) },
  products: { ...common, name: str(256), price: money, currency },
  persons: {
    ...common, city: str(128), marketing_consent: { type: 'boolean', optional: true, nullable: true }, marketing_consent_at: date,
    total_orders: int(MAX_CAPACITY), events_attended: int(MAX_CAPACITY), last_purchase_at: date, avg_order_value: money,
  },
};

const DATE_FIELDS: Record<Kind, string[]> = {
  organizers: [], venues: [], artists: [], events: ['starts_at', 'ends_at'], ticket_types: [], products: [],
  persons: ['marketing_consent_at', 'last_purchase_at'],
};
// Fields holding ids that may arrive as integers; stored as text.
const ID_FIELDS = ['id', 'organizer_id', 'venue_id', 'event_id'];

type Check = (item: unknown) => true | { type: string; field: string; message?: string }[] | Promise<unknown>;
const CHECKS = Object.fromEntries(KINDS.map((k) => [k, v.compile(SCHEMAS[k]) as Check])) as Record<Kind, Check>;

const idText = (x: unknown): string | null => (typeof x === 'number' ? String(x) : typeof x === 'string' ? x : null);

// What an entry of each list field must be, for the null entries fastest-validator reports without their index.
const ENTRY_WHAT: Record<string, string> = { gates: 'a gate: an object with an "id"', artist_ids: ID_WHAT, genres: 'a genre: text of 1 to 64 characters' };

/**
 * A schema error as an ItemError. The errors fastest-validator reports about a wrong type say what was sent; a
 * null entry of a list, which it reports as the list itself being "required", is reported at its index (one
 * error per null entry, `seen` holds the lists done).
 */
function itemErrors(e: { type: string; field: string; message?: string; actual?: unknown }, item: Obj, seen: Set<string>): ItemError[] {
  const list = item[e.field];
  if (e.type === 'required' && Array.isArray(list)) {
    if (seen.has(e.field)) return [];
    seen.add(e.field);
    const what = ENTRY_WHAT[e.field] ?? 'a value';
    return list.flatMap((x, i) => (x === null || x === undefined ? [{ code: 'invalid_field' as const, field: `${e.field}[${i}]`, message: `The '${e.field}[${i}]' entry must be ${what}; got null.` }] : []));
  }
  const message = e.message ?? `${e.field} is invalid.`;
  const typeMismatch = ['string', 'number', 'boolean', 'array', 'object'].includes(e.type) && e.actual !== undefined;
  return [{ code: 'invalid_field', field: e.field, message: typeMismatch ? `${message.replace(/\.$/, '')}; got ${describeJson(e.actual)}.` : message }];
}

/** A date field as ISO, or why not (strict ISO-8601, 1970 up to 2200 like every date of the API). */
function isoField(raw: string, field: string): { ok: true; value: string } | { ok: false; error: ItemError } {
  const ms = parseIsoTime(raw);
  if (ms === null) return { ok: false, error: { code: 'invalid_field', field, message: `${field} must be an ISO-8601 timestamp like 2026-03-07T18:00:00Z.` } };
  if (ms < MIN_TIME_MS || ms >= MAX_TIME_MS) return { ok: false, error: { code: 'invalid_field', field, message: `${field} must be between 1970-01-01 and 2199-12-31.` } };
  return { ok: true, value: new Date(ms).toISOString() };
}

/**
 * How far `updated_at` may be ahead of the server clock. An item stamped later would win over every sync until
 * that time (newer updated_at wins), its changes answered "unchanged": a wrong clock or a typo would freeze it.
 * A person's `marketing_consent_at` has the same bound: the newest consent statement wins, so a consent dated in
 * 2199 would outrank every later checkout opt-out and keep the person going to ad platforms.
 */
export const UPDATED_AT_AHEAD_MS = 3_600_000;

/** The stamps of each kind that rank statements by time, so may not be dated ahead of the clock. */
const AHEAD_FIELDS: Record<Kind, string[]> = {
  organizers: ['updated_at'], venues: ['updated_at'], artists: ['updated_at'], events: ['updated_at'], ticket_types: ['updated_at'],
  products: ['updated_at'], persons: ['updated_at', 'marketing_consent_at'],
};

const AHEAD_HINT: Record<string, string> = {
  updated_at: 'send the time the item changed, or leave updated_at out to stamp it with the time of the sync',
  marketing_consent_at: 'send the time the customer gave or withdrew consent, or leave marketing_consent_at out to date the consent by updated_at (else the time of the sync)',
};

/** `field` of an item refused when its stamp is more than UPDATED_AT_AHEAD_MS after `nowMs` (none: not checked). Pure. */
export function futureStamp(field: string, stamp: unknown, nowMs: number | undefined): ItemError | null {
  if (nowMs === undefined || typeof stamp !== 'string' || !(Date.parse(stamp) > nowMs + UPDATED_AT_AHEAD_MS)) return null;
  return {
    code: 'invalid_field', field,
    message: `${field} ${stamp} is more than 1 h after the server's clock (${new Date(nowMs).toISOString()}); ${AHEAD_HINT[field] ?? 'send a time that has passed'}.`,
  };
}

/**
 * The first gate whose id an earlier gate has (1 and "1" are one id), among the gates whose id is valid; none when
 * the list itself was refused (too long, not a list). `errors`: the item's schema errors so far.
 */
function duplicateGate(gates: unknown, errors: ItemError[]): ItemError | null {
  if (!Array.isArray(gates) || errors.some((e) => e.field === 'gates')) return null;
  const bad = (i: number) => errors.some((e) => e.field === `gates[${i}]` || e.field === `gates[${i}].id`);
  const seen = new Set<string>();
  for (let i = 0; i < gates.length; i++) {
    const g = gates[i];
    if (bad(i) || !isObj(g)) continue;
    const gid = idText(g.id);
    if (gid === null) continue;
    if (seen.has(gid)) return { code: 'invalid_field', field: `gates[${i}].id`, message: `Gate ${gid} is listed twice; each gate of a venue has its own id.` };
    seen.add(gid);
  }
  return null;
}

/**
 * Checks one item of `kind` and returns it normalised (ids as text, dates as ISO, unknown fields removed),
 * or its errors. The item is copied: the caller's object is not changed.
 */
export function checkItem(kind: Kind, raw: unknown, nowMs?: number): { ok: true; item: Obj } | { ok: false; errors: ItemError[] } {
  if (!isObj(raw)) return { ok: false, errors: [{ code: 'invalid_field', field: BODY_ROOT, message: `Each item must be a JSON object with an "id"; got ${describeJson(raw)}.` }] };
  const item: Obj = structuredClone(raw);
  const res = CHECKS[kind](item);
  const errors: ItemError[] = [];
  // One error per field: a `multi` rule (id: text or integer) reports each alternative it tried.
  const lists = new Set<string>();
  for (const e of res === true ? [] : (res as { type: string; field: string; message?: string; actual?: unknown }[])) {
    for (const x of itemErrors(e, item, lists)) if (!errors.some((y) => y.field === x.field)) errors.push(x);
  }
  for (const f of ['updated_at', ...DATE_FIELDS[kind]]) {
    const val = item[f];
    if (typeof val !== 'string' || errors.some((e) => e.field === f)) continue;
    const d = isoField(val, f);
    if (d.ok) item[f] = d.value;
    else errors.push(d.error);
  }
  for (const f of AHEAD_FIELDS[kind]) {
    if (errors.some((e) => e.field === f)) continue;
    const ahead = futureStamp(f, item[f], nowMs);
    if (ahead) errors.push(ahead);
  }
  // The checks across fields, whenever their inputs are valid on their own: every refused field is listed at once.
  const dupGate = duplicateGate(item.gates, errors);
  if (dupGate) errors.push(dupGate);
  if (typeof item.starts_at === 'string' && typeof item.ends_at === 'string' && !errors.some((e) => e.field === 'starts_at' || e.field === 'ends_at') && item.ends_at < item.starts_at) {
    errors.push({ code: 'invalid_field', field: 'ends_at', message: 'ends_at must not be before starts_at.' });
  }
  if (errors.length) return { ok: false, errors };
  for (const f of ID_FIELDS) if (item[f] !== undefined && item[f] !== null) item[f] = idText(item[f]);
  // 1 and "1" are one id once stored as text: listed twice, the artist would count twice in every derived figure.
  if (Array.isArray(item.artist_ids)) item.artist_ids = [...new Set(item.artist_ids.map(idText))];
  if (Array.isArray(item.gates)) item.gates = (item.gates as Obj[]).map((g) => ({ id: idText(g.id), name: g.name ?? null, capacity: g.capacity ?? null }));
  return { ok: true, item };
}

/**
 * Every item of a request: the valid ones with their index in the request (a later item with an id already
 * seen is refused) and the refused ones.
 */
export function checkItems(kind: Kind, items: unknown[], nowMs?: number): { valid: Obj[]; indices: number[]; rejected: Rejected[] } {
  const valid: Obj[] = [];
  const indices: number[] = [];
  const rejected: Rejected[] = [];
  const seen = new Set<string>();
  items.forEach((raw, index) => {
    const c = checkItem(kind, raw, nowMs);
    const rawId = isObj(raw) ? idText(raw.id) : null;
    const idOut = rawId !== null && rawId.length <= MAX_ID ? rawId : null;
    if (!c.ok) {
      rejected.push({ index, id: idOut, errors: c.errors });
      return;
    }
    const itemId = c.item.id as string;
    if (seen.has(itemId)) {
      rejected.push({ index, id: itemId, errors: [{ code: 'duplicate_id', field: 'id', message: 'This id appears earlier in the same request; send each id once.' }] });
      return;
    }
    seen.add(itemId);
    valid.push(c.item);
    indices.push(index);
  });
  return { valid, indices, rejected };
}
