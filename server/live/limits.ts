// What one node tracks live (LIVE_MAX_EVENTS, LIVE_MAX_GATE_LANES): the bounds that keep ids made up through the
// public write key from growing a node's memory, the per-tenant count of tracked events, and the refusal log.
// Pure but for the log it is handed.
import type { Fact } from './facts.js';

/**
 * What one node tracks live, so that ids anyone holding the public write key can make up cannot grow its memory
 * (README "Live layer", Limits). Beyond them a fact's rows are stored as ever; only the live numbers leave it out.
 */
export interface LiveLimits {
  /** Event entities tracked per tenant per UTC day (LIVE_MAX_EVENTS); events with a catalog or secret-key owner are always tracked. */
  maxEvents: number;
  /** Capacity lanes (gate, or gate and scanner session) per event (LIVE_MAX_GATE_LANES); a catalog gate's, up to twice as many. */
  maxLanes: number;
}

export const DEFAULT_LIVE_LIMITS: LiveLimits = { maxEvents: 20_000, maxLanes: 1_000 };

export interface LiveStateOptions {
  limits?: LiveLimits;
  /** Whether the catalog names this gate of the event (its lanes are taken in past maxLanes, up to twice it). */
  knownGate?: (tenant: number, event: string, gate: string) => boolean;
  /** A fact left out of the live numbers by a limit (index.ts logs these at most once a minute: refusalLog). */
  onRefused?: (what: 'event' | 'lane', tenant: number, event: string) => void;
}

/** The day's events, counted per tenant whoever adds or removes them (erase.ts swapTenant writes to it too). */
export class EventMap<E extends { tenant: number }> extends Map<string, E> {
  private readonly perTenant = new Map<number, number>();

  countOf(tenant: number): number {
    return this.perTenant.get(tenant) ?? 0;
  }

  override set(k: string, e: E): this {
    // Map's constructor calls set before the fields exist (never with entries here).
    if (this.perTenant && !this.has(k)) this.perTenant.set(e.tenant, this.countOf(e.tenant) + 1);
    return super.set(k, e);
  }

  override delete(k: string): boolean {
    const e = this.get(k);
    if (e) {
      const n = this.countOf(e.tenant) - 1;
      if (n > 0) this.perTenant.set(e.tenant, n);
      else this.perTenant.delete(e.tenant);
    }
    return super.delete(k);
  }

  override clear(): void {
    this.perTenant.clear();
    super.clear();
  }
}

/**
 * Whether a fact's event, not yet tracked, is taken in: while its tenant tracks fewer than `maxEvents` events
 * today, and always when the catalog or a secret-key source owns it (the tenant's own, which no write key can
 * make up). First come, first tracked: a recompute, applying the day's rows in occurred_at order, takes in the
 * same events as the live state did unless more than `maxEvents` were seen. Pure.
 */
export const admitsEvent = (tracked: number, f: Pick<Fact, 'os'>, limits: LiveLimits): boolean =>
  tracked < limits.maxEvents || f.os === 'catalog' || f.os === 'secret';

/** How often refusalLog writes (with how many facts were left out meanwhile). */
export const REFUSAL_LOG_MS = 60_000;

/** A log line's gate: true at most once per `ms` (the limits' warnings, here and in catalog.ts, count in between). */
export function onceEvery(ms: number, now: () => number): () => boolean {
  let at = -Infinity;
  return () => {
    if (now() - at < ms) return false;
    at = now();
    return true;
  };
}

/** LiveStateOptions.onRefused that warns at most once per REFUSAL_LOG_MS, with the counts left out since. */
export function refusalLog(log: { warn(o: object, msg: string): void }, limits: LiveLimits, now: () => number): NonNullable<LiveStateOptions['onRefused']> {
  const counts = { event: 0, lane: 0 };
  const due = onceEvery(REFUSAL_LOG_MS, now);
  return (what, tenant, event) => {
    counts[what]++;
    if (!due()) return;
    log.warn(
      { tenant, event, events_left_out: counts.event, lane_facts_left_out: counts.lane, max_events: limits.maxEvents, max_gate_lanes: limits.maxLanes },
      'live: limit reached (LIVE_MAX_EVENTS per tenant per day, LIVE_MAX_GATE_LANES per event); facts of new ids are stored but not counted live',
    );
    counts.event = 0;
    counts.lane = 0;
  };
}
