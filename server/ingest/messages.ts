// Human-readable validation messages. Every message says which value was sent, the rule it broke and how to
// fix it; none may print `undefined` (test/ingest-messages.test.ts scans thousands of generated bad events).
// Pure functions: the raw event is passed in, so the value is read from the event itself rather than from
// fastest-validator's `actual` (which is a length for strings and arrays).
import type { FieldError } from './validate.js';
import { own } from '../lookup.js';

/** What fastest-validator reports for one broken rule. */
export interface RuleError {
  type: string;
  field?: string;
  expected?: unknown;
  actual?: unknown;
}

const SCHEMA_HINT = 'see GET /api/tx/schema';

/**
 * The `field` of an error about an event as a whole (not a JSON object, too large, a bad key at its top level):
 * `$`, the root of the event's field paths (`payload.amount`), as BODY_ROOT is for a body; never empty.
 */
export const EVENT_ROOT = '$';

/** A sent value as it appears in a message: JSON, cut at 60 characters; `nothing` when absent. */
export function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  // JSON.parse turns a number beyond a double's range (1e400, 400 digits) into ±Infinity, which JSON prints as null.
  if (typeof v === 'number' && !Number.isFinite(v)) return `${String(v)} (beyond ±1.8e308)`;
  let j: string | undefined;
  try {
    j = JSON.stringify(v);
  } catch {
    // Unserialisable values cannot come from JSON.parse, but a direct caller may pass one (e.g. a BigInt).
    j = undefined;
  }
  if (j === undefined) j = typeof v;
  return j.length > 60 ? `${j.slice(0, 57)}…` : j;
}

export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Reads `payload.items[0].qty` out of an event; undefined when any step is missing. */
export function valueAt(root: unknown, path: string): unknown {
  let node: unknown = root;
  for (const part of path.match(/[^.[\]]+/g) ?? []) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** fastest-validator quotes lists as `"a, b, c"`. */
const list = (expected: unknown): string => String(expected ?? '').replace(/^"|"$/g, '');

const FORMATS: Record<string, string> = {
  event_id: 'a UUID such as "6f2c1e9a-8a4b-4c1e-9f8e-2b7d5c3a1e00" (crypto.randomUUID())',
  prev_event_id: 'a UUID (the event_id of the previous event in the session)',
  occurred_at: 'an ISO-8601 timestamp with a time zone such as "2026-11-21T18:00:00Z" (new Date().toISOString())',
  sent_at: 'an ISO-8601 timestamp with a time zone such as "2026-11-21T18:00:01Z"',
  'consent_snapshot.captured_at': 'an ISO-8601 timestamp with a time zone such as "2026-11-21T17:59:00Z" (when the visitor chose)',
};

/** What to send for envelope fields, when one is missing. */
const REQUIRED_HINTS: Record<string, string> = {
  occurred_at: 'when it happened, e.g. "2026-11-21T18:00:00Z" (new Date().toISOString())',
  source_system: 'one of web, mobile, scanner, wallet (backend, payments and shop take the secret key)',
  consent_snapshot: 'the visitor\'s consent, e.g. {"analytics":true,"marketing":false,"data_processing":true}',
  entities: 'an object with the ids this event requires',
  payload: 'an object with the event\'s fields',
};

function formatRule(field: string, expected: unknown): string {
  const last = field.replace(/.*\./, '');
  const format = own(FORMATS, field);
  if (format) return format;
  if (last === 'currency') return 'an ISO 4217 code of three capital letters such as "EUR"';
  return `text matching ${list(expected)}`;
}

/** One message for one broken rule; `eventName` names the registry entry the rule comes from, if known. */
export function describe(e: RuleError, raw: unknown, eventName: string | null): string {
  const field = e.field ?? 'event';
  const v = valueAt(raw, field);
  const got = `got ${shown(v)}`;
  const of = eventName ? ` for ${eventName}` : '';
  switch (e.type) {
    case 'required': {
      const required = own(REQUIRED_HINTS, field);
      const hint = required ? `send ${required}` : SCHEMA_HINT;
      return `The '${field}' field is required${of} (${v === null ? 'null is not a value here' : 'it was missing'}); ${hint}.`;
    }
    case 'number':
      return `The '${field}' field must be a finite number${of}; ${got} (${kindOf(v)}).`;
    case 'numberInteger':
      return `The '${field}' field must be a whole number; ${got}.`;
    case 'numberMin':
      return `The '${field}' field must be at least ${String(e.expected)}; ${got}.`;
    case 'numberMax':
      return `The '${field}' field must be at most ${String(e.expected)}; ${got}.${/amount|price|value|total/.test(field) ? ' Amounts are in major units (120.5 = 120.50 EUR).' : ''}`;
    case 'string':
      return `The '${field}' field must be a string${of}; ${got} (${kindOf(v)}).`;
    case 'stringEmpty':
      return `The '${field}' field must not be empty.`;
    case 'stringMin':
      return `The '${field}' field must be at least ${String(e.expected)} characters long; ${got}.`;
    case 'stringMax':
      return `The '${field}' field must be at most ${String(e.expected)} characters long; got ${typeof v === 'string' ? v.length : '?'} characters.`;
    case 'stringLength':
      return `The '${field}' field must be exactly ${String(e.expected)} characters long; ${got}.`;
    case 'stringPattern':
      return `The '${field}' field must be ${formatRule(field, e.expected)}; ${got}.`;
    case 'enumValue':
      return `The '${field}' field does not allow ${shown(v)}; use one of: ${list(e.expected)}.`;
    case 'boolean':
      return `The '${field}' field must be true or false; ${got} (${kindOf(v)}).`;
    case 'object':
      return `The '${field}' field must be a JSON object${of}; ${got} (${kindOf(v)}).`;
    case 'array':
      return `The '${field}' field must be an array${of}; ${got} (${kindOf(v)}).`;
    case 'arrayMax':
      return `The '${field}' field holds at most ${String(e.expected)} items; got ${Array.isArray(v) ? v.length : '?'}.`;
    case 'arrayMin':
    case 'arrayEmpty':
      return `The '${field}' field must hold at least ${String(e.expected ?? 1)} item(s); ${got}.`;
    default:
      return `The '${field}' field breaks the rule ${e.type}${e.expected === undefined ? '' : ` (${list(e.expected)})`}; ${got}; ${SCHEMA_HINT}.`;
  }
}

/** fastest-validator's rule types mapped onto the stable codes our API documents. */
export function codeFor(type: string): string {
  if (type === 'required') return 'required';
  if (type === 'enumValue' || type === 'equalValue') return 'invalid_value';
  if (type === 'stringPattern') return 'invalid_format';
  if (/(Min|Max|Length|Empty|Positive|Negative)$/.test(type)) return 'out_of_range';
  return 'invalid_type';
}

/**
 * Rule errors to API errors. fastest-validator's `multi` rule (ids: string or integer) reports one error per
 * alternative, a string one and a number one on the same field: they are merged into one sentence so a client
 * does not read two rules that contradict each other.
 */
export function toFieldErrors(errors: RuleError[], raw: unknown, eventName: string | null): FieldError[] {
  const byField = new Map<string, RuleError[]>();
  for (const e of errors) {
    const k = e.field ?? '';
    byField.set(k, [...(byField.get(k) ?? []), e]);
  }
  const out: FieldError[] = [];
  for (const [field, errs] of byField) {
    const alternatives = errs.some((e) => e.type.startsWith('string')) && errs.some((e) => e.type.startsWith('number'));
    if (alternatives) {
      const v = valueAt(raw, field);
      const code = typeof v === 'string' || typeof v === 'number' ? 'out_of_range' : 'invalid_type';
      const message = `The '${field}' field must be an id: a string of 1 to 128 characters or a whole number up to ${Number.MAX_SAFE_INTEGER}; got ${shown(v)} (${kindOf(v)}).`;
      out.push({ code, field, message });
      continue;
    }
    for (const e of errs) out.push({ code: codeFor(e.type), field: e.field ?? EVENT_ROOT, message: describe(e, raw, eventName) });
  }
  return out;
}

/** Edit distance, for "did you mean" suggestions. */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** The closest known name, if it is close enough to be a typo (at most a third of the name differs). */
export function nearest(name: string, known: Iterable<string>): string | null {
  const probe = name.toLowerCase().slice(0, 100);
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const d = levenshtein(probe, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== null && bestD <= Math.max(2, Math.floor(best.length / 3)) ? best : null;
}
