// The SDK's pure parts: session rolling, the persisted queue and consent gating (the entity split, page type
// and device are derived by the server: server/ingest/web-fill.ts).
// No DOM types here (the root tsconfig type-checks these through the unit tests), storage and clocks are
// injected.
import { WEB_SCOPES, type ConsentScope } from '../shared/registry.gen.js';
import type { ConsentSnapshot, Envelope } from '../shared/types.js';

/** The subset of the Web Storage API the SDK uses (localStorage, or a memory map before consent). */
export interface KV {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
  /** The stored keys (localStorage has none such method: its own keys are enumerable). */
  keys?(): string[];
}

/** The tracker's rolling session (SessionState); its `seq`/`prev` are what SDK 1.0 numbered. */
export const K_SESSION = 'tx_session';

/**
 * A string cut at a fixed length (UTM values, click ids, the page title) may end with the first half of a
 * surrogate pair: a lone surrogate, which the server rejects (invalid_string). JSON.stringify writes it as an
 * escape that ends the string (`\ud83d"`, after an even run of backslashes), and reading drops it. Every
 * event reaches the wire through the stored queue, so this is the one place that repairs them: events cut
 * now, and what SDK 1.2.0 stored that way (a first touch lasts the visitor's lifetime, a session 30 min).
 */
export function readJson<T>(kv: KV, key: string): T | null {
  try {
    const raw = kv.getItem(key);
    return raw ? (JSON.parse(raw.replace(/([^\\](\\\\)*)\\ud[89ab]..(?=")/g, '$1')) as T) : null;
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
    // (a split surrogate pair is dropped when stored events are read: readJson)
    if (v) (out = out || {})[k] = v.slice(0, 256);
  }
  return out;
}

/** UTM parameters and ad click ids of a query string; empty values are left out. */
export function touchFrom(search: string, referrer: string, path: string, nowIso?: string): Touch {
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
 * The session at `now`: the stored one while its last activity is less than `timeoutMs` ago (a clock that
 * went backwards keeps it too), else a new one from `open` at sequence 0 (`fresh`). Its last activity is
 * left as stored: the caller records activity.
 */
export function roll(stored: SessionState | null, now: number, timeoutMs: number, open: () => Pick<SessionState, 'id' | 'touch'>): { s: SessionState; fresh_: boolean } {
  const alive = stored && typeof stored.id === 'string' && typeof stored.seq === 'number' && now - stored.last < timeoutMs;
  return alive ? { s: stored!, fresh_: false } : { s: { ...open(), start: now, last: now, seq: 0 }, fresh_: true };
}

/**
 * Assigns the session (roll()), sequence number and previous event of a new event at `now`, numbered from
 * the session itself (as SDK 1.0 did; 1.1 numbers from claimIn() and keeps these as a floor). Returns the
 * state to store back.
 */
export function claimSequence(
  stored: SessionState | null,
  now: number,
  timeoutMs: number,
  eventId: string,
  open: () => Pick<SessionState, 'id' | 'touch'>,
): Claim {
  const r = roll(stored, now, timeoutMs, open);
  const s = r.s;
  return {
    state: { ...s, last: Math.max(now, s.last), seq: s.seq + 1, prev: eventId },
    sequence_no: s.seq,
    prev_event_id: r.fresh_ ? undefined : s.prev,
    fresh: r.fresh_,
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
  for (const k of keys.slice(1 - max)) m[k] = map![k];
  m[key] = value;
  return m;
}

/** The highest counter the hints report for session `sid` (a claim made without IndexedDB, e.g. at page leave). */
export function floorOf(hints: (Hint | null)[], sid: string): Hint | null {
  let best: Hint | null = null;
  for (const h of hints) if (h?.s === sid && typeof h.n === 'number' && (!best || h.n > best.n)) best = h;
  return best;
}

/**
 * Claims the next sequence number of a session for `eventId`: from the stored counter, raised to `floor`
 * when a tab claimed past it without IndexedDB. Idempotent per event id. Returns the counter to store.
 */
export function claimIn(stored: Counter | null | undefined, eventId: string, floor?: Hint | null): { c_: Counter; seq_: number; prev_?: string } {
  const c: Counter = stored && typeof stored.n === 'number' && stored.ids ? stored : { n: 0, ids: {} };
  const had = c.ids[eventId];
  if (had) return { c_: c, seq_: had[0], prev_: had[1] };
  const up = floor && floor.n > c.n;
  const n = up ? floor!.n : c.n;
  const prev = up ? floor!.p : c.p;
  return { c_: { n: n + 1, p: eventId, ids: bounded(c.ids, eventId, [n, prev], RECENT) }, seq_: n, prev_: prev };
}

// ---------------------------------------------------------------------------------------------------------
// Queue persisted in storage (one key per tab: only that tab changes it while it lives)
// ---------------------------------------------------------------------------------------------------------

export class StoredQueue<T extends { event_id: string }> {
  constructor(
    private kv_: KV,
    private key_: string,
    public cap_: number,
    private onDrop_: (dropped: T[]) => void = () => {},
  ) {}

  all_(): T[] {
    const q = readJson<T[]>(this.kv_, this.key_);
    return Array.isArray(q) ? q : [];
  }

  private save_(q: T[]): void {
    if (q.length > this.cap_) this.onDrop_(q.splice(0, q.length - this.cap_));
    if (!q.length) {
      try {
        this.kv_.removeItem(this.key_);
      } catch {
        /* storage unavailable */
      }
      return;
    }
    // Storage full: keep the newest half rather than nothing.
    while (!writeJson(this.kv_, this.key_, q) && q.length > 1) this.onDrop_(q.splice(0, q.length >> 1));
  }

  /** Appends; returns the number of events stored. */
  push_(...events: T[]): number {
    const q = this.all_();
    q.push(...events);
    this.save_(q);
    return q.length;
  }

  /** Removes the given event ids (sent and acknowledged, or dropped: a batch's, at most a few hundred). */
  remove_(ids: string[]): void {
    this.retain_((e) => !ids.includes(e.event_id));
  }

  /** Sets fields of a queued event (its sequence number once claimed); false when it is no longer queued. */
  patch_(id: string, fields: Partial<T>): boolean {
    const q = this.all_();
    const e = q.find((x) => x.event_id === id);
    if (e) Object.assign(e, fields), this.save_(q);
    return !!e;
  }

  /** Keeps only the events `keep` accepts (e.g. after consent was withdrawn). */
  retain_(keep: (e: T) => boolean): void {
    const q = this.all_();
    const kept = q.filter(keep);
    if (kept.length !== q.length) this.save_(kept);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Request bodies (fetch and sendBeacon alike)
// ---------------------------------------------------------------------------------------------------------

/**
 * The numbered events of `events` (the others wait for their sequence number), as request bodies of at most
 * `max` events and about `bytes` bytes each (a single larger event gets a body of its own), stamped `sentAt`,
 * with their size (UTF-8 bytes, less the 12 of the wrapper: the browsers' 64 KiB limit on keepalive requests
 * and beacons is in bytes, and non-ASCII text takes two to four per UTF-16 code unit). Lazy: a fetch takes
 * only the first body.
 */
export function* bodies(events: Envelope[], sentAt: string, max: number, bytes: number): Generator<[string, Envelope[], number]> {
  let parts: string[] = [];
  let batch: Envelope[] = [];
  let size = 0;
  for (const e of events) {
    if (e.sequence_no === undefined) continue;
    const s = JSON.stringify({ ...e, sent_at: sentAt });
    const n = new Blob([s]).size;
    // (`parts` joins with commas in the concatenation: one `.join()` less in the core's budget.)
    if (parts.length >= max || (size && size + n > bytes)) yield ['{"events":[' + parts + ']}', batch, size], (parts = []), (batch = []), (size = 0);
    parts.push(s);
    batch.push(e);
    size += n + 1;
  }
  if (size) yield ['{"events":[' + parts + ']}', batch, size];
}

// ---------------------------------------------------------------------------------------------------------
// Consent
// ---------------------------------------------------------------------------------------------------------

type Choice = 'analytics' | 'marketing' | 'data_processing';
export const DENIED: ConsentSnapshot = { analytics: false, marketing: false, data_processing: false };

/**
 * The consent scope of an event: from the server's registry when loaded, else the built-in table of web
 * events; anything else counts as `analytics` (the strict side) until the registry says otherwise.
 */
export function scopeOf(name: string, registry?: Record<string, ConsentScope> | null): ConsentScope {
  return registry?.[name] || WEB_SCOPES[name] || 'analytics';
}

/** Whether an event of `scope` may be collected under `consent` (necessary events always may). */
export function allowed(scope: ConsentScope, consent: ConsentSnapshot): boolean {
  return scope === 'necessary' || (scope === 'marketing' ? consent.marketing === true : consent.analytics === true);
}

/** A new consent snapshot: the old one updated with `change`, stamped with when it was captured. */
export function mergeConsent(prev: ConsentSnapshot, change: Partial<ConsentSnapshot>, nowIso: string): ConsentSnapshot {
  const next: ConsentSnapshot = { ...prev, captured_at: nowIso };
  // DENIED holds exactly the three choices: no second list of them in the bundle.
  for (const k in DENIED) {
    const v = change[k as Choice];
    if (v !== undefined) next[k as Choice] = v === true;
  }
  if (change.copy_hash !== undefined) next.copy_hash = change.copy_hash;
  if (change.captured_at) next.captured_at = change.captured_at;
  return next;
}
