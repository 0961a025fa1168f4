// What a route reads from the request besides its principal: the path params (positions in the pattern,
// strict percent-decoding, a parser per name) and the JSON body (size limit, depth and string checks, an
// optional schema). Pure or nearly so (readJson awaits the body the router started reading), apart from
// the router so each check can be tested and read on its own.
import { fail, paramFail } from './errors.js';
import { checkBody, pathSegments, type Parsed } from './params.js';
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

/** The params of `url` for `positions`, percent-decoded strictly and parsed; the first refusal otherwise. Pure. */
export function parseParams<P extends ParamSpec>(url: string, positions: Record<string, number>, parsers: P): Parsed<ParamsOf<P>> {
  const names = Object.keys(positions);
  if (names.length === 0) return { ok: true, value: {} as ParamsOf<P> };
  const seg = pathSegments(url);
  if (!seg.ok) return { ok: false, error: names.map((n) => parsers[n].malformed).find((e) => e !== undefined) ?? seg.error };
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const p = parsers[name]('path', name, seg.value[positions[name]] ?? '');
    if (!p.ok) return p;
    out[name] = p.value;
  }
  return { ok: true, value: out as ParamsOf<P> };
}

/** Reads and checks the JSON body of a route (empty body → `{}`, like every route so far). */
export async function readJson<B>(bodyP: ReturnType<typeof readBody>, spec: BodySpec<B>): Promise<{ ok: true; value: B } | { ok: false; reply: Reply }> {
  const limit = spec.limit ?? DEFAULT_BODY_LIMIT;
  const b = await bodyP;
  if (!b.ok) {
    const what = limit === DEFAULT_BODY_LIMIT ? '1 MB' : `${limit} bytes`;
    return { ok: false, reply: { ...fail('body_too_large', `Request body exceeds ${what}.`, { limit }), close: true } };
  }
  let value: unknown = {};
  if (b.body.length > 0) {
    try {
      value = JSON.parse(b.body.toString('utf8'));
    } catch (err) {
      return { ok: false, reply: fail('invalid_json', `Body is not valid JSON: ${(err as Error).message}`) };
    }
    const bad = checkBody(value, { strings: spec.strings ?? true });
    if (bad) return { ok: false, reply: paramFail(bad) };
  }
  if (!spec.parse) return { ok: true, value: value as B };
  const p = spec.parse(value);
  return p.ok ? p : { ok: false, reply: paramFail(p.error) };
}
