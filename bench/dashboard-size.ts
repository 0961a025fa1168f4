// An organizer's dashboard message (analytics:dashboard:{org}) when the organizer has many events: its size and
// the time to build it on the main thread, for the server as built (at most DASHBOARD_MAX_EVENTS listed, a view
// only for those) against the baseline measured in the same run (every event listed with its view, as before
// the cap). Every live update of the topic builds and sends the whole message. Prints a markdown section
// (command, date, machine, load average at start and end); --write appends it to bench/RESULTS.md.
//
//   npx tsx bench/dashboard-size.ts [--events 1000,10000] [--rounds 20] [--write]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toFact, utcDay } from '../server/live/facts.js';
import { row } from '../server/live/rows.fixture.js';
import { LiveState } from '../server/live/state.js';

const args = process.argv.slice(2);
const arg = (name: string, def: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const SIZES = arg('--events', '1000,10000').split(',').map(Number);
const ROUNDS = Number(arg('--rounds', '20'));
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' / ');
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One organizer with `n` events, each seen by two visitors, one in ten with an order. */
function stateWith(n: number, now: number): LiveState {
  const day = utcDay(now);
  const s = new LiveState(day);
  for (let i = 0; i < n; i++) {
    const entities = { event_entity_id: `EV${i}`, organizer_id: 'OBIG' };
    const rows = [row('event_view', now - 60_000, { visitor_id: `a${i}`, entities }), row('event_view', now - 60_000, { visitor_id: `b${i}`, entities })];
    if (i % 10 === 0) rows.push(row('order_completed', now - 30_000, { source_system: 'backend', visitor_id: `a${i}`, entities: { ...entities, order_id: `O${i}` }, payload: { gross_amount: 50, currency: 'EUR', items: [{ qty: 1 }] } }));
    for (const r of rows) {
      const f = toFact(r, day);
      if (f) s.apply(f);
    }
  }
  return s;
}

/** The message before the cap: every event listed, each with its view. */
function baseline(s: LiveState, now: number): Record<string, unknown> {
  const d = s.dashboardData(1, 'OBIG', now);
  const events = [...(s.getOrg(1, 'OBIG')?.events ?? [])].sort().map((id) => ({ event_id: id, ...s.funnelView(s.getEvent(1, id)!, now) }));
  return { ...d, events };
}

function measure(build: () => Record<string, unknown>): { ms: number; bytes: number } {
  for (let i = 0; i < 3; i++) JSON.stringify(build()); // warm-up
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    bytes = Buffer.byteLength(JSON.stringify(build()));
    times.push(performance.now() - t0);
  }
  return { ms: median(times), bytes };
}

const startLoad = load();
const now = Date.now();
const lines: string[] = [];
for (const n of SIZES) {
  const s = stateWith(n, now);
  const before = measure(() => baseline(s, now));
  const after = measure(() => s.dashboardData(1, 'OBIG', now));
  lines.push(`| ${n.toLocaleString('en')} | every event (baseline) | ${(before.bytes / 1024).toFixed(0)} KB | ${before.ms.toFixed(1)} ms |`);
  lines.push(`| ${n.toLocaleString('en')} | at most 200 (as built) | ${(after.bytes / 1024).toFixed(0)} KB | ${after.ms.toFixed(1)} ms (${(before.ms / after.ms).toFixed(1)}× less) |`);
}
const section = [
  `### Dashboard message of an organizer with many events (\`npx tsx bench/dashboard-size.ts${args.filter((a) => a !== '--write').map((a) => ` ${a}`).join('')}\`)`,
  '',
  `- date: ${new Date().toISOString()}; machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, Node ${process.version}; load average at start ${startLoad}, at end ${load()}`,
  `- one process, no server: the live state built from facts, then the message built and serialised (median of ${ROUNDS}); each event has two visitors, one in ten an order`,
  '',
  '| events | listed | message | build + JSON |',
  '|---:|---|---:|---:|',
  ...lines,
  '',
].join('\n');
console.log(section);
if (args.includes('--write')) fs.appendFileSync(path.join(import.meta.dirname, 'RESULTS.md'), `\n${section}`);
