// A/B experiments in the browser (README "Experiments"; part of the helpers chunk). The variant comes from the
// hash the server uses (client/shared/experiment-hash.ts: GrowthBook hash v2, the experiment key as seed, the
// visitor id as hash value), either computed here from a definition or read from GET /api/tx/experiments; the
// exposure is sent once per (experiment, variant, visitor) per session.
//
//   const xp = await loadExperiments(tx, { writeKey: 'tx_pk_…', endpoint: 'https://live.example.com' });
//   if (xp.variant('checkout_button') === 'green') …     // fires experiment_exposure the first time
import { assignVariant, type ExperimentDef } from '../shared/experiment-hash.js';
import type { TxTracker } from './tracker.js';

export { assignVariant, bucketRanges, chooseVariation, fnv1a32, gbHash, type ExperimentDef } from '../shared/experiment-hash.js';

const K_SEEN = 'tx_xp';

type Track = (name: string, props: Record<string, unknown>) => string | null;

function sessionStore(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/**
 * experiment_exposure for this visitor, once per (experiment, variant, visitor) per tracker session: the
 * dedupe list lives in sessionStorage under the session's id and starts over with a new session. Returns
 * whether it was sent now; nothing without analytics or marketing consent (there is no visitor id then).
 */
export function exposure(tx: TxTracker, experiment: string, variant: string, name?: string): boolean {
  const ids = tx.getIds();
  const ss = sessionStore();
  if (!ids) {
    // Consent withdrawn: the list names the old session, drop it like the core drops its identifiers.
    try {
      if (ss) ss.removeItem(K_SEEN);
    } catch {
      /* storage blocked */
    }
    return false;
  }
  // The session belongs to one visitor (reset() starts a new visitor and session), so the list keys need no visitor id.
  const k = experiment + '|' + variant;
  let state: { s: string; seen: string[] } = { s: ids.session_id, seen: [] };
  try {
    const raw = ss && ss.getItem(K_SEEN);
    const old = raw ? (JSON.parse(raw) as typeof state) : null;
    if (old && old.s === ids.session_id) state = old;
  } catch {
    /* unreadable: start over */
  }
  const mem = memSeen.get(tx) || new Set<string>();
  memSeen.set(tx, mem);
  const key = ids.session_id + '|' + k;
  if (state.seen.includes(k) || mem.has(key)) return false;
  const sent = (tx.track.bind(tx) as unknown as Track)('experiment_exposure', { experiment_id: experiment, variant, experiment_name: name });
  if (!sent) return false;
  mem.add(key);
  state.seen.push(k);
  try {
    if (ss) ss.setItem(K_SEEN, JSON.stringify(state));
  } catch {
    /* storage full or blocked: the in-memory set still dedupes this page */
  }
  return true;
}
// Storage may be unavailable (private mode): this page still sends each exposure once.
const memSeen = new WeakMap<TxTracker, Set<string>>();

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
      const v = assignments[key];
      if (v === undefined) return null;
      exposure(tx, key, v);
      return v;
    },
  };
}

/** Assignments computed here from definitions embedded in the page (no request). */
export function localExperiments(tx: TxTracker, defs: ExperimentDef[]): Experiments {
  const ids = tx.getIds();
  const out: Record<string, string> = {};
  if (ids) {
    for (const d of defs) {
      const v = assignVariant(d, ids.visitor_id);
      if (v !== null) out[d.key] = v;
    }
  }
  return wrap(tx, out);
}

/** The running experiments' assignments from GET /api/tx/experiments; none without consent or on failure. */
export async function loadExperiments(tx: TxTracker, o: { writeKey: string; endpoint?: string }): Promise<Experiments> {
  const ids = tx.getIds();
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
