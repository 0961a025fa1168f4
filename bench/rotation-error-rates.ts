// Monte Carlo of the creative rotation's error rates (README "Campaigns" → "Creative rotation"; bench/RESULTS.md
// "Creative rotation error rates"): variants with given true purchase rates, the hourly optimiser calling
// rotationDecision on cumulative figures for 14 days, every decision's window kept as lastRotationAt (as the log
// does). Prints, per scenario, how often a loser was paused:
// with identical variants that is the false-positive rate; with one variant 1.5x better, the power (its rivals
// paused, it kept) and the wrong pauses (the better one paused).
// Run: npx tsx bench/rotation-error-rates.ts [runs] [alphaPerLook]
import { ROTATION, rotationDecision } from '../server/campaigns/rotation.js';
import { binomial, prng, hash32 } from '../server/campaigns/rng.js';
const HOUR = 3_600_000;
const N = Number(process.argv[2] ?? 4000);
if (process.argv[3]) (ROTATION as any).alphaPerLook = Number(process.argv[3]);
function run(seed: number, impPerHour: number, pConv: number[], hours: number) {
  const rand = prng(hash32(`fpr2:${seed}`));
  const vs = pConv.map((_, i) => ({ variant: i, adId: `ad${i}`, running: true, metaStatus: 'ACTIVE', stats: { impressions: 0, clicks: 0, spend: 0, conversions: 0, revenue: 0 } }));
  let last: number | null = null;
  for (let h = 1; h <= hours; h++) {
    for (const v of vs) {
      v.stats.impressions += impPerHour;
      const clicks = binomial(impPerHour, 0.03, rand);
      v.stats.clicks += clicks;
      v.stats.conversions += binomial(clicks, pConv[v.variant] / 0.03, rand);
    }
    const now = h * HOUR;
    const d = rotationDecision({ id: 1, platform: 'meta', status: 'active', statusReason: null, dailyBudget: 100, stats: { impressions: 0, clicks: 0, spend: 0, conversions: 0, revenue: 0 }, lastRaiseAt: null, startedAt: 0, variants: vs, lastRotationAt: last } as any, now);
    if (d?.action.kind === 'pause_ads') return { h, paused: d.action.ad_ids, winner: d.action.winner_ad_id };
    if (d) last = now;
  }
  return null;
}
const base = 0.0018;
const scenarios: [string, number, number[]][] = [
  ['identical, 2 variants', 1000, [base, base]],
  ['identical, 3 variants', 1000, [base, base, base]],
  ['identical, 2 variants, 250 imp/h', 250, [base, base]],
  ['identical, 3 variants, 250 imp/h', 250, [base, base, base]],
  ['variant 1 1.5x, 2 variants', 1000, [1.5 * base, base]],
  ['variant 1 1.5x, 3 variants', 1000, [1.5 * base, base, base]],
  ['variant 1 1.5x, 2 variants, 250 imp/h', 250, [1.5 * base, base]],
];
console.log(`alphaPerLook ${ROTATION.alphaPerLook}, ${N} campaigns per scenario, 14 days, hourly optimiser, purchases ${base} per impression (ctr 3 %)`);
for (const [label, imp, rates] of scenarios) {
  let any = 0, right = 0, wrong = 0;
  const hrs: number[] = [];
  for (let s = 0; s < N; s++) {
    const r = run(s, imp, rates, 14 * 24);
    if (!r) continue;
    any++;
    hrs.push(r.h);
    if (rates[0] > base) (r.paused.includes('ad0') ? wrong++ : r.winner === 'ad0' && right++);
  }
  hrs.sort((a, b) => a - b);
  const pc = (k: number) => `${(100 * k / N).toFixed(1)} %`;
  console.log(`${label}: a loser paused in ${any}/${N} = ${pc(any)}` + (rates[0] > base ? `; the better kept, a worse paused ${pc(right)}, the better paused ${pc(wrong)}` : '') + (hrs.length ? `; median decision at ${hrs[hrs.length >> 1]} h` : ''));
}
