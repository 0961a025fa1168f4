// Strict parsing of what arrives in the query string, the path and JSON bodies of the API routes, so that a
// hostile value is answered with a 400 that names it and never reaches Postgres (which refuses NUL in text,
// lone surrogates in jsonb and years outside its range, and would turn them into 500s).
// Errors follow ingest's shape: `{"error":{"code":"invalid_field","in":"query","field":"before","message":…}}`;
// body fields are paths like ingest's (`events[0].payload.amount`).
import { createHash } from 'node:crypto';
import { fail as failReply } from './errors.js';
import type { Reply } from './uws.js';

export type Where = 'query' | 'path' | 'body';

export interface ParamError {
  code: 'invalid_field' | 'too_deep';
  in: Where;
  /** Query parameter name, path part name, or body field path (BODY_ROOT, `$`, = the body itself). */
  field: string;
  message: string;
}

/**
 * The `field` of a refusal that concerns the whole body (not a JSON object, a bad key at its top level), or a
 * whole item of a list the paths are relative to (a catalog item that is not an object): `$`, the root of the
 * paths (`events[0].payload.amount`), never a name a field could have and never empty.
 */
export const BODY_ROOT = '$';

/** What a JSON value is, for a message: `an array`, `a string ("x")`, `a number (1)`, `null`, `true`, `nothing` (absent). Pure. */
export function describeJson(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `a string (${JSON.stringify(v.slice(0, 40))})`;
  if (typeof v === 'number') return `a number (${v})`;
  if (typeof v === 'boolean') return String(v);
  return 'an object';
}

/**
 * The 400 for a body field the route does not take: `Unknown field "x"; ${takes}` (`takes` says what it does take),
 * the name (cut to 40 characters) also in `field`. Pure.
 */
export function unknownBodyField(name: string, takes: string): ParamError {
  const field = name.slice(0, 40);
  return { code: 'invalid_field', in: 'body', field, message: `Unknown field ${JSON.stringify(field)}; ${takes}` };
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: ParamError };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (where: Where, field: string, message: string, code: ParamError['code'] = 'invalid_field'): Parsed<never> => ({
  ok: false,
  error: { code, in: where, field, message },
});

export function paramReply(e: ParamError): Reply {
  return failReply(e.code, e.message, { field: e.field, in: e.in });
}

// Control characters: C0 (NUL included), DEL and C1 (U+0080–U+009F). Never part of an id, a name or a date, and
// NUL cannot be stored in text. The one rule for ids everywhere (catalog, key scopes, topics, tokens, paths).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Text without control characters (a schema's `pattern`: the catalog's ids and genres). */
export const NO_CONTROL = /^[^\u0000-\u001f\u007f-\u009f]+$/;

/** An id given as text: 1-`max` characters (128 by default), no control characters. Pure. */
export function isIdText(s: string, max = 128): boolean {
  return s.length >= 1 && s.length <= max && !CONTROL.test(s);
}

/**
 * An id sent as a JSON number: its decimal text when it is an integer 0…2^53−1, else why not. A number past
 * 2^53 has already lost digits in JSON.parse (…993 arrives as …992): taken as text it would name another id.
 * Anything else is returned as is, for the caller's text rule. Pure.
 */
export function idFromJson(field: string, v: unknown): { ok: true; value: unknown } | { ok: false; message: string } {
  if (typeof v !== 'number') return { ok: true, value: v };
  if (Number.isSafeInteger(v) && v >= 0) return { ok: true, value: String(v) };
  return { ok: false, message: `${field} is ${describeJson(v)}, not an id: send text (1 to 128 characters without control characters) or an integer from 0 to ${Number.MAX_SAFE_INTEGER}; send larger numeric ids as strings.` };
}

/** Why a string cannot be used as an identifier or name, or null when it can. */
export function stringProblem(s: string): string | null {
  if (!s.isWellFormed()) return 'contains a lone UTF-16 surrogate';
  if (CONTROL.test(s)) return 'contains a NUL or another control character';
  return null;
}

/** A text value (id, name, filter). Absent (null) stays null unless `required`. */
export function text(where: Where, field: string, raw: string | null | undefined, opts: { max: number; required?: boolean }): Parsed<string | null> {
  if (raw === null || raw === undefined || raw === '') {
    return opts.required ? fail(where, field, `${field} is required.`) : ok(null);
  }
  if (raw.length > opts.max) return fail(where, field, `${field} must be at most ${opts.max} characters (got ${raw.length}).`);
  const problem = stringProblem(raw);
  if (problem) return fail(where, field, `${field} ${problem}; send printable Unicode text.`);
  return ok(raw);
}

/** An integer in [min, max]; absent → `def` (or an error when there is no default). */
export function int(where: Where, field: string, raw: string | null | undefined, opts: { min: number; max: number; def?: number }): Parsed<number> {
  if (raw === null || raw === undefined || raw === '') {
    return opts.def !== undefined ? ok(opts.def) : fail(where, field, `${field} is required (an integer between ${opts.min} and ${opts.max}).`);
  }
  const n = /^-?\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < opts.min || n > opts.max) {
    return fail(where, field, `${field} must be an integer between ${opts.min} and ${opts.max} (got ${JSON.stringify(raw.slice(0, 40))}).`);
  }
  return ok(n);
}

/** A database id's one spelling: decimal without leading zeros, so `01` cannot name (and erase, audit as) id 1. */
export const CANONICAL_ID = /^[1-9]\d{0,15}$/;

/** Database ids (tenant, person, key): positive integers that fit a JS number exactly, written canonically. */
export function id(where: Where, field: string, raw: string | null | undefined): Parsed<number> {
  if (raw && /^0\d/.test(raw)) return fail(where, field, `${field} must be written without leading zeros (got ${JSON.stringify(raw.slice(0, 40))}).`);
  return int(where, field, raw, { min: 1, max: Number.MAX_SAFE_INTEGER });
}

/** Timestamps the API accepts: 1970-01-01 up to (excluding) 2200-01-01, inside both JS and Postgres' range. */
export const MIN_TIME_MS = 0;
export const MAX_TIME_MS = Date.UTC(2200, 0, 1);

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2}))?$/;

/**
 * Strict ISO-8601: `YYYY-MM-DD` (UTC midnight) or `YYYY-MM-DDTHH:MM[:SS[.fff]]` with `Z` or an offset.
 * Rejects what Date.parse forgives (`1`, `March 7`, `2024-02-30`). Milliseconds; finer digits are cut. The year
 * is the one written, 0000-9999 (proleptic Gregorian): the API's range (1970-2199) is the caller's check
 * (`time` for the query, `bodyTime` for a JSON body).
 */
export function parseIsoTime(raw: string): number | null {
  const m = ISO.exec(raw);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((x) => (x === undefined ? 0 : Number(x)));
  const frac = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  // Not Date.UTC: it reads years 0-99 as 1900-1999 (0026 would become 1926). setUTCFullYear takes the year as is.
  const at = new Date(0);
  at.setUTCFullYear(y, mo - 1, d);
  at.setUTCHours(h, mi, s, frac);
  const base = at.getTime();
  // The date rolls 2024-02-30 into March: a day that does not exist in its month is refused.
  if (at.getUTCDate() !== d) return null;
  let offset = 0;
  const z = m[8];
  if (z && z !== 'Z') {
    const om = /^([+-])(\d{2}):?(\d{2})$/.exec(z)!;
    const oh = Number(om[2]);
    const omin = Number(om[3]);
    if (oh > 23 || omin > 59) return null;
    offset = (om[1] === '-' ? -1 : 1) * (oh * 60 + omin) * 60_000;
  }
  return base - offset;
}

/** Whether `ms` is inside the API's range: 1970-01-01 up to (excluding) 2200-01-01. */
export const inTimeRange = (ms: number): boolean => ms >= MIN_TIME_MS && ms < MAX_TIME_MS;

const outOfRange = (where: Where, field: string, raw: string) =>
  fail(where, field, `${field} must be between 1970-01-01 and 2199-12-31 (got ${JSON.stringify(raw.slice(0, 40))}).`);

/** A timestamp (ms since epoch) in ISO-8601, or also epoch milliseconds when `epochMs`; absent → null. */
export function time(where: Where, field: string, raw: string | null | undefined, opts: { epochMs?: boolean } = {}): Parsed<number | null> {
  if (raw === null || raw === undefined || raw === '') return ok(null);
  const ms = opts.epochMs && /^\d{1,15}$/.test(raw) ? Number(raw) : raw.length <= 40 ? parseIsoTime(raw) : null;
  const forms = opts.epochMs ? 'an ISO-8601 timestamp (2026-03-07T18:00:00Z) or epoch milliseconds' : 'an ISO-8601 timestamp like 2026-03-07T18:00:00Z';
  if (ms === null) return fail(where, field, `${field} must be ${forms} (got ${JSON.stringify(raw.slice(0, 40))}).`);
  if (!inTimeRange(ms)) return outOfRange(where, field, raw);
  return ok(ms);
}

/**
 * A date field of a JSON body (`field` its path): a string parseIsoTime reads, in the range query dates have
 * (1970-2199); else a 400 naming the field, saying `${field} must be ${forms}.` or the range. Absent values are
 * the caller's (required or not).
 */
export function bodyTime(field: string, raw: unknown, forms = 'an ISO-8601 timestamp like 2026-03-07T18:00:00Z'): Parsed<number> {
  const ms = typeof raw === 'string' && raw.length <= 40 ? parseIsoTime(raw) : null;
  if (ms === null) return fail('body', field, `${field} must be ${forms}.`);
  if (!inTimeRange(ms)) return outOfRange('body', field, raw as string);
  return ok(ms);
}

/** Percent-decoded path segments; malformed encoding (`%ZZ`, a lone surrogate) is a 400, not a URIError. */
export function pathSegments(url: string): Parsed<string[]> {
  const out: string[] = [];
  for (const s of url.split('/').filter(Boolean)) {
    try {
      out.push(decodeURIComponent(s));
    } catch {
      return fail('path', 'path', `The path segment ${JSON.stringify(s.slice(0, 40))} is not valid percent-encoded UTF-8.`);
    }
  }
  return ok(out);
}

export const MAX_BODY_DEPTH = 64;

/**
 * Checks a parsed JSON body before anything stores or walks it recursively: nesting at most `maxDepth`
 * levels and, when `strings`, no NUL / lone surrogate in any key or string. Iterative, so a 10,000-deep body
 * cannot overflow the stack here.
 */
export function checkBody(root: unknown, opts: { strings?: boolean; maxDepth?: number } = {}): ParamError | null {
  const strings = opts.strings ?? true;
  const maxDepth = opts.maxDepth ?? MAX_BODY_DEPTH;
  const stack: [unknown, number, string][] = [[root, 0, '']];
  while (stack.length > 0) {
    const [node, depth, at] = stack.pop()!;
    if (typeof node === 'string') {
      const problem = strings ? stringProblem(node) : null;
      if (problem && problem.startsWith('contains a lone')) return { code: 'invalid_field', in: 'body', field: at || BODY_ROOT, message: `${at || 'The body'} ${problem}.` };
      // Control characters other than NUL are legal JSON text and storable; only NUL is refused in values.
      if (strings && node.includes('\u0000')) return { code: 'invalid_field', in: 'body', field: at || BODY_ROOT, message: `${at || 'The body'} contains a NUL character.` };
    } else if (node !== null && typeof node === 'object') {
      if (depth >= maxDepth) return { code: 'too_deep', in: 'body', field: at || BODY_ROOT, message: `The body may nest at most ${maxDepth} levels (${at || 'the body'} is deeper).` };
      if (Array.isArray(node)) {
        for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], depth + 1, `${at}[${i}]`]);
      } else {
        for (const [k, v] of Object.entries(node)) {
          const p = at ? `${at}.${k}` : k;
          if (strings && (!k.isWellFormed() || k.includes('\u0000'))) {
            return { code: 'invalid_field', in: 'body', field: at || BODY_ROOT, message: `A key in ${at || 'the body'} contains a NUL character or a lone surrogate.` };
          }
          stack.push([v, depth + 1, p]);
        }
      }
    }
  }
  return null;
}

/**
 * The first query parameter given twice (no route takes a list that way: which one counts would be a guess), or
 * whose name or value is not valid percent-encoded UTF-8 (`%ZZ`, a cut sequence, an encoded lone surrogate):
 * URLSearchParams would read that as U+FFFD and the filter would silently match nothing.
 */
export function queryProblem(raw: string, query: URLSearchParams = new URLSearchParams(raw)): ParamError | null {
  const seen = new Set<string>();
  for (const k of query.keys()) {
    if (seen.has(k)) {
      const field = k.slice(0, 40);
      return { code: 'invalid_field', in: 'query', field, message: `The query parameter ${JSON.stringify(field)} is given more than once; send it once.` };
    }
    seen.add(k);
  }
  if (!raw.includes('%')) return null;
  for (const part of raw.split('&')) {
    const eq = part.indexOf('=');
    const [k, v] = eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)];
    for (const piece of [k, v]) {
      try {
        decodeURIComponent(piece.replaceAll('+', ' '));
      } catch {
        let field = k.slice(0, 40);
        try {
          field = decodeURIComponent(field);
        } catch {
          // The name itself is malformed: it is reported as sent.
        }
        return { code: 'invalid_field', in: 'query', field, message: `The query parameter ${JSON.stringify(field)} is not valid percent-encoded UTF-8 (e.g. %ZZ or a cut multi-byte sequence); encode it with encodeURIComponent.` };
      }
    }
  }
  return null;
}

// --- keyset cursors ---------------------------------------------------------------------------------------

/**
 * Opaque keyset cursor: base64url of `[kind, ...key]`, where key is the sort key of the last row of a page
 * (e.g. occurred_at with microseconds and the row id). Clients pass it back unchanged as `?cursor=`. `kind` names
 * the list (and, from listKind, the filters the page was read under), so no other list, nor the same list under
 * other filters, takes the cursor.
 */
export function encodeCursor(kind: string, key: string[]): string {
  return Buffer.from(JSON.stringify([kind, ...key]), 'utf8').toString('base64url');
}

/** Between a list's base kind and the digest of its filters in a cursor's kind (no base kind holds it). */
const FILTERED = '~';
/** Characters of the filters' digest: 66 bits of SHA-256, base64url. */
const FILTER_DIGEST_CHARS = 11;

/**
 * The cursor kind of list `base` read under `filters` (the query's parsed filters; null or undefined = not set):
 * `base` alone when no filter is set (the cursors of an unfiltered list are as before), else `base~digest`, the
 * digest of the filters set, sorted by name. Used both where a list makes its next_cursor and where it reads
 * `?cursor=`: a cursor made under other filters would page another set of rows from its key on and silently
 * skip some of this one's, so cursor() refuses it, saying so. Pure.
 */
export function listKind(base: string, filters: Record<string, string | number | boolean | null | undefined>): string {
  const set = Object.entries(filters)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => [k, String(v)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (set.length === 0) return base;
  return `${base}${FILTERED}${createHash('sha256').update(JSON.stringify(set)).digest('base64url').slice(0, FILTER_DIGEST_CHARS)}`;
}

const baseKind = (kind: string): string => (kind.includes(FILTERED) ? kind.slice(0, kind.indexOf(FILTERED)) : kind);

/**
 * Shape of one key part: a microsecond UTC timestamp as the store prints it, a database id (a bigint), a version
 * (an int column: the bounds of `?version=`, 1–1,000,000) or text (an id of at most MAX_CURSOR_TEXT UTF-16 units).
 */
export type CursorPart = 'ts' | 'id' | 'version' | 'text';
export const MAX_VERSION = 1_000_000;
/** The longest text part: a catalog id, at most 128 UTF-16 code units (session ids and experiment keys: 64). */
export const MAX_CURSOR_TEXT = 128;
const CURSOR_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/;

/**
 * The most UTF-8 bytes a valid part takes in the cursor's JSON, quotes included: a ts is 26 characters, an id at
 * most 18 digits, a version at most 7. A text part of n UTF-16 units takes at most 3n bytes: a unit of the BMP is
 * at most 3 bytes, an astral character 4 bytes for its 2 units, `"` and a backslash 2 bytes escaped, and what JSON would
 * escape longer (control characters, lone surrogates) is refused in a part.
 */
const PART_JSON_BYTES: Record<CursorPart, number> = { ts: 26 + 2, id: 18 + 2, version: 7 + 2, text: MAX_CURSOR_TEXT * 3 + 2 };

/**
 * The longest `?cursor=` a list of this kind and key shape can hand out (with any filters' digest): the cap
 * cursor() puts on what it decodes. A fixed cap of 512 refused the list's own next_cursor after a 128-character
 * CJK catalog id (384 bytes of UTF-8, ~550 characters of base64url). Pure.
 */
export function maxCursorLength(kind: string, parts: CursorPart[]): number {
  const kindBytes = Buffer.byteLength(JSON.stringify(baseKind(kind)), 'utf8') + FILTERED.length + FILTER_DIGEST_CHARS;
  const bytes = 2 + kindBytes + parts.reduce((n, p) => n + 1 + PART_JSON_BYTES[p], 0);
  return Math.ceil((bytes * 4) / 3);
}

function partOk(kind: CursorPart, v: unknown): v is string {
  if (typeof v !== 'string') return false;
  if (kind === 'id') return /^\d{1,18}$/.test(v);
  if (kind === 'version') return /^[1-9]\d{0,6}$/.test(v) && Number(v) <= MAX_VERSION;
  if (kind === 'ts') {
    const ms = CURSOR_TS.test(v) ? parseIsoTime(`${v}Z`) : null;
    return ms !== null && inTimeRange(ms);
  }
  return v.length > 0 && v.length <= MAX_CURSOR_TEXT && stringProblem(v) === null;
}

/**
 * Decodes `?cursor=` made by encodeCursor for this list (`kind`, from listKind when the list has filters);
 * anything else (forged, another list's) is a 400 naming `field`, the query parameter it came in (`log_cursor`
 * for a log paged next to another list, whose value is `log_next_cursor`). A cursor of this list made under other
 * filters is refused saying so.
 */
export function cursor(raw: string | null | undefined, kind: string, parts: CursorPart[], field = 'cursor'): Parsed<string[] | null> {
  if (raw === null || raw === undefined || raw === '') return ok(null);
  const made = field.replace(/cursor$/, 'next_cursor');
  const bad = fail('query', field, `${field} must be a ${made} value returned by this list, passed back unchanged.`);
  if (raw.length > maxCursorLength(kind, parts) || !/^[A-Za-z0-9_-]+$/.test(raw)) return bad;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    return bad;
  }
  if (!Array.isArray(v) || v.length !== parts.length + 1 || typeof v[0] !== 'string') return bad;
  const key = v.slice(1);
  if (!parts.every((p, i) => partOk(p, key[i]))) return bad;
  if (v[0] === kind) return ok(key as string[]);
  if (baseKind(v[0]) !== baseKind(kind)) return bad;
  return fail('query', field, `${field} was made for a page of this list read with other filters: send the same filters as the page whose ${made} it is (only ${field} changes from page to page), or leave ${field} out to start again from the first page.`);
}

/** The 400 for a member cursor taken from another version than the `?version=` sent with it. */
export const cursorVersionMismatch = (version: number): ParamError => ({
  code: 'invalid_field', in: 'query', field: 'cursor', message: `cursor pages another version than version=${version}: pass the next_cursor of this version's pages, or no version.`,
});

/** `?limit=` (1–1000, default 100) and `?cursor=` of a list paged by ascending database id. */
export function idPage(query: { get(name: string): string | null }, kind: string): Parsed<{ limit: number; after: number | null }> {
  const limit = int('query', 'limit', query.get('limit'), { min: 1, max: 1000, def: 100 });
  if (!limit.ok) return limit;
  const after = cursor(query.get('cursor'), kind, ['id']);
  if (!after.ok) return after;
  return ok({ limit: limit.value, after: after.value ? Number(after.value[0]) : null });
}

/**
 * One page of a keyset list whose query asked for `limit + 1` rows: at most `limit` rows, and `more` when the
 * extra row came back, i.e. a next page exists. A page that is exactly full is therefore the last one when
 * nothing follows it, and its next_cursor is null (deciding by `rows.length === limit` gave such a page a
 * cursor that led to an empty page). The next cursor is built from the last row returned, never the extra one.
 */
export function pageOf<T>(rows: T[], limit: number): { rows: T[]; more: boolean } {
  return rows.length > limit ? { rows: rows.slice(0, limit), more: true } : { rows, more: false };
}

/** The next_cursor of a page (from pageOf): `keyOf` its last row (the sort key), or null on the last page. */
export function nextCursor<T>(kind: string, page: { rows: T[]; more: boolean }, keyOf: (last: T) => unknown[]): string | null {
  const last = page.rows.at(-1);
  return page.more && last !== undefined ? encodeCursor(kind, keyOf(last).map(String)) : null;
}

/** Several parsed values at once: the first error, or every value under its name. */
export function collect<T extends Record<string, Parsed<unknown>>>(ps: T): Parsed<{ [K in keyof T]: T[K] extends Parsed<infer V> ? V : never }> {
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(ps)) {
    if (!p.ok) return p;
    out[k] = p.value;
  }
  return ok(out as { [K in keyof T]: T[K] extends Parsed<infer V> ? V : never });
}
