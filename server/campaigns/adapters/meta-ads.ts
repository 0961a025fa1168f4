// Meta ads, one per creative variant (README "Campaigns" → "Creative rotation"): under the campaign's ad set, each
// variant of the suite's creative becomes an ad creative (POST act_{id}/adcreatives, a link ad: object_story_spec
// {page_id, link_data {link, message, name, call_to_action {type, value {link}}}}) and an ad using it
// (POST act_{id}/ads {name, adset_id, creative {creative_id}, status ACTIVE}). Every name carries `[{key}:v{i}]`;
// before creating, the ad set's ads are listed (GET {adset}/ads) and an ad found by that name is adopted, and each
// id is saved the moment Meta returns it, so an interrupted publish creates no ad twice. Per-ad figures come from
// GET act_{id}/insights?level=ad, their delivery status from GET act_{id}/ads?fields=id,campaign_id,effective_status
// (filtered by campaign.id; without an effective_status filter Meta leaves out deleted and archived ads, and the
// insights of a deleted ad too); the optimiser pauses a losing variant's ad with POST {ad} status=PAUSED.
import type { Stats } from '../model.js';
import type { Creative } from '../suite.js';
import { call, num, pickFound, type AdStats, type ExternalAd, type Found, type Outcome, type PublishProgress } from './adapter.js';

/** The key an ad and its creative carry in their names: `[{key}:v{i}]`. */
export const adKey = (key: string, variant: number): string => `${key}:v${variant}`;

/** The ad copy of each variant: the creative's variants, else its own headline and description. Pure. */
export function variantsOf(creative: Creative): { headline: string; description: string }[] {
  const list = Array.isArray(creative?.variants) ? creative.variants.filter((v) => v && typeof v.headline === 'string') : [];
  if (list.length) return list.slice(0, 10);
  return typeof creative?.headline === 'string' ? [{ headline: creative.headline, description: String(creative.description ?? '') }] : [];
}

/** An ad creative's body: a link ad on the Page to the landing URL (the campaign's utm_campaign in it). Pure. */
export function adCreativeBody(name: string, pageId: string, creative: Creative, v: { headline: string; description: string }) {
  const link = creative.landing_page_url;
  return {
    name,
    object_story_spec: {
      page_id: pageId,
      link_data: { link, message: v.description, name: v.headline, call_to_action: { type: creative.cta_type || 'BUY_TICKETS', value: { link } } },
    },
  };
}

export interface MetaAdsDeps {
  acct: string;
  base: string;
  q: () => string;
  post(path: string, body: Record<string, unknown>): Promise<Outcome<any>>;
  lookup(path: string, params: Record<string, string>): Promise<Outcome<Found[]>>;
}

/**
 * Creates what is missing of one ad per variant under `adsetId` (`fresh`: the ad set was created by this attempt,
 * so it has no ad to find). Returns the ads, every one with its ad id, or the failed call.
 */
export async function ensureAds(d: MetaAdsDeps, a: { name: string; key: string; creative: Creative; pageId: string; adsetId: string; fresh: boolean }, progress: PublishProgress): Promise<Outcome<ExternalAd[]>> {
  const variants = variantsOf(a.creative);
  if (!a.creative?.landing_page_url || variants.length === 0) return { ok: true, value: [] };
  const stored = progress.existing.ads ?? [];
  const ads: ExternalAd[] = variants.map((_, i) => stored.find((x) => x.variant === i) ?? { variant: i, creative_id: null, ad_id: null, status: null });
  if (!a.fresh && ads.some((x) => !x.ad_id)) {
    const found = await d.lookup(`${a.adsetId}/ads`, { fields: 'id,name,status' });
    if (!found.ok) return found;
    let adopted = false;
    for (const x of ads) {
      if (x.ad_id) continue;
      const hit = pickFound(found.value, adKey(a.key, x.variant));
      if (hit) {
        x.ad_id = hit.id;
        x.status = hit.active ? 'ACTIVE' : 'PAUSED';
        adopted = true;
      }
    }
    if (adopted) await progress.save({ ads });
  }
  for (const x of ads) {
    if (x.ad_id) continue;
    const label = `${a.name} — variant ${x.variant + 1} [${adKey(a.key, x.variant)}]`;
    if (!x.creative_id) {
      const cr = await d.post(`act_${d.acct}/adcreatives`, adCreativeBody(label, a.pageId, a.creative, variants[x.variant]));
      if (!cr.ok) return cr;
      x.creative_id = String(cr.value?.id ?? '');
      if (!x.creative_id) return { ok: false, error: 'Meta returned no ad creative id', retriable: false };
      await progress.save({ ads });
    }
    const ad = await d.post(`act_${d.acct}/ads`, { name: label, adset_id: a.adsetId, creative: { creative_id: x.creative_id }, status: 'ACTIVE' });
    if (!ad.ok) return ad;
    x.ad_id = String(ad.value?.id ?? '');
    if (!x.ad_id) return { ok: false, error: 'Meta returned no ad id', retriable: false };
    x.status = 'ACTIVE';
    await progress.save({ ads });
  }
  return { ok: true, value: ads };
}

type ActionRow = { action_type?: string; value?: string };
const purchases = (rows: unknown): number => (Array.isArray(rows) ? (rows as ActionRow[]).filter((r) => r.action_type === 'purchase' || r.action_type === 'offsite_conversion.fb_pixel_purchase').reduce((s, r) => s + num(r.value), 0) : 0);

/** Lifetime insights per ad of these campaigns (level=ad, paged like the campaign level). */
export async function fetchAdInsights(d: MetaAdsDeps, ids: string[]): Promise<Outcome<Map<string, AdStats>>> {
  const out = new Map<string, AdStats>();
  const filtering = encodeURIComponent(JSON.stringify([{ field: 'campaign.id', operator: 'IN', value: ids }]));
  let url: string | null = `${d.base}/act_${d.acct}/insights?level=ad&date_preset=maximum&fields=ad_id,campaign_id,impressions,clicks,spend,actions,action_values&limit=500&filtering=${filtering}&${d.q()}`;
  for (let page = 0; url && page < 50; page++) {
    const r: Outcome<any> = await call(url, { method: 'GET' });
    if (!r.ok) return r;
    for (const row of (r.value?.data ?? []) as Record<string, unknown>[]) {
      const cid = String(row.campaign_id);
      const s: Stats = { impressions: num(row.impressions), clicks: num(row.clicks), spend: num(row.spend), conversions: purchases(row.actions), revenue: purchases(row.action_values) };
      out.set(cid, (out.get(cid) ?? new Map()).set(String(row.ad_id), s));
    }
    url = typeof r.value?.paging?.next === 'string' ? r.value.paging.next : null;
  }
  return { ok: true, value: out };
}

/**
 * Each ad's effective_status (ACTIVE, PAUSED, DISAPPROVED, PENDING_REVIEW, CAMPAIGN_PAUSED, …) per campaign, from
 * GET act_{id}/ads filtered by campaign.id (paged). Deleted and archived ads are not listed (Meta's default).
 */
export async function fetchAdStatuses(d: MetaAdsDeps, ids: string[]): Promise<Outcome<Map<string, Map<string, string>>>> {
  const out = new Map<string, Map<string, string>>();
  const filtering = encodeURIComponent(JSON.stringify([{ field: 'campaign.id', operator: 'IN', value: ids }]));
  let url: string | null = `${d.base}/act_${d.acct}/ads?fields=id,campaign_id,effective_status&limit=500&filtering=${filtering}&${d.q()}`;
  for (let page = 0; url && page < 50; page++) {
    const r: Outcome<any> = await call(url, { method: 'GET' });
    if (!r.ok) return r;
    if (!Array.isArray(r.value?.data)) return { ok: false, error: 'Meta answered the ads list without a data list', retriable: false };
    for (const row of r.value.data as Record<string, unknown>[]) {
      const cid = String(row.campaign_id ?? '');
      out.set(cid, (out.get(cid) ?? new Map()).set(String(row.id), String(row.effective_status ?? '')));
    }
    url = typeof r.value?.paging?.next === 'string' ? r.value.paging.next : null;
  }
  return { ok: true, value: out };
}
