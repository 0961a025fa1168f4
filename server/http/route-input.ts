// What a route reads from the request besides its principal: the path params (positions in the pattern,
// strict percent-decoding, a parser per name) and the JSON body (size limit, depth and string checks, an
// optional schema). Pure or nearly so (readJson awaits the body the router started reading), apart from
// the router so each check can be tested and read on its own.
import { bodyText, charsetProblem, encodingOf, inflate, jsonSyntaxMessage } from './body.js';
import { fail, invalidJson, paramFail } from './errors.js';
import { BODY_ROOT, checkBody, describeJson, pathSegments, type ParamError, type Parsed } from './params.js';
import type { readBody, Reply } from './uws.js';
import { DEFAULT_BODY_LIMIT, type BodySpec, type ParamSpec, type ParamsOf } from './route-types.js';

/** Position of each `:name` in a path pattern, e.g. `/api/admin/tenants/:tenant_id/keys` → {tenant_id: 3}. Pure. */
export function paramPositions(pattern: string): Record<string, number> {
  const out: Record<string, number> = {};
  pattern.split('/').filter(Boolean).forEach((s, i) => {
    if (s.startsWith(':')) out[s.slice(1)] = i;
  });
  return out;
}

/**
 * U+FFFD in the URL as uWS hands it over (getUrl, getQuery: not yet percent-decoded) stands for raw bytes that
 * were not UTF-8, replaced while decoding the request line: a U+FFFD the client meant arrives percent-encoded
 * (%EF%BF%BD), since a URL carries no raw non-ASCII byte of its own. Refused like %FF, never read as U+FFFD
 * (two ids differing only in such a byte would be one).
 */
const REPLACED = '\uFFFD';
const REPLACED_HINT = 'holds bytes that are not valid UTF-8; percent-encode the UTF-8 bytes of the value (encodeURIComponent)';

/** The refusal of a raw query string holding bytes that were not UTF-8 (see REPLACED), naming the parameter; else null. Pure. */
export function replacedQueryBytes(rawQuery: string): ParamError | null {
  if (!rawQuery.includes(REPLACED)) return null;
  const part = rawQuery.split('&').find((p) => p.includes(REPLACED)) ?? '';
  const eq = part.indexOf('=');
  const name = eq < 0 ? part : part.slice(0, eq);
  let field = name.slice(0, 40);
  try {
    field = decodeURIComponent(field.replaceAll('+', ' '));
  } catch (err) {
    // URIError: malformed percent-encoding in the name as well (the refusal below is the report): named as sent.
    if (!(err instanceof URIError)) throw err;
  }
  return { code: 'invalid_field', in: 'query', field, message: `The query parameter ${JSON.stringify(field)} ${REPLACED_HINT}.` };
}

/** The params of `url` for `positions`, percent-decoded strictly and parsed; the first refusal otherwise. Pure. */
export function parseParams<P extends ParamSpec>(url: string, positions: Record<string, number>, parsers: P): Parsed<ParamsOf<P>> {
  const names = Object.keys(positions);
  if (names.length === 0) return { ok: true, value: {} as ParamsOf<P> };
  const bad = url.split('/').find((s) => s.includes(REPLACED));
  const seg: Parsed<string[]> = bad === undefined
    ? pathSegments(url)
    : { ok: false, error: { code: 'invalid_field', in: 'path', field: 'path', message: `The path segment ${JSON.stringify(bad.slice(0, 40))} ${REPLACED_HINT}.` } };
  if (!seg.ok) return { ok: false, error: names.map((n) => parsers[n].malformed).find((e) => e !== undefined) ?? seg.error };
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const p = parsers[name]('path', name, seg.value[positions[name]] ?? '');
    if (!p.ok) return p;
    out[name] = p.value;
  }
  return { ok: true, value: out as ParamsOf<P> };
}

/**
 * Reads and checks the JSON body of a route (empty body → `{}`, like every route so far): compressed
 * (Content-Encoding gzip or deflate, the limit applying to the decompressed bytes) or not, UTF-8 strictly.
 */
export async function readJson<B>(
  bodyP: ReturnType<typeof readBody>,
  spec: BodySpec<B>,
  headers: { 'content-type'?: string; 'content-encoding'?: string } = {},
): Promise<{ ok: true; value: B } | { ok: false; reply: Reply }> {
  const limit = spec.limit ?? DEFAULT_BODY_LIMIT;
  const what = limit === DEFAULT_BODY_LIMIT ? '1 MB' : `${limit} bytes`;
  const tooLarge = { ok: false as const, reply: { ...fail('body_too_large', `Request body exceeds ${what}.`, { limit }), close: true } };
  const charset = charsetProblem(headers['content-type']);
  if (charset) return { ok: false, reply: { ...fail('unsupported_media_type', charset), close: true } };
  const enc = encodingOf(headers['content-encoding']);
  if (!enc.ok) return { ok: false, reply: { ...fail('unsupported_media_type', enc.message), close: true } };
  const b = await bodyP;
  if (!b.ok) return tooLarge;
  let value: unknown = {};
  if (b.body.length > 0) {
    const raw = inflate(b.body, enc.encoding, limit);
    if (!raw.ok) return raw.reason === 'too_large' ? tooLarge : { ok: false, reply: fail('invalid_body', `The body is not valid ${enc.encoding} data: ${raw.message}`, { in: 'body', field: BODY_ROOT }) };
    const text = bodyText(raw.body);
    if (!text.ok) return { ok: false, reply: invalidJson(text.message) };
    try {
      // Nothing once decompressed and past a BOM is an empty body, like one of 0 bytes.
      value = text.text.trim() === '' ? {} : JSON.parse(text.text);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      return { ok: false, reply: invalidJson(jsonSyntaxMessage(err, text.text)) };
    }
    const shape = bodyShapeProblem(value, spec.arrays ?? false);
    if (shape) return { ok: false, reply: fail('invalid_body', shape, { in: 'body', field: BODY_ROOT }) };
    const bad = checkBody(value, { strings: spec.strings ?? true });
    if (bad) return { ok: false, reply: paramFail(bad) };
  }
  if (!spec.parse) return { ok: true, value: value as B };
  const p = spec.parse(value);
  return p.ok ? p : { ok: false, reply: paramFail(p.error) };
}

/**
 * Why a parsed body is not the shape every route with a body takes, or null: a JSON object (or, with `arrays`,
 * an array). The domain schemas then only ever see an object (or a list), and a body of the wrong kind is
 * refused the same way on every route. Pure.
 */
export function bodyShapeProblem(v: unknown, arrays: boolean): string | null {
  if (v !== null && typeof v === 'object' && (arrays || !Array.isArray(v))) return null;
  const want = arrays ? 'a JSON object or an array' : 'a JSON object ({"name": value, …})';
  return `The body must be ${want}; got ${describeJson(v)}.`;
}
