// Issue 12 step 4: what one 1000-row insert costs on each store, variant against variant, interleaved round by
// round so a busy machine slows every variant alike (medians of BENCH_ROUNDS, 8 by default):
//   decode  json_to_recordset($1::json)  vs  jsonb_to_recordset($1::jsonb)   (plain table, no index)
//   ledger  the idempotency ledger alone: today's tx_event_ids (tenant, uuid) + received_at index, the same
//           without the received_at index (day partitions dropped instead of a DELETE), and a 64-bit hash key
//           (not exact: a collision would drop an event, measured for the record)
//   indexes tx_events' secondary indexes: all of today's vs without the two jsonb expression indexes
//
//   npx tsx bench/ingest-decode.ts      env: BENCH_ROUNDS (8) BENCH_STORES (embedded,postgres) BENCH_PG_URL
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { bodyMaker, fmt, median, quietLog, UAS } from './ingest.js';

type Store = 'embedded' | 'postgres';
const COLS = `event_id uuid, event_name text, event_version smallint, occurred_at timestamptz, received_at timestamptz, sent_at timestamptz,
  tenant_id bigint, site_id text, source_system text, visitor_id text, session_id text, sequence_no int, prev_event_id uuid, person_id bigint,
  consent_snapshot jsonb, context jsonb, entities jsonb, payload jsonb, idempotency_key text, is_bot boolean`;
const NAMES = 'event_id, event_name, event_version, occurred_at, received_at, sent_at, tenant_id, site_id, source_system, visitor_id, session_id, sequence_no, prev_event_id, person_id, consent_snapshot, context, entities, payload, idempotency_key, is_bot';
const table = (name: string) => `CREATE TABLE ${name} (id bigserial, ${COLS.replace(/event_name text/, 'event_name varchar(100)')})`;

interface Variant {
  name: string;
  setup: string[];
  sql: string;
  /** Parameters for one 1000-row insert. */
  params(rows: Record<string, unknown>[]): unknown[];
}

const h64 = (tenant: number, id: string) => crypto.createHash('sha256').update(`${tenant}:${id}`).digest().readBigInt64BE(0).toString();

const VARIANTS: Variant[] = [
  { name: 'decode: json_to_recordset', setup: [table('d_json')], sql: `INSERT INTO d_json (${NAMES}) SELECT * FROM json_to_recordset($1::json) AS x(${COLS})`, params: (r) => [JSON.stringify(r)] },
  { name: 'decode: jsonb_to_recordset', setup: [table('d_jsonb')], sql: `INSERT INTO d_jsonb (${NAMES}) SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${COLS})`, params: (r) => [JSON.stringify(r)] },
  {
    name: 'ledger: (tenant, uuid) + received_at index (today)',
    setup: ['CREATE TABLE l_today (tenant_id bigint NOT NULL, event_id uuid NOT NULL, received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant_id, event_id))', 'CREATE INDEX ON l_today (received_at)'],
    sql: 'INSERT INTO l_today (tenant_id, event_id, received_at) SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::timestamptz[]) ON CONFLICT DO NOTHING',
    params: (r) => [r.map((x) => x.tenant_id), r.map((x) => x.event_id), r.map((x) => x.received_at)],
  },
  {
    name: 'ledger: (tenant, uuid), no received_at index',
    setup: ['CREATE TABLE l_noidx (tenant_id bigint NOT NULL, event_id uuid NOT NULL, received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (tenant_id, event_id))'],
    sql: 'INSERT INTO l_noidx (tenant_id, event_id, received_at) SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::timestamptz[]) ON CONFLICT DO NOTHING',
    params: (r) => [r.map((x) => x.tenant_id), r.map((x) => x.event_id), r.map((x) => x.received_at)],
  },
  {
    name: 'ledger: 64-bit hash key (inexact)',
    setup: ['CREATE TABLE l_h64 (h bigint PRIMARY KEY, received_at timestamptz NOT NULL DEFAULT now())'],
    sql: 'INSERT INTO l_h64 (h, received_at) SELECT * FROM unnest($1::bigint[], $2::timestamptz[]) ON CONFLICT DO NOTHING',
    params: (r) => [r.map((x) => h64(x.tenant_id as number, x.event_id as string)), r.map((x) => x.received_at)],
  },
  {
    name: 'tx_events indexes: all of today\'s',
    setup: [table('i_all'), ...indexes('i_all', true)],
    sql: `INSERT INTO i_all (${NAMES}) SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${COLS})`,
    params: (r) => [JSON.stringify(r)],
  },
  {
    name: 'tx_events indexes: without the 2 jsonb expression indexes',
    setup: [table('i_lean'), ...indexes('i_lean', false)],
    sql: `INSERT INTO i_lean (${NAMES}) SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${COLS})`,
    params: (r) => [JSON.stringify(r)],
  },
];

function indexes(t: string, jsonb: boolean): string[] {
  const out = [
    `CREATE UNIQUE INDEX ON ${t} (tenant_id, event_id, occurred_at)`,
    `CREATE INDEX ON ${t} (tenant_id, event_name, occurred_at DESC)`,
    `CREATE INDEX ON ${t} (tenant_id, person_id, occurred_at DESC) WHERE person_id IS NOT NULL`,
    `CREATE INDEX ON ${t} (tenant_id, visitor_id, occurred_at DESC)`,
    `CREATE INDEX ON ${t} USING brin (tenant_id, occurred_at)`,
    `CREATE INDEX ON ${t} (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL`,
    `CREATE INDEX ON ${t} (id)`,
  ];
  if (jsonb) out.push(`CREATE INDEX ON ${t} (tenant_id, (entities->>'event_entity_id'), occurred_at DESC)`, `CREATE INDEX ON ${t} (tenant_id, (entities->>'order_id'), occurred_at DESC)`);
  return out;
}

async function rowsTemplate() {
  const { createValidation } = await import('../server/ingest/validate.js');
  const { loadConfig } = await import('../server/config/index.js');
  const validation = createValidation();
  const limits = loadConfig({}).limits;
  const req = { tenantId: 1, receivedAt: new Date(), ip: '127.0.0.1', userAgent: UAS[1], channel: 'public' as const };
  return (JSON.parse(bodyMaker().make().toString()) as { events: unknown[] }).events.map((e) => {
    const out = validation.check(e, req, limits);
    if (out.kind !== 'ok') throw new Error('template event invalid');
    return out.row as unknown as Record<string, unknown>;
  });
}

async function run(store: Store, rounds: number, pgUrl: string) {
  const { openEmbedded, openPostgres } = await import('../server/store/db.js');
  const log = await quietLog();
  const template = await rowsTemplate();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-bench-decode-'));
  let drop = async () => undefined as void;
  let url = '';
  if (store === 'postgres') {
    const name = `bench_${crypto.randomBytes(5).toString('hex')}`;
    const root = new pg.Client({ connectionString: pgUrl });
    await root.connect();
    await root.query(`CREATE DATABASE ${name}`);
    const u = new URL(pgUrl);
    u.pathname = `/${name}`;
    url = u.toString();
    drop = async () => {
      await root.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await root.end();
    };
  }
  const db = store === 'postgres' ? await openPostgres(url, 2, log) : await openEmbedded(dir, log);
  const ms = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
  try {
    for (const v of VARIANTS) for (const s of v.setup) await db.exec(s);
    for (let i = 0; i < rounds + 1; i++) {
      for (const v of VARIANTS) {
        const rows = Array.from({ length: 1000 }, (_, k) => ({ ...template[k % template.length], event_id: crypto.randomUUID() }));
        const p = v.params(rows);
        const t0 = performance.now();
        await db.tx((q) => q.query(v.sql, p));
        if (i > 0) ms.get(v.name)!.push(performance.now() - t0); // round 0 warms up
      }
    }
  } finally {
    await db.close();
    await drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return ms;
}

async function main() {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 8);
  const stores = (process.env.BENCH_STORES ?? 'embedded,postgres').split(',') as Store[];
  const pgUrl = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  console.log(`# insert variants  ${new Date().toISOString()}  node ${process.version}  nproc ${os.availableParallelism()}  loadavg ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}`);
  console.log('| store | variant | ms per 1000-row tx (median) | rows/s |');
  console.log('|:---|:---|---:|---:|');
  for (const s of stores) {
    const ms = await run(s, rounds, pgUrl);
    for (const [name, xs] of ms) console.log(`| ${s} | ${name} | ${median(xs).toFixed(1)} | ${fmt(1000 / (median(xs) / 1000))} |`);
  }
  console.log(`loadavg at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}`);
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
