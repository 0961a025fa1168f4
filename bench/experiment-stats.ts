// Chance to beat control (server/experiments/stats.ts, README "Experiments"): the shipped sum, each term from the
// one before by its ratio, against the same closed-form sum with six log-gammas per term (the form before commit
// 6e6f2ad), side by side in one tinybench run. One "results" call is 90 comparisons: 10 experiments × 3 variants ×
// 3 metrics, 100,000 exposures per arm, conversion rates 2–8 % (the smallest Beta parameter, the sum's length, is
// the conversions: 2,000–8,000 terms). Both forms must agree to 1e-9 on every comparison before anything is timed.
//
//   npx tsx bench/experiment-stats.ts
import os from 'node:os';
import { Bench } from 'tinybench';
import { chanceToBeat, lnGamma } from '../server/experiments/stats.js';

const lnBeta = (a: number, b: number): number => lnGamma(a) + lnGamma(b) - lnGamma(a + b);

/** P(X > Y), X ~ Beta(a, b), Y ~ Beta(c, d): Evan Miller's sum, every term from six log-gammas. */
function perTerm(a: number, b: number, c: number, d: number): number {
  const k = lnBeta(c, d);
  let sum = 0;
  for (let i = 0; i < a; i++) sum += Math.exp(lnBeta(c + i, b + d) - Math.log(b + i) - lnBeta(1 + i, b) - k);
  return sum;
}

/** The baseline over the same parameters chanceToBeat uses; conversions ≤ non-conversions here, so a is smallest. */
const baseline = (c: number, n: number, c0: number, n0: number): number => perTerm(1 + c, 1 + n - c, 1 + c0, 1 + n0 - c0);

const N = 100_000;
const cases: Array<[number, number, number, number]> = [];
for (let e = 0; e < 10; e++) {
  const c0 = Math.round(N * (0.02 + 0.006 * e));
  for (let v = 1; v <= 3; v++) for (let m = 0; m < 3; m++) cases.push([c0 + (v - 2) * 40 + m * 7, N, c0, N]);
}

let worst = 0;
for (const [c, n, c0, n0] of cases) worst = Math.max(worst, Math.abs(chanceToBeat(c, n, c0, n0) - baseline(c, n, c0, n0)));
if (!(worst < 1e-9)) throw new Error(`the two forms disagree by ${worst}`);

const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' / ');
const startLoad = load();
let sink = 0;
const bench = new Bench({ time: 3000, warmupTime: 500 });
bench
  .add('per-term log-gammas (before 6e6f2ad)', () => {
    for (const [c, n, c0, n0] of cases) sink += baseline(c, n, c0, n0);
  })
  .add('ratio recurrence (shipped)', () => {
    for (const [c, n, c0, n0] of cases) sink += chanceToBeat(c, n, c0, n0);
  });
await bench.run();

type Latency = { latency: { mean: number; p99: number; samplesCount: number } };
const rows = bench.tasks.map((t) => {
  const l = (t.result as unknown as Latency).latency;
  return { name: t.name, mean: l.mean, p99: l.p99, samples: l.samplesCount };
});
console.log(`${cases.length} comparisons per call, ${N} exposures per arm; the two forms agree to ${worst.toExponential(1)}`);
console.log(`node ${process.version}, ${os.cpus().length} cores, load average at start ${startLoad}, at the end ${load()}, ${new Date().toISOString()}`);
console.log('| form | ms per call (mean) | p99 ms | samples | baseline ÷ this |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.name} | ${r.mean.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.samples} | ${(rows[0].mean / r.mean).toFixed(1)}× |`);
if (sink === 42) console.log('');
