// The DOM-free part of the approval queue page (approvals.ts): reading GET /api/v1/campaigns/review-queue into
// rows, summarising a campaign's targeting in words, turning each approve / reject answer into a per-campaign
// result, and the messages for a principal that may not approve. Kept apart so unit tests (type-checked with the
// server, without the DOM library) can import it. Answers that are not what we expect give null or are skipped.
import { organizerLabel } from './campaigns-data.js';

export interface QueueBudget {
  id: number;
  status: string;
  currency: string;
  total: number;
  spent: number;
  remaining: number;
  dailyLimit: number | null;
  /** What the budget may spend today. */
  dayTarget: number;
  strategy: string;
  running: number;
  runningDaily: number;
  pending: number;
}

export interface QueueItem {
  id: number;
  name: string;
  /** "Name (id)" with the catalog's name, else the id. */
  organizer: string;
  /** The event's title from the catalog, else its id, else null (a budget for the whole organizer). */
  event: string | null;
  platform: string;
  type: string;
  targeting: string;
  headline: string;
  /** The daily budget approving it now would give it. */
  proposed: number;
  budget: QueueBudget;
}

export interface Queue {
  items: QueueItem[];
  /** More campaigns wait after these. */
  more: boolean;
}

export type OutcomeState = 'published' | 'retrying' | 'failed' | 'rejected' | 'refused';

export interface Outcome {
  id: number;
  verb: 'approve' | 'reject';
  state: OutcomeState;
  text: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const numOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown, def = ''): string => (typeof v === 'string' ? v : def);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export const PLATFORM_LABEL: Record<string, string> = { meta: 'Meta', google_ads: 'Google Ads', tiktok: 'TikTok' };
export const platformLabel = (p: string): string => PLATFORM_LABEL[p] ?? p;
const words = (s: string): string => s.replace(/_/g, ' ');

/** A secret key (tx_sk_…) rather than a dashboard token: it opens this page only. Pure. */
export const isSecretKey = (v: string): boolean => /^tx_sk_[A-Za-z0-9_-]{8,}$/.test(v.trim());

/** "Ages 18–65 · Cluj +50 km · Interests: rock, indie · Audiences: event viewers · Excludes: ticket buyers". Pure. */
export function targetingSummary(t: unknown): string {
  if (!isObj(t)) return 'No targeting';
  const parts: string[] = [];
  if (typeof t.age_min === 'number' && typeof t.age_max === 'number') parts.push(`Ages ${t.age_min}–${t.age_max}`);
  const places = list(t.locations).filter(isObj).map((l) => {
    const where = str(l.city) || str(l.country);
    return where && typeof l.radius_km === 'number' ? `${where} +${l.radius_km} km` : where;
  }).filter(Boolean);
  if (places.length) parts.push(places.join(', '));
  const interests = list(t.interests).filter((i): i is string => typeof i === 'string');
  if (interests.length) parts.push(`Interests: ${interests.join(', ')}`);
  const audiences = (field: string) => list(t[field]).filter(isObj).map((a) => {
    const ratio = typeof a.ratio === 'number' ? ` ${Math.round(a.ratio * 100)} %` : '';
    return `${words(str(a.type, 'audience'))}${ratio}${a.audience_id !== null && a.audience_id !== undefined ? ' (synced)' : ''}`;
  });
  const included = [...audiences('custom_audiences'), ...audiences('lookalike_audiences')];
  if (included.length) parts.push(`Audiences: ${included.join(', ')}`);
  const excluded = audiences('excluded_audiences');
  if (excluded.length) parts.push(`Excludes: ${excluded.join(', ')}`);
  return parts.length ? parts.join(' · ') : 'No targeting';
}

function readBudget(b: unknown): QueueBudget | null {
  if (!isObj(b) || typeof b.id !== 'number') return null;
  return {
    id: b.id, status: str(b.status), currency: str(b.currency, 'EUR'), total: num(b.total_budget), spent: num(b.spent_budget), remaining: num(b.remaining),
    dailyLimit: numOrNull(b.daily_budget_limit), dayTarget: num(b.day_target), strategy: str(b.allocation_strategy),
    running: num(b.running), runningDaily: num(b.running_daily), pending: num(b.pending_review),
  };
}

/** The review queue's answer as rows, or null when it is not one. Pure. */
export function readQueue(body: unknown): Queue | null {
  if (!isObj(body) || !Array.isArray(body.campaigns)) return null;
  const items: QueueItem[] = [];
  for (const c of body.campaigns) {
    if (!isObj(c) || typeof c.id !== 'number') continue;
    const budget = readBudget(c.budget);
    if (!budget) continue;
    const creative = isObj(c.creative) ? c.creative : {};
    items.push({
      id: c.id, name: str(c.name), organizer: organizerLabel(str(c.organizer_name), str(c.organizer_id)), event: str(c.event_title) || str(c.event_id) || null,
      platform: str(c.platform), type: str(c.campaign_type), targeting: targetingSummary(c.targeting), headline: str(creative.headline),
      proposed: num(c.proposed_daily_budget), budget,
    });
  }
  return { items, more: typeof body.next_cursor === 'string' };
}

const errorMessage = (body: unknown): string | null => (isObj(body) && isObj(body.error) && typeof body.error.message === 'string' ? body.error.message : null);

/** One approve / reject answer as the result shown for that campaign. Pure. */
export function outcomeOf(verb: 'approve' | 'reject', id: number, status: number, body: unknown): Outcome {
  const c = isObj(body) && isObj(body.campaign) ? body.campaign : null;
  if (status === 200 && c) {
    if (verb === 'reject') {
      const note = str(c.status_reason);
      return { id, verb, state: 'rejected', text: `Rejected: back to draft for the organizer${note ? ` (note: ${note})` : ''}.` };
    }
    if (c.status === 'active') {
      const ext = str(c.external_campaign_id);
      return { id, verb, state: 'published', text: `Published on ${platformLabel(str(c.platform))}${ext ? ` (campaign ${ext})` : ''}, daily budget ${num(c.daily_budget).toFixed(2)}.` };
    }
    if (c.status === 'failed') return { id, verb, state: 'failed', text: `Failed: ${platformLabel(str(c.platform))} refused it: ${str(c.last_error, 'no reason given')}.` };
    // A temporary failure (429, 5xx, a lost connection): approved, and finished by the resume job within minutes.
    if (c.status === 'publishing') {
      const why = str(c.last_error);
      return { id, verb, state: 'retrying', text: `Approved, being published on ${platformLabel(str(c.platform))}${why ? ` (it answered: ${why})` : ''}; retried every minute until it runs.` };
    }
    return { id, verb, state: 'refused', text: `Now ${words(str(c.status, 'unknown'))}.` };
  }
  const said = errorMessage(body);
  if (status === 409) return { id, verb, state: 'refused', text: `Not pending review any more: ${said ?? 'someone else decided on it first.'}` };
  if (status === 0) return { id, verb, state: 'refused', text: 'The server could not be reached; nothing was decided. Try again.' };
  return { id, verb, state: 'refused', text: said ?? `The server answered ${status}.` };
}

/**
 * Why this principal sees no actions, in words: a dashboard token never approves; a key is judged by the server
 * (401: not a valid key; 403: its role lacks approve_campaigns). Pure.
 */
export function accessMessage(kind: 'token' | 'key', status = 0, body: unknown = null): string {
  const said = errorMessage(body);
  const what = kind === 'token' ? 'token' : 'key';
  if (status === 403) {
    return kind === 'token'
      ? `This token may not approve campaigns${said ? ` (${said})` : ''}. The approval queue is for the marketplace's reviewers: sign in with an admin token (POST /api/v1/tokens {"role":"admin"} with an admin key) or a secret key allowed to approve campaigns (permission approve_campaigns). An organizer sees its own campaigns under Campaigns.`
      : `This key may not approve campaigns${said ? ` (${said})` : ''}. Ask the tenant's admin for a key allowed to (permission approve_campaigns), or an admin token.`;
  }
  if (status === 401) return `The server does not accept this ${what}${said ? ` (${said})` : ''}. Sign out and paste a current ${kind === 'token' ? 'token' : 'secret key'}.`;
  return said ?? `The approval queue could not be loaded (${status || 'no answer'}).`;
}
