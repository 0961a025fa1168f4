// The campaigns simulation over several seeds (issue 16's "most budget ends on the best campaign"): for each seed,
// 14 simulated days on a database of its own on the local PostgreSQL (dropped after), then the summary's best
// campaign (as delivered: scripts/simulate-campaigns.ts trueValue), its spend share, whether it is the largest
// spender, whether the worst (TikTok prospecting) was paused, and the worst day's overspend. Results: bench/RESULTS.md
// "Campaigns simulation".
//
//   npx tsx bench/campaign-seeds.ts 1 2 3 4 5 6 7 8 9 10      (PLAIN_PG_URL or postgres://postgres@127.0.0.1:5432/postgres)
import os from 'node:os';
import { cleanWorld, runSimulation } from '../scripts/simulate-campaigns.js';

const pgUrl = process.env.PLAIN_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const seeds = process.argv.slice(2).map(Number).filter((n) => Number.isInteger(n));
if (seeds.length === 0) throw new Error('Pass the seeds to run: npx tsx bench/campaign-seeds.ts 1 2 3');
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' / ');
console.log(`${new Date().toISOString()}, ${os.cpus().length} cores, load average ${load()}`);
for (const seed of seeds) {
  const { summary, world } = await runSimulation({ days: 14, seed, pgUrl });
  const mine = [...world.mock.campaigns.values()];
  const top = mine.reduce((a, c) => (c.spend > a.spend ? c : a), mine[0]);
  console.log(`seed ${seed}: best ${summary.best_campaign} share ${summary.best_campaign_spend_share} largest=${top.utm === summary.best_campaign}`
    + ` worst paused=${summary.paused.includes('txc-1-tiktok-prospecting')} overspend ${summary.max_daily_overspend_pct}`);
  await cleanWorld(world);
}
console.log(`${new Date().toISOString()}, load average ${load()}`);
process.exit(0);
