// The live layer's clock: every few ms the hub flushes the topics that changed (at most one update per topic
// per LIVE_COALESCE_MS, hub.ts), every REFRESH_MS every watched topic is rebuilt (time alone changes some
// numbers: active checkouts expire, the rate window slides), and a new UTC day resets the counters.
// With Redis, the visitor counts of the topics about to go out are read first (bounded by the prefetch).
import type { Logger } from 'pino';
import type { Hub, TopicEntry } from './hub.js';

export const REFRESH_MS = 5000;

export interface TickDeps {
  hub: Pick<Hub, 'markAll' | 'pending' | 'flush'>;
  /** Injected clock (epoch ms). */
  now: () => number;
  /** The topics the REFRESH_MS refresh rebuilds (all watched ones when absent). */
  changesWithTime?: (e: TopicEntry) => boolean;
  /** Starts a new UTC day when `at` is past the state's day. */
  rollover(at: number): void;
  /** With Redis: loads the visitor counts these topics need (never throws, waits a bounded time); null without. */
  prefetch: ((entries: TopicEntry[]) => Promise<void>) | null;
  log: Logger;
  coalesceMs: number;
}

export interface Ticker {
  /** One turn; a turn still waiting for Redis makes the next one a no-op instead of stacking up. */
  tick(): Promise<void>;
  stop(): void;
}

/** How often the loop turns: a fifth of the coalescing interval, between 5 and 25 ms. */
export const tickIntervalMs = (coalesceMs: number): number => Math.max(5, Math.min(25, Math.floor(coalesceMs / 5)));

/** The tick loop without a timer (tests drive tick() with their own clock). */
export function createTick(deps: TickDeps): Ticker['tick'] {
  const { hub, now, log } = deps;
  let ticking = false;
  let lastRefresh = now();
  return async () => {
    if (ticking) return;
    ticking = true;
    try {
      const t = now();
      deps.rollover(t);
      if (t - lastRefresh >= REFRESH_MS) {
        lastRefresh = t;
        hub.markAll(deps.changesWithTime);
      }
      if (deps.prefetch) {
        const pending = hub.pending(t);
        if (pending.length > 0) {
          await deps.prefetch(pending);
          hub.flush(now(), pending);
        }
      } else {
        hub.flush(t);
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'live: flush failed');
    } finally {
      ticking = false;
    }
  };
}

/** Starts the loop (unref'd: it never keeps the process alive). */
export function startTicker(deps: TickDeps): Ticker {
  const tick = createTick(deps);
  const timer = setInterval(() => void tick(), tickIntervalMs(deps.coalesceMs));
  timer.unref();
  return { tick, stop: () => clearInterval(timer) };
}
