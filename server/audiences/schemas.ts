// Bodies of the audience routes, checked at the boundary: unknown fields, bounded strings and numbers, and
// exactly one of event_hypothesis / event_id. Each refusal names its field (`event_hypothesis.price_to`). Pure.
import type { Parsed } from '../http/params.js';
import { idFromJson, stringProblem } from '../http/params.js';
import { isObj, type Obj } from '../store/rows.js';
import { COEFFICIENT_NAMES, type Coefficients, type Hypothesis } from './score.js';

export const MODELS = ['seed_v1', 'fitted'] as const;
export type ModelName = (typeof MODELS)[number];
export const MAX_LIST = 100;
export const MAX_ID = 128;
export const MAX_PRICE = 10_000_000;

export type Target = { hypothesis: Hypothesis } | { eventId: string; ticketCategory: string };

export interface EstimateBody {
  target: Target;
  minPropensity: number;
  model: ModelName;
}

/** An estimate request: `fresh` reads every person from the store, never from the node's snapshot. */
export interface EstimateRequest extends EstimateBody {
  fresh: boolean;
}

export interface BuildBody extends EstimateBody {
  name: string;
}

type Fail = { ok: false; error: { code: 'invalid_field'; in: 'body'; field: string; message: string } };
export const bad = (field: string, message: string): Fail => ({ ok: false, error: { code: 'invalid_field', in: 'body', field, message } });

/** Refuses fields outside `allowed` (a typo must not silently change an audience). */
export function unknownField(v: Obj, allowed: readonly string[], at = ''): Fail | null {
  const extra = Object.keys(v).find((k) => !allowed.includes(k));
  return extra === undefined ? null : bad(at ? `${at}.${extra}` : extra, `Unknown field ${JSON.stringify(extra.slice(0, 64))}; allowed: ${allowed.join(', ')}.`);
}

export function str(v: unknown, field: string, max: number, opts: { required?: boolean; def?: string } = {}): Parsed<string> {
  if (v === undefined || v === null) return opts.required ? bad(field, `${field} is required.`) : { ok: true, value: opts.def ?? '' };
  if (typeof v !== 'string') return bad(field, `${field} must be a string.`);
  if (opts.required && v.trim() === '') return bad(field, `${field} must not be empty.`);
  if (v.length > max) return bad(field, `${field} must be at most ${max} characters.`);
  const p = stringProblem(v);
  return p ? bad(field, `${field} ${p}.`) : { ok: true, value: v };
}

export function num(v: unknown, field: string, min: number, max: number, def: number): Parsed<number> {
  if (v === undefined || v === null) return { ok: true, value: def };
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) return bad(field, `${field} must be a number between ${min} and ${max}.`);
  return { ok: true, value: v };
}

export function strList(v: unknown, field: string, maxItems: number, maxLen: number): Parsed<string[]> {
  if (v === undefined || v === null) return { ok: true, value: [] };
  if (!Array.isArray(v) || v.length > maxItems) return bad(field, `${field} must be an array of at most ${maxItems} strings.`);
  const out: string[] = [];
  for (let i = 0; i < v.length; i++) {
    const x = typeof v[i] === 'number' && Number.isSafeInteger(v[i]) ? String(v[i]) : v[i];
    const s = str(x, `${field}[${i}]`, maxLen, { required: true });
    if (!s.ok) return s;
    out.push(s.value);
  }
  return { ok: true, value: [...new Set(out)] };
}

const HYPOTHESIS_FIELDS = ['artist_ids', 'genres', 'city', 'venue_id', 'price_from', 'price_to', 'ticket_category'];

export function parseHypothesis(v: unknown, at = 'event_hypothesis'): Parsed<Hypothesis> {
  if (!isObj(v)) return bad(at, `${at} must be an object: {"artist_ids":[],"genres":[],"city":"","venue_id":"","price_from":0,"price_to":0,"ticket_category":""}.`);
  const unknown = unknownField(v, HYPOTHESIS_FIELDS, at);
  if (unknown) return unknown;
  const parts = {
    artist_ids: strList(v.artist_ids, `${at}.artist_ids`, MAX_LIST, MAX_ID),
    genres: strList(v.genres, `${at}.genres`, MAX_LIST, 64),
    city: str(v.city, `${at}.city`, 128),
    venue_id: str(v.venue_id, `${at}.venue_id`, MAX_ID),
    price_from: num(v.price_from, `${at}.price_from`, 0, MAX_PRICE, 0),
    price_to: num(v.price_to, `${at}.price_to`, 0, MAX_PRICE, 0),
    ticket_category: str(v.ticket_category, `${at}.ticket_category`, 64),
  };
  for (const p of Object.values(parts)) if (!p.ok) return p as Fail;
  const h = Object.fromEntries(Object.entries(parts).map(([k, p]) => [k, (p as { value: unknown }).value])) as unknown as Hypothesis;
  if (h.price_to > 0 && h.price_to < h.price_from) return bad(`${at}.price_to`, `${at}.price_to must be 0 (none) or at least price_from.`);
  return { ok: true, value: h };
}

function parseTarget(v: Obj): Parsed<Target> {
  const hasH = v.event_hypothesis !== undefined;
  const hasE = v.event_id !== undefined;
  if (hasH === hasE) return bad(hasH ? 'event_id' : 'event_hypothesis', 'Send exactly one of event_hypothesis (a possibly hypothetical event) and event_id (a catalog event).');
  if (hasH) {
    // The top-level ticket_category is the event_id's (the category the catalog event must sell); a hypothesis
    // carries its own. Accepted here it would be silently ignored (the default prices, any name passing).
    if (v.ticket_category !== undefined) {
      return bad('ticket_category', 'ticket_category at the top level goes with event_id; with event_hypothesis, send it as event_hypothesis.ticket_category.');
    }
    const h = parseHypothesis(v.event_hypothesis);
    return h.ok ? { ok: true, value: { hypothesis: h.value } } : h;
  }
  const raw = idFromJson('event_id', v.event_id);
  if (!raw.ok) return bad('event_id', raw.message);
  const id = str(raw.value, 'event_id', MAX_ID, { required: true });
  if (!id.ok) return id;
  const cat = str(v.ticket_category, 'ticket_category', 64);
  return cat.ok ? { ok: true, value: { eventId: id.value, ticketCategory: cat.value } } : cat;
}

function parseModel(v: unknown): Parsed<ModelName> {
  if (v === undefined || v === null) return { ok: true, value: 'seed_v1' };
  return typeof v === 'string' && (MODELS as readonly string[]).includes(v) ? { ok: true, value: v as ModelName } : bad('model', `model must be one of ${MODELS.join(', ')}.`);
}

export function parseEstimate(v: unknown, extra: string[] = []): Parsed<EstimateBody> {
  if (!isObj(v)) return bad('', 'Send {"event_hypothesis":{…}} or {"event_id":"…"}, with optional min_propensity (0-1) and model.');
  const unknown = unknownField(v, ['event_hypothesis', 'event_id', 'ticket_category', 'min_propensity', 'model', ...extra]);
  if (unknown) return unknown;
  const target = parseTarget(v);
  if (!target.ok) return target;
  const min = num(v.min_propensity, 'min_propensity', 0, 1, 0.1);
  if (!min.ok) return min;
  const model = parseModel(v.model);
  if (!model.ok) return model;
  return { ok: true, value: { target: target.value, minPropensity: min.value, model: model.value } };
}

export function parseEstimateRequest(v: unknown): Parsed<EstimateRequest> {
  const e = parseEstimate(v, ['fresh']);
  if (!e.ok) return e;
  const fresh = (v as Obj).fresh ?? false;
  if (typeof fresh !== 'boolean') return bad('fresh', 'fresh must be true (read every person from the store now) or false (the default: a recent snapshot may answer).');
  return { ok: true, value: { ...e.value, fresh } };
}

export function parseBuild(v: unknown): Parsed<BuildBody> {
  const e = parseEstimate(v, ['name']);
  if (!e.ok) return e;
  const name = str((v as Obj).name, 'name', 255, { required: true });
  return name.ok ? { ok: true, value: { ...e.value, name: name.value } } : name;
}

/** `{"a":…,"g":…}`: every coefficient, each in [-100, 100]. */
export function parseCoefficients(v: unknown): Parsed<Coefficients> {
  if (!isObj(v)) return bad('', 'Send {"a":0.3,"b":0.3,"c":0.15,"d":0.1,"e":0.1,"f":0.1,"g":0.05}.');
  const unknown = unknownField(v, COEFFICIENT_NAMES);
  if (unknown) return unknown;
  const out: Partial<Coefficients> = {};
  for (const k of COEFFICIENT_NAMES) {
    if (v[k] === undefined) return bad(k, `${k} is required (every coefficient a…g).`);
    const n = num(v[k], k, -100, 100, 0);
    if (!n.ok) return n;
    out[k] = n.value;
  }
  return { ok: true, value: out as Coefficients };
}
