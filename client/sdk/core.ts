// The SDK's pure parts: session rolling, the persisted queue, consent gating and page/device detection.
// No DOM types here (the root tsconfig type-checks these through the unit tests), storage and clocks are
// injected.
import { WEB_SCOPES, type ConsentScope } from '../shared/registry.gen.js';
import type { ConsentSnapshot } from '../shared/types.js';

/** The subset of the Web Storage API the SDK uses (localStorage, or a memory map before consent). */
export interface KV {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
  /** The stored keys (localStorage has none such method: its own keys are enumerable). */
  keys?(): string[];
}

export function readJson<T>(kv: KV, key: string): T | null {
  try {
    const raw = kv.getItem(key);
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}

/** Best effort: storage may be full, disabled (Safari private mode) or throw on access. */
export function writeJson(kv: KV, key: string, value: unknown): boolean {
  try {
    kv.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Attribution
// ---------------------------------------------------------------------------------------------------------

export interface Touch {
  utm?: Record<string, string>;
  click_ids?: Record<string, string>;
  referrer?: string;
  landing_page?: string;
  captured_at?: string;
}

const UTM = ['source', 'medium', 'campaign', 'content', 'term'];
const CLICK_IDS = ['gclid', 'fbclid', 'ttclid'];

function pick(params: URLSearchParams, keys: string[], prefix: string): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const k of keys) {
    const v = params.get(prefix + k);
    if (v) (out = out || {})[k] = v.slice(0, 256);
  }
  return out;
}

/** UTM parameters and ad click ids of a query string; empty values are left out. */
export function touchFrom(search: string, referrer: string, path: string, nowIso: string): Touch {
  const p = new URLSearchParams(search);
  const t: Touch = { utm: pick(p, UTM, 'utm_'), click_ids: pick(p, CLICK_IDS, ''), landing_page: path, captured_at: nowIso };
  if (referrer) t.referrer = referrer.slice(0, 2048);
  return t;
}

// ---------------------------------------------------------------------------------------------------------
// Session (rolling, 30 min of inactivity)
// ---------------------------------------------------------------------------------------------------------

export interface SessionState {
  /** session id */
  id: string;
  /** start (epoch ms) */
  start: number;
  /** last activity (epoch ms) */
  last: number;
  /** next sequence_no */
  seq: number;
  /** id of the last event of the session */
  prev?: string;
  /** how the session started: its landing page's UTMs, click ids and referrer */
  touch?: Touch;
}

export interface Claim {
  state: SessionState;
  sequence_no: number;
  prev_event_id?: string;
  /** true when this event opened a new session */
  fresh: boolean;
}

/**
 * Assigns the session, sequence number and previous event of a new event at `now`. The stored session
 * continues when its last activity is less than `timeoutMs` ago (a clock that went backwards keeps it too);
 * otherwise a new one starts at sequence 0. Returns the state to store back.
 */
export function claimSequence(
  stored: SessionState | null,
  now: number,
  timeoutMs: number,
  eventId: string,
  open: () => Pick<SessionState, 'id' | 'touch'>,
): Claim {
  const alive = stored && typeof stored.id === 'string' && typeof stored.seq === 'number' && now - stored.last < timeoutMs;
  const s: SessionState = alive ? stored! : { ...open(), start: now, last: now, seq: 0 };
  return {
    state: { ...s, last: Math.max(now, s.last), seq: s.seq + 1, prev: eventId },
    sequence_no: s.seq,
    prev_event_id: alive ? s.prev : undefined,
    fresh: !alive,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Sequence numbers shared by the tabs of a site
// ---------------------------------------------------------------------------------------------------------

/**
 * A session's sequence counter, kept in IndexedDB (whose read-write transactions are serialized across
 * tabs; localStorage is not: Chromium syncs it between tab processes asynchronously, even under a Web
 * Lock). `n`: next sequence number; `p`: id of the event that took the last one; `ids`: the recent claims
 * by event id, so that claiming an event again (its tab died before it recorded the answer) returns the
 * same number instead of burning a new one (a gap).
 */
export interface Counter {
  n: number;
  p?: string;
  ids: Record<string, [number, string?]>;
}

/** What a tab last knew of a session's counter (kept in its own localStorage key, `tx_n.<tab>`). */
export interface Hint {
  s: string;
  n: number;
  p?: string;
}

/** Claims remembered per session: more than a tab can have pending when it dies. */
const RECENT = 50;

/**
 * `map` with `key` set to `value` as its newest entry, keeping the `max` newest (records in IndexedDB that
 * would otherwise grow with every session and every tab a visitor ever had).
 */
export function bounded<V>(map: Record<string, V> | null | undefined, key: string, value: V, max: number): Record<string, V> {
  const m: Record<string, V> = {};
  const keys = Object.keys(map || {}).filter((k) => k !== key);
  for (const k of keys.slice(Math.max(0, keys.length - max + 1))) m[k] = map![k];
  m[key] = value;
  return m;
}

/** The highest counter the hints report for session `sid` (a claim made without IndexedDB, e.g. at page leave). */
export function floorOf(hints: (Hint | null)[], sid: string): Hint | null {
  let best: Hint | null = null;
  for (const h of hints) if (h && h.s === sid && typeof h.n === 'number' && (!best || h.n > best.n)) best = h;
  return best;
}

/**
 * Claims the next sequence number of a session for `eventId`: from the stored counter, raised to `floor`
 * when a tab claimed past it without IndexedDB. Idempotent per event id. Returns the counter to store.
 */
export function claimIn(stored: Counter | null | undefined, eventId: string, floor?: Hint | null): { counter: Counter; seq: number; prev?: string } {
  const c: Counter = stored && typeof stored.n === 'number' && stored.ids ? stored : { n: 0, ids: {} };
  const had = c.ids[eventId];
  if (had) return { counter: c, seq: had[0], prev: had[1] };
  const n = floor && floor.n > c.n ? floor.n : c.n;
  const prev = floor && floor.n > c.n ? floor.p : c.p;
  const keys = Object.keys(c.ids);
  const ids: Counter['ids'] = {};
  for (const k of keys.slice(Math.max(0, keys.length - RECENT + 1))) ids[k] = c.ids[k];
  ids[eventId] = prev === undefined ? [n] : [n, prev];
  return { counter: { n: n + 1, p: eventId, ids }, seq: n, prev };
}

// ---------------------------------------------------------------------------------------------------------
// Queue persisted in storage (one key per tab: only that tab changes it while it lives)
// ---------------------------------------------------------------------------------------------------------

export class StoredQueue<T extends { event_id: string }> {
  constructor(
    private kv: KV,
    private key: string,
    public cap: number,
    private onDrop: (dropped: T[]) => void = () => {},
  ) {}

  all(): T[] {
    const q = readJson<T[]>(this.kv, this.key);
    return Array.isArray(q) ? q : [];
  }

  private save(q: T[]): void {
    if (q.length > this.cap) this.onDrop(q.splice(0, q.length - this.cap));
    if (!q.length) {
      try {
        this.kv.removeItem(this.key);
      } catch {
        /* storage unavailable */
      }
      return;
    }
    // Storage full: keep the newest half rather than nothing.
    while (!writeJson(this.kv, this.key, q) && q.length > 1) this.onDrop(q.splice(0, q.length >> 1));
  }

  /** Appends; returns the number of events stored. */
  push(...events: T[]): number {
    const q = this.all();
    q.push(...events);
    this.save(q);
    return q.length;
  }

  /** Removes the given event ids (sent and acknowledged, or dropped). */
  remove(ids: Iterable<string>): void {
    const gone = new Set(ids);
    const q = this.all();
    const kept = q.filter((e) => !gone.has(e.event_id));
    if (kept.length !== q.length) this.save(kept);
  }

  /** Sets fields of a queued event (its sequence number once claimed); false when it is no longer queued. */
  patch(id: string, fields: Partial<T>): boolean {
    const q = this.all();
    const e = q.find((x) => x.event_id === id);
    if (e) Object.assign(e, fields), this.save(q);
    return !!e;
  }

  /** Keeps only the events `keep` accepts (e.g. after consent was withdrawn). */
  retain(keep: (e: T) => boolean): void {
    const q = this.all();
    const kept = q.filter(keep);
    if (kept.length !== q.length) this.save(kept);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Consent
// ---------------------------------------------------------------------------------------------------------

export const DENIED: ConsentSnapshot = { analytics: false, marketing: false, data_processing: false };

/**
 * The consent scope of an event: from the server's registry when loaded, else the built-in table of web
 * events; anything else counts as `analytics` (the strict side) until the registry says otherwise.
 */
export function scopeOf(name: string, registry?: Record<string, ConsentScope> | null): ConsentScope {
  return (registry && registry[name]) || WEB_SCOPES[name] || 'analytics';
}

/** Whether an event of `scope` may be collected under `consent` (necessary events always may). */
export function allowed(scope: ConsentScope, consent: ConsentSnapshot): boolean {
  return scope === 'necessary' || (scope === 'marketing' ? consent.marketing === true : consent.analytics === true);
}

/** A new consent snapshot: the old one updated with `change`, stamped with when it was captured. */
export function mergeConsent(prev: ConsentSnapshot, change: Partial<ConsentSnapshot>, nowIso: string): ConsentSnapshot {
  const next: ConsentSnapshot = { ...prev, captured_at: nowIso };
  for (const k of ['analytics', 'marketing', 'data_processing'] as const) if (change[k] !== undefined) next[k] = change[k] === true;
  if (change.copy_hash !== undefined) next.copy_hash = change.copy_hash;
  if (change.captured_at) next.captured_at = change.captured_at;
  return next;
}

// ---------------------------------------------------------------------------------------------------------
// Page type and device (kept per session: README "Sessions, identity and GDPR" → "Sessions")
// ---------------------------------------------------------------------------------------------------------

export function pageType(path: string): string {
  const p = path.toLowerCase();
  if (p === '/' || p === '/home' || p === '/index.html') return 'home';
  if (/\/events\/?$/.test(p)) return 'listing';
  if (p.includes('/checkout')) return 'checkout';
  if (/\/(cart|basket)(\/|$)/.test(p)) return 'cart';
  if (/\/events?\/[\w-]+/.test(p)) return 'event';
  if (p.includes('/artist')) return 'artist';
  if (p.includes('/venue')) return 'venue';
  if (p.includes('/search')) return 'search';
  if (p.includes('/shop') || p.includes('/product')) return 'shop';
  if (p.includes('/account')) return 'account';
  return 'other';
}

export interface Device {
  device_type: 'mobile' | 'tablet' | 'desktop';
  os: string;
  browser: string;
}

export function device(ua: string): Device {
  const t = (re: RegExp) => re.test(ua);
  return {
    device_type: t(/ipad|tablet|playbook|silk|android(?!.*mobile)/i) ? 'tablet' : t(/mobi|iphone|ipod|android/i) ? 'mobile' : 'desktop',
    os: t(/windows/i)
      ? 'Windows'
      : t(/iphone|ipad|ipod/i)
        ? 'iOS'
        : t(/android/i)
          ? 'Android'
          : t(/cros/i)
            ? 'ChromeOS'
            : t(/mac os x|macintosh/i)
              ? 'macOS'
              : t(/linux/i)
                ? 'Linux'
                : 'other',
    browser: t(/edg(e|a|ios)?\//i)
      ? 'Edge'
      : t(/opr\/|opera/i)
        ? 'Opera'
        : t(/samsungbrowser/i)
          ? 'Samsung Internet'
          : t(/firefox|fxios/i)
            ? 'Firefox'
            : t(/chrome|crios|chromium/i)
              ? 'Chrome'
              : t(/safari/i)
                ? 'Safari'
                : 'other',
  };
}
