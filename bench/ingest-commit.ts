// Where an embedded commit's time goes, in one process (no HTTP, no event-loop waits): the writer's statements
// for a group of ROWS validated bench events — identity enrichment, the insert (ledger + tx_events and its
// indexes), the sessions pass — and the same insert with some indexes dropped (issue 12: "say what the remaining
// cost is made of"). Variants run in separate fresh databases, one after the other; compare within one run.
//
//   npx tsx bench/ingest-commit.ts                       (today's schema, then the variants below)
//   env: ROWS (800) COMMITS (20) VARIANTS ('|tx_events_occurred_at_idx|…', '|'-separated lists of indexes to drop)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bodyMaker, loadAvg, quietLog, UAS } from './ingest.js';

const ALL_SECONDARY = [
  'tx_events_occurred_at_idx', 'tx_events_event_id', 'tx_events_name_time', 'tx_events_person_time', 'tx_events_visitor_time',
  'tx_events_time_brin', 'tx_events_idem', 'tx_events_event_entity', 'tx_events_id', 'tx_events_order', 'tx_event_ids_received',
];
const DEFAULT_VARIANTS = ['', 'tx_events_occurred_at_idx', 'tx_events_event_entity', 'tx_events_visitor_time', ALL_SECONDARY.join(',')];

async function main() {
  const { openEmbedded } = await import('../server/store/db.js');
  const { migrate } = await import('../server/store/migrate.js');
  const { createEventStore } = await import('../server/store/events.js');
  const { createEnricher } = await import('../server/identity/persons.js');
  const { projectSessions } = await import('../server/identity/sessions.js');
  const { createValidation } = await import('../server/ingest/validate.js');
  const { loadConfig } = await import('../server/config/index.js');
  const n = Number(process.env.ROWS ?? 800);
  const commits = Number(process.env.COMMITS ?? 20);
  const variants = process.env.VARIANTS !== undefined ? process.env.VARIANTS.split('|') : DEFAULT_VARIANTS;
  const body = bodyMaker();
  const validation = createValidation();
  const limits = loadConfig({}).limits;
  const rowsOf = () => {
    const out = [];
    while (out.length < n) {
      for (const e of (JSON.parse(body.make().toString()) as { events: unknown[] }).events) {
        const r = validation.check(e, { tenantId: 1, receivedAt: new Date(), ip: '127.0.0.1', userAgent: UAS[1], channel: 'public' }, limits);
        if (r.kind === 'ok') out.push(r.row);
      }
    }
    return out.slice(0, n);
  };
  console.log(`# ingest-commit  node ${process.version}  nproc ${os.availableParallelism()}  loadavg ${loadAvg()}`);
  console.log(`${commits} commits of ${n} rows per variant (3 warm-up commits first), embedded store\n`);
  console.log('| indexes dropped | ms per commit | µs per row | enrich | insert | sessions |');
  console.log('|:---|---:|---:|---:|---:|---:|');
  for (const v of variants) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-bench-commit-'));
    const log = await quietLog();
    const db = await openEmbedded(dir, log);
    try {
      await migrate(db, log);
      for (const ix of v.split(',').filter(Boolean)) await db.exec(`DROP INDEX IF EXISTS ${ix}`);
      const events = createEventStore();
      const enrich = createEnricher();
      const t = { all: 0, enrich: 0, insert: 0, sessions: 0 };
      for (let c = 0; c < commits + 3; c++) {
        const rows = rowsOf();
        const s = [performance.now()];
        await db.tx(async (q) => {
          await enrich(q, rows);
          s.push(performance.now());
          await events.insert(q, rows);
          s.push(performance.now());
          await projectSessions(q, rows);
          s.push(performance.now());
        });
        if (c < 3) continue;
        t.all += performance.now() - s[0];
        t.enrich += s[1] - s[0];
        t.insert += s[2] - s[1];
        t.sessions += s[3] - s[2];
      }
      const per = (x: number) => (x / commits).toFixed(1);
      const label = v === '' ? 'none (today\'s schema)' : v === ALL_SECONDARY.join(',') ? 'every secondary index (ledger key kept)' : v;
      console.log(`| ${label} | ${per(t.all)} | ${((1000 * t.all) / commits / n).toFixed(1)} | ${per(t.enrich)} | ${per(t.insert)} | ${per(t.sessions)} |`);
    } finally {
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
