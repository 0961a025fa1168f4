// A/B experiments in the browser (README "Experiments"; part of the helpers chunk). The variant comes from the
// hash the server uses (client/shared/experiment-hash.ts: GrowthBook hash v2, the experiment key as seed, the
// visitor id as hash value), either computed here from a definition or read from GET /api/tx/experiments; the
// exposure is sent once per (experiment, variant, visitor) per session, across the site's tabs.
//
//   const xp = await loadExperiments(tx, { writeKey: 'tx_pk_…', endpoint: 'https://live.example.com' });
//   if (xp.variant('checkout_button') === 'green') …     // fires experiment_exposure the first time
import { assignDefined, type ExperimentDef } from '../shared/experiment-hash.js';
import type { TxTracker } from './tracker.js';

export { bucketRanges, chooseVariation, fnv1a32, gbHash, type ExperimentDef } from '../shared/experiment-hash.js';

/**
 * The variant `id` gets in a definition as written (no exposure): its weights rescaled as the server stores them,
 * so a definition in the page and the same one saved with the API assign every visitor alike. null when not in
 * the experiment, or for something that is no definition.
 */
export const assignVariant: (def: ExperimentDef, id: string) => string | null = assignDefined;

// One localStorage key per (experiment, variant) sent in the session, holding the session's id: the site's tabs
// share the session (client/README "Tabs"), so they share the list. Each key is only ever set to the current
// session's id, never read-modified-written (Chromium copies localStorage between tabs asynchronously: two tabs
// adding to one shared list could drop each other's entries). The prefix is one of the core's personal keys
// (consent-store.ts, `tx_session…`): withdrawing consent removes them with the session.
const K_SEEN = 'tx_session_xp.';

type Track = (name: string, props: Record<string, unknown>) => string | null;

function localStore(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** Removes the dedupe keys of sessions other than `keep` (all of them without one). */
function prune(ls: Storage | null, keep?: string): void {
  try {
    if (ls) for (const k of Object.keys(ls)) if (k.startsWith(K_SEEN) && ls.getItem(k) !== keep) ls.removeItem(k);
  } catch {
    /* storage blocked */
  }
}

/**
 * experiment_exposure for this visitor, once per (experiment, variant, visitor) per tracker session, across the
 * site's tabs: the keys of the pairs sent (`tx_session_xp.<experiment>|<variant>` in localStorage) hold the
 * session's id; a new session starts over and prunes the old session's keys. Returns whether it was sent now;
 * nothing without analytics or marketing consent (there is no visitor id then). Limit: two tabs exposing the same
 * pair within the same few milliseconds may both send it.
 */
export function exposure(tx: TxTracker, experiment: string, variant: string, name?: string): boolean {
  const ids = tx.getIds();
  const ls = localStore();
  if (!ids) {
    // Consent withdrawn: the keys name the old session, drop them like the core drops its identifiers.
    prune(ls);
    return false;
  }
  // The session belongs to one visitor (reset() starts a new visitor and session), so the keys need no visitor id.
  const s = ids.session_id;
  const k = K_SEEN + experiment + '|' + variant;
  let mem = memSeen.get(tx);
  if (!mem || mem.s !== s) memSeen.set(tx, (mem = { s, seen: new Set() })), prune(ls, s);
  let sent = mem.seen.has(k);
  try {
    sent = sent || (!!ls && ls.getItem(k) === s);
  } catch {
    /* unreadable: this page's memory decides */
  }
  if (sent || !(tx.track.bind(tx) as unknown as Track)('experiment_exposure', { experiment_id: experiment, variant, experiment_name: name })) return false;
  mem.seen.add(k);
  try {
    if (ls) ls.setItem(k, s);
  } catch {
    /* storage full or blocked: the in-memory set still dedupes this page */
  }
  return true;
}
// Storage may be unavailable (private mode): this page still sends each exposure once per session.
const memSeen = new WeakMap<TxTracker, { s: string; seen: Set<string> }>();

export interface Experiments {
  /** Every assignment (experiment key → variant key), without exposures. */
  readonly assignments: Record<string, string>;
  /** The visitor's variant of `key` (null when not in it); the first call per session sends the exposure. */
  variant(key: string): string | null;
}

function wrap(tx: TxTracker, assignments: Record<string, string>): Experiments {
  return {
    assignments,
    variant(key) {
      // Own keys only: `constructor` or `toString` are valid experiment keys, and an inherited member is no variant.
      const v = Object.prototype.hasOwnProperty.call(assignments, key) ? assignments[key] : undefined;
      if (typeof v !== 'string') return null;
      exposure(tx, key, v);
      return v;
    },
  };
}

/**
 * Assignments computed here from definitions embedded in the page (no request), as the server assigns the same
 * definitions (assignVariant). null or undefined is no definitions; what is no definition (no key or no list of
 * variants) is skipped, with one console warning per call.
 */
export function localExperiments(tx: TxTracker, defs: ExperimentDef[] | null | undefined): Experiments {
  const ids = tx.getIds();
  // No prototype: a definition keyed `__proto__` is an assignment like any other, not a prototype change.
  const out: Record<string, string> = Object.create(null);
  const ok = (d: ExperimentDef | null) => !!d && typeof d.key === 'string' && Array.isArray(d.variants);
  const bad = defs == null ? [] : Array.isArray(defs) ? defs.filter((d) => !ok(d)) : [defs];
  if (bad.length) console.warn('[tx] localExperiments: skipped what is no {key, variants} definition', bad);
  if (ids && Array.isArray(defs)) {
    for (const d of defs) {
      const v = ok(d) ? assignDefined(d, ids.visitor_id) : null;
      if (v !== null) out[d.key] = v;
    }
  }
  return wrap(tx, out);
}

/** The running experiments' assignments from GET /api/tx/experiments; none without consent or on failure. */
export async function loadExperiments(tx: TxTracker, o: { writeKey: string; endpoint?: string } | null): Promise<Experiments> {
  const ids = tx.getIds();
  // (null options: no key, so the server answers 401 and there are no assignments; never a rejected promise)
  o = o || ({} as { writeKey: string });
  if (!ids) return wrap(tx, {});
  const url = (o.endpoint || '').replace(/\/+$/, '') + '/api/tx/experiments?visitor_id=' + encodeURIComponent(ids.visitor_id) + '&key=' + encodeURIComponent(o.writeKey);
  try {
    const r = await fetch(url);
    const j = r.ok ? ((await r.json()) as { assignments?: Record<string, string> }) : null;
    return wrap(tx, (j && j.assignments) || {});
  } catch {
    return wrap(tx, {});
  }
}
