// Request bodies of the campaign routes: every field bounded, unknown fields refused, the refused field named.
// Pure.
import type { Parsed } from '../http/params.js';
import { describeJson, MAX_TIME_MS, parseIsoTime, stringProblem, unknownBodyField } from '../http/params.js';
import { isObj } from '../store/rows.js';
import { currencyDecimals, fitsDecimals, floorTo, isPlatform, STRATEGIES, type PlatformAllocations, type Strategy } from './model.js';
import type { NewBudget } from './service.js';
import { ignoredPercentages } from './allocate.js';
import { httpUrl } from './suite.js';

const bad = (field: string, message: string): Parsed<never> => ({ ok: false, error: { code: 'invalid_field', in: 'body', field, message } });

function unknownField(v: Record<string, unknown>, allowed: string[]): string | null {
  return Object.keys(v).find((k) => !allowed.includes(k)) ?? null;
}

/**
 * The most each amount field takes, in the budget's currency: one rule per field, the same at creation, in a PATCH
 * and for a daily budget set by hand (amountProblem), whatever the currency.
 */
export const AMOUNT_MAX = {
  total_budget: 10_000_000,
  daily_budget_limit: 1_000_000,
  daily_budget: 1_000_000,
  target_cpa: 100_000,
  /** platform_allocations.{platform}.daily_limit */
  daily_limit: 1_000_000,
} as const;

/** The rule of an amount field in words: its range in the currency and the currency's decimals. */
const amountRule = (min: number, max: number, decimals: number, currency: string | null) =>
  `${currency ? `an amount in ${currency}` : 'an amount'} from ${min} to ${max}, with at most ${decimals} decimal${decimals === 1 ? '' : 's'}${currency ? ` (${currency}'s minor unit)` : ''}`;

/**
 * An amount in a currency with `decimals` minor-unit digits (JPY 0, EUR 2, KWD 3): at least one minor unit, at most
 * `max`, and no more decimals than the currency has (150000.55 JPY is refused, 500.125 KWD accepted). A refusal names
 * the field, the value sent, the rule and what to send instead.
 */
function money(v: unknown, field: string, max: number, required: boolean, decimals = 2, currency: string | null = null): Parsed<number | null> {
  const unit = 10 ** -decimals;
  const min = Number(unit.toFixed(decimals));
  const rule = amountRule(min, max, decimals, currency);
  const cur = currency ? ` ${currency}` : '';
  if (v === undefined || v === null) return required ? bad(field, `${field} is required: ${rule}.`) : { ok: true, value: null };
  if (typeof v !== 'number' || !Number.isFinite(v)) return bad(field, `${field} must be a number, ${rule}; got ${describeJson(v)}.`);
  // At least a minor unit: below that the stored amount would be 0.
  if (v < min - 1e-12) {
    const stop = field === 'daily_budget' ? ' (to stop the campaign, pause it: POST /api/v1/campaigns/{id}/pause)' : '';
    return bad(field, `${field} ${v}${cur} is below ${min}${cur}, the smallest amount it takes (${rule}): send at least ${min}${stop}.`);
  }
  if (v > max) return bad(field, `${field} ${v}${cur} is above ${max}${cur}, the most it takes (${rule}): send at most ${max}.`);
  if (!fitsDecimals(v, decimals)) return bad(field, `${field} ${v}${cur} has more than ${decimals} decimal${decimals === 1 ? '' : 's'} (${rule}): send it rounded to ${decimals}, e.g. ${floorTo(v, decimals).toFixed(decimals)}.`);
  return { ok: true, value: v };
}

/**
 * An amount whose budget (and so currency) is not known yet: only its type is checked here (a number, or null where
 * `nullable`); its range and decimals are checked against the budget's currency once it is read (amountProblem), so
 * the refusal states that currency's rule rather than a guess.
 */
function number(v: unknown, field: string): Parsed<number | null> {
  if (v === undefined || v === null) return { ok: true, value: null };
  if (typeof v !== 'number' || !Number.isFinite(v)) return bad(field, `${field} must be a number, an amount in the budget's currency (e.g. 25 or 25.50 for EUR); got ${describeJson(v)}.`);
  return { ok: true, value: v };
}

/** A ratio (target_roas): at most two decimals, whatever the currency. */
const ratio = (v: unknown, field: string, max: number): Parsed<number | null> => money(v, field, max, false, 2);

function str(v: unknown, field: string, max: number, required = false): Parsed<string | null> {
  if (v === undefined || v === null) return required ? bad(field, `${field} is required.`) : { ok: true, value: null };
  if (typeof v !== 'string' || v.length === 0 || v.length > max) return bad(field, `${field} must be a string of 1-${max} characters.`);
  const p = stringProblem(v);
  return p ? bad(field, `${field} ${p}.`) : { ok: true, value: v };
}

function time(v: unknown, field: string): Parsed<string | null> {
  if (v === undefined || v === null) return { ok: true, value: null };
  // parseIsoTime, not Date.parse: a day the month lacks (2026-11-31) is refused rather than moved to the next month.
  const ms = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) ? (parseIsoTime(v) ?? NaN) : NaN;
  // From 2000 (the budgets' own floor) up to the API's end (2199-12-31, params.ts MAX_TIME_MS).
  if (!Number.isFinite(ms) || ms < Date.UTC(2000, 0, 1) || ms >= MAX_TIME_MS) return bad(field, `${field} must be an ISO 8601 time between 2000-01-01 and 2199-12-31.`);
  return { ok: true, value: new Date(ms).toISOString() };
}

function allocations(v: unknown, decimals: number, currency: string | null): Parsed<PlatformAllocations> {
  if (v === undefined || v === null) return { ok: true, value: {} };
  if (!isObj(v)) return bad('platform_allocations', 'platform_allocations must be an object: {"meta":{"percentage":40,"daily_limit":50},…}.');
  const out: PlatformAllocations = {};
  let sum = 0;
  for (const [p, a] of Object.entries(v)) {
    const f = `platform_allocations.${p.slice(0, 40)}`;
    if (!isPlatform(p)) return bad(f, `Unknown platform ${JSON.stringify(p.slice(0, 40))}; platforms are meta, google_ads and tiktok.`);
    const takes = `${f} takes percentage (0-100) and an optional daily_limit`;
    if (!isObj(a)) return bad(f, `${takes}; got ${describeJson(a)}.`);
    const extra = unknownField(a, ['percentage', 'daily_limit']);
    if (extra) {
      const e = unknownBodyField(extra, `${takes}.`);
      return { ok: false, error: { ...e, field: `${f}.${e.field}` } };
    }
    if (typeof a.percentage !== 'number' || !(a.percentage >= 0 && a.percentage <= 100)) return bad(`${f}.percentage`, 'percentage must be a number from 0 to 100.');
    const dl = money(a.daily_limit, `${f}.daily_limit`, AMOUNT_MAX.daily_limit, false, decimals, currency);
    if (!dl.ok) return dl;
    sum += a.percentage;
    out[p] = { percentage: a.percentage, ...(dl.value === null ? {} : { daily_limit: dl.value }) };
  }
  if (Object.keys(out).length && Math.abs(sum - 100) > 0.01) return bad('platform_allocations', `The percentages must add up to 100 (got ${sum}).`);
  return { ok: true, value: out };
}

const BUDGET_FIELDS = ['organizer_id', 'event_id', 'total_budget', 'currency', 'daily_budget_limit', 'allocation_strategy', 'platform_allocations', 'target_cpa', 'target_roas', 'payment_reference', 'paid_at', 'started_at', 'ends_at', 'notes'];

/** A new budget's body; `now` refuses an end already past (its campaigns would all complete at the first optimiser run). */
export function parseNewBudget(v: unknown, now: number): Parsed<NewBudget> {
  if (!isObj(v)) return bad('', 'Send a JSON object.');
  const extra = unknownField(v, BUDGET_FIELDS);
  if (extra) return { ok: false, error: unknownBodyField(extra, `a budget takes ${BUDGET_FIELDS.join(', ')}.`) };
  const org = str(v.organizer_id, 'organizer_id', 128, true);
  const ev = str(v.event_id, 'event_id', 128);
  const currency = v.currency ?? 'EUR';
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) return bad('currency', 'currency must be a 3-letter ISO 4217 code (EUR).');
  const decimals = currencyDecimals(currency);
  if (decimals === null) return bad('currency', `currency ${currency} is not an ISO 4217 currency in use (EUR, USD, RON, JPY, …).`);
  const total = money(v.total_budget, 'total_budget', AMOUNT_MAX.total_budget, true, decimals, currency);
  const daily = money(v.daily_budget_limit, 'daily_budget_limit', AMOUNT_MAX.daily_budget_limit, false, decimals, currency);
  const cpa = money(v.target_cpa, 'target_cpa', AMOUNT_MAX.target_cpa, false, decimals, currency);
  const roas = ratio(v.target_roas, 'target_roas', 1000);
  const pay = str(v.payment_reference, 'payment_reference', 255);
  const notes = str(v.notes, 'notes', 4000);
  const paid = time(v.paid_at, 'paid_at');
  const start = time(v.started_at, 'started_at');
  const end = time(v.ends_at, 'ends_at');
  const pa = allocations(v.platform_allocations, decimals, currency);
  for (const p of [org, ev, total, daily, cpa, roas, pay, notes, paid, start, end, pa]) if (!p.ok) return p;
  const strategy = v.allocation_strategy ?? 'equal_split';
  if (!(STRATEGIES as readonly string[]).includes(strategy as string)) return bad('allocation_strategy', `allocation_strategy is one of ${STRATEGIES.join(', ')}.`);
  if (strategy === 'manual' && Object.keys((pa as { value: PlatformAllocations }).value).length === 0) return bad('platform_allocations', 'A manual budget names its platform percentages.');
  const ignored = ignoredPercentages(strategy as Strategy, (pa as { value: PlatformAllocations }).value);
  if (ignored) return bad(ignored.field, ignored.message);
  const v2 = <T>(p: Parsed<T>) => (p as { ok: true; value: T }).value;
  if (v2(start) && v2(end) && Date.parse(v2(end)!) <= Date.parse(v2(start)!)) return bad('ends_at', 'ends_at must be after started_at.');
  if (v2(end) && Date.parse(v2(end)!) <= now) return bad('ends_at', `ends_at ${v2(end)} has already passed (now ${new Date(now).toISOString()}); a budget ends in the future.`);
  if (v2(daily) !== null && v2(daily)! > v2(total)!) return bad('daily_budget_limit', 'daily_budget_limit cannot be above total_budget.');
  return {
    ok: true,
    value: {
      organizer_id: v2(org)!, event_id: v2(ev), total_budget: v2(total)!, currency, daily_budget_limit: v2(daily), allocation_strategy: strategy as Strategy,
      platform_allocations: v2(pa), target_cpa: v2(cpa), target_roas: v2(roas), payment_reference: v2(pay), paid_at: v2(paid), started_at: v2(start), ends_at: v2(end), notes: v2(notes),
    },
  };
}

export function parseOverride(v: unknown): Parsed<{ total_budget?: number; daily_budget_limit?: number | null }> {
  if (!isObj(v)) return bad('', 'Send a JSON object.');
  const extra = unknownField(v, ['total_budget', 'daily_budget_limit']);
  if (extra) return { ok: false, error: unknownBodyField(extra, 'a budget override takes total_budget and/or daily_budget_limit (null removes the limit).') };
  // null removes the daily limit, but a budget always has a total: null there is not "no change" nor "no total".
  if (v.total_budget === null) return bad('total_budget', 'total_budget null is not a total: a budget always has one. Send an amount above what the budget already spent, or leave total_budget out to keep it (only daily_budget_limit takes null, which removes the daily limit).');
  const total = number(v.total_budget, 'total_budget');
  if (!total.ok) return total;
  if (v.daily_budget_limit === null) return { ok: true, value: { ...(total.value === null ? {} : { total_budget: total.value }), daily_budget_limit: null } };
  const daily = number(v.daily_budget_limit, 'daily_budget_limit');
  if (!daily.ok) return daily;
  if (total.value === null && daily.value === null) return bad('', 'Send total_budget and/or daily_budget_limit (null removes the daily limit).');
  return { ok: true, value: { ...(total.value === null ? {} : { total_budget: total.value }), ...(daily.value === null ? {} : { daily_budget_limit: daily.value }) } };
}

/** A body that is not an object ('' names the body), or one with a field `allowed` lacks (named): the refusal, or null. */
function shapeProblem(v: unknown, allowed: string[], message: string): Parsed<never> | null {
  if (!isObj(v)) return bad('', message);
  const extra = unknownField(v, allowed);
  return extra ? bad(extra.slice(0, 40), `Unknown field ${JSON.stringify(extra.slice(0, 40))}: ${message}`) : null;
}

export function parseAmount(v: unknown): Parsed<number> {
  const shape = shapeProblem(v, ['daily_budget'], 'Send {"daily_budget": amount}.');
  if (shape || !isObj(v)) return shape ?? bad('', 'Send a JSON object.');
  if (v.daily_budget === undefined || v.daily_budget === null) return bad('daily_budget', 'daily_budget is required: an amount in the budget\'s currency. Send {"daily_budget": amount}.');
  const m = number(v.daily_budget, 'daily_budget');
  return m.ok ? { ok: true, value: m.value! } : m;
}

export function parseSuite(v: unknown): Parsed<{ lookalike_pct: number; landing_page_url: string | null; country: string | null }> {
  if (v === null || v === undefined) return { ok: true, value: { lookalike_pct: 1, landing_page_url: null, country: null } };
  const shape = shapeProblem(v, ['lookalike_pct', 'landing_page_url', 'country'], 'The suite takes an optional {"lookalike_pct": 1|2|3, "landing_page_url": "https://…", "country": "RO"}.');
  if (shape || !isObj(v)) return shape ?? bad('', 'Send a JSON object.');
  const p = v.lookalike_pct ?? 1;
  if (p !== 1 && p !== 2 && p !== 3) return bad('lookalike_pct', 'lookalike_pct is 1, 2 or 3 (% of the country).');
  const url = str(v.landing_page_url, 'landing_page_url', 2000);
  if (!url.ok) return url;
  if (url.value !== null && !httpUrl(url.value)) return bad('landing_page_url', `landing_page_url must be an http(s) URL: the page the ads lead to (https://tickets.example/events); got ${describeJson(url.value.slice(0, 100))}.`);
  const c = v.country;
  if (c !== undefined && c !== null && (typeof c !== 'string' || !/^[A-Za-z]{2}$/.test(c))) return bad('country', `country must be an ISO 3166-1 alpha-2 code (RO, DE, US): the country the ads target; got ${describeJson(c)}.`);
  return { ok: true, value: { lookalike_pct: p, landing_page_url: url.value === null ? null : httpUrl(url.value), country: typeof c === 'string' ? c.toUpperCase() : null } };
}

export function parseIds(v: unknown): Parsed<{ note: string | null }> {
  if (v === null || v === undefined) return { ok: true, value: { note: null } };
  const shape = shapeProblem(v, ['note'], 'Send nothing, or {"note": "…"}.');
  if (shape || !isObj(v)) return shape ?? bad('', 'Send a JSON object.');
  const n = str(v.note, 'note', 1000);
  return n.ok ? { ok: true, value: { note: n.value } } : n;
}

/**
 * An amount parsed before its budget was known (an override, a daily budget) against the budget's currency and the
 * field's own maximum (AMOUNT_MAX): null when it fits, else the refusal naming `field`, the value, the rule and the fix.
 */
export function amountProblem(v: number, field: keyof typeof AMOUNT_MAX, currency: string): Parsed<never> | null {
  const d = currencyDecimals(currency) ?? 2;
  const r = money(v, field, AMOUNT_MAX[field], true, d, currency);
  return r.ok ? null : (r as Parsed<never>);
}
