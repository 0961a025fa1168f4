// What campaign automation needs from an ad platform (seed 002 §2.4 publish / pause / resume, budget updates,
// metrics): one adapter per platform (meta.ts, google.ts, tiktok.ts) over its documented REST calls. Outcomes
// are values: a refused or failed call is { ok: false, error, retriable }, never thrown.
import type { Platform, Stats } from '../model.js';
import type { Creative, Targeting } from '../suite.js';

export interface External {
  campaignId: string;
  adsetId: string | null;
}

export interface PublishInput {
  name: string;
  campaignType: string;
  dailyBudget: number;
  currency: string;
  targeting: Targeting;
  creative: Creative;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string; retriable: boolean };

export interface PlatformAdapter {
  platform: Platform;
  /** Creates the campaign (and its ad set / ad group) paused, then starts it. */
  publish(c: PublishInput): Promise<Outcome<External>>;
  setActive(ext: External, active: boolean): Promise<Outcome<void>>;
  setDailyBudget(ext: External, amount: number): Promise<Outcome<void>>;
  /** Lifetime totals per external campaign id (the platform's own conversion claim included). */
  fetchMetrics(campaignIds: string[]): Promise<Outcome<Map<string, Stats>>>;
}

export const TIMEOUT_MS = 15_000;

/** One JSON call; network errors, 429 and 5xx are retriable, other statuses are not. */
export async function call(url: string, init: { method: string; headers?: Record<string, string>; body?: unknown }): Promise<Outcome<any>> {
  try {
    const res = await fetch(url, {
      method: init.method,
      headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) return { ok: false, error: `HTTP ${res.status}: ${text.slice(0, 300)}`, retriable: res.status === 429 || res.status >= 500 };
    return { ok: true, value: json };
  } catch (err) {
    return { ok: false, error: (err as Error).message, retriable: true };
  }
}

export const num = (v: unknown): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : 0;
  return Number.isFinite(n) ? n : 0;
};

/** A platform without credentials in the configuration. */
export const notConfigured = (what: string): Outcome<never> => ({ ok: false, error: `${what} is not configured`, retriable: false });
