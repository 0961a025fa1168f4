// `npm run demo`: realistic traffic for the demo tenant against a running server, and the dashboard URLs
// to watch it. Start the server first (`npm start`), then in another terminal:
//
//   npm run demo                                  # http://localhost:8080, keys from ./data/demo-tenant.json
//   npm run demo -- --url http://host:8080 --write-key tx_pk_… --secret-key tx_sk_…
//   npm run demo -- --rate 5 --duration 120       # 5 new visitors a second, stop after two minutes
//
// Options: --url, --write-key, --secret-key, --data-dir (default $DATA_DIR or ./data), --org (org-demo),
// --rate (new visitors per second, 2), --speed (time compression, 1), --duration (seconds; default until
// Ctrl-C), --seed, --no-gates, --ttl (token lifetime in seconds, 43200).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEMO_EVENTS, DEMO_ORG, DEMO_ORG_NAME } from './demo/catalog.js';
import { dashboardUrls, mintDemoTokens, startDemo, type DemoStats } from './demo/traffic.js';
import { syncDemoCatalog } from './demo/sync.js';

const USAGE = `Usage: npm run demo -- [--url http://localhost:8080] [--write-key tx_pk_… --secret-key tx_sk_…]
                       [--data-dir ./data] [--org org-demo] [--rate 2] [--speed 1] [--duration SECONDS] [--seed N] [--no-gates] [--ttl 43200]`;

function fail(message: string): never {
  console.error(`\n${message}\n`);
  process.exit(1);
}

function money(revenue: Record<string, number>): string {
  const parts = Object.entries(revenue)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([cur, v]) => `${cur} ${v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
  return parts.length ? parts.join(', ') : '–';
}

function line(s: DemoStats): string {
  const t = new Date().toISOString().slice(11, 19);
  return `[${t}] visitors ${s.visitors} · events sent ${s.events}${s.rejected ? ` (${s.rejected} rejected)` : ''} · orders ${s.orders} · tickets ${s.tickets} · revenue ${money(s.revenue)} · scans ${s.scans} (${s.denied} denied)${s.dropped ? ` · ${s.dropped} events (${s.droppedOrders} orders) dropped unsent` : ''}`;
}

async function main() {
  let args;
  try {
    args = parseArgs({
      options: {
        url: { type: 'string' },
        'write-key': { type: 'string' },
        'secret-key': { type: 'string' },
        'data-dir': { type: 'string' },
        org: { type: 'string' },
        rate: { type: 'string' },
        speed: { type: 'string' },
        duration: { type: 'string' },
        seed: { type: 'string' },
        'no-gates': { type: 'boolean' },
        ttl: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const num = (name: string, v: string | undefined, dflt: number, min: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) fail(`--${name} must be a number ≥ ${min} (got ${JSON.stringify(v)}).\n${USAGE}`);
    return n;
  };
  const url = (args.url ?? process.env.TX_URL ?? `http://localhost:${process.env.PORT ?? 8080}`).replace(/\/+$/, '');
  const dataDir = args['data-dir'] || process.env.DATA_DIR || './data';
  const rate = num('rate', args.rate, 2, 0.01);
  const speed = num('speed', args.speed, 1, 0.01);
  const ttl = Math.round(num('ttl', args.ttl, 43_200, 60));
  const duration = args.duration === undefined ? null : num('duration', args.duration, 0, 1) * 1000;
  const org = args.org ?? DEMO_ORG;

  let writeKey = args['write-key'] ?? null;
  let secretKey = args['secret-key'] ?? null;
  const demoFile = path.join(dataDir, 'demo-tenant.json');
  if ((!writeKey || !secretKey) && fs.existsSync(demoFile)) {
    try {
      const demo = JSON.parse(fs.readFileSync(demoFile, 'utf8')) as { write_key?: string; secret_key?: string };
      writeKey ??= demo.write_key ?? null;
      secretKey ??= demo.secret_key ?? null;
    } catch (err) {
      fail(`Cannot read ${demoFile}: ${(err as Error).message}`);
    }
  }
  if (!writeKey) {
    fail(
      `No write key. Either run the demo next to the server's data directory (it reads ${demoFile}, which \`npm start\` ` +
        `creates on its first start), pass --data-dir, or pass --write-key tx_pk_… and --secret-key tx_sk_… ` +
        `(POST /api/admin/tenants creates a tenant).\n${USAGE}`,
    );
  }

  try {
    const r = await fetch(`${url}/health`);
    if (!r.ok) fail(`${url}/health answered ${r.status}. Is this a Tixello Live server?`);
  } catch (err) {
    fail(`Cannot reach ${url} (${(err as Error).message}). Start the server first (\`npm start\`), or pass --url.`);
  }

  // Wrong keys would only show as a 401 per batch for as long as the demo runs: refuse them up front.
  const refused = async (what: string, r: Response) => {
    if (r.status === 401 || r.status === 403) fail(`The server refused the ${what} (${r.status}): ${(await r.text()).slice(0, 200)}\nPass the keys of a tenant of this server (POST /api/admin/tenants creates one).`);
  };
  await refused('write key', await fetch(`${url}/api/tx/validate`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tx-key': writeKey }, body: '{"events":[]}' }));
  if (secretKey) await refused('secret key', await fetch(`${url}/api/v1/tx/events?limit=1`, { headers: { authorization: `Bearer ${secretKey}` } }));

  console.log(`\nTixello Live demo → ${url}`);
  console.log(`Organizer "${DEMO_ORG_NAME}" (${org}): ${DEMO_EVENTS.map((e) => `${e.name} (${e.id})`).join(', ')}\n`);
  if (secretKey) {
    // The catalog first: the dashboard then shows names, and the organizer can open an event before its first visitor.
    try {
      const n = await syncDemoCatalog(url, secretKey, org);
      console.log(`Catalog synced (${n} items: organizer, venues with gates, events, ticket types).`);
    } catch (err) {
      console.log(`Could not sync the catalog (the dashboard shows ids instead of names): ${(err as Error).message}`);
    }
    try {
      const tokens = await mintDemoTokens(url, secretKey, org, DEMO_EVENTS.map((e) => e.id), ttl);
      const urls = dashboardUrls(url, tokens);
      console.log('Open the live dashboard:');
      console.log(`  organizer:  ${urls.organizer}`);
      console.log(`  gate staff: ${urls.gate}`);
      console.log(`  (tokens expire ${tokens.expiresAt})\n`);
    } catch (err) {
      console.log(`Could not mint dashboard tokens: ${(err as Error).message}\n`);
    }
  } else {
    console.log('No secret key: no catalog is synced, orders and payments are not sent (the write key may not post them), and no dashboard tokens are minted (pass --secret-key).\n');
  }
  console.log(`Generating traffic: ${rate} new visitor(s) a second${args['no-gates'] ? '' : ', scanners at two gates per event'}. Ctrl-C to stop.\n`);

  const demo = startDemo({
    url,
    writeKey,
    secretKey,
    orgId: org,
    visitorsPerSecond: rate,
    speed,
    durationMs: duration,
    gates: !args['no-gates'],
    seed: args.seed === undefined ? undefined : Math.floor(num('seed', args.seed, 0, 0)),
    log: (l) => console.log(`  ! ${l}`),
  });
  const ticker = setInterval(() => console.log(line(demo.stats)), 5000);
  let interrupted = 0;
  const onSignal = () => {
    if (++interrupted > 1) process.exit(130);
    console.log('\nStopping (sending what is queued; Ctrl-C again to quit at once)…');
    void demo.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const stats = await demo.done;
  clearInterval(ticker);
  console.log(line(stats));
  console.log('Done.');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
