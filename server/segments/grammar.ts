// The segment filter grammar (README "Segments"): a pure parser that checks a filter document and a compiler
// that turns it into one SQL boolean expression over `p` (a persons row) with bound parameters. The SQL is made
// only of the fixed fragments below; every value the tenant sends is a parameter. Pure.
//
//   filter := {"and":[filter…]} | {"or":[filter…]} | {"not":filter} | leaf
//   leaf   := {"attribute":"city","op":"eq"|"neq"|"in","value":…}
//           | {"attribute":"total_orders"|"events_attended"|"avg_order_value"|"last_purchase_days","op":"eq"|"neq"|"gte"|"gt"|"lte"|"lt","value":n}
//           | {"consent":"marketing"}
//           | {"affinity":"artist"|"genre","id":"…","gte":x}
//           | {"activity":"views"|"carts"|"checkouts"|"purchases"|"attendance","within_days":N,"gte":n}
//           | {"rfm":"segment","in":["vip",…]} (labels: features/model.ts CUSTOMER_SEGMENTS)
//           | {"rfm":"recency"|"frequency"|"monetary","gte"?:1-5,"lte"?:1-5}
//           | {"engagement":{"gte":x}}
//           | {"did":"<event name>","event_id"?:"…","within_days":N}
// A leaf whose data is missing (no city, no score row) is false, so {"not": leaf} holds for such persons.
// Cities and genres match case-insensitively (trimmed, case-folded: audiences/score.ts normName and its SQL twin
// audience_name_key), as in audiences.
import { idFromJson, stringProblem } from '../http/params.js';
import { isObj } from '../store/rows.js';
import { nearest } from '../ingest/messages.js';
import { REGISTRY_V1 } from '../ingest/registry.js';
import { normName } from '../audiences/score.js';
import { CUSTOMER_SEGMENTS } from '../features/model.js';

const EVENT_NAMES: ReadonlySet<string> = new Set(REGISTRY_V1.map((d) => d.name));

/** Why `name` (at `field`) is not an event name, with the nearest one as a suggestion; null when it is one. */
export function eventNameProblem(name: string, field: string): string | null {
  // A name no event carries would silently match nobody (a typo, or "__proto__").
  if (EVENT_NAMES.has(name)) return null;
  const near = nearest(name, EVENT_NAMES);
  return `${field} ${JSON.stringify(name.slice(0, 100))} is not an event name${near ? ` (did you mean ${near}?)` : ''}; GET /api/tx/schema lists them.`;
}

export type Filter =
  | { and: Filter[] }
  | { or: Filter[] }
  | { not: Filter }
  | { attribute: 'city'; op: 'eq' | 'neq' | 'in'; value: string | string[] }
  | { attribute: NumAttr; op: NumOp; value: number }
  | { consent: 'marketing' }
  | { affinity: 'artist' | 'genre'; id: string; gte: number }
  | { activity: Activity; within_days: number; gte: number }
  | { rfm: 'segment'; in: string[] }
  | { rfm: 'recency' | 'frequency' | 'monetary'; gte?: number; lte?: number }
  | { engagement: { gte: number } }
  | { did: string; event_id?: string; within_days: number };

const NUM_ATTRS = ['total_orders', 'events_attended', 'avg_order_value', 'last_purchase_days'] as const;
type NumAttr = (typeof NUM_ATTRS)[number];
const NUM_OPS = ['eq', 'neq', 'gte', 'gt', 'lte', 'lt'] as const;
type NumOp = (typeof NUM_OPS)[number];
const ACTIVITIES = ['views', 'carts', 'checkouts', 'purchases', 'attendance'] as const;
type Activity = (typeof ACTIVITIES)[number];

export const MAX_DEPTH = 8;
export const MAX_NODES = 100;
export const MAX_DAYS = 3650;

export interface FilterError {
  field: string;
  message: string;
}

type P<T> = { ok: true; value: T } | { ok: false; error: FilterError };
const no = (field: string, message: string): P<never> => ({ ok: false, error: { field, message } });

const keysOnly = (v: Record<string, unknown>, allowed: string[], at: string): P<null> => {
  const extra = Object.keys(v).find((k) => !allowed.includes(k));
  return extra === undefined ? { ok: true, value: null } : no(`${at}.${extra}`, `Unknown field ${JSON.stringify(extra.slice(0, 40))} here; allowed: ${allowed.join(', ')}.`);
};
const text = (v: unknown, at: string, max = 128): P<string> => {
  if (typeof v !== 'string' || v === '' || v.length > max) return no(at, `${at} must be a string of 1-${max} characters.`);
  const problem = stringProblem(v);
  return problem ? no(at, `${at} ${problem}.`) : { ok: true, value: v };
};
const number = (v: unknown, at: string, min: number, max: number, integer = false): P<number> =>
  typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max && (!integer || Number.isInteger(v))
    ? { ok: true, value: v }
    : no(at, `${at} must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max}.`);
const oneOf = <T extends string>(v: unknown, list: readonly T[], at: string): P<T> =>
  typeof v === 'string' && (list as readonly string[]).includes(v) ? { ok: true, value: v as T } : no(at, `${at} must be one of ${list.join(', ')}.`);

/** How a filter is read: `stored` re-reads a definition saved earlier (see parseFilter). */
interface Walk {
  n: number;
  stored: boolean;
}

/**
 * Checks a filter document; the first problem names its path (`filters.and[1].gte`). `stored` re-reads a
 * definition accepted earlier (a refresh, an edit keeping its filters): labels of closed sets (RFM segments) are
 * then not checked again, so a segment saved before a label check existed keeps refreshing (to nobody, as before)
 * and stays editable.
 */
export function parseFilter(v: unknown, at = 'filters', opts: { stored?: boolean } = {}): P<Filter> {
  return node(v, at, 0, { n: 0, stored: opts.stored ?? false });
}

function node(v: unknown, at: string, depth: number, count: Walk): P<Filter> {
  if (++count.n > MAX_NODES) return no(at, `A filter has at most ${MAX_NODES} nodes.`);
  if (depth > MAX_DEPTH) return no(at, `A filter nests at most ${MAX_DEPTH} levels.`);
  if (!isObj(v)) return no(at, `${at} must be an object: and, or, not, or a leaf (attribute, consent, affinity, activity, rfm, engagement, did).`);
  const kind = ['and', 'or', 'not', 'attribute', 'consent', 'affinity', 'activity', 'rfm', 'engagement', 'did'].filter((k) => k in v);
  if (kind.length !== 1) return no(at, `${at} must have exactly one of and, or, not, attribute, consent, affinity, activity, rfm, engagement, did.`);
  const k = kind[0];
  if (k === 'and' || k === 'or') {
    const ks = keysOnly(v, [k], at);
    if (!ks.ok) return ks;
    const list = v[k];
    if (!Array.isArray(list) || list.length === 0 || list.length > 50) return no(`${at}.${k}`, `${at}.${k} must be an array of 1-50 filters.`);
    const out: Filter[] = [];
    for (let i = 0; i < list.length; i++) {
      const c = node(list[i], `${at}.${k}[${i}]`, depth + 1, count);
      if (!c.ok) return c;
      out.push(c.value);
    }
    return { ok: true, value: (k === 'and' ? { and: out } : { or: out }) };
  }
  if (k === 'not') {
    const ks = keysOnly(v, ['not'], at);
    if (!ks.ok) return ks;
    const c = node(v.not, `${at}.not`, depth + 1, count);
    return c.ok ? { ok: true, value: { not: c.value } } : c;
  }
  return leaf(k, v, at, count.stored);
}

/** Why `label` (at `at`) is not an RFM segment label; null when it is one. */
function segmentLabelProblem(label: string, at: string): string | null {
  if ((CUSTOMER_SEGMENTS as readonly string[]).includes(label)) return null;
  const lower = label.trim().toLowerCase();
  const hint = (CUSTOMER_SEGMENTS as readonly string[]).includes(lower) ? ` (labels are lower-case: ${lower})` : '';
  return `${at} ${JSON.stringify(label)} is not a segment label${hint}; one of ${CUSTOMER_SEGMENTS.join(', ')}.`;
}

function leaf(k: string, v: Record<string, unknown>, at: string, stored: boolean): P<Filter> {
  switch (k) {
    case 'attribute': {
      const ks = keysOnly(v, ['attribute', 'op', 'value'], at);
      if (!ks.ok) return ks;
      if (v.attribute === 'city') {
        const op = oneOf(v.op, ['eq', 'neq', 'in'] as const, `${at}.op`);
        if (!op.ok) return op;
        if (op.value === 'in') {
          if (!Array.isArray(v.value) || v.value.length === 0 || v.value.length > 100) return no(`${at}.value`, `${at}.value must be an array of 1-100 cities.`);
          for (let i = 0; i < v.value.length; i++) {
            const c = text(v.value[i], `${at}.value[${i}]`);
            if (!c.ok) return c;
          }
          return { ok: true, value: { attribute: 'city', op: 'in', value: v.value as string[] } };
        }
        const c = text(v.value, `${at}.value`);
        return c.ok ? { ok: true, value: { attribute: 'city', op: op.value, value: c.value } } : c;
      }
      const attr = oneOf(v.attribute, ['city', ...NUM_ATTRS] as const, `${at}.attribute`);
      if (!attr.ok) return attr;
      const op = oneOf(v.op, NUM_OPS, `${at}.op`);
      if (!op.ok) return op;
      const n = number(v.value, `${at}.value`, 0, 1e9);
      return n.ok ? { ok: true, value: { attribute: attr.value as NumAttr, op: op.value, value: n.value } } : n;
    }
    case 'consent': {
      const ks = keysOnly(v, ['consent'], at);
      if (!ks.ok) return ks;
      const c = oneOf(v.consent, ['marketing'] as const, `${at}.consent`);
      return c.ok ? { ok: true, value: { consent: c.value } } : c;
    }
    case 'affinity': {
      const ks = keysOnly(v, ['affinity', 'id', 'gte'], at);
      if (!ks.ok) return ks;
      const a = oneOf(v.affinity, ['artist', 'genre'] as const, `${at}.affinity`);
      if (!a.ok) return a;
      const raw = idFromJson(`${at}.id`, v.id);
      if (!raw.ok) return no(`${at}.id`, raw.message);
      const id = text(raw.value, `${at}.id`);
      if (!id.ok) return id;
      const g = number(v.gte ?? 0, `${at}.gte`, 0, 1e9);
      return g.ok ? { ok: true, value: { affinity: a.value, id: id.value, gte: g.value } } : g;
    }
    case 'activity': {
      const ks = keysOnly(v, ['activity', 'within_days', 'gte'], at);
      if (!ks.ok) return ks;
      const a = oneOf(v.activity, ACTIVITIES, `${at}.activity`);
      if (!a.ok) return a;
      const d = number(v.within_days, `${at}.within_days`, 1, MAX_DAYS, true);
      if (!d.ok) return d;
      const g = number(v.gte ?? 1, `${at}.gte`, 0, 1e9, true);
      return g.ok ? { ok: true, value: { activity: a.value, within_days: d.value, gte: g.value } } : g;
    }
    case 'rfm': {
      if (v.rfm === 'segment') {
        const ks = keysOnly(v, ['rfm', 'in'], at);
        if (!ks.ok) return ks;
        if (!Array.isArray(v.in) || v.in.length === 0 || v.in.length > 20) return no(`${at}.in`, `${at}.in must be an array of 1-20 segment labels.`);
        for (let i = 0; i < v.in.length; i++) {
          const c = text(v.in[i], `${at}.in[${i}]`, 32);
          if (!c.ok) return c;
          // A label no person carries would silently match nobody (the set is closed: features/model.ts segmentOf).
          const problem = stored ? null : segmentLabelProblem(c.value, `${at}.in[${i}]`);
          if (problem) return no(`${at}.in[${i}]`, problem);
        }
        return { ok: true, value: { rfm: 'segment', in: v.in as string[] } };
      }
      const ks = keysOnly(v, ['rfm', 'gte', 'lte'], at);
      if (!ks.ok) return ks;
      const r = oneOf(v.rfm, ['segment', 'recency', 'frequency', 'monetary'] as const, `${at}.rfm`);
      if (!r.ok) return r;
      if (v.gte === undefined && v.lte === undefined) return no(`${at}.gte`, `${at} needs gte and/or lte (scores 1-5).`);
      const out: { rfm: 'recency' | 'frequency' | 'monetary'; gte?: number; lte?: number } = { rfm: r.value as 'recency' };
      for (const b of ['gte', 'lte'] as const) {
        if (v[b] === undefined) continue;
        const n = number(v[b], `${at}.${b}`, 1, 5, true);
        if (!n.ok) return n;
        out[b] = n.value;
      }
      // An empty band matches nobody: refused like any filter that cannot match.
      if (out.gte !== undefined && out.lte !== undefined && out.gte > out.lte) return no(`${at}.lte`, `${at}.lte must be at least gte (${out.gte}): the band ${out.gte}-${out.lte} is empty.`);
      return { ok: true, value: out };
    }
    case 'engagement': {
      const ks = keysOnly(v, ['engagement'], at);
      if (!ks.ok) return ks;
      if (!isObj(v.engagement)) return no(`${at}.engagement`, `${at}.engagement must be {"gte":x}.`);
      const ks2 = keysOnly(v.engagement, ['gte'], `${at}.engagement`);
      if (!ks2.ok) return ks2;
      const g = number(v.engagement.gte, `${at}.engagement.gte`, 0, 1e9);
      return g.ok ? { ok: true, value: { engagement: { gte: g.value } } } : g;
    }
    default: {
      const ks = keysOnly(v, ['did', 'event_id', 'within_days'], at);
      if (!ks.ok) return ks;
      const name = text(v.did, `${at}.did`, 100);
      if (!name.ok) return name;
      const unknownName = eventNameProblem(name.value, `${at}.did`);
      if (unknownName) return no(`${at}.did`, unknownName);
      const d = number(v.within_days, `${at}.within_days`, 1, MAX_DAYS, true);
      if (!d.ok) return d;
      if (v.event_id === undefined) return { ok: true, value: { did: name.value, within_days: d.value } };
      const rawEvent = idFromJson(`${at}.event_id`, v.event_id);
      if (!rawEvent.ok) return no(`${at}.event_id`, rawEvent.message);
      const e = text(rawEvent.value, `${at}.event_id`);
      return e.ok ? { ok: true, value: { did: name.value, event_id: e.value, within_days: d.value } } : e;
    }
  }
}

/**
 * The catalog event ids a filter names (`did` leaves with `event_id`), each with its path as parseFilter names it
 * (`filters.and[0].event_id`), in document order. The segment routes check each exists (segments/index.ts). Pure.
 */
export function eventIdRefs(f: Filter, at = 'filters'): { field: string; eventId: string }[] {
  if ('and' in f) return f.and.flatMap((c, i) => eventIdRefs(c, `${at}.and[${i}]`));
  if ('or' in f) return f.or.flatMap((c, i) => eventIdRefs(c, `${at}.or[${i}]`));
  if ('not' in f) return eventIdRefs(f.not, `${at}.not`);
  return 'did' in f && f.event_id !== undefined ? [{ field: `${at}.event_id`, eventId: f.event_id }] : [];
}

// --- compiler ---------------------------------------------------------------------------------------------

/** The SQL of a filter: `sql` is a boolean expression over `p`; `$1` is the tenant, `$2` now; params from $first. */
export interface Compiled {
  sql: string;
  params: unknown[];
}

const NUM_COL: Record<Exclude<NumAttr, 'last_purchase_days'>, string> = {
  total_orders: 'p.total_orders', events_attended: 'p.events_attended', avg_order_value: 'p.avg_order_value::float8',
};
const CMP: Record<NumOp, string> = { eq: '=', neq: '<>', gte: '>=', gt: '>', lte: '<=', lt: '<' };
const ACTIVITY_COL: Record<Activity, string> = {
  views: 'views_count', carts: 'carts_count', checkouts: 'checkouts_count', purchases: 'purchases_count', attendance: 'attendance_count',
};
const RFM_COL = { recency: 'rfm_recency_score', frequency: 'rfm_frequency_score', monetary: 'rfm_monetary_score' } as const;

export function compileFilter(f: Filter, first = 3): Compiled {
  const params: unknown[] = [];
  const bind = (v: unknown, cast: string): string => {
    params.push(v);
    return `$${params.length + first - 1}::${cast}`;
  };
  // Every leaf is COALESCE(…, false): a missing value is "no", and NOT of it is "yes" (never NULL).
  const walk = (n: Filter): string => {
    if ('and' in n) return `(${n.and.map(walk).join(' AND ')})`;
    if ('or' in n) return `(${n.or.map(walk).join(' OR ')})`;
    if ('not' in n) return `(NOT ${walk(n.not)})`;
    return `COALESCE(${leafSql(n, bind)}, false)`;
  };
  return { sql: walk(f), params };
}

function leafSql(n: Exclude<Filter, { and: Filter[] } | { or: Filter[] } | { not: Filter }>, bind: (v: unknown, cast: string) => string): string {
  if ('attribute' in n) {
    // Cities and genres match as in audiences: score.ts normName of the value, its SQL twin audience_name_key
    // (migration 055) of the stored name: trimmed of Unicode whitespace and case-folded alike.
    if (n.attribute === 'city') {
      if (n.op === 'in') return `audience_name_key(p.city) = ANY(${bind((n.value as string[]).map(normName), 'text[]')})`;
      return `audience_name_key(p.city) ${n.op === 'eq' ? '=' : '<>'} ${bind(normName(n.value as string), 'text')}`;
    }
    if (n.attribute === 'last_purchase_days') {
      // Whole days since the last purchase (no purchase: false).
      return `floor(extract(epoch FROM ($2::timestamptz - p.last_purchase_at)) / 86400) ${CMP[n.op]} ${bind(n.value, 'float8')}`;
    }
    return `${NUM_COL[n.attribute]} ${CMP[n.op]} ${bind(n.value, 'float8')}`;
  }
  if ('consent' in n) return 'p.marketing_consent';
  if ('affinity' in n) {
    // An artist is an id (matched as sent); a genre is a name (matched like a city).
    const [table, col, id] = n.affinity === 'artist' ? ['fs_person_affinity_artist', 'a.artist_id', n.id] : ['fs_person_affinity_genre', 'audience_name_key(a.genre)', normName(n.id)];
    return `EXISTS (SELECT 1 FROM ${table} a WHERE a.tenant_id = $1 AND a.person_id = p.person_id AND ${col} = ${bind(id, 'text')} AND a.affinity_score >= ${bind(n.gte, 'float8')})`;
  }
  if ('activity' in n) {
    // The last N UTC days, today included (fs_person_daily buckets by UTC day); not the days after today, which
    // ingest accepts events for (FUTURE_HOURS) but which are no part of "the last N days".
    return `(SELECT COALESCE(sum(d.${ACTIVITY_COL[n.activity]}), 0) FROM fs_person_daily d WHERE d.tenant_id = $1 AND d.person_id = p.person_id`
      + ` AND d.date >= date_trunc('day', $2::timestamptz) - ${bind(n.within_days - 1, 'int')} * interval '1 day'`
      + ` AND d.date <= date_trunc('day', $2::timestamptz)) >= ${bind(n.gte, 'int')}`;
  }
  if ('rfm' in n) {
    if (n.rfm === 'segment') return `EXISTS (SELECT 1 FROM fs_person_scores s WHERE s.tenant_id = $1 AND s.person_id = p.person_id AND s.customer_segment = ANY(${bind(n.in, 'text[]')}))`;
    const col = RFM_COL[n.rfm];
    const conds = [n.gte !== undefined ? `s.${col} >= ${bind(n.gte, 'int')}` : null, n.lte !== undefined ? `s.${col} <= ${bind(n.lte, 'int')}` : null].filter(Boolean);
    return `EXISTS (SELECT 1 FROM fs_person_scores s WHERE s.tenant_id = $1 AND s.person_id = p.person_id AND ${conds.join(' AND ')})`;
  }
  if ('engagement' in n) return `EXISTS (SELECT 1 FROM fs_person_scores s WHERE s.tenant_id = $1 AND s.person_id = p.person_id AND s.engagement_score >= ${bind(n.engagement.gte, 'float8')})`;
  // Bot-flagged events count for nobody (as in remarketing audiences and the feature store); events dated after
  // now (accepted within FUTURE_HOURS) have not happened in the last N days (remarketing's window ends at now too).
  const head = `EXISTS (SELECT 1 FROM tx_events e WHERE e.tenant_id = $1 AND e.person_id = p.person_id AND NOT e.is_bot AND e.event_name = ${bind(n.did, 'text')}`
    + ` AND e.occurred_at >= $2::timestamptz - ${bind(n.within_days, 'int')} * interval '1 day' AND e.occurred_at <= $2::timestamptz`;
  return `${head}${n.event_id === undefined ? '' : ` AND e.entities->>'event_entity_id' = ${bind(n.event_id, 'text')}`})`;
}

/** Evaluates a filter on an in-memory person (the tests' reference for the compiled SQL). Pure. */
export interface PersonRecord {
  city: string | null;
  total_orders: number;
  events_attended: number;
  avg_order_value: number | null;
  last_purchase_at: number | null;
  marketing_consent: boolean;
  artist: Record<string, number>;
  genre: Record<string, number>;
  /** Per UTC day (ms at 00:00) the activity counts. */
  daily: { day: number; views: number; carts: number; checkouts: number; purchases: number; attendance: number }[];
  scores: { segment: string; recency: number; frequency: number; monetary: number; engagement: number } | null;
  events: { name: string; event_id: string | null; at: number; is_bot?: boolean }[];
}

const DAY = 86_400_000;

export function evaluate(f: Filter, p: PersonRecord, now: number): boolean {
  if ('and' in f) return f.and.every((c) => evaluate(c, p, now));
  if ('or' in f) return f.or.some((c) => evaluate(c, p, now));
  if ('not' in f) return !evaluate(f.not, p, now);
  if ('attribute' in f) {
    if (f.attribute === 'city') {
      if (p.city === null) return false;
      const city = normName(p.city);
      return f.op === 'in' ? (f.value as string[]).some((c) => normName(c) === city) : f.op === 'eq' ? city === normName(f.value as string) : city !== normName(f.value as string);
    }
    const v = f.attribute === 'last_purchase_days'
      ? (p.last_purchase_at === null ? null : Math.floor((now - p.last_purchase_at) / DAY))
      : f.attribute === 'avg_order_value' ? p.avg_order_value : p[f.attribute];
    if (v === null) return false;
    const x = f.value as number;
    return { eq: v === x, neq: v !== x, gte: v >= x, gt: v > x, lte: v <= x, lt: v < x }[f.op];
  }
  if ('consent' in f) return p.marketing_consent;
  if ('affinity' in f) {
    if (f.affinity === 'artist') return (p.artist[f.id] ?? -Infinity) >= f.gte;
    const genre = normName(f.id);
    return Object.entries(p.genre).some(([g, score]) => normName(g) === genre && score >= f.gte);
  }
  if ('activity' in f) {
    const today = Math.floor(now / DAY) * DAY;
    const from = today - (f.within_days - 1) * DAY;
    return p.daily.filter((d) => d.day >= from && d.day <= today).reduce((s, d) => s + d[f.activity], 0) >= f.gte;
  }
  if ('rfm' in f) {
    if (!p.scores) return false;
    if (f.rfm === 'segment') return f.in.includes(p.scores.segment);
    const s = p.scores[f.rfm];
    return (f.gte === undefined || s >= f.gte) && (f.lte === undefined || s <= f.lte);
  }
  if ('engagement' in f) return p.scores !== null && p.scores.engagement >= f.engagement.gte;
  return p.events.some((e) => !e.is_bot && e.name === f.did && e.at >= now - f.within_days * DAY && e.at <= now && (f.event_id === undefined || e.event_id === f.event_id));
}
