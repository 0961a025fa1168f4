// The ad platforms' browser ids a conversion is matched with: Meta's fbp (_fbp) and fbc (_fbc), TikTok's ttp (_ttp), GA4's
// client and session ids (_ga, _ga_<stream>). The pixel loader puts them in each event's context (README "The
// envelope"); the outbox row copies the converting event's. A purchase from the backend has none: before
// sending, the dispatcher fills them from the visitor's own earlier events (sql/queries/conversions.sql
// browser_ids, one statement per claimed batch). Pure apart from `fillBrowserIds`'s one query.
import type { Queryable } from '../store/db.js';
import { queries } from '../store/queries.js';
import type { ConversionData, OutboxItem, Provider } from './adapter.js';

const Q = queries('conversions.sql', ['browser_ids']);

/** The browser ids each provider uses. */
export const BROWSER_ID_FIELDS: Record<Provider, (keyof ConversionData)[]> = {
  meta: ['fbp', 'fbc'],
  tiktok: ['ttp'],
  ga4: ['ga_client_id', 'ga_session_ids'],
  google_ads: [],
};

/** The rows that lack one of the provider's browser ids and have a visitor to look them up by. Pure. */
export function lackingBrowserIds(provider: Provider, items: OutboxItem[]): OutboxItem[] {
  const fields = BROWSER_ID_FIELDS[provider];
  return fields.length === 0 ? [] : items.filter((i) => !!i.data.visitor_id && fields.some((f) => i.data[f] === undefined || i.data[f] === null));
}

export interface FoundIds {
  id: number | string;
  fbp: string | null;
  fbc: string | null;
  ttp: string | null;
  ga_client_id: string | null;
  ga_session_ids: Record<string, string> | null;
}

/** Rows' data with the ids found for them where their own event had none (the event's own win). Pure. */
export function withBrowserIds<T extends OutboxItem>(provider: Provider, items: T[], found: FoundIds[]): T[] {
  const byId = new Map(found.map((f) => [Number(f.id), f]));
  return items.map((i) => {
    const f = byId.get(i.id);
    if (!f) return i;
    const data = { ...i.data };
    for (const k of BROWSER_ID_FIELDS[provider]) {
      const v = f[k as keyof FoundIds];
      if ((data[k] === undefined || data[k] === null) && v !== null && v !== undefined) (data as Record<string, unknown>)[k] = v;
    }
    return { ...i, data };
  });
}

/** Fills the claimed rows' missing browser ids from their visitors' earlier events (one query). */
export async function fillBrowserIds<T extends OutboxItem>(db: Queryable, tenantId: number, provider: Provider, items: T[]): Promise<T[]> {
  const lacking = lackingBrowserIds(provider, items);
  if (lacking.length === 0) return items;
  const rows = lacking.map((i) => ({ id: i.id, visitor_id: i.data.visitor_id, occurred_at: i.occurred_at }));
  const found = (await db.query<FoundIds>(Q.browser_ids, [tenantId, JSON.stringify(rows)])).rows;
  return withBrowserIds(provider, items, found);
}
