// The funnel engine's input: the funnels API's checked spec plus the options only experiment results set. Pure.
import type { FunnelSpec } from './spec.js';

/**
 * A funnel as the engine runs it: the API's spec, plus what only experiment results set (README "Experiments";
 * the funnels API never does, so its funnels are unchanged). `firstStartOnly`: only an actor's first step-0 row
 * (in the range, passing the step's filters) starts the journey, so the window runs from the first exposure, not
 * from a later one. `startToMs`: step-0 rows only before this time (exposures up to the experiment's end), the
 * later steps up to `toMs` (its end plus the metric window).
 */
export interface EngineSpec extends FunnelSpec {
  firstStartOnly?: boolean;
  startToMs?: number;
}

/** `startToMs` when it cuts step 0 short of `toMs`, else null. Pure. */
export const startCutoff = (spec: EngineSpec): number | null => (spec.startToMs !== undefined && spec.startToMs < spec.toMs ? spec.startToMs : null);
